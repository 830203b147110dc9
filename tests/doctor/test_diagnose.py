"""The doctor names each fault planted in a small digits MLP by the right finding and
raises no alarm on the healthy setup; its checks leave the model as it was, and their
measurements agree with independent computations (brute-force row comparison, the
closed-form initial loss ln C, dead units and saturation built in by construction)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.metrics import balanced_accuracy_score

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.doctor import SEVERITIES, Finding, diagnose, exit_code
from nnlab.doctor import checks as C
from nnlab.doctor.subject import Subject, balanced_accuracy, loss_kind

pytestmark = pytest.mark.usefixtures("one_blas_thread")

BUDGET = dict(overfit_steps=150, range_test_steps=100, training_steps=150, stat_batches=2)


@pytest.fixture(scope="module")
def splits():
    """Standardised digits (statistics of the training rows), 1200 train / 597 validation."""
    data = load_digits()
    order = np.random.default_rng(0).permutation(len(data.target))
    x, y = data.data[order].astype(np.float64), data.target[order].astype(np.int64)
    mean, std = x[:1200].mean(0), x[:1200].std(0)
    x = ((x - mean) / np.where(std > 0, std, 1)).astype(np.float32)
    return x[:1200], y[:1200], x[1200:], y[1200:]


class DetachedLinear(nn.Linear):
    """A Linear layer whose forward detaches its weight and bias: they get no gradient."""

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        return F.linear(x, self.weight.detach(), self.bias.detach())


def mlp(fault: str) -> nn.Module:
    nnlab.manual_seed(0)
    if fault == "deep sigmoid":
        return nn.MLP(64, [64] * 9, 10, activation="sigmoid")  # 10 Linear layers
    model = nn.MLP(64, [128, 64], 10)
    if fault == "detached layer":
        model[2] = DetachedLinear(128, 64)
    if fault == "softmax twice":
        model = nn.Sequential(model, nn.Softmax(dim=1))
    return model


# fault -> the finding that must name it
PLANTED = {
    "lr 100x too high": "lr_too_high",
    "lr 100x too low": "lr_too_low",
    "unscaled inputs": "unscaled_inputs",
    "shuffled labels": "no_label_signal",
    "detached layer": "no_gradient",
    "deep sigmoid": "vanishing_gradients",
    "softmax twice": "outputs_are_probabilities",
    "leaked validation rows": "split_leakage",
}


def run_doctor(fault: str, splits) -> list[Finding]:
    x_train, y_train, x_val, y_val = splits
    lr = {"lr 100x too high": 1e-1, "lr 100x too low": 1e-5}.get(fault, 1e-3)
    if fault == "unscaled inputs":  # raw-pixel scale: 0-255 with an offset
        x_train, x_val = 255 * x_train + 128, 255 * x_val + 128
    if fault == "shuffled labels":
        y_train = np.random.default_rng(1).permutation(y_train)
    if fault == "leaked validation rows":
        x_val, y_val = x_train[:300], y_train[:300]
    return diagnose(
        mlp(fault), nn.CrossEntropyLoss(), (x_train, y_train), (x_val, y_val), lr=lr, **BUDGET
    )


@pytest.mark.parametrize("fault", list(PLANTED))
def test_each_planted_fault_is_named_as_an_error_or_warning(fault, splits):
    found = run_doctor(fault, splits)
    named = {f.name for f in found if f.severity != "info"}
    assert PLANTED[fault] in named, (fault, sorted(named))
    assert exit_code(found) == 1  # every planted fault includes an error


def test_the_healthy_setup_raises_no_alarm(splits):
    found = run_doctor("healthy", splits)
    assert [f for f in found if f.severity != "info"] == []
    assert exit_code(found) == 0
    checks = {f.check for f in found}
    assert checks == {
        "input_scale",
        "output",
        "initial_loss",
        "overfit_one_batch",
        "lr_range",
        "gradients",
        "activations",
        "leakage",
        "training",
        "labels",
    }


def test_findings_come_most_severe_first(splits):
    found = run_doctor("deep sigmoid", splits)
    ranks = [SEVERITIES.index(f.severity) for f in found]
    assert ranks == sorted(ranks, reverse=True)


def test_diagnosing_leaves_the_model_and_optimizer_unchanged(splits):
    x_train, y_train, x_val, y_val = splits
    model = nn.MLP(64, [32], 10, norm="batch", dropout=0.1)
    for m in model.modules():  # mixed modes: the batch norm frozen in eval, the rest training
        if isinstance(m, nn.BatchNorm1d):
            m.eval()
    modes = [m.training for m in model.modules()]
    opt = nnlab.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    diagnose(
        model,
        nn.CrossEntropyLoss(),
        (x_train, y_train),
        (x_val, y_val),
        optimizer=opt,
        overfit_steps=20,
        range_test_steps=20,
        training_steps=20,
        stat_batches=1,
    )
    after = model.state_dict()
    assert all(np.array_equal(before[k], after[k].numpy()) for k in before)
    assert [m.training for m in model.modules()] == modes and False in modes and True in modes
    assert opt.param_groups[0]["lr"] == 0.05
    assert opt.state_dict()["state"] == {}
    assert all(p.grad is None for p in model.parameters())


def _subject(model, x, y, x_val=None, y_val=None, batch_size=32) -> Subject:
    return Subject(
        model,
        nn.CrossEntropyLoss(),
        nnlab.optim.SGD(model.parameters(), lr=0.1),
        x,
        y,
        x_val,
        y_val,
        batch_size=batch_size,
        kind="cross_entropy",
    )


def test_leakage_counts_match_a_brute_force_comparison(splits):
    x_train, y_train, x_val, y_val = splits
    rng = np.random.default_rng(2)
    copied = rng.choice(len(x_train), 7, replace=False)
    x_val = x_val.copy()
    x_val[rng.choice(len(x_val), 7, replace=False)] = x_train[copied]
    brute = int((x_val[:, None, :] == x_train[None, :, :]).all(axis=2).any(axis=1).sum())
    (finding,) = C.check_leakage(_subject(nn.Linear(64, 10), x_train, y_train, x_val, y_val))
    assert finding.name == "split_leakage" and finding.severity == "error"  # 7/597 > 1%
    assert finding.evidence["shared_rows"] == brute == 7


def test_negative_zero_rows_count_as_the_same_row():
    x = np.zeros((3, 4), np.float32)
    x[1, 2] = 1
    (finding,) = C.check_leakage(_subject(nn.Linear(4, 2), x, np.arange(3) % 2, -x[:1], [0]))
    assert finding.evidence["shared_rows"] == 1


def test_initial_loss_of_a_zero_output_model_is_ln_c():
    """All-zero logits give uniform predictions: cross-entropy exactly ln C."""
    model = nn.Linear(5, 7)
    model.weight.array[...] = 0
    model.bias.array[...] = 0
    x = np.random.default_rng(0).standard_normal((40, 5)).astype(np.float32)
    (finding,) = C.check_initial_loss(_subject(model, x, np.arange(40) % 7))
    assert finding.name == "ok"
    assert finding.evidence["initial_loss"] == pytest.approx(math.log(7), rel=1e-4)
    assert finding.evidence["expected"] == pytest.approx(math.log(7), rel=1e-4)


def test_log_softmax_outputs_are_not_taken_for_probabilities():
    x = np.random.default_rng(0).standard_normal((40, 5)).astype(np.float32)
    y = np.arange(40) % 3
    logs = nn.Sequential(nn.Linear(5, 3), nn.LogSoftmax(dim=1))
    probs = nn.Sequential(nn.Linear(5, 3), nn.Softmax(dim=1))
    assert C.check_output_probabilities(_subject(logs, x, y))[0].name == "ok"
    (found,) = C.check_output_probabilities(_subject(probs, x, y))
    assert found.name == "outputs_are_probabilities" and found.severity == "error"


def test_dead_relus_and_saturated_tanh_built_in_are_found():
    x = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    y = np.arange(64) % 2
    dead = nn.Sequential(nn.Linear(8, 20), nn.ReLU(), nn.Linear(20, 2))
    dead[0].bias.array[:15] = -100.0  # 15 of 20 units can never fire on these inputs
    (finding,) = C.check_activations(_subject(dead, x, y))
    assert finding.name == "dead_relu"
    assert finding.evidence["dead_fraction"] == {"1": 0.75}
    saturated = nn.Sequential(nn.Linear(8, 20), nn.Tanh(), nn.Linear(20, 2))
    saturated[0].weight.array[...] *= 1000
    # Batches of all 64 rows: the hooks see every row, as the direct computation does.
    (finding,) = C.check_activations(_subject(saturated, x, y, batch_size=64))
    assert finding.name == "saturated_activations"
    fraction = np.mean(
        np.abs(np.tanh(x @ saturated[0].weight.array.T + saturated[0].bias.array)) > 0.99
    )
    assert finding.evidence["saturated_fraction"]["1"] == pytest.approx(fraction, abs=1e-3)


def test_the_loss_kind_is_read_through_wrappers():
    class Flat(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.loss = nn.BCEWithLogitsLoss()

    assert loss_kind(Flat()) == "bce_with_logits"
    assert loss_kind(nn.MSELoss()) == "mse"
    assert loss_kind(F.cross_entropy) == "other"


def test_bad_arguments_are_refused_naming_them(splits):
    x_train, y_train, _, _ = splits
    model = nn.Linear(64, 10)
    with pytest.raises(ValueError, match="train_data has 1200 input rows but 5 targets"):
        diagnose(model, nn.CrossEntropyLoss(), (x_train, y_train[:5]))
    with pytest.raises(ValueError, match="must be float rows"):
        diagnose(model, nn.CrossEntropyLoss(), (y_train, y_train))
    with pytest.raises(TypeError, match="val_data must be an"):
        diagnose(model, nn.CrossEntropyLoss(), (x_train, y_train), val_data=3)
    with pytest.raises(ValueError, match="Finding.severity must be one of"):
        Finding("x", "y", "fatal", "z")


def test_balanced_accuracy_matches_sklearn():
    rng = np.random.default_rng(3)
    y = rng.choice(4, size=300, p=[0.7, 0.2, 0.07, 0.03])
    pred = np.where(rng.random(300) < 0.6, y, rng.integers(0, 4, 300))
    assert balanced_accuracy(y, pred) == pytest.approx(balanced_accuracy_score(y, pred))


def test_a_predictor_that_ignores_the_inputs_rarely_passes_the_chance_bound():
    """Monte Carlo: random guesses on imbalanced labels exceed the bound in well under 1%
    of 4000 trials, while their mean balanced accuracy is 1/C."""
    rng = np.random.default_rng(4)
    y = rng.choice(3, size=200, p=[0.6, 0.3, 0.1])
    chance, bound = C._chance_bound(y)
    scores = np.array([balanced_accuracy(y, rng.integers(0, 3, 200)) for _ in range(4000)])
    assert chance == pytest.approx(1 / 3)
    assert scores.mean() == pytest.approx(1 / 3, abs=0.01)
    assert np.mean(scores > bound) < 0.01


def test_initial_loss_expectation_counts_the_positive_weight():
    """BCE with logits at all-zero logits: ln 2 * mean(w * y + (1 - y)) for pos_weight w."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((100, 3)).astype(np.float32)
    y = (rng.random(100) < 0.2).astype(np.float32)
    loss = nn.BCEWithLogitsLoss(pos_weight=nnlab.tensor([4.0]))
    model = nn.Linear(3, 1)
    s = Subject(model, loss, nnlab.optim.SGD(model.parameters(), lr=0.1), x, y[:, None])
    s.kind = loss_kind(loss)
    (finding,) = C.check_initial_loss(s)
    closed_form = math.log(2) * np.mean(4 * y + (1 - y))
    assert finding.evidence["expected"] == pytest.approx(closed_form, rel=1e-4)
