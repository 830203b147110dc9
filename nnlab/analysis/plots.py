"""Plots of a training run, written as PNG files (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = [
    "save_figure", "plot_history", "plot_lr", "plot_confusion_matrix", "plot_roc",
    "plot_regression", "plot_perceptron_errors", "plot_segmentation", "plot_image_grid",
    "plot_curves", "plot_embedding", "plot_distance_histogram",
]  # fmt: skip


def save_figure(fig: Any, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` to ``path`` (the suffix picks the format; missing folders are created)
    after a tight layout, then close it so that a long run does not pile up open figures.

    Every figure nnlab draws ends here, so they share one size policy.

    Returns:
        The path written.

    Example:
        >>> import os, tempfile
        >>> fig, ax = plt.subplots()
        >>> _ = ax.plot([0, 1], [1, 0])
        >>> save_figure(fig, os.path.join(tempfile.mkdtemp(), "sub", "line.png")).exists()
        True
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def plot_history(epochs: Sequence[dict[str, Any]], path: str | Path, title: str = "") -> Path:
    """Loss (train and validation) and every other logged metric, one panel each, at most
    three panels a row."""
    skip = ("lr", "time", "grad_norm")
    keys = [k for k in epochs[0] if not k.startswith("val_") and k not in skip]
    cols = min(len(keys), 3)
    rows = -(-len(keys) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.5 * cols, 3.4 * rows), squeeze=False)
    x = np.arange(1, len(epochs) + 1)
    for ax, key in zip(axes.flat, keys):
        ax.plot(x, [e.get(key) for e in epochs], label=f"train {key}")
        if f"val_{key}" in epochs[0]:
            ax.plot(x, [e.get(f"val_{key}") for e in epochs], label=f"validation {key}")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in list(axes.flat)[len(keys) :]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


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
    return save_figure(fig, path)


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
    return save_figure(fig, path)


def plot_roc(fpr: np.ndarray, tpr: np.ndarray, auc: float, path: str | Path) -> Path:
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(fpr, tpr, label=f"ROC (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_regression(
    x: np.ndarray,
    y_true: np.ndarray,
    y_pred: np.ndarray,
    path: str | Path,
    curve: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """Data and the fitted function for a 1-D input (``curve``: the model evaluated on a
    fine grid), or predicted against true values otherwise."""
    fig, ax = plt.subplots(figsize=(5, 3.6))
    x = np.asarray(x)
    if x.ndim == 2 and x.shape[1] == 1:
        ax.scatter(x[:, 0], np.asarray(y_true).reshape(-1), s=8, alpha=0.5, label="test data")
        if curve is not None:
            gx, gy = curve
            ax.plot(np.asarray(gx)[:, 0], np.asarray(gy).reshape(-1), color="C1", label="model")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend()
    else:
        ax.scatter(y_true, y_pred, s=8, alpha=0.6)
        ax.set_xlabel("true")
        ax.set_ylabel("predicted")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_perceptron_errors(errors: Sequence[int], path: str | Path) -> Path:
    """Misclassified training samples per epoch of the perceptron learning rule: it reaches
    zero and stays there on separable data, and never does otherwise."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    ax.plot(np.arange(1, len(errors) + 1), errors, marker="o", ms=3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training errors")
    ax.set_title("perceptron learning rule")
    ax.grid(alpha=0.3)
    return save_figure(fig, path)


def plot_segmentation(
    images: np.ndarray, masks: np.ndarray, predicted: np.ndarray, path: str | Path
) -> Path:
    """One row per sample: the image, its true mask and the predicted mask."""
    n = len(images)
    fig, axes = plt.subplots(n, 3, figsize=(6, 2 * n), squeeze=False)
    for i in range(n):
        image = np.asarray(images[i])
        image = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        panels = ((image, "gray", "image"), (masks[i], "tab10", "true mask"),
                  (predicted[i], "tab10", "predicted"))  # fmt: skip
        for ax, (data, cmap, title) in zip(axes[i], panels):
            limits = {} if cmap == "gray" else {"vmin": 0, "vmax": 9}
            ax.imshow(data, cmap=cmap, interpolation="nearest", **limits)
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title)
    return save_figure(fig, path)


def plot_image_grid(
    images: np.ndarray, path: str | Path, ncols: int = 10, title: str = "",
    row_labels: Sequence[str] | None = None,
) -> Path:  # fmt: skip
    """Grey images in a grid, ``ncols`` a row: (N, H, W), (N, 1, H, W), or flat rows
    (N, H·H) of square images. Each image is shown over its own grid's value range, so
    samples and originals that share a figure share a scale."""
    x = np.asarray(images, dtype=np.float64)
    if x.ndim == 2:
        side = int(round(np.sqrt(x.shape[1])))
        if side * side != x.shape[1]:
            raise ValueError(f"plot_image_grid: rows of {x.shape[1]} values are not square images")
        x = x.reshape(-1, side, side)
    elif x.ndim == 4 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 3 or len(x) == 0:
        raise ValueError(
            f"plot_image_grid: expected (N, H, W) images, got shape {np.shape(images)}"
        )
    ncols = max(1, min(ncols, len(x)))
    nrows = -(-len(x) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(0.8 * ncols + 0.6, 0.8 * nrows + 0.4),
                             squeeze=False)  # fmt: skip
    low, high = float(x.min()), float(x.max())
    for k, ax in enumerate(axes.flat):
        if k < len(x):
            ax.imshow(x[k], cmap="gray", vmin=low, vmax=high, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(k < len(x))
    for r, label in enumerate(row_labels or []):
        axes[r, 0].set_ylabel(label, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_curves(
    series: dict[str, Sequence[float]], path: str | Path, xlabel: str = "epoch", title: str = ""
) -> Path:
    """Several curves on one pair of axes (the losses of a GAN's two players, a VAE's
    reconstruction and KL terms), against 1, 2, ... of ``xlabel``."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, values in series.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_xlabel(xlabel)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_embedding(points: np.ndarray, labels: np.ndarray, path: str | Path,
                   title: str = "") -> Path:  # fmt: skip
    """2-D points (an embedding's projection) coloured by class."""
    points, labels = np.asarray(points), np.asarray(labels)
    fig, ax = plt.subplots(figsize=(5, 4.4))
    for c in np.unique(labels):
        at = labels == c
        ax.scatter(points[at, 0], points[at, 1], s=8, alpha=0.7, label=str(c))
    ax.legend(fontsize=7, markerscale=2, ncols=2)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)


def plot_distance_histogram(same: np.ndarray, different: np.ndarray, path: str | Path) -> Path:
    """Distances between pairs of the same class and of different classes: the further
    apart the two histograms, the better the embedding verifies pairs."""
    fig, ax = plt.subplots(figsize=(5, 3.4))
    bins = np.histogram_bin_edges(np.concatenate([same, different]), bins=40)
    ax.hist(same, bins=bins, alpha=0.6, density=True, label="same class")
    ax.hist(different, bins=bins, alpha=0.6, density=True, label="different classes")
    ax.set_xlabel("embedding distance")
    ax.legend()
    ax.grid(alpha=0.3)
    return save_figure(fig, path)
