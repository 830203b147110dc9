"""Anomaly detection: stop at the first op whose forward or backward makes NaN or Inf.

Inside ``detect_anomaly()`` every op checks its outputs and, during backward, the
gradients it returns. The error names the op and, for backward, shows where in your
code the op was created, so a NaN is traced to its source instead of surfacing steps
later as a NaN loss. It costs a full scan of every array, so it is for debugging only.
"""

from __future__ import annotations

import functools
import threading
import traceback
from typing import Any

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "AnomalyError"]


class AnomalyError(RuntimeError):
    """Raised inside ``detect_anomaly()`` when an op produces NaN or Inf."""


class _AnomalyState(threading.local):
    enabled: bool = False


_state = _AnomalyState()


def is_anomaly_enabled() -> bool:
    return _state.enabled


class detect_anomaly:
    """Context manager (and decorator) that turns on NaN/Inf checks for every op.

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([-1.0], requires_grad=True)
        >>> with nnlab.autograd.detect_anomaly():
        ...     y = nnlab.sqrt(x)  # doctest: +IGNORE_EXCEPTION_DETAIL
        Traceback (most recent call last):
        AnomalyError: Sqrt forward produced NaN ...
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._previous = _state.enabled
        _state.enabled = self.check_nan

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._previous

    def __call__(self, func: Any) -> Any:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly(self.check_nan):
                return func(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off (as a call, or as a context manager)."""

    def __init__(self, mode: bool) -> None:
        self.check_nan = bool(mode)
        self._previous = _state.enabled
        _state.enabled = self.check_nan

    def __enter__(self) -> None:
        pass

    def __call__(self, func: Any) -> Any:
        # As a decorator it applies to calls of ``func`` only, so undo the switch made above.
        _state.enabled = self._previous
        return super().__call__(func)


def _bad(value: Any) -> str | None:
    a = value if isinstance(value, np.ndarray) else getattr(value, "data", value)
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fc":
        return None
    if np.isfinite(a).all():
        return None
    return "NaN" if np.isnan(a).any() else "Inf"


def check_forward(op: str, out: Any) -> None:
    for o in out if isinstance(out, tuple) else (out,):
        what = _bad(o)
        if what:
            raise AnomalyError(f"{op} forward produced {what} in its output.")


def check_backward(
    op: str, index: int, grad: Any, trace: list[traceback.FrameSummary] | None
) -> None:
    what = _bad(grad)
    if what:
        if trace:
            where = "".join(traceback.format_list(trace[-4:]))
        else:
            where = "  (not recorded: the op was created outside detect_anomaly())\n"
        raise AnomalyError(
            f"{op} backward returned {what} in the gradient of its input {index}.\n"
            f"The {op} op was created here:\n{where}"
        )
