"""RNN, LSTM and GRU vs PyTorch: outputs, final states, every gradient; fused ops vs
finite differences; dropout; errors; init; repr.

Convention: each row of :data:`CASES` is a layer class (same name in ``nnlab.nn`` and
``torch.nn``) and its constructor arguments; every row runs on each input shape of
:data:`SHAPES` (batch of 3, batch of 1, a single step, an unbatched sequence), with and
without initial states, in float32 and float64, through ``rnn_oracle.check_layer`` (see its
docstring for what is compared and the tolerances). Adding a configuration means adding
a row.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from rnn_oracle import build, check_layer

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck
from nnlab.ops.recurrent import lstm_sequence, rnn_sequence
from nnlab.ops.recurrent_gru import gru_sequence

DTYPES = (np.float32, np.float64)
I, H = 3, 4
# torch warns that its oneDNN LSTM lacks projections and falls back to its own kernel.
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

CASES = [
    ("RNN", dict(input_size=I, hidden_size=H)),
    ("RNN", dict(input_size=I, hidden_size=H, nonlinearity="relu", num_layers=2)),
    ("RNN", dict(input_size=I, hidden_size=H, bias=False, bidirectional=True)),
    ("RNN", dict(input_size=I, hidden_size=H, num_layers=3, batch_first=True)),
    ("LSTM", dict(input_size=I, hidden_size=H)),
    ("LSTM", dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True)),
    ("LSTM", dict(input_size=I, hidden_size=H, num_layers=3, batch_first=True)),
    ("LSTM", dict(input_size=I, hidden_size=H, proj_size=2)),
    ("LSTM", dict(input_size=I, hidden_size=H, proj_size=3, num_layers=2, bidirectional=True)),
    ("LSTM", dict(input_size=I, hidden_size=H, bias=False, batch_first=True)),
    ("GRU", dict(input_size=I, hidden_size=H)),
    ("GRU", dict(input_size=I, hidden_size=H, num_layers=2, bidirectional=True,
                 batch_first=True)),
    ("GRU", dict(input_size=I, hidden_size=H, num_layers=3, bias=False)),
]  # fmt: skip
IDS = [f"{k}-" + "-".join(f"{a}={v}" for a, v in kw.items() if a not in ("input_size",
       "hidden_size")) for k, kw in CASES]  # fmt: skip

# (T, B, I) time-major shapes; transposed for batch_first layers. None: unbatched (T, I).
SHAPES = [(5, 3), (4, 1), (1, 2), (3, None)]


def _shape(kwargs: dict, t: int, b: int | None) -> tuple[int, ...]:
    if b is None:
        return (t, I)
    return (b, t, I) if kwargs.get("batch_first") else (t, b, I)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind,kwargs", CASES, ids=IDS)
def test_layer_matches_torch(kind: str, kwargs: dict, dtype: type) -> None:
    for t, b in SHAPES:
        for with_state in (False, True):
            check_layer(kind, kwargs, _shape(kwargs, t, b), dtype, with_state)


# -- fused ops vs finite differences (float64) ----------------------------------------------


def _leaf(rng: np.random.Generator, *shape: int, scale: float = 1.0) -> nnlab.Tensor:
    return nnlab.tensor(scale * rng.standard_normal(shape), requires_grad=True)


GRADCHECK = [
    ("rnn-tanh", None, False), ("rnn-relu", None, True), ("lstm", None, False),
    ("lstm-proj", None, True), ("gru", None, False), ("gru", [3, 2, 1], True),
    ("lstm", [3, 3, 1], True), ("rnn-tanh", [3, 1, 1], False),
]  # fmt: skip


@pytest.mark.parametrize("op,batch_sizes,reverse", GRADCHECK)
def test_fused_op_gradcheck(op: str, batch_sizes: list | None, reverse: bool) -> None:
    rng = np.random.default_rng(7)
    n_in, h, b, t = 2, 3, 3, 3
    gates = {"rnn": 1, "lstm": 4, "gru": 3}[op.split("-")[0]]
    out = 2 if op == "lstm-proj" else h
    if batch_sizes is None:
        x = _leaf(rng, t, b, n_in)
    else:
        x = _leaf(rng, sum(batch_sizes), n_in)
    h0 = _leaf(rng, batch_sizes[0] if batch_sizes else b, out)
    w = [_leaf(rng, gates * h, n_in, scale=0.5), _leaf(rng, gates * h, out, scale=0.5),
         _leaf(rng, gates * h, scale=0.5), _leaf(rng, gates * h, scale=0.5)]  # fmt: skip
    kw = dict(batch_sizes=batch_sizes, reverse=reverse)
    if op.startswith("rnn"):
        nl = op.split("-")[1]
        assert gradcheck(lambda *a: rnn_sequence(*a, nonlinearity=nl, **kw), [x, h0, *w])
    elif op == "gru":
        assert gradcheck(lambda *a: gru_sequence(*a, **kw), [x, h0, *w])
    else:
        c0 = _leaf(rng, h0.shape[0], h)
        w_hr = _leaf(rng, out, h, scale=0.5) if op == "lstm-proj" else None
        args = [x, h0, c0, *w] + ([w_hr] if w_hr is not None else [])
        assert gradcheck(lambda *a: lstm_sequence(*a, **kw), args)


# -- dropout between layers -----------------------------------------------------------------


def test_dropout_between_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """dropout=0.5: train output differs from eval; eval matches torch; seeded runs repeat;
    about half of the inter-layer activations are zeroed (and only those, ×2 scaling)."""
    kwargs = dict(input_size=I, hidden_size=16, num_layers=3, dropout=0.5)
    ours, theirs = build("LSTM", kwargs, np.float64)
    x = np.random.default_rng(0).standard_normal((6, 5, I))
    ours.eval()
    theirs.eval()
    out_eval = ours(nnlab.tensor(x))[0].array
    np.testing.assert_allclose(out_eval, theirs(torch.tensor(x))[0].detach().numpy(), rtol=1e-9)

    seen = []
    real_dropout = F.dropout

    def spy(t, p=0.5, training=True, generator=None):
        y = real_dropout(t, p, training, generator)
        seen.append((t.array, y.array))
        return y

    monkeypatch.setattr(F, "dropout", spy)
    ours.train()
    nnlab.manual_seed(123)
    out1 = ours(nnlab.tensor(x))[0].array
    nnlab.manual_seed(123)
    out2 = ours(nnlab.tensor(x))[0].array
    nnlab.manual_seed(124)
    out3 = ours(nnlab.tensor(x))[0].array
    assert not np.allclose(out1, out_eval)
    np.testing.assert_array_equal(out1, out2)
    assert not np.allclose(out1, out3)
    assert len(seen) == 6  # 2 inter-layer dropouts per call, 3 calls
    before, after = (
        np.concatenate([s[0].ravel() for s in seen]),
        np.concatenate([s[1].ravel() for s in seen]),
    )
    dropped = after == 0
    assert abs(dropped.mean() - 0.5) < 0.05  # 1,440 values: σ ≈ 0.013
    np.testing.assert_allclose(after[~dropped], 2 * before[~dropped])


def test_dropout_warns_for_one_layer_and_checks_range() -> None:
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        nn.GRU(3, 4, dropout=0.2)
    with pytest.raises(ValueError, match="dropout"):
        nn.LSTM(3, 4, num_layers=2, dropout=1.5)


# -- bad input -----------------------------------------------------------------------------


def _error(model: nn.Module, *args) -> str:
    with pytest.raises(ValueError) as info:
        model(*args)
    return str(info.value)


def test_wrong_input_size_names_layer_and_shapes() -> None:
    model = nn.Sequential(nn.LSTM(8, 16))
    message = _error(model, nnlab.randn(5, 2, 7))
    assert "model.0 (LSTM)" in message and "H_in=8" in message and "(5, 2, 7)" in message


def test_wrong_rank_is_rejected() -> None:
    message = _error(nn.GRU(3, 4), nnlab.randn(2, 3, 4, 3))
    assert "(GRU)" in message and "(2, 3, 4, 3)" in message


@pytest.mark.parametrize("kind", ["RNN", "GRU", "LSTM"])
def test_wrong_h0_shape_names_expected_and_received(kind: str) -> None:
    model = getattr(nn, kind)(3, 4, num_layers=2)
    h0 = nnlab.zeros(1, 5, 4)
    hx = (h0, nnlab.zeros(2, 5, 4)) if kind == "LSTM" else h0
    message = _error(model, nnlab.randn(6, 5, 3), hx)
    assert f"({kind})" in message and "(2, 5, 4)" in message and "(1, 5, 4)" in message


def test_wrong_c0_shape_and_missing_tuple() -> None:
    model = nn.LSTM(3, 4, proj_size=2)
    message = _error(model, nnlab.randn(6, 5, 3), (nnlab.zeros(1, 5, 2), nnlab.zeros(1, 5, 2)))
    assert "c_0" in message and "(1, 5, 4)" in message and "(1, 5, 2)" in message
    with pytest.raises(TypeError, match=r"\(h_0, c_0\)"):
        model(nnlab.randn(6, 5, 3), nnlab.zeros(1, 5, 2))


def test_dtype_mismatch_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="dtype"):
        nn.GRU(3, 4)(nnlab.randn(2, 1, 3, dtype=nnlab.float64))


def test_constructor_checks_like_torch() -> None:
    with pytest.raises(ValueError, match="proj_size"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)
    with pytest.raises(ValueError, match="nonlinearity"):
        nn.RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="hidden_size"):
        nn.LSTM(3, 0)


# -- init, repr, parameters ----------------------------------------------------------------


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_default_init_is_torchs(kind: str) -> None:
    """Every parameter ~ U(-1/√H, 1/√H), as torch's reset_parameters."""
    hidden = 64
    ours = getattr(nn, kind)(32, hidden, num_layers=2)
    bound = 1 / math.sqrt(hidden)
    for name, p in ours.named_parameters():
        w = p.array
        assert w.dtype == np.float32, name
        assert -bound <= w.min() and w.max() <= bound, name
        if w.size > 1000:
            assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.05), name


@pytest.mark.parametrize("kind,kwargs", CASES, ids=IDS)
def test_repr_matches_torch(kind: str, kwargs: dict) -> None:
    ours, theirs = getattr(nn, kind)(**kwargs), getattr(torch.nn, kind)(**kwargs)
    assert repr(ours) == repr(theirs)
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())


def test_all_weights_groups_per_layer_and_direction() -> None:
    lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    groups = lstm.all_weights
    assert len(groups) == 4 and all(len(g) == 5 for g in groups)
    assert groups[1][0] is lstm.weight_ih_l0_reverse


def test_state_dict_round_trip_and_double() -> None:
    a = nn.GRU(3, 5, num_layers=2, bidirectional=True)
    b = nn.GRU(3, 5, num_layers=2, bidirectional=True)
    b.load_state_dict(a.state_dict())
    x = nnlab.randn(4, 2, 3)
    np.testing.assert_array_equal(a(x)[0].array, b(x)[0].array)
    a.double()
    assert a(x.double())[0].dtype == np.float64


def test_training_reduces_loss() -> None:
    """A few SGD steps on a fixed batch lower the loss (the gradients point downhill)."""
    nnlab.manual_seed(0)
    model = nn.LSTM(3, 8, num_layers=2)
    x, target = nnlab.randn(10, 4, 3), nnlab.randn(10, 4, 8) * 0.5
    opt = nnlab.optim.Adam(model.parameters(), lr=0.02)
    losses = []
    for _ in range(30):
        opt.zero_grad()
        loss = ((model(x)[0] - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    assert losses[-1] < 0.85 * losses[0]


def test_no_grad_forward_stores_nothing() -> None:
    model = nn.LSTM(3, 4)
    with nnlab.no_grad():
        out, (h, c) = model(nnlab.randn(5, 2, 3))
    assert not out.requires_grad and out.grad_fn is None


def test_warnings_clean() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.LSTM(3, 4, num_layers=2, dropout=0.1)
