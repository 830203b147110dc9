"""The perceptron experiment's helpers on cases small enough to check by hand."""

from __future__ import annotations

import numpy as np

from experiments.perceptron import largest_turn, linearly_separable, perceptron


def test_linear_program_tells_and_from_xor():
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert linearly_separable(corners, np.array([-1.0, -1.0, -1.0, 1.0]))  # AND
    assert not linearly_separable(corners, np.array([-1.0, 1.0, 1.0, -1.0]))  # XOR


def test_perceptron_stops_updating_once_every_point_is_right():
    x = np.array([[2.0, 0.0], [-2.0, 0.0], [3.0, 1.0], [-3.0, -1.0]])
    y = np.array([1.0, -1.0, 1.0, -1.0])
    mistakes, weights = perceptron(x, y, np.tile(np.arange(4), (5, 1)))
    assert mistakes[0] >= 1 and mistakes[-1] == 0
    assert np.array_equal(weights[-1], weights[-2])
    augmented = np.hstack([x, np.ones((4, 1))])
    assert np.all(y * (augmented @ weights[-1]) > 0)


def test_largest_turn_in_degrees():
    weights = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 5.0], [1.0, 1.0, 0.0]])
    assert np.isclose(largest_turn(weights), 90.0)
