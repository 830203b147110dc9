"""What ``nnlab tune`` writes in the study folder: ``trials.csv``, ``best.toml`` (the best
trial's whole config, ready for ``nnlab train``) and Optuna's matplotlib plots (the
optimisation history, the parameter importances, the parallel coordinates), and the table
of trials it prints."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import warnings
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState
from rich.table import Table

from nnlab.config import RunConfig
from nnlab.io import atomic_write_bytes
from nnlab.tune.space import SearchSpace

__all__ = ["trial_rows", "write_trials_csv", "best_config", "to_toml", "write_best_config",
           "write_plots", "trials_table"]  # fmt: skip


def _atomic_write(path: Path, text: str) -> None:
    """Write through a temporary file, so that a reader (or a second command writing the
    same report) never sees half a file."""
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def _note(trial: optuna.trial.FrozenTrial) -> str:
    """Why a trial ended as it did, where the state alone does not say: a pruned trial
    whose loss diverged, a trial started beyond the budget."""
    if "diverged" in trial.user_attrs:
        return f"diverged: {trial.user_attrs['diverged']}"
    if "surplus" in trial.user_attrs:
        return "beyond the study's number of trials"
    return ""


def trial_rows(study: optuna.Study, space: SearchSpace) -> list[dict[str, Any]]:
    """One row per trial: number, state, value, duration in seconds, run folder, and the
    values of the searched keys (the config's values; empty where a condition left one
    out)."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        duration = t.duration.total_seconds() if t.duration is not None else None
        params = space.decode(t.params)
        rows.append({
            "number": t.number, "state": t.state.name, "value": t.value,
            "duration_s": None if duration is None else round(duration, 3),
            "run_dir": t.user_attrs.get("run_dir", ""),
            "note": _note(t),
            **{key: params.get(key) for key in space.params},
        })  # fmt: skip
    return rows


def write_trials_csv(rows: list[dict[str, Any]], space: SearchSpace, path: Path) -> Path:
    """``trials.csv``: :func:`trial_rows`, list values (layer sizes) as JSON text."""
    columns = ["number", "state", "value", "duration_s", "note", "run_dir", *space.params]
    lines = [columns]
    for row in rows:
        cells = [row[c] for c in columns]
        lines.append(
            ["" if c is None else json.dumps(c) if isinstance(c, list) else c for c in cells]
        )
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(lines)
    _atomic_write(path, buffer.getvalue())
    return path


def best_config(study: optuna.Study, base: RunConfig, space: SearchSpace) -> RunConfig:
    """The best trial's config: the base config with its values and without ``[tune]``."""
    best = study.best_trial
    return space.apply(base, space.decode(best.params), f"trial {best.number}'s config")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else json.dumps(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value} has no TOML form in a run config")
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value if v is not None) + "]"
    if isinstance(value, dict):
        items = [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None]
        return "{ " + ", ".join(items) + " }" if items else "{}"
    raise TypeError(f"{type(value).__name__} has no TOML form")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def to_toml(data: dict[str, Any]) -> str:
    """A config dict as TOML text: keys whose value is None are left out (None is every
    such setting's default), tables become ``[section]`` and lists of tables
    ``[[section]]`` (their own tables inline)."""
    lines: list[str] = []

    def table(prefix: str, d: dict[str, Any]) -> None:
        plain = {
            k: v
            for k, v in d.items()
            if v is not None and not isinstance(v, dict) and not _is_table_list(v)
        }
        nested = {k: v for k, v in d.items() if isinstance(v, dict) and v}
        if prefix and (plain or not nested):
            lines.extend(["", f"[{prefix}]"])
        lines.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in plain.items())
        for k, v in nested.items():
            table(f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k), v)
        for k, items in d.items():
            if _is_table_list(items):
                name = f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k)
                for item in items:
                    lines.extend(["", f"[[{name}]]"])
                    lines.extend(f"{_toml_key(ik)} = {_toml_value(iv)}"
                                 for ik, iv in item.items() if iv is not None)  # fmt: skip

    table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"


def write_best_config(study: optuna.Study, base: RunConfig, space: SearchSpace,
                      path: Path, metric: str) -> Path:  # fmt: skip
    """``best.toml``: the best trial's whole config, for ``nnlab train best.toml``."""
    best = study.best_trial
    cfg = best_config(study, base, space)
    header = (
        f"# The best trial of study {study.study_name!r}: trial {best.number}, {metric} = "
        f"{best.value:.6g}.\n# Train it with: nnlab train {path.name}\n"
    )
    _atomic_write(path, header + to_toml(cfg.model_dump(exclude={"tune"})))
    return path


def write_plots(study: optuna.Study, folder: Path, seed: int) -> dict[str, str]:
    """Optuna's matplotlib plots as PNG files: ``history.png`` (each trial's value and the
    best so far), ``importances.png`` (fANOVA, seeded; needs two searched parameters and
    two complete trials), ``parallel_coordinate.png`` (needs two complete trials).
    Returns what was written, or why a plot was skipped, by name."""
    from optuna.visualization import matplotlib as ov  # lazy: imports matplotlib

    import nnlab.analysis.plots as plots  # lazy: selects matplotlib's Agg backend

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    n_params = len({k for t in complete for k in t.params})
    out: dict[str, str] = {}
    makers: dict[str, Any] = {"history": lambda: ov.plot_optimization_history(study)}
    if len(complete) >= 2:
        makers["parallel_coordinate"] = lambda: ov.plot_parallel_coordinate(study)
    else:
        out["parallel_coordinate"] = "skipped: a parallel-coordinate plot needs 2 complete trials"
    if n_params >= 2 and len(complete) >= 2:
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
        makers["importances"] = lambda: ov.plot_param_importances(study, evaluator=evaluator)
    else:
        out["importances"] = (
            f"skipped: parameter importances need at least 2 searched parameters and 2 "
            f"complete trials (have {n_params} and {len(complete)})"
        )
    if not complete:
        names = ("history", "importances", "parallel_coordinate")
        return dict.fromkeys(names, "skipped: no complete trial")
    for name, make in makers.items():
        with warnings.catch_warnings():  # optuna.visualization.matplotlib is "experimental"
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # one value on an axis (a single epoch, equal values): matplotlib widens it itself
            warnings.filterwarnings("ignore", "Attempting to set identical", UserWarning)
            try:
                axes = make()
            except (ValueError, RuntimeError) as exc:  # e.g. importances of constant values
                out[name] = f"skipped: {exc}"
                continue
        figure = axes.flat[0].figure if hasattr(axes, "flat") else axes.figure
        out[name] = str(plots.save_figure(figure, folder / f"{name}.png"))
    return out


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, list) else str(value)


def trials_table(rows: list[dict[str, Any]], space: SearchSpace, metric: str,
                 best: FrozenTrial | None) -> Table:  # fmt: skip
    """The trials as a rich table, the best one in bold."""
    table = Table(title=f"trials ({metric})")
    notes = any(row["note"] for row in rows)
    columns = ("number", "state", metric, "seconds", *space.params, *(("note",) if notes else ()))
    for column in columns:
        # fold, not "…": a cut number or state would read as another one
        justify = "left" if column in ("state", "note") else "right"
        table.add_column(column, justify=justify, overflow="fold")
    for row in rows:
        cells = [row["number"], row["state"], row["value"], row["duration_s"],
                 *(row[k] for k in space.params), *((row["note"],) if notes else ())]  # fmt: skip
        style = "bold" if best is not None and row["number"] == best.number else None
        table.add_row(*map(_cell, cells), style=style)
    return table
