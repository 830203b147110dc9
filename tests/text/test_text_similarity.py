"""Zero-shot, few-shot and search logic with a fake encoder (texts -> fixed vectors), and
the fine-tuning pieces with a small random BERT: independent of the pretrained weights."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from experiments.text_transfer import fine_tuning_experiment, train_head
from nnlab.data.datasets.sentiment import SentimentSplit
from nnlab.models import BertConfig, BertModel
from nnlab.text import (
    EmbeddingCache,
    SentenceEncoder,
    TopLayersClassifier,
    class_prototypes,
    cosine_similarity,
    few_shot_prototypes,
    layer_inputs,
    load_search_corpus,
    predict_labels,
    run_layers,
    semantic_search,
    sentiment_scores,
    zero_shot_classify,
)

# Each word is a direction; a text is the sum of its words' directions.
_WORDS = {"good": [1, 0, 0], "great": [1, 0.2, 0], "bad": [0, 1, 0], "awful": [0.2, 1, 0],
          "cat": [0, 0, 1], "dog": [0.1, 0, 1]}  # fmt: skip


class FakeEncoder:
    """A stand-in with the SentenceEncoder.encode signature; counts encoded texts."""

    def __init__(self) -> None:
        self.calls = 0

    def encode(self, texts, batch_size=32):
        self.calls += len(texts)
        out = np.zeros((len(texts), 3), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.split():
                out[i] += _WORDS.get(w, [0.01, 0.01, 0.01])
        return out


def test_cosine_similarity_matches_the_formula():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    want = (a @ b.T) / np.outer(np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1))
    np.testing.assert_allclose(cosine_similarity(a, b), want, rtol=1e-5)
    with pytest.raises(ValueError, match="dims differ"):
        cosine_similarity(a, b[:, :2])


def test_zero_shot_picks_the_nearest_description_and_averages_several():
    labels, scores = zero_shot_classify(FakeEncoder(), ["good great", "awful", "bad dog"],
                                        ["bad", ["good", "great"]])  # fmt: skip
    assert labels.tolist() == [1, 0, 0]
    assert scores.shape == (3, 2) and scores.dtype == np.float32
    assert np.all(scores <= 1.0 + 1e-6)
    with pytest.raises(ValueError, match="at least 2 classes"):
        zero_shot_classify(FakeEncoder(), ["good"], ["good"])
    with pytest.raises(TypeError, match=r"label_descriptions\[1\]"):
        zero_shot_classify(FakeEncoder(), ["good"], ["good", []])


def test_prototypes_are_normalised_class_means():
    protos = class_prototypes([[2, 0], [0, 2], [0, 5]], [0, 0, 1])
    np.testing.assert_allclose(protos, [[0.7071068, 0.7071068], [0, 1]], rtol=1e-6)
    with pytest.raises(ValueError, match=r"no example for classes \[1\]"):
        class_prototypes([[1, 0]], [0], num_classes=2)
    with pytest.raises(ValueError, match="labels must have shape"):
        class_prototypes([[1, 0], [0, 1]], [0])


def test_few_shot_prototypes_classify_queries_by_the_nearest_mean():
    enc = FakeEncoder()
    support = enc.encode(["good", "great", "cat", "dog"])
    labels, scores = few_shot_prototypes(
        support, [0, 0, 1, 1], enc.encode(["great dog cat", "good"])
    )
    assert labels.tolist() == [1, 0]
    assert scores.shape == (2, 2)


def test_semantic_search_ranks_by_cosine_and_accepts_precomputed_embeddings():
    enc = FakeEncoder()
    corpus = ["cat", "good", "bad", "dog"]
    hits = semantic_search(enc, "dog", corpus, top_k=2)
    assert [i for i, _ in hits] == [3, 0]
    assert hits[0][1] == pytest.approx(1.0)
    assert semantic_search(enc, "dog", enc.encode(corpus), top_k=10) == semantic_search(
        enc, "dog", corpus, top_k=10
    )
    assert len(semantic_search(enc, "dog", corpus, top_k=10)) == 4
    with pytest.raises(ValueError, match="top_k"):
        semantic_search(enc, "dog", corpus, top_k=0)
    with pytest.raises(TypeError, match="query must be a str"):
        semantic_search(enc, ["dog"], corpus)


def test_embedding_cache_encodes_each_text_once():
    cache = EmbeddingCache(FakeEncoder())
    first = cache.encode(["good", "bad", "good"])
    again = cache.encode(["bad", "cat"])
    assert cache.encoder.calls == 3 and len(cache) == 3
    np.testing.assert_array_equal(first[1], again[0])
    assert cache.encode([]).shape == (0, 3)


def test_search_corpus_is_bundled():
    corpus = load_search_corpus()
    assert len(corpus) == 80 and len(set(corpus)) == 80
    assert not any(line.startswith("#") for line in corpus)


def test_sentiment_scores_split_out_the_negated_posts():
    split = SentimentSplit(["a", "b", "c", "d"], np.array([1, 0, 1, 0]),
                           np.array([True, True, False, False]))  # fmt: skip
    s = sentiment_scores(split, np.array([1, 0, 0, 0]))
    assert s["accuracy"] == 0.75 and s["negation_accuracy"] == 1.0


def test_train_head_linear_and_mlp_learn_a_separable_task():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 2] > 0).astype(np.int64)
    for hidden in (None, 16):
        head = train_head(x, y, hidden=hidden, epochs=15)
        assert not head.training
        assert (predict_labels(head, x) == y).mean() > 0.9


# -- a small random BERT with a word-level tokenizer ------------------------------------------


@pytest.fixture(scope="module")
def small_encoder():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "film", "was", "not", "good", "bad",
             "very", "a", "cat"]  # fmt: skip
    vocab = {w: i for i, w in enumerate(words)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    nnlab.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(words),
        hidden_size=16,
        num_hidden_layers=3,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=32,
    )
    return SentenceEncoder(BertModel(cfg).eval(), tok, max_length=32)


_TEXTS = ["the film was good", "not good", "a very very bad cat film", "bad"]


@pytest.mark.parametrize("k", [0, 1, 3])
def test_top_layers_on_cached_states_reproduce_the_sentence_embeddings(small_encoder, k):
    """Running the frozen bottom once and the top k layers later gives exactly encode()."""
    hidden, mask = layer_inputs(small_encoder, _TEXTS, start=3 - k)
    clf = TopLayersClassifier(small_encoder.model, k).eval()
    with nnlab.no_grad():
        feats = clf.features(hidden, mask).numpy()
    np.testing.assert_allclose(feats, small_encoder.encode(_TEXTS), atol=1e-5)
    assert clf(hidden, mask).shape == (4, 2)


def test_top_layers_are_copies_and_only_they_and_the_head_get_gradients(small_encoder):
    model = small_encoder.model
    before = {k: np.array(v.array) for k, v in model.state_dict().items()}
    hidden, mask = layer_inputs(small_encoder, _TEXTS, start=2)
    clf = TopLayersClassifier(model, 1)
    assert len(clf.layers) == 1
    assert clf.layers[0] is not model.encoder.layer[2]
    logits = clf(hidden, mask)
    nnlab.nn.functional.cross_entropy(logits, nnlab.tensor(np.array([1, 0, 0, 0]))).backward()
    assert all(p.grad is not None for p in clf.parameters())
    nnlab.optim.SGD(clf.parameters(), lr=1.0).step()
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(ValueError, match=r"k must be in \[0, 3\]"):
        TopLayersClassifier(model, 4)


def test_layer_inputs_pads_and_masks(small_encoder):
    hidden, mask = layer_inputs(small_encoder, _TEXTS, start=0)
    assert hidden.shape == (4, 8, 16) and mask.shape == (4, 8)
    assert mask.sum(1).tolist() == [6, 4, 8, 3]
    # Padding never leaks into the real tokens: "bad" alone gives the same states.
    alone, _ = layer_inputs(small_encoder, ["bad"], start=2)
    batched, _ = layer_inputs(small_encoder, _TEXTS, start=2)
    np.testing.assert_allclose(batched[3, :3], alone[0], atol=1e-5)


def test_run_layers_continues_the_states_of_layer_inputs(small_encoder):
    """The states entering layer 1, run through layers 1 and 2, are those entering layer 3."""
    hidden, mask = layer_inputs(small_encoder, _TEXTS, start=1)
    final, _ = layer_inputs(small_encoder, _TEXTS, start=3)
    layers = [small_encoder.model.encoder.layer[j] for j in (1, 2)]
    out = run_layers(layers, hidden, mask)
    real = mask.astype(bool)
    np.testing.assert_allclose(out[real], final[real], atol=1e-5)


def test_fine_tuning_experiment_runs_and_leaves_the_encoder_unchanged(small_encoder):
    """The plumbing of the experiment (cached states, parameter groups, scores) on a small
    random BERT, whose accuracy means nothing."""
    model = small_encoder.model
    before = {k: np.array(v.array) for k, v in model.state_dict().items()}
    r = fine_tuning_experiment(small_encoder, ks=(0, 1), n_train=40, epochs=1, batch_size=20)
    assert sorted(r["k"]) == [0, 1] and r["n_train"] == 40
    assert all(0.0 <= r["k"][k]["accuracy"] <= 1.0 for k in (0, 1))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
