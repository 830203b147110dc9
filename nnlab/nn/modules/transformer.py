"""The Transformer (Vaswani et al., 2017) with PyTorch's modules, arguments, defaults and
``state_dict`` keys: TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder,
TransformerDecoder and Transformer.

An encoder layer is self-attention then a position-wise feed-forward network, each
wrapped in a residual connection and a layer norm:

    post-norm (default):   x = LN₁(x + SA(x));      x = LN₂(x + FF(x))
    pre-norm (norm_first): x = x + SA(LN₁(x));      x = x + FF(LN₂(x))
    FF(x) = W₂ dropout(act(W₁ x + b₁)) + b₂,  act = ReLU (default) or GELU

A decoder layer adds cross-attention over the encoder's output ("memory") between the
two: x = LN₂(x + MHA(x, memory, memory)). Dropout (default 0.1) follows each sub-block
and the activation. Pre-norm trains more stably in deep stacks; post-norm is the paper's.

The stacks deep-copy the layer they are given ``num_layers`` times (``layers.0``,
``layers.1``, …), so the copies start equal and are trained separately, as in PyTorch.
nnlab has no inference fast path (nested tensors, fused kernels): every call runs the
same code, which in training mode with ``dropout=0`` gives PyTorch's numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.modules.attention import MultiheadAttention
from nnlab.nn.modules.container import ModuleList
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.linear import Linear
from nnlab.nn.modules.normalization import LayerNorm
from nnlab.ops.activation import gelu, relu
from nnlab.tensor import Tensor

__all__ = [
    "Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
    "TransformerDecoderLayer",
]  # fmt: skip


def _get_activation_fn(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if callable(activation):
        return activation
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    raise ValueError(f"activation should be 'relu', 'gelu' or a callable, not {activation!r}")


def _generate_square_subsequent_mask(sz: int, dtype: Any = None) -> Tensor:
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Tensor(np.triu(np.full((sz, sz), -np.inf, dtype=d), k=1))


def _detect_is_causal_mask(mask: Any, is_causal: bool | None, size: int | None) -> bool:
    """``is_causal`` if given; otherwise whether ``mask`` is exactly the causal float mask."""
    if is_causal is not None or mask is None:
        return bool(is_causal)
    data = np.asarray(mask.array if isinstance(mask, Tensor) else mask)
    sz = size if size is not None else data.shape[-2]
    causal = np.triu(np.full((sz, sz), -np.inf, dtype=data.dtype), k=1)
    return data.shape == causal.shape and bool((data == causal).all())


def _seq_len(src: Tensor, batch_first: bool) -> int:
    return src.shape[0] if src.ndim == 2 else src.shape[1 if batch_first else 0]


def _check_input(layer: Module, name: str, x: Tensor, d_model: int, batch_first: bool) -> None:
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        layout = "(N, L, d_model)" if batch_first else "(L, N, d_model)"
        raise layer.shape_error(
            f"{name} {layout.replace('d_model', str(d_model))} or (L, {d_model})", x.shape,
            f"the last dim of {name} must be d_model={d_model}"
            + ("; batch_first=False expects the sequence first." if x.ndim == 3 else "."),
        )  # fmt: skip


class TransformerEncoderLayer(Module):
    """Self-attention and a feed-forward network, each with a residual and a layer norm.

    post-norm: x = LN₁(x + SA(x)), x = LN₂(x + FF(x)); pre-norm (``norm_first``):
    x = x + SA(LN₁(x)), x = x + FF(LN₂(x)); FF(x) = W₂ dropout(act(W₁ x + b₁)) + b₂.

    Args:
        d_model: features of each token, E.
        nhead: attention heads (must divide ``d_model``).
        dim_feedforward: hidden size of the feed-forward network (default: 2048).
        dropout: dropout probability (default: 0.1).
        activation: 'relu' (default), 'gelu' or a callable (a function or a module).
        layer_norm_eps: ε of the layer norms (default: 1e-5).
        batch_first: (N, L, E) inputs instead of (L, N, E) (default: False).
        norm_first: pre-norm instead of post-norm (default: False).
        bias: biases in the linear layers and the layer norms (default: True).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - src: (L, N, E), (N, L, E) with ``batch_first``, or unbatched (L, E).
        - src_mask: (L, L) or (N·nhead, L, L); src_key_padding_mask: (N, L). Boolean masks
          are True where attention is not allowed; float masks are added to the scores.
        - Output: same as src.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> layer = nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32,
        ...                                    batch_first=True)
        >>> layer(nnlab.randn(2, 7, 16)).shape
        nnlab.Size([2, 7, 16])
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)  # fmt: skip
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _get_activation_fn(activation)

    def forward(self, src: Tensor, src_mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool = False) -> Tensor:  # fmt: skip
        sa = self.self_attn
        _check_input(self, "src", src, sa.embed_dim, sa.batch_first)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool = False) -> Tensor:  # fmt: skip
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]  # fmt: skip
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)

    def extra_repr(self) -> str:
        return "norm_first=True" if self.norm_first else ""


class TransformerDecoderLayer(Module):
    """Masked self-attention, cross-attention over the encoder's output and a feed-forward
    network, each with a residual and a layer norm.

    post-norm: x = LN₁(x + SA(x)), x = LN₂(x + MHA(x, m, m)), x = LN₃(x + FF(x)), with m
    the memory; pre-norm (``norm_first``) normalises each sub-block's input instead.

    Args: as :class:`TransformerEncoderLayer`.

    Shape:
        - tgt: (T, N, E) (or (N, T, E) with ``batch_first``, or (T, E)); memory: (S, N, E).
        - tgt_mask (T, T), memory_mask (T, S), tgt_key_padding_mask (N, T),
          memory_key_padding_mask (N, S).
        - Output: same as tgt.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> layer = nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> mask = nn.Transformer.generate_square_subsequent_mask(5)
        >>> layer(nnlab.randn(5, 2, 16), nnlab.randn(9, 2, 16), tgt_mask=mask).shape
        nnlab.Size([5, 2, 16])
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype)  # fmt: skip
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first, dtype=dtype)  # fmt: skip
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _get_activation_fn(activation)

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        sa = self.self_attn
        _check_input(self, "tgt", tgt, sa.embed_dim, sa.batch_first)
        _check_input(self, "memory", memory, sa.embed_dim, sa.batch_first)
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)  # fmt: skip
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            mha = self._mha_block(x, memory, memory_mask, memory_key_padding_mask,
                                  memory_is_causal)  # fmt: skip
            x = self.norm2(x + mha)
            x = self.norm3(x + self._ff_block(x))
        return x

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool = False) -> Tensor:  # fmt: skip
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           is_causal=is_causal, need_weights=False)[0]  # fmt: skip
        return self.dropout1(x)

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool = False) -> Tensor:  # fmt: skip
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]  # fmt: skip
        return self.dropout2(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout3(x)

    def extra_repr(self) -> str:
        return "norm_first=True" if self.norm_first else ""


def _get_clones(module: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


class TransformerEncoder(Module):
    """A stack of ``num_layers`` deep copies of ``encoder_layer``, then ``norm`` if given.

    Args:
        encoder_layer: the layer to copy (a :class:`TransformerEncoderLayer`).
        num_layers: how many copies.
        norm: a final layer norm, or None (default: None).
        enable_nested_tensor, mask_check: accepted for compatibility (PyTorch's inference
            fast path); nnlab has no such path.

    Shape: src as the layer's; ``mask`` (L, L) or (N·nhead, L, L);
    ``src_key_padding_mask`` (N, L). ``is_causal=None`` detects a causal float ``mask``.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> layer = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
        >>> encoder = nn.TransformerEncoder(layer, num_layers=2)
        >>> encoder(nnlab.randn(7, 2, 16)).shape
        nnlab.Size([7, 2, 16])
        >>> list(encoder.state_dict())[:2]
        ['layers.0.self_attn.in_proj_weight', 'layers.0.self_attn.in_proj_bias']
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:  # fmt: skip
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Any = None, src_key_padding_mask: Any = None,
                is_causal: bool | None = None) -> Tensor:  # fmt: skip
        first = self.layers[0]
        batch_first = first.self_attn.batch_first if hasattr(first, "self_attn") else False
        is_causal = _detect_is_causal_mask(mask, is_causal, _seq_len(src, batch_first))
        output = src
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=is_causal,
                         src_key_padding_mask=src_key_padding_mask)  # fmt: skip
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """A stack of ``num_layers`` deep copies of ``decoder_layer``, then ``norm`` if given.

    Args:
        decoder_layer: the layer to copy (a :class:`TransformerDecoderLayer`).
        num_layers: how many copies.
        norm: a final layer norm, or None (default: None).

    Shape: as :class:`TransformerDecoderLayer`. ``tgt_is_causal=None`` detects a causal
    float ``tgt_mask``.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(16, 4, 32), 2)
        >>> decoder(nnlab.randn(5, 2, 16), nnlab.randn(9, 2, 16)).shape
        nnlab.Size([5, 2, 16])
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        first = self.layers[0]
        batch_first = first.self_attn.batch_first if hasattr(first, "self_attn") else False
        tgt_is_causal = _detect_is_causal_mask(tgt_mask, tgt_is_causal,
                                               _seq_len(tgt, batch_first))  # fmt: skip
        output = tgt
        for mod in self.layers:
            output = mod(
                output,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_key_padding_mask=tgt_key_padding_mask,
                memory_key_padding_mask=memory_key_padding_mask,
                tgt_is_causal=tgt_is_causal,
                memory_is_causal=memory_is_causal,
            )
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder Transformer of "Attention is all you need", as ``torch.nn.Transformer``.

    memory = Encoder(src), output = Decoder(tgt, memory); each stack ends with a layer
    norm (``encoder.norm``, ``decoder.norm``). Embeddings, positional encodings and the
    output projection are left to the caller, as in PyTorch.

    Default initialisation (PyTorch's): every parameter with more than one dim ~ Xavier
    uniform (this overrides the layers' own initialisation); biases and norms as built.

    Args:
        d_model: features of each token (default: 512).
        nhead: attention heads (default: 8).
        num_encoder_layers, num_decoder_layers: stack depths (default: 6 each).
        dim_feedforward: hidden size of the feed-forward networks (default: 2048).
        dropout: dropout probability (default: 0.1).
        activation: 'relu' (default), 'gelu' or a callable.
        custom_encoder, custom_decoder: modules used instead of the default stacks.
        layer_norm_eps: ε of the layer norms (default: 1e-5).
        batch_first: (N, L, E) inputs instead of (L, N, E) (default: False).
        norm_first: pre-norm layers (default: False).
        bias: biases in linear layers and layer norms (default: True).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - src (S, N, E), tgt (T, N, E) ((N, ·, E) with ``batch_first``; unbatched (S, E)).
        - src_mask (S, S), tgt_mask (T, T), memory_mask (T, S); src_key_padding_mask
          (N, S), tgt_key_padding_mask (N, T), memory_key_padding_mask (N, S).
        - Output: (T, N, E).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> model = nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1,
        ...                        num_decoder_layers=1, dim_feedforward=32)
        >>> src, tgt = nnlab.randn(9, 2, 16), nnlab.randn(5, 2, 16)
        >>> tgt_mask = model.generate_square_subsequent_mask(5)
        >>> model(src, tgt, tgt_mask=tgt_mask).shape
        nnlab.Size([5, 2, 16])
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable[[Tensor], Tensor] = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias, dtype)  # fmt: skip
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(TransformerEncoderLayer(*args), num_encoder_layers,
                                              norm)  # fmt: skip
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(TransformerDecoderLayer(*args), num_decoder_layers,
                                              norm)  # fmt: skip
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    reset_parameters = _reset_parameters

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Any = None,
        tgt_mask: Any = None,
        memory_mask: Any = None,
        src_key_padding_mask: Any = None,
        tgt_key_padding_mask: Any = None,
        memory_key_padding_mask: Any = None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if batched and (tgt.ndim != 3 or src.shape[b] != tgt.shape[b]):
            raise self.shape_error(
                f"tgt with batch size {src.shape[b]} (dim {b}, as src {src.shape})", tgt.shape,
                "src and tgt must hold the same number of sequences"
                + ("" if self.batch_first else "; batch_first=False puts the batch in dim 1")
                + ".",
            )  # fmt: skip
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            bad = src if src.shape[-1] != self.d_model else tgt
            raise self.shape_error(
                f"src and tgt with d_model={self.d_model} features (last dim)", bad.shape,
                "the feature number of src and tgt must be equal to d_model.",
            )  # fmt: skip
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)  # fmt: skip
        return self.decoder(
            tgt,
            memory,
            tgt_mask=tgt_mask,
            memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask,
            tgt_is_causal=tgt_is_causal,
            memory_is_causal=memory_is_causal,
        )

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
        """The (sz, sz) causal float mask: 0 on and below the diagonal, -∞ above it (position
        i may attend to positions j ≤ i).

        Example:
            >>> from nnlab import nn
            >>> nn.Transformer.generate_square_subsequent_mask(3)
            tensor([[  0., -inf, -inf],
                    [  0.,   0., -inf],
                    [  0.,   0.,   0.]])
        """
        return _generate_square_subsequent_mask(sz, dtype)
