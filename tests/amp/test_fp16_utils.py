"""float16 model with float32 master weights: the master copy receives the float16
gradients, an overflowing iteration changes nothing but the scale, and a clean one equals
the float32 update computed from the same float16 gradients."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.amp.fp16_utils import (
    master_params_to_model_params,
    model_grads_to_master_grads,
    prep_param_lists,
)
from nnlab.amp.grad_scaler import GradScaler

# The overflowing iteration is the point: NumPy warns about it.
pytestmark = [
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]


def half_model() -> nn.Module:
    nnlab.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).half()


def iteration(model, model_params, master_params, opt, scaler, x, y) -> None:
    """One mixed-precision step: float16 forward/backward, float32 loss and update."""
    model.zero_grad()
    loss = nnlab.nn.functional.cross_entropy(model(x).float(), y)
    scaler.scale(loss).backward()
    model_grads_to_master_grads(model_params, master_params)
    scaler.step(opt)
    scaler.update()
    master_params_to_model_params(model_params, master_params)


def data():
    rng = np.random.default_rng(1)
    x = nnlab.tensor(rng.standard_normal((6, 4)).astype(np.float16))
    return x, nnlab.tensor(rng.integers(0, 3, 6))


def test_master_copy_is_float32_and_model_stays_float16():
    model = half_model()
    model_params, master_params = prep_param_lists(model)
    assert [p.dtype for p in master_params] == [nnlab.float32] * 4
    for a, b in zip(model_params, master_params, strict=True):
        np.testing.assert_array_equal(a.detach().numpy().astype(np.float32), b.detach().numpy())
    opt = nnlab.optim.SGD(master_params, lr=0.5)
    iteration(model, model_params, master_params, opt, GradScaler(init_scale=128.0), *data())
    assert all(p.dtype == nnlab.float16 for p in model.parameters())
    for a, b in zip(model_params, master_params, strict=True):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy().astype(np.float16))


def test_clean_step_is_sgd_on_the_unscaled_float16_gradients():
    x, y = data()
    model = half_model()
    model.zero_grad()
    nnlab.nn.functional.cross_entropy(model(x).float(), y).mul(128.0).backward()
    expected = [
        p.detach().numpy().astype(np.float32) - np.float32(0.5) * (p.grad.numpy() / 128)
        for p in model.parameters()
    ]
    model = half_model()
    model_params, master_params = prep_param_lists(model)
    opt = nnlab.optim.SGD(master_params, lr=0.5)
    iteration(model, model_params, master_params, opt, GradScaler(init_scale=128.0), x, y)
    for m, e in zip(master_params, expected, strict=True):
        np.testing.assert_allclose(m.detach().numpy(), e, rtol=1e-6, atol=1e-7)


def test_overflowing_scale_skips_the_step_and_backs_off():
    model = half_model()
    model_params, master_params = prep_param_lists(model)
    before = [p.detach().numpy().copy() for p in master_params]
    opt = nnlab.optim.SGD(master_params, lr=0.5)
    scaler = GradScaler(init_scale=2.0**24)  # × float16 gradients overflows (max 65504)
    iteration(model, model_params, master_params, opt, scaler, *data())
    for b, p in zip(before, master_params, strict=True):
        np.testing.assert_array_equal(b, p.detach().numpy())
    assert scaler.get_scale() == 2.0**23


def test_mismatched_lists_are_refused():
    model_params, master_params = prep_param_lists(half_model())
    with pytest.raises(ValueError, match="as many master params"):
        model_grads_to_master_grads(model_params, master_params[:-1])
    with pytest.raises(ValueError, match="shape"):
        master_params_to_model_params(model_params, master_params[::-1])
