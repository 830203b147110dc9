"""The lab's report: every question gets a page, measured answers and claims are shown as
measured, every text is escaped, links are relative, and the Markdown summary lists the
one-line answers and the claims that did not hold."""

from __future__ import annotations

import dataclasses
import re

import pytest

from experiments.lab.catalog import load_catalog
from experiments.lab.core import Claim
from experiments.lab.report import (
    esc,
    first_sentence,
    load_lab,
    markdown_summary,
    question_page,
    tag,
    write_site,
)
from experiments.lab.runner import run_experiment

CATALOG = load_catalog()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The whole catalog at the quick size, with a result for linear-stack only."""
    root = tmp_path_factory.mktemp("lab-results")
    run_experiment("linear-stack", "quick", 0, root=root)
    return load_lab(CATALOG, "quick", 0, root)


def with_linear_stack_result(lab, **changes):
    """``lab`` with linear-stack's result changed (answer, claims...)."""
    result = dataclasses.replace(lab.results["linear-stack"], **changes)
    return dataclasses.replace(lab, results={**lab.results, "linear-stack": result})


def question(qid):
    return next(q for q in CATALOG if q.id == qid)


@pytest.mark.parametrize(
    "text, first",
    [
        ("One. Two.", "One."),
        (
            "Accuracy was 0.95 at lr 1e-3, e.g. high. Then it fell.",
            "Accuracy was 0.95 at lr 1e-3, e.g. high.",
        ),
        ("No full stop", "No full stop"),
        ("Is it? Yes!", "Is it?"),
    ],
)
def test_first_sentence(text, first):
    assert first_sentence(text) == first


def test_tag_escapes_attributes_but_not_children():
    assert tag("a", esc("<b>&"), href='x".html', class_="c") == (
        '<a href="x&quot;.html" class="c">&lt;b&gt;&amp;</a>'
    )


def test_site_has_every_question_and_relative_links_only(lab, tmp_path):
    index = write_site(lab, tmp_path)
    pages = sorted((tmp_path / "questions").glob("*.html"))
    assert sorted(p.stem for p in pages) == sorted(q.id for q in CATALOG)
    assert (tmp_path / "style.css").is_file()
    for kind in ("png", "svg"):
        assert (tmp_path / "figures" / "linear-stack" / f"accuracy.{kind}").is_file()
    for path in [index, *pages]:
        text = path.read_text(encoding="utf-8")
        targets = re.findall(r'(?:href|src)="([^"]*)"', text)
        assert targets and not [t for t in targets if re.match(r"[a-z]+:|/", t)], path
        assert "<script" not in text


def test_index_lists_status_needs_answer_and_coverage(lab, tmp_path):
    # one question set back to planned, so that the index shows what it still needs
    planned = dataclasses.replace(
        question("quantum-neural-networks"), status="planned", needs="capability: qubits"
    )
    questions = tuple(planned if q.id == planned.id else q for q in lab.questions)
    text = write_site(dataclasses.replace(lab, questions=questions), tmp_path).read_text(
        encoding="utf-8"
    )
    answered = sum(q.status == "answered" for q in questions)
    assert f"answered {answered} of {len(questions)}" in text
    assert esc(first_sentence(lab.results["linear-stack"].answer)) in text
    assert esc(planned.needs) in text
    assert 'href="questions/why-non-linearity.html"' in text


def test_question_page_shows_what_was_measured(lab):
    result = lab.results["linear-stack"]
    page = question_page(lab, question("why-non-linearity"))
    assert esc(result.answer) in page
    for claim in result.claims:
        assert esc(claim.statement) in page and esc(claim.measured) in page
    assert esc(result.tables[0].title) in page
    assert '<img src="../figures/linear-stack/accuracy.png" alt="' in page
    assert 'href="../figures/linear-stack/accuracy.svg"' in page
    assert "def linear_stack(" in page and "def xor_points(" in page  # function and module
    for fact in ("quick", result.nnlab_version, f"{result.seconds:.1f} s"):
        assert fact in page
    assert "xor_identity_accuracy" in page


def test_full_size_only_claims_are_marked_at_the_quick_size(lab):
    claims = (Claim("at full size", True, "1.0", quick=False),)
    quick = with_linear_stack_result(lab, claims=claims)
    assert "full size only" in question_page(quick, question("why-non-linearity"))
    full = with_linear_stack_result(lab, claims=claims, size="full")
    assert "full size only" not in question_page(full, question("why-non-linearity"))


def test_text_from_results_is_escaped(lab):
    hostile = "<script>alert(1)</script> & <b>bold</b>."
    claims = (Claim(hostile, False, "<i>x</i>"),)
    page = question_page(
        with_linear_stack_result(lab, answer=hostile, claims=claims),
        question("why-non-linearity"),
    )
    assert "<script>" not in page and "<b>bold" not in page and "<i>x" not in page
    assert esc(hostile) in page


def test_experiment_without_a_result_is_not_run_yet(lab):
    empty = dataclasses.replace(lab, results={name: None for name in lab.results})
    page = question_page(empty, question("why-non-linearity"))
    assert "Not run yet" in page and "nnlab lab run linear-stack --size quick --seed 0" in page


def test_markdown_lists_answers_and_claims_not_held(lab):
    claims = (Claim("a *bold* claim", False, "ratio 1.2"), Claim("a claim that held", True, "ok"))
    text = markdown_summary(with_linear_stack_result(lab, claims=claims))
    answered = sum(q.status == "answered" for q in CATALOG)
    assert f"answered {answered} of {len(CATALOG)}." in text
    line = next(x for x in text.splitlines() if "(`why-non-linearity`, " in x)
    assert first_sentence(lab.results["linear-stack"].answer).split(":")[0] in line
    assert r"  - claim not held (linear-stack): a \*bold\* claim (measured: ratio 1.2)" in text
    assert "a claim that held" not in text
    for group in {q.group for q in CATALOG}:
        assert re.search(rf"^## {group} \(\d+ of \d+ answered\)$", text, re.M)
