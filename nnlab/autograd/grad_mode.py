"""Switching gradient recording on and off.

Every differentiable op asks :func:`is_grad_enabled` before it records itself in
the graph. Inside ``no_grad()`` nothing is recorded, so evaluation and weight
updates cost no memory for a graph nobody will backpropagate through.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar

__all__ = [
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "inference_mode",
    "is_inference_mode_enabled",
]  # fmt: skip

F = TypeVar("F", bound=Callable[..., Any])


class _GradState(threading.local):
    enabled: bool = True
    inference: bool = False


_state = _GradState()


def is_grad_enabled() -> bool:
    """Return True when new ops are recorded for backpropagation."""
    return _state.enabled


class _GradModeContext:
    """A context manager that is also a decorator, with or without parentheses, as in
    PyTorch: ``with no_grad():``, ``@no_grad()`` and ``@no_grad``."""

    _target: bool

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        if func is None or isinstance(func, bool):
            return self
        if not callable(func):
            raise TypeError(f"{cls.__name__}() takes no arguments (got {func!r})")
        return self(func)

    def __init__(self, func: Callable[..., Any] | None = None) -> None:
        pass

    def __enter__(self) -> None:
        self._previous = _state.enabled
        _state.enabled = self._target

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._previous

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Context manager and decorator that disables gradient recording.

    Example:
        >>> import nnlab
        >>> x = nnlab.ones(3, requires_grad=True)
        >>> with nnlab.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    _target = False


class inference_mode(_GradModeContext):
    """``torch.inference_mode``: no graph is recorded inside it, as in ``no_grad``.

    nnlab has no separate kind of inference tensor, so the two are the same here; with
    ``mode=False`` the gradient mode is left as it is.

    Example:
        >>> import nnlab
        >>> with nnlab.inference_mode():
        ...     nnlab.is_grad_enabled(), nnlab.is_inference_mode_enabled()
        (False, True)
    """

    _target = False
    mode = True  # the bare decorator (@inference_mode) is built before __init__ runs

    def __init__(self, mode: Any = True) -> None:
        self.mode = mode if isinstance(mode, bool) else True

    def __enter__(self) -> None:
        self._previous = _state.enabled, _state.inference
        if self.mode:
            _state.enabled, _state.inference = False, True

    def __exit__(self, *exc: object) -> None:
        _state.enabled, _state.inference = self._previous

    def __call__(self, func: F) -> F:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()``."""
    return _state.inference


class enable_grad(_GradModeContext):
    """Context manager and decorator that re-enables gradient recording."""

    _target = True


class set_grad_enabled:
    """Set gradient recording on or off, as a call, a context manager or a decorator.

    Example:
        >>> import nnlab
        >>> with nnlab.set_grad_enabled(False):
        ...     nnlab.is_grad_enabled()
        False
        >>> nnlab.is_grad_enabled()
        True
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = _state.enabled
        _state.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        _state.enabled = self._previous

    def __call__(self, func: F) -> F:
        # As a decorator it applies to calls of ``func`` only, so undo the switch made above.
        _state.enabled = self._previous
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
