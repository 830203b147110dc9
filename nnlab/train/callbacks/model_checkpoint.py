"""Save the training state at the best epoch and at the last one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nnlab.train.callbacks.base import MonitorCallback

__all__ = ["ModelCheckpoint"]


class ModelCheckpoint(MonitorCallback):
    """Write ``best.safetensors`` when ``monitor`` improves and ``last.safetensors`` after
    every epoch, into ``dirpath``. Each file is a full, atomically written checkpoint
    (model, optimizer, scheduler, RNG states, epoch), so training can resume from it.
    In data-parallel training every rank tracks the best value (their logs are equal) but
    only rank 0 writes.

    Args:
        dirpath: folder for the checkpoint files.
        monitor: logged quantity that defines "best" (default ``"val_loss"``).
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_best: keep the best epoch's checkpoint.
        save_last: keep the latest epoch's checkpoint.
    """

    def __init__(
        self,
        dirpath: str | Path,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best: bool = True,
        save_last: bool = True,
    ) -> None:
        super().__init__(monitor, mode)
        self.dirpath = Path(dirpath)
        self.save_best = save_best
        self.save_last = save_last

    @property
    def best_path(self) -> Path:
        return self.dirpath / "best.safetensors"

    @property
    def last_path(self) -> Path:
        return self.dirpath / "last.safetensors"

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = self.current(logs)
        writes = self.writes_files
        if self.save_best and value is not None and self.improved(value):
            self.best, self.best_epoch = value, epoch
            if writes:
                self.trainer.save(self.best_path)
        if self.save_last and writes:
            self.trainer.save(self.last_path)
