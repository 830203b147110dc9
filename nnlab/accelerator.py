"""``torch.accelerator``: which accelerator, if any, computes. For nnlab: none, the CPU."""

from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count"]


def is_available() -> bool:
    """False: nnlab computes on the CPU only."""
    return False


def current_accelerator(check_available: bool = False) -> None:
    """None: there is no accelerator (torch returns None on a CPU-only machine too)."""
    return None


def device_count() -> int:
    return 0
