"""Ensembles: the three combination rules against NumPy references written here, the mean
rules' gradients against torch (a ModuleList of Linear members, float32 and float64) and
finite differences; torch's state_dict keys; bagging's bootstrap draws; the snapshot
collector's cosine cycles and copies; the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from parity import check_module, fixed_tolerance
from scipy.special import logsumexp, softmax

import nnlab
from nnlab import nn
from nnlab.autograd import gradcheck
from nnlab.models.ensemble import (
    COMBINE_RULES,
    Ensemble,
    SnapshotCollector,
    bootstrap_indices,
    combine_predictions,
)

K, N, C = 4, 7, 5


def _member_logits(shape: tuple[int, ...] = (N, C), seed: int = 0) -> np.ndarray:
    """(K, *shape) float64 logits of K members."""
    return 2.0 * np.random.default_rng(seed).standard_normal((K, *shape))


def _numpy_reference(z: np.ndarray, combine: str) -> np.ndarray:
    """The combination rules written directly in NumPy; z is (K, N, C, *)."""
    if combine == "mean_logits":
        return z.mean(axis=0)
    if combine == "mean_probs":
        return np.log(softmax(z, axis=2).mean(axis=0))
    votes = np.zeros(z.shape[1:])
    for member in z:  # count one vote per member at its argmax class
        winner = member.argmax(axis=1)
        for index in np.ndindex(winner.shape):
            votes[(index[0], winner[index], *index[1:])] += 1
    return votes / len(z)


@pytest.mark.parametrize("shape", [(N, C), (N, C, 3), (1, 2)], ids=["NC", "NCL", "N1C2"])
@pytest.mark.parametrize("combine", COMBINE_RULES)
def test_rules_match_numpy(combine: str, shape: tuple[int, ...]) -> None:
    z = _member_logits(shape)
    combined = combine_predictions([nnlab.tensor(m) for m in z], combine)
    assert combined.shape == shape and combined.dtype == nnlab.float64
    np.testing.assert_allclose(combined.numpy(), _numpy_reference(z, combine), rtol=1e-12)


def test_mean_probs_are_probabilities_and_stable() -> None:
    # logits of ±1000 overflow a naive softmax; the log-mean-exp form stays finite
    z = _member_logits() * 500
    combined = combine_predictions([nnlab.tensor(m) for m in z], "mean_probs").numpy()
    assert np.all(np.isfinite(combined))
    np.testing.assert_allclose(np.exp(combined).sum(axis=1), np.ones(N), rtol=1e-12)
    log_probs = z - logsumexp(z, axis=2, keepdims=True)
    np.testing.assert_allclose(combined, logsumexp(log_probs, axis=0) - math.log(K), rtol=1e-12)


def test_vote_ties_go_to_the_lowest_class() -> None:
    # members 0, 1 vote class 2; members 2, 3 vote class 1: a 2–2 tie between classes 1, 2
    z = np.zeros((4, 1, 3))
    z[[0, 1], 0, 2] = 1.0
    z[[2, 3], 0, 1] = 1.0
    votes = combine_predictions([nnlab.tensor(m) for m in z], "vote")
    np.testing.assert_array_equal(votes.numpy(), [[0.0, 0.5, 0.5]])
    assert votes.argmax(1).item() == 1
    assert not votes.requires_grad


def test_vote_and_mean_rules_can_disagree() -> None:
    # two confident members for class 0 are outvoted by three unsure ones for class 1
    confident = np.array([[9.0, 0.0]])
    unsure = np.array([[0.0, 0.1]])
    outputs = [nnlab.tensor(confident)] * 2 + [nnlab.tensor(unsure)] * 3
    assert combine_predictions(outputs, "vote").argmax(1).item() == 1
    assert combine_predictions(outputs, "mean_probs").argmax(1).item() == 0
    assert combine_predictions(outputs, "mean_logits").argmax(1).item() == 0


class TorchEnsemble(torch.nn.Module):
    """The reference: a ModuleList of Linear members, combined with torch's own ops."""

    def __init__(self, combine: str) -> None:
        super().__init__()
        self.combine = combine
        self.members = torch.nn.ModuleList([torch.nn.Linear(6, C) for _ in range(3)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.stack([member(x) for member in self.members])
        if self.combine == "mean_logits":
            return z.mean(0)
        return torch.log(torch.softmax(z, dim=2).mean(0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("combine", ["mean_logits", "mean_probs"])
def test_mean_rules_match_torch(combine: str, dtype: type) -> None:
    check_module(
        f"Ensemble({combine})",
        lambda: Ensemble([nn.Linear(6, C) for _ in range(3)], combine=combine),
        lambda: TorchEnsemble(combine),
        [np.random.default_rng(1).standard_normal((N, 6))],
        lambda module, xs, lib: module(xs[0]),
        dtype,
        tolerance=fixed_tolerance,
    )


@pytest.mark.parametrize("combine", ["mean_logits", "mean_probs"])
def test_gradcheck_float64(combine: str) -> None:
    z = [nnlab.tensor(m, requires_grad=True) for m in _member_logits((3, 4))]
    assert gradcheck(lambda *outputs: combine_predictions(list(outputs), combine), z)


def test_state_dict_keys_are_torchs() -> None:
    ours = Ensemble([nn.Linear(6, C) for _ in range(3)])
    theirs = TorchEnsemble("mean_logits")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.state_dict())[:2] == ["members.0.weight", "members.0.bias"]


def test_forward_combines_its_members_and_modes_reach_them() -> None:
    nnlab.manual_seed(0)
    members = [nn.Sequential(nn.Linear(6, 8), nn.Dropout(0.5), nn.Linear(8, C)) for _ in range(3)]
    ensemble = Ensemble(members, combine="vote").eval()
    assert all(not m.training for m in members)
    x = nnlab.randn(N, 6)
    expected = combine_predictions([m(x) for m in members], "vote")
    np.testing.assert_array_equal(ensemble(x).numpy(), expected.numpy())
    assert len(list(ensemble.parameters())) == 12
    assert "combine='vote'" in repr(ensemble)


def test_from_state_dicts_rebuilds_the_members() -> None:
    nnlab.manual_seed(0)
    models = [nn.Linear(6, C) for _ in range(3)]
    ensemble = Ensemble.from_state_dicts(
        lambda: nn.Linear(6, C), [m.state_dict() for m in models], combine="mean_probs"
    )
    x = nnlab.randn(N, 6)
    with nnlab.no_grad():
        expected = combine_predictions([m(x) for m in models], "mean_probs")
        np.testing.assert_array_equal(ensemble(x).numpy(), expected.numpy())


def test_bootstrap_draws_are_reproducible_and_with_replacement() -> None:
    first = bootstrap_indices(200, 5, np.random.default_rng(3))
    again = bootstrap_indices(200, 5, np.random.default_rng(3))
    other = bootstrap_indices(200, 5, np.random.default_rng(4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.shape == (5, 200) and first.dtype == np.int64
    assert first.min() >= 0 and first.max() < 200
    # the members' samples differ from one another
    assert len({row.tobytes() for row in first}) == 5


def test_bootstrap_keeps_about_63_percent_of_the_examples() -> None:
    n = 2000
    draws = bootstrap_indices(n, 40, np.random.default_rng(0))
    distinct = np.mean([len(np.unique(row)) / n for row in draws])
    # expected 1 − (1 − 1/n)ⁿ ≈ 0.632; the mean of 40 draws has a std of about 0.0017
    assert distinct == pytest.approx(1 - (1 - 1 / n) ** n, abs=0.01)


def _trained_with_snapshots(steps: int, cycle: int) -> tuple[list, list, list]:
    """Train a tiny regression with a SnapshotCollector; return the learning rate used at
    each step, the weights after each step, and the snapshots."""
    nnlab.manual_seed(0)
    model = nn.Linear(3, 1)
    opt = nnlab.optim.SGD(model.parameters(), lr=0.2)
    collector = SnapshotCollector(model, opt, cycle_length=cycle, eta_min=0.01)
    x, y = nnlab.randn(16, 3), nnlab.randn(16, 1)
    lrs, weights = [], []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.zero_grad()
        nnlab.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        collector.step()
        weights.append(model.weight.detach().numpy().copy())
    return lrs, weights, collector.snapshots


def test_snapshots_follow_cosine_cycles_and_are_copies() -> None:
    cycle = 4
    lrs, weights, snapshots = _trained_with_snapshots(steps=11, cycle=cycle)
    t = np.arange(11) % cycle
    expected = 0.01 + (0.2 - 0.01) * (1 + np.cos(np.pi * t / cycle)) / 2
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    # a snapshot after steps 4 and 8, the last (lowest-lr) step of each cycle
    assert len(snapshots) == 2
    for k, snapshot in enumerate(snapshots):
        assert list(snapshot) == ["weight", "bias"]
        np.testing.assert_array_equal(snapshot["weight"].numpy(), weights[(k + 1) * cycle - 1])
    # copies: training went on after the first snapshot, which kept its values
    assert not np.array_equal(snapshots[0]["weight"].numpy(), weights[-1])


def test_errors_name_the_argument() -> None:
    with pytest.raises(ValueError, match=r"combine must be one of .*'vote'.*got 'max'"):
        Ensemble([nn.Linear(2, 2)], combine="max")
    with pytest.raises(ValueError, match="combine_predictions: combine must be one of"):
        combine_predictions([nnlab.ones(1, 2)], "average")
    with pytest.raises(ValueError, match="at least one model"):
        Ensemble([])
    with pytest.raises(TypeError, match="member 1 must be an nnlab Module, got function"):
        Ensemble([nn.Linear(2, 2), lambda x: x])
    with pytest.raises(TypeError, match="iterable of modules, got Linear"):
        Ensemble(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"member 0 gave \(3, 2\), member 1 gave \(3, 4\)"):
        Ensemble([nn.Linear(5, 2), nn.Linear(5, 4)])(nnlab.ones(3, 5))
    with pytest.raises(ValueError, match="non-empty sequence"):
        combine_predictions([])
    with pytest.raises(TypeError, match="must be a numpy.random.Generator"):
        bootstrap_indices(10, 2, np.random.RandomState(0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_members must be a positive int, got 0"):
        bootstrap_indices(10, 0, np.random.default_rng(0))
    opt = nnlab.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1)
    with pytest.raises(ValueError, match="cycle_length must be a positive int, got 0"):
        SnapshotCollector(nn.Linear(2, 2), opt, cycle_length=0)
