"""``SequentialLR``: schedules run one after another (a warm-up, then a decay)."""

from __future__ import annotations

import copy
from bisect import bisect_right
from collections.abc import Mapping
from typing import Any

from nnlab.optim.optimizer import Optimizer
from nnlab.optim.schedulers.base import LRScheduler, _check_optimizer
from nnlab.optim.schedulers.plateau import ReduceLROnPlateau

__all__ = ["SequentialLR"]


class SequentialLR(LRScheduler):
    """Run schedulers one after another: ``schedulers[i]`` is in charge from
    ``milestones[i - 1]`` on, and restarts its own count there (e.g. a LinearLR warm-up
    followed by a cosine decay).

    Args:
        optimizer: the optimizer (shared by all the schedulers).
        schedulers: the schedulers, in order.
        milestones: the epochs at which to switch (one fewer than the schedulers).
        last_epoch: see :class:`LRScheduler` (default: -1).

    Example:
        >>> import nnlab
        >>> from nnlab.optim import SGD
        >>> from nnlab.optim.lr_scheduler import ExponentialLR, LinearLR
        >>> opt = SGD([nnlab.zeros(1, requires_grad=True)], lr=1.0)
        >>> warmup = LinearLR(opt, start_factor=0.5, total_iters=2)
        >>> decay = ExponentialLR(opt, gamma=0.5)
        >>> sched = SequentialLR(opt, [warmup, decay], milestones=[2])
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        schedulers: list[LRScheduler],
        milestones: list[int],
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(
                    "SequentialLR does not support `ReduceLROnPlateau` scheduler as it requires "
                    f"a metric when calling `step`, but got one at index {i}."
                )
            if getattr(scheduler, "optimizer", None) is not optimizer:
                raise ValueError(
                    "SequentialLR expects all schedulers to belong to the same optimizer, but "
                    f"scheduler {type(scheduler).__name__} at index {i} has another one."
                )
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers "
                f"{len(schedulers)} and the number of milestones to be equal to {len(milestones)}"
            )
        self._schedulers = schedulers
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        _undo_initial_steps(self)
        self._schedulers[bisect_right(self._milestones, 0)]._initial_step()
        self._last_lr = schedulers[bisect_right(self._milestones, 0)].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        schedulers = self.__dict__.pop("_schedulers")
        try:
            state = super().state_dict()
        finally:
            self._schedulers = schedulers
        state["_schedulers"] = [s.state_dict() for s in schedulers]
        return state

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        state = dict(state_dict)
        saved = state.pop("_schedulers")
        self.__dict__.update(copy.deepcopy(state))
        for scheduler, sub_state in zip(self._schedulers, saved):
            scheduler.load_state_dict(sub_state)
        self._restore_lr()  # after the sub-schedulers, whose own last lrs may be stale


def _undo_initial_steps(scheduler: LRScheduler) -> None:
    """Take back the step each (nested) scheduler made when it was built."""
    if isinstance(scheduler, SequentialLR):
        for child in scheduler._schedulers:
            _undo_initial_steps(child)
    else:
        scheduler.last_epoch -= 1
