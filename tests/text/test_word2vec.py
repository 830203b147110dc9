"""word2vec: the noise distribution, subsampling, pair generation, and that training
lowers the loss and puts words that share contexts next to each other."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from experiments.word2vec import train_word2vec
from nnlab.text.word2vec import Word2Vec, Word2VecCorpus, WordVectors, sample_noise

# A planted corpus: "cat" and "dog" share every context, so do "car" and "truck";
# the two groups never share a sentence frame.
PLANTED = [f"the {a} eats food and the {a} sleeps" for a in ("cat", "dog")] * 40 + [
    f"the {v} needs fuel and the {v} drives fast" for v in ("car", "truck")
] * 40


def test_noise_distribution_is_count_to_the_three_quarters():
    corpus = Word2VecCorpus(["a " * 81 + "b " * 16 + "c"], min_count=1)
    assert corpus.itos == ["a", "b", "c"]
    p = corpus.noise_distribution()
    expected = np.array([81, 16, 1]) ** 0.75
    np.testing.assert_allclose(p, expected / expected.sum())
    assert p[0] / p[2] == pytest.approx(27.0)  # 81^0.75 = 27: flatter than counts (81x)
    draws = sample_noise(np.random.default_rng(0), np.cumsum(p), (200_000,))
    np.testing.assert_allclose(np.bincount(draws, minlength=3) / draws.size, p, atol=0.005)


def test_subsampling_drops_frequent_words_and_keeps_rare_ones():
    text = ["the " * 5000 + " ".join([f"w{i}" for i in range(200)] * 5)]
    corpus = Word2VecCorpus(text, min_count=1)
    keep = corpus.keep_probabilities(1e-3)
    f = corpus.counts / corpus.counts.sum()
    np.testing.assert_allclose(keep, np.minimum(1, (np.sqrt(f / 1e-3) + 1) * 1e-3 / f))
    assert keep[corpus.stoi["the"]] < 0.1
    assert (keep[f <= 1e-3] == 1.0).all()  # every word at or below the threshold is kept
    assert (corpus.keep_probabilities(0) == 1).all()
    ids, _ = corpus._stream(np.random.default_rng(0), 1e-3)
    rare = np.array([corpus.stoi[f"w{i}"] for i in range(200)])
    assert np.isin(ids, rare).sum() == 1000  # all 5 x 200 rare occurrences survive
    assert (ids == corpus.stoi["the"]).sum() < 0.1 * 5000


def test_skipgram_pairs_stay_in_window_and_sentence():
    corpus = Word2VecCorpus(["a b c d e f", "g h"], min_count=1)
    centre, context = corpus.skipgram_pairs(np.random.default_rng(0), window=2, sample=0)
    pos = {w: i for i, w in enumerate("abcdefgh")}
    for c, o in zip(centre, context):
        pc, po = pos[corpus.itos[c]], pos[corpus.itos[o]]
        assert 1 <= abs(pc - po) <= 2 and (pc < 6) == (po < 6)
    # with window 1 every adjacent pair appears, both ways
    centre, context = corpus.skipgram_pairs(np.random.default_rng(0), window=1, sample=0)
    assert len(centre) == 2 * (5 + 1)


def test_cbow_examples():
    corpus = Word2VecCorpus(["a b c d e"], min_count=1)
    ctx, centre, n_ctx = corpus.cbow_examples(np.random.default_rng(0), window=2, sample=0)
    assert ctx.shape == (5, 4) and centre.shape == (5,)
    np.testing.assert_array_equal((ctx >= 0).sum(axis=1), n_ctx)
    assert not any(c in row for c, row in zip(centre, ctx))


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_model_loss_and_gradients(mode):
    nnlab.manual_seed(0)
    model = Word2Vec(20, 6, mode=mode)
    assert model.in_embed.shape == (20, 6) and model.out_embed.shape == (20, 6)
    assert np.abs(model.in_embed.array).max() <= 0.5 / 6
    inputs = np.array([1, 2, 3]) if mode == "skipgram" else np.array([[1, 2], [3, -1], [4, 5]])
    loss = model(inputs, np.array([7, 8, 9]), np.array([[10, 11], [12, 13], [14, 15]]))
    assert loss.shape == () and loss.item() == pytest.approx(3 * np.log(2), rel=1e-6)
    loss.backward()
    touched = np.flatnonzero(np.abs(model.out_embed.grad.array).sum(axis=1))
    assert touched.tolist() == list(range(7, 16))
    assert "mode=" in repr(model)


@pytest.mark.parametrize("mode", ["skipgram", "cbow"])
def test_training_lowers_loss_and_finds_planted_neighbours(mode):
    wv = train_word2vec(
        PLANTED, mode=mode, embedding_dim=16, min_count=1, sample=0, window=3,
        epochs=8, batch_size=128, lr=0.02, seed=0,
    )  # fmt: skip
    assert wv.vectors.shape == (len(wv.itos), 16)
    assert wv.losses[-1] < 0.8 * wv.losses[0]
    assert wv.most_similar("cat", k=1)[0][0] == "dog"
    assert wv.most_similar("truck", k=1)[0][0] == "car"


def test_queries_and_plot(tmp_path):
    words = ["king", "queen", "man", "woman", "apple"]
    vecs = np.array([[1, 1, 0], [1, -1, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=np.float32)
    wv = WordVectors(words, vecs)
    assert wv.analogy("man", "king", "woman")[0][0] == "queen"
    assert [w for w, _ in wv.most_similar("king", k=4)] == ["man", "queen", "apple", "woman"]
    xy = wv.project_2d(words)
    assert xy.shape == (5, 2)
    np.testing.assert_allclose(xy.mean(axis=0), 0, atol=1e-6)
    path = wv.plot(words, tmp_path / "plots" / "w2v.png")
    assert path.exists() and path.stat().st_size > 1000
    with pytest.raises(KeyError, match="not in the vocabulary"):
        wv.most_similar("banana")
