"""Unit tests of the measuring helpers of experiments/landscape.py."""

from __future__ import annotations

import numpy as np

from experiments.landscape import barrier, distinct_levels, filter_normalized_direction


def test_distinct_levels_groups_values_closer_than_the_gap():
    values = np.array([0.001, 0.003, 0.35, 0.002, 0.347])
    assert np.allclose(distinct_levels(values, gap=0.01), [0.002, 0.3485])


def test_barrier_is_the_excess_over_the_chord_between_the_ends():
    ts = np.round(np.linspace(-0.2, 1.2, 29), 6)
    bump = 1.0 + ts + 4 * np.clip(ts * (1 - ts), 0, None)  # chord 1 + t, bump 1 at t = 0.5
    assert np.isclose(barrier(bump, ts), 1.0)
    assert abs(barrier(1.0 + ts, ts)) < 1e-12


def test_filter_normalized_direction_matches_row_norms_and_skips_biases():
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal((3, 4)).astype(np.float32), np.ones(3, dtype=np.float32)]
    w, b = filter_normalized_direction(rng, weights)
    assert np.allclose(np.linalg.norm(w, axis=1), np.linalg.norm(weights[0], axis=1), rtol=1e-5)
    assert not b.any()
