"""``torch.backends``: switches for back-end libraries. nnlab has one back end, NumPy on
the CPU, so the GPU back ends report that they are not available and their flags
(``cudnn.benchmark``, ``cudnn.deterministic``) are kept but change nothing."""

from nnlab.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
