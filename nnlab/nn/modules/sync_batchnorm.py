"""``SyncBatchNorm``: batch normalization whose statistics span every rank's shard.

Under :class:`~nnlab.nn.parallel.DistributedDataParallel` a plain BatchNorm normalises
each rank's B/K samples by their own mean and variance, so K ranks do not compute what
one process with the whole batch B would. SyncBatchNorm sums, per channel, the ranks'

    s_r = Σ x,   q_r = Σ x²,   n_r = the number of values

by one allreduce, and normalises everyone with the global statistics

    μ = Σ_r s_r / Σ_r n_r,   σ² = Σ_r q_r / Σ_r n_r − μ²   (biased, as BatchNorm's).

Backward: the allreduce y = Σ_r x_r is differentiable; each rank's input reaches every
rank's loss, so its gradient is the sum of all ranks' incoming gradients, ∂/∂x_r = Σ_r' g_r'
(one more allreduce). The rest of the formula is composed of nnlab ops, so autograd
derives it, and with DDP's averaging the weights follow the one-process BatchNorm run.
Outside training, or outside a process group of K > 1, it is a plain BatchNorm.
"""

from __future__ import annotations

import numpy as np

from nnlab import distributed as dist
from nnlab.autograd.function import Function
from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.module import Module
from nnlab.nn.modules.normalization import _BatchNorm
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = ["SyncBatchNorm"]


class _AllReduceSum(Function):
    """y = Σ_r x_r on every rank;  ∂L/∂x_r = Σ_r' ∂L_r'/∂y_r' (the gradients all-reduced)."""

    double_backward = False

    @staticmethod
    def forward(ctx, x):
        total = Tensor(np.array(x, copy=True))
        dist.all_reduce(total)
        return total.array

    @staticmethod
    def backward(ctx, g):
        total = Tensor(np.array(g, copy=True))
        dist.all_reduce(total)
        return total.array


class SyncBatchNorm(_BatchNorm):
    """Batch normalization over (N, C, *) with statistics synchronised across ranks.

    y = γ (x - μ) / √(σ² + ε) + β, with μ and σ² per channel over every rank's samples in
    training; the running estimates are updated with them (unbiased σ² for
    ``running_var``, as BatchNorm), so they are the same on every rank. Arguments as
    :class:`~nnlab.nn.BatchNorm1d`; ``process_group`` must be None (the whole world).

    Shape:
        - Input: (N, C, *).
        - Output: same as the input.

    Example:
        >>> from nnlab import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8))
        >>> SyncBatchNorm.convert_sync_batchnorm(model)[1]
        SyncBatchNorm(8, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        process_group: object = None,
        dtype: object = None,
        *,
        bias: bool = True,
    ) -> None:
        if process_group is not None:
            raise ValueError("SyncBatchNorm: process_group must be None (nnlab has one group)")
        super().__init__(num_features, eps, momentum, affine, track_running_stats, dtype,
                         bias=bias)  # fmt: skip

    def _check_input(self, input: Tensor) -> None:
        c = self.num_features
        if input.ndim < 2 or input.shape[1] != c:
            raise self.shape_error(
                f"(N, {c}, *)", input.shape, f"dim 1 holds the channels: num_features={c}."
            )

    def forward(self, input: Tensor) -> Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input(input)
        c = self.num_features
        axes = tuple(d for d in range(input.ndim) if d != 1)
        shape = (1, c) + (1,) * (input.ndim - 2)
        count = Tensor(np.full(1, input.array.size // c, dtype=input.array.dtype))
        # Two passes, as BatchNorm: the global mean first, then the centred squares (the
        # one-pass Σx²/n − μ² cancels in float32 when |μ| ≫ σ and can fall below -ε).
        sums = _AllReduceSum.apply(cat([input.sum(axes).reshape(-1), count]))
        n = float(sums.array[c])
        mean = sums[:c] / n
        centred = input - mean.reshape(shape)
        var = _AllReduceSum.apply((centred * centred).sum(axes).reshape(-1)) / n
        out = centred / (var.reshape(shape) + self.eps).sqrt()
        if self.weight is not None:
            out = out * self.weight.reshape(shape)
        if self.bias is not None:
            out = out + self.bias.reshape(shape)
        if self.track_running_stats:
            self._update_running_stats(mean, var, n)
        return out

    def _update_running_stats(self, mean: Tensor, var: Tensor, n: float) -> None:
        """r ← (1 - f)·r + f·s with the global μ and the unbiased global σ²·n/(n-1)."""
        self.num_batches_tracked.array[...] += 1
        if self.momentum is None:  # cumulative moving average
            factor = 1.0 / float(self.num_batches_tracked.array)
        else:
            factor = self.momentum
        with no_grad():
            unbiased = var.array * (n / max(n - 1.0, 1.0))
            self.running_mean.array[...] = (
                1 - factor
            ) * self.running_mean.array + factor * mean.array
            self.running_var.array[...] = (1 - factor) * self.running_var.array + factor * unbiased

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: object = None) -> Module:
        """``module`` with every BatchNorm1d/2d/3d replaced by a SyncBatchNorm holding the
        same parameters and running statistics (the module itself if it is one)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine,
                       module.track_running_stats, process_group)  # fmt: skip
            for name in ("weight", "bias"):
                sync.register_parameter(name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                sync.register_buffer(name, getattr(module, name))
            sync.train(module.training)
            return sync
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                module.add_module(name, converted)  # in place: keeps the order
        return module
