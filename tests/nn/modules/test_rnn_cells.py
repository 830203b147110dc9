"""RNNCell, LSTMCell, GRUCell vs PyTorch, and the fused sequence layers vs cell-by-cell
unrolls (the composed twin: the same maps from primitive ops, autograd's backward).

Tolerances: ``parity.module_tolerance`` (float32: rtol 1e-5 + 1e-5·scale; float64: 1e-10);
the fused vs unrolled comparison runs in float64 and must agree to 1e-10.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rnn_oracle import TORCH_DTYPE, compare

import nnlab
from nnlab import nn

DTYPES = (np.float32, np.float64)
CELLS = [
    ("RNNCell", dict(input_size=3, hidden_size=4)),
    ("RNNCell", dict(input_size=3, hidden_size=4, nonlinearity="relu", bias=False)),
    ("LSTMCell", dict(input_size=3, hidden_size=4)),
    ("LSTMCell", dict(input_size=3, hidden_size=4, bias=False)),
    ("GRUCell", dict(input_size=3, hidden_size=4)),
    ("GRUCell", dict(input_size=3, hidden_size=4, bias=False)),
]
IDS = [f"{k}-{i}" for i, (k, _) in enumerate(CELLS)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind,kwargs", CELLS, ids=IDS)
@pytest.mark.parametrize("batch", [5, 1, None], ids=["b5", "b1", "unbatched"])
@pytest.mark.parametrize("with_state", [False, True], ids=["zeros", "state"])
def test_cell_matches_torch(kind, kwargs, dtype, batch, with_state) -> None:
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(**kwargs).to(TORCH_DTYPE[dtype])
    ours = getattr(nn, kind)(**kwargs).to(dtype)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(3)
    lead = () if batch is None else (batch,)
    x = rng.standard_normal(lead + (3,)).astype(dtype)
    states = [rng.standard_normal(lead + (4,)).astype(dtype)
              for _ in range(2 if kind == "LSTMCell" else 1)] if with_state else []  # fmt: skip
    xs = [nnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)]
    hs = [[nnlab.tensor(s, requires_grad=True) for s in states],
          [torch.tensor(s, requires_grad=True) for s in states]]  # fmt: skip
    outs = []
    for model, xin, h in ((ours, xs[0], hs[0]), (theirs, xs[1], hs[1])):
        hx = None if not h else (tuple(h) if kind == "LSTMCell" else h[0])
        out = model(xin, hx)
        outs.append(list(out) if isinstance(out, tuple) else [out])
    label = f"{kind}{kwargs} batch={batch} {np.dtype(dtype)}"
    for a, e in zip(*outs):
        compare(a, e, dtype, f"{label}: output")
    seeds = [rng.standard_normal(tuple(e.shape)).astype(dtype) for e in outs[1]]
    nnlab.autograd.backward(outs[0], seeds)
    torch.autograd.backward(outs[1], [torch.from_numpy(s) for s in seeds])
    compare(xs[0].grad, xs[1].grad, dtype, f"{label}: grad of input")
    for a, e in zip(*hs):
        compare(a.grad, e.grad, dtype, f"{label}: grad of state")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        compare(p.grad, theirs_params[name].grad, dtype, f"{label}: grad of {name}")


def test_cell_bad_input_names_layer() -> None:
    cell = nn.Sequential(nn.LSTMCell(3, 4))
    with pytest.raises(ValueError, match=r"model\.0 \(LSTMCell\).*\(2, 5\)"):
        cell(nnlab.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(3, 4\)"):
        nn.GRUCell(3, 4)(nnlab.zeros(2, 3), nnlab.zeros(3, 4))


def test_cell_repr_matches_torch() -> None:
    for kind, kwargs in CELLS:
        ours, theirs = getattr(nn, kind)(**kwargs), getattr(torch.nn, kind)(**kwargs)
        assert repr(ours).splitlines()[0] == repr(theirs)


# -- fused layer vs the cell-by-cell unroll --------------------------------------------------

LAYERS = [
    ("RNN", "RNNCell", dict(nonlinearity="tanh")),
    ("RNN", "RNNCell", dict(nonlinearity="relu")),
    ("LSTM", "LSTMCell", {}),
    ("GRU", "GRUCell", {}),
]


def _unroll(cell: nn.Module, xs: nnlab.Tensor, state, reverse: bool):
    steps = range(xs.shape[0] - 1, -1, -1) if reverse else range(xs.shape[0])
    outs = {}
    for t in steps:
        state = cell(xs[t], state)
        outs[t] = state[0] if isinstance(state, tuple) else state
    return nnlab.stack([outs[t] for t in range(xs.shape[0])], 0), state


@pytest.mark.parametrize("layer,cell,extra", LAYERS, ids=[f"{a}-{i}" for i, (a, _, _) in
                                                          enumerate(LAYERS)])  # fmt: skip
def test_fused_layer_equals_cell_unroll(layer: str, cell: str, extra: dict) -> None:
    """A 2-layer bidirectional fused layer vs cells sharing its weights, unrolled step by
    step (layer 2 reads both directions of layer 1): outputs, states, all gradients."""
    nnlab.manual_seed(0)
    fused = getattr(nn, layer)(3, 4, num_layers=2, bidirectional=True, **extra).double()
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 2, 3))
    lstm = layer == "LSTM"
    h0 = rng.standard_normal((4, 2, 4))
    c0 = rng.standard_normal((4, 2, 4))
    hx = (nnlab.tensor(h0), nnlab.tensor(c0)) if lstm else nnlab.tensor(h0)
    xf = nnlab.tensor(x, requires_grad=True)
    out, final = fused(xf, hx)
    g = rng.standard_normal(out.shape)
    (out * nnlab.tensor(g)).sum().backward()
    fused_grads = {n: p.grad.array.copy() for n, p in fused.named_parameters()}

    xc = nnlab.tensor(x, requires_grad=True)
    layer_in, finals, cells = xc, [], {}
    for k in range(2):
        outs = []
        for d, sfx in enumerate(("", "_reverse")):
            c = getattr(nn, cell)(layer_in.shape[-1], 4, **extra).double()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(c, name).array[...] = getattr(fused, f"{name}_l{k}{sfx}").array
            cells[f"l{k}{sfx}"] = c
            i = 2 * k + d
            state = (nnlab.tensor(h0[i]), nnlab.tensor(c0[i])) if lstm else nnlab.tensor(h0[i])
            y, last = _unroll(c, layer_in, state, reverse=d == 1)
            outs.append(y)
            finals.append(last[0] if lstm else last)
        layer_in = nnlab.cat(outs, -1)
    (layer_in * nnlab.tensor(g)).sum().backward()
    np.testing.assert_allclose(out.array, layer_in.array, rtol=1e-10, atol=1e-12)
    h_n = final[0] if lstm else final
    np.testing.assert_allclose(h_n.array, nnlab.stack(finals, 0).array, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xf.grad.array, xc.grad.array, rtol=1e-10, atol=1e-12)
    for key, c in cells.items():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            np.testing.assert_allclose(
                fused_grads[f"{name}_{key}"], getattr(c, name).grad.array, rtol=1e-10, atol=1e-12
            )
