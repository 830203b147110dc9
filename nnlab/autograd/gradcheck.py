"""Numerical gradient checking: compare backprop with finite differences.

For each input element xᵢ the central difference
    ∂f/∂xᵢ ≈ (f(x + ε eᵢ) - f(x - ε eᵢ)) / 2ε
has error O(ε²), so in float64 with ε = 1e-6 it agrees with a correct analytical
gradient to about 1e-8. ``gradcheck`` builds the full Jacobian both ways (one backward
per output element, two forwards per input element) and compares them with
``|analytical - numerical| ≤ atol + rtol·|numerical|``, PyTorch's defaults.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from nnlab.autograd.engine import grad as _grad
from nnlab.autograd.grad_mode import enable_grad, no_grad
from nnlab.tensor import Tensor

__all__ = [
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    "numerical_jacobian",
    "analytical_jacobian",
]


class GradcheckError(AssertionError):
    """The analytical gradient disagrees with the finite-difference one."""


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _differentiable(inputs: Sequence[Any]) -> list[int]:
    return [k for k, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def numerical_jacobian(
    fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6
) -> list[list[np.ndarray]]:
    """J[o][k] of shape (outputs[o].size, inputs[k].size), by central differences."""
    wrt = _differentiable(inputs)
    with no_grad():
        sizes = [o.array.size for o in _outputs(fn, inputs)]
        jac = [[np.zeros((n, inputs[k].array.size)) for k in wrt] for n in sizes]
        for col, k in enumerate(wrt):
            flat = inputs[k].array.reshape(-1)
            if flat.size and not np.shares_memory(flat, inputs[k].array):
                raise ValueError("gradcheck needs contiguous inputs")
            for i in range(flat.size):
                orig = flat[i]
                flat[i] = orig + eps
                plus = [o.array.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
                flat[i] = orig - eps
                minus = [o.array.astype(np.float64).ravel() for o in _outputs(fn, inputs)]
                flat[i] = orig
                for o in range(len(sizes)):
                    jac[o][col][:, i] = (plus[o] - minus[o]) / (2 * eps)
    return jac


def analytical_jacobian(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[list[np.ndarray]]:
    """J[o][k] by backpropagating each one-hot output gradient (vector-Jacobian products)."""
    wrt = _differentiable(inputs)
    outs = _outputs(fn, inputs)
    jac = [[np.zeros((o.array.size, inputs[k].array.size)) for k in wrt] for o in outs]
    for o, out in enumerate(outs):
        if not out.requires_grad:
            continue
        for r in range(out.array.size):
            seed = np.zeros(out.array.size, dtype=out.dtype)
            seed[r] = 1
            grads = _grad(
                out, [inputs[k] for k in wrt], seed.reshape(out.shape),
                retain_graph=True, allow_unused=True,
            )  # fmt: skip
            for col, g in enumerate(grads):
                if g is not None:
                    jac[o][col][r] = g.array.reshape(-1)
    return jac


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any] | Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """Check ``fn``'s backward against finite differences at ``inputs``.

    The inputs that require grad should be float64: in float32, rounding error of the
    finite differences (≈1e-7/ε) swamps the comparison.

    Returns True when every Jacobian entry agrees; otherwise raises
    :class:`GradcheckError` naming the output, the input, the worst element and both
    values (or returns False with ``raise_exception=False``).

    Example:
        >>> import nnlab
        >>> x = nnlab.randn(3, dtype=nnlab.float64, requires_grad=True)
        >>> gradcheck(lambda t: (t * t).sin(), [x])
        True
    """
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    wrt = _differentiable(inputs)
    if not wrt:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for k in wrt:
        if inputs[k].dtype != np.float64:
            raise ValueError(
                f"gradcheck: input {k} is {inputs[k].dtype}; use float64 inputs, finite "
                "differences are too imprecise in float32"
            )
    numerical = numerical_jacobian(fn, inputs, eps)
    analytical = analytical_jacobian(fn, inputs)
    for o, (num_row, ana_row) in enumerate(zip(numerical, analytical)):
        for col, (num, ana) in enumerate(zip(num_row, ana_row)):
            err = np.abs(ana - num) - (atol + rtol * np.abs(num))
            if err.size and (err > 0).any() or not np.isfinite(ana).all():
                flat = int(np.nanargmax(np.where(np.isfinite(err), err, np.inf)))
                r, i = np.unravel_index(flat, err.shape)
                k = wrt[col]
                where = np.unravel_index(i, inputs[k].shape)
                message = (
                    f"gradcheck failed for output {o}, input {k} (shape {inputs[k].shape}): "
                    f"d out[{r}] / d in{list(where)}: analytical {ana[r, i]:.8g}, "
                    f"numerical {num[r, i]:.8g}, difference {abs(ana[r, i] - num[r, i]):.3g} "
                    f"> atol {atol} + rtol {rtol} * |numerical|; "
                    f"{int((err > 0).sum())} of {err.size} entries disagree."
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    seed: int = 0,
) -> bool:
    """Check second derivatives: gradcheck of the function x ↦ vᵀ·∂fn/∂x for a fixed random v."""
    inputs = list(inputs)
    wrt = _differentiable(inputs)
    rng = np.random.default_rng(seed)
    outs = _outputs(fn, inputs)
    vs = [Tensor(rng.standard_normal(o.shape)) for o in outs]

    def first_derivative(*xs: Any) -> tuple[Tensor, ...]:
        # Finite differences run under no_grad; the first derivative still needs a graph.
        with enable_grad():
            ys = _outputs(fn, xs)
            total = sum(((y * v).sum() for y, v in zip(ys, vs)), Tensor(np.float64(0.0)))
            grads = _grad(total, [xs[k] for k in wrt], create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs, eps, atol, rtol)
