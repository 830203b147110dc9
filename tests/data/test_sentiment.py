"""The sentiment dataset: determinism, balance, the negation flag, a test split the
generator never produces, and the point of it all: a bag-of-words model fails on
negations, a model that sees word order does much better."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from nnlab.data.datasets import (
    SentimentSplit,
    load_sentiment,
    load_sentiment_test,
    make_sentiment,
    negation_subset,
)

NEGATOR = re.compile(r"\b(not|never|no)\b|n't\b|\bisnt\b|\bwasnt\b")


@pytest.fixture(scope="module")
def data():
    return load_sentiment(seed=0, n_train=3000, n_val=1500)


def test_determinism():
    a, b = make_sentiment(200, seed=3), make_sentiment(200, seed=3)
    assert a.texts == b.texts
    np.testing.assert_array_equal(a.labels, b.labels)
    assert make_sentiment(200, seed=4).texts != a.texts


def test_balance_and_negation_rate(data):
    train = data["train"]
    assert train.labels.dtype == np.int64 and train.negation.dtype == bool
    assert abs(train.labels.mean() - 0.5) < 0.03
    assert abs(train.negation.mean() - 0.35) < 0.03
    neg = negation_subset(train)
    assert abs(neg.labels.mean() - 0.5) < 0.05  # negators are no cue by themselves
    assert make_sentiment(400, negation_rate=0.0, seed=0).negation.sum() == 0


def test_negation_flag_marks_posts_with_a_negator(data):
    flagged = [t.lower() for t, f in zip(data["train"].texts, data["train"].negation) if f]
    found = [bool(NEGATOR.search(t)) for t in flagged]
    assert np.mean(found) > 0.98  # the rest have a typo in the negator ("neveer")
    # the flag is not "contains a negator": decoy openers negate nothing
    unflagged = [t for t, f in zip(data["train"].texts, data["train"].negation) if not f]
    assert any(t.lower().startswith(("not gonna lie", "no joke")) for t in unflagged)


def test_posts_have_emojis_hashtags_and_noise(data):
    texts = data["train"].texts
    assert any("#" in t for t in texts) and any("😡" in t or "👎" in t for t in texts)
    assert any(t.isupper() for t in texts) and any("sooo" in t.lower() for t in texts)


def test_hand_written_test_split():
    test = load_sentiment_test()
    assert len(test) == 200 and test.labels.tolist().count(1) == 100
    neg = negation_subset(test)
    assert len(neg) == 100 and neg.labels.sum() == 50
    assert len(set(test.texts)) == 200
    assert isinstance(neg, SentimentSplit) and neg.negation.all()


def test_test_split_is_never_generated():
    generated = {t.lower() for seed in range(3) for t in make_sentiment(8000, seed=seed).texts}
    assert not {t.lower() for t in load_sentiment_test().texts} & generated


def _accuracy(vec, clf, split: SentimentSplit) -> float:
    return float((clf.predict(vec.transform(split.texts)) == split.labels).mean())


def test_bag_of_words_fails_on_negation_but_word_order_helps(data):
    bow = CountVectorizer(token_pattern=r"\S+")
    x_train = bow.fit_transform(data["train"].texts)
    clf = LogisticRegression(solver="liblinear", random_state=0).fit(x_train, data["train"].labels)
    results = {}
    for name in ("val", "test"):
        split = data[name]
        results[name] = (_accuracy(bow, clf, split), _accuracy(bow, clf, negation_subset(split)))
    val_all, val_neg = results["val"]
    assert val_neg < 0.5 < val_all and val_neg < val_all - 0.2, results
    test_all, test_neg = results["test"]  # hand-written: many unseen words, harder overall
    assert test_neg < 0.5 and test_neg < test_all - 0.1, results
    # n-grams see "not good" as one feature: a first taste of what word order buys
    ngrams = CountVectorizer(token_pattern=r"\S+", ngram_range=(1, 3))
    clf3 = LogisticRegression(solver="liblinear", C=3.0, random_state=0).fit(
        ngrams.fit_transform(data["train"].texts), data["train"].labels
    )
    assert _accuracy(ngrams, clf3, negation_subset(data["val"])) > results["val"][1] + 0.2
    assert _accuracy(ngrams, clf3, negation_subset(data["test"])) > results["test"][1] + 0.15
