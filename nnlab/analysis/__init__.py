"""Looking at networks and runs: plots, receptive fields, gradient flow, reliability
diagrams, loss landscapes and curvature."""

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

# Calibration: reliability diagrams.
from nnlab.analysis.reliability import draw_reliability_diagram, plot_reliability_diagram  # noqa: E402

__all__ += ["draw_reliability_diagram", "plot_reliability_diagram"]

# The loss landscape around a solution, and its curvature.
from nnlab.analysis.hessian import (  # noqa: E402
    HessianEigen,
    TraceEstimate,
    epsilon_sharpness,
    hessian_trace,
    hessian_vector_product,
    top_hessian_eigenvalues,
)
from nnlab.analysis.landscape import (  # noqa: E402
    InterpolationResult,
    filter_normalize,
    filter_normalized_direction,
    linear_interpolation,
    loss_barrier,
    loss_slice_1d,
    loss_surface_2d,
    random_direction,
)

__all__ += [
    "HessianEigen", "InterpolationResult", "TraceEstimate", "epsilon_sharpness",
    "filter_normalize", "filter_normalized_direction", "hessian_trace", "hessian_vector_product",
    "linear_interpolation", "loss_barrier", "loss_slice_1d", "loss_surface_2d",
    "random_direction", "top_hessian_eigenvalues",
]  # fmt: skip
