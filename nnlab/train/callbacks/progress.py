"""A progress bar (rich) for interactive terminals, one line per epoch elsewhere."""

from __future__ import annotations

import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from nnlab.train.callbacks.base import Callback

__all__ = ["ProgressBar"]


def _number(v: float) -> str:
    return f"{v:.4f}" if 1e-3 <= abs(v) < 1e4 or v == 0 else f"{v:.3e}"


def format_logs(logs: dict[str, Any], keys: list[str] | None = None) -> str:
    return "  ".join(
        f"{k} {_number(logs[k])}" for k in keys or sorted(logs) if isinstance(logs.get(k), float)
    )


class ProgressBar(Callback):
    """Show epoch, batch, running loss and ETA while training.

    On a terminal it draws a live bar; when output goes to a file or a pipe (CI, logs)
    it prints one summary line per epoch instead, so logs stay readable. In data-parallel
    training only rank 0 shows anything.
    """

    def __init__(self, console: Console | None = None, leave: bool = False) -> None:
        self.console = console or Console(file=sys.stdout)
        self.leave = leave
        self._progress: Progress | None = None
        self._task: Any = None

    @property
    def live(self) -> bool:
        return self.console.is_terminal and self.writes_files

    def on_train_begin(self, logs=None):
        if self.live:
            self._progress = Progress(
                TextColumn("[bold]epoch {task.fields[epoch]}/{task.fields[epochs]}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=not self.leave,
            )
            self._progress.start()

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()
        if self._progress is not None:
            total = self.trainer.steps_per_epoch
            fields = {"epoch": epoch + 1, "epochs": self.trainer.epochs, "stats": ""}
            if self._task is None:
                self._task = self._progress.add_task("train", total=total, **fields)
            else:
                self._progress.reset(self._task, total=total, **fields)

    def on_batch_end(self, step, logs=None):
        if self._progress is not None and self._task is not None:
            loss = (logs or {}).get("loss")
            stats = f"loss {loss:.4f}" if isinstance(loss, float) else ""
            self._progress.update(self._task, advance=1, stats=stats)

    def on_epoch_end(self, epoch, logs=None):
        if not self.writes_files:
            return
        logs = logs or {}
        keys = [k for k in logs if k not in ("epoch", "time")]
        line = f"epoch {epoch + 1}/{self.trainer.epochs}  {format_logs(logs, keys)}"
        line += f"  ({time.perf_counter() - self._start:.2f}s)"
        if self._progress is not None:
            self._progress.console.print(line)
        else:
            print(line, flush=True)

    def on_train_end(self, logs=None):
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._task = None
