"""Sequence labelling scored by entity, as ``seqeval`` does: the entities a BIO (IOB2) tag
sequence marks, and precision, recall and F1 over whole entities (type, start and end must
all match), micro-averaged and per type."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["bio_entities", "entity_scores"]


def bio_entities(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """The entities a BIO tag sequence marks, as ``(type, start, end)`` with ``end``
    exclusive.

    Read as ``seqeval`` reads IOB2 by default (not its strict mode): an entity starts at
    ``B-t``, or at an ``I-t`` that does not continue an entity of type ``t`` (after ``O``
    or another type), and runs over the ``I-t`` tags that follow.

    Example:
        >>> bio_entities(["O", "B-time", "I-time", "B-date", "I-city", "O"])
        [('time', 1, 3), ('date', 3, 4), ('city', 4, 5)]
    """
    entities = []
    kind, start = None, 0
    for i, tag in enumerate([*tags, "O"]):  # the trailing O closes an open entity
        bio, _, slot = tag.partition("-")
        if bio not in ("B", "I", "O") or (bio != "O" and not slot):
            raise ValueError(f"bio_entities: {tag!r} at {i} is not O, B-<type> or I-<type>")
        if kind is not None and (bio != "I" or slot != kind):
            entities.append((kind, start, i))
            kind = None
        if bio != "O" and kind is None:
            kind, start = slot, i
    return entities


def _prf(hits: int, n_pred: int, n_true: int) -> tuple[float, float, float]:
    precision = hits / n_pred if n_pred else 0.0
    recall = hits / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def entity_scores(
    true_tags: Sequence[Sequence[str]], pred_tags: Sequence[Sequence[str]]
) -> dict[str, object]:
    """Entity-level precision, recall and F1 of predicted tag sequences (as ``seqeval``).

    An entity counts as found only when its type, start and end all match a true entity
    (a half-found "new" of "new york" is a miss and a false alarm). Precision = hits /
    predicted entities, recall = hits / true entities, F1 = their harmonic mean; the
    overall scores are micro-averaged over all entities of all sentences.

    Returns:
        ``{"precision", "recall", "f1", "per_type"}``; ``per_type`` maps every type that
        occurs in the true or predicted tags to ``{"precision", "recall", "f1",
        "support"}`` (support: the number of true entities of the type).

    Example:
        >>> s = entity_scores([["B-city", "I-city", "O"]], [["B-city", "O", "O"]])
        >>> s["f1"], s["per_type"]["city"]["support"]
        (0.0, 1)
    """
    if len(true_tags) != len(pred_tags):
        raise ValueError(
            f"entity_scores: {len(true_tags)} true sequences but {len(pred_tags)} predicted"
        )
    true_set, pred_set = set(), set()
    for i, (t, p) in enumerate(zip(true_tags, pred_tags)):
        if len(t) != len(p):
            raise ValueError(
                f"entity_scores: sequence {i} has {len(t)} true tags but {len(p)} predicted"
            )
        true_set |= {(i, *e) for e in bio_entities(t)}
        pred_set |= {(i, *e) for e in bio_entities(p)}
    hits = true_set & pred_set
    per_type = {}
    for kind in sorted({e[1] for e in true_set | pred_set}):
        n_true = sum(e[1] == kind for e in true_set)
        scores = _prf(sum(e[1] == kind for e in hits), sum(e[1] == kind for e in pred_set), n_true)
        per_type[kind] = dict(zip(("precision", "recall", "f1"), scores), support=n_true)
    precision, recall, f1 = _prf(len(hits), len(pred_set), len(true_set))
    return {"precision": precision, "recall": recall, "f1": f1, "per_type": per_type}
