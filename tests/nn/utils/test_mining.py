"""Triplet miners (``nnlab.nn.utils.mining``) against brute force: every (anchor, positive,
negative) triplet of small random batches enumerated in plain Python, the miner's choice
checked to be the one its definition names. Also the distance matrix against SciPy, the
gradient path through the mined triplets, the empty cases and the errors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from parity import rng_for
from scipy.spatial.distance import cdist

import nnlab
from nnlab.nn.utils.mining import batch_hard_triplets, pairwise_distances, semi_hard_triplets


def _batch(case: str, b: int = 12, d: int = 3, classes: int = 3):
    rng = rng_for("mining", case)
    z = rng.standard_normal((b, d))
    # every class at least twice, then a class of one example: an anchor without positives
    y = np.append(rng.permutation(np.arange(b - 1) % classes), classes)
    return z, y


def _distance(z: np.ndarray, i: int, j: int) -> float:
    return float(np.sqrt(sum((z[i, k] - z[j, k]) ** 2 for k in range(z.shape[1]))))


def test_pairwise_distances_match_scipy():
    z, _ = _batch("distances")
    np.testing.assert_allclose(pairwise_distances(nnlab.tensor(z)), cdist(z, z), atol=1e-12)


@pytest.mark.parametrize("case", ["a", "b", "c", "d"])
def test_batch_hard_matches_brute_force(case: str):
    z, y = _batch(case)
    expected = []
    for i in range(len(y)):
        positives = [p for p in range(len(y)) if y[p] == y[i] and p != i]
        negatives = [n for n in range(len(y)) if y[n] != y[i]]
        if positives and negatives:
            hardest_p = max(positives, key=lambda p: _distance(z, i, p))
            hardest_n = min(negatives, key=lambda n: _distance(z, i, n))
            expected.append((i, hardest_p, hardest_n))
    a, p, n = batch_hard_triplets(nnlab.tensor(z), nnlab.tensor(y))
    assert a.dtype == nnlab.int64
    assert list(zip(a.tolist(), p.tolist(), n.tolist())) == expected
    assert len(expected) == len(y) - 1  # only the singleton's anchor is skipped


@pytest.mark.parametrize("margin", [0.3, 1.0, 5.0])
@pytest.mark.parametrize("case", ["a", "b", "c"])
def test_semi_hard_matches_brute_force(case: str, margin: float):
    z, y = _batch(case)
    expected = []
    for i, p in itertools.product(range(len(y)), repeat=2):
        if p == i or y[p] != y[i]:
            continue
        d_ap = _distance(z, i, p)
        semi_hard = [
            n for n in range(len(y)) if y[n] != y[i] and d_ap < _distance(z, i, n) < d_ap + margin
        ]
        if semi_hard:
            expected.append((i, p, min(semi_hard, key=lambda n: _distance(z, i, n))))
    a, p, n = semi_hard_triplets(nnlab.tensor(z), nnlab.tensor(y), margin=margin)
    assert list(zip(a.tolist(), p.tolist(), n.tolist())) == expected
    assert expected  # the case exercises the miner


def test_gradient_flows_through_mined_triplets():
    z, y = _batch("gradient")
    x = nnlab.tensor(z, requires_grad=True)
    a, p, n = batch_hard_triplets(x, nnlab.tensor(y))
    loss = nnlab.nn.TripletMarginLoss(margin=2.0, reduction="sum")(x[a], x[p], x[n])
    loss.backward()
    # only the mined rows receive gradient, and the sum over rows cancels (translation)
    mined = np.union1d(np.union1d(a.array, p.array), n.array)
    untouched = np.setdiff1d(np.arange(len(y)), mined)
    assert np.all(x.grad.array[untouched] == 0)
    np.testing.assert_allclose(x.grad.array.sum(0), 0.0, atol=1e-12)


@pytest.mark.parametrize("labels", [[0, 0, 0, 0], [0, 1, 2, 3]], ids=["one_class", "singletons"])
def test_no_usable_triplet_gives_empty_indices(labels):
    z = nnlab.tensor(rng_for("mining", "empty").standard_normal((4, 2)))
    for miner in (batch_hard_triplets, semi_hard_triplets):
        indices = miner(z, nnlab.tensor(labels))
        assert [i.shape for i in indices] == [(0,)] * 3


@pytest.mark.parametrize(
    ("args", "error", "words"),
    [
        ((nnlab.ones(4), nnlab.tensor([0, 0, 1, 1])), ValueError, r"\(B, D\)"),
        ((nnlab.ones(4, 2), nnlab.tensor([0, 1, 1])), ValueError, r"\(4,\)"),
        ((nnlab.ones(4, 2), nnlab.ones(4)), ValueError, "integer labels"),
        ((np.ones((4, 2)), nnlab.tensor([0, 0, 1, 1])), TypeError, "ndarray"),
        ((nnlab.tensor([[1, 2], [3, 4]]), nnlab.tensor([0, 1])), ValueError, "floating"),
    ],
    ids=["one_dim", "label_count", "float_labels", "numpy", "integer_embeddings"],
)
@pytest.mark.parametrize("miner", [batch_hard_triplets, semi_hard_triplets])
def test_errors_name_the_argument(miner, args, error, words):
    with pytest.raises(error, match=f"{miner.__name__}.*{words}"):
        miner(*args)


def test_semi_hard_rejects_a_bad_margin():
    with pytest.raises(ValueError, match="margin > 0, got 0"):
        semi_hard_triplets(nnlab.ones(2, 2), nnlab.tensor([0, 1]), margin=0.0)
