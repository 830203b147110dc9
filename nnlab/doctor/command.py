"""``nnlab doctor CONFIG_OR_RUN``: diagnose the model a TOML config (or a finished run
folder's config) describes, before (or after) a training that did not learn.

The model, loss, optimizer and data splits are built exactly as ``nnlab train`` builds
them (seeded by the config's seed), and :func:`~nnlab.doctor.diagnose.diagnose` runs every
check on them; a run folder is checked against its digests and diagnosed from the config
it was trained with (a fresh model: the checks are about the setup, not the kept
weights). The schedule and regularizers of the config play no part.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.table import Table
from rich.text import Text

import nnlab
from nnlab.config import RunConfig, load_config
from nnlab.doctor.diagnose import diagnose
from nnlab.doctor.findings import Finding, exit_code
from nnlab.models.registry import model_entry
from nnlab.runner import build_model, load_run, make_splits
from nnlab.runner import builders as B

__all__ = ["DoctorError", "doctor_command", "findings_table"]

_TASKS = ("classification", "binary", "regression")
_STYLE = {"error": "bold red", "warning": "yellow", "info": "green"}


class DoctorError(ValueError):
    """A config or run the doctor cannot examine, or a report it cannot write."""


def _check_supported(cfg: RunConfig, source: str) -> None:
    entry = model_entry(cfg.model.type)
    if entry.own_fit or entry.loop is not None:
        raise DoctorError(
            f"{source}: a {cfg.model.type!r} model trains with its own loop, not by a loss "
            "and an optimizer; the doctor examines models trained by the general loop"
        )
    if cfg.task not in _TASKS:
        raise DoctorError(
            f"{source}: task {cfg.task!r} is not examined; the doctor supports {', '.join(_TASKS)}"
        )
    if cfg.data_input() in ("tokens", "token_pairs"):
        raise DoctorError(
            f"{source}: the model reads token ids; the doctor examines numeric and image inputs"
        )


def _diagnose_config(cfg: RunConfig, source: str) -> list[Finding]:
    """Build the config's splits, model, loss and optimizer as a run would and diagnose."""
    _check_supported(cfg, source)
    nnlab.manual_seed(cfg.seed)
    s = make_splits(cfg)
    if isinstance(s.x_train, tuple):
        raise DoctorError(f"{source}: a model with several inputs is not examined")
    model = build_model(cfg, tuple(s.x_train.shape[1:]), B.output_size(cfg, s.n_classes))
    loss_fn = B.build_loss(cfg, s.y_train, s.n_classes)
    optimizer = B.build_optimizer(cfg, model)

    def targets(y: np.ndarray) -> np.ndarray:
        """Class indices as they are; values as a run's loader gives them, (N,) float32."""
        return y if cfg.task == "classification" else np.asarray(y, np.float32).reshape(-1)

    val = (s.x_val, targets(s.y_val)) if s.x_val is not None else None
    return diagnose(
        model,
        loss_fn,
        (s.x_train, targets(s.y_train)),
        val,
        optimizer=optimizer,
        test_data=(s.x_test, targets(s.y_test)),
        batch_size=cfg.data.batch_size,
        seed=cfg.seed,
    )


def doctor_command(target: Path, json_path: Path | None = None) -> list[Finding]:
    """Diagnose the config file or run folder ``target``; write the findings as JSON to
    ``json_path`` when given, and return them (most severe first).

    Raises:
        ConfigError: a missing file or an invalid config (from :func:`load_config`).
        FileNotFoundError, CheckpointError: a folder that is not a finished, intact run.
        DoctorError: a model or task the doctor does not examine, or an unwritable
            ``json_path``.
    """
    target = Path(target)
    if target.is_dir():
        cfg, _, _ = load_run(target)  # checks the run's files against its digests
    else:
        cfg = load_config(target)
    findings = _diagnose_config(cfg, str(target))
    if json_path is not None:
        report = {
            "target": str(target),
            "exit_code": exit_code(findings),
            "findings": [f.to_dict() for f in findings],
        }
        try:
            Path(json_path).write_text(json.dumps(report, indent=1))
        except OSError as exc:
            raise DoctorError(f"--json {json_path}: cannot write it ({exc.strerror})") from None
    return findings


def _evidence_text(finding: Finding) -> str:
    parts = []
    for key, value in finding.evidence.items():
        if isinstance(value, float):
            value = f"{value:.4g}"
        elif isinstance(value, list | dict):
            value = json.dumps(value)
        parts.append(f"{key}={value}")
    return "\n".join(parts)


def findings_table(findings: list[Finding], title: str = "doctor's findings") -> Table:
    """The findings as a rich table: severity, check, and the finding with its evidence
    (one ``key=value`` per line, so that no number is broken across lines) and its likely
    fix."""
    table = Table(title=title)
    table.add_column("severity")
    table.add_column("check")
    table.add_column("finding, evidence and likely fix", overflow="fold")
    for f in findings:
        details = Text(f"{f.name}: {f.summary}")
        if f.evidence:
            details.append("\n" + _evidence_text(f), style="dim")
        if f.fix:
            details.append("\nfix: ", style="bold").append(f.fix)
        table.add_row(Text(f.severity, style=_STYLE[f.severity]), Text(f.check), details)
    return table
