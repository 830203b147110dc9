"""The embedding-layer experiment's helpers: the lookup and the one-hot product agree."""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.embedding_layers import bag_of_words_task, matched_pair, table_gradient


def test_matched_pair_gives_equal_outputs_and_gradients():
    x, y = bag_of_words_task(np.random.default_rng(0), 16, vocab=30, length=5)
    lookup, one_hot = matched_pair(30, 4, seed=0)
    ids, target = nnlab.tensor(x), nnlab.tensor(y)
    with nnlab.no_grad():
        np.testing.assert_allclose(lookup(ids).numpy(), one_hot(ids).numpy(), atol=1e-6)
    g1, g2 = table_gradient(lookup, ids, target), table_gradient(one_hot, ids, target)
    np.testing.assert_allclose(g1, g2, atol=1e-6)
    touched = np.flatnonzero(np.abs(g1).sum(axis=1))
    np.testing.assert_array_equal(touched, np.unique(x))
