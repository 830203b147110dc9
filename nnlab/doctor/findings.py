"""What the doctor reports: one :class:`Finding` per symptom it measured, with the numbers
that show it and the usual fix."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SEVERITIES", "Finding", "exit_code", "worst"]

#: From harmless to fatal. ``info`` records a measurement that looks healthy (or could not
#: decide, e.g. a range test whose loss never fell); ``warning``
#: a likely cause of slow or poor learning; ``error`` a fault that stops learning (or
#: makes the validation numbers meaningless) on its own.
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Finding:
    """One symptom found by one check.

    Attributes:
        check: the check that measured it (``"lr_range"``, ``"gradients"``, ...).
        name: the symptom, stable across runs (``"lr_too_high"``, ``"no_gradient"``, ...);
            a check that found nothing wrong reports ``"ok"`` with severity ``info``
            (and one that could not decide an info finding that says why).
        severity: one of :data:`SEVERITIES`.
        summary: one sentence saying what was measured.
        evidence: the measured numbers behind it, by name.
        fix: the likely fix (empty for a healthy measurement).
    """

    check: str
    name: str
    severity: str
    summary: str
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"Finding.severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self) -> dict[str, Any]:
        """The finding as JSON-ready values."""
        return asdict(self)


def worst(findings: Iterable[Finding]) -> str:
    """The highest severity among ``findings`` (``"info"`` when there are none)."""
    return max((f.severity for f in findings), key=SEVERITIES.index, default="info")


def exit_code(findings: Iterable[Finding]) -> int:
    """The doctor's exit status: 1 when any finding is an error, else 0."""
    return int(worst(findings) == "error")
