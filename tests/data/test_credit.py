"""The synthetic bank table: seeded determinism, the stated rates, the column types, and
that the labels follow their true probabilities (a calibrated draw)."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data.datasets.credit import CREDIT_FEATURES, make_credit


def test_seeded_and_deterministic() -> None:
    a, b, c = make_credit(500, seed=1), make_credit(500, seed=1), make_credit(500, seed=2)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.x, c.x)


def test_columns_and_rates() -> None:
    data = make_credit(40000, default_rate=0.02, fraud_rate=0.01, seed=0)
    assert data.x.shape == (40000, len(CREDIT_FEATURES)) and data.x.dtype == np.float32
    col = {name: data.x[:, i] for i, name in enumerate(CREDIT_FEATURES)}
    one_hot = data.x[:, [i for i, n in enumerate(CREDIT_FEATURES) if n.startswith("merchant")]]
    np.testing.assert_array_equal(one_hot.sum(axis=1), 1)
    assert set(np.unique(col["foreign"])) == {0, 1} and (col["late_payments"] >= 0).all()
    assert (0 <= col["hour"]).all() and (col["hour"] < 24).all()
    # the mean probabilities are set exactly; the drawn labels vary around them
    assert data.p_default.mean() == pytest.approx(0.02, rel=1e-6)
    assert data.p_fraud.mean() == pytest.approx(0.01, rel=1e-6)
    assert abs(data.fraud.mean() - 0.01) < 5 * np.sqrt(0.01 / 40000)
    assert abs(data.default.mean() - 0.02) < 5 * np.sqrt(0.02 / 40000)


def test_labels_follow_their_probabilities() -> None:
    data = make_credit(40000, seed=3)
    top = data.p_fraud > np.quantile(data.p_fraud, 0.9)
    # the riskiest tenth holds far more than its share of the fraud
    assert data.fraud[top].mean() > 3 * data.fraud.mean()
    order = np.argsort(data.p_default)
    halves = np.array_split(data.default[order], 2)
    expected = [p.mean() for p in np.array_split(data.p_default[order], 2)]
    for drawn, mean in zip(halves, expected):
        assert abs(drawn.mean() - mean) < 5 * np.sqrt(mean / len(drawn))


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="make_credit: fraud_rate"):
        make_credit(10, fraud_rate=0)
    with pytest.raises(ValueError, match="make_credit: n_samples"):
        make_credit(1)
