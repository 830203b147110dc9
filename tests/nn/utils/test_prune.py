"""Pruning against torch.nn.utils.prune on the same weights: masks, state_dict keys, forward
outputs and gradients; the structured shrink and the CSR path against dense references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.utils.prune as tprune

import nnlab
from nnlab import nn
from nnlab.nn.utils import prune

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def pair(in_f: int = 7, out_f: int = 5, seed: int = 0, dtype=torch.float64):
    """A torch Linear and an nnlab Linear holding the same weights."""
    torch.manual_seed(seed)
    t = torch.nn.Linear(in_f, out_f).to(dtype)
    n = nn.Linear(in_f, out_f, dtype=np.float64 if dtype == torch.float64 else np.float32)
    n.load_state_dict({k: v.detach().numpy() for k, v in t.state_dict().items()})
    return t, n


def assert_same_pruned(t, n, name="weight", tol=1e-12):
    np.testing.assert_array_equal(
        getattr(n, name + "_mask").numpy(), getattr(t, name + "_mask").numpy()
    )
    assert list(n.state_dict()) == list(t.state_dict())
    x = np.random.default_rng(1).standard_normal((3, t.in_features))
    xt = torch.tensor(x, dtype=t.weight.dtype)
    out_t = t(xt)
    out_n = n(nnlab.tensor(x.astype(xt.numpy().dtype)))
    np.testing.assert_allclose(out_n.detach().numpy(), out_t.detach().numpy(), rtol=tol, atol=tol)
    out_t.sum().backward()
    out_n.sum().backward()
    np.testing.assert_allclose(
        n.weight_orig.grad.numpy(), t.weight_orig.grad.numpy(), rtol=tol, atol=tol
    )


@pytest.mark.parametrize("amount", [0.3, 0.5, 11, 0.0])
def test_l1_unstructured_matches_torch(amount):
    t, n = pair()
    tprune.l1_unstructured(t, "weight", amount)
    prune.l1_unstructured(n, "weight", amount)
    assert_same_pruned(t, n)
    assert prune.is_pruned(n)


def test_float32_forward_matches_torch():
    t, n = pair(dtype=torch.float32)
    tprune.l1_unstructured(t, "weight", 0.6)
    prune.l1_unstructured(n, "weight", 0.6)
    assert_same_pruned(t, n, tol=1e-5)


def test_repeated_pruning_counts_amount_among_remaining_entries():
    t, n = pair(12, 10)
    for amount in (0.5, 0.4, 7):
        tprune.l1_unstructured(t, "weight", amount)
        prune.l1_unstructured(n, "weight", amount)
    assert_same_pruned(t, n)


@pytest.mark.parametrize("n_norm, dim", [(2, 0), (1, 1), (float("inf"), 0)])
def test_ln_structured_matches_torch(n_norm, dim):
    t, n = pair(9, 8)
    for amount in (0.25, 2):
        tprune.ln_structured(t, "weight", amount, n=n_norm, dim=dim)
        prune.ln_structured(n, "weight", amount, n=n_norm, dim=dim)
    assert_same_pruned(t, n)


def test_global_unstructured_matches_torch():
    pairs = [pair(6, 5, seed=s) for s in range(3)]
    tprune.l1_unstructured(pairs[0][0], "weight", 0.2)
    prune.l1_unstructured(pairs[0][1], "weight", 0.2)
    tprune.global_unstructured([(t, "weight") for t, _ in pairs], tprune.L1Unstructured, amount=0.6)
    prune.global_unstructured([(n, "weight") for _, n in pairs], prune.L1Unstructured, amount=0.6)
    for t, n in pairs:
        assert_same_pruned(t, n)


def test_remove_makes_pruning_permanent_like_torch():
    t, n = pair()
    tprune.l1_unstructured(t, "weight", 0.5)
    prune.l1_unstructured(n, "weight", 0.5)
    orig = n.weight_orig
    tprune.remove(t, "weight")
    prune.remove(n, "weight")
    assert list(n.state_dict()) == list(t.state_dict()) == ["bias", "weight"]
    assert n.weight is orig  # the same Parameter: optimizers holding it still work
    np.testing.assert_array_equal(n.weight.detach().numpy(), t.weight.detach().numpy())
    assert not prune.is_pruned(n)


def test_training_never_revives_pruned_weights():
    _, n = pair()
    prune.l1_unstructured(n, "weight", 0.5)
    opt = nnlab.optim.SGD(n.parameters(), lr=0.1)
    for _ in range(3):
        loss = (n(nnlab.ones(4, 7, dtype=nnlab.float64)) ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    # right after a step ``n.weight`` is stale until the next forward: the CSR copy and the
    # shrink must read weight_orig * weight_mask instead
    x = nnlab.ones(2, 7, dtype=nnlab.float64)
    sparse = prune.SparseLinear.from_dense(n)
    np.testing.assert_allclose(sparse(x).numpy(), n(x).detach().numpy(), rtol=1e-12)
    assert np.all(n.weight.detach().numpy()[n.weight_mask.numpy() == 0] == 0)


def test_bad_input_is_named():
    _, n = pair()
    with pytest.raises(ValueError, match="amount=1.5"):
        prune.l1_unstructured(n, "weight", 1.5)
    with pytest.raises(ValueError, match=r"amount=99 must lie in \[0, 35\]"):
        prune.l1_unstructured(n, "weight", 99)
    assert not prune.is_pruned(n) and list(n.state_dict()) == ["weight", "bias"]
    with pytest.raises(AttributeError, match="no parameter 'kernel'"):
        prune.l1_unstructured(n, "kernel", 0.5)
    with pytest.raises(ValueError, match="has to be pruned first"):
        prune.remove(n, "weight")


def test_shrink_keeps_the_kept_units_and_drops_the_rest():
    nnlab.manual_seed(0)
    first, second = nn.Linear(6, 8, dtype=np.float64), nn.Linear(8, 3, dtype=np.float64)
    prune.ln_structured(first, "weight", 0.5, n=2, dim=0)
    keep = np.flatnonzero(first.weight_mask.numpy().any(axis=1))
    small1, small2 = prune.shrink_linear_pair(first, second)
    assert (small1.out_features, small2.in_features) == (4, 4)
    x = nnlab.tensor(np.random.default_rng(0).standard_normal((5, 6)))
    hidden = first(x).relu()
    np.testing.assert_array_equal(
        small1(x).relu().detach().numpy(), hidden.detach().numpy()[:, keep]
    )
    # the small model equals the big one with the removed units' activations set to 0
    reference = (
        hidden.detach().numpy()[:, keep] @ second.weight.detach().numpy()[:, keep].T
        + second.bias.detach().numpy()
    )
    np.testing.assert_allclose(small2(small1(x).relu()).detach().numpy(), reference, rtol=1e-12)
    with pytest.raises(ValueError, match="first.out_features=8 must equal"):
        prune.shrink_linear_pair(first, nn.Linear(5, 3))


@pytest.mark.parametrize("amount", [0.0, 0.9, 1.0])
def test_sparse_linear_equals_dense(amount):
    _, n = pair(20, 10)
    prune.l1_unstructured(n, "weight", amount)
    sparse = prune.SparseLinear.from_dense(n)
    assert sparse.density == pytest.approx(1 - amount)
    x = np.random.default_rng(2).standard_normal((4, 20))
    np.testing.assert_allclose(
        sparse(nnlab.tensor(x)).numpy(), n(nnlab.tensor(x)).detach().numpy(), rtol=1e-12
    )
    with pytest.raises(ValueError, match=r"expected input of shape \(N, 20\), got \(4, 3\)"):
        sparse(nnlab.tensor(x[:, :3]))
