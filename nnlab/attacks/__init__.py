"""Adversarial examples and adversarial training.

An adversarial example is an input x' = x + δ, with δ small in some norm (‖δ‖∞ ≤ ε or
‖δ‖₂ ≤ ε), that a classifier gets wrong although it gets x right. The attacks here follow
torchattacks' names and call convention, ``attack(images, labels) -> adversarial images``:

- :class:`FGSM`: one signed-gradient step (L∞).
- :class:`PGD`, :class:`PGDL2`: projected gradient ascent in the L∞ / L2 ball, with a
  random start and optional restarts.
- ``targeted=True`` on any of them: ``labels`` are the classes to reach.

:func:`adversarial_training_step` trains on PGD examples (Madry et al.'s min–max
objective), optionally mixed with the clean loss.
"""

from nnlab.attacks.attack import Attack
from nnlab.attacks.fgsm import FGSM
from nnlab.attacks.pgd import PGD, PGDL2
from nnlab.attacks.training import adversarial_training_step

__all__ = ["PGD", "PGDL2", "FGSM", "Attack", "adversarial_training_step"]
