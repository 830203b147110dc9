"""What every attack shares: the model's loss gradient with respect to the input, the
valid input range, checking the arguments, and leaving the model as it was found.

Convention (torchattacks'): an attack is built around a classifier that maps a batch of
inputs (N, ...) to logits (N, C), and is called as ``attack(images, labels)``; it returns
adversarial inputs of the images' shape and dtype as a new tensor that needs no gradient.

- Untargeted (the default): ``labels`` are the true classes and the attack *raises* the
  cross-entropy ℓ(f(x'), y), pushing x' away from its class.
- Targeted (``targeted=True``): ``labels`` are the classes to reach and the attack
  *lowers* ℓ(f(x'), t), pulling x' towards the target class t.

Every x' lies in the threat model's ε-ball around x and in the valid input range
[clip_min, clip_max] (torchattacks' implicit [0, 1] by default; per-feature bounds as
arrays, e.g. the image of [0, 255] under a standardisation, or ``None`` for unbounded).

While it attacks, the model runs in evaluation mode (dropout off, batch norm on its
running statistics, which it does not update), as torchattacks does by default; each
submodule's mode is restored afterwards. Gradients come from ``nnlab.autograd.grad``, so
no parameter's ``.grad`` is touched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.engine import grad
from nnlab.autograd.grad_mode import enable_grad, no_grad
from nnlab.nn.module import Module
from nnlab.nn.utils.modes import training_modes_kept
from nnlab.ops.cross_entropy import cross_entropy
from nnlab.tensor import Tensor

__all__ = ["Attack"]


def _array(value: Any) -> np.ndarray:
    return value.numpy() if isinstance(value, Tensor) else np.asarray(value)


class Attack:
    """Base class of the attacks: subclasses implement :meth:`perturb`.

    Args:
        model: a classifier, (N, ...) inputs to (N, C) logits.
        eps: the radius ε ≥ 0 of the threat model's ball.
        targeted: when True, ``labels`` are the target classes (see the module docstring).
        clip_min, clip_max: the valid input range, scalars or arrays that broadcast to one
            input's shape; ``None`` leaves that side unbounded.
    """

    def __init__(
        self,
        model: Module,
        eps: float,
        *,
        targeted: bool = False,
        clip_min: Any = 0.0,
        clip_max: Any = 1.0,
    ) -> None:
        name = type(self).__name__
        if not isinstance(model, Module):
            raise TypeError(f"{name}: model must be an nnlab.nn.Module, got {type(model).__name__}")
        if not np.isscalar(eps) or not np.isfinite(eps) or eps < 0:
            raise ValueError(f"{name}: eps must be a finite number ≥ 0, got {eps!r}")
        lo = None if clip_min is None else np.asarray(clip_min, dtype=np.float64)
        hi = None if clip_max is None else np.asarray(clip_max, dtype=np.float64)
        if lo is not None and hi is not None and np.any(lo > hi):
            raise ValueError(f"{name}: clip_min must be ≤ clip_max everywhere")
        self.model = model
        self.eps = float(eps)
        self.targeted = bool(targeted)
        self.clip_min, self.clip_max = lo, hi

    @property
    def passes(self) -> int:
        """Forward–backward passes through the model per input: the attack's cost."""
        raise NotImplementedError

    def perturb(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The adversarial inputs for the batch ``x`` (NumPy, the model already in
        evaluation mode); subclasses implement it with :meth:`input_gradient`,
        :meth:`loss` and :meth:`clip`."""
        raise NotImplementedError

    def __call__(self, images: Any, labels: Any) -> Tensor:
        x, y = self._check(images, labels)
        with training_modes_kept(self.model):
            self.model.eval()
            self._check_logits(x, y)
            x_adv = self.perturb(x, y)
        return Tensor(x_adv.astype(x.dtype, copy=False))

    def _check(self, images: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
        name = type(self).__name__
        x = _array(images)
        y = _array(labels)
        if x.dtype.kind != "f" or x.ndim < 2:
            raise ValueError(
                f"{name}: images must be a floating batch (N, ...) with N ≥ 1, got dtype "
                f"{x.dtype} and shape {x.shape}"
            )
        if y.dtype.kind not in "iu" or y.shape != (x.shape[0],):
            raise ValueError(
                f"{name}: labels must be {x.shape[0]} integer class indices, shape "
                f"({x.shape[0]},), got dtype {y.dtype} and shape {y.shape}"
            )
        for side, bound, outside in (
            ("clip_min", self.clip_min, lambda b: x < b),
            ("clip_max", self.clip_max, lambda b: x > b),
        ):
            if bound is not None and np.any(outside(bound)):
                raise ValueError(
                    f"{name}: images lie outside the valid range (their range is "
                    f"[{x.min():.4g}, {x.max():.4g}]); pass the range of your data as "
                    f"clip_min/clip_max, or None for unbounded ({side} violated)"
                )
        return x, y

    def _check_logits(self, x: np.ndarray, y: np.ndarray) -> None:
        name = type(self).__name__
        with no_grad():
            logits = self.model(Tensor(x[:1]))
        if logits.ndim != 2:
            raise ValueError(f"{name}: the model must return logits (N, C), got {logits.shape}")
        if y.min() < 0 or y.max() >= logits.shape[1]:
            raise ValueError(
                f"{name}: labels must be classes in [0, {logits.shape[1]}), got values in "
                f"[{y.min()}, {y.max()}]"
            )

    def loss(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The attack's objective per input, ℓ(f(x), y) untargeted or −ℓ(f(x), t)
        targeted: what the attack raises."""
        with no_grad():
            losses = cross_entropy(self.model(Tensor(x)), Tensor(y), reduction="none").numpy()
        return -losses if self.targeted else losses

    def input_gradient(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """∇ₓ of the objective summed over the batch: row i is the gradient of input i's
        own objective, since inputs do not interact in evaluation mode."""
        with enable_grad():
            xt = Tensor(x, requires_grad=True)
            loss = cross_entropy(self.model(xt), Tensor(y), reduction="sum")
            (g,) = grad(loss, xt)
        g = g.numpy()
        return -g if self.targeted else g

    def clip(self, x: np.ndarray) -> np.ndarray:
        """x projected onto the valid input range (in x's dtype)."""
        if self.clip_min is not None:
            x = np.maximum(x, self.clip_min.astype(x.dtype))
        if self.clip_max is not None:
            x = np.minimum(x, self.clip_max.astype(x.dtype))
        return x

    def __repr__(self) -> str:
        mode = ", targeted=True" if self.targeted else ""
        return f"{type(self).__name__}(eps={self.eps:g}{self.extra_repr()}{mode})"

    def extra_repr(self) -> str:
        return ""
