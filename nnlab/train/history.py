"""``History``: what happened during training, epoch by epoch and step by step."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

__all__ = ["History"]


class History:
    """Per-epoch logs (``epochs``: list of dicts with loss, val_loss, metrics, lr, time) and
    per-step logs (``steps``: loss, lr, grad_norm). ``history["val_loss"]`` gives a column.

    Example:
        >>> h = History()
        >>> h.log_epoch({"loss": 0.5, "val_loss": 0.6})
        >>> h["val_loss"]
        [0.6]
    """

    def __init__(self) -> None:
        self.epochs: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.stop_reason: str | None = None

    def log_epoch(self, logs: dict[str, Any]) -> None:
        self.epochs.append(dict(logs))

    def log_step(self, logs: dict[str, Any]) -> None:
        self.steps.append(dict(logs))

    def __getitem__(self, key: str) -> list[Any]:
        if not self.epochs or key not in self.epochs[-1]:
            available = sorted(self.epochs[-1]) if self.epochs else []
            raise KeyError(f"{key!r} was not logged; available: {available}")
        return [e.get(key) for e in self.epochs]

    @property
    def history(self) -> dict[str, list[Any]]:
        """Keras' form: ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch."""
        return {k: self[k] for k in self.keys()}

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        shown = ", ".join(f"{k}={v:.4g}" for k, v in last.items() if isinstance(v, float))
        return f"History({len(self.epochs)} epochs, {len(self.steps)} steps; last: {shown})"

    def keys(self) -> list[str]:
        return list(self.epochs[-1]) if self.epochs else []

    def __len__(self) -> int:
        return len(self.epochs)

    def state_dict(self) -> dict[str, Any]:
        return {"epochs": json.dumps(self.epochs), "steps": json.dumps(self.steps)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epochs = json.loads(state["epochs"])
        self.steps = json.loads(state["steps"])

    def to_json(self, path: str | Path) -> None:
        data = {"epochs": self.epochs, "steps": self.steps, "stop_reason": self.stop_reason}
        Path(path).write_text(json.dumps(data, indent=1))

    def to_csv(self, path: str | Path) -> None:
        keys: list[str] = []
        for e in self.epochs:
            keys += [k for k in e if k not in keys]
        with Path(path).open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(self.epochs)
