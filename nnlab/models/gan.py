"""Generative adversarial networks (Goodfellow et al. 2014): generators, discriminators and
their losses.

A generator G maps noise z ~ N(0, I) to a sample; a discriminator D maps a sample to one
logit, its belief that the sample is real. They play

    min_G max_D  E_x[ln σ(D(x))] + E_z[ln(1 - σ(D(G(z))))].

D minimises :func:`discriminator_loss` (binary cross-entropy: real → 1, fake → 0). G can
minimise the game's own term, :func:`minimax_generator_loss` ``E[ln(1 - σ(D(G(z))))]``,
which saturates: when D confidently rejects the fakes its gradient vanishes. The paper's
fix, :func:`non_saturating_generator_loss` ``-E[ln σ(D(G(z)))]``, has the same fixed point
and a strong gradient exactly then. WGAN-GP (Gulrajani et al. 2017) replaces D by a critic
of unbounded scores trained on :func:`wasserstein_critic_loss` plus the
:func:`gradient_penalty`, which pushes the critic's gradient norm towards 1 on lines
between real and fake samples (a soft 1-Lipschitz constraint, differentiated by double
backward).

Models, all with an optional label input (``num_classes`` set: a conditional GAN, Mirza
and Osindero 2014, where a learned label embedding is concatenated to the input):

* :class:`MLPGenerator` / :class:`MLPDiscriminator` on flat samples (N, features),
* :class:`DCGANGenerator` / :class:`DCGANDiscriminator` (Radford et al. 2016) on
  one-channel 16×16 images: transposed convolutions with batch norm upsample 4 → 8 → 16;
  strided convolutions with leaky ReLU go back down. The discriminator has no batch norm,
  so it can serve as a WGAN-GP critic (the penalty is per sample).

Images are expected scaled to [-1, 1], the range of the generators' ``tanh`` output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnlab.autograd.engine import grad
from nnlab.autograd.grad_mode import enable_grad
from nnlab.creation import ones, rand, zeros
from nnlab.models.registry import register_model
from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import LeakyReLU, ReLU, Tanh
from nnlab.nn.modules.container import ModuleDict, Sequential
from nnlab.nn.modules.conv import Conv2d, ConvTranspose2d
from nnlab.nn.modules.embedding import Embedding
from nnlab.nn.modules.linear import Flatten, Linear, Unflatten
from nnlab.nn.modules.normalization import BatchNorm1d, BatchNorm2d
from nnlab.ops.conv import conv_composed
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = [
    "DCGANDiscriminator",
    "DCGANGenerator",
    "MLPDiscriminator",
    "MLPGenerator",
    "discriminator_loss",
    "gradient_penalty",
    "minimax_generator_loss",
    "non_saturating_generator_loss",
    "wasserstein_critic_loss",
    "wasserstein_generator_loss",
]


# -- conditioning ---------------------------------------------------------------------------


class _Conditioned(Module):
    """Shared label handling: an embedding of ``num_classes`` labels, or none."""

    def _init_labels(self, num_classes: int | None, embedding_dim: int) -> int:
        """Create the label embedding (if conditional); returns how many inputs it adds."""
        if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
            raise ValueError(
                f"{type(self).__name__}: num_classes must be a positive int or None, "
                f"got {num_classes!r}"
            )
        self.num_classes = num_classes
        self.label_embedding = (
            None if num_classes is None else Embedding(num_classes, embedding_dim)
        )
        return 0 if num_classes is None else embedding_dim

    def _embed(self, labels: Any, batch: int) -> Tensor | None:
        """The labels' embeddings (N, embedding_dim), after checking they fit the model."""
        name = f"{self.path()} ({type(self).__name__})"
        if self.num_classes is None:
            if labels is not None:
                raise ValueError(
                    f"{name}: got labels but the model is unconditional; build it with "
                    "num_classes=... to condition on labels"
                )
            return None
        if labels is None:
            raise ValueError(
                f"{name}: conditional on {self.num_classes} classes, so forward needs labels "
                f"of shape ({batch},)"
            )
        labels = labels if isinstance(labels, Tensor) else Tensor(labels)
        if labels.shape != (batch,):
            raise ValueError(
                f"{name}: expected labels of shape ({batch},) (one per sample), "
                f"got {tuple(labels.shape)}"
            )
        return self.label_embedding(labels)


def _check_latent(module: Module, z: Tensor, latent_dim: int) -> None:
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise module.shape_error(
            f"(N, {latent_dim})", z.shape, "draw the noise as nnlab.randn(N, latent_dim)."
        )


# -- MLP GAN ---------------------------------------------------------------------------------


class MLPGenerator(_Conditioned):
    """Fully connected generator: z (‖ label embedding) → Linear → BN → ReLU → ... → tanh.

    Args:
        latent_dim: size of the noise vector z (default: 16).
        out_features: size of a generated sample (default: 64, an 8×8 digit).
        hidden: widths of the hidden layers (default: (128, 128)).
        num_classes: condition on this many classes (default: None, unconditional).
        embedding_dim: size of the label embedding (default: 10).

    Shape:
        - Input: z (N, latent_dim) and, if conditional, labels (N,) of class indices.
        - Output: (N, out_features) in (-1, 1).

    Example:
        >>> import nnlab
        >>> g = MLPGenerator(latent_dim=8, out_features=64, num_classes=10)
        >>> g(nnlab.randn(5, 8), nnlab.tensor([0, 1, 2, 3, 4])).shape
        nnlab.Size([5, 64])
    """

    def __init__(
        self,
        latent_dim: int = 16,
        out_features: int = 64,
        hidden: tuple[int, ...] = (128, 128),
        num_classes: int | None = None,
        embedding_dim: int = 10,
    ) -> None:
        super().__init__()
        self.latent_dim, self.out_features = latent_dim, out_features
        width = latent_dim + self._init_labels(num_classes, embedding_dim)
        layers: list[Module] = []
        for h in hidden:
            layers += [Linear(width, h), BatchNorm1d(h), ReLU()]
            width = h
        self.net = Sequential(*layers, Linear(width, out_features), Tanh())

    def forward(self, z: Tensor, labels: Any = None) -> Tensor:
        _check_latent(self, z, self.latent_dim)
        embedded = self._embed(labels, z.shape[0])
        return self.net(z if embedded is None else cat([z, embedded], dim=1))


class MLPDiscriminator(_Conditioned):
    """Fully connected discriminator: x (‖ label embedding) → Linear → LeakyReLU(0.2) → ... → 1.

    No batch norm, so each sample's score depends on that sample alone (which the gradient
    penalty of WGAN-GP needs).

    Args:
        in_features: size of a sample (default: 64).
        hidden: widths of the hidden layers (default: (128, 128)).
        num_classes: condition on this many classes (default: None, unconditional).
        embedding_dim: size of the label embedding (default: 10).

    Shape:
        - Input: x (N, in_features) and, if conditional, labels (N,).
        - Output: (N,) logits (or critic scores).

    Example:
        >>> import nnlab
        >>> MLPDiscriminator(in_features=64)(nnlab.randn(5, 64)).shape
        nnlab.Size([5])
    """

    def __init__(
        self,
        in_features: int = 64,
        hidden: tuple[int, ...] = (128, 128),
        num_classes: int | None = None,
        embedding_dim: int = 10,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        width = in_features + self._init_labels(num_classes, embedding_dim)
        layers: list[Module] = []
        for h in hidden:
            layers += [Linear(width, h), LeakyReLU(0.2)]
            width = h
        self.net = Sequential(*layers, Linear(width, 1))

    def forward(self, x: Tensor, labels: Any = None) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise self.shape_error(f"(N, {self.in_features})", x.shape)
        embedded = self._embed(labels, x.shape[0])
        return self.net(x if embedded is None else cat([x, embedded], dim=1)).reshape(-1)


# -- DCGAN -----------------------------------------------------------------------------------


class DCGANGenerator(_Conditioned):
    """DCGAN generator for one-channel 16×16 images.

    z (‖ label embedding) → Linear → 2c×4×4 → BN, ReLU → ConvTranspose(4, stride 2) → c×8×8
    → BN, ReLU → ConvTranspose(4, stride 2) → 1×16×16 → tanh.

    Args:
        latent_dim: size of the noise vector z (default: 16).
        channels: c, the width of the last hidden feature map (default: 32).
        num_classes: condition on this many classes (default: None, unconditional).
        embedding_dim: size of the label embedding (default: 10).

    Shape:
        - Input: z (N, latent_dim) and, if conditional, labels (N,).
        - Output: (N, 1, 16, 16) in (-1, 1).

    Example:
        >>> import nnlab
        >>> DCGANGenerator(latent_dim=8, channels=4)(nnlab.randn(2, 8)).shape
        nnlab.Size([2, 1, 16, 16])
    """

    def __init__(
        self,
        latent_dim: int = 16,
        channels: int = 32,
        num_classes: int | None = None,
        embedding_dim: int = 10,
    ) -> None:
        super().__init__()
        self.latent_dim, self.channels = latent_dim, channels
        width = latent_dim + self._init_labels(num_classes, embedding_dim)
        c = channels
        self.net = Sequential(
            Linear(width, 2 * c * 4 * 4),
            Unflatten(1, (2 * c, 4, 4)),
            BatchNorm2d(2 * c),
            ReLU(),
            ConvTranspose2d(2 * c, c, 4, stride=2, padding=1),
            BatchNorm2d(c),
            ReLU(),
            ConvTranspose2d(c, 1, 4, stride=2, padding=1),
            Tanh(),
        )

    def forward(self, z: Tensor, labels: Any = None) -> Tensor:
        _check_latent(self, z, self.latent_dim)
        embedded = self._embed(labels, z.shape[0])
        return self.net(z if embedded is None else cat([z, embedded], dim=1))


class DCGANDiscriminator(_Conditioned):
    """DCGAN discriminator (or WGAN critic) for one-channel 16×16 images.

    x (‖ label map) → Conv(4, stride 2) → c×8×8 → LeakyReLU(0.2) → Conv(4, stride 2)
    → 2c×4×4 → LeakyReLU(0.2) → Linear → 1. A conditional discriminator embeds the label
    into 16·16 values and stacks them as a second input channel.

    nnlab's fused convolution has no double backward, so a critic trained with
    :func:`gradient_penalty` needs ``double_backward=True``: the convolutions are then
    computed by ``conv_composed`` (the same values from primitive ops; slower).

    Args:
        channels: c, the width of the first feature map (default: 32).
        num_classes: condition on this many classes (default: None, unconditional).
        double_backward: compute the convolutions with primitive ops so that gradients of
            gradients exist (default: False).

    Shape:
        - Input: x (N, 1, 16, 16) and, if conditional, labels (N,).
        - Output: (N,) logits (or critic scores).

    Example:
        >>> import nnlab
        >>> DCGANDiscriminator(channels=4)(nnlab.randn(2, 1, 16, 16)).shape
        nnlab.Size([2])
    """

    image_size = 16

    def __init__(
        self, channels: int = 32, num_classes: int | None = None, double_backward: bool = False
    ) -> None:
        super().__init__()
        self.channels, self.double_backward = channels, double_backward
        extra = self._init_labels(num_classes, self.image_size * self.image_size)
        c = channels
        self.conv1 = Conv2d(1 + (extra > 0), c, 4, stride=2, padding=1)
        self.conv2 = Conv2d(c, 2 * c, 4, stride=2, padding=1)
        self.head = Sequential(Flatten(), Linear(2 * c * 4 * 4, 1))

    def _conv(self, conv: Conv2d, x: Tensor) -> Tensor:
        if self.double_backward:
            return conv_composed(x, conv.weight, conv.bias, stride=2, padding=1)
        return conv(x)

    def forward(self, x: Tensor, labels: Any = None) -> Tensor:
        size = self.image_size
        if x.ndim != 4 or tuple(x.shape[1:]) != (1, size, size):
            raise self.shape_error(
                f"(N, 1, {size}, {size})", x.shape, "upsample 8×8 digits to 16×16 first."
            )
        embedded = self._embed(labels, x.shape[0])
        if embedded is not None:
            x = cat([x, embedded.reshape(-1, 1, size, size)], dim=1)
        h = F.leaky_relu(self._conv(self.conv1, x), 0.2)
        h = F.leaky_relu(self._conv(self.conv2, h), 0.2)
        return self.head(h).reshape(-1)

    def extra_repr(self) -> str:
        return f"double_backward={self.double_backward}" if self.double_backward else ""


# -- run configs: the two players as one module ("generator", "discriminator") ------------

register_model(
    "gan", reads="features", tasks="generation", own_fit=True, loop="adversarial",
    losses=("non_saturating", "minimax"), input_range=(-1.0, 1.0),
    args=lambda d: {"out_features": d.input_shape[0]},
)(
    lambda out_features, latent_dim=16, hidden=(128, 128): ModuleDict({
        "generator": MLPGenerator(latent_dim, out_features, tuple(hidden)),
        "discriminator": MLPDiscriminator(out_features, tuple(hidden)),
    })
)  # fmt: skip
register_model(
    "dcgan", reads="image", tasks="generation", own_fit=True, loop="adversarial",
    losses=("non_saturating", "minimax"), input_range=(-1.0, 1.0), image_size=16,
    args=lambda d: {},
)(
    lambda latent_dim=16, channels=32: ModuleDict({
        "generator": DCGANGenerator(latent_dim, channels),
        "discriminator": DCGANDiscriminator(channels),
    })
)  # fmt: skip


# -- losses ----------------------------------------------------------------------------------


def _scores(fn: str, name: str, scores: Any) -> Tensor:
    if not isinstance(scores, Tensor):
        raise TypeError(
            f"{fn}: {name} must be a Tensor of discriminator outputs, got {type(scores).__name__}"
        )
    if scores.ndim != 1 or scores.shape[0] == 0:
        raise ValueError(
            f"{fn}: {name} must be one score per sample, shape (N,) with N >= 1, "
            f"got {tuple(scores.shape)}"
        )
    if scores.dtype.kind != "f":
        raise TypeError(f"{fn}: {name} must be floating point, got dtype {scores.dtype}")
    return scores


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """The discriminator's binary cross-entropy: real samples are class 1, fakes class 0.

    ``L_D = -E_x[ln σ(D(x))] - E_z[ln(1 - σ(D(G(z))))]`` (each term a mean over its batch).

    Args:
        real_logits: (N,) discriminator logits on real samples.
        fake_logits: (M,) discriminator logits on generated samples.
    """
    fn = "discriminator_loss"
    real = _scores(fn, "real_logits", real_logits)
    fake = _scores(fn, "fake_logits", fake_logits)
    real_term = F.binary_cross_entropy_with_logits(real, ones(real.shape, dtype=real.dtype))
    fake_term = F.binary_cross_entropy_with_logits(fake, zeros(fake.shape, dtype=fake.dtype))
    return real_term + fake_term


def minimax_generator_loss(fake_logits: Tensor) -> Tensor:
    """The generator's term of the original minimax game: ``L_G = E_z[ln(1 - σ(D(G(z))))]``.

    It saturates: with s = D(G(z)), ``dL_G/ds = -σ(s)``, which vanishes when the
    discriminator rejects the fakes (s → -∞), the very situation early in training.
    Equals ``-BCE(s, 0)``.
    """
    fake = _scores("minimax_generator_loss", "fake_logits", fake_logits)
    return -F.binary_cross_entropy_with_logits(fake, zeros(fake.shape, dtype=fake.dtype))


def non_saturating_generator_loss(fake_logits: Tensor) -> Tensor:
    """The non-saturating generator loss: ``L_G = -E_z[ln σ(D(G(z)))]`` = BCE(s, 1).

    Same fixed point as the minimax loss, but ``dL_G/ds = σ(s) - 1 → -1`` when the
    discriminator rejects the fakes, so the generator still learns then.
    """
    fake = _scores("non_saturating_generator_loss", "fake_logits", fake_logits)
    return F.binary_cross_entropy_with_logits(fake, ones(fake.shape, dtype=fake.dtype))


def wasserstein_critic_loss(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """The WGAN critic loss ``E_z[C(G(z))] - E_x[C(x)]``: the negated estimate of the
    Wasserstein-1 distance (valid while the critic is 1-Lipschitz; see
    :func:`gradient_penalty`)."""
    fn = "wasserstein_critic_loss"
    real = _scores(fn, "real_scores", real_scores)
    fake = _scores(fn, "fake_scores", fake_scores)
    return fake.mean() - real.mean()


def wasserstein_generator_loss(fake_scores: Tensor) -> Tensor:
    """The WGAN generator loss ``-E_z[C(G(z))]``."""
    return -_scores("wasserstein_generator_loss", "fake_scores", fake_scores).mean()


def gradient_penalty(
    critic: Callable[..., Tensor],
    real: Tensor,
    fake: Tensor,
    labels: Any = None,
    alpha: Tensor | None = None,
) -> Tensor:
    """WGAN-GP's gradient penalty ``E[(‖∇_x̂ C(x̂)‖₂ - 1)²]`` on x̂ = α·real + (1 - α)·fake.

    The gradient ∇_x̂ C is taken with ``create_graph=True``, so the penalty itself can be
    differentiated (double backward) with respect to the critic's parameters, and to
    ``real`` and ``fake`` if they require gradients. Multiply it by a weight λ (10 in the
    paper) and add it to :func:`wasserstein_critic_loss`. The critic must score each sample
    on its own (no batch norm).

    Args:
        critic: the critic, called as ``critic(x̂)`` or ``critic(x̂, labels)``; returns (N,).
        real: (N, ...) real samples.
        fake: (N, ...) generated samples (usually detached), the shape of ``real``.
        labels: labels passed to a conditional critic (default: None).
        alpha: (N,) interpolation weights in [0, 1] (default: drawn uniformly with
            ``nnlab.rand``).

    Returns:
        The penalty, a 0-d tensor.
    """
    fn = "gradient_penalty"
    if not isinstance(real, Tensor) or not isinstance(fake, Tensor):
        raise TypeError(f"{fn}: real and fake must be Tensors")
    if real.shape != fake.shape or real.ndim < 2:
        raise ValueError(
            f"{fn}: real and fake must be batches (N, ...) of the same shape, got "
            f"{tuple(real.shape)} and {tuple(fake.shape)}"
        )
    n = real.shape[0]
    if alpha is None:
        alpha = rand(n, dtype=real.dtype)
    elif not isinstance(alpha, Tensor) or alpha.shape != (n,):
        raise ValueError(f"{fn}: alpha must be a Tensor of shape ({n},) (one weight per sample)")
    alpha = alpha.reshape((n,) + (1,) * (real.ndim - 1))
    # A gradient is needed even under no_grad (gradcheck's finite differences run there).
    with enable_grad():
        mixed = alpha * real + (1 - alpha) * fake
        if not mixed.requires_grad:
            mixed.requires_grad_(True)  # a leaf: neither input needs gradients
        scores = critic(mixed) if labels is None else critic(mixed, labels)
        if scores.shape != (n,):
            raise ValueError(
                f"{fn}: the critic must return one score per sample ({n},), "
                f"got {tuple(scores.shape)}"
            )
        (gradients,) = grad(scores.sum(), mixed, create_graph=True)
        norms = gradients.reshape(n, -1).norm(2, dim=1)
        return ((norms - 1) ** 2).mean()
