"""Helpers of the capacity experiments: parameter counts, the constructive interpolant,
networks trained side by side."""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.capacity import (
    ParallelNets,
    decompose,
    interpolating_network,
    mlp,
    parameter_count,
    predict,
    width_for,
    wiggle,
)


def test_parameter_count_matches_the_model():
    for depth, width in ((1, 7), (3, 16), (4, 35)):
        model = mlp(depth, width)
        assert parameter_count(depth, width) == sum(p.numel() for p in model.parameters())


def test_width_for_lands_near_the_budget():
    for depth in (1, 2, 3, 4):
        count = parameter_count(depth, width_for(depth, 2400))
        assert abs(count - 2400) / 2400 < 0.05


def test_interpolating_network_passes_through_the_knots():
    knots = np.linspace(-1, 1, 17)
    net = interpolating_network(wiggle, 16)
    np.testing.assert_allclose(predict(net, knots), wiggle(knots), atol=1e-5)


def test_parallel_nets_are_independent():
    nnlab.manual_seed(0)
    nets = ParallelNets(3, 5)
    x = nnlab.tensor(np.random.default_rng(0).normal(size=(3, 4, 1)).astype(np.float32))
    nets(x)[0].sum().backward()
    assert float(nets.w1.grad[1:].abs().sum()) == 0.0
    assert float(nets.w1.grad[0].abs().sum()) > 0.0


def test_decompose_adds_up_to_the_mean_squared_error():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=10)
    predictions = truth + rng.normal(size=(50, 10)) + 0.3
    bias2, variance = decompose(predictions, truth)
    np.testing.assert_allclose(bias2 + variance, np.mean((predictions - truth) ** 2))
