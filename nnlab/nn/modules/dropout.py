"""Dropout layer: zero random activations while training, pass everything in evaluation.

Each element is kept with probability 1 - p and scaled by 1/(1 - p) (inverted dropout),
so the expected activation is the same in training and evaluation. The mask is drawn
from the default generator: ``nnlab.manual_seed(s)`` makes it reproducible.

Dropout1d/2d/3d zero whole channels of feature maps instead of single elements.
"""

from __future__ import annotations

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]


class _DropoutNd(Module):
    """What every dropout layer stores: p and the (ignored) ``inplace`` flag, as torch."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
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

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training)


class _FeatureDropout(_DropoutNd):
    """Channel dropout over (N, C, *S) or unbatched (C, *S) with ``dims`` spatial dims."""

    dims = 2

    def forward(self, input: Tensor) -> Tensor:
        n = self.dims
        if n == 1 and input.ndim not in (2, 3):
            hint = "Dropout1d zeroes whole channels of 1-D feature maps."
            if 4 <= input.ndim <= 5:
                hint += f" A {input.ndim}-D batch needs Dropout{input.ndim - 2}d."
            raise self.shape_error("(N, C, L) or (C, L)", input.shape, hint)
        # Dropout2d/3d accept other ranks with torch's deprecation warning, as torch does.
        drop = (F.dropout1d, F.dropout2d, F.dropout3d)[n - 1]
        return drop(input, self.p, self.training)


class Dropout1d(_FeatureDropout):
    """Channel dropout for sequences: each channel x[n, c, :] is zeroed with probability
    p, otherwise scaled by 1/(1 - p); the identity in evaluation.

    Args:
        p: probability of zeroing a channel (default: 0.5).
        inplace: accepted for compatibility with PyTorch (default: False).

    Shape:
        - Input: (N, C, L) or (C, L).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> y = nn.Dropout1d(0.5)(nnlab.ones(4, 8, 5)).numpy()
        >>> bool(((y == 0).all(-1) | (y == 2).all(-1)).all())  # whole channels
        True
    """

    dims = 1


class Dropout2d(_FeatureDropout):
    """Channel dropout for images (Tompson et al., 2015): each feature map x[n, c] is zeroed
    with probability p, otherwise scaled by 1/(1 - p); the identity in evaluation.

    Neighbouring pixels of a feature map are strongly correlated, so dropping single
    pixels (Dropout) hardly regularises a convolutional layer; dropping whole maps does.
    The masks come from the default generator: ``nnlab.manual_seed(s)`` repeats them.

    Args:
        p: probability of zeroing a channel (default: 0.5).
        inplace: accepted for compatibility with PyTorch (default: False).

    Shape:
        - Input: (N, C, H, W), or 3-D, which torch (and so nnlab) reads as (N, C, L)
          with a warning: for a single image use ``x.unsqueeze(0)``.
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> drop = nn.Dropout2d(p=0.5)
        >>> y = drop(nnlab.ones(2, 16, 3, 3))
        >>> sorted(set(y.flatten().tolist()))
        [0.0, 2.0]
        >>> drop.eval()(nnlab.ones(1, 2, 1, 1)).flatten()
        tensor([1., 1.])
    """

    dims = 2


class Dropout3d(_FeatureDropout):
    """Channel dropout for volumes: each x[n, c] is zeroed with probability p, otherwise
    scaled by 1/(1 - p); the identity in evaluation.

    Args:
        p: probability of zeroing a channel (default: 0.5).
        inplace: accepted for compatibility with PyTorch (default: False).

    Shape:
        - Input: (N, C, D, H, W) or (C, D, H, W).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Dropout3d(0.2)(nnlab.ones(2, 4, 3, 3, 3)).shape
        nnlab.Size([2, 4, 3, 3, 3])
    """

    dims = 3
