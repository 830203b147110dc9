"""``torch.utils`` paths for code written for PyTorch: ``nnlab.utils.data`` is
:mod:`nnlab.data` (datasets, samplers, the DataLoader), and ``nnlab.utils.checkpoint``
recomputes segments in backward instead of keeping their activations."""

from nnlab.utils import checkpoint, data

__all__ = ["checkpoint", "data"]
