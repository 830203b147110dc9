"""torch's path for the base class (``torch.nn.modules.module.Module``); it lives in
:mod:`nnlab.nn.module`."""

from nnlab.nn.module import Module

__all__ = ["Module"]
