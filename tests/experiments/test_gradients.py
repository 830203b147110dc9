"""Helpers of experiments/gradients.py: the finite-difference gradient and the broken
backward it is meant to catch."""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.gradients import (
    Apply,
    BrokenTanh,
    Tanh,
    backprop_gradient,
    numerical_gradient,
    relative_error,
    small_net,
)


def _data():
    rng = np.random.default_rng(0)
    return nnlab.tensor(rng.standard_normal((8, 4))), nnlab.tensor(rng.integers(0, 3, size=8))


def test_finite_differences_match_backprop_for_a_correct_backward():
    x, y = _data()
    nnlab.manual_seed(0)
    model = small_net(Apply(Tanh), nnlab.float64)
    exact = backprop_gradient(model, x, y)
    assert exact.size == 51
    assert relative_error(exact, numerical_gradient(model, x, y, 1e-6)) < 1e-7


def test_finite_differences_expose_a_broken_backward():
    x, y = _data()
    nnlab.manual_seed(0)
    model = small_net(Apply(BrokenTanh), nnlab.float64)
    assert (
        relative_error(backprop_gradient(model, x, y), numerical_gradient(model, x, y, 1e-6)) > 1e-2
    )
