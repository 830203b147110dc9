"""Tokenizers: how raw text is cut into the tokens a model sees.

A tokenizer is a small pipeline, the same in every library:

1. **normalise** the string (Unicode NFKC, curly apostrophes to ``'``, optionally lowercase);
2. **pre-tokenise** it into pieces with a regular expression;
3. **look up** each piece in a vocabulary (:class:`nnlab.text.Vocab`), ``<unk>`` if absent.

Two granularities are offered. **Word level** keeps words with their apostrophes
(``isn't``), ``#hashtags`` and ``@mentions`` whole, and makes every punctuation mark and
every emoji its own token (``"Not GOOD!! 😡"`` -> ``not good ! ! 😡``), which is what the
sentiment data needs: the negation, the emoji and the hashtag each carry the label. **Character
level** makes every user-perceived character (a Unicode grapheme: ``❤️`` and ``👍🏽`` are
one character although two code points) a token, for character language models and
date parsing.

Why the ``tokenizers`` library (Hugging Face): its normalisers, regex pre-tokenisers
(Oniguruma, with Unicode-aware ``\\w`` and the grapheme class ``\\X``) and vocabulary
lookup run in Rust and are the ones production NLP uses, so what a learner meets here
transfers, and encoding a corpus of a few megabytes takes well under a second. It does not
depend on torch. Vocabulary *building* (counting, ``min_freq``, ``max_size``, tie order)
is done in Python in :mod:`nnlab.text.vocab`, where it is easy to read and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

__all__ = ["WORD_PATTERN", "CHAR_PATTERN", "word_tokenizer", "char_tokenizer", "pre_tokenize"]

#: One word-level token: a hashtag, a mention, a word with inner apostrophes, or else any
#: single grapheme (a punctuation mark, an emoji with its modifiers).
WORD_PATTERN = r"#\w+|@\w+|\w+(?:'\w+)*|\X"
#: One character-level token: a single grapheme.
CHAR_PATTERN = r"\X"


def _normalizer(lowercase: bool) -> normalizers.Normalizer:
    steps = [normalizers.NFKC(), normalizers.Replace("\u2019", "'")]
    if lowercase:
        steps.append(normalizers.Lowercase())
    return normalizers.Sequence(steps)


def word_tokenizer(
    vocab: dict[str, int] | None = None, unk_token: str = "<unk>", lowercase: bool = True
) -> Tokenizer:
    """A word-level ``tokenizers.Tokenizer``: NFKC + lowercase, split on whitespace, then
    into :data:`WORD_PATTERN` pieces, each looked up in ``vocab``.

    Args:
        vocab: token -> id; must contain ``unk_token`` (default: just ``{unk_token: 0}``,
            enough to pre-tokenise; :meth:`nnlab.text.Vocab.build` supplies the real one).
        unk_token: the token for anything not in ``vocab`` (default: ``"<unk>"``).
        lowercase: fold case (default: True).

    Example:
        >>> tok = word_tokenizer()
        >>> pre_tokenize(tok, ["Isn't it GOOD?! 😀 #blessed @joe"])
        [["isn't", 'it', 'good', '?', '!', '😀', '#blessed', '@joe']]
    """
    tok = Tokenizer(models.WordLevel(vocab=vocab or {unk_token: 0}, unk_token=unk_token))
    tok.normalizer = _normalizer(lowercase)
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex(WORD_PATTERN), "isolated")]
    )
    return tok


def char_tokenizer(
    vocab: dict[str, int] | None = None, unk_token: str = "<unk>", lowercase: bool = False
) -> Tokenizer:
    """A character-level ``tokenizers.Tokenizer``: NFKC (+ lowercase if asked), then one
    token per grapheme, spaces and newlines included.

    Args:
        vocab: token -> id; must contain ``unk_token`` (default: ``{unk_token: 0}``).
        unk_token: the token for characters not in ``vocab`` (default: ``"<unk>"``).
        lowercase: fold case (default: False: case is information at this level).

    Example:
        >>> pre_tokenize(char_tokenizer(), ["Hi ❤️!"])
        [['H', 'i', ' ', '❤️', '!']]
    """
    tok = Tokenizer(models.WordLevel(vocab=vocab or {unk_token: 0}, unk_token=unk_token))
    tok.normalizer = _normalizer(lowercase)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(CHAR_PATTERN), "isolated")
    return tok


def pre_tokenize(tokenizer: Tokenizer, texts: Iterable[str]) -> list[list[str]]:
    """The tokens of each text after normalising and pre-tokenising, before any vocabulary
    lookup (so unknown words come back as themselves, not ``<unk>``).

    Args:
        tokenizer: a tokenizer from :func:`word_tokenizer` or :func:`char_tokenizer`.
        texts: the strings to cut.

    Example:
        >>> pre_tokenize(word_tokenizer(), ["so not worth it..."])
        [['so', 'not', 'worth', 'it', '.', '.', '.']]
    """
    if isinstance(texts, str):
        raise TypeError("pre_tokenize: texts must be a list of strings, got one str; wrap it")
    norm, pre = tokenizer.normalizer, tokenizer.pre_tokenizer
    out = []
    for text in texts:
        if not isinstance(text, str):
            raise TypeError(f"pre_tokenize: every text must be a str, got {type(text).__name__}")
        normalized = norm.normalize_str(text) if norm is not None else text
        out.append([piece for piece, _ in pre.pre_tokenize_str(normalized)])
    return out
