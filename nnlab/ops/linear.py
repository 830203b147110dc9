"""The affine map of a fully connected layer, fused into one op: y = x Wᵀ + b.

The weight is stored (out_features, in_features), as in PyTorch, so a row of W is the
incoming weights of one output unit. With G = dL/dy and every leading dimension of x
flattened into rows (X is (n, in), G is (n, out)):

    dL/dx = G W            (skipped when x needs no gradient, e.g. the first layer)
    dL/dW = Gᵀ X           (computed straight into W's (out, in) layout)
    dL/db = 1ᵀ G           (a GEMV: much faster than G.sum(0) here, PERFORMANCE.md)

``x @ W.T`` multiplies by a transposed *view*: BLAS reads it with a transpose flag,
nothing is copied. ``linear_composed`` builds the same map from the primitive ops; the
tests check the fused op against it and against PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.tensor import Tensor

__all__ = ["linear", "linear_composed"]


class Linear(Function):
    """y = x Wᵀ + b;  dx = G W,  dW = Gᵀ X,  db = 1ᵀ G (X, G: x and G with rows flattened).

    The backward uses only ``@``, ``reshape`` and ``.T``, so it also runs on tensors and
    supports higher-order gradients.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        out_features, in_features = weight.shape
        if x.ndim == 2:
            y = x @ weight.T
        else:
            # One GEMM over all rows instead of np.matmul's loop over a stack of matrices.
            y = (x.reshape(-1, in_features) @ weight.T).reshape(x.shape[:-1] + (out_features,))
        if bias is not None:
            y += bias  # y is a fresh array: adding in place is safe and saves a copy
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        out_features, in_features = weight.shape
        g2 = g if g.ndim == 2 else g.reshape(-1, out_features)
        dx = dw = db = None
        if need_x:
            dx = g2 @ weight
            if x.ndim != 2:
                dx = dx.reshape(x.shape)
        if need_w:
            x2 = x if x.ndim == 2 else x.reshape(-1, in_features)
            dw = g2.T @ x2
        if need_b:
            db = np.ones(g2.shape[0], dtype=g2.dtype) @ g2
        return dx, dw, db


def _check(x: Tensor, weight: Tensor, bias: Any) -> None:
    # The arrays' own shapes and dtypes: this runs on every call of every linear layer.
    x, weight = getattr(x, "array", x), getattr(weight, "array", weight)
    if weight.ndim != 2:
        raise ValueError(
            f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}"
        )
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        rows = int(np.prod(x.shape[:-1], dtype=np.int64)) if x.ndim else 1
        cols = x.shape[-1] if x.ndim else 1
        raise RuntimeError(
            f"linear: mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
            f"{weight.shape[1]}x{weight.shape[0]}): the input's last dim must equal "
            f"in_features={weight.shape[1]}"
        )
    if x.dtype != weight.dtype:
        raise TypeError(
            f"linear: input dtype {x.dtype} and weight dtype {weight.dtype} differ; convert "
            "one of them (e.g. model.double() or x.float())"
        )
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(
            f"linear: bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}"
        )


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Apply the affine map y = x Wᵀ + b (``torch.nn.functional.linear``).

    Args:
        x: input of shape (*, in_features).
        weight: (out_features, in_features).
        bias: (out_features,) or None.

    Returns:
        A tensor of shape (*, out_features).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[1.0, 2.0]])
        >>> w = nnlab.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, -1.0]])
        >>> linear(x, w, nnlab.tensor([0.5, 0.0, 0.0]))
        tensor([[ 1.5,  3. , -2. ]])
    """
    _check(input, weight, bias)
    return Linear.apply(input, weight, bias)


def linear_composed(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """The same map from primitive ops (matmul, transpose, add): the fused op's twin.

    Example:
        >>> import nnlab
        >>> x, w = nnlab.ones(2, 3), nnlab.ones(4, 3)
        >>> bool((linear_composed(x, w) == linear(x, w)).all())
        True
    """
    _check(x, weight, bias)
    y = x @ weight.T
    return y if bias is None else y + bias
