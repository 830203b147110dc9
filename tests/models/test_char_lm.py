"""Character language models: causality, seeded sampling, temperature, a short training."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from experiments.char_lm import train_char_lm
from nnlab.models import CharRNNLM, CharTransformerLM
from nnlab.models.language_model import distinct_ngrams, sample_next, unigram_entropy

# Small GEMMs: see the fixture in tests/conftest.py.
pytestmark = pytest.mark.usefixtures("one_blas_thread")

V = 30


def transformer(positional: str = "learned", **kw) -> CharTransformerLM:
    nnlab.manual_seed(0)
    return CharTransformerLM(V, d_model=32, nhead=4, num_layers=2, max_len=24, dropout=0.0,
                             positional=positional, **kw)  # fmt: skip


def rnn() -> CharRNNLM:
    nnlab.manual_seed(0)
    return CharRNNLM(V, embed_dim=8, hidden_size=16)


MODELS = {
    "transformer-learned": lambda: transformer("learned"),
    "transformer-sinusoidal": lambda: transformer("sinusoidal"),
    "transformer-tied": lambda: transformer(tie_weights=True),
    "rnn": rnn,
}


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("t", [0, 5, 11])
def test_output_at_t_ignores_later_inputs(name, t):
    model = MODELS[name]()
    x = np.random.default_rng(1).integers(0, V, (3, 12))
    y = x.copy()
    y[:, t + 1 :] = (y[:, t + 1 :] + 7) % V
    a, b = model(x).array, model(y).array
    np.testing.assert_array_equal(a[:, : t + 1], b[:, : t + 1])
    if t + 1 < x.shape[1]:
        assert np.abs(a[:, t + 1 :] - b[:, t + 1 :]).max() > 1e-4


def test_shapes_and_tied_weights():
    model = transformer(tie_weights=True)
    assert model(np.zeros((2, 7), dtype=np.int64)).shape == (2, 7, V)
    assert model.head.weight is model.embedding.weight
    names = [n for n, _ in model.named_parameters()]
    assert "head.weight" not in names and "head.bias" not in names
    with pytest.raises(Exception, match="max_len"):
        model(np.zeros((1, 25), dtype=np.int64))
    with pytest.raises(ValueError, match="positional"):
        CharTransformerLM(V, positional="rotary")


@pytest.mark.parametrize("name", ["transformer-learned", "rnn"])
def test_generate_is_seeded_and_low_temperature_is_greedy(name):
    model = MODELS[name]().eval()
    prompt = [1, 2, 3]
    a = model.generate(prompt, 30, temperature=1.0, generator=nnlab.Generator(5)).numpy()
    b = model.generate(prompt, 30, temperature=1.0, generator=nnlab.Generator(5)).numpy()
    c = model.generate(prompt, 30, temperature=1.0, generator=nnlab.Generator(6)).numpy()
    assert a.shape == (33,) and (a[:3] == prompt).all()
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()
    greedy = model.generate(prompt, 30, temperature=0).numpy()
    cold = model.generate(prompt, 30, temperature=1e-4, generator=nnlab.Generator(5)).numpy()
    top1 = model.generate(prompt, 30, top_k=1, generator=nnlab.Generator(5)).numpy()
    np.testing.assert_array_equal(cold, greedy)
    np.testing.assert_array_equal(top1, greedy)
    batch = model.generate([prompt, [4, 5, 6]], 5, temperature=0).numpy()
    np.testing.assert_array_equal(batch[0], greedy[:8])


def test_generate_beyond_max_len_keeps_the_last_context():
    model = transformer().eval()
    out = model.generate([1], 40, temperature=0).numpy()
    assert out.shape == (41,)


def test_sample_next_follows_the_distribution():
    logits = np.log(np.array([[0.1, 0.2, 0.7]] * 20000))
    draws = sample_next(logits, generator=nnlab.Generator(0))
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / 20000, [0.1, 0.2, 0.7],
                               atol=0.01)  # fmt: skip
    hot = sample_next(logits, temperature=100.0, generator=nnlab.Generator(0))
    assert np.bincount(hot, minlength=3).min() / 20000 > 0.3  # nearly uniform
    top2 = sample_next(logits, top_k=2, generator=nnlab.Generator(0))
    assert set(top2.tolist()) == {1, 2}
    with pytest.raises(ValueError, match="temperature"):
        sample_next(logits, temperature=-1.0)


def test_unigram_entropy_and_distinct_ngrams():
    assert unigram_entropy(np.array([3, 3, 3]), 5) == 0.0
    np.testing.assert_allclose(unigram_entropy(np.arange(4), 4), np.log(4))
    assert distinct_ngrams("aaaaaa", 3) == 0.25
    assert np.isnan(distinct_ngrams("ab", 3))


def test_short_training_beats_the_unigram_entropy_and_temperature_diversifies():
    result = train_char_lm(max_chars=100_000, epochs=2, lr=1e-2, d_model=32, sample_len=200)
    assert result["val_loss"] < result["unigram_entropy"] - 0.3  # ≈ 2.7 vs 3.29 nats
    losses = result["step_losses"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 0.5
    assert result["distinct_3"][1.0] > result["distinct_3"][0.5]
