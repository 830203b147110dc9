"""PyTorch's type promotion: the dtype of an elementwise op's result.

NumPy and PyTorch agree when both operands share a dtype, or when a floating array meets
a Python number. They differ elsewhere: in torch an integer tensor with a float gives the
default dtype (float32), int / int is a float32 division, int64 + float32 is float32, and
a 0-d tensor or Python number cannot raise the dtype of a tensor with dims in its own
category (float32 * 0-d float64 is float32). ``_promoted`` reproduces torch's rule, and
the elementwise ops (:mod:`nnlab.ops.elementwise`, :mod:`nnlab.ops.comparison`,
:mod:`nnlab.ops.rounding`) compute in the dtype it gives through ``_binary`` and
``_compare``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.dtypes import get_default_dtype
from nnlab.ops._broadcast import broadcast_shapes
from nnlab.tensor import Tensor

__all__ = ["result_dtype", "floating"]


def _shape(x: Any) -> tuple[int, ...]:
    return np.shape(x)


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}


def _join(a: np.dtype | None, b: np.dtype | None) -> np.dtype | None:
    """``torch.promote_types``: within a category the wider type, across categories the
    higher category's type (int64 with float32 is float32, not NumPy's float64)."""
    if a is None or b is None:
        return a if b is None else b
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    if ca == cb:
        return np.promote_types(a, b)
    return a if ca > cb else b


def _over(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """A lower-priority operand (0-d, Python number) only counts when its category is higher."""
    if higher is None or (lower is not None and _CATEGORY[lower.kind] > _CATEGORY[higher.kind]):
        return _join(higher, lower)
    return higher


def result_dtype(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an elementwise op on ``operands`` (arrays with dims first,
    then 0-d arrays, then Python numbers, whose floats count as the default dtype)."""
    dims = zero = number = None
    for v in operands:
        if v is None:
            continue
        if isinstance(v, (bool, int, float)) and not isinstance(v, np.generic):
            kind = bool if isinstance(v, bool) else int if isinstance(v, int) else float
            dt = {bool: np.dtype(bool), int: np.dtype(np.int64), float: get_default_dtype()}[kind]
            number = _join(number, dt)
        elif np.ndim(v):
            dims = _join(dims, np.asarray(v).dtype)
        else:
            zero = _join(zero, np.asarray(v).dtype)
    return _over(dims, _over(zero, number))


def _promoted(a: Any, b: Any, divide: bool = False) -> np.dtype | None:
    """torch's result dtype for ``a (op) b`` when NumPy would give another one, else None."""
    ta, tb = type(a), type(b)
    if ta is np.ndarray and tb is np.ndarray and a.dtype == b.dtype:
        if not (divide and a.dtype.kind in "biu"):
            return None
    elif ta is np.ndarray and tb in (float, int) and a.dtype.kind == "f":
        return None
    elif tb is np.ndarray and ta in (float, int) and b.dtype.kind == "f":
        return None
    dtype = result_dtype(a, b)
    if divide and dtype.kind in "biu":
        dtype = get_default_dtype()
    return dtype


def _binary(op: str, a: Any, b: Any, compute: Any, divide: bool = False) -> np.ndarray:
    """Run ``compute(a, b)`` in torch's result dtype, turning NumPy's broadcast error into
    one naming the op."""
    dtype = _promoted(a, b, divide)
    try:
        return compute(a, b) if dtype is None else compute(a, b, dtype=dtype)
    except ValueError:
        broadcast_shapes(op, _shape(a), _shape(b))
        raise


def _compare(op: str, a: Any, b: Any, compute: Any) -> np.ndarray:
    """A comparison, made in torch's promoted dtype: float32 x == 0-d float64 0.1 compares
    float32(0.1) with x, as torch does, not 0.1 with x widened to float64."""
    dtype = _promoted(a, b)
    if dtype is not None and dtype.kind == "f":
        a, b = np.asarray(a, dtype=dtype), np.asarray(b, dtype=dtype)
    try:
        return compute(a, b)
    except ValueError:
        broadcast_shapes(op, _shape(a), _shape(b))
        raise


def floating(x: Any) -> Any:
    """An integer or boolean tensor as the default float dtype, for functions (exp, sin...)
    whose result is floating: torch.exp(int tensor) is float32, np.exp of int64 float64."""
    if isinstance(x, Tensor) and x.array.dtype.kind in "biu":
        return Tensor._make(x.array.astype(get_default_dtype()), False, None, 0)
    return x
