"""Variable-length batches: packing utilities vs torch, recurrent layers on packed input vs
torch, padding invariance, and the truncated-BPTT helpers.

The layer rows run through ``rnn_oracle.check_layer`` with ``lengths``: both libraries pack
the same padded batch with their own ``pack_padded_sequence``, run the layer, unpack with
``pad_packed_sequence``; outputs (zeros at padded steps), h_n, c_n and every gradient must
agree (tolerances: see ``rnn_oracle``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rnn_oracle import check_layer

import nnlab
from nnlab import nn
from nnlab.nn.utils import rnn as R

TR = torch.nn.utils.rnn
DTYPES = (np.float32, np.float64)
pytestmark = pytest.mark.filterwarnings("ignore:LSTM with projections:UserWarning")

CASES = [
    ("RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu")),
    ("RNN", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)),
    ("LSTM", dict(input_size=3, hidden_size=4)),
    ("LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)),
    ("LSTM", dict(input_size=3, hidden_size=4, proj_size=2, bidirectional=True,
                  batch_first=True)),
    ("GRU", dict(input_size=3, hidden_size=4, bidirectional=True, batch_first=True)),
    ("GRU", dict(input_size=3, hidden_size=4, num_layers=3, bias=False)),
]  # fmt: skip
IDS = [f"{k}-{i}" for i, (k, _) in enumerate(CASES)]
# (lengths, enforce_sorted): sorted, unsorted with ties, all full, one sequence.
LENGTHS = [([5, 3, 3, 1], True), ([2, 5, 1, 5], False), ([4, 4], True), ([3], True)]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("kind,kwargs", CASES, ids=IDS)
def test_packed_layer_matches_torch(kind: str, kwargs: dict, dtype: type) -> None:
    for lengths, enforce_sorted in LENGTHS:
        t, b = max(lengths), len(lengths)
        shape = (b, t, 3) if kwargs.get("batch_first") else (t, b, 3)
        for with_state in (False, True):
            check_layer(kind, kwargs, shape, dtype, with_state, lengths, enforce_sorted)


@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_padding_never_changes_results_or_gradients(kind: str) -> None:
    """Each sequence of a padded batch gives exactly what it gives alone, whatever the
    padding holds, and the padding receives no gradient."""
    nnlab.manual_seed(0)
    model = getattr(nn, kind)(3, 5, num_layers=2, bidirectional=True).double()
    rng = np.random.default_rng(1)
    lengths = [2, 6, 4]
    x = rng.standard_normal((6, 3, 3))
    for j, n in enumerate(lengths):
        x[n:, j] = 1e6 * rng.standard_normal((6 - n, 3))  # garbage in the padding
    xt = nnlab.tensor(x, requires_grad=True)
    packed = R.pack_padded_sequence(xt, lengths, enforce_sorted=False)
    out, final = model(packed)
    padded, _ = R.pad_packed_sequence(out, total_length=6)
    h_n = final[0] if kind == "LSTM" else final
    (padded.sum() + h_n.sum()).backward()
    for j, n in enumerate(lengths):
        alone = nnlab.tensor(x[:n, j : j + 1], requires_grad=True)
        out_j, final_j = model(alone)
        h_j = final_j[0] if kind == "LSTM" else final_j
        np.testing.assert_allclose(padded.array[:n, j], out_j.array[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_array_equal(padded.array[n:, j], 0)
        np.testing.assert_allclose(h_n.array[:, j], h_j.array[:, 0], rtol=1e-12, atol=1e-12)
        (out_j.sum() + h_j.sum()).backward()
        np.testing.assert_allclose(xt.grad.array[:n, j], alone.grad.array[:, 0], rtol=1e-10)
        np.testing.assert_array_equal(xt.grad.array[n:, j], 0)


# -- the utilities vs torch ---------------------------------------------------------------


def _seqs(lengths: list[int], dtype=np.float64) -> list[np.ndarray]:
    rng = np.random.default_rng(sum(lengths))
    return [rng.standard_normal((n, 2)).astype(dtype) for n in lengths]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first: bool, padding_side: str) -> None:
    seqs = _seqs([3, 1, 4])
    ours = R.pad_sequence([nnlab.tensor(s) for s in seqs], batch_first, -1.0, padding_side)
    theirs = TR.pad_sequence([torch.tensor(s) for s in seqs], batch_first, -1.0, padding_side)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("lengths,enforce_sorted", [([4, 3, 1], True), ([1, 4, 3, 4], False)])
def test_pack_and_pad_packed_match_torch(batch_first, lengths, enforce_sorted) -> None:
    seqs = _seqs(lengths)
    padded = TR.pad_sequence([torch.tensor(s) for s in seqs], batch_first)
    theirs = TR.pack_padded_sequence(padded, lengths, batch_first, enforce_sorted)
    x = nnlab.tensor(padded.numpy(), requires_grad=True)
    ours = R.pack_padded_sequence(x, lengths, batch_first, enforce_sorted)
    np.testing.assert_array_equal(ours.data.array, theirs.data.numpy())
    np.testing.assert_array_equal(ours.batch_sizes.array, theirs.batch_sizes.numpy())
    if enforce_sorted:
        assert ours.sorted_indices is None and theirs.sorted_indices is None
    else:
        np.testing.assert_array_equal(ours.unsorted_indices.array, theirs.unsorted_indices.numpy())
    back, lens = R.pad_packed_sequence(ours, batch_first, padding_value=7.0, total_length=6)
    t_back, t_lens = TR.pad_packed_sequence(theirs, batch_first, 7.0, total_length=6)
    np.testing.assert_array_equal(back.array, t_back.numpy())
    np.testing.assert_array_equal(lens.array, t_lens.numpy())
    g = np.random.default_rng(0).standard_normal(back.shape)
    back.backward(g)
    expected = g[: x.shape[0]] if not batch_first else g[:, : x.shape[1]]
    valid = np.arange(x.shape[1 if batch_first else 0])[:, None] < np.array(lengths)[None, :]
    valid = valid.T if batch_first else valid
    np.testing.assert_array_equal(x.grad.array, expected * valid[..., None])


def test_pack_sequence_and_unpack_round_trip() -> None:
    seqs = [nnlab.tensor(s) for s in _seqs([2, 5, 3])]
    packed = R.pack_sequence(seqs, enforce_sorted=False)
    theirs = TR.pack_sequence([torch.tensor(s.array) for s in seqs], enforce_sorted=False)
    np.testing.assert_array_equal(packed.data.array, theirs.data.numpy())
    for a, b in zip(R.unpack_sequence(packed), seqs):
        np.testing.assert_array_equal(a.array, b.array)
    padded, lengths = R.pad_packed_sequence(packed)
    for a, b in zip(R.unpad_sequence(padded, lengths), seqs):
        np.testing.assert_array_equal(a.array, b.array)


def test_packing_errors_like_torch() -> None:
    x = nnlab.zeros(4, 3, 2)
    with pytest.raises(RuntimeError, match="sorted in decreasing order"):
        R.pack_padded_sequence(x, [2, 4, 1])
    with pytest.raises(RuntimeError, match="greater than 0"):
        R.pack_padded_sequence(x, [4, 2, 0])
    with pytest.raises(ValueError, match="exceeds"):
        R.pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(ValueError, match="3 sequences"):
        R.pack_padded_sequence(x, [4, 2])
    packed = R.pack_padded_sequence(x, [4, 2, 1])
    with pytest.raises(ValueError, match="total_length"):
        R.pad_packed_sequence(packed, total_length=3)


def test_packed_input_with_wrong_features_names_layer() -> None:
    packed = R.pack_padded_sequence(nnlab.zeros(4, 2, 5), [4, 2])
    with pytest.raises(ValueError, match=r"\(GRU\).*\(N, 3\)"):
        nn.GRU(3, 4)(packed)


# -- truncated BPTT ------------------------------------------------------------------------


def test_tbptt_chunks_and_detach_state() -> None:
    """Chunks carried with detached states reproduce the full sequence's forward values,
    while each backward stops at its chunk's start."""
    nnlab.manual_seed(0)
    lstm = nn.LSTM(3, 4, batch_first=True).double()
    x = nnlab.tensor(np.random.default_rng(0).standard_normal((2, 10, 3)))
    full, _ = lstm(x)
    chunks = list(R.tbptt_chunks(x, 4, batch_first=True))
    assert [c.shape[1] for c in chunks] == [4, 4, 2]
    state, outs = None, []
    for chunk in chunks:
        out, state = lstm(chunk, state)
        out.sum().backward()
        outs.append(out.array)
        state = R.detach_state(state)
        assert isinstance(state, tuple) and not state[0].requires_grad
    np.testing.assert_allclose(np.concatenate(outs, 1), full.array, rtol=1e-12)
    with pytest.raises(ValueError, match="positive"):
        next(R.tbptt_chunks(x, 0))
    assert R.detach_state(None) is None
    with pytest.raises(TypeError):
        R.detach_state("h")
