"""Neural-network building blocks. ``nnlab.nn.functional`` holds the stateless ops."""

from nnlab.nn import functional

__all__ = ["functional"]
