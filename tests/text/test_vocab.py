"""nnlab.text tokenizers and Vocab: round trips, unknown words, padding, special tokens,
emojis and hashtags, persistence."""

from __future__ import annotations

import numpy as np
import pytest

from nnlab.text import Vocab, char_tokenizer, pad_batch, pre_tokenize, word_tokenizer

POSTS = [
    "The new phone is NOT good 😡 #fail",
    "honestly, isn't bad at all 👍🏽 #blessed",
    "so good!!! ❤️ @joe",
    "good good good",
]


def test_word_tokens_keep_emojis_hashtags_mentions_and_contractions():
    tokens = pre_tokenize(word_tokenizer(), POSTS)
    assert tokens[0] == ["the", "new", "phone", "is", "not", "good", "😡", "#fail"]
    assert tokens[1] == ["honestly", ",", "isn't", "bad", "at", "all", "👍🏽", "#blessed"]
    assert tokens[2] == ["so", "good", "!", "!", "!", "❤️", "@joe"]


def test_curly_apostrophe_and_case_are_normalised():
    assert pre_tokenize(word_tokenizer(), ["It ISN\u2019T"]) == [["it", "isn't"]]
    assert pre_tokenize(word_tokenizer(lowercase=False), ["It ISN'T"]) == [["It", "ISN'T"]]


def test_char_tokens_are_graphemes():
    assert pre_tokenize(char_tokenizer(), ["a b\n❤️👍🏽"]) == [["a", " ", "b", "\n", "❤️", "👍🏽"]]


def test_specials_come_first_then_tokens_by_count():
    v = Vocab.build(POSTS)
    assert v.itos[:3] == ["<pad>", "<unk>", "good"]
    assert v.pad_id == 0 and v.unk_id == 1 and v["<pad>"] == 0
    assert "#blessed" in v and "😡" in v and "👍🏽" in v
    counts_order = v.itos[2:]
    assert len(set(counts_order)) == len(counts_order)


def test_round_trip_and_unknown_words():
    v = Vocab.build(POSTS)
    ids = v.encode(["so good 😡 #fail", "a totally unseen word"])
    assert v.decode(ids) == ["so good 😡 #fail", "<unk> <unk> <unk> <unk>"]
    assert all(i == v.unk_id for i in ids[1])
    assert v.encode(["SO GOOD"]) == v.encode(["so good"])  # lowercased


def test_min_freq_and_max_size():
    texts = ["a a a a b b b c c d"]
    assert Vocab.build(texts, min_freq=2).itos == ["<pad>", "<unk>", "a", "b", "c"]
    assert Vocab.build(texts, max_size=4).itos == ["<pad>", "<unk>", "a", "b"]
    v = Vocab.build(texts, specials=["<sos>", "<eos>"], max_size=5)
    assert v.itos == ["<pad>", "<unk>", "<sos>", "<eos>", "a"]
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build(texts, max_size=1)
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(texts, min_freq=0)


def test_ties_are_alphabetical_so_ids_are_deterministic():
    assert Vocab.build(["z y x", "x y z"]).itos == ["<pad>", "<unk>", "x", "y", "z"]


def test_decode_drops_padding_and_specials_unless_asked():
    v = Vocab.build(["a b"], specials=["<eos>"])
    ids, _ = pad_batch(v.encode(["a", "a b"]))
    ids = np.concatenate([ids, np.full((2, 1), v["<eos>"])], axis=1)
    assert v.decode(ids) == ["a", "a b"]
    assert v.decode(ids, skip_specials=False) == ["a <pad> <eos>", "a b <eos>"]


def test_char_level_round_trip_is_exact():
    text = "Hello, World! ❤️"
    v = Vocab.build([text], level="char")
    assert v.decode(v.encode([text])) == [text]
    assert v.decode(v.encode(["Hiz"])) == ["H<unk><unk>"]


def test_pad_batch_shapes_and_lengths():
    seqs = [[3, 4, 5], [6], []]
    ids, lengths = pad_batch(seqs)
    assert ids.dtype == np.int64 and lengths.dtype == np.int64
    assert ids.shape == (3, 3) and lengths.tolist() == [3, 1, 0]
    assert ids.tolist() == [[3, 4, 5], [6, 0, 0], [0, 0, 0]]
    cut, cut_len = pad_batch(seqs, max_len=2)
    assert cut.tolist() == [[3, 4], [6, 0], [0, 0]] and cut_len.tolist() == [2, 1, 0]
    wide, _ = pad_batch(seqs, max_len=5, pad_id=-1)
    assert wide.shape == (3, 5) and (wide[1, 1:] == -1).all()
    for row, n in zip(ids, lengths):
        assert (row[n:] == 0).all()


def test_save_load(tmp_path):
    v = Vocab.build(POSTS, min_freq=1, specials=["<sos>"])
    path = v.save(tmp_path / "sub" / "vocab.json")
    w = Vocab.load(path)
    assert w.itos == v.itos and w.level == "word"
    assert w.encode(POSTS + ["unseen 🦄"]) == v.encode(POSTS + ["unseen 🦄"])
    c = Vocab.build(["abc"], level="char")
    assert Vocab.load(c.save(tmp_path / "c.json")).decode([[2, 3, 4]]) == ["abc"]
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a saved Vocab"):
        Vocab.load(tmp_path / "bad.json")


def test_bad_inputs_raise_clear_errors():
    v = Vocab.build(POSTS)
    with pytest.raises(TypeError, match="wrap it"):
        v.encode("a single string")
    with pytest.raises(TypeError, match="must be a str"):
        v.encode([1, 2])
    with pytest.raises(ValueError, match="level"):
        Vocab.build(POSTS, level="bpe")
    with pytest.raises(ValueError, match="out of range"):
        v.decode([[len(v)]])
