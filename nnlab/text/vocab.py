"""Vocabularies: the table between tokens and the integer ids a model's embedding reads.

A :class:`Vocab` is built by counting the tokens of a training corpus and keeping the
frequent ones. Its first ids are *special tokens*: ``<pad>`` = 0 fills the end of short
sequences in a batch (a model masks it out, and ``nn.Embedding(padding_idx=0)`` keeps its
vector at zero), ``<unk>`` = 1 stands for every token the vocabulary lacks. Then come the
corpus tokens, most frequent first, ties broken alphabetically so that the same corpus
always gives the same ids.

:func:`pad_batch` turns a list of id lists of different lengths into one rectangular
int64 array plus the true lengths, which is what an RNN's packing or an attention mask
needs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from nnlab.text.tokenize import char_tokenizer, pre_tokenize, word_tokenizer

__all__ = ["Vocab", "pad_batch", "PAD", "UNK"]

PAD, UNK = "<pad>", "<unk>"
_FORMAT = "nnlab.text.Vocab"


def _check_texts(where: str, texts: Any) -> list[str]:
    if isinstance(texts, str):
        raise TypeError(f"{where}: texts must be a list of strings, got one str; wrap it in [...]")
    texts = list(texts)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"{where}: every text must be a str, got {type(t).__name__}")
    return texts


class Vocab:
    """Tokens <-> ids, with a word- or character-level tokenizer in front.

    Build one with :meth:`build`; ``<pad>`` is id 0 and ``<unk>`` id 1, followed by any
    extra ``specials`` (e.g. ``<sos>``, ``<eos>``), then the corpus tokens by decreasing
    count (ties: alphabetical).

    Args:
        tokenizer: a ``tokenizers.Tokenizer`` whose WordLevel model holds the vocabulary
            (made by :meth:`build` or :meth:`load`).
        level: ``"word"`` or ``"char"``: how :meth:`decode` joins tokens.

    Example:
        >>> v = Vocab.build(["The cat sat.", "the dog sat!"], level="word")
        >>> len(v), v.itos
        (8, ['<pad>', '<unk>', 'sat', 'the', '!', '.', 'cat', 'dog'])
        >>> v.encode(["the cat ran"])
        [[3, 6, 1]]
        >>> v.decode([[3, 6, 1, 0, 0]])
        ['the cat <unk>']
    """

    def __init__(self, tokenizer: Tokenizer, level: str) -> None:
        if level not in ("word", "char"):
            raise ValueError(f"Vocab: level must be 'word' or 'char', got {level!r}")
        self.tokenizer = tokenizer
        self.level = level
        self.stoi: dict[str, int] = tokenizer.get_vocab()
        self.itos: list[str] = [""] * len(self.stoi)
        for token, i in self.stoi.items():
            self.itos[i] = token
        if self.stoi.get(PAD) != 0 or self.stoi.get(UNK) != 1:
            raise ValueError(f"Vocab: expected {PAD!r} at id 0 and {UNK!r} at id 1")

    # -- building -------------------------------------------------------------------------

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        level: str = "word",
        min_freq: int = 1,
        max_size: int | None = None,
        specials: Sequence[str] = (),
        lowercase: bool | None = None,
    ) -> Vocab:
        """Count the tokens of ``texts`` and keep those seen at least ``min_freq`` times,
        the most frequent first, at most ``max_size`` ids in all (specials included).

        Args:
            texts: the training strings.
            level: ``"word"`` (default) or ``"char"``.
            min_freq: the fewest occurrences a token needs to get an id (default: 1).
            max_size: the most ids, specials included (default: no limit).
            specials: extra special tokens after ``<pad>`` and ``<unk>`` (default: none).
            lowercase: fold case (default: True for words, False for characters).

        Example:
            >>> v = Vocab.build(["a a a b b c"], min_freq=2)
            >>> v.itos
            ['<pad>', '<unk>', 'a', 'b']
            >>> Vocab.build(["a a a b b c"], max_size=3).itos
            ['<pad>', '<unk>', 'a']
        """
        if level not in ("word", "char"):
            raise ValueError(f"Vocab.build: level must be 'word' or 'char', got {level!r}")
        if isinstance(min_freq, bool) or not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"Vocab.build: min_freq must be an int >= 1, got {min_freq!r}")
        all_specials = [PAD, UNK, *[s for s in specials if s not in (PAD, UNK)]]
        if max_size is not None and max_size < len(all_specials):
            raise ValueError(
                f"Vocab.build: max_size={max_size} leaves no room for the "
                f"{len(all_specials)} special tokens {all_specials}"
            )
        make = word_tokenizer if level == "word" else char_tokenizer
        if lowercase is None:
            lowercase = level == "word"
        counts = Counter()
        for tokens in pre_tokenize(make(lowercase=lowercase), _check_texts("Vocab.build", texts)):
            counts.update(tokens)
        for s in all_specials:
            counts.pop(s, None)
        ranked = sorted(
            (t for t, c in counts.items() if c >= min_freq), key=lambda t: (-counts[t], t)
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(all_specials)]
        stoi = {t: i for i, t in enumerate([*all_specials, *ranked])}
        return cls(make(vocab=stoi, unk_token=UNK, lowercase=lowercase), level)

    # -- lookups --------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: str) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)})"

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def __getitem__(self, token: str) -> int:
        """The id of ``token`` (``<unk>``'s id if absent)."""
        return self.stoi.get(token, self.unk_id)

    def tokenize(self, texts: Iterable[str]) -> list[list[str]]:
        """The normalised tokens of each text, unknown ones as themselves."""
        return pre_tokenize(self.tokenizer, _check_texts("Vocab.tokenize", texts))

    def encode(self, texts: Iterable[str]) -> list[list[int]]:
        """The ids of each text's tokens (``<unk>`` = 1 for tokens not in the vocabulary).

        Args:
            texts: a list of strings (a single str is refused: wrap it in a list).

        Returns:
            One list of ids per text, of varying lengths; :func:`pad_batch` makes an array.
        """
        texts = _check_texts("Vocab.encode", texts)
        return [e.ids for e in self.tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, batch: Iterable[Iterable[int]], skip_specials: bool = True) -> list[str]:
        """Turn id sequences back into strings: the inverse of :meth:`encode` up to
        normalisation (case, spacing). Words are joined by a space, characters by nothing.

        Args:
            batch: a list of id lists, or a 2-D int array (e.g. from :func:`pad_batch`).
            skip_specials: drop ``<pad>`` and every special token except ``<unk>``
                (default: True); with False every id is written out.
        """
        sep = " " if self.level == "word" else ""
        specials = {i for i, t in enumerate(self.itos) if t.startswith("<") and t.endswith(">")}
        specials.discard(self.unk_id)
        out = []
        for ids in batch:
            if isinstance(ids, (int, np.integer)):
                raise TypeError("Vocab.decode: expected a batch of id sequences; wrap one in [...]")
            keep = [int(i) for i in ids if not (skip_specials and int(i) in specials)]
            for i in keep:
                if not 0 <= i < len(self):
                    raise ValueError(f"Vocab.decode: id {i} is out of range [0, {len(self)})")
            out.append(sep.join(self.itos[i] for i in keep))
        return out

    # -- persistence ----------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary and its tokenizer pipeline to a JSON file."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": _FORMAT,
            "version": 1,
            "level": self.level,
            "tokenizer": json.loads(self.tokenizer.to_str()),
        }
        path.write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Example:
            >>> import tempfile, os
            >>> v = Vocab.build(["hello world 👋"])
            >>> p = v.save(os.path.join(tempfile.mkdtemp(), "vocab.json"))
            >>> Vocab.load(p).encode(["hello 👋 you"]) == v.encode(["hello 👋 you"])
            True
        """
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != _FORMAT:
            raise ValueError(
                f"Vocab.load: {path} is not a saved Vocab (format {doc.get('format')!r})"
            )
        return cls(Tokenizer.from_str(json.dumps(doc["tokenizer"])), doc["level"])


def pad_batch(
    sequences: Sequence[Sequence[int]], max_len: int | None = None, pad_id: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad id sequences with ``pad_id`` into one (B, T) array.

    ``T`` is the longest sequence's length, or ``max_len`` when given (longer sequences are
    cut to their first ``max_len`` ids). ``lengths[b]`` is the number of real ids in row
    b, so ``ids[b, lengths[b]:]`` is all padding.

    Args:
        sequences: B lists (or arrays) of ids.
        max_len: the padded length T (default: the longest sequence).
        pad_id: the filler id (default: 0, ``<pad>``).

    Returns:
        ``(ids, lengths)``: ids int64 (B, T), lengths int64 (B,).

    Example:
        >>> ids, lengths = pad_batch([[5, 6, 7], [8]])
        >>> ids.tolist(), lengths.tolist()
        ([[5, 6, 7], [8, 0, 0]], [3, 1])
        >>> pad_batch([[5, 6, 7], [8]], max_len=2)[0].tolist()
        [[5, 6], [8, 0]]
    """
    if max_len is not None and (isinstance(max_len, bool) or max_len < 0):
        raise ValueError(f"pad_batch: max_len must be a non-negative int, got {max_len!r}")
    seqs = [np.asarray(s, dtype=np.int64).reshape(-1) for s in sequences]
    lengths = np.array([len(s) for s in seqs], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    width = int(max_len if max_len is not None else (lengths.max() if len(seqs) else 0))
    ids = np.full((len(seqs), width), pad_id, dtype=np.int64)
    for row, (s, n) in enumerate(zip(seqs, lengths)):
        ids[row, :n] = s[:n]
    return ids, lengths
