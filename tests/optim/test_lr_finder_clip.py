"""Gradient clipping against torch.nn.utils, and the learning-rate range test."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import nnlab
from nnlab import optim
from nnlab.nn import Module, Parameter
from nnlab.nn.utils.clip_grad import (
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)

# -- gradient clipping --------------------------------------------------------------------

SHAPES = [(4, 3), (3,), (2, 4), (1,)]
TOL = {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=1e-6, atol=1e-7)}


def _grads(seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * scale for s in SHAPES]


def _pair(grads, dtype, missing=()):
    """The same parameters and gradients in both libraries (index in ``missing``: no grad)."""
    ours, theirs = [], []
    for k, g in enumerate(grads):
        p = nnlab.zeros(*g.shape, dtype=dtype, requires_grad=True)
        t = torch.zeros(g.shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        if k not in missing:
            p.grad = nnlab.tensor(g.astype(dtype))
            t.grad = torch.tensor(g.astype(dtype))
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def _assert_grads_equal(ours, theirs, dtype):
    for p, t in zip(ours, theirs):
        if t.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == np.dtype(dtype)
            np.testing.assert_allclose(p.grad.array, t.grad.numpy(), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, 0.5, float("inf"), "inf", -float("inf")])
@pytest.mark.parametrize("max_norm", [0.5, 1e4], ids=["clipped", "unclipped"])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype):
    ours, theirs = _pair(_grads(), dtype, missing=(1,))
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, nnlab.Tensor) and total.shape == ()
    assert total.dtype == np.dtype(dtype)
    np.testing.assert_allclose(total.array, expected.numpy(), **TOL[dtype])
    _assert_grads_equal(ours, theirs, dtype)


def test_clip_grad_norm_reaches_max_norm():
    ours, _ = _pair(_grads(), np.float64)
    before = float(clip_grad_norm_(ours, 1.0))
    after = float(get_total_norm([p.grad for p in ours]))
    assert before > 1.0 and after == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_single_tensor_and_no_grads():
    p = nnlab.tensor([3.0, 4.0], requires_grad=True)
    assert float(clip_grad_norm_(p, 1.0)) == 0.0 and p.grad is None
    p.grad = nnlab.tensor([3.0, 4.0])
    assert float(clip_grad_norm_(p, 1.0)) == pytest.approx(5.0)
    np.testing.assert_allclose(p.grad.array, [0.6, 0.8], rtol=1e-5)


def test_nonfinite_norm():
    grads = _grads()
    grads[0][1, 1] = np.nan
    ours, theirs = _pair(grads, np.float64)
    with pytest.raises(RuntimeError, match="non-finite") as err:
        clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as torch_err:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    assert str(err.value) == str(torch_err.value)
    _assert_grads_equal(ours, theirs, np.float64)  # untouched
    total = clip_grad_norm_(ours, 1.0)  # as torch: scaled by the nan norm anyway
    torch_total = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert np.isnan(float(total)) and np.isnan(float(torch_total))
    for p, t in zip(ours, theirs):
        np.testing.assert_array_equal(np.isnan(p.grad.array), np.isnan(t.grad.numpy()))


def test_clip_grads_with_norm_and_get_total_norm_match_torch():
    ours, theirs = _pair(_grads(), np.float64)
    total = get_total_norm([p.grad for p in ours], norm_type=2.0)
    expected = torch.nn.utils.get_total_norm([t.grad for t in theirs], norm_type=2.0)
    np.testing.assert_allclose(total.array, expected.numpy(), rtol=1e-12)
    clip_grads_with_norm_(ours, 2.0, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 2.0, expected)
    _assert_grads_equal(ours, theirs, np.float64)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("clip_value", [0.5, 2.0, 100.0])
def test_clip_grad_value_matches_torch(clip_value, dtype):
    ours, theirs = _pair(_grads(), dtype, missing=(2,))
    assert clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    _assert_grads_equal(ours, theirs, dtype)


def test_shared_and_read_only_gradients_are_clipped_once():
    a, b = nnlab.zeros(3, requires_grad=True), nnlab.zeros(3, requires_grad=True)
    shared = nnlab.tensor([3.0, 0.0, 4.0], dtype=nnlab.float64)
    a.grad = b.grad = shared  # one array behind two gradients
    c = nnlab.zeros(2, 3, requires_grad=True)
    c.grad = nnlab.Tensor(np.broadcast_to(np.array([1.0, 2.0, 2.0]), (2, 3)))  # read-only view
    total = clip_grad_norm_([a, b, c], 1.0)
    t = [torch.tensor([3.0, 0.0, 4.0]), torch.tensor([3.0, 0.0, 4.0]), torch.ones(2, 3)]
    t[2][:] = torch.tensor([1.0, 2.0, 2.0])
    params = [torch.zeros_like(g, requires_grad=True) for g in t]
    for p, g in zip(params, t):
        p.grad = g
    expected = torch.nn.utils.clip_grad_norm_(params, 1.0)
    np.testing.assert_allclose(float(total), float(expected), rtol=1e-6)
    np.testing.assert_allclose(a.grad.array, params[0].grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(c.grad.array, params[2].grad.numpy(), rtol=1e-6)
    assert a.grad.array is b.grad.array


# -- learning-rate range test ---------------------------------------------------------------


class Linear(Module):
    def __init__(self, n_in, n_out, rng):
        super().__init__()
        self.weight = Parameter(nnlab.tensor(rng.standard_normal((n_out, n_in)) * 0.1))
        self.bias = Parameter(nnlab.zeros(n_out))

    def forward(self, x):
        return x @ self.weight.T + self.bias


def _regression(seed=0, n=256, batch=32):
    """y = x @ w* + noise, in mini-batches (a loader is any iterable of (x, y))."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 1)) + 0.1 * rng.standard_normal((n, 1))).astype(np.float32)
    loader = [
        (nnlab.tensor(x[i : i + batch]), nnlab.tensor(y[i : i + batch])) for i in range(0, n, batch)
    ]
    return Linear(5, 1, rng), loader


def mse(out, target):
    return ((out - target) ** 2).mean()


def _full_loss(model, loader):
    with nnlab.no_grad():
        return float(np.mean([float(mse(model(x), y)) for x, y in loader]))


def test_range_test_lengths_schedule_and_suggestion():
    model, loader = _regression()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    result = optim.lr_range_test(model, mse, opt, loader, start_lr=1e-5, end_lr=10, num_iter=100)
    n = len(result.lrs)
    assert len(result.losses) == len(result.raw_losses) == n
    assert result.diverged and 20 < n < 100  # lr = 10 blows up linear regression
    expected = 1e-5 * 1e6 ** (np.arange(n) / 99)
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-12)
    assert result.losses[0] == result.raw_losses[0]
    assert result.losses[-1] > 5 * min(result.losses)  # stopped at the divergence
    # Steepest descent of the loss for this problem: between 1e-3 and 1.
    assert 1e-3 < result.suggested_lr < 1.0
    assert result.suggest(skip_start=0, skip_end=0) is not None


def test_range_test_suggestion_trains_well():
    model, loader = _regression()
    opt = optim.SGD(model.parameters(), lr=1e-6)
    start = _full_loss(model, loader)
    lr = optim.lr_range_test(model, mse, opt, loader, start_lr=1e-5, end_lr=10).suggested_lr
    for group in opt.param_groups:
        group["lr"] = lr
    for _ in range(3):
        for x, y in loader:
            opt.zero_grad()
            mse(model(x), y).backward()
            opt.step()
    assert _full_loss(model, loader) < 0.2 * start


def test_range_test_restores_model_and_optimizer():
    model, loader = _regression()
    model.eval()
    opt = optim.Adam(model.parameters(), lr=3e-3)
    for x, y in loader[:3]:  # give the optimizer some state to restore
        opt.zero_grad()
        mse(model(x), y).backward()
        opt.step()
    weights = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(opt.state_dict())
    array = model.weight.array
    optim.lr_range_test(model, mse, opt, loader, num_iter=30)
    assert model.weight.array is array  # restored in place
    for key, value in weights.items():
        np.testing.assert_array_equal(model.state_dict()[key].array, value.array)
    after = opt.state_dict()
    assert after["param_groups"] == state["param_groups"]
    for k, s in state["state"].items():
        for name, value in s.items():
            np.testing.assert_array_equal(after["state"][k][name].array, value.array)
    assert not model.training
    assert all(p.grad is None for p in model.parameters())


def test_range_test_restores_even_when_interrupted():
    model, loader = _regression()
    opt = optim.SGD(model.parameters(), lr=0.1)
    weights = model.weight.array.copy()
    calls = []

    def failing_loss(out, target):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return mse(out, target)

    with pytest.raises(KeyboardInterrupt):
        optim.lr_range_test(model, failing_loss, opt, loader, start_lr=1e-2, end_lr=1.0)
    np.testing.assert_array_equal(model.weight.array, weights)
    assert opt.param_groups[0]["lr"] == 0.1


def test_range_test_with_a_one_shot_loader_and_no_smoothing():
    model, loader = _regression()
    opt = optim.SGD(model.parameters(), lr=0.1)
    result = optim.lr_range_test(
        model, mse, opt, iter(loader), start_lr=1e-4, end_lr=1e-2, num_iter=50, smooth=0.0
    )
    assert len(result.lrs) == len(loader) and not result.diverged
    assert result.losses == result.raw_losses


def test_plot_writes_a_png(tmp_path):
    model, loader = _regression()
    opt = optim.SGD(model.parameters(), lr=0.1)
    result = optim.lr_range_test(model, mse, opt, loader, start_lr=1e-5, end_lr=10, num_iter=60)
    path = result.plot(tmp_path / "plots" / "lr_finder.png")
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(start_lr=0), "start_lr must be positive"),
        (dict(start_lr=1e-3, end_lr=1e-4), "end_lr must be greater"),
        (dict(num_iter=1), "num_iter"),
        (dict(smooth=1.0), "smooth"),
        (dict(diverge_threshold=1.0), "diverge_threshold"),
    ],
)
def test_range_test_invalid_arguments(kwargs, message):
    model, loader = _regression()
    with pytest.raises(ValueError, match=message):
        optim.lr_range_test(model, mse, optim.SGD(model.parameters()), loader, **kwargs)
