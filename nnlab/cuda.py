"""``torch.cuda`` as seen from a CPU-only library: no device is ever available.

Scripts written for PyTorch ask ``torch.cuda.is_available()`` and seed the GPUs; these
answers let them run unchanged on nnlab's CPU path. Anything that needs a real GPU
(``current_device``, ``get_device_name``) raises a clear error.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = [
    "is_available", "device_count", "manual_seed", "manual_seed_all", "synchronize",
    "empty_cache", "is_initialized", "current_device", "get_device_name",
]  # fmt: skip

_WHY = "nnlab runs on the CPU only (it computes with NumPy); there is no CUDA device"


def is_available() -> bool:
    """False: nnlab never computes on a GPU."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Nothing to seed: there are no CUDA generators (``nnlab.manual_seed`` seeds the CPU)."""


def manual_seed_all(seed: int) -> None:
    """Nothing to seed: there are no CUDA generators."""


def synchronize(device: Any = None) -> None:
    """Nothing to wait for: every op has finished when it returns."""


def empty_cache() -> None:
    """Nothing to free: there is no GPU memory cache."""


def current_device() -> NoReturn:
    raise RuntimeError(f"cuda.current_device(): {_WHY}")


def get_device_name(device: Any = None) -> NoReturn:
    raise RuntimeError(f"cuda.get_device_name(): {_WHY}")
