"""Sentiment of short social-media posts, built so that word order matters.

Training posts are *generated* from templates and lexicons: a subject ("the new phone"), a
sentiment word from a positive or a negative lexicon ("amazing", "disappointing"), maybe an
intensifier ("so", "extremely"), maybe a **negation** in front of it ("isn't", "was never",
"don't"), then the noise of real posts: emojis, hashtags, elongations ("sooo"), typos,
shouting in capitals and throw-away openers ("not gonna lie, ...") whose "not" negates
nothing. The label is the sentiment word's polarity, flipped when it is negated:

``label = polarity(word) XOR negated``.

Two consequences make the dataset a lesson:

* every negator occurs equally often in positive and negative posts (it negates a positive
  word as often as a negative one), so on its own it says nothing about the label;
* with ``negation_rate`` < 0.5 each sentiment word leans toward its own polarity, so a
  **bag-of-words** model learns "good -> positive" and is then wrong on exactly the negated
  posts; a model that reads the words *in order* (an RNN, a CNN over tokens, attention) can
  learn that "not" flips the word after it. :func:`negation_subset` picks those posts out
  to measure it.

Emojis and hashtags agree with the true label 85 % of the time, so they help every model
a little, as in real data.

The **test split is not generated**: it is 200 posts written by hand for nnlab
(``data/sentiment_test.jsonl``), 100 of them negated (half positive, half negative), with
phrasings, subjects and words the generator never produces ("no longer feels broken",
"never had a bad meal there", "can't wait to go back"). It measures generalisation beyond
the templates, not recall of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = [
    "SENTIMENT_LABELS",
    "SentimentSplit",
    "make_sentiment",
    "load_sentiment",
    "load_sentiment_test",
    "negation_subset",
]

SENTIMENT_LABELS = ("negative", "positive")

_SUBJECTS = (
    "the new phone", "this coffee", "the service", "my flight", "the movie", "the new update",
    "customer support", "this album", "the hotel", "the pizza", "the concert", "this game",
    "the battery life", "the delivery", "the staff", "this book", "the app", "the camera",
    "my new laptop", "the food", "the show", "the trailer", "this place", "the train ride",
    "the gym", "the keyboard", "the headphones", "the ending", "this podcast", "the sequel",
)  # fmt: skip
# (word, takes an intensifier)
_POS_ADJ = (
    ("good", True), ("great", True), ("amazing", True), ("awesome", True), ("excellent", True),
    ("fun", True), ("perfect", False), ("delicious", True), ("brilliant", True),
    ("lovely", True), ("impressive", True), ("fantastic", True), ("worth it", False),
    ("enjoyable", True), ("solid", True), ("fast", True), ("helpful", True),
)  # fmt: skip
_NEG_ADJ = (
    ("bad", True), ("terrible", True), ("awful", True), ("disappointing", True),
    ("boring", True), ("broken", False), ("horrible", True), ("annoying", True),
    ("useless", True), ("overpriced", True), ("mediocre", True), ("a mess", False),
    ("slow", True), ("a waste of money", False), ("painful", True), ("confusing", True),
    ("ugly", True),
)  # fmt: skip
# (present, past)
_POS_VERB = (("love", "loved"), ("like", "liked"), ("enjoy", "enjoyed"),
             ("recommend", "recommended"), ("trust", "trusted"))  # fmt: skip
_NEG_VERB = (("hate", "hated"), ("regret", "regretted"), ("dislike", "disliked"),
             ("despise", "despised"))  # fmt: skip
_INTENSIFIERS = ("very", "so", "really", "extremely", "super", "incredibly", "pretty", "truly")
_VERB_INTENSIFIERS = ("really", "totally", "absolutely", "honestly")

# {s}: subject, {p}: predicate ("is not very good"), {it}: predicate with "it" as subject
_ADJ_TEMPLATES = (
    "{s} {p}", "honestly {s} {p}", "ok so {s} {p}", "update: {s} {p}", "can confirm {s} {p}",
    "my take: {s} {p}", "{s} {p}. thoughts?", "just tried {s} and it {p}",
    "day 3 with {s} and it {p}", "{s}? it {p}", "so yeah, {s} {p}", "{s} {p} tbh",
    "well, {s} {p}", "friendly reminder that {s} {p}",
)  # fmt: skip
_VERB_TEMPLATES = (
    "i {v} {s}", "honestly i {v} {s}", "we {v} {s}", "after a week i {v} {s}",
    "gotta say i {v} {s}", "i {v} {s}, period",
)  # fmt: skip
# openers whose negator negates nothing: the post's label comes from the main clause
_DECOYS = ("not gonna lie,", "no joke,", "can't lie,", "never thought i'd say this but",
           "not even kidding,", "no doubt,")  # fmt: skip
_POS_EMOJI = ("😀", "😍", "👍", "🎉", "❤️", "😊", "🙌", "🔥")
_NEG_EMOJI = ("😡", "👎", "😞", "😤", "💔", "🙄", "😭", "🤮")
_POS_TAGS = ("#blessed", "#love", "#winning", "#happy", "#goodvibes", "#recommended")
_NEG_TAGS = ("#fail", "#annoyed", "#worst", "#neveragain", "#smh", "#disappointed")
_NEUTRAL_TAGS = ("#mondays", "#tech", "#foodie", "#travel", "#review", "#weekend")
_ENDINGS = ("", "", "", "!", "!!", "!!!", ".", "...", " lol", " ngl", "?!")


@dataclass
class SentimentSplit:
    """Posts with their labels (0 negative, 1 positive) and a per-post negation flag (the
    sentiment word is negated, so the label is the opposite of its polarity)."""

    texts: list[str]
    labels: np.ndarray  # int64 (N,)
    negation: np.ndarray  # bool (N,)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, mask: np.ndarray) -> SentimentSplit:
        """The posts where the boolean ``mask`` is True."""
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (len(self),):
            raise ValueError(f"SentimentSplit.subset: mask must have shape ({len(self)},)")
        return SentimentSplit(
            [t for t, m in zip(self.texts, mask) if m], self.labels[mask], self.negation[mask]
        )


def negation_subset(split: SentimentSplit) -> SentimentSplit:
    """The posts of ``split`` whose sentiment word is negated (``split.negation``).

    Example:
        >>> test = load_sentiment_test()
        >>> len(test), len(negation_subset(test))
        (200, 100)
    """
    return split.subset(split.negation)


def _pick(rng: np.random.Generator, options: tuple) -> object:
    return options[int(rng.integers(len(options)))]


def _typo(rng: np.random.Generator, word: str) -> str:
    """One keyboard slip: swap two neighbouring letters, drop one, or double one."""
    if len(word) < 4 or not word.isalpha():
        return word
    i = int(rng.integers(1, len(word) - 1))
    kind = int(rng.integers(3))
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _adjective_predicate(rng: np.random.Generator, word: str, intensify: bool, neg: bool) -> str:
    past = rng.random() < 0.5
    core = word
    if intensify and rng.random() < 0.4:
        core = f"{_pick(rng, _INTENSIFIERS)} {word}"
    if not neg:
        return f"{'was' if past else 'is'} {core}"
    forms = (
        ("wasn't {c}", "was not {c}", "was never {c}", "was not at all {w}", "was not {w} at all")
        if past
        else ("isn't {c}", "is not {c}", "is never {c}", "is not at all {w}", "is not {w} at all")
    )
    return str(_pick(rng, forms)).format(c=core, w=word)


def _verb_predicate(rng: np.random.Generator, verb: tuple[str, str], neg: bool) -> str:
    present, past = verb
    if not neg:
        if rng.random() < 0.4:
            return f"{_pick(rng, _VERB_INTENSIFIERS)} {present}"
        return present if rng.random() < 0.6 else past
    forms = (f"don't {present}", f"do not {present}", f"didn't {present}", f"never {past}",
             f"don't really {present}", f"can't say i {past}")  # fmt: skip
    return str(_pick(rng, forms))


def _post(rng: np.random.Generator, negation_rate: float) -> tuple[str, int, bool]:
    positive = rng.random() < 0.5
    neg = bool(rng.random() < negation_rate)
    label = int(positive != neg)
    subject = str(_pick(rng, _SUBJECTS))
    if rng.random() < 0.75:
        word, intensify = _pick(rng, _POS_ADJ if positive else _NEG_ADJ)
        pred = _adjective_predicate(rng, word, intensify, neg)
        text = str(_pick(rng, _ADJ_TEMPLATES)).format(s=subject, p=pred)
    else:
        pred = _verb_predicate(rng, _pick(rng, _POS_VERB if positive else _NEG_VERB), neg)
        text = str(_pick(rng, _VERB_TEMPLATES)).format(s=subject, v=pred)
    if rng.random() < 0.15:
        text = f"{_pick(rng, _DECOYS)} {text}"
    words = text.split(" ")
    for i, w in enumerate(words):
        if w == "so" and rng.random() < 0.3:
            words[i] = "s" + "o" * int(rng.integers(3, 6))
        elif rng.random() < 0.03:
            words[i] = _typo(rng, w)
    text = " ".join(words) + str(_pick(rng, _ENDINGS))
    agrees = rng.random() < 0.85  # emojis and hashtags agree with the label this often
    cue_positive = bool(label) == agrees
    if rng.random() < 0.35:
        emojis = _POS_EMOJI if cue_positive else _NEG_EMOJI
        text += " " + "".join(str(_pick(rng, emojis)) for _ in range(int(rng.integers(1, 4))))
    r = rng.random()
    if r < 0.2:
        text += " " + str(_pick(rng, _POS_TAGS if cue_positive else _NEG_TAGS))
    elif r < 0.3:
        text += " " + str(_pick(rng, _NEUTRAL_TAGS))
    r = rng.random()
    if r < 0.08:
        text = text.upper()
    elif r < 0.3:
        text = text[0].upper() + text[1:]
    return text, label, neg


def make_sentiment(
    n: int,
    negation_rate: float = 0.35,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> SentimentSplit:
    """Generate ``n`` posts; half positive, about ``negation_rate`` of them negated.

    Args:
        n: number of posts.
        negation_rate: the chance that a post's sentiment word is negated, in [0, 1]
            (default: 0.35; below 0.5 a bag-of-words model is misled by negations, at 0.5
            single words carry no label information at all).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator).

    Example:
        >>> split = make_sentiment(4, seed=0)
        >>> for text, y, neg in zip(split.texts, split.labels, split.negation):
        ...     print(int(y), bool(neg), text)
        1 True day 3 with the pizza and it is never bad 😀
        0 False i despised my flight, period!!
        1 False My take: the staff is worth it...
        1 False well, the concert is very helpful...
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"make_sentiment: n must be a non-negative int, got {n!r}")
    if not 0.0 <= negation_rate <= 1.0:
        raise ValueError(f"make_sentiment: negation_rate must be in [0, 1], got {negation_rate}")
    rng = _seeded_rng("make_sentiment", seed, generator)
    posts = [_post(rng, negation_rate) for _ in range(int(n))]
    return SentimentSplit(
        [p[0] for p in posts],
        np.array([p[1] for p in posts], dtype=np.int64),
        np.array([p[2] for p in posts], dtype=bool),
    )


def load_sentiment_test() -> SentimentSplit:
    """The 200 hand-written test posts (``data/sentiment_test.jsonl`` in this package):
    100 negated, 100 not; 100 positive, 100 negative."""
    path = resources.files("nnlab.data.datasets").joinpath("data", "sentiment_test.jsonl")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return SentimentSplit(
        [r["text"] for r in rows],
        np.array([r["label"] for r in rows], dtype=np.int64),
        np.array([r["negation"] for r in rows], dtype=bool),
    )


def load_sentiment(
    seed: int = 0, n_train: int = 5000, n_val: int = 1000, negation_rate: float = 0.35
) -> dict[str, SentimentSplit]:
    """Generated train and validation posts plus the hand-written test posts.

    Args:
        seed: seeds the generated splits (the test split is fixed).
        n_train, n_val: sizes of the generated splits (default: 5000 and 1000).
        negation_rate: see :func:`make_sentiment` (default: 0.35).

    Returns:
        ``{"train", "val", "test"}`` -> :class:`SentimentSplit`.

    Example:
        >>> data = load_sentiment(seed=0, n_train=100, n_val=20)
        >>> [len(data[k]) for k in ("train", "val", "test")]
        [100, 20, 200]
        >>> SENTIMENT_LABELS[int(data["test"].labels[0])], data["test"].texts[0]
        ('positive', 'the sushi was fresh and tasty')
    """
    gen = Generator(seed)
    return {
        "train": make_sentiment(n_train, negation_rate, generator=gen),
        "val": make_sentiment(n_val, negation_rate, generator=gen),
        "test": load_sentiment_test(),
    }
