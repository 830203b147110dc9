"""Adversarial training: fit the model on the worst case in the ε-ball around each input
instead of on the input itself (Madry et al., 2018), the min–max problem

    min_θ  E_(x,y) [ max_{‖δ‖ ≤ ε} ℓ(f_θ(x + δ), y) ]

The inner maximum is approximated by an attack (PGD with a few steps); by Danskin's
theorem the gradient of the outer objective is the gradient of ℓ at the maximiser, so one
training step is: craft x' with the model's current weights, then take an ordinary
optimiser step on ℓ(f(x'), y). Goodfellow et al. (2015) mixed in the clean loss:

    L = (1 − mix) · ℓ(f(x), y) + mix · ℓ(f(x'), y)

Cost: the attack's ``passes`` forward–backward passes per input to craft x', plus one for
the update (two when ``mix < 1``, as the clean batch goes through the model too): PGD with
k steps makes each update about k + 1 times as expensive as a standard one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attacks.attack import Attack
from nnlab.nn.module import Module
from nnlab.ops.cross_entropy import cross_entropy
from nnlab.optim.optimizer import Optimizer
from nnlab.tensor import Tensor

__all__ = ["adversarial_training_step"]


def adversarial_training_step(
    model: Module,
    optimizer: Optimizer,
    attack: Attack,
    images: Any,
    labels: Any,
    mix: float = 1.0,
) -> float:
    """One optimiser step on L = (1 − mix)·ℓ(f(x), y) + mix·ℓ(f(x'), y), x' = attack(x, y);
    returns L's value.

    The attack runs the model in evaluation mode (and restores its mode), so the update
    itself sees the model in whatever mode it was in: ``model.train()`` as usual.

    Args:
        model: the classifier being trained; ``attack.model`` must be this model, so that
            the examples are crafted against the current weights.
        optimizer: the optimiser of ``model``'s parameters.
        attack: how the inner maximum is approximated, e.g. ``PGD(model, eps, alpha, 7)``.
        images, labels: the batch, (N, ...) inputs and (N,) true classes.
        mix: the adversarial loss's weight in [0, 1]; 1 (Madry et al.) trains on the
            adversarial examples only, 0.5 is Goodfellow et al.'s mixture. Default: 1.

    Cost: ``attack.passes + 1`` forward–backward passes per input (+1 if ``mix < 1``).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> from nnlab.attacks import PGD, adversarial_training_step
        >>> _ = nnlab.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
        >>> attack = PGD(model, eps=0.1, alpha=0.03, steps=5, clip_min=None, clip_max=None)
        >>> x, y = nnlab.randn(16, 4), nnlab.tensor([0, 1, 2, 0] * 4)
        >>> loss = adversarial_training_step(model, opt, attack, x, y)
        >>> loss > 0
        True
    """
    if attack.model is not model:
        raise ValueError(
            "adversarial_training_step: attack.model must be the model being trained (the "
            "examples must be crafted against its current weights)"
        )
    if not 0.0 <= mix <= 1.0:
        raise ValueError(f"adversarial_training_step: mix must be in [0, 1], got {mix!r}")
    if attack.targeted:
        raise ValueError("adversarial_training_step: the attack must be untargeted")
    x_adv = attack(images, labels)
    y = labels if isinstance(labels, Tensor) else Tensor(np.asarray(labels))
    loss = cross_entropy(model(x_adv), y)
    if mix < 1.0:
        x = images if isinstance(images, Tensor) else Tensor(np.asarray(images))
        loss = (1.0 - mix) * cross_entropy(model(x), y) + mix * loss
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()
