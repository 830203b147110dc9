"""The Siamese experiment's helpers: balanced pairs and the verification score."""

from __future__ import annotations

import numpy as np

from experiments.siamese import draw_pairs, one_shot_accuracy, verification_auc


def test_pairs_are_balanced_and_labelled_by_class():
    y = np.repeat(np.arange(4), 10)
    first, second, same = draw_pairs(np.random.default_rng(0), y, 200)
    assert same.sum() == 100
    np.testing.assert_array_equal(y[first] == y[second], same.astype(bool))
    assert (first != second).all()


def test_a_perfect_embedding_scores_one():
    y = np.repeat(np.arange(3), 5)
    z = np.eye(3)[y] * 10.0  # each class at its own point
    pairs = draw_pairs(np.random.default_rng(1), y, 50)
    assert verification_auc(z, pairs) == 1.0
    assert one_shot_accuracy(z, y, np.random.default_rng(2), episodes=3) == 1.0
