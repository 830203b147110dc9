"""Comparisons: ``lt``, ``le``, ``gt``, ``ge``, ``eq``, ``ne``, ``sign`` (x compared with
0: -1, 0 or 1), ``logical_not``, ``isclose``, ``allclose`` and ``equal``.

Their results are piecewise constant in the inputs (booleans, signs), so none of them has
a gradient: each returns a tensor that needs no grad. The two operands are compared in
torch's promoted dtype (:mod:`nnlab.ops.type_promotion`), and broadcast like NumPy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.ops._broadcast import broadcast_shapes
from nnlab.ops.type_promotion import _compare, _shape
from nnlab.tensor import Tensor

__all__ = [
    "lt", "le", "gt", "ge", "eq", "ne", "sign", "logical_not", "isclose", "allclose", "equal",
]  # fmt: skip


def _no_grad(values: Any) -> Tensor:
    return Tensor._make(np.asarray(values), False, None, 0)


def _raw(v: Any) -> Any:
    return v.array if isinstance(v, Tensor) else v


def sign(input: Any) -> Tensor:
    """sign(x) ∈ {-1, 0, 1}; piecewise constant, so it has no gradient."""
    return _no_grad(np.sign(_raw(input)))


def _comparison(name: str, ufunc: np.ufunc, symbol: str) -> Callable[[Any, Any], Tensor]:
    """The public comparison ``name``: ``ufunc`` on the raw values in torch's promoted dtype
    (see :func:`_compare`), a boolean tensor that needs no gradient."""

    def compare(input: Any, other: Any) -> Tensor:
        return _no_grad(_compare(name, _raw(input), _raw(other), ufunc))

    compare.__name__ = compare.__qualname__ = name
    compare.__doc__ = (
        f"input {symbol} other elementwise (broadcasting): a boolean tensor, no gradient."
    )
    return compare


lt = _comparison("lt", np.less, "<")
le = _comparison("le", np.less_equal, "<=")
gt = _comparison("gt", np.greater, ">")
ge = _comparison("ge", np.greater_equal, ">=")
eq = _comparison("eq", np.equal, "==")
ne = _comparison("ne", np.not_equal, "!=")


def logical_not(input: Any) -> Tensor:
    return _no_grad(np.logical_not(_raw(input)))


def isclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """|a - b| ≤ atol + rtol·|b| elementwise (equal infinities are close; NaN only with
    ``equal_nan``). Both tensors must share a dtype, as in torch. A boolean tensor."""
    ra, rb = _raw(input), _raw(other)
    if isinstance(input, Tensor) and isinstance(other, Tensor) and ra.dtype != rb.dtype:
        raise RuntimeError(
            f"isclose: both inputs must have the same dtype, got {ra.dtype} and {rb.dtype}"
        )
    try:
        return _no_grad(np.isclose(ra, rb, rtol=rtol, atol=atol, equal_nan=equal_nan))
    except ValueError:
        broadcast_shapes("isclose", _shape(ra), _shape(rb))
        raise


def allclose(
    input: Any, other: Any, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """True when every element of ``input`` is close to ``other`` (see :func:`isclose`).

    Example:
        >>> import nnlab
        >>> nnlab.allclose(nnlab.tensor([1.0, 2.0]), nnlab.tensor([1.0, 2.0 + 1e-7]))
        True
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input: Any, other: Any) -> bool:
    """True when both have the same shape and the same values (``torch.equal``).

    Example:
        >>> import nnlab
        >>> nnlab.equal(nnlab.tensor([1, 2]), nnlab.tensor([1.0, 2.0])), nnlab.equal(
        ...     nnlab.ones(2), nnlab.ones(3))
        (True, False)
    """
    a, b = np.asarray(_raw(input)), np.asarray(_raw(other))
    return a.shape == b.shape and bool(np.array_equal(a, b))
