"""``MLP``: a multilayer perceptron built from a list of hidden sizes.

Each hidden block is Linear → [norm] → activation → [Dropout]; the last layer is a
plain Linear (no activation: losses take logits). The result is a :class:`Sequential`,
so its ``state_dict`` keys ("0.weight", "3.bias", ...) are those of the equivalent
``torch.nn.Sequential`` and weights move between the two.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nnlab.nn.module import Module
from nnlab.nn.modules import activation as act
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.linear import Identity, Linear
from nnlab.nn.modules.normalization import BatchNorm1d, LayerNorm

__all__ = ["MLP"]

_ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": act.ReLU,
    "leaky_relu": act.LeakyReLU,
    "elu": act.ELU,
    "gelu": act.GELU,
    "silu": act.SiLU,
    "tanh": act.Tanh,
    "sigmoid": act.Sigmoid,
    "softplus": act.Softplus,
    "identity": Identity,
}
_NORMS: dict[str, Callable[[int], Module]] = {"batch": BatchNorm1d, "layer": LayerNorm}


def _activation(activation: str | Callable[[], Module]) -> Module:
    if isinstance(activation, str):
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)} "
                "or pass a Module class such as nn.ReLU"
            )
        return _ACTIVATIONS[activation]()
    if isinstance(activation, Module):
        raise TypeError(
            "MLP: pass the activation's class or a factory (nn.ReLU), not an instance "
            "(nn.ReLU()): each hidden layer needs its own module"
        )
    return activation()


class MLP(Sequential):
    """A multilayer perceptron: Linear layers with a non-linearity between them.

    ``MLP(784, [256, 128], 10)`` is Sequential(Linear(784, 256), ReLU(), Linear(256, 128),
    ReLU(), Linear(128, 10)). With ``norm`` a normalisation layer follows each hidden
    Linear; with ``dropout > 0`` a Dropout follows each activation.

    Args:
        in_features: size of each input sample.
        hidden_sizes: widths of the hidden layers (may be empty: a linear model).
        out_features: size of each output sample.
        activation: 'relu' (default), 'leaky_relu', 'elu', 'gelu', 'silu', 'tanh',
            'sigmoid', 'softplus', 'identity', or a Module class/factory.
        dropout: dropout probability after each hidden activation (default: 0.0, none).
        norm: None (default), 'batch' (BatchNorm1d) or 'layer' (LayerNorm) after each
            hidden Linear.
        bias: give every Linear a bias (default: True).

    Shape:
        - Input: (N, in_features).
        - Output: (N, out_features).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> model = nn.MLP(4, [8, 8], 3, norm="layer", dropout=0.1)
        >>> [type(m).__name__ for m in model]  # doctest: +NORMALIZE_WHITESPACE
        ['Linear', 'LayerNorm', 'ReLU', 'Dropout', 'Linear', 'LayerNorm', 'ReLU', 'Dropout',
         'Linear']
        >>> model(nnlab.randn(2, 4)).shape
        nnlab.Size([2, 3])
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        activation: str | Callable[[], Module] = "relu",
        dropout: float = 0.0,
        norm: str | None = None,
        bias: bool = True,
    ) -> None:
        if norm is not None and norm not in _NORMS:
            raise ValueError(f"MLP: norm must be None, 'batch' or 'layer', got {norm!r}")
        if not 0.0 <= dropout <= 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1], got {dropout}")
        layers: list[Module] = []
        width = in_features
        for hidden in hidden_sizes:
            layers.append(Linear(width, hidden, bias=bias))
            if norm is not None:
                layers.append(_NORMS[norm](hidden))
            layers.append(_activation(activation))
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = hidden
        layers.append(Linear(width, out_features, bias=bias))
        super().__init__(*layers)
        self.in_features = in_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.out_features = out_features
