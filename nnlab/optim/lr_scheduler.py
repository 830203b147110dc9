"""Learning-rate schedules: change each parameter group's ``"lr"`` as training goes on.

The convention, stated once (as in ``torch.optim.lr_scheduler``, whose sequences these
classes reproduce):

* Construction performs the first step: ``last_epoch`` becomes 0 and ``group["lr"]`` is
  set to the schedule's value at epoch 0. Call ``scheduler.step()`` after
  ``optimizer.step()``, once per epoch (once per batch for a per-iteration schedule such as
  :class:`OneCycleLR`). ``get_last_lr()`` returns the learning rates now in force.
* Each group's starting learning rate is kept in the group itself as ``"initial_lr"`` (set
  by the first scheduler built on the optimizer, never overwritten), and copied into
  ``base_lrs``. Since it lives in the optimizer's groups, it is saved with the optimizer.
* Recursive schedules (StepLR, ExponentialLR, CosineAnnealingLR, ...) update the current
  ``group["lr"]``, so they compose with other changes to the learning rate, exactly as
  PyTorch's; closed forms are used only when ``step(epoch)`` is given an epoch.
* ``state_dict()`` holds every attribute except the optimizer: plain Python values (ints,
  floats, lists, dicts), ready for JSON. ``inf`` appears in :class:`ReduceLROnPlateau`'s
  state (Python's ``json`` writes it as ``Infinity``). Lambdas are not saved.

**Resuming without resetting the learning rate.** In PyTorch, building a scheduler runs
its first step, which writes ``group["lr"]``: LinearLR multiplies it by ``start_factor``,
LambdaLR sets ``base_lr * lambda(0)``, OneCycleLR resets the learning rate and the momentum.
Load the optimizer's checkpoint *before* building the scheduler and that first step
overwrites the restored learning rate; ``scheduler.load_state_dict`` then restores the
scheduler's counters but not the optimizer's learning rate, and training silently goes on
with the wrong one (PyTorch's documentation asks users to build schedulers first). nnlab
closes the trap in two places:

1. ``initial_lr`` is taken with ``setdefault`` from the groups, which the optimizer's
   checkpoint restores, so ``base_lrs`` are right whatever the order;
2. ``load_state_dict`` writes the saved ``get_last_lr()`` values (and OneCycleLR's momentum)
   back into the optimizer's groups: the scheduler's state is the authority on the learning
   rate in force.

So "build optimizer, build scheduler, load both (either order)" and "build optimizer, load
it, build scheduler, load it" all continue exactly as an uninterrupted run. What you must
still do is load the scheduler's state whenever you build a scheduler for a resumed run.

The classes live in :mod:`nnlab.optim.schedulers`, one family per file (the base class,
multiplicative decays, annealing curves, SequentialLR, ReduceLROnPlateau); this module is
their public home, so ``from nnlab.optim.lr_scheduler import StepLR`` is the way to reach
them.
"""

from nnlab.optim.schedulers.annealing import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    OneCycleLR,
)
from nnlab.optim.schedulers.base import LRScheduler
from nnlab.optim.schedulers.decay import ExponentialLR, LambdaLR, LinearLR, MultiStepLR, StepLR
from nnlab.optim.schedulers.plateau import ReduceLROnPlateau
from nnlab.optim.schedulers.sequential import SequentialLR

__all__ = [
    "LRScheduler",
    "LambdaLR",
    "StepLR",
    "MultiStepLR",
    "LinearLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "CosineAnnealingWarmRestarts",
    "OneCycleLR",
    "SequentialLR",
    "ReduceLROnPlateau",
]
