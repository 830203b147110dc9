"""Activation layers: module forms of the non-linearities in :mod:`nnlab.nn.functional`.

They have no parameters; each stores its configuration (PyTorch's argument names and
defaults) and calls the functional op. The formulas and derivatives live with the ops
in :mod:`nnlab.ops.activation` and :mod:`nnlab.ops.softmax`.

``inplace=True`` is accepted for compatibility with PyTorch code, but nnlab always
returns a new tensor: overwriting an input that backward still needs would make its
gradient wrong.
"""

from __future__ import annotations

import warnings

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = [
    "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Softmax",
    "LogSoftmax",
]  # fmt: skip


def _inplace_repr(inplace: bool) -> str:
    return "inplace=True" if inplace else ""


class Sigmoid(Module):
    """σ(x) = 1 / (1 + e⁻ˣ), squashing to (0, 1).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Sigmoid()(nnlab.tensor([0.0]))
        tensor([0.5])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """tanh(x) = (eˣ - e⁻ˣ) / (eˣ + e⁻ˣ), squashing to (-1, 1).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Tanh()(nnlab.tensor([0.0]))
        tensor([0.])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class ReLU(Module):
    """ReLU(x) = max(0, x).

    Args:
        inplace: accepted for compatibility (default: False); see the module docstring.

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ReLU()(nnlab.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LeakyReLU(Module):
    """LeakyReLU(x) = x if x > 0 else negative_slope·x.

    Args:
        negative_slope: the slope for x < 0 (default: 0.01).
        inplace: accepted for compatibility (default: False).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.LeakyReLU(0.1)(nnlab.tensor([-1.0, 2.0]))
        tensor([-0.1,  2. ])
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """ELU(x) = x if x > 0 else α(eˣ - 1).

    Args:
        alpha: α, the value approached for x → -∞ is -α (default: 1.0).
        inplace: accepted for compatibility (default: False).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.ELU()(nnlab.tensor([0.0, 1.0]))
        tensor([0., 1.])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class GELU(Module):
    """GELU(x) = x·Φ(x), Φ the standard normal CDF; with ``approximate='tanh'``,
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))).

    Args:
        approximate: 'none' (exact, default) or 'tanh'.

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.GELU()(nnlab.tensor([0.0, 10.0]))
        tensor([ 0., 10.])
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """SiLU(x) = x·σ(x) (also called swish).

    Args:
        inplace: accepted for compatibility (default: False).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.SiLU()(nnlab.tensor([0.0]))
        tensor([0.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class Softplus(Module):
    """Softplus(x) = (1/β)·ln(1 + e^(βx)), a smooth ReLU; x itself where βx > threshold.

    Args:
        beta: β (default: 1.0).
        threshold: above this value of βx the function is taken as linear (default: 20.0).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Softplus()(nnlab.tensor([30.0]))
        tensor([30.])
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


def _softmax_dim(name: str, ndim: int, dim: int | None) -> int:
    """PyTorch's legacy rule when ``dim`` is omitted, with its deprecation warning."""
    if dim is not None:
        return dim
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        f"Change the call to include dim=X as an argument (here dim={dim} was used).",
        stacklevel=3,
    )
    return dim


class Softmax(Module):
    """softmax(x)ᵢ = e^(xᵢ) / Σⱼ e^(xⱼ) along ``dim``: non-negative values summing to 1.

    Args:
        dim: the dim along which the values sum to 1 (pass it; ``None`` follows
            PyTorch's deprecated implicit choice with a warning).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Softmax(dim=1)(nnlab.zeros(1, 4))
        tensor([[0.25, 0.25, 0.25, 0.25]])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, _softmax_dim("softmax", input.ndim, self.dim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """log_softmax(x)ᵢ = xᵢ - ln Σⱼ e^(xⱼ) along ``dim``, computed stably.

    Args:
        dim: the dim to normalise over (see :class:`Softmax`).

    Shape: any; the output has the input's shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.LogSoftmax(dim=-1)(nnlab.zeros(2)).exp()
        tensor([0.5, 0.5])
    """

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, _softmax_dim("log_softmax", input.ndim, self.dim))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


# torch files MultiheadAttention among the activations (torch.nn.modules.activation), and
# scripts import it from there; its home in nnlab is nnlab/nn/modules/attention.py.
from nnlab.nn.modules.attention import MultiheadAttention  # noqa: E402, F401
