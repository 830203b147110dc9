"""Every lab experiment at its quick size: it runs, records an answer, figures and claims,
and every claim expected at the quick size holds. The published full-size results are
intact, made by the current source, and cover every answered question."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.lab.catalog import load_catalog
from experiments.lab.runner import RESULTS, all_experiments, cached_result, run_experiment

# The experiments multiply small matrices: see the fixture in tests/conftest.py.
pytestmark = pytest.mark.usefixtures("one_blas_thread")

EXPERIMENTS = all_experiments()
CATALOG = {q.id: q for q in load_catalog()}


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_quick_size_runs_and_its_claims_hold(name, tmp_path):
    result = run_experiment(name, "quick", seed=0, root=tmp_path)
    assert result.answer, name
    assert result.claims, name
    assert result.figures, f"{name}: an experiment plots what it measured"
    for fig in result.figures:
        for kind in ("png", "svg"):
            assert result.image(fig.name, kind).stat().st_size > 1000, (name, fig.name, kind)
    for value in result.numbers.values():
        if isinstance(value, float):
            assert np.isfinite(value), (name, result.numbers)
    failed = [f"{c.statement} ({c.measured})" for c in result.claims if c.quick and not c.held]
    assert not failed, f"{name}: claims expected at the quick size did not hold: {failed}"
    # Claims that only show at the full size are reported, not silently skipped.
    for c in result.claims:
        if not c.quick:
            print(f"{name}: full-size-only claim {'held' if c.held else 'NOT held'} at quick "
                  f"size: {c.statement} ({c.measured})")


@pytest.mark.parametrize("name", sorted(EXPERIMENTS))
def test_experiment_answers_catalog_questions(name):
    exp = EXPERIMENTS[name]
    assert exp.answers, f"{name} answers no catalog question"
    unknown = [q for q in exp.answers if q not in CATALOG]
    assert not unknown, f"{name} answers unknown question ids {unknown}"


def test_answered_questions_have_intact_full_size_results():
    """A question is ``answered`` exactly when an experiment answers it, and each such
    experiment has a published full-size result (seed 0) made by its current source."""
    answering = {q: [e for e in EXPERIMENTS.values() if q in e.answers] for q in CATALOG}
    wrong_status = [
        q for q, exps in answering.items() if (CATALOG[q].status == "answered") != bool(exps)
    ]
    assert not wrong_status, f"status disagrees with the experiments for {wrong_status}"
    stale = [e.name for e in EXPERIMENTS.values() if cached_result(e, "full", 0) is None]
    assert not stale, f"no intact full-size result from the current source for {stale}"


def test_results_are_json_without_nan():
    for path in RESULTS.glob("*/full-seed0/result.json"):
        json.loads(path.read_text(encoding="utf-8"), parse_constant=pytest.fail)
