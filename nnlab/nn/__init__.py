"""Neural-network building blocks: ``Module``, ``Parameter``, layers, losses, init.

``nnlab.nn.functional`` holds the stateless ops (``import nnlab.nn.functional as F``).
"""

from nnlab.nn import functional
from nnlab.nn.module import IncompatibleKeys, Module, ShapeError
from nnlab.nn.parameter import Buffer, Parameter

__all__ = ["Buffer", "IncompatibleKeys", "Module", "Parameter", "ShapeError", "functional"]

# --- layers: containers, linear, activations, dropout, normalization, perceptron, MLP, init ---

# --- losses ---
