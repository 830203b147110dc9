"""The categorical head against ``torch.distributions.Categorical`` (log-probabilities,
entropy and their gradients, float32 and float64), sampling frequencies against the
softmax, and the networks' shapes (``net_arch=[]`` is the linear baseline)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab.rl.policies import (
    ActorCriticPolicy,
    QNetwork,
    categorical_entropy,
    categorical_log_prob,
    sample_categorical,
)

TOL = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_prob_and_entropy_match_torch(dtype):
    rng = np.random.default_rng(0)
    logits = (rng.normal(size=(6, 4)) * 3).astype(dtype)
    actions = rng.integers(0, 4, 6)
    upstream = rng.normal(size=6).astype(dtype)
    for ours_fn, name in ((categorical_log_prob, "log_prob"), (categorical_entropy, "entropy")):
        x = nnlab.tensor(logits, requires_grad=True)
        ours = ours_fn(x, actions) if name == "log_prob" else ours_fn(x)
        (ours * nnlab.tensor(upstream)).sum().backward()
        t = torch.tensor(logits, requires_grad=True)
        dist = torch.distributions.Categorical(logits=t)
        theirs = dist.log_prob(torch.tensor(actions)) if name == "log_prob" else dist.entropy()
        (theirs * torch.tensor(upstream)).sum().backward()
        tol = TOL[dtype]
        np.testing.assert_allclose(
            ours.detach().numpy(), theirs.detach().numpy(), rtol=tol, atol=tol
        )
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol * 10, atol=tol * 10)


def test_sampling_follows_the_softmax_and_is_seeded():
    logits = np.log(np.array([[0.1, 0.2, 0.7]]))
    draws = sample_categorical(np.repeat(logits, 20_000, 0), np.random.default_rng(1))
    freq = np.bincount(draws, minlength=3) / len(draws)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.015)  # ≈ 4.5 standard errors
    again = sample_categorical(np.repeat(logits, 20_000, 0), np.random.default_rng(1))
    np.testing.assert_array_equal(draws, again)


def test_network_shapes_and_the_linear_policy():
    nnlab.manual_seed(0)
    policy = ActorCriticPolicy(4, 2, net_arch=(8, 8))
    logits, values = policy(nnlab.zeros(5, 4))
    assert logits.shape == (5, 2) and values.shape == (5,)
    linear = ActorCriticPolicy(4, 2, net_arch=[])
    assert sum(p.numel() for p in linear.parameters()) == (4 * 2 + 2) + (4 + 1)
    split = ActorCriticPolicy(4, 2, net_arch={"pi": [], "vf": [8]})
    assert len(split.pi) == 1 and len(split.vf) == 3
    with pytest.raises(ValueError, match="'pi' and 'vf'"):
        ActorCriticPolicy(4, 2, net_arch={"pi": []})
    assert QNetwork(4, 3, net_arch=[16])(nnlab.zeros(2, 4)).shape == (2, 3)
