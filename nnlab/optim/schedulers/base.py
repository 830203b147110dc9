"""``LRScheduler``: the base class of the learning-rate schedules (the conventions are in
:mod:`nnlab.optim.lr_scheduler`)."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import Any

from nnlab.optim.optimizer import Optimizer

__all__ = ["LRScheduler"]

_EPOCH_DEPRECATION = (
    "The epoch parameter in `scheduler.step()` is deprecated (as in PyTorch): it uses the "
    "closed form where one exists. Call `scheduler.step()` without arguments instead."
)


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


def _per_group(name: str, optimizer: Optimizer, value: Any) -> list[Any]:
    """A value per parameter group: a list of the right length, or one value for all."""
    n = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {n}."
            )
        return list(value)
    return [value] * n


class LRScheduler:
    """Base class of the schedulers: owns ``last_epoch``, ``base_lrs``, ``get_last_lr()``,
    ``step()`` and ``state_dict()``; a subclass implements ``get_lr()`` (the learning rates at
    ``last_epoch``, recursively from the current ones) and optionally a closed form.

    Args:
        optimizer: the optimizer whose learning rates to schedule.
        last_epoch: index of the last epoch seen; -1 (default) starts a new schedule. A
            value >= 0 resumes one and requires ``"initial_lr"`` in every group (restore
            the optimizer's state first), though loading the scheduler's ``state_dict`` is
            the simpler way to resume.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import SGD
        >>> from nnlab.optim.lr_scheduler import StepLR
        >>> opt = SGD([nnlab.zeros(1, requires_grad=True)], lr=0.1)
        >>> sched = StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     opt.step()  # one epoch of training here
        ...     sched.step()
        ...     lrs.append(sched.get_last_lr()[0])
        >>> lrs
        [0.1, 0.05, 0.05, 0.025, 0.025]
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(
                        f"param 'initial_lr' is not specified in param_groups[{i}] when "
                        f"resuming a scheduler with last_epoch={last_epoch}: load the "
                        "optimizer's state_dict first, or build the scheduler with "
                        "last_epoch=-1 and load the scheduler's state_dict."
                    )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        """The step performed at construction (epoch 0)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            del self._is_initial

    def get_lr(self) -> list[float]:
        """The learning rates at ``last_epoch`` (called by ``step``; use ``get_last_lr``)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_lr()")

    def get_last_lr(self) -> list[float]:
        """The learning rate of each parameter group, as set by the last step."""
        return list(self._last_lr)

    def step(self, epoch: int | None = None) -> None:
        """Advance the schedule by one epoch and write the new learning rates into the
        optimizer's groups. Call it after ``optimizer.step()``."""
        if self._step_count == 1 and self.optimizer._step_calls == 0:
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`. Call them "
                "in the opposite order: `optimizer.step()` before `lr_scheduler.step()`, or "
                "the first value of the learning rate schedule is skipped.",
                UserWarning,
                stacklevel=2,
            )
        self._step_count += 1
        if epoch is not None:
            warnings.warn(_EPOCH_DEPRECATION, UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    # -- state ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Every attribute except the optimizer (plain Python values; copies)."""
        return {
            k: copy.deepcopy(v)
            for k, v in self.__dict__.items()
            if k not in ("optimizer", "_is_initial")
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore the scheduler's state, then write its last learning rates back into the
        optimizer's groups (see "Resuming" in the module docstring)."""
        self.__dict__.update(copy.deepcopy(dict(state_dict)))
        self._restore_lr()

    def _restore_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(self._last_lr) != len(groups):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the state has {len(self._last_lr)} "
                f"learning rates but the optimizer has {len(groups)} parameter groups"
            )
        for group, lr in zip(groups, self._last_lr):
            group["lr"] = lr
