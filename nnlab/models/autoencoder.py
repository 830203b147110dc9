"""An autoencoder: an encoder f that squeezes x into a code h, a decoder g that rebuilds x
from it, both trained together to make the reconstruction x̂ = g(f(x)) close to x.

    x (N, in_features) ── encoder MLP ──> h (N, code_size) ── decoder MLP ──> x̂ (N, in_features)

With a code narrower than the input (undercomplete) the network must keep what matters
most about x. With no non-linearity and the squared error the best it can do is PCA's: the
decoder's columns span the top ``code_size`` principal directions of the centred data
(Baldi and Hornik, 1989), though not the directions themselves, since any invertible map
of the code can be undone by the decoder. Non-linear layers let it follow a curved
manifold that PCA can only cut a flat slice through.

The denoising, sparse and contractive variants are this model trained with a corrupted
input or an extra penalty: see :mod:`nnlab.nn.autoencoder_regularizers`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU, Sigmoid, Tanh
from nnlab.nn.modules.mlp import MLP
from nnlab.tensor import Tensor

__all__ = ["Autoencoder"]

_CODE_ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "sigmoid": Sigmoid,
    "relu": ReLU,
    "tanh": Tanh,
}


@register_model(
    "autoencoder", reads="features", tasks="reconstruction", own_fit=True, loop="reconstruction",
    losses=("mse", "l1"),
    args=lambda d: {"in_features": d.input_shape[0], "code_size": 8,
                    "hidden_sizes": list(d.config.hidden_sizes),
                    "activation": d.config.activation},
)  # fmt: skip
class Autoencoder(Module):
    """A multilayer-perceptron autoencoder: x̂ = decoder(encoder(x)).

    The encoder is ``MLP(in_features, hidden_sizes, code_size)``, followed by
    ``code_activation`` when one is given; the decoder mirrors it,
    ``MLP(code_size, reversed(hidden_sizes), in_features)``, with a linear output. With no
    hidden layers and no code activation both are single Linear layers: the linear
    autoencoder that recovers PCA's subspace.

    Args:
        in_features: size of each input sample.
        code_size: size of the code h (the bottleneck).
        hidden_sizes: widths of the encoder's hidden layers, outermost first; the decoder
            uses them in reverse (default: none, a linear autoencoder).
        activation: the hidden layers' non-linearity, as :class:`~nnlab.nn.MLP` takes it
            (default: 'relu').
        code_activation: None (default, a linear code), 'sigmoid' (codes in (0, 1), as
            the KL sparsity penalty needs), 'relu' (non-negative codes that can be exactly
            0, for the L1 penalty) or 'tanh'.

    Shape:
        - Input: (N, in_features).
        - Code: (N, code_size).
        - Output: (N, in_features).

    Example:
        >>> import nnlab
        >>> model = Autoencoder(64, 8, [32], code_activation="sigmoid")
        >>> x = nnlab.randn(5, 64)
        >>> model.encode(x).shape, model(x).shape
        (nnlab.Size([5, 8]), nnlab.Size([5, 64]))
    """

    def __init__(
        self,
        in_features: int,
        code_size: int,
        hidden_sizes: Sequence[int] = (),
        activation: str | Callable[[], Module] = "relu",
        code_activation: str | None = None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("code_size", code_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Autoencoder: {name} must be a positive int, got {value!r}")
        if code_activation is not None and code_activation not in _CODE_ACTIVATIONS:
            raise ValueError(
                "Autoencoder: code_activation must be None or one of "
                f"{sorted(_CODE_ACTIVATIONS)}, got {code_activation!r}"
            )
        self.in_features = in_features
        self.hidden_sizes = tuple(hidden_sizes)
        self.code_size = code_size
        self.code_activation = code_activation
        self.encoder = MLP(in_features, self.hidden_sizes, code_size, activation=activation)
        if code_activation is not None:
            self.encoder.append(_CODE_ACTIVATIONS[code_activation]())
        self.decoder = MLP(code_size, self.hidden_sizes[::-1], in_features, activation=activation)

    def _check(self, x: Tensor, size: int, what: str, argument: str) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"Autoencoder.{what}: {argument} must be a Tensor, got {type(x)}")
        if x.ndim != 2 or x.shape[1] != size:
            raise ValueError(
                f"Autoencoder.{what}: expected {argument} of shape (N, {size}), got "
                f"{tuple(x.shape)}" + (" (flatten images to rows first)" if x.ndim > 2 else "")
            )

    def encode(self, input: Tensor) -> Tensor:
        """The code h = f(x), (N, code_size)."""
        self._check(input, self.in_features, "encode", "input")
        return self.encoder(input)

    def decode(self, code: Tensor) -> Tensor:
        """The reconstruction x̂ = g(h), (N, in_features)."""
        self._check(code, self.code_size, "decode", "code")
        return self.decoder(code)

    def forward(self, input: Tensor) -> Tensor:
        """The reconstruction x̂ = g(f(x)), (N, in_features)."""
        return self.decode(self.encode(input))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, code_size={self.code_size}, "
            f"hidden_sizes={list(self.hidden_sizes)}, code_activation={self.code_activation!r}"
        )
