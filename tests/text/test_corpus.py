"""The standard-library docstring corpus and the character language-model dataset."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.data import DataLoader
from nnlab.text import CharLMDataset, load_stdlib_docstrings, stdlib_documents


def test_corpus_is_deterministic_and_cleaned():
    docs = stdlib_documents()
    stdlib_documents.cache_clear()
    assert stdlib_documents() == docs  # recomputed from scratch: the same documents
    assert len(docs) > 1000 and sum(map(len, docs)) > 300_000
    assert all("\n" not in d and "  " not in d and d == d.strip() for d in docs)
    assert len(set(docs)) == len(docs)


def test_seed_shuffles_documents_and_max_chars_cuts():
    ordered = load_stdlib_docstrings(seed=None)
    a, b = load_stdlib_docstrings(seed=0), load_stdlib_docstrings(seed=1)
    assert a == load_stdlib_docstrings(seed=0) and a != b
    assert sorted(a.split("\n")) == sorted(ordered.split("\n"))
    assert ordered.startswith(stdlib_documents()[0])
    assert load_stdlib_docstrings(max_chars=500, seed=3) == load_stdlib_docstrings(seed=3)[:500]
    assert load_stdlib_docstrings(max_chars=0) == ""
    with pytest.raises(ValueError, match="max_chars"):
        load_stdlib_docstrings(max_chars=-1)


def test_char_lm_windows_are_shifted_by_one():
    text = load_stdlib_docstrings(max_chars=10_000)
    ds = CharLMDataset(text, seq_len=32)
    assert len(ds) == (len(text) - 1) // 32
    assert ds.vocab_size == len(set(text))
    x, y = ds[5]
    assert x.shape == (32,) and y.shape == (32,)
    assert x.dtype == np.int64 and y.dtype == np.int64
    np.testing.assert_array_equal(x.array[1:], y.array[:-1])
    assert ds.decode(x.array) == text[160:192] and ds.decode(y.array) == text[161:193]
    xb, yb = ds.get_batch(np.array([5, 0, -1]))
    np.testing.assert_array_equal(xb.array[0], x.array)
    np.testing.assert_array_equal(yb.array[2], ds[len(ds) - 1][1].array)


def test_char_lm_with_a_dataloader_and_a_shared_table():
    train = CharLMDataset("abcabcabcabc", seq_len=3)
    val = CharLMDataset("cab" * 3, seq_len=2, chars=train.chars)
    assert val.chars == train.chars == ["a", "b", "c"]
    xb, yb = next(iter(DataLoader(train, batch_size=2)))
    assert xb.shape == (2, 3) and xb.array.tolist() == [[0, 1, 2], [0, 1, 2]]
    assert yb.array.tolist() == [[1, 2, 0], [1, 2, 0]]
    with pytest.raises(ValueError, match="not in the table"):
        CharLMDataset("abz", seq_len=1, chars=train.chars)
    with pytest.raises(ValueError, match="no window"):
        CharLMDataset("ab", seq_len=5)
    with pytest.raises(IndexError):
        train[len(train)]
