"""Dropout layer: zero random activations while training, pass everything in evaluation.

Each element is kept with probability 1 - p and scaled by 1/(1 - p) (inverted dropout),
so the expected activation is the same in training and evaluation. The mask is drawn
from the default generator: ``nnlab.manual_seed(s)`` makes it reproducible.
"""

from __future__ import annotations

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["Dropout"]


class Dropout(Module):
    """y = x ⊙ m / (1 - p) with m ~ Bernoulli(1 - p) in training; y = x in evaluation.

    Dropout (Srivastava et al., 2014) stops units from co-adapting: each must be useful
    when any of the others may be missing, which regularises the network.

    Args:
        p: probability of zeroing an element (default: 0.5).
        inplace: accepted for compatibility with PyTorch (default: False); nnlab always
            returns a new tensor, as backward needs the original input intact.

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> drop = nn.Dropout(p=0.5)
        >>> y = drop(nnlab.ones(1000))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> drop.eval()(nnlab.ones(3))
        tensor([1., 1., 1.])
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
