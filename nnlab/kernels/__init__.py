"""Compiled kernels: fused, multi-threaded loops (numba) beside their NumPy references.

Every kernel in this package has two implementations of the same formula: a NumPy
reference, written as the readable sequence of array operations, and a numba kernel that
does the same arithmetic in one pass over memory, on several threads for large arrays.
Which one runs is a single, process-wide choice:

* ``NNLAB_KERNELS=numba`` (the default when numba is installed) runs the kernels;
* ``NNLAB_KERNELS=numpy`` runs the references everywhere (to read, step through or debug
  them, and the only choice without numba).

The variable is read once, when nnlab is imported; :func:`set_backend` and the context
manager :func:`use_backend` switch later (tests run both ways with them). numba itself is
only imported when the first kernel runs, so ``import nnlab`` stays as fast as before (see
:mod:`nnlab.kernels.runtime` for compilation, the on-disk cache and threads).

Example:
    >>> import nnlab.kernels as kernels
    >>> with kernels.use_backend("numpy"):
    ...     kernels.get_backend()
    'numpy'
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

__all__ = [
    "BACKENDS", "KERNEL_DTYPES", "flat_views", "get_backend", "numba_available", "set_backend",
    "use_backend", "use_kernel",
]  # fmt: skip

#: The values ``NNLAB_KERNELS`` and :func:`set_backend` accept.
BACKENDS = ("numba", "numpy")


def numba_available() -> bool:
    """Whether numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def _check(name: str, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{source}: expected one of {', '.join(BACKENDS)}, got {name!r}")
    if name == "numba" and not numba_available():
        raise ImportError(f"{source}: the numba backend was asked for but numba is not installed")
    return name


def _backend_from_environment() -> str:
    requested = os.environ.get("NNLAB_KERNELS", "").strip().lower()
    if requested:
        return _check(requested, "NNLAB_KERNELS")
    return "numba" if numba_available() else "numpy"


_backend = _backend_from_environment()


def get_backend() -> str:
    """The backend kernels run on now: ``"numba"`` or ``"numpy"``."""
    return _backend


def set_backend(name: str) -> None:
    """Run kernels on ``name`` (``"numba"`` or ``"numpy"``) from now on, in every thread."""
    global _backend
    _backend = _check(name, "set_backend")


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run kernels on ``name`` inside the ``with`` block, then restore the previous backend."""
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        set_backend(previous)


#: The dtypes the kernels are compiled for; others (float16, integers) take the references.
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def flat_views(*arrays: object) -> list[np.ndarray] | None:
    """The arrays as 1-d views if a kernel can take them: NumPy arrays (not tensors) of at
    least one dimension, float32 or float64, all of one dtype and shape, C-contiguous; else
    None (the reference runs)."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in KERNEL_DTYPES or first.ndim == 0:
        return None
    for a in arrays:
        if (
            type(a) is not np.ndarray
            or a.dtype != first.dtype
            or a.shape != first.shape
            or not a.flags.c_contiguous
        ):
            return None
    return [a.reshape(-1) for a in arrays]  # views: the arrays are C-contiguous


def use_kernel(*arrays: object) -> list[np.ndarray] | None:
    """:func:`flat_views` when the backend is numba, else None."""
    if get_backend() != "numba":
        return None
    return flat_views(*arrays)
