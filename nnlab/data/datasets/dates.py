"""Date normalisation: read a date written any of many ways, write it as ISO ``YYYY-MM-DD``.

The classic first sequence-to-sequence task (it is the "neural machine translation" of
dates in Andrew Ng's course and in Géron's book): the input is a string of characters of
varying length, the output a fixed ten-character string, and getting it right needs
reading the whole input (``"the 3rd of March 2021"`` names the month after the day,
``"Mar. 3rd, '21"`` before it) and some arithmetic on names (``"March"`` -> ``03``).

Conventions, so that every source has exactly one answer: dates run from 1950-01-01 to
2049-12-31; a two-digit year ``yy`` means ``20yy`` when ``yy < 50`` and ``19yy`` otherwise;
numeric dates with slashes or dashes are **day first** (``03/04/21`` is the 3rd of April),
dotted dates starting with a four-digit year are year-month-day (``2021.4.3``).

:func:`load_dates` holds out either *dates* (default: test dates are calendar days that
never occur in training, in any format) or *formats* (test sources use three formats
never seen in training: :data:`HELD_OUT_FORMATS`), to measure two kinds of generalisation.
:func:`encode_dates` turns pairs into padded character-id arrays for an encoder-decoder.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = [
    "DATE_FORMATS",
    "HELD_OUT_FORMATS",
    "SOURCE_CHARS",
    "TARGET_CHARS",
    "DATE_SPECIALS",
    "DATE_SOURCE_VOCAB",
    "DATE_TARGET_VOCAB",
    "make_dates",
    "load_dates",
    "encode_dates",
    "decode_dates",
    "encode_date_sources",
    "EncodedDates",
]

FIRST_DAY = dt.date(1950, 1, 1)
LAST_DAY = dt.date(2049, 12, 31)
_MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def _ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, 22nd, 23rd, ..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _mon(d: dt.date) -> str:
    return _MONTHS[d.month - 1]


#: Every way a date is written, by name, with an example for 2021-03-03.
DATE_FORMATS: dict[str, Callable[[dt.date], str]] = {
    "ordinal_of": lambda d: f"{_ordinal(d.day)} of {_mon(d)} {d.year}",  # 3rd of March 2021
    "month_day_year": lambda d: f"{_mon(d)} {d.day}, {d.year}",  # March 3, 2021
    "dmy_slash_short": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year % 100:02d}",  # 03/03/21
    "dmy_slash": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",  # 03/03/2021
    "ymd_dots": lambda d: f"{d.year}.{d.month}.{d.day}",  # 2021.3.3
    "dmy_dots": lambda d: f"{d.day}.{d.month}.{d.year}",  # 3.3.2021
    "weekday_day_mon": lambda d: (
        f"{_DAYS[d.weekday()][:3]} {d.day} {_mon(d)[:3]} {d.year}"  # Wed 3 Mar 2021
    ),
    "day_mon_short": lambda d: f"{d.day} {_mon(d)[:3].lower()} {d.year % 100:02d}",  # 3 mar 21
    "day_month_year": lambda d: f"{d.day} {_mon(d)} {d.year}",  # 3 March 2021
    "mon_day_year": lambda d: f"{_mon(d)[:3].lower()} {d.day} {d.year}",  # mar 3 2021
    "iso": lambda d: d.isoformat(),  # 2021-03-03
    "compact": lambda d: f"{d.year}{d.month:02d}{d.day:02d}",  # 20210303
    "upper_ordinal": lambda d: (
        f"{_mon(d).upper()} {_ordinal(d.day).upper()} {d.year}"  # MARCH 3RD 2021
    ),
    "mon_ordinal_apostrophe": lambda d: (
        f"{_mon(d)[:3]}. {_ordinal(d.day)}, '{d.year % 100:02d}"  # Mar. 3rd, '21
    ),
    # the three below are the held-out formats: each only recombines pieces seen above
    "weekday_long": lambda d: (
        f"{_DAYS[d.weekday()]}, {_mon(d)} {d.day}, {d.year}"  # Wednesday, March 3, 2021
    ),
    "day_dash_mon": lambda d: f"{d.day}-{_mon(d)[:3]}-{d.year}",  # 3-Mar-2021
    "the_ordinal_of": lambda d: (
        f"the {_ordinal(d.day)} of {_mon(d).lower()}, {d.year}"  # the 3rd of march, 2021
    ),
}  # fmt: skip

#: The formats that ``load_dates(holdout="formats")`` keeps out of the training split.
HELD_OUT_FORMATS = ("weekday_long", "day_dash_mon", "the_ordinal_of")

SOURCE_CHARS = " ',-./" + string.digits + string.ascii_uppercase + string.ascii_lowercase
TARGET_CHARS = "-0123456789"
#: Special tokens of both vocabularies, at ids 0, 1, 2, 3.
DATE_SPECIALS = ("<pad>", "<unk>", "<sos>", "<eos>")
_N_DAYS = (LAST_DAY - FIRST_DAY).days + 1


def _is_test_day(days: np.ndarray) -> np.ndarray:
    """The held-out calendar days: every 10th day counted from 1950-01-01 (10 %)."""
    return days % 10 == 9


def make_dates(
    n: int,
    seed: int | None = None,
    *,
    formats: Sequence[str] | None = None,
    days: str = "all",
    generator: Generator | None = None,
) -> list[tuple[str, str]]:
    """Random (source, ISO target) pairs: a uniform day in 1950-2049 written in a uniform
    choice of ``formats``.

    Args:
        n: number of pairs.
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator).
        formats: names from :data:`DATE_FORMATS` to draw from (default: all of them).
        days: ``"all"``, ``"train"`` (never a held-out day) or ``"test"`` (only held-out
            days: one calendar day in ten).

    Returns:
        A list of ``(source, target)`` string pairs; ``target`` is ``YYYY-MM-DD``.

    Example:
        >>> for pair in make_dates(3, seed=1, formats=["ordinal_of", "weekday_day_mon"]):
        ...     print(pair)
        ('Sun 27 Apr 1997', '1997-04-27')
        ('8th of March 2001', '2001-03-08')
        ('8th of July 2025', '2025-07-08')
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"make_dates: n must be a non-negative int, got {n!r}")
    names = list(DATE_FORMATS) if formats is None else list(formats)
    unknown = [f for f in names if f not in DATE_FORMATS]
    if unknown or not names:
        raise ValueError(f"make_dates: unknown formats {unknown}; choose from {list(DATE_FORMATS)}")
    if days not in ("all", "train", "test"):
        raise ValueError(f"make_dates: days must be 'all', 'train' or 'test', got {days!r}")
    rng = _seeded_rng("make_dates", seed, generator)
    pool = np.arange(_N_DAYS)
    if days != "all":
        pool = pool[_is_test_day(pool) == (days == "test")]
    offsets = rng.choice(pool, size=n)
    which = rng.integers(0, len(names), size=n)
    out = []
    for off, k in zip(offsets.tolist(), which.tolist()):
        d = FIRST_DAY + dt.timedelta(days=off)
        out.append((DATE_FORMATS[names[k]](d), d.isoformat()))
    return out


def load_dates(
    n_train: int = 10000, n_test: int = 1000, holdout: str = "dates", seed: int = 0
) -> dict[str, list[tuple[str, str]]]:
    """Train and test pairs with something held out of training.

    * ``holdout="dates"``: every format in both splits; test days are the one-in-ten
      calendar days that training never contains (in any format), so the test asks for
      new (day, month, year) combinations.
    * ``holdout="formats"``: every day in both; test sources use only the
      :data:`HELD_OUT_FORMATS`, which training never uses.

    Args:
        n_train, n_test: split sizes (default: 10000 and 1000).
        holdout: ``"dates"`` (default) or ``"formats"``.
        seed: seeds both splits (they use different streams).

    Example:
        >>> data = load_dates(200, 50, holdout="formats", seed=0)
        >>> len(data["train"]), len(data["test"])
        (200, 50)
    """
    gen = Generator(seed)
    if holdout == "dates":
        train = make_dates(n_train, days="train", generator=gen)
        test = make_dates(n_test, days="test", generator=gen)
    elif holdout == "formats":
        seen = [f for f in DATE_FORMATS if f not in HELD_OUT_FORMATS]
        train = make_dates(n_train, formats=seen, generator=gen)
        test = make_dates(n_test, formats=HELD_OUT_FORMATS, generator=gen)
    else:
        raise ValueError(f"load_dates: holdout must be 'dates' or 'formats', got {holdout!r}")
    return {"train": train, "test": test}


class EncodedDates(NamedTuple):
    """Pairs as padded id arrays for teacher forcing: the decoder reads ``target_in``
    (``<sos>`` + the ten characters) and is trained to output ``target_out`` (the ten
    characters + ``<eos>``)."""

    source: np.ndarray  # int64 (N, S), <pad>-padded on the right
    source_lengths: np.ndarray  # int64 (N,)
    target_in: np.ndarray  # int64 (N, 11)
    target_out: np.ndarray  # int64 (N, 11)
    source_vocab: list[str]  # id -> token
    target_vocab: list[str]


def _table(chars: str) -> list[str]:
    return [*DATE_SPECIALS, *chars]


#: The fixed id -> token tables of :func:`encode_dates` (sources and ISO targets).
DATE_SOURCE_VOCAB = tuple(_table(SOURCE_CHARS))
DATE_TARGET_VOCAB = tuple(_table(TARGET_CHARS))


def encode_date_sources(texts: Sequence[str]) -> np.ndarray:
    """Source ids (N, S) for dates to normalise, without targets (for prediction):
    ``<pad>``-padded on the right, characters outside the table as ``<unk>``.

    Example:
        >>> encode_date_sources(["3 mar 21", "1.2.99"]).shape
        (2, 8)
    """
    index = {c: i for i, c in enumerate(DATE_SOURCE_VOCAB)}
    width = max((len(t) for t in texts), default=0)
    ids = np.zeros((len(texts), max(width, 1)), dtype=np.int64)
    for row, text in enumerate(texts):
        ids[row, : len(text)] = [index.get(c, 1) for c in text]
    return ids


def encode_dates(pairs: Sequence[tuple[str, str]], max_len: int | None = None) -> EncodedDates:
    """Character ids for the sources and the ISO targets.

    The vocabularies are fixed (so train and test agree): ``<pad>`` = 0, ``<unk>`` = 1,
    ``<sos>`` = 2, ``<eos>`` = 3, then :data:`SOURCE_CHARS` (sources) or
    :data:`TARGET_CHARS` (targets). Source characters outside the table become ``<unk>``.

    Args:
        pairs: ``(source, target)`` pairs as from :func:`make_dates`.
        max_len: pad (or cut) sources to this length (default: the longest source).

    Example:
        >>> enc = encode_dates([("3 mar 21", "2021-03-03")])
        >>> enc.source.shape, enc.source_lengths.tolist(), enc.target_in.shape
        ((1, 8), [8], (1, 11))
        >>> decode_dates(enc.target_out, enc.target_vocab)
        ['2021-03-03']
    """
    src_vocab, tgt_vocab = _table(SOURCE_CHARS), _table(TARGET_CHARS)
    src_index = {c: i for i, c in enumerate(src_vocab)}
    tgt_index = {c: i for i, c in enumerate(tgt_vocab)}
    lengths = np.array([len(s) for s, _ in pairs], dtype=np.int64)
    if max_len is not None:
        lengths = np.minimum(lengths, max_len)
    width = int(max_len if max_len is not None else (lengths.max() if len(pairs) else 0))
    source = np.zeros((len(pairs), width), dtype=np.int64)
    target = np.zeros((len(pairs), 10), dtype=np.int64)
    for row, (src, tgt) in enumerate(pairs):
        ids = [src_index.get(c, 1) for c in src[: lengths[row]]]
        source[row, : len(ids)] = ids
        if len(tgt) != 10:
            raise ValueError(f"encode_dates: target {tgt!r} is not a YYYY-MM-DD date")
        target[row] = [tgt_index[c] for c in tgt]
    sos = np.full((len(pairs), 1), 2, dtype=np.int64)
    eos = np.full((len(pairs), 1), 3, dtype=np.int64)
    return EncodedDates(
        source,
        lengths,
        np.concatenate([sos, target], axis=1),
        np.concatenate([target, eos], axis=1),
        src_vocab,
        tgt_vocab,
    )


def decode_dates(ids: np.ndarray, vocab: Sequence[str]) -> list[str]:
    """Strings from rows of ids, stopping at the first ``<eos>`` and dropping the other
    special tokens (so a model's greedy output decodes directly)."""
    out = []
    for row in np.asarray(ids):
        chars = []
        for i in row.tolist():
            if i == 3:  # <eos>
                break
            if i >= len(DATE_SPECIALS):
                chars.append(vocab[i])
        out.append("".join(chars))
    return out
