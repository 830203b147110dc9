"""The lab's catalog: valid, complete against the seed files, and in the project's words."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from experiments.lab.catalog import GROUPS, Question, coverage, load_catalog
from experiments.lab.runner import RESULTS

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
COPY_RUN = 8  # consecutive words shared with a seed sentence that count as copying


def _seed_files() -> list[Path]:
    if not SEEDS.is_dir():
        pytest.skip(f"seed folder {SEEDS} not present on this machine")
    files = sorted(SEEDS.glob("*.txt"))
    if not files:
        pytest.skip(f"no seed files in {SEEDS}")
    return files


def _seed_questions(path: Path) -> list[tuple[str, str]]:
    """``(reference, question)`` for every question of one seed file, in file order.

    000: ``### Qn. text``; 001: ``## Question n`` then the bold title on the next line;
    002: ``n. **text**`` (or ``### n. **text**``) in lists that restart at 1, so the
    reference is ``LIST.N``; 003: a line holding only a number, the question on the next.
    """
    prefix = path.name[:3]
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[tuple[str, str]] = []
    if prefix == "000":
        for line in lines:
            if m := re.match(r"### Q(\d+)\.\s*(.+)$", line):
                found.append((f"Q{m[1]}", m[2]))
    elif prefix == "001":
        for i, line in enumerate(lines):
            if m := re.fullmatch(r"## Question (\d+)\s*", line):
                title = next(x for x in lines[i + 1 :] if x.strip())
                found.append((m[1], title.strip().strip("*")))
    elif prefix == "002":
        block, previous = 0, None
        for line in lines:
            if m := re.match(r"(?:### )?(\d+)\.\s+\*\*(.+?)\*\*", line):
                number = int(m[1])
                if previous is None or number != previous + 1:
                    block += 1
                previous = number
                found.append((f"{block}.{number}", m[2]))
    elif prefix == "003":
        for i, line in enumerate(lines[:-1]):
            if re.fullmatch(r"\d+", line.strip()):
                found.append((line.strip(), lines[i + 1].strip()))
    else:
        raise AssertionError(f"unexpected seed file {path.name}: no parsing rule for it")
    return [(f"{prefix}:{ref}", text) for ref, text in found]


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:['-][a-z0-9]+)*", text.lower())


@pytest.fixture(scope="module")
def catalog() -> list[Question]:
    return load_catalog()


def test_catalog_loads_with_valid_groups_and_statuses(catalog):
    assert len(catalog) > 50
    for q in catalog:
        assert q.group in GROUPS, q.id
        assert q.status in ("answered", "planned"), q.id
        if q.status == "planned":
            assert q.needs.startswith(("experiment: ", "capability: ")), q.id
        assert q.question.strip().endswith("?"), q.id


def test_ids_unique_and_slug_like(catalog):
    ids = [q.id for q in catalog]
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    for i in ids:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) and len(i) <= 40, i


def test_every_seed_question_referenced_exactly_once(catalog):
    expected: list[str] = []
    for path in _seed_files():
        refs = [ref for ref, _ in _seed_questions(path)]
        assert refs, f"no questions parsed from {path.name}"
        assert len(set(refs)) == len(refs), f"{path.name}: repeated references"
        expected += refs
    claimed = Counter(ref for q in catalog for ref in q.seeds)
    assert sorted(r for r in expected if claimed[r] == 0) == []
    assert sorted(r for r, n in claimed.items() if n > 1) == []
    assert sorted(set(claimed) - set(expected)) == []


def _seed_runs() -> set[tuple[str, ...]]:
    """Every run of COPY_RUN consecutive words inside one sentence of the seed files."""
    runs: set[tuple[str, ...]] = set()
    for path in _seed_files():
        text = path.read_text(encoding="utf-8")
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", text):
            w = _words(sentence)
            runs.update(tuple(w[i : i + COPY_RUN]) for i in range(len(w) - COPY_RUN + 1))
    return runs


def _copied(text: str, runs: set[tuple[str, ...]]) -> list[str]:
    w = _words(text)
    return [" ".join(w[i : i + COPY_RUN]) for i in range(len(w) - COPY_RUN + 1)
            if tuple(w[i : i + COPY_RUN]) in runs]  # fmt: skip


def test_no_question_copies_a_seed_sentence(catalog):
    runs = _seed_runs()
    assert [(q.id, run) for q in catalog for run in _copied(q.question, runs)] == []


def test_no_published_answer_or_claim_copies_a_seed_sentence():
    """The lab's answers and claims (the published results) are in the project's words."""
    runs = _seed_runs()
    copied = []
    for path in sorted(RESULTS.glob("*/full-seed0/result.json")):
        result = json.loads(path.read_text(encoding="utf-8"))
        texts = [result["answer"], *(c["statement"] for c in result["claims"])]
        copied += [(result["experiment"], run) for t in texts for run in _copied(t, runs)]
    assert copied == []


def test_coverage_sums(catalog):
    cov = coverage(catalog)
    assert sum(t for _, t in cov.values()) == len(catalog)
    assert sum(a for a, _ in cov.values()) == sum(q.status == "answered" for q in catalog)
    assert all(0 <= a <= t for a, t in cov.values())
    q = catalog[0]
    done = replace(q, status="answered", needs="")
    todo = replace(q, id="other-id", status="planned", needs="experiment: x")
    assert coverage([done, todo]) == {q.group: (1, 2)}


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "catalog.toml"
    path.write_text(body, encoding="utf-8")
    return path


ENTRY = """[[question]]
id = "{id}"
group = "{group}"
question = "Why?"
seeds = ["{seed}"]
status = "{status}"
needs = "experiment: something"
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (ENTRY.format(id="a", group="nope", seed="000:Q1", status="planned"), "unknown group"),
        (ENTRY.format(id="a", group="cnn", seed="000:Q1", status="done"), "bad status"),
        (
            ENTRY.format(id="a", group="cnn", seed="000:Q1", status="planned")
            + ENTRY.format(id="a", group="cnn", seed="000:Q2", status="planned"),
            "duplicate id 'a'",
        ),
        (
            ENTRY.format(id="a", group="cnn", seed="000:Q1", status="planned")
            + ENTRY.format(id="b", group="cnn", seed="000:Q1", status="planned"),
            "claimed by both",
        ),
        (
            ENTRY.format(id="a", group="cnn", seed="000:Q1", status="planned").replace(
                'needs = "experiment: something"\n', ""
            ),
            "missing field(s) needs",
        ),
    ],
)
def test_bad_entries_are_named(tmp_path, body, message):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        load_catalog(_write(tmp_path, body))
    assert "'a'" in str(info.value) or "'b'" in str(info.value)


def test_wrong_type_is_named(tmp_path):
    body = ENTRY.format(id="a", group="cnn", seed="000:Q1", status="planned")
    body = body.replace('seeds = ["000:Q1"]', 'seeds = "000:Q1"')
    with pytest.raises(TypeError, match=r"id 'a'.*seeds"):
        load_catalog(_write(tmp_path, body))
