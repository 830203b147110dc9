"""What every attribution method shares: checking the inputs and targets, the score of the
target class, its gradient with respect to the input, and resizing a layer's map.

An attribution method explains one output of a model, the *score* ``f_t(x)`` (the logit of
the target class t, one per row of the batch), by giving every input feature a number of
the same shape as the input. The gradient methods start from ``∂f_t/∂x``; they run the
model as it is (train or eval mode is the caller's choice, as in Captum) and ask the
autograd engine with :func:`nnlab.autograd.grad`, which leaves every ``.grad`` untouched.

Conventions (Captum's): ``inputs`` is a batch (N, ...) of float features (a Tensor or a
NumPy array); ``target`` is None (the model returns one score per row, shape (N,)), one
class index for every row, or a sequence of N indices; attributions come back as a float
NumPy array shaped like ``inputs``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnlab.autograd import grad, no_grad
from nnlab.ops.upsampling import interpolate
from nnlab.tensor import Tensor

__all__ = [
    "Attribution", "LayerAttribution", "as_batch", "baselines_like", "evaluate_scores",
    "input_gradient", "target_indices", "target_scores",
]  # fmt: skip

Target = int | Sequence[int] | np.ndarray | None


def as_batch(inputs: Any, method: str) -> np.ndarray:
    """``inputs`` as a floating NumPy batch (N, ...) (a copy), or a clear error."""
    array = np.array(inputs.array if isinstance(inputs, Tensor) else inputs)
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise TypeError(f"{method}: inputs must be numbers, got dtype {array.dtype}")
    if array.ndim < 2:
        raise ValueError(
            f"{method}: inputs must be a batch (N, features...) with at least 2 dims, got "
            f"shape {array.shape}; add a batch dim with x[None]"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{method}: inputs is an empty batch (shape {array.shape})")
    if array.dtype.kind != "f":
        array = array.astype(np.float32)
    return array


def target_indices(target: Target, n: int, method: str) -> np.ndarray | None:
    """``target`` as N class indices (int64), None for models with one score per row."""
    if target is None:
        return None
    t = np.asarray(target.array if isinstance(target, Tensor) else target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{method}: target must be class indices (ints), got dtype {t.dtype}")
    if t.ndim == 0:
        t = np.full(n, int(t))
    if t.shape != (n,):
        raise ValueError(
            f"{method}: target must be one index or {n} indices (one per input row), got "
            f"shape {t.shape}"
        )
    return t.astype(np.int64)


def target_scores(output: Tensor, target: np.ndarray | None, method: str) -> Tensor:
    """The scores f_t(x) (N,) picked from the model's output by ``target``."""
    if not isinstance(output, Tensor):
        raise TypeError(
            f"{method}: the forward function must return a Tensor, got {type(output).__name__}"
        )
    if target is None:
        if output.ndim == 2 and output.shape[1] == 1:
            return output[:, 0]
        if output.ndim != 1:
            raise ValueError(
                f"{method}: the model returns shape {tuple(output.shape)}; give target= (the "
                "class to explain) unless it returns one score per row"
            )
        return output
    if output.ndim != 2:
        raise ValueError(
            f"{method}: with a target the model must return (N, classes), got shape "
            f"{tuple(output.shape)}"
        )
    classes = output.shape[1]
    if target.min() < 0 or target.max() >= classes:
        raise ValueError(
            f"{method}: target {target.tolist()} out of range for {classes} classes "
            f"(0 to {classes - 1})"
        )
    return output[np.arange(len(target)), target]


def input_gradient(
    forward_func: Callable[[Tensor], Tensor], inputs: np.ndarray, target: np.ndarray | None,
    method: str,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``∂f_t/∂x`` for every row (rows do not interact, so the gradient of the summed scores
    gives each row's own gradient), and the scores f_t(x) (N,)."""
    x = Tensor(inputs, requires_grad=True)
    scores = target_scores(forward_func(x), target, method)
    if not scores.requires_grad:
        raise RuntimeError(
            f"{method}: the model's output does not depend on its input through the autograd "
            "graph (was it run under no_grad or detached?)"
        )
    (g,) = grad(scores.sum(), x, allow_unused=True)
    gradient = np.zeros_like(inputs) if g is None else g.array.astype(inputs.dtype, copy=False)
    return gradient, scores.array.copy()


def evaluate_scores(
    forward_func: Callable[[Tensor], Tensor], inputs: np.ndarray, target: np.ndarray | None,
    method: str,
) -> np.ndarray:  # fmt: skip
    """The scores f_t(x) (N,) without building a graph."""
    with no_grad():
        return target_scores(forward_func(Tensor(inputs)), target, method).array.copy()


def baselines_like(baselines: Any, inputs: np.ndarray, method: str) -> np.ndarray:
    """The reference input b, broadcast to the shape of ``inputs``: None means zeros; a
    number, one example (the input's shape without the batch dim) or a full batch."""
    if baselines is None:
        return np.zeros_like(inputs)
    b = np.asarray(baselines.array if isinstance(baselines, Tensor) else baselines)
    try:
        return np.broadcast_to(b, inputs.shape).astype(inputs.dtype)
    except ValueError:
        raise ValueError(
            f"{method}: baselines of shape {b.shape} do not broadcast to the inputs' shape "
            f"{inputs.shape}; give a number, one example {inputs.shape[1:]} or a batch"
        ) from None


class Attribution:
    """Base of the attribution methods: holds the function explained.

    Args:
        forward_func: the model (a Module) or any function from a batch Tensor to scores:
            (N, classes) logits, or (N,) one score per row.
    """

    def __init__(self, forward_func: Callable[[Tensor], Tensor]) -> None:
        if not callable(forward_func):
            raise TypeError(
                f"{type(self).__name__}: forward_func must be callable (a model or a "
                f"function), got {type(forward_func).__name__}"
            )
        self.forward_func = forward_func

    @property
    def name(self) -> str:
        return type(self).__name__

    def attribute(self, inputs: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{self.name} does not implement attribute()")


class LayerAttribution(Attribution):
    """Base of the methods that explain through an inner layer's output (Grad-CAM)."""

    @staticmethod
    def interpolate(
        layer_attribution: Any, interpolate_dims: int | tuple[int, ...],
        interpolate_mode: str = "nearest",
    ) -> np.ndarray:  # fmt: skip
        """Resize a layer's map (N, C, h, w) to ``interpolate_dims`` (H, W) to lay it over
        the input (``captum.attr.LayerAttribution.interpolate``); modes as
        :func:`nnlab.nn.functional.interpolate` ("nearest", "bilinear", ...)."""
        a = np.asarray(getattr(layer_attribution, "array", layer_attribution))
        if a.ndim < 3:
            raise ValueError(
                f"LayerAttribution.interpolate: expected a map (N, C, spatial...), got shape "
                f"{a.shape}"
            )
        return interpolate(Tensor(a), size=interpolate_dims, mode=interpolate_mode).array
