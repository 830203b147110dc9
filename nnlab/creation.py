"""Factory functions: tensors filled with constants, ranges and random numbers.

Floating results are float32 unless ``dtype`` says otherwise; random ones draw from the
default generator (seeded by ``nnlab.manual_seed``) or an explicit ``generator``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from nnlab import dtypes
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor, _as_array, _check_cpu, _shape_arg

__all__ = [
    "tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "arange",
    "linspace", "eye", "rand", "randn", "randint", "randperm", "normal", "zeros_like",
    "ones_like", "full_like", "empty_like", "rand_like", "randn_like", "multinomial",
    "bernoulli",
]  # fmt: skip


def _float(dtype: Any) -> np.dtype:
    return dtypes.to_dtype(dtypes.get_default_dtype() if dtype is None else dtype)


def _random_float(op: str, dtype: Any) -> np.dtype:
    """The dtype of a continuous random sample, which must be floating (as in torch)."""
    d = _float(dtype)
    if d.kind != "f":
        raise TypeError(f"{op}: samples are floating point; dtype {d} is not (use randint)")
    return d


def _new(data: np.ndarray, requires_grad: bool, device: Any = None) -> Tensor:
    if device is not None:
        _check_cpu(device, "tensor factory")
    t = Tensor._make(data, False, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists of floats become float32)."""
    return _new(_as_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """A tensor sharing memory with ``data`` where possible."""
    if device is not None:
        _check_cpu(device, "as_tensor")
    return data if isinstance(data, Tensor) and dtype is None else Tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` and keeping its dtype."""
    return Tensor._make(np.asarray(array), False, None, 0)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.zeros(_shape_arg(size), dtype=_float(dtype)), requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.ones(_shape_arg(size), dtype=_float(dtype)), requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _new(np.empty(_shape_arg(size), dtype=_float(dtype)), requires_grad, device)


def full(
    size: Sequence[int],
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    if dtype is None:
        dtype = _as_array(fill_value).dtype
    return _new(
        np.full(tuple(size), fill_value, dtype=dtypes.to_dtype(dtype)), requires_grad, device
    )


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
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
    return _new(values, requires_grad, device)


def linspace(start: float, end: float, steps: int, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    return _new(np.linspace(start, end, steps, dtype=_float(dtype)), requires_grad, device)


def eye(
    n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _new(np.eye(n, m, dtype=_float(dtype)), requires_grad, device)


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Uniform samples on [0, 1)."""
    d = _random_float("rand", dtype)
    return _new(
        _rng(generator).random(_shape_arg(size)).astype(d, copy=False), requires_grad, device
    )


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    """Standard normal samples, N(0, 1)."""
    d = _random_float("randn", dtype)
    return _new(
        _rng(generator).standard_normal(_shape_arg(size)).astype(d, copy=False),
        requires_grad,
        device,
    )


def normal(
    mean: float,
    std: float,
    size: Sequence[int],
    generator: Generator | None = None,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Samples from N(mean, std²)."""
    d = _random_float("normal", dtype)
    return _new(
        _rng(generator).normal(mean, std, tuple(size)).astype(d, copy=False), requires_grad, device
    )


def randint(low: int, high: int | None = None, size: Sequence[int] = (),
            generator: Generator | None = None, dtype: Any = np.int64,
            device: Any = None) -> Tensor:  # fmt: skip
    """Integers uniform on [low, high). As torch, ``randint(high, size)`` draws from [0, high).

    Example:
        >>> import nnlab
        >>> nnlab.randint(10, (3,)).shape, nnlab.randint(5, 10, size=(2, 2)).dtype
        (nnlab.Size([3]), nnlab.int64)
    """
    if isinstance(high, (tuple, list)):
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    values = _rng(generator).integers(low, high, size=tuple(size))
    return _new(values.astype(dtypes.to_dtype(dtype)), False, device)


def randperm(n: int, generator: Generator | None = None, dtype: Any = np.int64,
             device: Any = None) -> Tensor:  # fmt: skip
    return _new(_rng(generator).permutation(n).astype(dtypes.to_dtype(dtype)), False, device)


def _like_dtype(input: Tensor, dtype: Any) -> np.dtype:
    return input.array.dtype if dtype is None else dtypes.to_dtype(dtype)


def zeros_like(
    input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _new(np.zeros(input.shape, dtype=_like_dtype(input, dtype)), requires_grad, device)


def ones_like(
    input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _new(np.ones(input.shape, dtype=_like_dtype(input, dtype)), requires_grad, device)


def empty_like(
    input: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    return _new(np.empty(input.shape, dtype=_like_dtype(input, dtype)), requires_grad, device)


def full_like(
    input: Tensor,
    fill_value: Any,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    return _new(
        np.full(input.shape, fill_value, dtype=_like_dtype(input, dtype)), requires_grad, device
    )


def rand_like(input: Tensor, generator: Generator | None = None, dtype: Any = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    return rand(*input.shape, generator=generator, dtype=_like_dtype(input, dtype), device=device,
                requires_grad=requires_grad)  # fmt: skip


def randn_like(input: Tensor, generator: Generator | None = None, dtype: Any = None,
               device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
    return randn(*input.shape, generator=generator, dtype=_like_dtype(input, dtype), device=device,
                 requires_grad=requires_grad)  # fmt: skip


def multinomial(
    input: Tensor,
    num_samples: int,
    replacement: bool = False,
    *,
    generator: Generator | None = None,
) -> Tensor:
    """Draw ``num_samples`` category indices per row, category i with probability
    wᵢ / Σw (the weights need not sum to one), as ``torch.multinomial``.

    Without replacement each index appears at most once per row, drawn one after another
    from the weights that remain.

    Example:
        >>> import nnlab
        >>> nnlab.multinomial(nnlab.tensor([0.0, 1.0, 0.0]), 2, replacement=True)
        tensor([1, 1])
    """
    w = np.asarray(input.array if isinstance(input, Tensor) else input, dtype=np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got {w.ndim} dims")
    rows = w.reshape(-1, w.shape[-1])
    if not np.isfinite(rows).all() or (rows < 0).any():
        raise RuntimeError(
            "multinomial: probability tensor contains either inf, nan or element < 0"
        )
    total = rows.sum(axis=1)
    if (total <= 0).any():
        raise RuntimeError(
            "multinomial: invalid multinomial distribution (sum of probabilities <= 0)"
        )
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(
            f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples without "
            f"replacement (got {num_samples} samples from {rows.shape[1]} categories)"
        )
    rng = _rng(generator)
    if replacement:
        cdf = np.cumsum(rows, axis=1) / total[:, None]
        u = rng.random((rows.shape[0], num_samples))
        idx = np.stack([np.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
        idx = np.minimum(idx, rows.shape[1] - 1)
    else:
        # Nonzero weights are drawn before any zero-weight category, as in torch.
        idx = np.stack([
            _draw_without_replacement(rng, row, num_samples) for row in rows
        ])  # fmt: skip
    return Tensor._make(idx.astype(np.int64).reshape(w.shape[:-1] + (num_samples,)), False, None, 0)


def _draw_without_replacement(rng: np.random.Generator, w: np.ndarray, n: int) -> np.ndarray:
    positive = np.flatnonzero(w > 0)
    k = min(n, positive.size)
    first = rng.choice(positive, size=k, replace=False, p=w[positive] / w[positive].sum())
    rest = rng.permutation(np.flatnonzero(w <= 0))[: n - k]
    return np.concatenate([first, rest])


def bernoulli(
    input: Tensor, p: float | None = None, *, generator: Generator | None = None
) -> Tensor:
    """1 with probability ``input`` (elementwise), else 0, in ``input``'s dtype."""
    probs = input.array if isinstance(input, Tensor) else np.asarray(input)
    chance = probs if p is None else np.full(probs.shape, p)
    draws = _rng(generator).random(probs.shape) < chance
    return Tensor._make(draws.astype(probs.dtype), False, None, 0)
