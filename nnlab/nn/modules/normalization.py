"""Normalization layers: BatchNorm1d and LayerNorm.

Both standardise activations, x̂ = (x - μ) / √(σ² + ε), then rescale them with a learned
γ (``weight``) and β (``bias``): y = γ x̂ + β. They differ in what μ and σ² average over:

- **BatchNorm1d** (Ioffe & Szegedy, 2015): each channel over the batch. Training uses the
  batch's statistics and updates running estimates; evaluation uses those estimates, so
  a prediction does not depend on the rest of its batch.
- **LayerNorm** (Ba et al., 2016): each sample over its own features. Training and
  evaluation compute the same thing; the batch size does not matter.

The fused ops with their backward are in :mod:`nnlab.ops.normalization`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from nnlab import dtypes
from nnlab.nn import functional as F
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = ["BatchNorm1d", "LayerNorm"]


def _dtype(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)


class BatchNorm1d(Module):
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
        if affine:
            self.weight = Parameter(np.empty(num_features, dtype=d))
            if bias:
                self.bias = Parameter(np.empty(num_features, dtype=d))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
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
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

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

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data[...] += 1
            if self.momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
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

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
            f"affine={self.affine}, bias={self.bias is not None}, "
            f"track_running_stats={self.track_running_stats}"
        )


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
        # 8 parameters
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
        if elementwise_affine:
            self.weight = Parameter(np.empty(self.normalized_shape, dtype=d))
            if bias:
                self.bias = Parameter(np.empty(self.normalized_shape, dtype=d))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
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
