"""Parallel training wrappers (``torch.nn.parallel``): :class:`DistributedDataParallel`."""

from nnlab.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
