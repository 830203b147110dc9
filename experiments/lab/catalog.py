"""The lab's catalog: every distinct seed question, its group, and what answers it.

``catalog.toml`` (next to this file) holds one ``[[question]]`` table per distinct
question. :func:`load_catalog` reads it and checks every entry, so a typo in the file is
reported with the entry's id (or its position) instead of surfacing later in a report.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CATALOG_PATH",
    "GROUPS",
    "STATUSES",
    "Question",
    "coverage",
    "load_catalog",
]

CATALOG_PATH = Path(__file__).with_name("catalog.toml")

GROUPS: tuple[str, ...] = (
    "basics",
    "backprop",
    "activations",
    "losses",
    "optimizers",
    "initialization",
    "normalization",
    "regularization",
    "cnn",
    "rnn",
    "attention",
    "embeddings",
    "autoencoders",
    "gans",
    "siamese",
    "transfer",
    "compression",
    "adversarial",
    "interpretability",
    "tuning",
    "metrics",
    "rl",
    "practice",
    "deployment",
    "applications",
    "other",
)

STATUSES: tuple[str, ...] = ("answered", "planned")

_STR_FIELDS = ("id", "group", "question", "status", "needs")
_LIST_FIELDS = ("seeds",)
_FIELDS = _STR_FIELDS + _LIST_FIELDS


@dataclass(frozen=True)
class Question:
    """One distinct question of the seed files.

    ``seeds`` are references ``"PREFIX:NUMBER"`` into the seed files; ``needs`` names
    what is missing while ``status`` is ``"planned"`` (empty once answered). The
    experiments that answer a question say so themselves (``answers=`` in
    :func:`experiments.lab.core.experiment`).
    """

    id: str
    group: str
    question: str
    seeds: tuple[str, ...]
    status: str
    needs: str


def _check_entry(raw: object, index: int, source: Path) -> Question:
    """Validate one ``[[question]]`` table and turn it into a :class:`Question`."""
    where = f"{source.name}: question #{index + 1}"
    if not isinstance(raw, dict):
        raise TypeError(f"{where}: expected a table, got {type(raw).__name__}")
    if isinstance(raw.get("id"), str):
        where += f" (id {raw['id']!r})"
    missing = [name for name in _FIELDS if name not in raw]
    if missing:
        raise ValueError(f"{where}: missing field(s) {', '.join(missing)}")
    unknown = sorted(set(raw) - set(_FIELDS))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    for name in _STR_FIELDS:
        if not isinstance(raw[name], str):
            raise TypeError(f"{where}: field {name} must be a string, got {raw[name]!r}")
    for name in _LIST_FIELDS:
        value = raw[name]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{where}: field {name} must be a list of strings, got {value!r}")
    for name in ("id", "question"):
        if not raw[name].strip():
            raise ValueError(f"{where}: field {name} is empty")
    if raw["group"] not in GROUPS:
        raise ValueError(
            f"{where}: unknown group {raw['group']!r}; expected one of {', '.join(GROUPS)}"
        )
    if raw["status"] not in STATUSES:
        raise ValueError(
            f"{where}: bad status {raw['status']!r}; expected one of {', '.join(STATUSES)}"
        )
    if raw["status"] == "planned" and not raw["needs"].strip():
        raise ValueError(f"{where}: status 'planned' requires 'needs' to name what is missing")
    if not raw["seeds"]:
        raise ValueError(f"{where}: field seeds is empty; every question stands for a seed")
    return Question(
        id=raw["id"],
        group=raw["group"],
        question=raw["question"],
        seeds=tuple(raw["seeds"]),
        status=raw["status"],
        needs=raw["needs"],
    )


def load_catalog(path: str | Path = CATALOG_PATH) -> list[Question]:
    """Read and check the catalog at ``path``; the questions in file order.

    Raises ValueError (or TypeError for a wrongly typed field) naming the entry for an
    unknown group, a bad status, a missing field, a duplicate id or a seed reference
    claimed by two entries.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"catalog file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path.name}: not valid TOML: {exc}") from None
    entries = data.get("question")
    if not isinstance(entries, list):
        raise ValueError(f"{path.name}: expected [[question]] tables")
    questions: list[Question] = []
    ids: dict[str, int] = {}
    seeds: dict[str, str] = {}
    for index, raw in enumerate(entries):
        q = _check_entry(raw, index, path)
        if q.id in ids:
            raise ValueError(
                f"{path.name}: duplicate id {q.id!r} at question #{index + 1} "
                f"(first at #{ids[q.id] + 1})"
            )
        ids[q.id] = index
        for ref in q.seeds:
            if ref in seeds:
                raise ValueError(
                    f"{path.name}: seed {ref!r} is claimed by both {seeds[ref]!r} and {q.id!r}"
                )
            seeds[ref] = q.id
        questions.append(q)
    return questions


def coverage(questions: Iterable[Question]) -> dict[str, tuple[int, int]]:
    """Per group, ``(answered, total)``: how many questions are answered out of all.

    Groups appear in :data:`GROUPS` order; a group with no question is left out.
    """
    counts = {group: [0, 0] for group in GROUPS}
    for q in questions:
        counts[q.group][1] += 1
        if q.status == "answered":
            counts[q.group][0] += 1
    return {g: (a, t) for g, (a, t) in counts.items() if t}
