"""Looking at networks and runs: plots (and, later, receptive fields and landscapes)."""

from nnlab.analysis.plots import (
    plot_confusion_matrix,
    plot_history,
    plot_lr,
    plot_perceptron_errors,
    plot_regression,
    plot_roc,
    plot_segmentation,
)

__all__ = [
    "plot_confusion_matrix", "plot_history", "plot_lr", "plot_perceptron_errors",
    "plot_regression", "plot_roc", "plot_segmentation",
]  # fmt: skip
