"""Batch, layer and group normalization, fused: one op each with a hand-written backward;
instance and local response normalization composed from them.

All standardise x with a mean μ and a biased variance σ² taken over some axes, then
apply a learned per-feature scale γ and shift β:

    x̂ = (x - μ) / √(σ² + ε),    y = γ x̂ + β

Batch norm takes μ, σ² per channel over the batch and spatial axes of (N, C, *S); layer
norm per sample over the trailing ``normalized_shape`` axes; group norm per sample over
each group of channels (a layer norm of (N, G, C/G·S)); instance norm per sample and
channel over the spatial axes (a batch norm of (1, N·C, *S), as torch computes it).
With G = dL/dy, M the number of values each statistic averages over and ⟨·⟩ the mean
over those values:

    dL/dβ = Σ G,    dL/dγ = Σ G x̂    (sums over everything but the feature axes)
    dL/dx = γ/√(σ² + ε) · (G - ⟨G⟩ - x̂ ⟨G x̂⟩)     when μ, σ² come from x itself
    dL/dx = γ/√(σ² + ε) · G                       when they are fixed (evaluation)

The middle line is the chain rule through μ and σ², which depend on every x in their
group; it is why normalised layers need their own backward rather than a per-element
derivative. The fused forwards and backwards run on arrays (so they have no gradients of
their own: ``double_backward = False``): on numba kernels, or with ``NNLAB_KERNELS=numpy``
on their NumPy references, both in :mod:`nnlab.kernels.normalization` (the kernels sum in
another order than NumPy: their results differ in the last bits). ``batch_norm_composed``,
``layer_norm_composed`` and ``group_norm_composed`` are the same maps from primitive ops,
for tests and for higher-order gradients.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels import normalization as norm_kernels
from nnlab.ops.pooling import avg_pool2d, avg_pool3d
from nnlab.ops.shape import pad
from nnlab.tensor import Tensor

__all__ = [
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "local_response_norm",
    "batch_norm_composed", "layer_norm_composed", "group_norm_composed",
]  # fmt: skip


class BatchNorm(Function):
    """y = γ (x - μ) / √(σ² + ε) + β per channel (axis 1) of an (N, C, *S) x (S may be empty).

    Training: μ, σ² are the batch statistics over the M = N·|S| values of each channel and
    dx = γ/√(σ² + ε) · (G - ⟨G⟩ - x̂ ⟨G x̂⟩), where ⟨G⟩ = dβ/M and ⟨G x̂⟩ = dγ/M.
    Evaluation: μ, σ² are the running estimates and dx = γ/√(σ² + ε) · G.
    dγ = Σ G x̂ and dβ = Σ G over N and S in both cases. The arithmetic is
    :func:`nnlab.kernels.normalization.batch_norm_forward` and ``batch_norm_backward``
    (a numba kernel or its NumPy reference).
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps):
        stats = (None, None) if training else (running_mean, running_var)
        y, xhat, invstd, mean, var = norm_kernels.batch_norm_forward(x, weight, bias, *stats, eps)
        if training and running_mean is not None:
            # PyTorch's update: the running variance uses the unbiased estimate.
            count = x.size // x.shape[1]
            running_mean *= 1 - momentum
            running_mean += momentum * mean
            running_var *= 1 - momentum
            running_var += (momentum * count / max(count - 1, 1)) * var
        ctx.xhat, ctx.invstd, ctx.training, ctx.weight = xhat, invstd, training, weight
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = norm_kernels.batch_norm_backward(
            g, ctx.xhat, ctx.invstd, ctx.weight, ctx.training, need_x, need_w, need_b
        )
        return dx, dw, db, None, None, None, None, None


class LayerNorm(Function):
    """y = γ (x - μ) / √(σ² + ε) + β with μ, σ² over the last k axes of each sample.

    With rows R = x.reshape(-1, D) and D the normalised size:
    dx = (1/√(σ² + ε)) · (γG - ⟨γG⟩ - x̂ ⟨γG x̂⟩) per row;  dγ = Σ_rows G x̂;  dβ = Σ_rows G.
    The arithmetic is :func:`nnlab.kernels.normalization.layer_norm_forward` and
    ``layer_norm_backward`` (a numba kernel or its NumPy reference).
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, size, eps):
        rows = x.reshape(-1, size)
        w = None if weight is None else weight.reshape(-1)
        b = None if bias is None else bias.reshape(-1)
        # Without a graph, y takes x̂'s memory; with one, x̂ is kept for the backward.
        y, xhat, invstd = norm_kernels.layer_norm_forward(
            rows, w, b, eps, keep_xhat=any(ctx.needs_input_grad)
        )
        ctx.xhat, ctx.invstd, ctx.size, ctx.shape = xhat, invstd, size, x.shape
        ctx.weight = w
        affine = weight if weight is not None else bias
        ctx.affine_shape = None if affine is None else affine.shape
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = norm_kernels.layer_norm_backward(
            g.reshape(-1, ctx.size), ctx.xhat, ctx.invstd, ctx.weight, need_x, need_w, need_b
        )
        if dx is not None:
            dx = dx.reshape(ctx.shape)
        if dw is not None:
            dw = dw.reshape(ctx.affine_shape)
        if db is not None:
            db = db.reshape(ctx.affine_shape)
        return dx, dw, db, None, None


class GroupNorm(Function):
    """y = γ_c (x - μ) / √(σ² + ε) + β_c with μ, σ² per sample over each group of C/G channels.

    With rows R = x.reshape(N·G, D), D = (C/G)·|S|, and Ĝ = γ_c G the gradient reaching x̂:
    dx = (1/√(σ² + ε)) · (Ĝ - ⟨Ĝ⟩ - x̂ ⟨Ĝ x̂⟩) per row;  dγ_c = Σ_{n,s} G x̂;  dβ_c = Σ_{n,s} G.
    The arithmetic is :func:`nnlab.kernels.normalization.group_norm_forward` and
    ``group_norm_backward`` (a numba kernel or its NumPy reference).
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, groups, eps):
        n, c = x.shape[:2]
        y, xhat, invstd = norm_kernels.group_norm_forward(
            x.reshape(n, c, -1), weight, bias, groups, eps
        )
        ctx.xhat, ctx.invstd, ctx.groups, ctx.weight, ctx.shape = (
            xhat, invstd, groups, weight, x.shape,
        )  # fmt: skip
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = norm_kernels.group_norm_backward(
            g.reshape(ctx.xhat.shape), ctx.xhat, ctx.invstd, ctx.weight, ctx.groups,
            need_x, need_w, need_b,
        )  # fmt: skip
        return (None if dx is None else dx.reshape(ctx.shape)), dw, db, None, None


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
    """Batch normalization over axis 1 of an (N, C) or (N, C, *S) input, e.g. (N, C, L)
    or (N, C, H, W) (``torch.nn.functional.batch_norm``).

    y = γ (x - μ) / √(σ² + ε) + β. With ``training=True`` μ and σ² (biased) are the
    batch statistics of each channel, and the running estimates, when given, are
    updated in place: r ← (1 - momentum)·r + momentum·s, with the *unbiased* batch
    variance for ``running_var``. With ``training=False`` the running estimates are used.

    Args:
        input: (N, C) or (N, C, *S).
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
    if input.ndim < 2:
        raise ValueError(
            f"batch_norm: expected an (N, C, *S) input with at least 2 dims, got shape "
            f"{input.shape}"
        )
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
    rm = None if running_mean is None else running_mean.array
    rv = None if running_var is None else running_var.array
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


def _per_channel(y: Tensor, weight: Tensor | None, bias: Tensor | None) -> Tensor:
    """γ and β of shape (C,) applied along axis 1 of an (N, C, *S) tensor."""
    shape = (1, -1) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Group normalization (Wu & He, 2018; ``torch.nn.functional.group_norm``).

    The C channels are split into ``num_groups`` groups of C/G consecutive channels; μ and
    the biased σ² are taken per sample over each group's channels and spatial positions,
    y = γ_c (x - μ) / √(σ² + ε) + β_c with γ, β per channel. It does not depend on the
    batch size: G = 1 is a layer norm over (C, *S), G = C an instance norm.

    One fused op; :func:`group_norm_composed` is the same map from :func:`layer_norm` of the
    (N, G, C/G·|S|) view followed by the per-channel affine.

    Args:
        input: (N, C, *S).
        num_groups: G, which must divide C.
        weight, bias: γ and β of shape (C,), or None.
        eps: added to σ² for numerical stability (default: 1e-5).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[1.0, 3.0], [10.0, 30.0]]])
        >>> group_norm(x, 2, eps=0.0)
        tensor([[[-1.,  1.],
                 [-1.,  1.]]])
    """
    _check_groups(input, num_groups, weight, bias)
    return GroupNorm.apply(input, weight, bias, num_groups, eps)


def _check_groups(
    input: Tensor, num_groups: int, weight: Tensor | None, bias: Tensor | None
) -> None:
    if input.ndim < 2:
        raise RuntimeError(f"group_norm: expected an (N, C, *S) input, got shape {input.shape}")
    c = input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(
            "group_norm: Expected number of channels in input to be divisible by num_groups, "
            f"but got input of shape {list(input.shape)} and num_groups={num_groups}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(
                f"group_norm: Expected {name} to be a vector of size equal to the number of "
                f"channels in input ({c},), but got {name} of shape {tuple(t.shape)}"
            )


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Instance normalization (Ulyanov et al., 2016; ``torch.nn.functional.instance_norm``).

    μ and the biased σ² are taken per sample and channel over the spatial positions,
    y = γ_c (x - μ) / √(σ² + ε) + β_c: each feature map is standardised on its own (style
    transfer removes per-image contrast this way).

    Computed as torch does: a training-mode :func:`batch_norm` of the (1, N·C, *S) view.
    Running estimates, when given, are updated with the average over the batch of the
    per-instance updates (the *unbiased* variance, as batch norm). With
    ``use_input_stats=False`` the running estimates normalise each channel instead.

    Args:
        input: (N, C, *S) with more than one spatial element.
        running_mean, running_var: (C,) buffers, or None.
        weight, bias: γ and β of shape (C,), or None.
        use_input_stats: use each instance's statistics (default: True).
        momentum: weight of the new statistics in the running estimates (default: 0.1).
        eps: added to σ² for numerical stability (default: 1e-5).

    Example:
        >>> import nnlab
        >>> instance_norm(nnlab.tensor([[[1.0, 3.0], [10.0, 30.0]]]), eps=0.0)
        tensor([[[-1.,  1.],
                 [-1.,  1.]]])
    """
    if not use_input_stats:
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    if input.ndim < 2 or math.prod(input.shape[2:]) <= 1:
        raise ValueError(
            "instance_norm: Expected more than 1 spatial element when training, got input "
            f"size {tuple(input.shape)}"
        )
    n, c = input.shape[:2]
    stats = [None, None]
    for k, t in enumerate((running_mean, running_var)):
        if t is not None:
            if tuple(t.shape) != (c,):
                raise ValueError(
                    f"instance_norm: running statistics must have shape ({c},), got "
                    f"{tuple(t.shape)}"
                )
            stats[k] = Tensor(np.tile(t.array, n))
    instances = input.reshape((1, n * c) + tuple(input.shape[2:]))
    y = batch_norm(instances, stats[0], stats[1], None, None, True, momentum, eps)
    for t, repeated in zip((running_mean, running_var), stats):
        if t is not None:
            t.array[...] = repeated.array.reshape(n, c).mean(axis=0)
    return _per_channel(y.reshape(input.shape), weight, bias)


def local_response_norm(
    input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> Tensor:
    """Local response normalization across channels (Krizhevsky et al., 2012;
    ``torch.nn.functional.local_response_norm``).

    y_c = x_c / (k + α/n · Σ_{c'} x_{c'}²)^β, the sum over the n = ``size`` channels
    c - ⌊n/2⌋ ≤ c' ≤ c + ⌊(n-1)/2⌋ (zero outside): a unit is damped by its neighbours.
    Composed from a zero-padded average pooling over the channel axis, as torch.

    Args:
        input: (N, C, *S) with at least one spatial dim.
        size: n, the number of neighbouring channels.
        alpha, beta, k: α (default: 1e-4), β (default: 0.75) and k (default: 1.0).

    Example:
        >>> import nnlab
        >>> local_response_norm(nnlab.ones(1, 3, 1), size=2, alpha=1.0, beta=1.0, k=0.0)
        tensor([[[2.],
                 [1.],
                 [1.]]])
    """
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: Expected 3D or higher dimensionality input (got "
            f"{input.ndim} dimensions, shape {tuple(input.shape)})"
        )
    if input.numel() == 0:
        return input
    div = input * input
    if input.ndim == 3:
        div = pad(div.unsqueeze(1), (0, 0, size // 2, (size - 1) // 2))
        div = avg_pool2d(div, (size, 1), stride=1).squeeze(1)
    else:
        n, c = input.shape[:2]
        div = div.reshape(n, 1, c, input.shape[2], -1)
        div = pad(div, (0, 0, 0, 0, size // 2, (size - 1) // 2))
        div = avg_pool3d(div, (size, 1, 1), stride=1).squeeze(1).reshape(input.shape)
    return input / (div * alpha + k) ** beta


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
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, -1) + (1,) * (input.ndim - 2)
    if training:
        mean = input.mean(dim=axes, keepdim=True)
        var = input.var(dim=axes, keepdim=True, correction=0)
        if running_mean is not None:
            count = input.numel() // input.shape[1]
            running_mean.array *= 1 - momentum
            running_mean.array += momentum * mean.array.reshape(-1)
            running_var.array *= 1 - momentum
            running_var.array += momentum * count / max(count - 1, 1) * var.array.reshape(-1)
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


def group_norm_composed(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """:func:`group_norm` as :func:`layer_norm` of the (N, G, C/G·|S|) view followed by the
    per-channel γ, β: the twin.

    Example:
        >>> import nnlab
        >>> x = nnlab.randn(2, 4, 3)
        >>> bool(((group_norm(x, 2) - group_norm_composed(x, 2)).abs() < 1e-5).all())
        True
    """
    _check_groups(input, num_groups, weight, bias)
    n = input.shape[0]
    size = input.numel() // max(n * num_groups, 1)
    groups = input.reshape(n, num_groups, size)
    y = layer_norm(groups, size, None, None, eps).reshape(input.shape)
    return _per_channel(y, weight, bias)
