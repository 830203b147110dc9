"""Factory functions: tensors filled with constants, ranges and random numbers.

Floating results are float32 unless ``dtype`` says otherwise; random ones draw from the
default generator (seeded by ``nnlab.manual_seed``) or an explicit ``generator``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnlab import dtypes
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor, _as_array, _shape_arg

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange",
    "linspace", "eye", "rand", "randn", "randint", "randperm", "normal", "zeros_like",
    "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
]  # fmt: skip


def _float(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)


def _random_float(op: str, dtype: Any) -> np.dtype:
    """The dtype of a continuous random sample, which must be floating (as in torch)."""
    d = _float(dtype)
    if d.kind != "f":
        raise TypeError(f"{op}: samples are floating point; dtype {d} is not (use randint)")
    return d


def _new(data: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._make(data, False, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists of floats become float32)."""
    return _new(_as_array(data, dtype, copy=True), requires_grad)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """A tensor sharing memory with ``data`` where possible."""
    return data if isinstance(data, Tensor) and dtype is None else Tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` and keeping its dtype."""
    return Tensor._make(np.asarray(array), False, None, 0)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(_shape_arg(size), dtype=_float(dtype)), requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape_arg(size), dtype=_float(dtype)), requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.empty(_shape_arg(size), dtype=_float(dtype)), requires_grad)


def full(
    size: Sequence[int], fill_value: Any, dtype: Any = None, requires_grad: bool = False
) -> Tensor:
    if dtype is None:
        dtype = _as_array(fill_value).dtype
    return _new(np.full(tuple(size), fill_value, dtype=dtypes.to_dtype(dtype)), requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Values start, start+step, ... < end; int64 when all arguments are ints."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else dtypes.get_default_dtype()
    dtype = dtypes.to_dtype(dtype)
    if dtype.kind == "f":
        # Each value start + i·step is computed in float64 and rounded once, as torch does;
        # np.arange in float32 accumulates the rounding of step (1 ulp off by 100 or so).
        values = np.arange(start, end, step, dtype=np.float64).astype(dtype)
    else:
        values = np.arange(start, end, step, dtype=dtype)
    return _new(values, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             requires_grad: bool = False) -> Tensor:  # fmt: skip
    return _new(np.linspace(start, end, steps, dtype=_float(dtype)), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.eye(n, m, dtype=_float(dtype)), requires_grad)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Uniform samples on [0, 1)."""
    d = _random_float("rand", dtype)
    return _new(_rng(generator).random(_shape_arg(size)).astype(d, copy=False), requires_grad)


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None,
          requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Standard normal samples, N(0, 1)."""
    d = _random_float("randn", dtype)
    return _new(
        _rng(generator).standard_normal(_shape_arg(size)).astype(d, copy=False), requires_grad
    )


def normal(mean: float, std: float, size: Sequence[int], generator: Generator | None = None,
           dtype: Any = None) -> Tensor:  # fmt: skip
    """Samples from N(mean, std²)."""
    d = _random_float("normal", dtype)
    return _new(_rng(generator).normal(mean, std, tuple(size)).astype(d, copy=False), False)


def randint(low: int, high: int | None = None, size: Sequence[int] = (),
            generator: Generator | None = None, dtype: Any = np.int64) -> Tensor:  # fmt: skip
    """Integers uniform on [low, high). As torch, ``randint(high, size)`` draws from [0, high).

    Example:
        >>> import nnlab
        >>> nnlab.randint(10, (3,)).shape, nnlab.randint(5, 10, size=(2, 2)).dtype
        ((3,), dtype('int64'))
    """
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    values = _rng(generator).integers(low, high, size=tuple(size))
    return _new(values.astype(dtypes.to_dtype(dtype)), False)


def randperm(n: int, generator: Generator | None = None) -> Tensor:
    return _new(_rng(generator).permutation(n).astype(np.int64), False)


def _like_dtype(x: Tensor, dtype: Any) -> np.dtype:
    return x.dtype if dtype is None else dtypes.to_dtype(dtype)


def zeros_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(x.shape, dtype=_like_dtype(x, dtype)), requires_grad)


def ones_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(x.shape, dtype=_like_dtype(x, dtype)), requires_grad)


def empty_like(x: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.empty(x.shape, dtype=_like_dtype(x, dtype)), requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.full(x.shape, fill_value, dtype=_like_dtype(x, dtype)), requires_grad)


def rand_like(x: Tensor, generator: Generator | None = None, dtype: Any = None) -> Tensor:
    return rand(*x.shape, generator=generator, dtype=_like_dtype(x, dtype))


def randn_like(x: Tensor, generator: Generator | None = None, dtype: Any = None) -> Tensor:
    return randn(*x.shape, generator=generator, dtype=_like_dtype(x, dtype))
