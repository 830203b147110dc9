"""Reliability diagrams: a classifier's accuracy against its confidence, bin by bin.

The predictions are binned by their top-label confidence
(:func:`nnlab.metrics.calibration.reliability_bins`); each bin is drawn as a bar as high
as its accuracy, and the gap to the diagonal (accuracy = confidence) is shaded up to the
bin's mean confidence. A calibrated model's bars touch the diagonal; an over-confident
model's bars stay below it (Guo et al., ICML 2017, Figure 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnlab.analysis.plots import save_figure  # noqa: E402
from nnlab.metrics.calibration import (  # noqa: E402
    ReliabilityBins,
    expected_calibration_error,
    reliability_bins,
)

__all__ = ["draw_reliability_diagram", "plot_reliability_diagram"]


def draw_reliability_diagram(ax: Any, bins: ReliabilityBins, title: str = "") -> None:
    """Draw the reliability diagram of ``bins`` on the matplotlib axes ``ax``: one bar per
    non-empty bin of height acc_b, the gap from acc_b to conf_b shaded, and the diagonal.

    The bars are the first ``ax.patches`` (in bin order), then the gaps.
    """
    if not isinstance(bins, ReliabilityBins):
        raise TypeError(
            "draw_reliability_diagram: bins must be a ReliabilityBins (from "
            f"nnlab.metrics.calibration.reliability_bins), got {type(bins).__name__}"
        )
    filled = bins.count > 0
    left = bins.edges[:-1][filled]
    width = np.diff(bins.edges)[filled]
    accuracy, confidence = bins.accuracy[filled], bins.confidence[filled]
    ax.bar(
        left, accuracy, width=width, align="edge", color="C0", edgecolor="black", label="accuracy"
    )
    ax.bar(
        left,
        confidence - accuracy,
        bottom=accuracy,
        width=width,
        align="edge",
        color="C3",
        alpha=0.3,
        hatch="//",
        edgecolor="C3",
        label="gap to confidence",
    )
    ax.plot([0, 1], [0, 1], "--", color="grey", label="calibrated")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)


def plot_reliability_diagram(
    preds: Any, target: Any, path: str | Path, n_bins: int = 15, title: str = ""
) -> Path:
    """Write the reliability diagram of (N, C) probabilities or logits ``preds`` against
    labels ``target`` as a PNG: the diagram above, the fraction of predictions per bin
    below, and the expected calibration error in the title.

    Returns:
        The path written.

    Example:
        >>> import os, tempfile, numpy as np
        >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
        >>> plot_reliability_diagram(probs, [0, 1, 1], os.path.join(tempfile.mkdtemp(),
        ...                          "reliability.png"), n_bins=5).exists()
        True
    """
    bins = reliability_bins(preds, target, n_bins)
    ece = expected_calibration_error(preds, target, n_bins)
    fig, (top, bottom) = plt.subplots(
        2, 1, figsize=(4.2, 5.2), sharex=True, gridspec_kw={"height_ratios": (3, 1)}
    )
    draw_reliability_diagram(
        top, bins, f"{title} (ECE = {ece:.3f})" if title else f"ECE = {ece:.3f}"
    )
    bottom.bar(
        bins.edges[:-1],
        bins.weight,
        width=np.diff(bins.edges),
        align="edge",
        color="grey",
        edgecolor="black",
    )
    bottom.set_xlabel("confidence")
    bottom.set_ylabel("fraction")
    return save_figure(fig, path)
