"""Callbacks: small objects the training loop calls at named moments.

The loop (:class:`nnlab.train.Trainer`) calls, in order::

    on_train_begin
      on_epoch_begin(epoch)
        on_batch_begin(step) / on_batch_end(step, logs)   # once per optimizer step
      on_epoch_end(epoch, logs)                           # logs has loss, val_loss, metrics, lr
    on_train_end(logs)

Every hook receives the trainer as ``self.trainer`` (set before ``on_train_begin``), so a
callback can read the model, the optimizer or the history, or set
``trainer.stop_training = True``. Monitoring callbacks (early stopping, checkpoints)
share :class:`MonitorCallback`, which tracks the best value of one logged quantity.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

__all__ = ["Callback", "CallbackList", "MonitorCallback", "LambdaCallback"]


class Callback:
    """Base class: override any of the hooks; all do nothing by default."""

    trainer: Any = None

    def set_trainer(self, trainer: Any) -> None:
        self.trainer = trainer

    @property
    def writes_files(self) -> bool:
        """Whether this process writes and shows what the callback makes: False on ranks
        other than 0 of data-parallel training (and True without a trainer)."""
        return getattr(self.trainer, "writes_files", True)

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None: ...

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_batch_begin(self, step: int, logs: dict[str, Any] | None = None) -> None: ...

    def on_batch_end(self, step: int, logs: dict[str, Any] | None = None) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """State to keep in a checkpoint so a resumed run behaves as an uninterrupted one."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class CallbackList(Callback):
    """Dispatches every hook to each callback in order."""

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)

    def set_trainer(self, trainer: Any) -> None:
        for c in self.callbacks:
            c.set_trainer(trainer)

    def on_train_begin(self, logs=None):
        for c in self.callbacks:
            c.on_train_begin(logs)

    def on_train_end(self, logs=None):
        for c in self.callbacks:
            c.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs=None):
        for c in self.callbacks:
            c.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        for c in self.callbacks:
            c.on_epoch_end(epoch, logs)

    def on_batch_begin(self, step, logs=None):
        for c in self.callbacks:
            c.on_batch_begin(step, logs)

    def on_batch_end(self, step, logs=None):
        for c in self.callbacks:
            c.on_batch_end(step, logs)

    def state_dict(self) -> dict[str, Any]:
        return {f"{i}.{type(c).__name__}": c.state_dict() for i, c in enumerate(self.callbacks)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for i, c in enumerate(self.callbacks):
            key = f"{i}.{type(c).__name__}"
            if key in state:
                c.load_state_dict(state[key])


class MonitorCallback(Callback):
    """Tracks the best value of ``monitor`` in the epoch logs.

    Args:
        monitor: the logged quantity, e.g. ``"val_loss"`` or ``"val_accuracy"``.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max for names with accuracy, f1, auc,
            precision, recall or r2; min otherwise).
        min_delta: an improvement must exceed this to count.
    """

    _MAX_WORDS = ("acc", "f1", "auc", "precision", "recall", "r2", "iou", "dice")

    def __init__(
        self, monitor: str = "val_loss", mode: str = "auto", min_delta: float = 0.0
    ) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be one of 'auto', 'min', 'max'; got {mode!r}")
        if mode == "auto":
            mode = "max" if any(w in monitor for w in self._MAX_WORDS) else "min"
        self.monitor = monitor
        self.mode = mode
        self.min_delta = abs(min_delta)
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch = -1

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        """Fail before the first epoch, not after it, when ``monitor`` is never logged."""
        logged = self.trainer.logged_keys() if self.trainer is not None else None
        if logged is not None and self.monitor not in logged:
            raise ValueError(
                f"{type(self).__name__}: monitor {self.monitor!r} is never logged; "
                f"logged: {', '.join(sorted(logged))}"
            )

    def current(self, logs: dict[str, Any] | None) -> float | None:
        if not logs or self.monitor not in logs:
            return None
        return float(logs[self.monitor])

    def improved(self, value: float) -> bool:
        if math.isnan(value):
            return False
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])


class LambdaCallback(Callback):
    """Build a callback from plain functions: ``LambdaCallback(on_epoch_end=f)``."""

    def __init__(self, **hooks: Any) -> None:
        for name, fn in hooks.items():
            if not name.startswith("on_") or not hasattr(Callback, name):
                raise ValueError(f"unknown hook {name!r}")
            setattr(self, name, fn)
