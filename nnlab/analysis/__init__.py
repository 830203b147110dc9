"""Looking at networks and runs: plots and receptive fields."""

from nnlab.analysis.plots import (
    plot_confusion_matrix,
    plot_history,
    plot_lr,
    plot_perceptron_errors,
    plot_regression,
    plot_roc,
    plot_segmentation,
)
from nnlab.analysis.receptive_field import (
    EmpiricalReceptiveField,
    ReceptiveField,
    ReceptiveFieldRow,
    empirical_receptive_field,
    receptive_field,
)

__all__ = [
    "EmpiricalReceptiveField", "ReceptiveField", "ReceptiveFieldRow",
    "empirical_receptive_field", "receptive_field", "plot_confusion_matrix", "plot_history",
    "plot_lr", "plot_perceptron_errors", "plot_regression", "plot_roc", "plot_segmentation",
]  # fmt: skip
