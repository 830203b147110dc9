"""Schedules that follow a curve: half a cosine (CosineAnnealingLR), cosines with warm
restarts (CosineAnnealingWarmRestarts) and the 1cycle policy (OneCycleLR), which also
cycles the momentum."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from nnlab.optim.optimizer import Optimizer
from nnlab.optim.schedulers.base import LRScheduler, _check_optimizer, _per_group

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts", "OneCycleLR"]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate along half a cosine from ``base_lr`` down to ``eta_min`` in
    ``T_max`` epochs (SGDR without restarts):
    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``.

    As PyTorch, the value is computed recursively from the current learning rate::

        lr_t = eta_min + (lr_{t-1} - eta_min) * (1 + cos(pi t / T)) / (1 + cos(pi (t-1) / T))

    which equals the closed form when nothing else changes the learning rate, and past
    ``T_max`` continues along the cosine (back up towards ``base_lr``).

    Args:
        optimizer: the optimizer.
        T_max: number of epochs of the half cosine.
        eta_min: minimum learning rate (default: 0).
        last_epoch: see :class:`LRScheduler` (default: -1).

    Example:
        >>> import nnlab
        >>> from nnlab.optim import SGD
        >>> opt = SGD([nnlab.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = CosineAnnealingLR(opt, T_max=4)
        >>> lrs = []
        >>> for _ in range(4):
        ...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
        >>> lrs
        [0.8536, 0.5, 0.1464, 0.0]
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:
            return [
                eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                for base in self.base_lrs
            ]
        if (t - 1 - T) % (2 * T) == 0:
            # At the bottom of the cosine the ratio below is 0/0: step up by hand instead.
            return [
                lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                for lr, base in zip(self._current_lrs(), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (lr - eta_min) + eta_min for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR): the learning rate follows
    ``eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2`` where ``T_cur`` counts
    the epochs since the last restart and the period ``T_i`` starts at ``T_0`` and is
    multiplied by ``T_mult`` at each restart.

    ``step()`` may be called once per batch with a fractional epoch, ``step(epoch + i / n)``,
    to anneal within epochs.

    Args:
        optimizer: the optimizer.
        T_0: number of epochs until the first restart (positive int).
        T_mult: factor by which the period grows after each restart (int >= 1, default: 1).
        eta_min: minimum learning rate (default: 0).
        last_epoch: see :class:`LRScheduler` (default: -1).

    Example:
        >>> import nnlab
        >>> from nnlab.optim import SGD
        >>> opt = SGD([nnlab.zeros(1, requires_grad=True)], lr=1.0)
        >>> sched = CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        >>> lrs = [sched.get_last_lr()[0]]
        >>> for _ in range(6):
        ...     opt.step(); sched.step(); lrs.append(round(sched.get_last_lr()[0], 4))
        >>> lrs
        [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        T_0: int,
        T_mult: int = 1,
        eta_min: float = 0.0,
        last_epoch: int = -1,
    ) -> None:
        if not isinstance(T_0, int) or T_0 <= 0:
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if not isinstance(T_mult, int) or T_mult < 1:
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}"
            )
        self.T_0 = T_0
        self.T_i = T_0
        self.T_mult = T_mult
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        cosine = (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2
        return [self.eta_min + (base - self.eta_min) * cosine for base in self.base_lrs]

    def step(self, epoch: float | None = None) -> None:
        """Advance by one epoch, or jump to ``epoch`` (which may be fractional)."""
        self._step_count += 1
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            if epoch < 0:
                raise ValueError(f"Expected non-negative epoch, but got {epoch}")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log(epoch / self.T_0 * (self.T_mult - 1) + 1, self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult**n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin, 2018), stepped once per batch: the learning rate
    rises from ``max_lr / div_factor`` to ``max_lr`` during the first ``pct_start`` of the
    ``total_steps``, then falls to ``initial_lr / final_div_factor``; the momentum (SGD's
    ``momentum`` or Adam's ``beta1``) moves the opposite way between ``max_momentum`` and
    ``base_momentum``. With ``three_phase`` the fall mirrors the rise back to ``initial_lr``
    and a third phase anneals to the minimum, as in the paper.

    Args:
        optimizer: the optimizer.
        max_lr: peak learning rate, or one per group.
        total_steps: number of steps in the cycle; or give ``epochs`` and ``steps_per_epoch``.
        epochs: number of epochs (with ``steps_per_epoch``).
        steps_per_epoch: number of steps per epoch (with ``epochs``).
        pct_start: fraction of the cycle spent increasing the learning rate (default: 0.3).
        anneal_strategy: ``"cos"`` or ``"linear"`` (default: ``"cos"``).
        cycle_momentum: cycle the momentum inversely to the learning rate (default: True).
        base_momentum: momentum at the peak learning rate, or one per group (default: 0.85).
        max_momentum: momentum at the start and end, or one per group (default: 0.95).
        div_factor: ``initial_lr = max_lr / div_factor`` (default: 25).
        final_div_factor: ``min_lr = initial_lr / final_div_factor`` (default: 1e4).
        three_phase: use the paper's three phases instead of fastai's two (default: False).
        last_epoch: index of the last batch, see :class:`LRScheduler` (default: -1).

    Example:
        >>> import nnlab
        >>> from nnlab.optim import SGD
        >>> opt = SGD([nnlab.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
        >>> sched = OneCycleLR(opt, max_lr=1.0, total_steps=10)
        >>> round(sched.get_last_lr()[0], 6), opt.param_groups[0]["momentum"]
        (0.04, 0.95)
        >>> for _ in range(2):
        ...     opt.step(); sched.step()
        >>> sched.get_last_lr(), opt.param_groups[0]["momentum"]
        ([1.0], 0.85)
    """

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | list[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | list[float] = 0.85,
        max_momentum: float | list[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(
                    f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}"
                )
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(
                f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}"
            )
        self._anneal_func_type = anneal_strategy
        up_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            # (end_step, start_lr, end_lr, start_momentum, end_momentum), by group key
            down_end = float(2 * pct_start * self.total_steps) - 2
            self._schedule_phases = [
                [up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                [down_end, "max_lr", "initial_lr", "base_momentum", "max_momentum"],
                [self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"],
            ]
        else:
            self._schedule_phases = [
                [up_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"],
                [self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"],
            ]
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for lr, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = lr / div_factor
                group["max_lr"] = lr
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(
                    "optimizer must support momentum or beta1 with `cycle_momentum` option "
                    f"enabled ({type(optimizer).__name__} has neither)"
                )
            self.use_beta1 = "betas" in optimizer.defaults
            max_moms = _per_group("max_momentum", optimizer, max_momentum)
            base_moms = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_moms, base_moms, optimizer.param_groups):
                    self._set_momentum(group, m_max)
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _schedule(self, group: dict[str, Any], step_num: int) -> tuple[float, float | None]:
        """The learning rate and momentum of ``group`` at batch ``step_num``."""
        start_step = 0.0
        last = len(self._schedule_phases) - 1
        for i, (end_step, lr_from, lr_to, mom_from, mom_to) in enumerate(self._schedule_phases):
            if step_num <= end_step or i == last:
                pct = (step_num - start_step) / (end_step - start_step)
                lr = self._anneal(group[lr_from], group[lr_to], pct)
                momentum = None
                if self.cycle_momentum:
                    momentum = self._anneal(group[mom_from], group[mom_to], pct)
                return lr, momentum
            start_step = end_step
        raise AssertionError("unreachable")

    def _set_momentum(self, group: dict[str, Any], momentum: float) -> None:
        if self.use_beta1:
            group["betas"] = (momentum, *group["betas"][1:])
        else:
            group["momentum"] = momentum

    def get_lr(self) -> list[float]:
        if self.last_epoch > self.total_steps:
            raise ValueError(
                f"Tried to step {self.last_epoch} times. The specified number of total steps "
                f"is {self.total_steps}"
            )
        lrs = []
        for group in self.optimizer.param_groups:
            lr, momentum = self._schedule(group, self.last_epoch)
            lrs.append(lr)
            if momentum is not None:
                self._set_momentum(group, momentum)
        return lrs

    def _restore_lr(self) -> None:
        # PyTorch saves the phases as dicts; accept its state_dict too.
        keys = ("end_step", "start_lr", "end_lr", "start_momentum", "end_momentum")
        self._schedule_phases = [
            [phase[k] for k in keys] if isinstance(phase, Mapping) else list(phase)
            for phase in self._schedule_phases
        ]
        super()._restore_lr()
        if self.cycle_momentum:
            for group in self.optimizer.param_groups:
                _, momentum = self._schedule(group, self.last_epoch)
                self._set_momentum(group, momentum)
