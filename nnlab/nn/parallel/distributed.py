"""``DistributedDataParallel``: one model replica per rank, gradients averaged by allreduce.

Data parallelism keeps a full copy of the model on each of K ranks; each rank runs
forward and backward on its own shard of the batch, then the ranks average their
gradients, ``g = (1/K) Σ_r g_r``, so every rank takes the same optimizer step and the
replicas stay identical (they start identical: rank 0's weights are broadcast at
construction). When every rank's loss is the mean over an equal shard, ``g`` is the
gradient of the mean over the whole global batch.

Bucketing. Gradients are copied into a few flat buffers ("buckets", up to
``bucket_cap_mb`` each, filled in reverse parameter order: the order backward produces
them) and each bucket is reduced by one ``Iallreduce``, as soon as its last gradient has
arrived. One message per bucket instead of one per parameter pays the network latency a
few times per step instead of once per tensor (a ResNet has hundreds).

Overlap. torch launches a bucket's allreduce while backward is still computing earlier
layers. nnlab's engine hands a leaf its gradient only after the whole graph has been
traversed (each leaf's hooks see its total gradient once), so the buckets' reductions
start at the end of backward and overlap only with each other and with the copying of
later buckets, not with the gradient computation itself. The reduction is complete when
``backward()`` returns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from nnlab import distributed as dist
from nnlab.autograd.grad_mode import is_grad_enabled
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["DistributedDataParallel"]


class _Bucket:
    """Parameters whose gradients travel in one flat buffer."""

    def __init__(self, params: list[Tensor]) -> None:
        self.params = params
        sizes = [p.array.size for p in params]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).tolist()
        self.buffer = np.empty(self.offsets[-1], dtype=params[0].array.dtype)
        self.pending = len(params)
        self.work: Any = None


def _make_buckets(params: list[Tensor], cap_bytes: int) -> list[_Bucket]:
    """Consecutive runs of ``params`` of one dtype, each at most ``cap_bytes`` (a larger
    parameter gets a bucket of its own)."""
    buckets, run, size = [], [], 0
    for p in params:
        nbytes = p.array.nbytes
        if run and (size + nbytes > cap_bytes or p.array.dtype != run[0].array.dtype):
            buckets.append(_Bucket(run))
            run, size = [], 0
        run.append(p)
        size += nbytes
    if run:
        buckets.append(_Bucket(run))
    return buckets


class DistributedDataParallel(Module):
    """Data-parallel training of ``module`` over the ranks of the process group.

    Construct it on every rank after :func:`nnlab.distributed.init_process_group`. It
    broadcasts rank 0's parameters and buffers; then each ``backward()`` leaves every
    parameter's ``.grad`` equal to the mean of the K ranks' gradients. With
    ``broadcast_buffers`` a forward with gradients enabled first copies rank 0's buffers
    (BatchNorm's running statistics) to all ranks, as torch does. Batch statistics stay
    local: each rank's BatchNorm normalises by its own shard's mean and variance.

    Every parameter that requires a gradient must receive one in every backward (torch's
    ``find_unused_parameters=False``); a backward that leaves some out raises at the next
    forward, naming them.

    Args:
        module: the model to replicate.
        bucket_cap_mb: the largest bucket, in MiB (2**20 bytes); 0 gives one bucket per
            parameter.
        broadcast_buffers: copy rank 0's buffers to every rank at the start of forward.

    ``state_dict`` keys carry the ``module.`` prefix, as torch's; save
    ``ddp.module.state_dict()`` for a file that loads into the bare model.
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        bucket_cap_mb: float = 25,
        broadcast_buffers: bool = True,
    ) -> None:
        super().__init__()
        if not dist.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: the process group is not initialised; call "
                "nnlab.distributed.init_process_group('mpi') first"
            )
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: module must be an nnlab.nn.Module, got "
                f"{type(module).__name__}"
            )
        if bucket_cap_mb < 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be ≥ 0, got {bucket_cap_mb}"
            )
        self.module = module
        self.device_ids = device_ids
        self.bucket_cap_mb = bucket_cap_mb
        self.broadcast_buffers = broadcast_buffers
        self.world_size = dist.get_world_size()
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._names = {id(p): n for n, p in named}
        for tensor in [p for _, p in module.named_parameters()] + self._buffers_to_sync():
            dist.broadcast(tensor, src=0)
        # Reverse order: backward produces the last layers' gradients first.
        params = [p for _, p in reversed(named)]
        self._buckets = _make_buckets(params, int(bucket_cap_mb * 2**20))
        self._slot = {}
        for b, bucket in enumerate(self._buckets):
            for j, p in enumerate(bucket.params):
                self._slot[id(p)] = (b, j)
        self._ready: set[int] = set()
        self._next_launch = 0
        self._handles = [p.register_hook(self._hook_for(p)) for p in params]

    def _buffers_to_sync(self) -> list[Tensor]:
        return [b for b in self.module.buffers() if b is not None]

    # -- forward ---------------------------------------------------------------------------

    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        self._check_previous_backward()
        if self.broadcast_buffers and is_grad_enabled():
            for buffer in self._buffers_to_sync():
                dist.broadcast(buffer, src=0)
        return self.module(*inputs, **kwargs)

    def _check_previous_backward(self) -> None:
        if not self._ready:
            return
        missing = [self._names[id(p)] for b in self._buckets for p in b.params
                   if id(p) not in self._ready]  # fmt: skip
        self._reset()
        raise RuntimeError(
            "DistributedDataParallel: the last backward gave no gradient to "
            f"{', '.join(missing)}, so the gradients were not averaged; every parameter "
            "that requires grad must take part in the loss (freeze the others with "
            "requires_grad_(False) before wrapping the model)"
        )

    # -- gradient averaging ----------------------------------------------------------------

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate local gradients without communication; the
        first backward after it averages the accumulated sums (gradient accumulation)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def _hook_for(self, param: Tensor) -> Any:
        def hook(grad: Tensor) -> Tensor | None:
            if not self.require_backward_grad_sync:
                return None
            return self._collect(param, grad)

        return hook

    def _collect(self, param: Tensor, grad: Tensor) -> Tensor:
        """Copy the parameter's accumulated gradient into its bucket, launch every bucket
        that is now full (in bucket order, the same on all ranks, as MPI requires), and
        after the last parameter write the averages into ``.grad``. Returns a zero
        gradient: the engine adds it to ``.grad``, which holds the average by then or
        gets it when the last hook runs."""
        b, j = self._slot[id(param)]
        bucket = self._buckets[b]
        total = grad.array if param.grad is None else param.grad.array + grad.array
        start, stop = bucket.offsets[j], bucket.offsets[j + 1]
        bucket.buffer[start:stop] = total.reshape(-1)
        bucket.pending -= 1
        self._ready.add(id(param))
        while self._next_launch < len(self._buckets):
            nxt = self._buckets[self._next_launch]
            if nxt.pending:
                break
            nxt.work = dist.all_reduce(Tensor(nxt.buffer), dist.ReduceOp.SUM, async_op=True)
            self._next_launch += 1
        if len(self._ready) == len(self._slot):
            self._write_averages()
        return Tensor(np.zeros_like(grad.array))

    def _write_averages(self) -> None:
        for bucket in self._buckets:
            bucket.work.wait()
            bucket.buffer /= self.world_size
            for j, p in enumerate(bucket.params):
                shape = p.array.shape
                mean = bucket.buffer[bucket.offsets[j] : bucket.offsets[j + 1]].reshape(shape)
                if p.grad is not None and p.grad.array.flags.writeable:
                    p.grad.array[...] = mean
                else:
                    p.grad = Tensor(mean.copy())
        self._reset()

    def _reset(self) -> None:
        for bucket in self._buckets:
            bucket.pending, bucket.work = len(bucket.params), None
        self._ready.clear()
        self._next_launch = 0

    @property
    def bucket_sizes(self) -> list[int]:
        """The number of parameters in each bucket, in launch order."""
        return [len(b.params) for b in self._buckets]

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={len(self._buckets)}"
