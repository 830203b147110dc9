"""``BertConfig``: the hyper-parameters of a BERT encoder, read and checked as Hugging
Face's ``transformers.BertConfig`` reads them (keyword arguments, a dict, a config.json).

Every setting that shapes the model is checked when the config is made, so a wrong type
or value fails here, naming the key, rather than deep inside ``BertModel``; the keys that
do not shape it (``architectures``, ``use_cache``, ``id2label``, ...) are kept as
attributes, as Hugging Face keeps them.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["BertConfig"]

#: Activation names of Hugging Face configs -> the ``approximate`` argument of GELU.
_ACTIVATIONS = {"gelu": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "relu": None}


#: Integer hyper-parameters and their smallest allowed value.
_INT_FIELDS = {
    "vocab_size": 1, "hidden_size": 1, "num_hidden_layers": 0, "num_attention_heads": 1,
    "intermediate_size": 1, "max_position_embeddings": 1, "type_vocab_size": 1,
}  # fmt: skip
#: Hugging Face options that nnlab's encoder-only BERT cannot honour, with the only value
#: it accepts.
_ENCODER_ONLY = {"is_decoder": False, "add_cross_attention": False}


@dataclass(init=False)
class BertConfig:
    """The hyper-parameters of a BERT encoder, with Hugging Face's field names.

    Written as Hugging Face users write it: ``BertConfig(hidden_size=768, ...)``,
    ``BertConfig.from_dict(config.to_dict())``, ``BertConfig.from_json("config.json")``.
    Keys that are not BERT hyper-parameters (``architectures``, ``use_cache``,
    ``id2label``, ...) are kept as attributes, as Hugging Face keeps them, and returned by
    :meth:`to_dict`; they do not change the model. Every hyper-parameter is checked: a
    wrong type is a TypeError, a wrong value a ValueError, each naming the key.

    The defaults are those of all-MiniLM-L6-v2 (6 layers, hidden 384, 12 heads,
    intermediate 1536, 22.7 M parameters), not BERT-base's.

    Example:
        >>> BertConfig().num_hidden_layers, BertConfig(hidden_size=768).hidden_size
        (6, 768)
        >>> BertConfig(use_cache=True).use_cache  # kept, as Hugging Face does
        True
        >>> BertConfig(hidden_size="big")
        Traceback (most recent call last):
        ...
        TypeError: BertConfig: hidden_size must be an int, got str ('big')
    """

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 0
    position_embedding_type: str = "absolute"

    def __init__(
        self,
        *,
        vocab_size: int = 30522,
        hidden_size: int = 384,
        num_hidden_layers: int = 6,
        num_attention_heads: int = 12,
        intermediate_size: int = 1536,
        hidden_act: str = "gelu",
        hidden_dropout_prob: float = 0.1,
        attention_probs_dropout_prob: float = 0.1,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        pad_token_id: int | None = 0,
        position_embedding_type: str = "absolute",
        **kwargs: Any,
    ) -> None:
        given = dict(locals())
        for f in fields(self):
            setattr(self, f.name, given[f.name])
        self._check()
        if kwargs.get("model_type", "bert") != "bert":
            raise ValueError(f"BertConfig: model_type {kwargs['model_type']!r} is not 'bert'")
        for key, allowed in _ENCODER_ONLY.items():
            if kwargs.get(key, allowed) != allowed:
                raise ValueError(
                    f"BertConfig: {key}={kwargs[key]!r} is not supported; nnlab's BertModel "
                    "is an encoder only"
                )
        for key, value in kwargs.items():
            if hasattr(type(self), key):
                raise ValueError(f"BertConfig: {key!r} is a method name, not a setting")
            setattr(self, key, value)
        self._extra = list(kwargs)

    def _check(self) -> None:
        """Check (and normalise: ints as int, probabilities as float) every field."""
        for name, low in _INT_FIELDS.items():
            value = _number(name, getattr(self, name), integral=True)
            if value < low:
                raise ValueError(f"BertConfig: {name} must be >= {low}, got {value}")
            setattr(self, name, value)
        for name in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            value = _number(name, getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"BertConfig: {name} must be in [0, 1], got {value}")
            setattr(self, name, value)
        self.layer_norm_eps = _number("layer_norm_eps", self.layer_norm_eps)
        self.initializer_range = _number("initializer_range", self.initializer_range)
        if not self.layer_norm_eps > 0 or not self.initializer_range >= 0:
            raise ValueError(
                "BertConfig: layer_norm_eps must be > 0 and initializer_range >= 0, got "
                f"{self.layer_norm_eps} and {self.initializer_range}"
            )
        if self.pad_token_id is not None:
            self.pad_token_id = _number("pad_token_id", self.pad_token_id, integral=True)
            if not 0 <= self.pad_token_id < self.vocab_size:
                raise ValueError(
                    f"BertConfig: pad_token_id={self.pad_token_id} is not a token id "
                    f"(vocab_size={self.vocab_size}); use None for no padding token"
                )
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"BertConfig: hidden_size={self.hidden_size} must be divisible by "
                f"num_attention_heads={self.num_attention_heads}"
            )
        if not isinstance(self.hidden_act, str) or self.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"BertConfig: hidden_act={self.hidden_act!r} is not supported; use one of "
                f"{sorted(_ACTIVATIONS)}"
            )
        if self.position_embedding_type != "absolute":
            raise ValueError(
                f"BertConfig: position_embedding_type={self.position_embedding_type!r} is not "
                "supported; only 'absolute' position embeddings are implemented"
            )

    @classmethod
    def from_dict(cls, config_dict: Mapping[str, Any], **kwargs: Any) -> BertConfig:
        """A config from a dict such as Hugging Face's ``config.to_dict()`` (``kwargs``
        override its entries)."""
        if not isinstance(config_dict, Mapping):
            raise TypeError(
                f"BertConfig.from_dict: expected a dict, got {type(config_dict).__name__}"
            )
        merged = {**config_dict, **kwargs}
        bad = [k for k in merged if not isinstance(k, str)]
        if bad:
            raise TypeError(f"BertConfig.from_dict: keys must be strings, got {bad!r}")
        return cls(**merged)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> BertConfig:
        """Read a Hugging Face ``config.json`` (a file, or a folder holding one).

        Raises:
            FileNotFoundError: the file (or the folder's config.json) does not exist.
            ValueError: the file cannot be read or is not a JSON object; TypeError or
                ValueError naming the file and the key for a wrong hyper-parameter.
        """
        path = Path(path)
        if path.is_dir():
            path = path / "config.json"
        if not path.exists():
            raise FileNotFoundError(f"BertConfig.from_json: {path} does not exist")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"BertConfig.from_json: cannot read {path}: {exc}") from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"BertConfig.from_json: {path} is not valid JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise ValueError(
                f"BertConfig.from_json: {path} holds a JSON {type(raw).__name__}, not an "
                "object of settings"
            )
        try:
            return cls.from_dict(raw)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{path}: {exc}") from None

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike[str]) -> BertConfig:
        """The config of a Hugging Face model folder (its ``config.json``)."""
        return cls.from_json(folder)

    def to_dict(self) -> dict[str, Any]:
        """The hyper-parameters, then the extra keys given, as a JSON-able dict."""
        return {**asdict(self), **{k: getattr(self, k) for k in self._extra}}


def _number(name: str, value: Any, integral: bool = False) -> Any:
    """``value`` as an int (``integral``) or a float, or a TypeError naming ``name``."""
    kind = "an int" if integral else "a number"
    ok = isinstance(value, (numbers.Integral if integral else numbers.Real))
    if not ok or isinstance(value, bool):
        raise TypeError(
            f"BertConfig: {name} must be {kind}, got {type(value).__name__} ({value!r})"
        )
    return int(value) if integral else float(value)
