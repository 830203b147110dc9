"""Voice-assistant requests: seeded, valid BIO tags that spell the slot values, held-out
templates absent from training, and entity extraction and scores as seqeval computes them."""

from __future__ import annotations

import pytest

from nnlab.data.datasets.commands import (
    COMMAND_INTENTS,
    COMMAND_TAGS,
    COMMAND_TEMPLATES,
    HELD_OUT_TEMPLATES,
    SLOT_VALUES,
    load_commands,
    make_commands,
)
from nnlab.metrics import bio_entities, entity_scores


def test_seeded_and_split():
    assert make_commands(50, seed=1) == make_commands(50, seed=1)
    assert make_commands(50, seed=1) != make_commands(50, seed=2)
    data = load_commands(300, 100, seed=0)
    assert len(data["train"]) == 300 and len(data["test"]) == 100
    assert {c.intent for c in data["test"]} == set(COMMAND_INTENTS)


def test_tags_are_valid_bio_and_spell_slot_values():
    for c in make_commands(300, seed=0):
        assert len(c.tokens) == len(c.tags) and c.text == " ".join(c.tokens)
        assert set(c.tags) <= set(COMMAND_TAGS)
        for i, tag in enumerate(c.tags):  # an I- always continues its own type
            if tag.startswith("I-"):
                assert c.tags[i - 1] in (f"B-{tag[2:]}", tag)
        entities = bio_entities(c.tags)
        assert entities, c  # every template has a slot
        for kind, start, end in entities:
            assert " ".join(c.tokens[start:end]) in SLOT_VALUES[kind]


def _skeleton(command):
    """The words outside slots, in order: a fingerprint of the template used."""
    return tuple(tok for tok, tag in zip(command.tokens, command.tags) if tag == "O")


def _template_skeletons(templates):
    return {tuple(w for w in t.split() if not w.startswith("{")) for t in templates}


def test_held_out_templates_never_train():
    held = {t for ts in COMMAND_TEMPLATES.values() for t in ts[-HELD_OUT_TEMPLATES:]}
    seen = {t for ts in COMMAND_TEMPLATES.values() for t in ts[:-HELD_OUT_TEMPLATES]}
    held_core = _template_skeletons(held)
    data = load_commands(400, 200, seed=0)

    def matches(command, cores):
        sk = " ".join(_skeleton(command))
        return any(" ".join(core) in sk for core in cores)

    assert not any(matches(c, held_core - _template_skeletons(seen)) for c in data["train"])
    assert all(matches(c, held_core) for c in data["test"])


def test_bio_entities_reads_as_seqeval():
    assert bio_entities(["O", "O"]) == []
    assert bio_entities(["B-a", "I-a", "I-a"]) == [("a", 0, 3)]
    assert bio_entities(["B-a", "B-a", "I-a"]) == [("a", 0, 1), ("a", 1, 3)]
    # an I- with nothing to continue starts an entity (seqeval's default, lenient IOB2)
    assert bio_entities(["O", "I-a", "I-a", "I-b", "O"]) == [("a", 1, 3), ("b", 3, 4)]
    with pytest.raises(ValueError, match="X-a"):
        bio_entities(["O", "X-a"])


def test_entity_scores_by_hand():
    true = [["B-time", "I-time", "O", "B-date"], ["B-city", "O"]]
    pred = [["B-time", "I-time", "O", "O"], ["B-city", "B-date"]]
    # true: time, date, city; predicted: time, city, date (wrong place): 2 hits of 3 and 3
    s = entity_scores(true, pred)
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(2 / 3)
    assert s["f1"] == pytest.approx(2 / 3)
    assert s["per_type"]["date"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["per_type"]["time"]["f1"] == 1.0
    # a boundary error is a miss and a false alarm, not half a hit
    assert entity_scores([["B-c", "I-c"]], [["B-c", "O"]])["f1"] == 0.0
    assert entity_scores([["O"]], [["O"]])["f1"] == 0.0
    with pytest.raises(ValueError, match="sequence 0"):
        entity_scores([["O"]], [["O", "O"]])


def test_bad_arguments():
    with pytest.raises(ValueError, match="templates"):
        make_commands(3, seed=0, templates="dev")
    with pytest.raises(ValueError, match="n must be"):
        make_commands(-1, seed=0)
