"""``nnlab lab``: the plugin is found, lists and counts the catalog, runs experiments into
the results folder it is given, reports, and refuses what a user can fix in one line."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import EntryPoint

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from experiments.lab import cli as lab_cli
from experiments.lab.catalog import load_catalog
from experiments.lab.runner import all_experiments
from nnlab import cli
from nnlab.cli import app

runner = CliRunner()
CATALOG = load_catalog()


def lab(*args: str, **kwargs):
    return runner.invoke(app, ["lab", *args], **kwargs)


def test_lab_is_a_command_of_nnlab_through_its_entry_point():
    commands = get_command(app).commands
    assert "lab" in commands, (
        "no `nnlab lab`: reinstall nnlab (pip install -e .) for its entry point"
    )
    assert set(get_command(app).commands["lab"].commands) >= {"list", "run", "coverage", "report"}


def test_nnlab_help_loads_neither_the_runner_nor_the_experiments():
    code = (
        "import sys; from nnlab.cli import main; sys.argv = ['nnlab', '--help']\n"
        "try: main()\nexcept SystemExit: pass\n"
        "print(sorted(m for m in sys.modules if m.startswith('experiments.') and "
        "m not in ('experiments.lab', 'experiments.lab.cli', 'experiments.lab.catalog')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_plugin_that_fails_to_load_is_a_warning(monkeypatch, capsys):
    broken = EntryPoint("broken", "no_such_module_anywhere:app", "nnlab.commands")
    monkeypatch.setattr(cli, "entry_points", lambda group: [broken])
    host = typer.Typer()
    cli._add_plugin_commands(host)
    err = capsys.readouterr().err
    assert err.startswith("warning:") and "'broken'" in err and "ModuleNotFoundError" in err


def test_list_shows_every_question_and_filters_by_group():
    out = lab("list", "--format", "json")
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["id"] for r in rows] == [q.id for q in CATALOG]
    by_id = {r["id"]: r for r in rows}
    assert "linear-stack" in by_id["why-non-linearity"]["experiments"]
    assert set(rows[0]) == {"id", "group", "question", "status", "needs", "seeds", "experiments"}

    rnn = json.loads(lab("list", "--group", "rnn", "--format", "json").output)
    assert rnn and {r["group"] for r in rnn} == {"rnn"}
    table = lab("list", "--group", "activations")
    assert table.exit_code == 0 and "why-non-linearity" in table.output


def test_coverage_ends_with_answered_n_of_m():
    lines = lab("coverage").output.strip().splitlines()
    answered = sum(q.status == "answered" for q in CATALOG)
    assert lines[-1] == f"answered {answered} of {len(CATALOG)}"
    assert all(re.fullmatch(r"[a-z]+ +\d+ of \d+ +answered", line) for line in lines[:-1])
    group = lab("coverage", "--group", "rnn").output.strip().splitlines()
    rnn = [q for q in CATALOG if q.group == "rnn"]
    assert (
        len(group) == 2
        and group[-1].startswith("answered ")
        and group[-1].endswith(f" of {len(rnn)}")
    )


def test_run_keeps_the_result_under_the_results_folder_and_reuses_it(tmp_path):
    out = lab("run", "linear-stack", "--size", "quick", "--results", str(tmp_path))
    assert out.exit_code == 0, out.output
    assert "linear-stack ran" in out.output
    assert (tmp_path / "linear-stack" / "quick-seed0" / "result.json").is_file()
    # A question id runs the experiments that answer it; the environment names the folder.
    again = lab(
        "run", "why-non-linearity", "--size", "quick", env={"NNLAB_LAB_RESULTS": str(tmp_path)}
    )
    assert again.exit_code == 0 and "linear-stack cached" in again.output


@pytest.mark.parametrize(
    "args",
    [
        ("run", "no-such-thing", "--size", "quick"),
        ("run", "--group", "no-such-group"),
        ("run", "linear-stack", "--size", "huge"),
        ("run", "linear-stack", "--seed", "-1"),
        ("run",),
        ("run", "linear-stack", "--all"),
        ("list", "--group", "no-such-group"),
        ("list", "--format", "yaml"),
        ("coverage", "--group", "no-such-group"),
        ("report", "--size", "huge"),
    ],
)
def test_user_errors_are_one_line_with_exit_code_2(args):
    out = lab(*args)
    assert out.exit_code == 2, out.output
    assert out.output.startswith("error:") and out.output.count("\n") == 1, out.output
    assert "Traceback" not in out.output


def test_report_writes_the_site_and_the_markdown(tmp_path):
    results = tmp_path / "results"
    assert lab("run", "linear-stack", "--size", "quick", "--results", str(results)).exit_code == 0
    site, docs = tmp_path / "site", tmp_path / "docs"
    common = ("--size", "quick", "--results", str(results))
    out = lab("report", "--out", str(site), *common)
    assert out.exit_code == 0, out.output
    page = (site / "questions" / "why-non-linearity.html").read_text(encoding="utf-8")
    assert "linear-stack" in page and "accuracy.png" in page
    assert (site / "index.html").is_file() and (
        site / "figures/linear-stack/accuracy.png"
    ).is_file()

    out = lab("report", "--markdown", "--out", str(docs), *common)
    assert out.exit_code == 0, out.output
    text = (docs / "lab.md").read_text(encoding="utf-8")
    assert "(`why-non-linearity`, " in text and "answered " in text


def test_a_crashing_experiment_shows_its_traceback_and_exits_1(tmp_path, monkeypatch):
    def crash(name, *args, **kwargs):
        raise RuntimeError(f"{name} broke")

    monkeypatch.setattr("experiments.lab.runner.run_experiment", crash)
    out = lab("run", "linear-stack", "--size", "quick", "--results", str(tmp_path))
    assert out.exit_code == 1
    assert "RuntimeError: linear-stack broke" in out.output
    assert out.output.strip().splitlines()[-1] == "error: 1 experiment(s) crashed: linear-stack"


def test_report_run_first_runs_the_experiments_without_a_result(tmp_path, monkeypatch):
    # Only linear-stack counts as registered for the run (the others run in their own tests).
    only = {"linear-stack": all_experiments()["linear-stack"]}
    monkeypatch.setattr(lab_cli, "_experiments", lambda: only)
    site = tmp_path / "site"
    args = ("--run", "--size", "quick", "--results", str(tmp_path / "results"), "--out", str(site))
    out = lab("report", *args)
    assert out.exit_code == 0, out.output
    assert "linear-stack ran" in out.output
    assert "figures/linear-stack/accuracy.png" in (
        site / "questions" / "why-non-linearity.html"
    ).read_text(encoding="utf-8")
