"""Unit tests of the helpers of experiments/optimizer_paths.py."""

from __future__ import annotations

import numpy as np

from experiments.optimizer_paths import OPTIMIZERS, descend, quadratic, steps_to


def test_steps_to_finds_the_first_step_at_or_below_the_target():
    assert steps_to(np.array([3.0, 2.0, 0.5, 0.7, 0.1]), 0.5) == 2
    assert steps_to(np.array([3.0, 2.0]), 0.5) == float("inf")


def test_descend_with_sgd_matches_the_closed_form_on_the_quadratic():
    # Each coordinate of gradient descent on (x² + 50 y²) / 2 shrinks by (1 - lr * curvature).
    path, losses = descend(quadratic, np.array([2.0, 1.0]), OPTIMIZERS["SGD"], 0.01, 10)
    assert np.allclose(path[-1], [2.0 * 0.99**10, 1.0 * 0.5**10], rtol=1e-4)
    assert np.isclose(losses[0], 0.5 * (4 + 50))
