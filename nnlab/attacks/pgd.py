"""Projected gradient descent (Madry, Makelov, Schmidt, Tsipras and Vladu, 2018): the
strongest first-order attack, gradient *ascent* on the loss inside the ε-ball.

Starting from x (or a random point of the ball), repeat for ``steps`` steps

    x ← Π( x + α · d(∇ₓℓ) )

where d is the steepest-ascent direction of the threat model's norm and Π projects back
onto the ε-ball around the clean input and then onto the valid input range:

    L∞ (:class:`PGD`):   d(g) = sign(g),  Π clips every coordinate of δ = x − x₀ to [−ε, ε]
    L2 (:class:`PGDL2`): d(g) = g / ‖g‖₂, Π rescales δ to ‖δ‖₂ ≤ ε

(clipping to a box that holds x₀ only moves x closer to x₀, so the result stays in the
ball). FGSM is PGD with one step of size α = ε from x₀. Random starts avoid the flat,
gradient-masked neighbourhood of x₀ that FGSM-style training creates; ``restarts > 1``
runs the attack several times from fresh random points and keeps, for each input, the
result with the highest loss.

Cost: ``steps × restarts`` forward–backward passes per input, which is what makes
PGD adversarial training ``steps + 1`` times as expensive as standard training.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attacks.attack import Attack
from nnlab.nn.module import Module
from nnlab.random import default_generator

__all__ = ["PGD", "PGDL2"]


class _ProjectedGradient(Attack):
    """The loop both norms share; subclasses give the start, the direction and Π."""

    def __init__(
        self,
        model: Module,
        eps: float,
        alpha: float,
        steps: int,
        random_start: bool,
        restarts: int,
        targeted: bool,
        clip_min: Any,
        clip_max: Any,
    ) -> None:
        super().__init__(model, eps, targeted=targeted, clip_min=clip_min, clip_max=clip_max)
        name = type(self).__name__
        if not np.isscalar(alpha) or not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"{name}: alpha (the step size) must be > 0, got {alpha!r}")
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"{name}: steps must be an integer ≥ 1, got {steps!r}")
        if not isinstance(restarts, (int, np.integer)) or restarts < 1:
            raise ValueError(f"{name}: restarts must be an integer ≥ 1, got {restarts!r}")
        if restarts > 1 and not random_start:
            raise ValueError(
                f"{name}: restarts={restarts} needs random_start=True (without it every "
                "restart is the same deterministic run)"
            )
        self.alpha = float(alpha)
        self.steps = int(steps)
        self.random_start = bool(random_start)
        self.restarts = int(restarts)

    @property
    def passes(self) -> int:
        return self.steps * self.restarts

    def perturb(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.restarts == 1:
            return self._run(x, y)
        best, best_loss = x, np.full(len(x), -np.inf)
        for _ in range(self.restarts):
            x_adv = self._run(x, y)
            loss = self.loss(x_adv, y)
            better = loss > best_loss
            best = np.where(better.reshape((-1,) + (1,) * (x.ndim - 1)), x_adv, best)
            best_loss = np.where(better, loss, best_loss)
        return best

    def _run(self, x0: np.ndarray, y: np.ndarray) -> np.ndarray:
        alpha = x0.dtype.type(self.alpha)
        x = self.clip(x0 + self._random_delta(x0)) if self.random_start else x0
        for _ in range(self.steps):
            x = x + alpha * self._direction(self.input_gradient(x, y))
            x = self.clip(x0 + self._project(x - x0))
        return x

    def _random_delta(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _direction(self, g: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _project(self, delta: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def extra_repr(self) -> str:
        start = "" if self.random_start else ", random_start=False"
        again = f", restarts={self.restarts}" if self.restarts > 1 else ""
        return f", alpha={self.alpha:g}, steps={self.steps}{start}{again}"


class PGD(_ProjectedGradient):
    """PGD in the L∞ ball (torchattacks' ``PGD``): x ← Π(x + α·sign(∇ₓℓ)), δ clipped to
    [−ε, ε] per coordinate, from a uniform random point of the ball.

    Args:
        model: a classifier, (N, ...) inputs to (N, C) logits.
        eps: the L∞ radius ε ≥ 0. Default: 8/255.
        alpha: the step size α > 0. Default: 2/255.
        steps: the number of steps ≥ 1. Default: 10.
        random_start: start from x₀ + U(−ε, ε) instead of x₀. Default: True.
        restarts: independent random starts; each input keeps its worst case. Default: 1.
        targeted: when True, ``labels`` are target classes whose loss is lowered.
        clip_min, clip_max: the valid input range (scalars or per-feature arrays; ``None``
            for unbounded). Default: [0, 1].

    Cost: ``steps × restarts`` forward–backward passes per input (``passes``).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> from nnlab.attacks import PGD
        >>> _ = nnlab.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> attack = PGD(model, eps=0.1, alpha=0.025, steps=10)
        >>> x = nnlab.rand(5, 4)
        >>> x_adv = attack(x, nnlab.tensor([0, 1, 2, 0, 1]))
        >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6), attack.passes
        (True, 10)
    """

    def __init__(
        self,
        model: Module,
        eps: float = 8 / 255,
        alpha: float = 2 / 255,
        steps: int = 10,
        random_start: bool = True,
        *,
        restarts: int = 1,
        targeted: bool = False,
        clip_min: Any = 0.0,
        clip_max: Any = 1.0,
    ) -> None:
        super().__init__(
            model, eps, alpha, steps, random_start, restarts, targeted, clip_min, clip_max
        )

    def _random_delta(self, x: np.ndarray) -> np.ndarray:
        rng = default_generator.numpy
        return rng.uniform(-self.eps, self.eps, size=x.shape).astype(x.dtype)

    def _direction(self, g: np.ndarray) -> np.ndarray:
        return np.sign(g).astype(g.dtype)

    def _project(self, delta: np.ndarray) -> np.ndarray:
        eps = delta.dtype.type(self.eps)
        return np.clip(delta, -eps, eps)


class PGDL2(_ProjectedGradient):
    """PGD in the L2 ball (torchattacks' ``PGDL2``): x ← Π(x + α·g/‖g‖₂), δ rescaled to
    ‖δ‖₂ ≤ ε per input, from a uniform random point of the ball.

    Args:
        model: a classifier, (N, ...) inputs to (N, C) logits.
        eps: the L2 radius ε ≥ 0 of each input's perturbation. Default: 1.0.
        alpha: the step length α > 0. Default: 0.2.
        steps: the number of steps ≥ 1. Default: 10.
        random_start: start from a uniform random point of the ball. Default: True.
        restarts: independent random starts; each input keeps its worst case. Default: 1.
        eps_for_division: guards g/‖g‖ where the gradient vanishes. Default: 1e-10.
        targeted: when True, ``labels`` are target classes whose loss is lowered.
        clip_min, clip_max: the valid input range (scalars or per-feature arrays; ``None``
            for unbounded). Default: [0, 1].

    Cost: ``steps × restarts`` forward–backward passes per input (``passes``).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> from nnlab.attacks import PGDL2
        >>> _ = nnlab.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> x = nnlab.rand(5, 4)
        >>> x_adv = PGDL2(model, eps=0.5, alpha=0.1)(x, nnlab.tensor([0, 1, 2, 0, 1]))
        >>> bool((x_adv - x).norm(dim=1).max() <= 0.5 + 1e-6)
        True
    """

    def __init__(
        self,
        model: Module,
        eps: float = 1.0,
        alpha: float = 0.2,
        steps: int = 10,
        random_start: bool = True,
        *,
        restarts: int = 1,
        eps_for_division: float = 1e-10,
        targeted: bool = False,
        clip_min: Any = 0.0,
        clip_max: Any = 1.0,
    ) -> None:
        super().__init__(
            model, eps, alpha, steps, random_start, restarts, targeted, clip_min, clip_max
        )
        self.eps_for_division = float(eps_for_division)

    def _norms(self, v: np.ndarray) -> np.ndarray:
        """‖vᵢ‖₂ of every input, shaped to broadcast against v."""
        norms = np.sqrt((v.reshape(len(v), -1).astype(np.float64) ** 2).sum(axis=1))
        return norms.reshape((-1,) + (1,) * (v.ndim - 1))

    def _random_delta(self, x: np.ndarray) -> np.ndarray:
        # A uniform point of the d-ball: a uniform direction (a normalised Gaussian) at a
        # radius ε·U^(1/d), since the volume within radius r grows as rᵈ.
        rng = default_generator.numpy
        direction = rng.standard_normal(x.shape)
        d = x[0].size
        radius = self.eps * rng.random(len(x)) ** (1.0 / d)
        radius = radius.reshape((-1,) + (1,) * (x.ndim - 1))
        return (radius * direction / self._norms(direction)).astype(x.dtype)

    def _direction(self, g: np.ndarray) -> np.ndarray:
        return (g / (self._norms(g) + self.eps_for_division)).astype(g.dtype)

    def _project(self, delta: np.ndarray) -> np.ndarray:
        scale = np.minimum(1.0, self.eps / np.maximum(self._norms(delta), 1e-300))
        return (delta * scale).astype(delta.dtype)
