"""What keeps an autoencoder from learning the identity: corrupted inputs and penalties on
the code.

An autoencoder is trained to reconstruct its input, x̂ = g(f(x)). With a code h = f(x)
as wide as x it could copy x through; even a narrow one may learn a code that says little
about the data's structure. Each regulariser below asks for more than a copy:

    denoising    (Vincent et al., 2008)  reconstruct the clean x from a corrupted x̃:
                 min ‖g(f(x̃)) − x‖², with x̃ = x + σε (Gaussian) or x with a random
                 fraction p of its entries set to 0 (masking noise)
    sparse       (Ng, 2011)              few code units active per input:
                 L1:  λ Σⱼ |hⱼ|
                 KL:  β Σⱼ KL(ρ ‖ ρ̂ⱼ), ρ̂ⱼ = the mean activation of unit j over the batch,
                      KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂))
    contractive  (Rifai et al., 2011)    a code that changes little when x moves:
                 λ ‖∂h/∂x‖²_F, the squared Frobenius norm of the encoder's Jacobian

The weights λ and β multiply the returned penalties in the training loss; the corruption
functions draw from nnlab's default generator (``nnlab.manual_seed``) unless handed one.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab import creation
from nnlab.autograd.engine import grad
from nnlab.random import Generator
from nnlab.tensor import Tensor

__all__ = [
    "gaussian_noise",
    "masking_noise",
    "l1_sparsity_penalty",
    "kl_sparsity_penalty",
    "contractive_penalty",
]

_REDUCTIONS = ("mean", "sum", "none")


def _check_tensor(fn: str, name: str, value: object) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: {name} must be a Tensor, got {type(value).__name__}")


def _check_code(fn: str, code: object) -> None:
    _check_tensor(fn, "code", code)
    if code.ndim != 2:
        raise ValueError(
            f"{fn}: code must be a batch of codes of shape (N, code_size), got shape "
            f"{tuple(code.shape)}"
        )


def _reduce(fn: str, per_sample: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"{fn}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def gaussian_noise(input: Tensor, std: float = 0.1, generator: Generator | None = None) -> Tensor:
    """x̃ = x + σε, ε ~ N(0, I): additive isotropic Gaussian corruption.

    Args:
        input: the clean batch, any shape.
        std: the noise's standard deviation σ ≥ 0 (default: 0.1).
        generator: the source of ε (default: nnlab's default generator).

    Example:
        >>> import nnlab
        >>> x = nnlab.zeros(2, 3)
        >>> a = gaussian_noise(x, 0.5, generator=nnlab.Generator(0))
        >>> b = gaussian_noise(x, 0.5, generator=nnlab.Generator(0))
        >>> bool((a == b).all().item())
        True
    """
    _check_tensor("gaussian_noise", "input", input)
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"gaussian_noise: std must be a finite number >= 0, got {std}")
    return input + std * creation.randn_like(input, generator=generator)


def masking_noise(input: Tensor, p: float = 0.25, generator: Generator | None = None) -> Tensor:
    """x̃ = x ⊙ m, mᵢ ~ Bernoulli(1 − p): each entry is set to 0 with probability p.

    Unlike dropout the kept entries are not rescaled: the corruption destroys information
    the autoencoder must fill back in, it is not a regulariser of the activations' scale.

    Args:
        input: the clean batch, any shape.
        p: the probability that an entry is masked, in [0, 1] (default: 0.25).
        generator: the source of the mask (default: nnlab's default generator).
    """
    _check_tensor("masking_noise", "input", input)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"masking_noise: masking probability p must be in [0, 1], got {p}")
    keep = creation.rand_like(input, generator=generator) >= p
    return input * keep.to(input.dtype)


def l1_sparsity_penalty(code: Tensor, reduction: str = "mean") -> Tensor:
    """Σⱼ |hⱼ| for each code h in the batch, averaged (``"mean"``), summed (``"sum"``) or
    returned per sample (``"none"``, shape (N,)).

    Its gradient λ·sign(hⱼ) pushes every active unit towards 0 at the same rate, so with a
    ReLU code most units end at exactly 0 for a given input.
    """
    _check_code("l1_sparsity_penalty", code)
    return _reduce("l1_sparsity_penalty", code.abs().sum(1), reduction)


def kl_sparsity_penalty(code: Tensor, sparsity_target: float = 0.05) -> Tensor:
    """Σⱼ KL(ρ ‖ ρ̂ⱼ) with ρ̂ⱼ = (1/N) Σₙ hₙⱼ: how far each unit's mean activation over the
    batch is from the target ρ, as the KL divergence between Bernoulli(ρ) and Bernoulli(ρ̂ⱼ)
    (Ng's sparse autoencoder).

        KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂))

    It is 0 when ρ̂ⱼ = ρ and grows without bound as ρ̂ⱼ → 0 or 1, so it asks each unit to
    fire rarely (ρ small) but not never. The code must lie in [0, 1]: a sigmoid code.

    Args:
        code: the codes of a batch, (N, code_size), entries in [0, 1].
        sparsity_target: ρ, the wanted mean activation, in (0, 1) (default: 0.05).
    """
    _check_code("kl_sparsity_penalty", code)
    if not 0.0 < sparsity_target < 1.0:
        raise ValueError(
            f"kl_sparsity_penalty: sparsity_target must be in (0, 1), got {sparsity_target}"
        )
    values = code.detach().numpy()
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError(
            "kl_sparsity_penalty: code entries must lie in [0, 1] (a sigmoid code), got "
            f"values in [{values.min():.4g}, {values.max():.4g}]"
        )
    rho = sparsity_target
    # A unit that is exactly 0 (or 1) on the whole batch would give log 0: clamping keeps
    # the penalty finite and its gradient pointing back into (0, 1).
    eps = float(np.finfo(values.dtype).eps)
    rho_hat = code.mean(0).clamp(eps, 1.0 - eps)
    kl = rho * (rho / rho_hat).log() + (1.0 - rho) * ((1.0 - rho) / (1.0 - rho_hat)).log()
    return kl.sum()


def contractive_penalty(code: Tensor, input: Tensor, reduction: str = "mean") -> Tensor:
    """‖J(x)‖²_F = Σⱼ Σₖ (∂hⱼ/∂xₖ)² for each sample, the squared Frobenius norm of the
    encoder's Jacobian at x; averaged over the batch (``"mean"``), summed (``"sum"``) or
    per sample (``"none"``, shape (N,)).

    Row j of every sample's Jacobian comes from one backward pass of code[:, j]
    (``code_size`` passes in all). The passes keep their graph (``create_graph=True``), so
    the penalty is itself differentiable and trains the encoder by double backward. For a
    sigmoid layer h = σ(Wx + b) it is Σⱼ (hⱼ(1 − hⱼ))² ‖Wⱼ‖².

    The samples must be independent: summing code[:, j] over the batch gives each sample's
    own row only when no layer mixes samples (no BatchNorm in training mode).

    Args:
        code: the codes h = f(x), (N, code_size), computed from ``input``.
        input: the encoder's input x, (N, features), with ``requires_grad=True``.
        reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.

    Example:
        >>> import nnlab
        >>> x = nnlab.ones(1, 2, requires_grad=True)
        >>> contractive_penalty(3.0 * x, x)  # J = 3 I, ‖J‖²_F = 9 + 9
        tensor(18.)
    """
    _check_code("contractive_penalty", code)
    _check_tensor("contractive_penalty", "input", input)
    if input.ndim < 2 or input.shape[0] != code.shape[0]:
        raise ValueError(
            "contractive_penalty: input must be a batch (N, features) with as many samples "
            f"as code; got input {tuple(input.shape)} and code {tuple(code.shape)}"
        )
    if not input.requires_grad or not code.requires_grad:
        raise RuntimeError(
            "contractive_penalty: the penalty differentiates code with respect to input, so "
            "input must require grad and code must be computed from it: "
            "x = x.detach().requires_grad_(); code = model.encode(x)"
        )
    total = None
    for j in range(code.shape[1]):
        pick = np.zeros(code.shape, dtype=code.detach().numpy().dtype)
        pick[:, j] = 1.0
        (row,) = grad(
            code, input, creation.tensor(pick), retain_graph=True, create_graph=True,
            allow_unused=True,
        )  # fmt: skip
        if row is None:
            raise RuntimeError(
                "contractive_penalty: code does not depend on input; compute it from this "
                "input tensor (code = model.encode(input))"
            )
        squares = (row * row).reshape(row.shape[0], -1).sum(1)
        total = squares if total is None else total + squares
    if total is None:  # a code of size 0 has an empty Jacobian
        total = (input * 0.0).reshape(input.shape[0], -1).sum(1)
    return _reduce("contractive_penalty", total, reduction)
