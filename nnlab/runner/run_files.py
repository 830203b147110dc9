"""A run folder's integrity: SHA-256 digests of its files, and its one source of truth.

``digests.json`` lists the SHA-256 of every file a run writes and later reads back
(``config.json``, ``config.toml``, ``preprocessing.json``, ``vocab.json``,
``model.safetensors``) and of its records (``run.json``, ``metrics.json``, the history).
It is written atomically, last: once when training starts, for the files that exist then,
and again when the run is finished. Every load checks the files it reads against it, so a
flipped bit or an edited file is an error naming the file, never a model that quietly
differs from the one trained. Checkpoints carry their own digests (arrays and metadata,
see :mod:`nnlab.train.checkpoint`), since they change every epoch.

The run's configuration is ``config.json``: the validated settings it was trained with.
``config.toml`` is the config as given, and the file a user edits; on every load it is
compared with ``config.json``. Only ``training.epochs`` may differ (``--resume`` then
trains up to the new count); any other edit changes what the weights mean and is refused,
naming each changed key. Settings overridden on the command line when the run was trained
(``--seed``, ``--epochs``) are recorded in ``digests.json``, so they do not count as edits.

A run folder written before digests existed still loads, with an
:class:`UnverifiedRunWarning`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from nnlab.config import ConfigError, RunConfig, load_config, parse_config
from nnlab.io import CheckpointError, atomic_write_bytes

__all__ = [
    "DIGESTS", "COVERED", "EDITABLE", "RunFileError", "UnverifiedRunWarning", "write_digests",
    "read_manifest", "read_run_file", "verify_run_file", "load_run_config", "config_changes",
    "is_finished",
]  # fmt: skip

DIGESTS = "digests.json"
_FORMAT = "nnlab-run-digests-1"
#: The files of a run folder that ``digests.json`` covers (those that exist).
COVERED = (
    "config.json", "config.toml", "preprocessing.json", "vocab.json", "model.safetensors",
    "run.json", "metrics.json", "history.json", "history.csv",
)  # fmt: skip
#: Settings of ``config.toml`` that may change after training (read by ``--resume``).
EDITABLE = ("training.epochs",)


class RunFileError(CheckpointError):
    """A run folder's file is missing, unreadable, or fails its digest."""


class UnverifiedRunWarning(UserWarning):
    """A run folder without ``digests.json`` (written by an older nnlab) was loaded."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_values(cfg: RunConfig) -> dict[str, Any]:
    """The config as plain JSON values (tuples become lists), as config.json holds it."""
    return json.loads(cfg.model_dump_json())


def _differences(a: Any, b: Any, key: str = "") -> dict[str, tuple[Any, Any]]:
    """``{dotted key: (a's value, b's value)}`` where the nested dicts ``a`` and ``b`` differ;
    lists and values that are not dicts on both sides are compared whole."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: dict[str, tuple[Any, Any]] = {}
        for k in [*a, *(k for k in b if k not in a)]:
            out.update(_differences(a.get(k), b.get(k), f"{key}.{k}" if key else k))
        return out
    return {} if a == b else {key: (a, b)}


def config_changes(given: RunConfig, used: RunConfig) -> dict[str, dict[str, Any]]:
    """How the config as given (config.toml) differs from the one a run used
    (config.json): ``{key: {"config.toml": value, "config.json": value}}``."""
    return {
        k: {"config.toml": t, "config.json": j}
        for k, (t, j) in _differences(_json_values(given), _json_values(used)).items()
    }


def write_digests(run_dir: Path, overrides: dict[str, Any] | None = None) -> None:
    """Write ``digests.json`` for the covered files that exist, atomically. ``overrides``
    (see :func:`config_changes`) records where config.json differs from config.toml on
    purpose; left out, the ones already recorded are kept."""
    run_dir = Path(run_dir)
    if overrides is None:
        old = read_manifest(run_dir, warn=False) or {}
        overrides = old.get("config_overrides", {})
    files = {name: _sha256(run_dir / name) for name in COVERED if (run_dir / name).is_file()}
    text = json.dumps({"format": _FORMAT, "files": files, "config_overrides": overrides}, indent=1)
    atomic_write_bytes(run_dir / DIGESTS, lambda tmp: Path(tmp).write_text(text))


def read_manifest(run_dir: Path, warn: bool = True) -> dict[str, Any] | None:
    """The run's ``digests.json``, or None (with an :class:`UnverifiedRunWarning` when
    ``warn``) for a run folder written before digests existed."""
    path = Path(run_dir) / DIGESTS
    if not path.is_file():
        if warn:
            warnings.warn(
                f"{run_dir} has no {DIGESTS} (it was written by an older nnlab): its files "
                "are loaded unverified; resume or retrain the run to add digests",
                UnverifiedRunWarning,
                stacklevel=3,
            )
        return None
    try:
        manifest = json.loads(path.read_bytes())
        if manifest.get("format") != _FORMAT or not isinstance(manifest.get("files"), dict):
            raise ValueError(f"format {manifest.get('format')!r}, expected {_FORMAT!r}")
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise RunFileError(
            f"{path} is unreadable (corrupted?): {exc}; the run's files cannot be verified"
        ) from None
    return manifest


def read_run_file(run_dir: Path, name: str, manifest: dict[str, Any] | None) -> bytes:
    """The bytes of ``run_dir/name``, checked against ``manifest`` (unchecked when None)."""
    path = Path(run_dir) / name
    if not path.is_file():
        raise RunFileError(f"{path} does not exist; the run folder is incomplete")
    data = path.read_bytes()
    if manifest is None:
        return data
    expected = manifest["files"].get(name)
    if expected is None:
        raise RunFileError(
            f"{path} is not listed in {Path(run_dir) / DIGESTS}: the run did not finish "
            "writing it (interrupted?); resume the run with `nnlab train --resume "
            f"{run_dir}` to finish it"
        )
    if hashlib.sha256(data).hexdigest() != expected:
        raise RunFileError(
            f"{path} fails its SHA-256 check in {DIGESTS}: the file was changed or corrupted "
            "after the run wrote it (or the run was interrupted while writing it: resume it). "
            "Restore the file, or train the run again"
        )
    return data


def verify_run_file(run_dir: Path, name: str, manifest: dict[str, Any] | None) -> Path:
    """Check ``run_dir/name`` against ``manifest``; returns its path."""
    read_run_file(run_dir, name, manifest)
    return Path(run_dir) / name


def is_finished(run_dir: Path, manifest: dict[str, Any] | None) -> bool:
    """Whether a run wrote all its final files (listed in, and matching, ``manifest``;
    present, for an old run folder without one)."""
    for name in ("model.safetensors", "run.json", "metrics.json"):
        path = Path(run_dir) / name
        if not path.is_file():
            return False
        if manifest is not None and manifest["files"].get(name) != _sha256(path):
            return False
    return True


def _read_json(run_dir: Path, name: str, manifest: dict[str, Any] | None) -> Any:
    data = read_run_file(run_dir, name, manifest)
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{Path(run_dir) / name} is not valid JSON: {exc}") from None


def load_run_config(
    run_dir: Path, manifest: dict[str, Any] | None
) -> tuple[RunConfig, dict[str, Any]]:
    """The config a run was trained with (``config.json``, verified), and the allowed edits
    made to ``config.toml`` since (``{key: new value}``, keys from :data:`EDITABLE`).

    Raises :class:`~nnlab.config.ConfigError` naming every other key that config.toml
    now sets differently."""
    run_dir = Path(run_dir)
    cfg = parse_config(_read_json(run_dir, "config.json", manifest), str(run_dir / "config.json"))
    toml_path = run_dir / "config.toml"
    if not toml_path.is_file():
        if manifest is not None and "config.toml" in manifest["files"]:
            raise RunFileError(f"{toml_path} is listed in {DIGESTS} but was deleted")
        return cfg, {}
    if manifest is not None and manifest["files"].get("config.toml") == _sha256(toml_path):
        return cfg, {}  # unchanged since the run wrote it
    given = load_config(toml_path)
    recorded = (manifest or {}).get("config_overrides", {})
    edits = {}
    for key, values in config_changes(given, cfg).items():
        if key in recorded and recorded[key]["config.toml"] == values["config.toml"]:
            continue  # overridden on the command line when the run was trained
        edits[key] = values
    refused = {k: v for k, v in edits.items() if k not in EDITABLE}
    if refused:
        listed = "; ".join(
            f"{k} (trained with {v['config.json']!r}, config.toml now {v['config.toml']!r})"
            for k, v in refused.items()
        )
        raise ConfigError(
            f"{toml_path} was edited after the run was trained: {listed}. These settings "
            "are fixed once a run is trained (its weights and checkpoints were made with "
            f"them); only {', '.join(EDITABLE)} may change, to resume for longer. Undo the "
            "edit, or train a new run from the edited config"
        )
    return cfg, {k: v["config.toml"] for k, v in edits.items()}
