"""Gradient clipping: bound the gradients before the optimizer step.

``clip_grad_norm_`` rescales all gradients together when their joint norm is too large
(the usual cure for exploding gradients in RNNs and transformers: the direction is kept,
only the length shrinks); ``clip_grad_value_`` clamps every element separately.

Gradients are changed in place, as PyTorch's: call these between ``loss.backward()`` and
``optimizer.step()``.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from nnlab import dtypes
from nnlab.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(tensors: Tensor | Iterable[Tensor]) -> list[Tensor]:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(x: np.ndarray, p: float) -> np.ndarray:
    """``torch.linalg.vector_norm`` of a flattened array, as a 0-d array of its dtype."""
    a = np.abs(x.ravel())
    if p == 2.0:
        return np.sqrt(np.dot(a, a))
    if p == np.inf:
        return a.max() if a.size else np.zeros((), x.dtype)
    if p == -np.inf:
        return a.min() if a.size else np.full((), np.inf, x.dtype)
    if p == 0.0:
        return np.asarray(np.count_nonzero(a), dtype=x.dtype)
    if p == 1.0:
        return a.sum()
    return np.sum(a**p) ** (1.0 / p)


def get_total_norm(
    tensors: Tensor | Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together, as if they were concatenated
    into one vector (computed as the norm of their individual norms).

    Args:
        tensors: a Tensor or an iterable of Tensors (typically gradients).
        norm_type: the p of the p-norm; ``float("inf")`` (or ``"inf"``) for the largest
            absolute value (default: 2.0).
        error_if_nonfinite: raise RuntimeError when the norm is nan or inf (default: False).

    Returns:
        A 0-d Tensor (0.0 when there are no tensors).
    """
    arrays = [t.array for t in _as_list(tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(np.zeros((), dtype=dtypes.get_default_dtype()))
    dtype = np.result_type(*arrays)
    norms = np.stack([_vector_norm(a, norm_type).astype(dtype) for a in arrays])
    total = _vector_norm(norms, norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return Tensor(np.asarray(total, dtype=dtype))


def _scale_grads_(parameters: list[Tensor], fn: Any) -> None:
    """Apply ``fn(array)`` in place to each distinct gradient array (one shared by two
    parameters is changed once); a read-only gradient is replaced by a new one."""
    seen: set[int] = set()
    for p in parameters:
        g = p.grad
        if g is None or id(g.array) in seen:
            continue
        seen.add(id(g.array))
        if g.array.flags.writeable:
            fn(g.array)
        else:
            data = g.array.copy()
            fn(data)
            p.grad = Tensor(data)


def clip_grads_with_norm_(
    parameters: Tensor | Iterable[Tensor], max_norm: float, total_norm: Tensor
) -> None:
    """Scale the gradients by ``min(max_norm / (total_norm + 1e-6), 1)`` in place, given a
    total norm computed beforehand (e.g. by :func:`get_total_norm` over several models)."""
    params = _as_list(parameters)
    total = total_norm.array if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (total + 1e-6), 1.0)

    def scale(g: np.ndarray) -> None:
        g *= coef.astype(g.dtype)

    _scale_grads_(params, scale)


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
) -> Tensor:
    r"""Rescale the gradients of ``parameters`` in place so that their joint norm is at most
    ``max_norm``:

    .. math::
        g \leftarrow g \cdot \min\left(\frac{\text{max\_norm}}{\lVert g \rVert_p + 10^{-6}},
        1\right)

    where :math:`\lVert g \rVert_p` is the norm of all gradients concatenated.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` to clip (those
            without a gradient are ignored).
        max_norm: the largest norm allowed.
        norm_type: the p of the p-norm, ``float("inf")`` for the max-norm (default: 2.0).
        error_if_nonfinite: raise RuntimeError instead of clipping when the total norm is
            nan or inf (default: False).

    Returns:
        The total norm of the gradients before clipping, as a 0-d Tensor (useful to log).

    Example:
        >>> import nnlab
        >>> from nnlab.nn.utils.clip_grad import clip_grad_norm_
        >>> w = nnlab.tensor([3.0, 4.0], requires_grad=True)
        >>> (w * w).sum().backward()  # grad = [6, 8], norm 10
        >>> clip_grad_norm_([w], max_norm=1.0)
        tensor(10.)
        >>> w.grad
        tensor([0.6, 0.8])
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """Clamp every gradient element of ``parameters`` into ``[-clip_value, clip_value]``,
    in place.

    Example:
        >>> import nnlab
        >>> from nnlab.nn.utils.clip_grad import clip_grad_value_
        >>> w = nnlab.tensor([0.1, 3.0], requires_grad=True)
        >>> (w * w).sum().backward()  # grad = [0.2, 6]
        >>> clip_grad_value_([w], clip_value=1.0)
        >>> w.grad
        tensor([0.2, 1. ])
    """
    value = float(clip_value)

    def clamp(g: np.ndarray) -> None:
        np.clip(g, -value, value, out=g)

    _scale_grads_(_as_list(parameters), clamp)
