"""Step a learning-rate scheduler at the right moment of the loop."""

from __future__ import annotations

from typing import Any

from nnlab.train.callbacks.base import Callback

__all__ = ["LRSchedulerCallback"]


class LRSchedulerCallback(Callback):
    """Call ``scheduler.step()`` after every epoch (``interval="epoch"``) or after every
    optimizer step (``interval="step"``, e.g. OneCycleLR). A ``ReduceLROnPlateau`` is
    stepped with the epoch's value of ``monitor``.
    """

    def __init__(self, scheduler: Any, interval: str = "epoch", monitor: str = "val_loss") -> None:
        if interval not in ("epoch", "step"):
            raise ValueError(f"interval must be 'epoch' or 'step', got {interval!r}")
        self.scheduler = scheduler
        self.interval = interval
        self.monitor = monitor

    @property
    def _on_plateau(self) -> bool:
        return type(self.scheduler).__name__ == "ReduceLROnPlateau"

    def on_batch_end(self, step: int, logs: dict[str, Any] | None = None) -> None:
        if self.interval == "step" and not self._on_plateau:
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.interval != "epoch":
            return
        if self._on_plateau:
            logs = logs or {}
            key = self.monitor if self.monitor in logs else "loss"
            self.scheduler.step(logs[key])
        else:
            self.scheduler.step()
