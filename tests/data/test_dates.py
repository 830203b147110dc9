"""The dates dataset: determinism, every format parses back to its ISO target, and the
held-out splits hold out what they say."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from nnlab.data.datasets import (
    DATE_FORMATS,
    HELD_OUT_FORMATS,
    decode_dates,
    encode_dates,
    load_dates,
    make_dates,
)

_SUFFIX = re.compile(r"(\d+)(st|nd|rd|th)", re.IGNORECASE)

# An independent reading of every format with datetime.strptime (ordinal suffixes
# stripped first). Adding a format to DATE_FORMATS means adding its parser here.
PARSERS = {
    "ordinal_of": "%d of %B %Y",
    "month_day_year": "%B %d, %Y",
    "dmy_slash_short": "%d/%m/%y",
    "dmy_slash": "%d/%m/%Y",
    "ymd_dots": "%Y.%m.%d",
    "dmy_dots": "%d.%m.%Y",
    "weekday_day_mon": "%a %d %b %Y",
    "day_mon_short": "%d %b %y",
    "day_month_year": "%d %B %Y",
    "mon_day_year": "%b %d %Y",
    "iso": "%Y-%m-%d",
    "compact": "%Y%m%d",
    "upper_ordinal": "%B %d %Y",
    "mon_ordinal_apostrophe": "%b. %d, '%y",
    "weekday_long": "%A, %B %d, %Y",
    "day_dash_mon": "%d-%b-%Y",
    "the_ordinal_of": "the %d of %B, %Y",
}


def _parse(source: str, fmt: str) -> dt.date:
    d = dt.datetime.strptime(_SUFFIX.sub(r"\1", source), PARSERS[fmt]).date()
    if "%y" in PARSERS[fmt] and d.year > 2049:  # strptime puts 50-68 in 20xx; we say 19xx
        d = d.replace(year=d.year - 100)
    return d


def test_every_format_has_a_parser():
    assert set(PARSERS) == set(DATE_FORMATS)
    assert set(HELD_OUT_FORMATS) < set(DATE_FORMATS)


@pytest.mark.parametrize("fmt", list(DATE_FORMATS))
def test_each_format_parses_back_to_the_target(fmt):
    pairs = make_dates(300, seed=1, formats=[fmt])
    for source, target in pairs:
        assert _parse(source, fmt).isoformat() == target, (fmt, source, target)
        assert dt.date(1950, 1, 1) <= dt.date.fromisoformat(target) <= dt.date(2049, 12, 31)


def test_tricky_days_are_written_right():
    d = dt.date(2021, 3, 3)
    assert DATE_FORMATS["ordinal_of"](d) == "3rd of March 2021"
    assert DATE_FORMATS["weekday_day_mon"](d) == "Wed 3 Mar 2021"
    assert DATE_FORMATS["mon_ordinal_apostrophe"](d) == "Mar. 3rd, '21"
    for day, text in [(1, "1st"), (2, "2nd"), (11, "11th"), (12, "12th"), (13, "13th"),
                      (21, "21st"), (22, "22nd"), (23, "23rd"), (31, "31st")]:  # fmt: skip
        assert DATE_FORMATS["ordinal_of"](dt.date(2020, 1, day)).startswith(text + " ")


def test_determinism_and_variety():
    a = make_dates(500, seed=7)
    assert a == make_dates(500, seed=7) and a != make_dates(500, seed=8)
    sources = {s for s, _ in a}
    assert len(sources) > 490
    lengths = [len(s) for s in sources]
    assert min(lengths) == 8 and max(lengths) > 25  # '03/03/21' ... 'Wednesday, March 3, 2021'


def test_holdout_dates_never_in_training():
    data = load_dates(5000, 1000, holdout="dates", seed=0)
    train_days = {t for _, t in data["train"]}
    test_days = {t for _, t in data["test"]}
    assert not train_days & test_days
    assert len(test_days) > 500


def test_holdout_formats_never_in_training():
    data = load_dates(3000, 600, holdout="formats", seed=0)
    seen = [f for f in DATE_FORMATS if f not in HELD_OUT_FORMATS]

    def fmt_of(source: str, target: str, names) -> set[str]:
        return {f for f in names if DATE_FORMATS[f](dt.date.fromisoformat(target)) == source}

    assert all(fmt_of(s, t, seen) and not fmt_of(s, t, HELD_OUT_FORMATS) for s, t in data["train"])
    assert all(fmt_of(s, t, HELD_OUT_FORMATS) and not fmt_of(s, t, seen) for s, t in data["test"])
    with pytest.raises(ValueError, match="holdout"):
        load_dates(10, 10, holdout="years")


def test_encoding_for_teacher_forcing():
    pairs = make_dates(50, seed=0)
    enc = encode_dates(pairs)
    n = len(pairs)
    assert enc.source.shape == (n, max(len(s) for s, _ in pairs)) and enc.source.dtype == np.int64
    assert enc.target_in.shape == enc.target_out.shape == (n, 11)
    assert (enc.target_in[:, 0] == enc.target_vocab.index("<sos>")).all()
    assert (enc.target_out[:, -1] == enc.target_vocab.index("<eos>")).all()
    np.testing.assert_array_equal(enc.target_in[:, 1:], enc.target_out[:, :-1])
    assert enc.source_vocab[:4] == enc.target_vocab[:4] == ["<pad>", "<unk>", "<sos>", "<eos>"]
    assert decode_dates(enc.target_out, enc.target_vocab) == [t for _, t in pairs]
    assert decode_dates(enc.source, enc.source_vocab) == [s for s, _ in pairs]
    for row, length in zip(enc.source, enc.source_lengths):
        assert (row[length:] == 0).all() and (row[:length] > 3).all()
    odd = encode_dates([("3 mär 21", "2021-03-03")])
    assert odd.source[0, 3] == 1  # a character outside the table is <unk>
