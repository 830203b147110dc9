"""The reliability diagram draws what the bins say: bar heights are the bins' accuracies,
the shaded gaps end at the bins' mean confidences, empty bins draw nothing."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from nnlab.analysis.reliability import draw_reliability_diagram, plot_reliability_diagram
from nnlab.metrics.calibration import reliability_bins


def _probs(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = 3.0 * rng.standard_normal((300, 4))
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True), rng.integers(0, 4, 300)


def test_bars_are_the_bin_accuracies_and_confidences() -> None:
    p, y = _probs(0)
    bins = reliability_bins(p, y, n_bins=10)
    ax = Figure().subplots()
    draw_reliability_diagram(ax, bins)
    filled = bins.count > 0
    assert not filled.all()  # confidences of 4 classes are ≥ 1/4: low bins stay empty
    n = int(filled.sum())
    bars, gaps = ax.patches[:n], ax.patches[n : 2 * n]
    assert len(ax.patches) == 2 * n
    np.testing.assert_allclose([b.get_height() for b in bars], bins.accuracy[filled])
    np.testing.assert_allclose([b.get_x() for b in bars], bins.edges[:-1][filled])
    tops = [g.get_y() + g.get_height() for g in gaps]
    np.testing.assert_allclose(tops, bins.confidence[filled])


def test_plot_writes_a_png(tmp_path) -> None:
    p, y = _probs(1)
    path = plot_reliability_diagram(p, y, tmp_path / "sub" / "reliability.png", title="test")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="must be a ReliabilityBins"):
        draw_reliability_diagram(Figure().subplots(), np.zeros(3))
