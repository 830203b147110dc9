"""The calibration measure of experiments.losses on cases with a known answer."""

from __future__ import annotations

import numpy as np

from experiments.losses import calibration_bins, expected_calibration_error


def test_ece_is_zero_when_confidence_matches_accuracy():
    # Confidence 0.75 on every example and three in four right: perfectly calibrated.
    probs = np.tile([0.75, 0.25], (4, 1))
    labels = np.array([0, 0, 0, 1])
    assert expected_calibration_error(probs, labels) == 0.0


def test_ece_is_the_confidence_accuracy_gap_weighted_by_bin_size():
    # Two bins: 0.95 confidence and all wrong (gap 0.95, weight 1/2), 0.55 and all right
    # (gap 0.45, weight 1/2).
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.55, 0.45]])
    labels = np.array([1, 1, 0, 0])
    assert np.isclose(expected_calibration_error(probs, labels), 0.5 * 0.95 + 0.5 * 0.45)
    conf, acc, count = calibration_bins(probs, labels)
    assert count.sum() == 4 and count[9] == 2 and count[5] == 2
    assert np.isnan(conf[0]) and acc[9] == 0.0 and acc[5] == 1.0
