"""``torch.compile`` and ``torch.compiler``: nnlab has no graph compiler.

``compile(model)`` returns the model itself (or the function), unchanged, so scripts that
compile before training run as they are, at nnlab's normal speed. Options are accepted
and ignored, except ``backend``/``mode`` values that are not strings or callables.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["compile", "is_compiling", "disable", "reset"]


def compile(model: Any = None, *, fullgraph: bool = False, dynamic: Any = None,
            backend: Any = "inductor", mode: Any = None, options: Any = None,
            disable: bool = False) -> Any:  # fmt: skip
    """Return ``model`` unchanged; without a model, a decorator that does the same.

    Example:
        >>> import nnlab
        >>> layer = nnlab.nn.Linear(2, 2)
        >>> nnlab.compile(layer) is layer
        True
    """
    if not (isinstance(backend, str) or callable(backend)):
        raise TypeError(f"compile: backend must be a string or a callable, got {backend!r}")
    if mode is not None and not isinstance(mode, str):
        raise TypeError(f"compile: mode must be a string or None, got {mode!r}")
    if model is None:
        return lambda fn: fn
    if not callable(model):
        raise TypeError(f"compile: expected a Module or a function, got {type(model).__name__}")
    return model


def is_compiling() -> bool:
    """False: nothing is ever being compiled."""
    return False


def disable(fn: Callable[..., Any] | None = None, recursive: bool = True) -> Any:
    """A no-op decorator, as there is no compiler to keep away from ``fn``."""
    return fn if fn is not None else (lambda f: f)


def reset() -> None:
    """Nothing to reset."""
