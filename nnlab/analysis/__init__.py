"""Looking at networks and runs: plots and receptive fields."""

from nnlab.analysis.plots import (
    plot_confusion_matrix,
    plot_curves,
    plot_distance_histogram,
    plot_embedding,
    plot_history,
    plot_image_grid,
    plot_lr,
    plot_perceptron_errors,
    plot_regression,
    plot_roc,
    plot_segmentation,
    save_figure,
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
    "save_figure", "plot_curves", "plot_distance_histogram", "plot_embedding", "plot_image_grid",
]  # fmt: skip

# Gradient flow through the time steps of recurrent layers.
from nnlab.analysis.gradient_flow import time_step_grad_norms  # noqa: E402

__all__ += ["time_step_grad_norms"]

# Attention heatmaps (sequence-to-sequence models).
from nnlab.analysis.attention_plot import plot_attention  # noqa: E402

__all__ += ["plot_attention"]
