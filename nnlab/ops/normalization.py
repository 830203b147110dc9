"""Batch and layer normalization, fused: one op each with a hand-written backward.

Both standardise x with a mean μ and a biased variance σ² taken over some axes, then
apply a learned per-feature scale γ and shift β:

    x̂ = (x - μ) / √(σ² + ε),    y = γ x̂ + β

Batch norm takes μ, σ² per channel over the batch (and length) axes; layer norm per
sample over the trailing ``normalized_shape`` axes. With G = dL/dy, M the number of
values each statistic averages over and ⟨·⟩ the mean over those values:

    dL/dβ = Σ G,    dL/dγ = Σ G x̂    (sums over everything but the feature axes)
    dL/dx = γ/√(σ² + ε) · (G - ⟨G⟩ - x̂ ⟨G x̂⟩)     when μ, σ² come from x itself
    dL/dx = γ/√(σ² + ε) · G                       when they are fixed (evaluation)

The middle line is the chain rule through μ and σ², which depend on every x in their
group; it is why normalised layers need their own backward rather than a per-element
derivative. The backwards work in place on their own scratch arrays (so they run on
NumPy arrays only: ``double_backward = False``); ``batch_norm_composed`` and
``layer_norm_composed`` are the same maps from primitive ops, for tests and for
higher-order gradients.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nnlab.autograd.function import Function
from nnlab.tensor import Tensor

__all__ = ["batch_norm", "layer_norm", "batch_norm_composed", "layer_norm_composed"]


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ over every axis but 1 of an (N, C) or (N, C, L) array, as a GEMV over N."""
    if a.ndim == 3:
        a = a.sum(axis=2)
    return np.ones(a.shape[0], dtype=a.dtype) @ a


class BatchNorm(Function):
    """y = γ (x - μ) / √(σ² + ε) + β per channel (axis 1) of an (N, C) or (N, C, L) x.

    Training: μ, σ² are the batch statistics over the N·L values of each channel and
    dx = γ/√(σ² + ε) · (G - ⟨G⟩ - x̂ ⟨G x̂⟩), where ⟨G⟩ = dβ/M and ⟨G x̂⟩ = dγ/M.
    Evaluation: μ, σ² are the running estimates and dx = γ/√(σ² + ε) · G.
    dγ = Σ G x̂ and dβ = Σ G over N and L in both cases.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast a (C,) vector over N (and L)
        count = x.size // x.shape[1]
        if training:
            mean = _channel_sum(x) / count
            xhat = x - mean.reshape(shape)
            var = _channel_sum(xhat * xhat) / count
            if running_mean is not None:
                # PyTorch's update: the running variance uses the unbiased estimate.
                running_mean *= 1 - momentum
                running_mean += momentum * mean
                running_var *= 1 - momentum
                running_var += (momentum * count / max(count - 1, 1)) * var
        else:
            mean, var = running_mean, running_var
            xhat = x - mean.reshape(shape)
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        xhat *= invstd.reshape(shape)
        ctx.xhat, ctx.invstd, ctx.training, ctx.shape, ctx.count = (
            xhat, invstd, training, shape, count,
        )  # fmt: skip
        ctx.weight = weight
        y = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(shape)
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xhat, shape, weight = ctx.xhat, ctx.shape, ctx.weight
        batch_stats = need_x and ctx.training  # dx then needs dγ and dβ too
        dw = db = dx = gx = None
        if need_w or batch_stats:
            gx = g * xhat  # scratch, reused in place below
            dw = _channel_sum(gx)
        if need_b or batch_stats:
            db = _channel_sum(g)
        if need_x:
            scale = ctx.invstd if weight is None else ctx.invstd * weight
            if batch_stats:
                np.multiply(xhat, (dw / ctx.count).reshape(shape), out=gx)
                gx += (db / ctx.count).reshape(shape)
                dx = g - gx
                dx *= scale.reshape(shape)
            else:
                dx = g * scale.reshape(shape)
        return (dx, dw if need_w else None, db if need_b else None,
                None, None, None, None, None)  # fmt: skip


class LayerNorm(Function):
    """y = γ (x - μ) / √(σ² + ε) + β with μ, σ² over the last k axes of each sample.

    With rows R = x.reshape(-1, D) and D the normalised size:
    dx = (1/√(σ² + ε)) · (γG - ⟨γG⟩ - x̂ ⟨γG x̂⟩) per row;  dγ = Σ_rows G x̂;  dβ = Σ_rows G.
    The row means ⟨γG⟩ and ⟨γG x̂⟩ are GEMVs with γ: (G γ)/D and ((G x̂) γ)/D.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, size, eps):
        rows = x.reshape(-1, size)
        mean = rows.mean(axis=1, keepdims=True)
        xhat = rows - mean
        var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / size
        invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
        xhat *= invstd
        ctx.xhat, ctx.invstd, ctx.size, ctx.shape = xhat, invstd, size, x.shape
        ctx.weight = None if weight is None else weight.reshape(-1)
        affine = weight if weight is not None else bias
        ctx.affine_shape = None if affine is None else affine.shape
        y = xhat * ctx.weight if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(-1)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        xhat, w, size = ctx.xhat, ctx.weight, ctx.size
        g2 = g.reshape(-1, size)
        ones = np.ones(g2.shape[0], dtype=g2.dtype)
        gx = g2 * xhat  # scratch, reused in place below
        dw = (ones @ gx).reshape(ctx.affine_shape) if need_w else None
        db = (ones @ g2).reshape(ctx.affine_shape) if need_b else None
        dx = None
        if need_x:
            if w is None:
                mean_g = g2.mean(axis=1, keepdims=True)
                mean_gx = gx.mean(axis=1, keepdims=True)
                dx = g2 - mean_g
            else:
                mean_g = (g2 @ w)[:, None] / size
                mean_gx = (gx @ w)[:, None] / size
                dx = g2 * w
                dx -= mean_g
            np.multiply(xhat, mean_gx, out=gx)
            dx -= gx
            dx *= ctx.invstd
            dx = dx.reshape(ctx.shape)
        return dx, dw, db, None, None


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization over axis 1 of an (N, C) or (N, C, L) input
    (``torch.nn.functional.batch_norm``).

    y = γ (x - μ) / √(σ² + ε) + β. With ``training=True`` μ and σ² (biased) are the
    batch statistics of each channel, and the running estimates, when given, are
    updated in place: r ← (1 - momentum)·r + momentum·s, with the *unbiased* batch
    variance for ``running_var``. With ``training=False`` the running estimates are used.

    Args:
        input: (N, C) or (N, C, L).
        running_mean, running_var: (C,) buffers, or None (only with ``training=True``).
        weight, bias: γ and β of shape (C,), or None.
        training: use batch statistics (default: False).
        momentum: weight of the new batch in the running estimates (default: 0.1).
        eps: added to σ² for numerical stability (default: 1e-5).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> batch_norm(x, None, None, training=True, eps=0.0)
        tensor([[-1., -1.],
                [ 1.,  1.]])
    """
    if input.ndim not in (2, 3):
        raise ValueError(f"batch_norm: expected 2-D or 3-D input, got shape {input.shape}")
    channels = input.shape[1]
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are needed when not training")
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):  # fmt: skip
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(
                f"batch_norm: {name} must have shape ({channels},) for an input with "
                f"{channels} channels, got {tuple(t.shape)}"
            )
    if training and input.numel() // max(channels, 1) <= 1:
        raise ValueError(
            f"Expected more than 1 value per channel when training, got input size {input.shape}"
        )
    rm = None if running_mean is None else running_mean.data
    rv = None if running_var is None else running_var.data
    return BatchNorm.apply(input, weight, bias, rm, rv, bool(training), momentum, eps)


def _normalized_size(input: Tensor, normalized_shape: Sequence[int], op: str) -> int:
    k = len(normalized_shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k :]) != normalized_shape:
        raise ValueError(
            f"{op}: input of shape {input.shape} does not end with normalized_shape "
            f"{normalized_shape}"
        )
    return math.prod(normalized_shape)


def layer_norm(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Layer normalization over the trailing ``normalized_shape`` axes of each sample
    (``torch.nn.functional.layer_norm``).

    y = γ (x - μ) / √(σ² + ε) + β, with μ and the biased σ² of each sample's last
    ``len(normalized_shape)`` axes; γ and β have shape ``normalized_shape``.

    Args:
        input: (*, *normalized_shape).
        normalized_shape: the trailing shape to normalise over (an int means one axis).
        weight, bias: γ and β of shape ``normalized_shape``, or None.
        eps: added to σ² for numerical stability (default: 1e-5).

    Example:
        >>> import nnlab
        >>> layer_norm(nnlab.tensor([[1.0, 3.0], [5.0, 9.0]]), 2, eps=0.0)
        tensor([[-1.,  1.],
                [-1.,  1.]])
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    size = _normalized_size(input, shape, "layer_norm")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} must have shape {shape}, got {tuple(t.shape)}")
    out = LayerNorm.apply(input, weight, bias, size, eps)
    if out.requires_grad:
        out.grad_fn.wshape = shape
    return out


def batch_norm_composed(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """:func:`batch_norm` from primitive ops (mean, var, sqrt, arithmetic): the twin.

    Example:
        >>> import nnlab
        >>> x = nnlab.randn(4, 3)
        >>> a = batch_norm(x, None, None, training=True)
        >>> b = batch_norm_composed(x, None, None, training=True)
        >>> bool(((a - b).abs() < 1e-5).all())
        True
    """
    axes = (0,) if input.ndim == 2 else (0, 2)
    shape = (1, -1) + (1,) * (input.ndim - 2)
    if training:
        mean = input.mean(dim=axes, keepdim=True)
        var = input.var(dim=axes, keepdim=True, correction=0)
        if running_mean is not None:
            count = input.numel() // input.shape[1]
            running_mean.data *= 1 - momentum
            running_mean.data += momentum * mean.data.reshape(-1)
            running_var.data *= 1 - momentum
            running_var.data += momentum * count / max(count - 1, 1) * var.data.reshape(-1)
    else:
        mean = running_mean.detach().reshape(shape)
        var = running_var.detach().reshape(shape)
    y = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm_composed(
    input: Tensor,
    normalized_shape: int | Sequence[int],
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """:func:`layer_norm` from primitive ops: the twin.

    Example:
        >>> import nnlab
        >>> x = nnlab.randn(2, 5)
        >>> bool(((layer_norm(x, 5) - layer_norm_composed(x, 5)).abs() < 1e-5).all())
        True
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    _normalized_size(input, shape, "layer_norm")
    axes = tuple(range(input.ndim - len(shape), input.ndim))
    mean = input.mean(dim=axes, keepdim=True)
    var = input.var(dim=axes, keepdim=True, correction=0)
    y = (input - mean) / (var + eps).sqrt()
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
