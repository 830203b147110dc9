"""Plots of a training run, written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_history", "plot_lr", "plot_confusion_matrix", "plot_roc", "plot_regression"]


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_history(epochs: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Loss (train and validation) and every other logged metric, one panel each."""
    keys = [
        k for k in epochs[0] if not k.startswith("val_") and k not in ("lr", "time", "grad_norm")
    ]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.4), squeeze=False)
    x = np.arange(1, len(epochs) + 1)
    for ax, key in zip(axes[0], keys):
        ax.plot(x, [e.get(key) for e in epochs], label=f"train {key}")
        if f"val_{key}" in epochs[0]:
            ax.plot(x, [e.get(f"val_{key}") for e in epochs], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_lr(steps: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Learning rate and gradient norm per optimizer step."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.2))
    a.plot([s["lr"] for s in steps])
    a.set_title("learning rate")
    a.set_xlabel("step")
    b.plot([s["grad_norm"] for s in steps], lw=0.7)
    b.set_title("gradient norm")
    b.set_xlabel("step")
    b.set_yscale("log")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_confusion_matrix(
    cm: np.ndarray, path: str | Path, labels: Sequence[Any] | None = None
) -> Path:
    """Counts of (true class, predicted class); the diagonal is what the model got right."""
    cm = np.asarray(cm)
    n = cm.shape[0]
    fig, ax = plt.subplots(figsize=(0.5 * n + 2.5, 0.5 * n + 2))
    ax.imshow(cm, cmap="Blues")
    labels = list(labels) if labels is not None else list(range(n))
    ax.set_xticks(range(n), labels)
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = cm.max() if cm.size else 0
    for i in range(n):
        for j in range(n):
            color = "white" if cm[i, j] > top / 2 else "black"
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", color=color, fontsize=8)
    ax.set_title("confusion matrix")
    return _save(fig, path)


def plot_roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, path: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"ROC (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)


def plot_regression(
    x: np.ndarray, y_true: np.ndarray, y_pred: np.ndarray, path: str | Path
) -> Path:
    """Targets and predictions against a 1-D input (or against each other otherwise)."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 1:
        order = np.argsort(x[:, 0])
        ax.scatter(x[:, 0], y_true, s=8, alpha=0.5, label="data")
        ax.plot(x[order, 0], np.asarray(y_pred).reshape(-1)[order], color="C1", label="model")
        ax.set_xlabel("x")
    else:
        ax.scatter(y_true, y_pred, s=8, alpha=0.6)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    ax.legend() if x.ndim == 2 and x.shape[1] == 1 else None
    ax.grid(alpha=0.3)
    return _save(fig, path)
