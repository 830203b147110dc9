"""``torch.backends.cudnn``: not available in nnlab. The flags scripts set before training
are accepted and kept; nnlab's CPU results are deterministic whatever they say."""

from __future__ import annotations

__all__ = ["is_available", "enabled", "benchmark", "deterministic", "allow_tf32"]

enabled = True
benchmark = False
deterministic = False
allow_tf32 = True


def is_available() -> bool:
    return False
