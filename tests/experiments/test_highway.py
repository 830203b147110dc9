"""The highway layer of experiments/highway.py computes H·T + x·(1 - T)."""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.highway import Highway, highway_net, plain_net
from nnlab import nn


def test_closed_gates_carry_the_input_and_open_gates_transform_it():
    nnlab.manual_seed(0)
    x = nnlab.randn(5, 8)
    closed = Highway(nn.Linear(8, 8), gate_bias=-50.0)
    np.testing.assert_allclose(closed(x).detach().numpy(), x.numpy(), atol=1e-6)
    opened = Highway(nn.Linear(8, 8), gate_bias=50.0)
    expected = nnlab.nn.functional.relu(opened.transform(x)).detach().numpy()
    np.testing.assert_allclose(opened(x).detach().numpy(), expected, atol=1e-6)


def test_highway_net_starts_from_the_plain_nets_weights():
    nnlab.manual_seed(0)
    plain = plain_net(depth=3, width=8)
    highway = highway_net(plain, gate_bias=-2.0)
    assert len([m for m in highway if isinstance(m, Highway)]) == 3
    np.testing.assert_array_equal(
        highway[2].transform.weight.detach().numpy(), plain[2].weight.detach().numpy()
    )
    assert highway[2].transform.weight is not plain[2].weight
