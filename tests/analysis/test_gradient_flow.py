"""Gradient flow through time: ``time_step_grad_norms`` vs torch, vanishing gradients in a
tanh RNN vs an LSTM, exploding gradients in a relu RNN, and gradient clipping keeping the
exploding case trainable while unclipped SGD diverges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn
from nnlab.analysis import time_step_grad_norms
from nnlab.nn.utils import clip_grad_norm_


def _torch_norms(kind: str, model: nn.Module, x: np.ndarray) -> np.ndarray:
    """‖dL/dh_t‖ from torch: its cell unrolled with our weights, retain_grad on each h_t."""
    cell = getattr(torch.nn, kind + "Cell")(model.input_size, model.hidden_size).double()
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(cell, name).copy_(torch.tensor(getattr(model, name + "_l0").array))
    state, hs = None, []
    for x_t in torch.tensor(x):
        state = cell(x_t, state)
        h = state[0] if kind == "LSTM" else state
        h.retain_grad()
        hs.append(h)
    (torch.stack(hs) ** 2).sum().backward()
    return np.array([float(h.grad.norm()) for h in hs])


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_norms_match_torch(kind: str) -> None:
    nnlab.manual_seed(0)
    model = getattr(nn, kind)(3, 5).double()
    x = np.random.default_rng(0).standard_normal((8, 2, 3))
    ours = time_step_grad_norms(model, nnlab.tensor(x), lambda y: (y**2).sum())
    np.testing.assert_allclose(ours, _torch_norms(kind, model, x), rtol=1e-10)
    assert all(p.grad is None for p in model.parameters())  # the model is left untouched


def test_cells_and_batch_first_are_supported() -> None:
    nnlab.manual_seed(0)
    x = nnlab.randn(2, 6, 3)
    layer = nn.GRU(3, 4, batch_first=True, num_layers=2)
    norms = time_step_grad_norms(layer, x, lambda y: y[:, -1].sum())
    assert norms.shape == (6,) and norms[-1] > 0
    cell = nn.LSTMCell(3, 4)
    assert time_step_grad_norms(cell, x.transpose(0, 1), lambda y: y.sum()).shape == (6,)
    with pytest.raises(ValueError, match="unidirectional"):
        time_step_grad_norms(nn.RNN(3, 4, bidirectional=True), x, lambda y: y.sum())


def test_vanishing_in_tanh_rnn_less_in_lstm() -> None:
    """Loss on the last step only: the gradient reaching step 0 shrinks geometrically in a
    tanh RNN with small recurrent weights; an LSTM whose forget gate is open (bias +3)
    carries it much further."""
    nnlab.manual_seed(0)
    x = nnlab.randn(40, 4, 8)
    rnn = nn.RNN(8, 32)
    lstm = nn.LSTM(8, 32)
    lstm.bias_hh_l0.array[32:64] = 3.0  # forget gate f = σ(≈3) ≈ 0.95
    last = lambda y: y[-1].sum()  # noqa: E731
    r = time_step_grad_norms(rnn, x, last)
    m = time_step_grad_norms(lstm, x, last)
    assert r[0] < 1e-6 * r[-1]
    assert m[0] / m[-1] > 1e3 * (r[0] / r[-1])


def _unstable_rnn() -> tuple[nn.Module, nn.Module]:
    nnlab.manual_seed(0)
    rnn = nn.RNN(2, 16, nonlinearity="relu").double()
    noise = 0.05 * np.random.default_rng(0).standard_normal((16, 16))
    rnn.weight_hh_l0.array[...] = 1.3 * np.eye(16) + noise  # spectral radius ≈ 1.3 > 1
    head = nn.Linear(16, 1).double()
    return rnn, head


def test_exploding_gradients_in_relu_rnn() -> None:
    rnn, _ = _unstable_rnn()
    x = nnlab.tensor(np.abs(np.random.default_rng(1).standard_normal((30, 4, 2))))
    norms = time_step_grad_norms(rnn, x, lambda y: y[-1].sum())
    assert norms[0] > 1e2 * norms[-1]  # gains > 1 per step: the early steps explode


@pytest.mark.parametrize("clip", [None, 1.0])
def test_clipping_keeps_unstable_training_finite(clip: float | None) -> None:
    rnn, head = _unstable_rnn()
    params = list(rnn.parameters()) + list(head.parameters())
    opt = nnlab.optim.SGD(params, lr=0.05)
    rng = np.random.default_rng(2)
    losses = []
    with np.errstate(all="ignore"):
        for _ in range(15):
            x = nnlab.tensor(np.abs(rng.standard_normal((30, 4, 2))))
            y = nnlab.tensor(rng.standard_normal((4, 1)))
            opt.zero_grad()
            out, _ = rnn(x)
            loss = ((head(out[-1]) - y) ** 2).mean()
            loss.backward()
            if clip is not None:
                total = clip_grad_norm_(params, clip)
                assert np.isfinite(float(total))
            opt.step()
            losses.append(float(loss.item()))
    finite = all(np.isfinite(p.array).all() for p in params)
    if clip is None:
        assert not finite or not np.isfinite(losses).all()  # unclipped SGD diverges
    else:
        assert finite and np.isfinite(losses).all()
        assert losses[-1] < losses[0]
