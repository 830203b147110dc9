"""The lab's vocabulary: an experiment, the run it records, and the result it leaves.

An experiment is a function that trains or measures something with nnlab and records
what it saw on a :class:`Run`::

    @experiment("dead-relus", answers=["relu-sigmoid-tanh"],
                quick=dict(width=32, steps=50), full=dict(width=256, steps=2000))
    def dead_relus(run: Run, width: int, steps: int) -> None:
        \"\"\"How many ReLU units die at a large learning rate?\"\"\"
        ...
        run.number("dead_fraction", dead)
        run.claim("a tenth of the units die at lr 1", held=dead >= 0.1, measured=f"{dead:.2f}")
        run.answer(f"At lr 1, {dead:.0%} of the units never fire again.")

``answers`` names the catalog questions it answers; ``quick`` (a few seconds on two cores,
run by the tests) and ``full`` (the published numbers) are the keyword arguments of the
two sizes. A claim is a named check of what the answer asserts, judged on the
measurement: held or not held, never tuned until it holds. ``quick=False`` on a claim
says that the quick size is too small to show it; the tests then report it rather than
assert it.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "REGISTRY",
    "SIZES",
    "Claim",
    "Experiment",
    "Run",
    "Table",
    "experiment",
]

SIZES: tuple[str, ...] = ("quick", "full")


@dataclass(frozen=True)
class Claim:
    """What an answer asserts, checked on the measurement.

    ``measured`` is the evidence in words and numbers ("ratio 3.2e-05"); ``quick`` is
    False where the claim is only expected to show at the full size.
    """

    statement: str
    held: bool
    measured: str
    quick: bool = True


@dataclass(frozen=True)
class Table:
    """A titled table of measured values, one tuple per row."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its name, the questions it answers, its two sizes."""

    name: str
    function: Callable[..., None]
    answers: tuple[str, ...]
    sizes: dict[str, dict[str, Any]]

    @property
    def title(self) -> str:
        """The first line of the function's docstring: the question it measures."""
        doc = inspect.getdoc(self.function) or self.name
        return doc.strip().splitlines()[0]

    @property
    def module(self) -> str:
        return self.function.__module__

    def source_file(self) -> Path:
        return Path(inspect.getsourcefile(self.function) or "")

    def source(self) -> str:
        """The experiment's function, as its source reads."""
        return inspect.getsource(self.function)

    def source_digest(self) -> str:
        """SHA-256 of the whole module that defines it, followed by the experiment modules
        it imports (in name order, recursively): a change anywhere in them (a helper, a
        constant) invalidates cached results."""
        digest = hashlib.sha256(self.source_file().read_bytes())
        for path in imported_experiment_files(self.source_file()):
            digest.update(path.read_bytes())
        return digest.hexdigest()


def imported_experiment_files(path: Path) -> list[Path]:
    """The files of the ``experiments`` modules that ``path`` imports, directly or through
    one another, in name order; the lab's own framework (``experiments.lab``) is not
    included."""
    package = path.parent
    found: set[Path] = set()
    todo = [path]
    while todo:
        tree = ast.parse(todo.pop().read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                parts = name.split(".")
                if len(parts) == 2 and parts[0] == "experiments" and parts[1] != "lab":
                    dep = package / f"{parts[1]}.py"
                    if dep.is_file() and dep != path and dep not in found:
                        found.add(dep)
                        todo.append(dep)
    return sorted(found)


#: Every experiment, by name, in the order its module registered it.
REGISTRY: dict[str, Experiment] = {}


def experiment(
    name: str,
    *,
    answers: Iterable[str],
    quick: dict[str, Any],
    full: dict[str, Any],
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Register ``function(run, **size)`` as the experiment ``name``."""

    def register(function: Callable[..., None]) -> Callable[..., None]:
        if name in REGISTRY and REGISTRY[name].function.__module__ != function.__module__:
            raise ValueError(
                f"experiment {name!r} is defined twice: in {REGISTRY[name].module} "
                f"and in {function.__module__}"
            )
        if not inspect.getdoc(function):
            raise ValueError(f"experiment {name!r} needs a docstring: its first line is its title")
        for size, kwargs in (("quick", quick), ("full", full)):
            try:
                inspect.signature(function).bind(None, **kwargs)
            except TypeError as exc:
                raise TypeError(f"experiment {name!r}, size {size!r}: {exc}") from None
        REGISTRY[name] = Experiment(name, function, tuple(answers), {"quick": quick, "full": full})
        return function

    return register


@dataclass
class FigureRecord:
    name: str
    caption: str
    figure: Figure


@dataclass
class Run:
    """What one run of an experiment records: numbers, tables, figures, claims, answer.

    ``seed`` seeds everything the experiment draws: :meth:`rng` for NumPy, and the
    runner calls ``nnlab.manual_seed(seed)`` before the experiment starts.
    """

    experiment: str
    size: str
    seed: int
    numbers: dict[str, float | int | str] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    figures: list[FigureRecord] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    answer_text: str = ""

    def rng(self, stream: int = 0) -> np.random.Generator:
        """A NumPy generator for this run's seed; different ``stream`` values give
        independent streams (data, noise, ...) that do not shift when one is used more."""
        return np.random.default_rng([self.seed, stream])

    def seeds(self, n: int) -> list[int]:
        """``n`` seeds for repeated trials, derived from this run's seed."""
        return [self.seed * 1000 + i for i in range(n)]

    def number(self, name: str, value: float | int | str) -> float | int | str:
        """Record one measured value under ``name`` (and return it)."""
        if name in self.numbers:
            raise ValueError(f"{self.experiment}: number {name!r} recorded twice")
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = str(value)  # JSON has no NaN or Infinity; the text keeps the fact
        self.numbers[name] = value
        return value

    def table(self, title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
        """Record a table; cells are kept as given (numbers are formatted by the report)."""
        rows = tuple(tuple(_plain(c) for c in row) for row in rows)
        for i, row in enumerate(rows):
            if len(row) != len(columns):
                raise ValueError(
                    f"{self.experiment}: table {title!r} row {i} has {len(row)} cells, "
                    f"expected {len(columns)}"
                )
        t = Table(title, tuple(columns), rows)
        self.tables.append(t)
        return t

    def figure(
        self, name: str, caption: str, *, width: float = 6.4, height: float = 4.0
    ) -> Figure:
        """A new matplotlib figure the runner saves as ``name.png`` and ``name.svg``."""
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"{self.experiment}: figure name {name!r} must be a plain word")
        if any(f.name == name for f in self.figures):
            raise ValueError(f"{self.experiment}: figure {name!r} made twice")
        fig = Figure(figsize=(width, height), layout="constrained")
        self.figures.append(FigureRecord(name, caption, fig))
        return fig

    def claim(self, statement: str, held: bool, measured: str, *, quick: bool = True) -> bool:
        """Record whether ``statement`` held on this measurement (and return it)."""
        c = Claim(statement, bool(held), measured, quick)
        self.claims.append(c)
        return c.held

    def answer(self, text: str) -> None:
        """The answer, written from the numbers this run measured."""
        self.answer_text = text.strip()


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
