"""torch's path for batch normalization (``torch.nn.modules.batchnorm``); the layers live
in :mod:`nnlab.nn.modules.normalization` with the other normalizations."""

from nnlab.nn.modules.normalization import BatchNorm1d, BatchNorm2d, BatchNorm3d

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"]
