"""Discounted returns and GAE against a 4-step example worked by hand.

The example (γ = 0.5, λ = 0.5) has a termination after step 1 and a time-limit truncation
after step 2::

    t            0     1     2      3
    r_t          1     2     3      4
    terminated   .     yes   .      .
    truncated    .     .     yes    .
    V(s_t)       10    20    30     40
    V(s_{t+1})   20    99    7      8      (99: a terminal state, must not be used)

Returns: G3 = 4 + 0.5·8 = 8; G2 = 3 + 0.5·7 = 6.5 (bootstrapped: cut, not ended);
G1 = 2 (terminated); G0 = 1 + 0.5·G1 = 2.
TD errors: δ = [1 + 10 - 10, 2 - 20, 3 + 3.5 - 30, 4 + 4 - 40] = [1, -18, -23.5, -32];
advantages: A3 = -32, A2 = -23.5 and A1 = -18 (no trace across an episode's end),
A0 = 1 + 0.25·(-18) = -3.5.
"""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.rl.returns import compute_gae, discounted_returns

REWARDS = np.array([1.0, 2.0, 3.0, 4.0])
TERMINATED = np.array([False, True, False, False])
TRUNCATED = np.array([False, False, True, False])
VALUES = np.array([10.0, 20.0, 30.0, 40.0])
NEXT_VALUES = np.array([20.0, 99.0, 7.0, 8.0])


def test_discounted_returns_bootstrap_on_truncation_not_termination():
    got = discounted_returns(REWARDS, TERMINATED, TRUNCATED, 0.5, NEXT_VALUES)
    np.testing.assert_allclose(got, [2.0, 2.0, 6.5, 8.0], rtol=0, atol=1e-12)


def test_monte_carlo_returns_without_values():
    got = discounted_returns(REWARDS, TERMINATED, TRUNCATED, 0.5)
    np.testing.assert_allclose(got, [2.0, 2.0, 3.0, 4.0], rtol=0, atol=1e-12)


def test_gae_worked_example():
    adv, ret = compute_gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, TRUNCATED, 0.5, 0.5)
    np.testing.assert_allclose(adv, [-3.5, -18.0, -23.5, -32.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ret, adv + VALUES, rtol=0, atol=1e-12)


def test_gae_lambda_one_is_return_minus_value_and_lambda_zero_is_td_error():
    adv, ret = compute_gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, TRUNCATED, 0.5, 1.0)
    np.testing.assert_allclose(ret, [2.0, 2.0, 6.5, 8.0], rtol=0, atol=1e-12)
    adv0, _ = compute_gae(REWARDS, VALUES, NEXT_VALUES, TERMINATED, TRUNCATED, 0.5, 0.0)
    np.testing.assert_allclose(adv0, [1.0, -18.0, -23.5, -32.0], rtol=0, atol=1e-12)


def test_vectorised_columns_are_independent_environments():
    two = np.stack([REWARDS, REWARDS[::-1]], axis=1)
    flags = [np.stack([a, a[::-1]], axis=1) for a in (TERMINATED, TRUNCATED)]
    nv = np.stack([NEXT_VALUES, NEXT_VALUES[::-1]], axis=1)
    got = discounted_returns(two, *flags, 0.5, nv)
    np.testing.assert_allclose(got[:, 0], [2.0, 2.0, 6.5, 8.0])
    np.testing.assert_allclose(
        got[:, 1], discounted_returns(REWARDS[::-1], TERMINATED[::-1], TRUNCATED[::-1], 0.5,
                                      NEXT_VALUES[::-1]),
    )  # fmt: skip


def test_mismatched_shapes_are_refused():
    with pytest.raises(ValueError, match="one shape"):
        discounted_returns(REWARDS, TERMINATED[:3])
