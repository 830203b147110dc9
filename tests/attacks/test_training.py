"""``adversarial_training_step`` against a second implementation: torch, fed the closed-form
worst case of a linear model (x' = x − ε·sign(w_y − w_o), which FGSM finds exactly), then
one hand-written SGD step on (1 − mix)·ℓ(x) + mix·ℓ(x')."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn
from nnlab.attacks import FGSM, PGD, adversarial_training_step

pytestmark = pytest.mark.usefixtures("one_blas_thread")


@pytest.mark.parametrize("mix", [1.0, 0.5])
def test_one_step_matches_torch_on_the_closed_form_worst_case(mix):
    nnlab.manual_seed(0)
    model = nn.Linear(5, 2).double()
    w, b = (torch.tensor(p.detach().numpy(), requires_grad=True) for p in model.parameters())
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 5)), rng.integers(0, 2, 12)
    eps, lr = 0.2, 0.5

    wn = w.detach().numpy()
    v = np.where(y[:, None] == 0, wn[0] - wn[1], wn[1] - wn[0])
    x_adv = torch.tensor(x - eps * np.sign(v))
    ce = torch.nn.functional.cross_entropy
    expected = mix * ce(x_adv @ w.T + b, torch.tensor(y))
    expected = expected + (1 - mix) * ce(torch.tensor(x) @ w.T + b, torch.tensor(y))
    expected.backward()

    opt = nnlab.optim.SGD(model.parameters(), lr=lr)
    attack = FGSM(model, eps, clip_min=None, clip_max=None)
    loss = adversarial_training_step(model, opt, attack, nnlab.tensor(x), y, mix=mix)
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(model.weight.detach().numpy(), (w - lr * w.grad).detach(), 1e-12)
    np.testing.assert_allclose(model.bias.detach().numpy(), (b - lr * b.grad).detach(), 1e-12)


def test_the_update_sees_the_models_own_mode():
    nnlab.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 3))
    opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
    attack = PGD(model, 0.1, 0.05, 3, clip_min=None, clip_max=None)
    adversarial_training_step(model, opt, attack, nnlab.randn(8, 4), np.arange(8) % 3)
    assert all(m.training for m in model.modules())


def test_bad_arguments_are_named():
    model, other = nn.Linear(4, 3), nn.Linear(4, 3)
    opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
    x, y = nnlab.rand(2, 4), np.array([0, 1])
    with pytest.raises(ValueError, match="attack.model must be the model being trained"):
        adversarial_training_step(model, opt, FGSM(other, 0.1), x, y)
    with pytest.raises(ValueError, match=r"mix must be in \[0, 1\], got 1.5"):
        adversarial_training_step(model, opt, FGSM(model, 0.1), x, y, mix=1.5)
    with pytest.raises(ValueError, match="the attack must be untargeted"):
        adversarial_training_step(model, opt, FGSM(model, 0.1, targeted=True), x, y)
