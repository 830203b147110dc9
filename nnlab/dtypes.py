"""Data types. nnlab computes in float32 unless asked for float64.

The dtypes are NumPy's own ``np.dtype`` objects, so ``nnlab.float32 == np.float32``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool_",
    "get_default_dtype",
    "set_default_dtype",
    "to_dtype",
]

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_ALIASES = {"float": float32, "double": float64, "long": int64, "int": int32, "bool": bool_}
_default = float32


def get_default_dtype() -> np.dtype:
    """The floating dtype given to tensors made from Python floats (float32 at start)."""
    return _default


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype; only float32 and float64 are allowed, as in PyTorch."""
    global _default
    d = to_dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 or float64 are allowed, got {d}")
    _default = d


def to_dtype(dtype: Any) -> np.dtype:
    """Turn a dtype-like (``nnlab.float64``, ``np.float64``, ``"float64"``, ``"double"``) into a
    NumPy dtype."""
    if isinstance(dtype, str) and dtype in _ALIASES:
        return _ALIASES[dtype]
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"not a dtype: {dtype!r}") from exc
