"""GradScaler against torch.amp.GradScaler on the CPU: the same losses (some of them
overflowing) give the same scale trajectory, the same skipped steps and the same weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab.amp.grad_scaler import GradScaler

# The overflowing losses are the point: NumPy's overflow warnings are expected.
pytestmark = [
    pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning"),
    pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning"),
]

INIT_WEIGHTS = np.array([0.5, -1.0, 2.0], np.float32)


def coefficient_sequence(n: int = 40) -> list[np.ndarray]:
    """Loss coefficients: mostly finite; some so large that ``coef * scale`` overflows
    float32, some inf or NaN outright."""
    rng = np.random.default_rng(0)
    coefs = [rng.standard_normal(3).astype(np.float32) for _ in range(n)]
    for k in (2, 3, 9, 17, 18, 19, 30):
        coefs[k][1] = 1e36  # × 65536 > float32 max
    coefs[12][0] = np.inf
    coefs[25][2] = np.nan
    return coefs


def run_nnlab(coefs, clip_between: bool, **kwargs):
    w = nnlab.nn.Parameter(nnlab.tensor(INIT_WEIGHTS.copy()))
    opt = nnlab.optim.SGD([w], lr=0.1)
    scaler = GradScaler(**kwargs)
    scales, weights, grads = [], [], []
    for c in coefs:
        opt.zero_grad()
        scaler.scale((w * nnlab.tensor(c)).sum()).backward()
        if clip_between:
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        weights.append(w.detach().numpy().copy())
        grads.append(w.grad.numpy().copy())
    return scales, np.array(weights), scaler.state_dict(), np.array(grads)


def run_torch(coefs, clip_between: bool, **kwargs):
    w = torch.nn.Parameter(torch.tensor(INIT_WEIGHTS.copy()))
    opt = torch.optim.SGD([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", **kwargs)
    scales, weights, grads = [], [], []
    for c in coefs:
        opt.zero_grad()
        scaler.scale((w * torch.tensor(c)).sum()).backward()
        if clip_between:
            scaler.unscale_(opt)
        scaler.step(opt)
        scaler.update()
        scales.append(scaler.get_scale())
        weights.append(w.detach().numpy().copy())
        grads.append(w.grad.numpy().copy())
    return scales, np.array(weights), scaler.state_dict(), np.array(grads)


@pytest.mark.parametrize("clip_between", [False, True])
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(init_scale=2.0**16, growth_interval=3),
        dict(init_scale=3.0, growth_factor=3.0, backoff_factor=0.25, growth_interval=2),
        dict(init_scale=2.0**120, growth_interval=1),  # growth overflows: scale kept finite
        dict(enabled=False),
    ],
)
def test_matches_torch_scale_trajectory_and_skipped_steps(kwargs, clip_between):
    coefs = coefficient_sequence()
    ours = run_nnlab(coefs, clip_between, **kwargs)
    theirs = run_torch(coefs, clip_between, **kwargs)
    assert ours[0] == theirs[0]  # every scale, exactly
    assert ours[2] == theirs[2]
    # The unscaled gradients the optimizer saw, exactly (inf/NaN included).
    np.testing.assert_array_equal(ours[3], theirs[3])
    # SGD's own float32 rounding may differ by an ulp per step; a skipped step would differ by far
    # more. NaN weights appear only with the scaler disabled (the NaN step is taken).
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-6, atol=1e-6)


def test_skips_exactly_the_overflowing_steps():
    coefs = coefficient_sequence()
    _, weights, _, _ = run_nnlab(coefs, False, growth_interval=3)
    previous = np.vstack([INIT_WEIGHTS, weights[:-1]])
    skipped = [k for k in range(len(coefs)) if (weights[k] == previous[k]).all()]
    assert skipped == [2, 3, 9, 12, 17, 18, 19, 25, 30]


def test_state_dict_round_trip_continues_identically():
    coefs = coefficient_sequence()
    w = nnlab.nn.Parameter(nnlab.tensor(INIT_WEIGHTS.copy()))
    opt = nnlab.optim.SGD([w], lr=0.1)
    first = GradScaler(growth_interval=3)
    for c in coefs[:8]:
        opt.zero_grad()
        first.scale((w * nnlab.tensor(c)).sum()).backward()
        first.step(opt)
        first.update()
    second = GradScaler()
    second.load_state_dict(first.state_dict())
    assert second.state_dict() == first.state_dict()
    with pytest.raises(RuntimeError, match="empty"):
        GradScaler().load_state_dict(GradScaler(enabled=False).state_dict())


def test_misuse_raises_like_torch():
    w = nnlab.nn.Parameter(nnlab.tensor(INIT_WEIGHTS.copy()))
    opt = nnlab.optim.SGD([w], lr=0.1)
    scaler = GradScaler()
    with pytest.raises(RuntimeError, match="scale"):
        scaler.step(opt)  # no scale() yet
    scaler.scale(w.sum()).backward()
    scaler.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.unscale_(opt)
    scaler.step(opt)
    with pytest.raises(RuntimeError, match="already been called"):
        scaler.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        scaler.unscale_(opt)
    scaler.update()
    with pytest.raises(TypeError, match="outputs"):
        scaler.scale(3.0)
    with pytest.raises(ValueError, match="backoff_factor"):
        GradScaler(backoff_factor=2.0)


def test_float16_gradients_are_refused():
    w = nnlab.nn.Parameter(nnlab.tensor(INIT_WEIGHTS.copy()).to(nnlab.float16))
    opt = nnlab.optim.SGD([w], lr=0.1)
    scaler = GradScaler(init_scale=4.0)
    scaler.scale(w.sum()).backward()
    with pytest.raises(ValueError, match="FP16"):
        scaler.step(opt)


def test_update_with_new_scale():
    scaler = GradScaler()
    scaler.scale(nnlab.tensor(1.0))
    scaler.update(new_scale=8.0)
    assert scaler.get_scale() == 8.0
