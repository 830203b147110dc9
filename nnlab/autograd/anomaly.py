"""Anomaly detection: stop at the first op whose forward or backward makes NaN or Inf.

Inside ``detect_anomaly()`` every op checks its outputs and, during backward, the
gradients it returns. The error names the op and, for backward, shows where in your
code the op was created, so a NaN is traced to its source instead of surfacing steps
later as a NaN loss. It costs a full scan of every array, so it is for debugging only.

The training loop turns it on with ``Trainer(..., detect_anomaly=True)``, and a config
run with ``training.detect_anomaly = true``.
"""

from __future__ import annotations

import functools
import os
import threading
import traceback
from typing import Any

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "AnomalyError"]


class AnomalyError(RuntimeError):
    """Raised inside ``detect_anomaly()`` when an op produces NaN or Inf."""


class _AnomalyState(threading.local):
    enabled: bool = False
    #: True while the engine runs backward passes: ops computed there (a custom
    #: Function's backward on tensors) leave the report to the engine's check of the
    #: gradient, which names the node and where it was created, as torch does.
    in_backward: bool = False


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
    a = value if isinstance(value, np.ndarray) else getattr(value, "array", value)
    if isinstance(a, (np.generic, float, complex)):  # a 0-d result (a mean, a loss)
        a = np.asarray(a)
    if not isinstance(a, np.ndarray) or a.dtype.kind not in "fc":
        return None
    if np.isfinite(a).all():
        return None
    return "NaN" if np.isnan(a).any() else "Inf"


#: The nnlab package folder: frames from files below it are nnlab's own.
PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
#: Frames of these parts of nnlab are how every op runs, not where it was called from.
_MACHINERY = tuple(
    os.path.join(PACKAGE_DIR, p) for p in ("autograd" + os.sep, "ops" + os.sep, "tensor.py")
)


def caller_frames(
    frames: list[traceback.FrameSummary], skip: str | tuple[str, ...] = PACKAGE_DIR
) -> list[traceback.FrameSummary]:
    """``frames`` without the innermost ones whose file starts with ``skip`` (nnlab's own,
    by default), so a report ends at the line that called into them; all of them when
    every frame is skipped."""
    end = len(frames)
    while end > 0 and os.path.abspath(frames[end - 1].filename).startswith(skip):
        end -= 1
    return frames[:end] if end else frames


def _call_site() -> str:
    """The innermost frames above the op machinery: the layer or line that called the op."""
    frames = caller_frames(traceback.extract_stack(), _MACHINERY)
    return "".join(traceback.format_list(frames[-3:])).rstrip()


def check_forward(op: str, out: Any) -> None:
    for o in out if isinstance(out, tuple) else (out,):
        what = _bad(o)
        # Inside a backward pass the engine's check names the node whose gradient it is,
        # and where that node was created, as torch's anomaly mode does.
        if what and not _state.in_backward:
            raise AnomalyError(
                f"{op} forward produced {what} in its output. It was called here:\n{_call_site()}"
            )


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
