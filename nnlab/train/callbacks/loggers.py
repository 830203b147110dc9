"""Write the epoch logs to CSV or JSON as training goes (a crash keeps what was done).

In data-parallel training only rank 0 writes (every rank's logs are the same)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from nnlab.train.callbacks.base import Callback

__all__ = ["CSVLogger", "JSONLogger"]


class CSVLogger(Callback):
    """Append one row per epoch to ``path`` (columns: epoch and every logged quantity)."""

    def __init__(self, path: str | Path, append: bool = False) -> None:
        self.path = Path(path)
        self.append = append
        self._keys: list[str] | None = None

    def on_train_begin(self, logs=None):
        if not self.writes_files:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.append and self.path.exists():
            self.path.unlink()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if not self.writes_files:
            return
        row = {"epoch": epoch + 1, **(logs or {})}
        new = not self.path.exists()
        if self._keys is None:
            self._keys = list(row)
        with self.path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._keys, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)


class JSONLogger(Callback):
    """Rewrite ``path`` after every epoch with the list of all epoch logs so far."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.rows: list[dict[str, Any]] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.rows.append({"epoch": epoch + 1, **(logs or {})})
        if not self.writes_files:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.rows, indent=2))
        tmp.replace(self.path)

    def state_dict(self) -> dict[str, Any]:
        return {"rows": json.dumps(self.rows)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = json.loads(state["rows"])
