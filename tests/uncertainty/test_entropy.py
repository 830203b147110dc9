"""The entropy decomposition: total = aleatoric + epistemic, the mutual information is
non-negative and zero when the members agree, the entropies match scipy's, and
``ensemble_predict`` gives each member's own softmax."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy as scipy_entropy

import nnlab
from nnlab import nn
from nnlab.models.ensemble import Ensemble
from nnlab.nn import functional as F
from nnlab.uncertainty import (
    ensemble_predict,
    expected_entropy,
    mutual_information,
    predictive_entropy,
)


def _members(k: int, n: int, c: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.full(c, 0.5), size=(k, n))


def test_entropies_match_scipy() -> None:
    p = _members(4, 30, 6, seed=0)
    np.testing.assert_allclose(predictive_entropy(p[0]), scipy_entropy(p[0], axis=1), rtol=1e-12)
    np.testing.assert_allclose(predictive_entropy(p), scipy_entropy(p.mean(0), axis=1), rtol=1e-12)
    np.testing.assert_allclose(expected_entropy(p), scipy_entropy(p, axis=2).mean(0), rtol=1e-12)
    # the uniform distribution has the largest entropy, log C; a one-hot has none
    assert predictive_entropy(np.full((1, 6), 1 / 6))[0] == pytest.approx(np.log(6))
    assert predictive_entropy(np.eye(6)[:1])[0] == 0.0


def test_total_is_aleatoric_plus_epistemic() -> None:
    p = _members(5, 50, 4, seed=1)
    total = predictive_entropy(p)
    np.testing.assert_allclose(total, expected_entropy(p) + mutual_information(p), atol=1e-12)
    # mutual information is the mean KL divergence of the members from their mean
    kl = np.mean([scipy_entropy(p[k], p.mean(0), axis=1) for k in range(5)], axis=0)
    np.testing.assert_allclose(mutual_information(p), kl, atol=1e-12)


def test_mutual_information_bounds() -> None:
    p = _members(3, 200, 5, seed=2)
    mi = mutual_information(p)
    assert (mi >= 0).all()
    assert (mi <= np.log(3) + 1e-12).all()  # at most log min(K, C)
    agreeing = np.repeat(p[:1], 4, axis=0)
    np.testing.assert_allclose(mutual_information(agreeing), 0.0, atol=1e-12)
    # two sure members that disagree: all of the entropy log 2 is epistemic
    split = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    assert mutual_information(split)[0] == pytest.approx(np.log(2))
    assert expected_entropy(split)[0] == 0.0


def test_ensemble_predict_gives_each_members_softmax() -> None:
    nnlab.manual_seed(0)
    members = [nn.Sequential(nn.Linear(3, 5), nn.Dropout(0.5), nn.Linear(5, 4)) for _ in range(3)]
    ensemble = Ensemble(members, combine="mean_probs")
    ensemble.train()
    x = nnlab.randn(7, 3)
    probs = ensemble_predict(ensemble, x)
    assert all(m.training for m in ensemble.modules())  # modes restored
    ensemble.eval()
    with nnlab.no_grad():
        for k, member in enumerate(members):
            np.testing.assert_allclose(probs[k], F.softmax(member(x), dim=1).numpy(), rtol=1e-6)
        # the mean over members is the ensemble's "mean_probs" prediction
        np.testing.assert_allclose(probs.mean(0), ensemble(x).exp().numpy(), rtol=1e-5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: predictive_entropy([[0.5, 0.6]]), "sum to 1"),
        (lambda: predictive_entropy([[2.0, -1.0]]), "softmax"),
        (lambda: mutual_information([[0.5, 0.5]]), r"\(K, N, C\)"),
        (lambda: ensemble_predict([], nnlab.randn(1, 2)), "non-empty sequence"),
    ],
)
def test_bad_input_is_a_clear_error(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()
