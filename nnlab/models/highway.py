"""Highway networks (Srivastava, Greff and Schmidhuber, "Training Very Deep Networks",
NeurIPS 2015; "Highway Networks", 2015): the gated ancestor of residual connections.

A highway layer mixes a non-linear transform of its input with the input itself, and
learns, per unit and per example, how much of each to take:

    y = T(x) · H(x) + (1 − T(x)) · x,     H(x) = act(W_H x + b_H),  T(x) = σ(W_T x + b_T)

T is the *transform gate* and 1 − T the *carry gate*. Its derivative,

    ∂y/∂x = diag(1 − T) + T · ∂H/∂x + (H − x) · ∂T/∂x,

holds an identity term that does not shrink through depth while the gates stay closed,
so a stack of 50 or 100 layers still trains with plain SGD (the paper's result), where a
plain stack of the same depth does not. Initialising b_T negative (−1 to −3 in the paper)
closes the gates at the start: each layer begins close to the identity and opens only
where the transform helps. A residual connection (He et al. 2016) is the special case
with both gates fixed open at 1: y = H(x) + x.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU, Sigmoid, Tanh
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.linear import Linear
from nnlab.tensor import Tensor

__all__ = ["Highway", "HighwayNetwork"]

_ACTIVATIONS: dict[str, Callable[[], Module]] = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


def _activation(name: str) -> Module:
    if name not in _ACTIVATIONS:
        raise ValueError(f"Highway: activation must be one of {list(_ACTIVATIONS)}, got {name!r}")
    return _ACTIVATIONS[name]()


class Highway(Module):
    """One highway layer: y = T(x)·H(x) + (1 − T(x))·x on vectors of ``features``.

    ``transform`` is the Linear of H (followed by ``activation``) and ``gate`` the Linear
    of the transform gate T; both are square, since the carry path adds x itself. The
    gate's bias starts at ``gate_bias`` (−2 ⇒ T ≈ σ(−2) ≈ 0.12: mostly carry).

    Args:
        features: size of the input and output vectors.
        activation: the non-linearity of H, 'relu', 'tanh' or 'sigmoid' (default: 'relu').
        gate_bias: the initial bias of the transform gate (default: −2.0).

    Shape:
        - Input: (N, features) (or (*, features)).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> layer = Highway(16)
        >>> x = nnlab.randn(4, 16)
        >>> layer(x).shape
        nnlab.Size([4, 16])
        >>> layer.gate.bias[:3]
        tensor([-2., -2., -2.], grad_fn=<...>)
    """

    # receptive_field() follows the transform, not the gate
    receptive_field_skip = ("gate",)

    def __init__(self, features: int, activation: str = "relu", gate_bias: float = -2.0) -> None:
        super().__init__()
        self.features = features
        self.gate_bias = gate_bias
        self.transform = Linear(features, features)
        self.activation = _activation(activation)
        self.gate = Linear(features, features)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.transform.reset_parameters()
        self.gate.reset_parameters()
        init.constant_(self.gate.bias, self.gate_bias)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 1 or x.shape[-1] != self.features:
            raise self.shape_error(
                f"(N, {self.features})", x.shape,
                "a highway layer keeps the size of its input (the carry path adds x itself); "
                "project to `features` first.",
            )  # fmt: skip
        h = self.activation(self.transform(x))
        t = self.gate(x).sigmoid()
        return t * h + (1.0 - t) * x

    def extra_repr(self) -> str:
        return f"features={self.features}, gate_bias={self.gate_bias}"


class HighwayNetwork(Sequential):
    """A deep highway network: a Linear projection to the hidden width, ``num_layers``
    highway layers, and a Linear output layer (the paper's fully connected networks).

    Children (``state_dict`` prefixes): ``stem`` (Linear), ``act``, ``layers``
    (a Sequential of :class:`Highway`), ``head`` (Linear, if ``out_features``).

    Args:
        in_features: size of each input vector.
        hidden_features: width of every highway layer.
        num_layers: number of highway layers.
        out_features: outputs of the head (default: None, no head).
        activation: non-linearity of the stem and of every H (default: 'relu').
        gate_bias: initial transform-gate bias of every layer (default: −2.0).

    Shape:
        - Input: (N, in_features).
        - Output: (N, out_features), or (N, hidden_features) without a head.

    Example:
        >>> import nnlab
        >>> net = HighwayNetwork(64, 32, num_layers=10, out_features=10)
        >>> net(nnlab.randn(5, 64)).shape
        nnlab.Size([5, 10])
        >>> len(net.layers)
        10
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        num_layers: int,
        out_features: int | None = None,
        activation: str = "relu",
        gate_bias: float = -2.0,
    ) -> None:
        layers: OrderedDict[str, Module] = OrderedDict(
            stem=Linear(in_features, hidden_features),
            act=_activation(activation),
            layers=Sequential(
                *[Highway(hidden_features, activation, gate_bias) for _ in range(num_layers)]
            ),
        )
        if out_features is not None:
            layers["head"] = Linear(hidden_features, out_features)
        super().__init__(layers)
