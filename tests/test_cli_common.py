"""What the commands share: an ``error:`` paragraph on stderr (once under ``mpirun``: rank
0 says it), and the refusal of ``mpirun`` by the commands that run in one process."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from nnlab.cli import app

runner = CliRunner()

ONE_PROCESS = [
    ["doctor", "x.toml"], ["evaluate", "run"], ["predict", "run", "x.csv"], ["export", "run"],
    ["serve", "run"], ["rl", "x.toml"], ["rl", "evaluate", "run"],
]  # fmt: skip


@pytest.mark.parametrize("args", ONE_PROCESS, ids=lambda a: " ".join(a[:2]))
def test_one_process_commands_refuse_mpirun(monkeypatch, args):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "0")
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "runs in one process: start it without mpirun (it was started as one of 2)" in (
        result.stderr
    )
    assert result.stdout == ""


def test_other_ranks_keep_quiet_about_a_shared_error(monkeypatch, tmp_path):
    missing = str(tmp_path / "missing.toml")
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setenv("PMI_RANK", "1")
    result = runner.invoke(app, ["train", missing])
    assert result.exit_code == 2 and result.output == ""
    monkeypatch.setenv("PMI_RANK", "0")
    result = runner.invoke(app, ["train", missing])
    assert (
        result.exit_code == 2
        and result.stderr.startswith("error:")
        and "does not exist" in (result.stderr)
    )
