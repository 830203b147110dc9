"""Normalization layers: BatchNorm1d/2d/3d, LayerNorm, GroupNorm, InstanceNorm1d/2d/3d and
LocalResponseNorm.

All standardise activations, x̂ = (x - μ) / √(σ² + ε), then rescale them with a learned
γ (``weight``) and β (``bias``): y = γ x̂ + β. They differ in what μ and σ² average over:

- **BatchNorm** (Ioffe & Szegedy, 2015): each channel over the batch (and the spatial
  positions of a feature map). Training uses the batch's statistics and updates running
  estimates; evaluation uses those estimates, so a prediction does not depend on the rest
  of its batch.
- **LayerNorm** (Ba et al., 2016): each sample over its own features. Training and
  evaluation compute the same thing; the batch size does not matter.
- **GroupNorm** (Wu & He, 2018): each sample over groups of channels and their spatial
  positions; it works with batches of any size (detection, segmentation, small GPUs).
- **InstanceNorm** (Ulyanov et al., 2016): each sample and channel over its spatial
  positions; by default without γ, β or running estimates (style transfer).

The fused ops with their backward are in :mod:`nnlab.ops.normalization`.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Sequence

import numpy as np

from nnlab import dtypes
from nnlab.nn import functional as F
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = [
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "LocalResponseNorm",
]  # fmt: skip


def _dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)


def _add_affine(module: Module, shape: Any, affine: bool, bias: bool, dtype: np.dtype) -> None:
    """Register γ (``weight``) and β (``bias``) of ``shape``, or None placeholders so the
    attributes exist (values are set by ``reset_parameters``)."""
    if affine:
        module.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            module.bias = Parameter(np.empty(shape, dtype=dtype))
            return
    else:
        module.register_parameter("weight", None)
    module.register_parameter("bias", None)


class _NormBase(Module):
    """Parameters and buffers shared by batch and instance norm, with torch's names: γ
    (``weight``), β (``bias``), ``running_mean``, ``running_var``, ``num_batches_tracked``.

    Default initialisation: γ = 1, β = 0, running_mean = 0, running_var = 1.
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        d = _dtype(dtype)
        _add_affine(self, num_features, affine, bias, d)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=d)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=d)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


class _BatchNorm(_NormBase):
    """Batch norm over (N, C, *S); subclasses check the input's rank in ``_check_input``."""

    def _check_input(self, input: Tensor) -> None:
        raise NotImplementedError

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        # Batch statistics in training, and in evaluation when no running ones are kept.
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if keep else None,
            self.running_var if keep else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalization over a 2-D (N, C) or 3-D (N, C, L) input.

    y = γ (x - μ) / √(σ² + ε) + β, μ and σ² per channel (dim 1) over N (and L).

    In training, μ and the biased σ² are the batch's statistics and the running estimates
    are updated as r ← (1 - momentum)·r + momentum·s, with the *unbiased* batch variance
    for ``running_var`` (exactly as PyTorch). With ``momentum=None`` they are instead the
    cumulative average over all batches seen, r ← r + (s - r)/t at batch t
    (``num_batches_tracked``). In evaluation the running estimates are used.

    Default initialisation: γ = 1, β = 0, running_mean = 0, running_var = 1.

    Args:
        num_features: C, the number of channels.
        eps: added to σ² for numerical stability (default: 1e-5).
        momentum: weight of the newest batch in the running estimates, or None for a
            cumulative average (default: 0.1).
        affine: learn γ and β (default: True).
        track_running_stats: keep running estimates (default: True); without them the
            batch statistics are used in evaluation too.
        dtype: parameter and buffer dtype (default: the default dtype).
        bias: learn β when ``affine`` (keyword-only, default: True).

    Shape:
        - Input: (N, C) or (N, C, L).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> bn = nn.BatchNorm1d(3)
        >>> y = bn(nnlab.randn(16, 3) * 5 + 2)
        >>> bool((y.mean(0).abs() < 1e-5).all())
        True
        >>> list(bn.state_dict())
        ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    def _check_input(self, input: Tensor) -> None:
        c = self.num_features
        if input.ndim not in (2, 3):
            hint = "BatchNorm1d takes (N, C) or (N, C, L)."
            if input.ndim == 4:
                hint += " A 4-D (N, C, H, W) batch needs BatchNorm2d, or Flatten first."
            elif input.ndim == 1:
                hint += " Add a batch dim: x.unsqueeze(0) (training needs N > 1)."
            raise self.shape_error(f"(N, {c}) or (N, {c}, L)", input.shape, hint)
        if input.shape[1] != c:
            hint = f"dim 1 holds the channels and must be num_features={c}."
            if input.ndim == 3 and input.shape[2] == c:
                hint += " For (N, L, C) sequences transpose to (N, C, L), or use LayerNorm."
            raise self.shape_error(f"(N, {c}) or (N, {c}, L)", input.shape, hint)


class BatchNorm2d(_BatchNorm):
    """Batch normalization over a 4-D (N, C, H, W) input: each channel's feature maps.

    y = γ (x - μ) / √(σ² + ε) + β, with μ and σ² per channel over the N·H·W values of the
    batch, so every position of a feature map is normalised the same way (the convolutional
    form of :class:`BatchNorm1d`, which describes the running estimates and ``momentum``).

    Args:
        num_features: C, the number of channels.
        eps: added to σ² for numerical stability (default: 1e-5).
        momentum: weight of the newest batch in the running estimates, or None for a
            cumulative average (default: 0.1).
        affine: learn γ and β (default: True).
        track_running_stats: keep running estimates (default: True).
        dtype: parameter and buffer dtype (default: the default dtype).
        bias: learn β when ``affine`` (keyword-only, default: True).

    Shape:
        - Input: (N, C, H, W).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> bn = nn.BatchNorm2d(3)
        >>> y = bn(nnlab.randn(8, 3, 5, 5) * 4 + 1)
        >>> bool((y.mean(dim=(0, 2, 3)).abs() < 1e-5).all())
        True
        >>> bn
        BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    def _check_input(self, input: Tensor) -> None:
        _check_channels(self, input, 4, "(N, {c}, H, W)", "BatchNorm1d", "BatchNorm3d")


class BatchNorm3d(_BatchNorm):
    """Batch normalization over a 5-D (N, C, D, H, W) input (volumes, video clips).

    y = γ (x - μ) / √(σ² + ε) + β, with μ and σ² per channel over the N·D·H·W values of the
    batch; see :class:`BatchNorm1d` for the running estimates and ``momentum``.

    Args:
        num_features: C, the number of channels.
        eps: added to σ² for numerical stability (default: 1e-5).
        momentum: weight of the newest batch in the running estimates, or None for a
            cumulative average (default: 0.1).
        affine: learn γ and β (default: True).
        track_running_stats: keep running estimates (default: True).
        dtype: parameter and buffer dtype (default: the default dtype).
        bias: learn β when ``affine`` (keyword-only, default: True).

    Shape:
        - Input: (N, C, D, H, W).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.BatchNorm3d(4)(nnlab.randn(2, 4, 3, 3, 3)).shape
        nnlab.Size([2, 4, 3, 3, 3])
    """

    def _check_input(self, input: Tensor) -> None:
        _check_channels(self, input, 5, "(N, {c}, D, H, W)", "BatchNorm2d", "BatchNorm3d")


def _check_channels(
    layer: Module, input: Tensor, ndim: int, expected: str, smaller: str, larger: str
) -> None:
    """Rank and channel checks of BatchNorm2d/3d; the hint names the layer that fits."""
    c = layer.num_features
    expected = expected.format(c=c)
    if input.ndim != ndim:
        hint = f"{type(layer).__name__} takes {ndim}-D input."
        if input.ndim == ndim - 1:
            hint += f" A single sample needs a batch dim (x.unsqueeze(0)); a batch, {smaller}."
        elif input.ndim in (2, 3):
            hint += " (N, C) and (N, C, L) batches need BatchNorm1d."
        elif input.ndim == ndim + 1:
            hint += f" A {input.ndim}-D batch needs {larger}."
        raise layer.shape_error(expected, input.shape, hint)
    if input.shape[1] != c:
        hint = f"dim 1 holds the channels and must be num_features={c}."
        if input.shape[-1] == c:
            hint += " Channels-last data must be permuted to channels-first (N, C, ...)."
        raise layer.shape_error(expected, input.shape, hint)


class LayerNorm(Module):
    """Layer normalization over the last dims of each sample.

    y = γ (x - μ) / √(σ² + ε) + β, with μ and the biased σ² of each sample's trailing
    ``normalized_shape`` dims; γ and β have shape ``normalized_shape``.

    Default initialisation: γ = 1, β = 0.

    Args:
        normalized_shape: the trailing shape to normalise over (an int: the last dim).
        eps: added to σ² for numerical stability (default: 1e-5).
        elementwise_affine: learn γ (and β) (default: True).
        bias: learn β when ``elementwise_affine`` (default: True).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - Input: (*, *normalized_shape).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> ln = nn.LayerNorm(4)
        >>> y = ln(nnlab.randn(2, 3, 4) * 7)
        >>> bool((y.mean(-1).abs() < 1e-5).all())
        True
        >>> ln
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(
        self,
        normalized_shape: int | Sequence[int],
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(n) for n in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        d = _dtype(dtype)
        _add_affine(self, self.normalized_shape, elementwise_affine, bias, d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.elementwise_affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        k = len(self.normalized_shape)
        if input.ndim < k or tuple(input.shape[input.ndim - k :]) != self.normalized_shape:
            expected = "(*, " + ", ".join(str(n) for n in self.normalized_shape) + ")"
            size = math.prod(self.normalized_shape)
            hint = f"the last {k} dim(s) must equal normalized_shape={self.normalized_shape}."
            if input.ndim >= 2 and input.shape[1] == size and k == 1:
                hint += " Features sit in dim 1 here: LayerNorm normalises the LAST dim."
            raise self.shape_error(expected, input.shape, hint)
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """Group normalization over (N, C, *S): per sample, over groups of channels.

    The C channels are split into ``num_groups`` groups of C/G consecutive channels;
    y = γ_c (x - μ) / √(σ² + ε) + β_c with μ and the biased σ² of each sample's group over
    its channels and spatial positions, γ and β per channel. Nothing depends on the batch,
    so training and evaluation compute the same thing even for batches of one. G = 1 is a
    LayerNorm over (C, *S) with per-channel γ, β; G = C is an InstanceNorm.

    Default initialisation: γ = 1, β = 0.

    Args:
        num_groups: G, which must divide ``num_channels``.
        num_channels: C.
        eps: added to σ² for numerical stability (default: 1e-5).
        affine: learn γ and β (default: True).
        dtype: parameter dtype (default: the default dtype).
        bias: learn β when ``affine`` (keyword-only, default: True).

    Shape:
        - Input: (N, C, *S).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> gn = nn.GroupNorm(2, 6)
        >>> y = gn(nnlab.randn(4, 6, 5, 5) * 3 + 1)
        >>> bool((y.reshape(4, 2, -1).mean(-1).abs() < 1e-5).all())
        True
        >>> gn
        GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    """

    def __init__(
        self,
        num_groups: int,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(
                f"num_channels ({num_channels}) must be divisible by num_groups ({num_groups})"
            )
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        d = _dtype(dtype)
        _add_affine(self, num_channels, affine, bias, d)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        c = self.num_channels
        if input.ndim < 2 or input.shape[1] != c:
            hint = f"dim 1 holds the channels and must be num_channels={c}."
            if input.ndim == 1:
                hint = "GroupNorm needs a batch dim: x.unsqueeze(0)."
            elif input.shape[-1] == c:
                hint += " Channels-last data must be permuted to channels-first (N, C, ...)."
            raise self.shape_error(f"(N, {c}, *)", input.shape, hint)
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
            f"bias={self.bias is not None}"
        )


class _InstanceNorm(_NormBase):
    """Instance norm over (N, C, *S) or unbatched (C, *S); ``dims`` spatial dims."""

    dims = 1

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = False,
        track_running_stats: bool = False,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias=bias)  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:
        n, c = self.dims, self.num_features
        spatial = {1: "L", 2: "H, W", 3: "D, H, W"}[n]
        expected = f"(N, {c}, {spatial}) or ({c}, {spatial})"
        if input.ndim not in (n + 1, n + 2):
            hint = f"{type(self).__name__} normalises {n} spatial dim(s)."
            if 1 <= input.ndim - 2 <= 3:
                hint += f" A {input.ndim}-D batch needs InstanceNorm{input.ndim - 2}d."
            raise self.shape_error(expected, input.shape, hint)
        channels = input.shape[input.ndim - n - 1]
        if channels != c:
            if self.affine or self.track_running_stats:
                raise self.shape_error(
                    expected, input.shape,
                    f"the channel dim must be num_features={c}, got {channels}.",
                )  # fmt: skip
            warnings.warn(
                f"{self.path()} ({type(self).__name__}): input's size at dim="
                f"{input.ndim - n - 1} ({channels}) does not match num_features ({c}); it is "
                "not used because affine=False and track_running_stats=False",
                stacklevel=2,
            )
        batched = input.ndim == n + 2
        x = input if batched else input.unsqueeze(0)
        y = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,  # torch: None freezes them
            self.eps,
        )
        return y if batched else y.squeeze(0)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalization of sequences: each sample's channels are standardised
    separately over their length, as :class:`InstanceNorm2d` over (H, W).

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> y = nn.InstanceNorm1d(3)(nnlab.randn(2, 3, 10) * 4 + 2)
        >>> bool((y.mean(-1).abs() < 1e-5).all())
        True
    """

    dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance normalization of images: each sample's feature maps are standardised
    separately over their spatial positions.

    y = γ_c (x - μ) / √(σ² + ε) + β_c with μ and the biased σ² of x[n, c] over H·W.
    Unlike BatchNorm, the defaults learn no γ, β (``affine=False``) and keep no running
    estimates (``track_running_stats=False``), so evaluation normalises like training.
    With ``track_running_stats=True`` the running estimates are updated in training with
    the batch average of the per-instance statistics (``num_batches_tracked`` stays 0 and
    ``momentum=None`` freezes them, as torch) and used in evaluation.

    Args:
        num_features: C, the number of channels.
        eps: added to σ² for numerical stability (default: 1e-5).
        momentum: weight of the new statistics in the running estimates (default: 0.1).
        affine: learn γ and β (default: False).
        track_running_stats: keep running estimates (default: False).
        dtype: parameter and buffer dtype (default: the default dtype).
        bias: learn β when ``affine`` (keyword-only, default: True).

    Shape:
        - Input: (N, C, H, W) or (C, H, W).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> norm = nn.InstanceNorm2d(3, affine=True)
        >>> norm(nnlab.randn(2, 3, 4, 4)).shape
        nnlab.Size([2, 3, 4, 4])
        >>> list(norm.state_dict())
        ['weight', 'bias']
    """

    dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance normalization of volumes (N, C, D, H, W), as :class:`InstanceNorm2d` over
    (D, H, W).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.InstanceNorm3d(2)(nnlab.randn(2, 2, 3, 3, 3)).shape
        nnlab.Size([2, 2, 3, 3, 3])
    """

    dims = 3


class LocalResponseNorm(Module):
    """Local response normalization across channels (AlexNet; Krizhevsky et al., 2012).

    y_c = x_c / (k + α/n · Σ_{c'} x_{c'}²)^β over the n = ``size`` neighbouring channels
    c - ⌊n/2⌋ ≤ c' ≤ c + ⌊(n-1)/2⌋ (missing channels count as zero): strong activations
    damp their neighbours, a form of lateral inhibition.

    Args:
        size: n, the number of neighbouring channels.
        alpha: α (default: 1e-4).
        beta: β (default: 0.75).
        k: k (default: 1.0).

    Shape:
        - Input: (N, C, *S) with at least one spatial dim.
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> lrn = nn.LocalResponseNorm(2)
        >>> lrn(nnlab.ones(2, 4, 3, 3)).shape
        nnlab.Size([2, 4, 3, 3])
        >>> lrn
        LocalResponseNorm(2, alpha=0.0001, beta=0.75, k=1.0)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        self.size = size
        self.alpha = alpha
        self.beta = beta
        self.k = k

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 3:
            raise self.shape_error(
                "(N, C, *spatial) with at least one spatial dim", input.shape,
                "LocalResponseNorm mixes neighbouring channels of feature maps.",
            )  # fmt: skip
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"
