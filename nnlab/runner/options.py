"""A config's free-form options (``model.params``, ``data.params``, optimizer and schedule
options...) checked against the signature of what they configure, so that a wrong key is
a :class:`~nnlab.config.ConfigError` naming the key and the allowed ones, raised before a
run folder exists."""

from __future__ import annotations

import inspect
from typing import Any

from nnlab.config import ConfigError

__all__ = ["check_options", "construct", "given_options"]


def check_options(
    kind: str, name: str, fn: Any, options: dict[str, Any], skip: tuple[str, ...] = ()
) -> None:
    """Raise ConfigError for an option ``fn`` does not take, listing the ones it does."""
    accepted = set(inspect.signature(fn).parameters) - {"self", "params", "optimizer"}
    accepted -= set(skip)
    for key in options:
        if key not in accepted:
            allowed = ", ".join(sorted(accepted)) or "none"
            raise ConfigError(f"{kind}.{key} is not an option of {name}; allowed: {allowed}")


def construct(kind: str, name: str, cls: Any, args: tuple, options: dict[str, Any]) -> Any:
    """``cls(*args, **options)`` with the options checked; its ValueError becomes a
    ConfigError naming the section."""
    check_options(kind, name, cls, options)
    try:
        return cls(*args, **options)
    except ValueError as exc:  # e.g. "Invalid momentum value: -1"
        raise ConfigError(f"{kind} ({name}): {exc}") from None


def given_options(section: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    """The options the config actually gives (None means "the class's default")."""
    values = {k: getattr(section, k) for k in section.model_fields_set if k not in skip}
    return {k: v for k, v in values.items() if v is not None}
