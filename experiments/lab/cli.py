"""``nnlab lab``: the lab's questions, experiments and report from the command line.

    nnlab lab list --group activations
    nnlab lab run linear-stack --size quick
    nnlab lab run why-non-linearity          # the experiments that answer this question
    nnlab lab run --group activations
    nnlab lab coverage
    nnlab lab report                         # the site: open lab-report/index.html
    nnlab lab report --markdown              # the summary docs/lab.md

A plugin of the ``nnlab`` command, found through the entry point group ``nnlab.commands``
(nnlab itself never imports the experiments). Loading this module stays light, since
``nnlab --help`` loads it: the commands import the runner, the experiments and the
report when they run. Results are kept under ``--results DIR`` (or
``$NNLAB_LAB_RESULTS``; by default the repository's ``lab-results/``), one folder per
experiment, size and seed, and reused while the experiment's module is unchanged.

Problems a user can fix (an unknown id, group, size or format) are one ``error:`` line
with exit code 2; an experiment that crashes prints its traceback, the others still run,
and the exit code is 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.padding import Padding
from rich.text import Text

from experiments.lab.catalog import GROUPS, Question, coverage, load_catalog

if TYPE_CHECKING:
    from experiments.lab.core import Experiment
    from experiments.lab.runner import Result

app = typer.Typer(
    help="The lab: every catalog question answered by a seeded experiment that measures it.",
    no_args_is_help=True,
)
console = Console()

SIZES = ("quick", "full")

_RESULTS_HELP = "results folder (default: the repository's lab-results/)"
ResultsOption = Annotated[
    Path | None, typer.Option("--results", envvar="NNLAB_LAB_RESULTS", help=_RESULTS_HELP)
]
GroupOption = Annotated[str | None, typer.Option("--group", help="one group of questions")]
SeedOption = Annotated[int, typer.Option(help="the run's seed (0 is the published one)")]


def _fail(message: str, code: int = 2) -> NoReturn:
    # Text, not markup: messages may hold brackets.
    console.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    raise typer.Exit(code)


def _catalog() -> list[Question]:
    try:
        return load_catalog()
    except (ValueError, TypeError) as exc:
        _fail(str(exc))


def _check_group(group: str | None) -> None:
    if group is not None and group not in GROUPS:
        _fail(f"unknown group {group!r}; the groups are {', '.join(GROUPS)}")


def _check_size(size: str) -> None:
    if size not in SIZES:
        _fail(f"unknown size {size!r}; the sizes are {' and '.join(SIZES)}")


def _check_seed(seed: int) -> None:
    if seed < 0:
        _fail(f"--seed must be 0 or more, got {seed}")


def _results_root(results: Path | None) -> Path:
    from experiments.lab.runner import RESULTS  # lazy: fast --help

    return RESULTS if results is None else results


def _experiments() -> dict[str, Experiment]:
    from experiments.lab.runner import all_experiments  # lazy: fast --help

    return dict(all_experiments())


def _answered_by(question: Question, experiments: dict[str, Experiment]) -> list[str]:
    return [name for name, e in experiments.items() if question.id in e.answers]


@app.command("list")
def list_questions(
    group: GroupOption = None,
    format_: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """List the catalog's questions: group, id, status, the experiments answering each."""
    _check_group(group)
    if format_ not in ("text", "json"):
        _fail(f"unknown format {format_!r}; the formats are text and json")
    questions = [q for q in _catalog() if group is None or q.group == group]
    experiments = _experiments()
    if format_ == "json":
        rows = [
            {
                "id": q.id,
                "group": q.group,
                "question": q.question,
                "status": q.status,
                "needs": q.needs,
                "seeds": list(q.seeds),
                "experiments": _answered_by(q, experiments),
            }
            for q in questions
        ]
        typer.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    for name in dict.fromkeys(q.group for q in questions):
        console.print(Text(name, style="bold"))
        for q in (q for q in questions if q.group == name):
            answering = ", ".join(_answered_by(q, experiments)) or "no experiment yet"
            console.print(Text.assemble("  ", (q.id, "cyan"), f"  {q.status}  ", answering))
            console.print(Padding(Text(q.question, style="dim"), (0, 0, 0, 4)))


@app.command("coverage")
def show_coverage(group: GroupOption = None) -> None:
    """How many questions are answered, per group; the last line says answered N of M."""
    _check_group(group)
    counts = coverage(q for q in _catalog() if group is None or q.group == group)
    width = max(map(len, counts), default=0)
    for name, (answered, total) in counts.items():
        typer.echo(f"{name:<{width}}  {answered:>3} of {total:<3} answered")
    answered = sum(a for a, _ in counts.values())
    total = sum(t for _, t in counts.values())
    typer.echo(f"answered {answered} of {total}")


def _select(
    ids: list[str], group: str | None, every: bool, experiments: dict[str, Experiment]
) -> list[str]:
    """The experiment names that IDS, --group or --all pick, each once, in the order
    given."""
    if sum((bool(ids), group is not None, every)) != 1:
        _fail("give experiment names or question ids, or --group G, or --all (one of them)")
    if every:
        return list(experiments)
    questions = {q.id: q for q in _catalog()}
    if group is not None:
        in_group = [q for q in questions.values() if q.group == group]
        names = [n for q in in_group for n in _answered_by(q, experiments)]
        if not names:
            _fail(f"no experiment answers a question of group {group!r} yet")
        return list(dict.fromkeys(names))
    return list(dict.fromkeys(n for i in ids for n in _resolve(i, questions, experiments)))


def _resolve(
    name: str, questions: dict[str, Question], experiments: dict[str, Experiment]
) -> list[str]:
    """The experiment ``name``, or the experiments that answer the question ``name``."""
    if name in experiments:
        return [name]
    if name not in questions:
        _fail(f"{name!r} is neither an experiment nor a question id (see `nnlab lab list`)")
    answering = _answered_by(questions[name], experiments)
    if not answering:
        _fail(f"no experiment answers question {name!r} yet")
    return answering


def _run_all(names: list[str], size: str, seed: int, root: Path, force: bool) -> list[str]:
    """Run the experiments ``names`` whose results are not kept (or all with ``force``)
    under a progress bar, printing one line per experiment; an experiment that crashes
    prints its traceback and the others still run. Returns the names of those that
    crashed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from experiments.lab.runner import cached_result, run_experiment  # lazy: fast --help

    experiments = _experiments()
    todo = []
    for name in names:
        cached = None if force else cached_result(experiments[name], size, seed, root)
        if cached is None:
            todo.append(name)
        else:
            _print_result(cached, "cached")
    failed = []
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task(f"{size}, seed {seed}", total=len(todo))
        for name in todo:
            progress.update(task, description=f"{name} ({size}, seed {seed})")
            try:
                result = run_experiment(name, size, seed, root=root, force=True)
            except Exception:
                console.print_exception(max_frames=8)
                failed.append(name)
            else:
                _print_result(result, "ran")
            progress.advance(task)
        progress.update(task, description=f"{size}, seed {seed}")
    return failed


def _fail_if_crashed(failed: list[str]) -> None:
    if failed:
        _fail(f"{len(failed)} experiment(s) crashed: {', '.join(failed)}", code=1)


def _print_result(result: Result, how: str) -> None:
    """One line per experiment (claims held, run time), then each claim that did not
    hold."""
    held = sum(c.held for c in result.claims)
    mark = "[green]✓[/]" if held == len(result.claims) else "[yellow]![/]"
    console.print(
        f"{mark} [bold]{result.experiment}[/] {how}: {held} of {len(result.claims)} claims "
        f"held, {result.seconds:.1f} s",
        highlight=False,
    )
    for claim in result.claims:
        if not claim.held:
            note = " (full size only)" if not claim.quick and result.size == "quick" else ""
            line = f"    not held{note}: {claim.statement} (measured: {claim.measured})"
            console.print(Text(line), soft_wrap=True)


_RUN_HELP = (
    "Run experiments and keep their results.\n\n"
    "IDS are experiment names or question ids: a question id runs every experiment that "
    "answers it. Or pick --group G (the experiments answering its questions) or --all. "
    "A result already kept for the same experiment source, size and seed is reused "
    "(--force runs it again)."
)


@app.command("run", help=_RUN_HELP)
def run(
    ids: Annotated[
        list[str] | None,
        typer.Argument(help="experiment names or question ids", show_default=False),
    ] = None,
    group: GroupOption = None,
    every: Annotated[bool, typer.Option("--all", help="every experiment")] = False,
    size: Annotated[
        str, typer.Option(help="quick (seconds) or full (the published size)")
    ] = "full",
    seed: SeedOption = 0,
    force: Annotated[bool, typer.Option("--force", help="run even when a result is kept")] = False,
    results: ResultsOption = None,
) -> None:
    _check_size(size)
    _check_seed(seed)
    _check_group(group)
    names = _select(ids or [], group, every, _experiments())
    _fail_if_crashed(_run_all(names, size, seed, _results_root(results), force))


_REPORT_HELP = (
    "Write the lab's report: a static site (open OUT/index.html; it works offline) or, "
    "with --markdown, the summary OUT/lab.md.\n\n"
    "The report shows the kept results of one size and seed (full, 0 by default); an "
    "experiment without one is shown as not run yet, unless --run runs it first."
)


@app.command("report", help=_REPORT_HELP)
def report(
    out: Annotated[
        Path | None,
        typer.Option(help="output folder (default: lab-report, or docs with --markdown)"),
    ] = None,
    markdown: Annotated[bool, typer.Option("--markdown", help="write OUT/lab.md")] = False,
    run_missing: Annotated[
        bool, typer.Option("--run", help="first run the experiments without a result")
    ] = False,
    size: Annotated[str, typer.Option(help="the results of this size: quick or full")] = "full",
    seed: SeedOption = 0,
    results: ResultsOption = None,
) -> None:
    from experiments.lab.report import load_lab, markdown_summary, write_site  # lazy

    _check_size(size)
    _check_seed(seed)
    root = _results_root(results)
    questions = _catalog()
    crashed = _run_all(list(_experiments()), size, seed, root, False) if run_missing else []
    lab = load_lab(questions, size, seed, root)
    missing = [name for name, r in lab.results.items() if r is None]
    if markdown:
        target = (out or Path("docs")) / "lab.md"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(markdown_summary(lab), encoding="utf-8")
    else:
        target = write_site(lab, out or Path("lab-report"))
    console.print(f"wrote {target}", highlight=False)
    if missing:
        console.print(
            Text(
                f"{len(missing)} of {len(lab.results)} experiments not run yet at size {size}, "
                f"seed {seed}: {', '.join(missing)} "
                "(run them with `nnlab lab run`, or give --run)"
            ),
            soft_wrap=True,
        )
    _fail_if_crashed(crashed)
