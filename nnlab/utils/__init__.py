"""``torch.utils`` paths for code written for PyTorch: ``nnlab.utils.data`` is
:mod:`nnlab.data` (datasets, samplers, the DataLoader)."""

from nnlab.utils import data

__all__ = ["data"]
