"""FGSM, PGD and PGDL2 against what is known independently of them.

- On a linear two-class model (logistic regression) the loss depends on x only through the
  margin m = (w_y − w_o)·x + b, so its worst case in the ball is closed-form: −ε·sign(v)
  in L∞ and −ε·v/‖v‖₂ in L2, with v = w_y − w_o. FGSM must equal the first exactly, PGD
  must reach the same loss, PGDL2 must converge to the second.
- FGSM against torch (the same network, torch's autograd for the input gradient).
- On a small nonlinear network: every result stays in its ball and the input range, PGD
  is at least as strong as FGSM, more steps and more restarts are never weaker on average
  (the gradient-masking check), and a targeted attack raises the target's probability.
- The model is left as it was: parameters' ``.grad``, each submodule's train/eval mode and
  batch norm's running statistics.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.attacks import FGSM, PGD, PGDL2

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def linear_model(d: int = 6) -> nn.Module:
    nnlab.manual_seed(0)
    return nn.Linear(d, 2).double()


def mlp(d: int = 6, width: int = 32, classes: int = 4) -> nn.Module:
    nnlab.manual_seed(1)
    return nn.Sequential(nn.Linear(d, width), nn.Tanh(), nn.Linear(width, classes))


def per_input_loss(model: nn.Module, x: nnlab.Tensor, y: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return F.cross_entropy(model(x), nnlab.tensor(y), reduction="none").numpy()


def linear_data(n: int = 10, d: int = 6) -> tuple[nnlab.Tensor, np.ndarray]:
    rng = np.random.default_rng(0)
    return nnlab.tensor(rng.standard_normal((n, d))), rng.integers(0, 2, n)


def worst_direction(model: nn.Module, y: np.ndarray) -> np.ndarray:
    """v_i = w_{y_i} − w_{other}: the loss falls as v·x grows."""
    w = model.weight.detach().numpy()
    return np.where(y[:, None] == 0, w[0] - w[1], w[1] - w[0])


def test_fgsm_is_the_exact_worst_case_of_a_linear_model():
    model = linear_model()
    x, y = linear_data()
    eps = 0.3
    x_adv = FGSM(model, eps, clip_min=None, clip_max=None)(x, y)
    best = x.numpy() - eps * np.sign(worst_direction(model, y))
    np.testing.assert_array_equal(x_adv.numpy(), best)


def test_pgd_reaches_the_linear_models_worst_loss():
    model = linear_model()
    x, y = linear_data()
    eps = 0.3
    optimum = per_input_loss(model, x - eps * np.sign(worst_direction(model, y)), y)
    x_adv = PGD(model, eps, alpha=eps / 4, steps=10, clip_min=None, clip_max=None)(x, y)
    np.testing.assert_allclose(per_input_loss(model, x_adv, y), optimum, rtol=1e-12)


def test_pgdl2_converges_to_the_linear_models_worst_perturbation():
    model = linear_model()
    x, y = linear_data()
    eps = 0.5
    v = worst_direction(model, y)
    best = -eps * v / np.linalg.norm(v, axis=1, keepdims=True)
    attack = PGDL2(model, eps, alpha=2 * eps, steps=30, clip_min=None, clip_max=None)
    delta = (attack(x, y) - x).numpy()
    np.testing.assert_allclose(delta, best, atol=1e-6)
    np.testing.assert_allclose(
        per_input_loss(model, x + delta, y), per_input_loss(model, x + best, y), rtol=1e-9
    )


def test_fgsm_matches_torch():
    model = mlp().double()
    rng = np.random.default_rng(2)
    x, y = rng.random((8, 6)), rng.integers(0, 4, 8)
    ref = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 4))
    with torch.no_grad():
        for p, q in zip(ref.parameters(), model.parameters()):
            p.copy_(torch.tensor(q.detach().numpy()))
    xt = torch.tensor(x, requires_grad=True)
    torch.nn.functional.cross_entropy(ref.double()(xt), torch.tensor(y)).backward()
    expected = (xt + 0.05 * xt.grad.sign()).clamp(0, 1).detach().numpy()
    np.testing.assert_array_equal(FGSM(model, 0.05)(nnlab.tensor(x), y).numpy(), expected)


@pytest.mark.parametrize(
    "make, norm",
    [
        (lambda m, lo, hi: FGSM(m, 0.2, clip_min=lo, clip_max=hi), np.inf),
        (lambda m, lo, hi: PGD(m, 0.2, 0.05, 7, clip_min=lo, clip_max=hi), np.inf),
        (lambda m, lo, hi: PGDL2(m, 0.5, 0.2, 7, restarts=2, clip_min=lo, clip_max=hi), 2),
    ],
    ids=["FGSM", "PGD", "PGDL2"],
)
def test_results_stay_in_the_ball_and_the_input_range(make, norm):
    model = mlp()
    rng = np.random.default_rng(3)
    lo = np.linspace(-1.0, 0.0, 6)  # per-feature bounds, as a standardisation gives
    hi = lo + np.linspace(0.5, 2.0, 6)
    x = (lo + (hi - lo) * rng.random((50, 6))).astype(np.float32)
    x_adv = make(model, lo, hi)(nnlab.tensor(x), rng.integers(0, 4, 50)).numpy()
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape
    eps = 0.2 if norm == np.inf else 0.5
    assert np.linalg.norm(x_adv - x, ord=norm, axis=1).max() <= eps * (1 + 1e-6)
    assert (x_adv >= lo.astype(np.float32)).all() and (x_adv <= hi.astype(np.float32)).all()
    assert np.abs(x_adv - x).max() > 0.01  # it did move


def nonlinear_problem() -> tuple[nn.Module, nnlab.Tensor, np.ndarray]:
    nnlab.manual_seed(1)
    model = nn.Sequential(
        nn.Linear(6, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 4)
    )
    for p in model.parameters():  # large weights: a strongly curved loss surface
        p.data = p.data * 4
    rng = np.random.default_rng(4)
    x = rng.random((200, 6)).astype(np.float32)
    with nnlab.no_grad():
        y = model(nnlab.tensor(x)).argmax(1).numpy()  # inputs the model gets right
    return model, nnlab.tensor(x), y


def test_pgd_is_at_least_as_strong_as_fgsm_and_more_steps_never_weaker():
    """The gradient-masking check: mean loss non-decreasing in the number of steps (with
    α = 2.5ε/steps, Madry et al.'s rule) and in the number of restarts."""
    model, x, y = nonlinear_problem()
    eps = 0.3
    nnlab.manual_seed(0)
    loss = {"fgsm": per_input_loss(model, FGSM(model, eps)(x, y), y).mean()}
    for steps in (2, 10, 40):
        attack = PGD(model, eps, 2.5 * eps / steps, steps)
        loss[steps] = per_input_loss(model, attack(x, y), y).mean()
    restarts = PGD(model, eps, 2.5 * eps / 40, 40, restarts=4)
    loss["restarts"] = per_input_loss(model, restarts(x, y), y).mean()
    assert loss["fgsm"] <= loss[2] <= loss[10] <= loss[40] <= loss["restarts"], loss
    assert loss[40] > 1.05 * loss["fgsm"], loss  # the network is not linear: PGD gains


@pytest.mark.parametrize("kind", ["FGSM", "PGD", "PGDL2"])
def test_a_targeted_attack_raises_the_target_probability(kind):
    model, x, y = nonlinear_problem()
    target = (y + 1) % 4
    attack = {
        "FGSM": FGSM(model, 0.05, targeted=True),
        "PGD": PGD(model, 0.05, 0.01, 10, targeted=True),
        "PGDL2": PGDL2(model, 0.1, 0.02, 10, targeted=True),
    }[kind]
    before = -per_input_loss(model, x, target)  # ln p_target
    after = -per_input_loss(model, attack(x, target), target)
    if kind == "FGSM":  # one linearised step: on average
        assert (after - before).mean() > 0 and (after > before).mean() > 0.9
    else:
        assert (after > before).all()
    untargeted = type(attack)(model, attack.eps)
    assert (-per_input_loss(model, untargeted(x, y), target) <= after).mean() > 0.5


def test_the_model_is_left_untouched():
    nnlab.manual_seed(5)
    model = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 3)
    )
    model[3].eval()  # a mixed state, which must come back as it was
    x = nnlab.rand(20, 6)
    y = nnlab.tensor(np.arange(20) % 3)
    F.cross_entropy(model(x), y).backward()
    grads = [p.grad.numpy().copy() for p in model.parameters()]
    modes = [m.training for m in model.modules()]
    stats = [b.numpy().copy() for b in model.buffers()]
    for attack in (FGSM(model, 0.1), PGD(model, 0.1, 0.02, 5), PGDL2(model, 0.5, 0.1, 5)):
        with nnlab.no_grad():  # and it works under no_grad, as in an evaluation loop
            attack(x, y)
    assert [m.training for m in model.modules()] == modes
    for g, p in zip(grads, model.parameters()):
        np.testing.assert_array_equal(p.grad.numpy(), g)
    for s, b in zip(stats, model.buffers()):
        np.testing.assert_array_equal(b.numpy(), s)


def test_random_starts_follow_manual_seed():
    model, x, y = nonlinear_problem()
    runs = []
    for _ in range(2):
        nnlab.manual_seed(7)
        runs.append(PGDL2(model, 0.2, 0.05, 3)(x, y).numpy())
    np.testing.assert_array_equal(*runs)


def test_eps_zero_returns_the_input():
    model, x, y = nonlinear_problem()
    for attack in (FGSM(model, 0.0), PGD(model, 0.0, 0.01, 3), PGDL2(model, 0.0, 0.01, 3)):
        np.testing.assert_array_equal(attack(x, y).numpy(), x.numpy())


def test_bad_arguments_are_named():
    model = mlp()
    x, y = nnlab.rand(4, 6), np.array([0, 1, 2, 3])
    with pytest.raises(ValueError, match=r"FGSM: eps must be a finite number ≥ 0, got -0.1"):
        FGSM(model, -0.1)
    with pytest.raises(ValueError, match="PGD: eps must be"):
        PGD(model, float("nan"))
    with pytest.raises(ValueError, match="PGD: alpha"):
        PGD(model, 0.1, alpha=0.0)
    with pytest.raises(ValueError, match="PGDL2: steps must be an integer ≥ 1, got 0"):
        PGDL2(model, 0.1, steps=0)
    with pytest.raises(ValueError, match="restarts=3 needs random_start=True"):
        PGD(model, 0.1, restarts=3, random_start=False)
    with pytest.raises(ValueError, match="clip_min must be ≤ clip_max"):
        FGSM(model, 0.1, clip_min=1.0, clip_max=0.0)
    with pytest.raises(TypeError, match="model must be an nnlab.nn.Module"):
        FGSM(lambda t: t, 0.1)
    attack = FGSM(model, 0.1)
    with pytest.raises(ValueError, match=r"labels must be 4 integer class indices, shape \(4,\)"):
        attack(x, y[:3])
    with pytest.raises(ValueError, match="labels must be 4 integer"):
        attack(x, y.astype(np.float32))
    with pytest.raises(ValueError, match=r"labels must be classes in \[0, 4\), got values"):
        attack(x, y + 1)
    with pytest.raises(ValueError, match=r"images must be a floating batch \(N, ...\)"):
        attack(nnlab.rand(6), y)
    with pytest.raises(ValueError, match="images lie outside the valid range"):
        attack(x + 2, y)
    with pytest.raises(ValueError, match=r"the model must return logits \(N, C\)"):
        FGSM(nn.Flatten(0), 0.1)(x, y)
