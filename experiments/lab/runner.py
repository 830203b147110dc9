"""Running experiments: seeded, timed, saved, and read back from a checked cache.

A run's files go to ``RESULTS/<experiment>/<size>-seed<seed>/``: ``result.json`` (numbers,
tables, claims, answer, the seed, size, run time, nnlab version and the digest of the
experiment's source), one PNG and one SVG per figure, and ``digests.json`` with the
SHA-256 of each of them. A cached result is used only when every digest matches and it
was made by the same source; otherwise the experiment runs again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import pkgutil
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib
from threadpoolctl import threadpool_limits

import nnlab
from experiments.lab.core import REGISTRY, SIZES, Claim, Experiment, Run, Table

__all__ = [
    "RESULTS",
    "Result",
    "ResultError",
    "all_experiments",
    "load_result",
    "result_dir",
    "run_experiment",
]

#: Where results are kept; the full-size results at seed 0 are the published ones.
RESULTS = Path(__file__).resolve().parents[2] / "lab-results"

_EXPERIMENTS_PACKAGE = "experiments"


class ResultError(ValueError):
    """A stored result is missing, edited or corrupted."""


@dataclass(frozen=True)
class FigureFile:
    name: str
    caption: str


@dataclass(frozen=True)
class Result:
    """One finished run of an experiment, as saved and as read back."""

    experiment: str
    title: str
    answers: tuple[str, ...]
    size: str
    seed: int
    params: dict[str, Any]
    numbers: dict[str, Any]
    tables: tuple[Table, ...]
    figures: tuple[FigureFile, ...]
    claims: tuple[Claim, ...]
    answer: str
    seconds: float
    nnlab_version: str
    source_digest: str
    folder: Path

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("folder")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> Result:
        try:
            return cls(
                experiment=data["experiment"],
                title=data["title"],
                answers=tuple(data["answers"]),
                size=data["size"],
                seed=int(data["seed"]),
                params=dict(data["params"]),
                numbers=dict(data["numbers"]),
                tables=tuple(
                    Table(t["title"], tuple(t["columns"]), tuple(tuple(r) for r in t["rows"]))
                    for t in data["tables"]
                ),
                figures=tuple(FigureFile(**f) for f in data["figures"]),
                claims=tuple(Claim(**c) for c in data["claims"]),
                answer=data["answer"],
                seconds=float(data["seconds"]),
                nnlab_version=data["nnlab_version"],
                source_digest=data["source_digest"],
                folder=folder,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultError(f"{folder / 'result.json'}: not a lab result ({exc!r})") from None

    def image(self, name: str, kind: str = "png") -> Path:
        return self.folder / f"{name}.{kind}"


def all_experiments() -> dict[str, Experiment]:
    """Import every module of the experiments package (so each registers its
    experiments) and return the registry."""
    package = importlib.import_module(_EXPERIMENTS_PACKAGE)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "lab":
            module = f"{_EXPERIMENTS_PACKAGE}.{info.name}"
            try:
                importlib.import_module(module)
            except Exception as exc:
                raise ImportError(f"experiment module {module} failed to import: {exc!r}") from exc
    return REGISTRY


def result_dir(name: str, size: str, seed: int, root: Path = RESULTS) -> Path:
    return Path(root) / name / f"{size}-seed{seed}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_result(folder: Path) -> Result:
    """Read a saved result back, checking every file against ``digests.json``."""
    folder = Path(folder)
    digests_path = folder / "digests.json"
    try:
        digests = json.loads(digests_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultError(f"{digests_path}: missing; the result folder is incomplete") from None
    except json.JSONDecodeError as exc:
        raise ResultError(f"{digests_path}: not valid JSON ({exc})") from None
    for name, expected in digests.items():
        path = folder / name
        if not path.is_file():
            raise ResultError(f"{path}: listed in digests.json but missing")
        if _sha256(path) != expected:
            raise ResultError(f"{path}: contents do not match its digest (edited or corrupted)")
    if "result.json" not in digests:
        raise ResultError(f"{digests_path}: does not list result.json")
    data = json.loads((folder / "result.json").read_text(encoding="utf-8"))
    result = Result.from_json(data, folder)
    for fig in result.figures:
        for kind in ("png", "svg"):
            if f"{fig.name}.{kind}" not in digests:
                raise ResultError(f"{digests_path}: does not list {fig.name}.{kind}")
    return result


def _save(run: Run, exp: Experiment, params: dict[str, Any], seconds: float, folder: Path) -> None:
    """Write the run's files to a fresh folder, then move it over ``folder`` in one step,
    so a failed or interrupted save leaves the previous result as it was."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; a result folder is for everyone to read
    try:
        # A fixed salt for the SVG's element ids, and no date: the same figure gives the
        # same file, so a rerun that measured the same numbers changes nothing.
        with matplotlib.rc_context({"svg.hashsalt": "nnlab-lab"}):
            for fig in run.figures:
                fig.figure.savefig(staging / f"{fig.name}.png", dpi=100)
                fig.figure.savefig(staging / f"{fig.name}.svg", metadata={"Date": None})
        result = Result(
            experiment=exp.name,
            title=exp.title,
            answers=exp.answers,
            size=run.size,
            seed=run.seed,
            params=params,
            numbers=run.numbers,
            tables=tuple(run.tables),
            figures=tuple(FigureFile(f.name, f.caption) for f in run.figures),
            claims=tuple(run.claims),
            answer=run.answer_text,
            seconds=round(seconds, 3),
            nnlab_version=nnlab.__version__,
            source_digest=exp.source_digest(),
            folder=folder,
        )
        text = json.dumps(result.to_json(), indent=1, ensure_ascii=False, allow_nan=False)
        (staging / "result.json").write_text(text + "\n", encoding="utf-8")
        digests = {p.name: _sha256(p) for p in sorted(staging.iterdir())}
        (staging / "digests.json").write_text(json.dumps(digests, indent=1) + "\n")
        old = None
        if folder.exists():
            old = folder.with_name(staging.name + "-old")
            os.replace(folder, old)
        os.replace(staging, folder)
        if old is not None:
            shutil.rmtree(old)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def cached_result(exp: Experiment, size: str, seed: int, root: Path = RESULTS) -> Result | None:
    """The stored result of this experiment, size and seed, if it is intact and was made
    by the current source; otherwise None."""
    folder = result_dir(exp.name, size, seed, root)
    if not folder.is_dir():
        return None
    try:
        result = load_result(folder)
    except (ResultError, json.JSONDecodeError):
        return None
    if result.source_digest != exp.source_digest():
        return None
    return result


def run_experiment(
    name: str,
    size: str = "quick",
    seed: int = 0,
    *,
    root: Path | None = RESULTS,
    force: bool = False,
    on_start: Callable[[Experiment], Any] | None = None,
) -> Result:
    """Run the experiment ``name`` at ``size`` with ``seed`` and save its result under
    ``root`` (reusing an intact cached result unless ``force``). ``root=None`` keeps
    the result in a temporary folder."""
    # Importing every experiment module is only needed for a name not registered yet.
    experiments = REGISTRY if name in REGISTRY else all_experiments()
    if name not in experiments:
        raise KeyError(f"no experiment named {name!r}; known: {', '.join(sorted(experiments))}")
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")
    exp = experiments[name]
    if root is None:
        root = Path(tempfile.mkdtemp(prefix="nnlab-lab-"))
    if not force and (cached := cached_result(exp, size, seed, root)) is not None:
        return cached
    if on_start is not None:
        on_start(exp)
    params = dict(exp.sizes[size])
    run = Run(exp.name, size, seed)
    nnlab.manual_seed(seed)
    start = time.perf_counter()
    # One BLAS thread: the experiments multiply small matrices, for which a second thread
    # buys little, and the published numbers then do not depend on the number of cores.
    with threadpool_limits(limits=1, user_api="blas"):
        exp.function(run, **params)
    seconds = time.perf_counter() - start
    if not run.answer_text:
        raise RuntimeError(f"experiment {name!r} finished without an answer")
    if not run.claims:
        raise RuntimeError(f"experiment {name!r} finished without a claim")
    folder = result_dir(exp.name, size, seed, root)
    _save(run, exp, params, seconds, folder)
    return load_result(folder)
