"""Helpers of the regularisation experiments: image shifts, batch orders, the patience
rule, checkpoints."""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.regularization import (
    BestCheckpoint,
    Curves,
    batch_order,
    mlp,
    patience_stop,
    shift_images,
)


def test_shift_images_moves_pixels_and_fills_with_zero():
    image = np.zeros((1, 64), np.float32)
    image[0, 3 * 8 + 4] = 1.0  # row 3, column 4
    down_left = shift_images(image, np.array([1]), np.array([-1])).reshape(8, 8)
    assert down_left[4, 3] == 1.0 and down_left.sum() == 1.0
    edge = np.zeros((1, 64), np.float32)
    edge[0, 7] = 1.0  # row 0, last column: pushed off the right edge
    assert shift_images(edge, np.array([0]), np.array([1])).sum() == 0.0


def test_batch_order_walks_through_whole_epochs():
    order = batch_order(np.random.default_rng(0), n=10, steps=5, batch=4)
    assert order.shape == (5, 4)
    assert sorted(order.ravel()[:10]) == list(range(10))


def test_patience_stop():
    curves = Curves(steps=[0, 1, 2, 3, 4, 5], val_loss=[3.0, 2.0, 2.5, 2.6, 1.0, 0.5])
    assert patience_stop(curves, patience=2) == 3
    assert patience_stop(curves, patience=3) == 5


def test_checkpoint_keeps_a_copy_of_the_best_state():
    nnlab.manual_seed(0)
    model = mlp(8)
    checkpoint = BestCheckpoint()
    checkpoint.offer(1, 0.5, model)
    saved = checkpoint.state["0.weight"].numpy().copy()
    with nnlab.no_grad():
        model[0].weight.mul_(0.0)
    checkpoint.offer(2, 0.7, model)  # worse: not kept
    assert checkpoint.step == 1
    np.testing.assert_array_equal(checkpoint.state["0.weight"].numpy(), saved)
