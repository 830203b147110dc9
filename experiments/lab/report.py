"""The lab's report: a static site of the measured answers, and a Markdown summary.

The site works offline, opened from ``file://``: plain HTML and one stylesheet, relative
links only, no script, the figures copied in. Its layout::

    index.html              every catalog question by group: status, one-line answer
    questions/<id>.html     the question and, for each experiment that answers it, the
                            answer, claims, numbers, tables, figures, run facts and source
    figures/<experiment>/   each figure's PNG (shown) and SVG (linked)
    style.css

A report shows one size and seed (the published full size at seed 0 by default), read
from the runner's cache: an experiment without an intact result made by its current
source is shown as "not run yet". The Markdown summary (``docs/lab.md``) lists each
question with its one-line measured answer and the claims that did not hold.
"""

from __future__ import annotations

import html
import re
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from experiments.lab.catalog import GROUPS, Question, coverage
from experiments.lab.core import Claim, Experiment, Table
from experiments.lab.runner import RESULTS, Result, all_experiments, cached_result

__all__ = ["Lab", "first_sentence", "load_lab", "markdown_summary", "write_site"]

STYLESHEET = Path(__file__).with_name("report.css")


@dataclass(frozen=True)
class Lab:
    """What a report shows: the catalog, the experiments, and their results at one size
    and seed (``None`` for an experiment not run yet)."""

    questions: tuple[Question, ...]
    experiments: Mapping[str, Experiment]
    results: Mapping[str, Result | None]
    size: str
    seed: int

    def answering(self, question: Question) -> list[Experiment]:
        """The experiments that answer ``question``, in registry order."""
        return [e for e in self.experiments.values() if question.id in e.answers]

    def one_line_answer(self, question: Question) -> str | None:
        """The first sentence of the measured answer of the first experiment that
        answers ``question`` and has a result; None when none has."""
        for exp in self.answering(question):
            result = self.results.get(exp.name)
            if result is not None:
                return first_sentence(result.answer)
        return None

    def by_group(self) -> dict[str, list[Question]]:
        """The questions by group, in the catalog's group order."""
        groups: dict[str, list[Question]] = {g: [] for g in GROUPS}
        for q in self.questions:
            groups[q.group].append(q)
        return {g: qs for g, qs in groups.items() if qs}


def load_lab(
    questions: list[Question], size: str = "full", seed: int = 0, root: Path = RESULTS
) -> Lab:
    """Every registered experiment and its cached result of ``size`` and ``seed`` under
    ``root``."""
    experiments = dict(all_experiments())
    results = {name: cached_result(exp, size, seed, root) for name, exp in experiments.items()}
    return Lab(tuple(questions), experiments, results, size, seed)


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


def first_sentence(text: str) -> str:
    """The text up to the first full stop that ends a sentence (one followed by a space
    and a capital letter, so "e.g. the" and "0.95" do not end it).

    >>> first_sentence("ReLU reached 99.5% accuracy. The linear one did not.")
    'ReLU reached 99.5% accuracy.'
    """
    return _SENTENCE_END.split(text.strip(), maxsplit=1)[0]


# HTML ------------------------------------------------------------------------------------


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def tag(name: str, *children: str, **attrs: str) -> str:
    """The element ``<name attrs>children</name>``. Children are markup already (escape
    text with :func:`esc`); attribute values are escaped here (``class_`` gives ``class``)."""
    attributes = "".join(f' {key.rstrip("_")}="{esc(value)}"' for key, value in attrs.items())
    return f"<{name}{attributes}>{''.join(children)}</{name}>"


def page(title: str, body: str, *, top: str) -> str:
    """A whole HTML document; ``top`` is the relative path from it to the site's top
    folder ("" or "../")."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="nnlab lab report">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{esc(top)}style.css">\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def format_value(value: Any) -> str:
    """A measured value as the report prints it: floats to 4 significant digits."""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def coverage_line(questions: Iterable[Question]) -> str:
    """``answered N of M`` over all ``questions``."""
    counts = coverage(questions).values()
    return f"answered {sum(a for a, _ in counts)} of {sum(t for _, t in counts)}"


def status_cell(question: Question) -> str:
    """The status, and for a planned question what it still needs."""
    if question.status == "answered":
        return tag("span", "answered", class_="status answered")
    needs = tag("span", esc(question.needs), class_="needs") if question.needs else ""
    return tag("span", "planned", class_="status planned") + " " + needs


def index_page(lab: Lab) -> str:
    """The front page: the coverage, then one table per group of every question with its
    status and one-line measured answer."""
    groups = lab.by_group()
    counts = coverage(lab.questions)
    nav = tag(
        "ul",
        *(
            tag("li", tag("a", esc(g), href=f"#{g}"), f" {counts[g][0]} of {counts[g][1]}")
            for g in groups
        ),
        class_="groups",
    )
    sections = [group_section(lab, g, qs, counts[g]) for g, qs in groups.items()]
    body = tag(
        "main",
        tag("h1", "The lab: measured answers"),
        tag(
            "p",
            "Every question of the catalog, answered by a seeded experiment that measures "
            "the answer and checks the claims made about it. Results shown: size ",
            tag("strong", esc(lab.size)),
            ", seed ",
            tag("strong", esc(lab.seed)),
            ".",
        ),
        tag("p", esc(coverage_line(lab.questions)), class_="coverage"),
        nav,
        *sections,
    )
    return page("The lab: measured answers", body, top="")


def group_section(lab: Lab, group: str, questions: list[Question], count: tuple[int, int]) -> str:
    """One group's table: question (linked to its page), status, one-line answer."""
    rows = []
    for q in questions:
        answer = lab.one_line_answer(q)
        if answer is None:
            answer_cell = tag("span", "not run yet" if lab.answering(q) else "", class_="none")
        else:
            answer_cell = esc(answer)
        rows.append(
            tag(
                "tr",
                tag("td", tag("a", esc(q.question), href=f"questions/{q.id}.html")),
                tag("td", status_cell(q)),
                tag("td", answer_cell),
            )
        )
    head = tag("tr", tag("th", "question"), tag("th", "status"), tag("th", "measured answer"))
    return tag(
        "section",
        tag("h2", esc(group), " ", tag("small", f"{count[0]} of {count[1]} answered")),
        tag("table", tag("thead", head), tag("tbody", *rows), class_="questions"),
        id=group,
    )


def question_page(lab: Lab, question: Question) -> str:
    """A question's page: the question, its catalog entry, and each experiment that
    answers it."""
    facts = [
        ("id", tag("code", esc(question.id))),
        ("group", esc(question.group)),
        ("status", status_cell(question)),
        ("seed questions", esc(", ".join(question.seeds))),
    ]
    experiments = lab.answering(question)
    sections = [experiment_section(lab, e) for e in experiments] or [
        tag("p", "No experiment answers this question yet.", class_="none")
    ]
    body = tag(
        "main",
        tag("p", tag("a", "← all questions", href=f"../index.html#{question.group}")),
        tag("h1", esc(question.question)),
        definition_list(facts),
        *sections,
    )
    return page(question.question, body, top="../")


def definition_list(items: list[tuple[str, str]]) -> str:
    """A ``<dl>`` of (term, markup) pairs."""
    return tag("dl", *(tag("dt", esc(term)) + tag("dd", markup) for term, markup in items))


def experiment_section(lab: Lab, exp: Experiment) -> str:
    """Everything one experiment measured, or "not run yet"; then its source."""
    result = lab.results.get(exp.name)
    heading = tag("h2", esc(exp.title), " ", tag("small", tag("code", esc(exp.name))))
    if result is None:
        command = f"nnlab lab run {exp.name} --size {lab.size} --seed {lab.seed}"
        parts = [
            tag(
                "p",
                f"Not run yet at size {esc(lab.size)}, seed {esc(lab.seed)}: ",
                tag("code", esc(command)),
                class_="none",
            )
        ]
    else:
        parts = [
            tag("p", esc(result.answer), class_="answer"),
            claims_list(result),
            numbers_table(result.numbers),
            *(table_html(t) for t in result.tables),
            *(figure_html(result, f.name, f.caption) for f in result.figures),
            run_facts(result),
        ]
    return tag("section", heading, *parts, source_html(exp), class_="experiment")


def source_html(exp: Experiment) -> str:
    """The experiment's function, then (folded) the whole module it lives in: its
    helpers are part of what made the result."""
    module_path = exp.module.replace(".", "/") + ".py"
    module = tag(
        "details",
        tag("summary", "The whole module, ", tag("code", esc(module_path))),
        tag("pre", tag("code", esc(exp.source_file().read_text(encoding="utf-8")))),
        class_="source",
    )
    function = tag("pre", tag("code", esc(exp.source())), class_="source")
    return tag("h3", "Source") + function + module


def claim_item(claim: Claim, size: str) -> str:
    """One claim: held or not held, the statement, what was measured."""
    verdict = "held" if claim.held else "not held"
    notes = [tag("span", esc(verdict), class_="verdict")]
    if not claim.quick and size == "quick":
        notes.append(tag("span", "full size only", class_="full-only"))
    return tag(
        "li",
        " ".join(notes),
        " ",
        esc(claim.statement),
        tag("span", f" — measured: {esc(claim.measured)}", class_="measured"),
        class_="held" if claim.held else "not-held",
    )


def claims_list(result: Result) -> str:
    items = [claim_item(c, result.size) for c in result.claims]
    return tag("h3", "Claims") + tag("ul", *items, class_="claims")


def numbers_table(numbers: Mapping[str, Any]) -> str:
    if not numbers:
        return ""
    rows = [
        tag("tr", tag("td", tag("code", esc(k))), tag("td", esc(format_value(v)), class_="num"))
        for k, v in numbers.items()
    ]
    head = tag("tr", tag("th", "number"), tag("th", "value"))
    return tag("h3", "Numbers") + tag("table", tag("thead", head), tag("tbody", *rows))


def table_html(table: Table) -> str:
    head = tag("tr", *(tag("th", esc(c)) for c in table.columns))
    rows = [tag("tr", *(tag("td", esc(format_value(c))) for c in row)) for row in table.rows]
    return tag("table", tag("caption", esc(table.title)), tag("thead", head), tag("tbody", *rows))


def figure_paths(result: Result, name: str, *, top: str) -> tuple[str, str]:
    """The relative paths of a figure's PNG and SVG copies in the site."""
    folder = f"{top}figures/{result.experiment}"
    return f"{folder}/{name}.png", f"{folder}/{name}.svg"


def figure_html(result: Result, name: str, caption: str) -> str:
    """The PNG, linked to its SVG, with its caption."""
    png, svg = figure_paths(result, name, top="../")
    image = tag("a", f'<img src="{esc(png)}" alt="{esc(caption or name)}">', href=svg)
    caption_html = tag("figcaption", esc(caption), " ", tag("a", "(SVG)", href=svg))
    return tag("figure", image, caption_html)


def run_facts(result: Result) -> str:
    """How the result was made: size, seed, parameters, run time, nnlab version."""
    params = ", ".join(f"{k}={format_value(v)}" for k, v in result.params.items())
    facts = [
        ("size", esc(result.size)),
        ("seed", esc(result.seed)),
        ("parameters", tag("code", esc(params))),
        ("run time", f"{result.seconds:.1f} s"),
        ("nnlab version", esc(result.nnlab_version)),
        ("source digest", tag("code", esc(result.source_digest[:12]))),
    ]
    return tag("h3", "Run") + definition_list(facts)


def copy_figures(result: Result, out: Path) -> None:
    """Copy the result's PNG and SVG files into the site."""
    folder = out / "figures" / result.experiment
    folder.mkdir(parents=True, exist_ok=True)
    for fig in result.figures:
        for kind in ("png", "svg"):
            shutil.copyfile(result.image(fig.name, kind), folder / f"{fig.name}.{kind}")


def write_site(lab: Lab, out: Path) -> Path:
    """Write the site into ``out`` (created if needed; files of the same names are
    overwritten) and return its ``index.html``."""
    out = Path(out)
    (out / "questions").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(STYLESHEET, out / "style.css")
    for result in lab.results.values():
        if result is not None:
            copy_figures(result, out)
    for q in lab.questions:
        (out / "questions" / f"{q.id}.html").write_text(question_page(lab, q), encoding="utf-8")
    index = out / "index.html"
    index.write_text(index_page(lab), encoding="utf-8")
    return index


# Markdown --------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|#])")


def md(text: str) -> str:
    """``text`` with Markdown's special characters escaped."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def markdown_question(lab: Lab, question: Question) -> list[str]:
    """A question's bullet: the question, its id and status, the one-line answer (or what
    it needs), then one sub-bullet per claim that did not hold."""
    answer = lab.one_line_answer(question)
    if answer is not None:
        tail = md(answer)
    elif question.status == "planned":
        tail = f"needs {md(question.needs)}" if question.needs else "planned"
    else:
        tail = "not run yet"
    lines = [f"- **{md(question.question)}** (`{question.id}`, {question.status}): {tail}"]
    for exp in lab.answering(question):
        result = lab.results.get(exp.name)
        for claim in result.claims if result is not None else ():
            if not claim.held:
                lines.append(
                    f"  - claim not held ({exp.name}): {md(claim.statement)} "
                    f"(measured: {md(claim.measured)})"
                )
    return lines


def markdown_summary(lab: Lab) -> str:
    """The whole summary: grouped, each question with its one-line measured answer."""
    counts = coverage(lab.questions)
    lines = [
        "# The lab: measured answers",
        "",
        f"<!-- Made by `nnlab lab report --markdown` from the results of size {lab.size}, "
        f"seed {lab.seed}; edit the experiments, not this file. -->",
        "",
        "Every question of the catalog (`experiments/lab/catalog.toml`) with the first "
        "sentence of its measured answer; `nnlab lab report` makes the full report (numbers, "
        "tables, figures, claims, source).",
        "",
        f"{coverage_line(lab.questions)}.",
    ]
    for group, questions in lab.by_group().items():
        answered, total = counts[group]
        lines += ["", f"## {group} ({answered} of {total} answered)", ""]
        for q in questions:
            lines += markdown_question(lab, q)
    return "\n".join(lines) + "\n"
