"""Seq2Seq with attention: shapes, padding invariance, fused vs step-by-step decoding,
greedy vs beam search, exact match, the attention plot and training on dates."""

from __future__ import annotations

import math

import numpy as np
import pytest

import nnlab
from experiments.dates import train_dates_seq2seq
from nnlab.analysis import plot_attention
from nnlab.models import Seq2Seq, exact_match, sequence_cross_entropy

# Small GEMMs: see the fixture in tests/conftest.py.
pytestmark = pytest.mark.usefixtures("one_blas_thread")

CONFIGS = [(cell, att) for cell in ("gru", "lstm") for att in ("additive", "dot", "general")]
SRC = np.array([[5, 6, 7, 8, 9], [9, 4, 0, 0, 0], [12, 11, 10, 0, 0]])
TGT_IN = np.array([[2, 4, 5, 6], [2, 6, 6, 7], [2, 5, 4, 3]])


def make(cell: str = "gru", attention: str = "additive", seed: int = 0, **kw) -> Seq2Seq:
    nnlab.manual_seed(seed)
    return Seq2Seq(20, 9, embed_dim=8, hidden_size=16, cell=cell, attention=attention, **kw)


@pytest.mark.parametrize("cell, attention", CONFIGS)
def test_shapes_and_gradients(cell, attention):
    model = make(cell, attention)
    logits = model(SRC, TGT_IN)
    assert logits.shape == (3, 4, 9)
    sequence_cross_entropy(logits, TGT_IN).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert missing == []
    ids, weights = model.greedy_decode(SRC, max_len=6)
    assert ids.shape[0] == 3 and ids.shape[1] <= 6 and ids.dtype == np.int64
    assert weights.shape == (3, ids.shape[1], 5)


@pytest.mark.parametrize("cell, attention", CONFIGS)
def test_padding_does_not_change_logits(cell, attention):
    model = make(cell, attention)
    wider = np.concatenate([SRC, np.zeros((3, 4), dtype=np.int64)], axis=1)
    a, b = model(SRC, TGT_IN).array, model(wider, TGT_IN).array
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # the attention puts exactly zero weight on padding
    _, weights = model.greedy_decode(wider, max_len=4)
    assert (weights.numpy()[:, :, 5:] == 0).all()
    assert (weights.numpy()[1, :, 2:] == 0).all()


@pytest.mark.parametrize("cell, attention", CONFIGS)
def test_fused_teacher_forcing_equals_step_by_step(cell, attention):
    model = make(cell, attention)
    fused = model(SRC, TGT_IN, teacher_forcing=1.0).array
    steps = model.decode_steps(SRC, TGT_IN, teacher_forcing=1.0).array
    np.testing.assert_allclose(fused, steps, rtol=1e-5, atol=1e-6)


def test_scheduled_sampling_is_seeded():
    model = make()
    a = model(SRC, TGT_IN, teacher_forcing=0.5, generator=nnlab.Generator(3)).array
    b = model(SRC, TGT_IN, teacher_forcing=0.5, generator=nnlab.Generator(3)).array
    np.testing.assert_array_equal(a, b)
    # ratio 0: every step reads the previous argmax, i.e. greedy decoding's inputs
    free = model(SRC, TGT_IN, teacher_forcing=0.0).array.argmax(-1)
    ids, _ = model.greedy_decode(SRC, max_len=4)
    ids = ids.numpy()
    ended = np.cumsum(ids == model.eos_idx, axis=1) - (ids == model.eos_idx) > 0
    np.testing.assert_array_equal(free[:, : ids.shape[1]][~ended], ids[~ended])


@pytest.mark.parametrize("cell, attention", [("gru", "additive"), ("lstm", "general")])
def test_beam_width_one_is_greedy(cell, attention):
    model = make(cell, attention, seed=1)
    greedy, _ = model.greedy_decode(SRC, max_len=7)
    beam, scores = model.beam_search(SRC, beam_width=1, max_len=7)
    np.testing.assert_array_equal(beam.numpy(), greedy.numpy())
    np.testing.assert_allclose(scores.numpy(), model.sequence_log_prob(SRC, greedy).numpy(),
                               rtol=1e-6)  # fmt: skip


@pytest.mark.parametrize("seed", range(4))
def test_beam_search_scores_at_least_greedy(seed):
    model = make("gru", "dot", seed=seed)
    greedy, _ = model.greedy_decode(SRC, max_len=6)
    beam, scores = model.beam_search(SRC, beam_width=4, max_len=6)
    greedy_lp = model.sequence_log_prob(SRC, greedy).numpy()
    beam_lp = model.sequence_log_prob(SRC, beam).numpy()
    np.testing.assert_allclose(scores.numpy(), beam_lp, rtol=1e-5)  # α = 0: the log-prob
    assert (beam_lp >= greedy_lp - 1e-6).all()


def test_length_penalty_prefers_longer_outputs():
    model = make("gru", "dot", seed=2)
    short, _ = model.beam_search(SRC, beam_width=4, max_len=8, length_penalty=0.0)
    long, _ = model.beam_search(SRC, beam_width=4, max_len=8, length_penalty=2.0)

    def lengths(ids):
        ids = ids.numpy()
        return (ids != model.pad_idx).sum(axis=1)

    assert (lengths(long) >= lengths(short)).all()


@pytest.mark.parametrize(
    "pred, target, expected",
    [
        ([[5, 6, 3, 0]], [[5, 6, 3]], 1.0),  # different widths, padding after eos
        ([[5, 6, 3, 7, 7]], [[5, 6, 3]], 1.0),  # whatever follows eos is ignored
        ([[5, 6, 7]], [[5, 6, 3]], 0.0),  # never ends: one token too many
        ([[5, 3]], [[5, 6, 3]], 0.0),  # ends too early
        ([[5, 6]], [[5, 6, 3]], 1.0),  # no eos, same tokens
        ([[3, 5]], [[3, 0]], 1.0),  # empty outputs
        ([[5, 0, 6, 3]], [[5, 6, 3, 0]], 0.0),  # a pad inside the output is a token
        ([[5, 6, 3], [5, 6, 3], [1, 1, 1], [5, 6, 3]], [[5, 6, 3]] * 4, 0.75),
    ],
)
def test_exact_match(pred, target, expected):
    assert exact_match(np.array(pred), np.array(target), eos_idx=3, pad_idx=0) == expected


def test_exact_match_edge_cases():
    empty = np.zeros((0, 3), dtype=np.int64)
    assert math.isnan(exact_match(empty, empty, eos_idx=3, pad_idx=0))
    with pytest.raises(ValueError, match="same N"):
        exact_match(np.zeros((2, 3)), np.zeros((3, 3)), eos_idx=3, pad_idx=0)
    assert exact_match(nnlab.tensor([[5, 3]]), nnlab.tensor([[5, 3]]), eos_idx=3, pad_idx=0) == 1


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="cell"):
        Seq2Seq(5, 5, cell="rnn")
    with pytest.raises(ValueError, match="attention"):
        Seq2Seq(5, 5, attention="cosine")
    with pytest.raises(ValueError, match="even"):
        Seq2Seq(5, 5, hidden_size=15)
    with pytest.raises(ValueError, match="eos_idx"):
        Seq2Seq(5, 3, eos_idx=3)
    model = make()
    with pytest.raises(ValueError, match="right-padded"):
        model(np.array([[0, 5, 6]]), TGT_IN[:1])
    with pytest.raises(ValueError, match="all padding"):
        model(np.array([[5, 6], [0, 0]]), TGT_IN[:2])
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(SRC, TGT_IN, teacher_forcing=1.5)


def test_plot_attention(tmp_path):
    model = make()
    _, weights = model.greedy_decode(SRC[:1], max_len=4)
    path = plot_attention(weights.numpy()[0], list("abcde"), ["x"] * weights.shape[1],
                          tmp_path / "a" / "attention.png", title="test")  # fmt: skip
    assert path.exists() and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="smaller"):
        plot_attention(np.eye(2), list("abc"), list("xy"), tmp_path / "b.png")


def test_small_dates_run_learns():
    result = train_dates_seq2seq(n_train=2000, n_test=200, epochs=3, seed=0)
    history = result["history"]["loss"]
    assert history[-1] < 0.5 * history[0]
    # chance is 1 in 11 per character (ten symbols and <eos>)
    assert result["char_accuracy"] > 0.5


def test_dates_reaches_95_percent_exact_match():
    """The full run with the defaults (≈ 6 s of CPU on one core; ≤ 15 s wall on 2 cores)."""
    result = train_dates_seq2seq()
    assert result["exact_match"] >= 0.95, result["examples"]
