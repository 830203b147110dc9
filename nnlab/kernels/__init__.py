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
    "BACKENDS", "KERNEL_DTYPES", "dense_layout", "elementwise_views", "empty_like_flat",
    "environment_problem", "flat_views", "get_backend", "numba_available", "set_backend",
    "use_backend", "use_elementwise_kernel", "use_kernel",
]  # fmt: skip

#: The values ``NNLAB_KERNELS`` and :func:`set_backend` accept.
BACKENDS = ("numba", "numpy")


def numba_available() -> bool:
    """Whether numba can be imported (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def _check(name: str, source: str, given: str | None = None) -> str:
    """``name`` if it is a backend that can run here; ``given`` is what the user wrote."""
    if name not in BACKENDS:
        shown = name if given is None else given
        raise ValueError(f"{source}: expected one of {', '.join(BACKENDS)}, got {shown!r}")
    if name == "numba" and not numba_available():
        raise ImportError(f"{source}: the numba backend was asked for but numba is not installed")
    return name


def _backend_from_environment() -> tuple[str | None, Exception | None]:
    """The backend ``NNLAB_KERNELS`` asks for (numba by default when installed), or the
    error a bad value makes: kept, not raised, so that ``import nnlab`` still works and the
    CLI can say it in one line (:func:`environment_problem`); the first kernel raises it."""
    given = os.environ.get("NNLAB_KERNELS", "")
    requested = given.strip().lower()
    if not requested:
        return ("numba" if numba_available() else "numpy"), None
    try:
        return _check(requested, "NNLAB_KERNELS", given), None
    except (ValueError, ImportError) as exc:
        return None, exc


_backend, _environment_error = _backend_from_environment()


def environment_problem() -> str | None:
    """What is wrong with ``NNLAB_KERNELS`` (None when nothing is): a bad value, or numba
    asked for but not installed."""
    return None if _environment_error is None else str(_environment_error)


def get_backend() -> str:
    """The backend kernels run on now: ``"numba"`` or ``"numpy"``. Raises the error of a bad
    ``NNLAB_KERNELS`` until :func:`set_backend` chooses one."""
    if _backend is None:
        assert _environment_error is not None
        raise type(_environment_error)(str(_environment_error))
    return _backend


def set_backend(name: str) -> None:
    """Run kernels on ``name`` (``"numba"`` or ``"numpy"``) from now on, in every thread."""
    global _backend
    _backend = _check(name, "set_backend")


@contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run kernels on ``name`` inside the ``with`` block, then restore the previous backend."""
    global _backend
    previous = _backend
    set_backend(name)
    try:
        yield
    finally:
        _backend = previous


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


def dense_layout(a: np.ndarray) -> tuple[int, ...] | None:
    """The order of a's axes in memory, outermost first (axes of size 1 left out), when a's
    elements fill one gap-free block of memory with positive strides: C-contiguous, or a
    permutation of the axes of a C-contiguous array, such as the (N, C, H, W) view of a
    channel-first (C, N, H, W) buffer that a convolution returns. None when a has gaps.

    Example:
        >>> dense_layout(np.empty((2, 3, 4)).swapaxes(0, 1))
        (1, 0, 2)
        >>> dense_layout(np.empty((2, 3, 4))[:, :, ::2]) is None
        True
    """
    if a.flags.c_contiguous:
        return tuple(i for i in range(a.ndim) if a.shape[i] > 1)
    axes = sorted((i for i in range(a.ndim) if a.shape[i] > 1), key=lambda i: -a.strides[i])
    expected = a.itemsize
    for i in reversed(axes):
        if a.strides[i] != expected:
            return None
        expected *= a.shape[i]
    return tuple(axes)


def elementwise_views(*arrays: object, masks: tuple = ()) -> list[np.ndarray] | None:
    """For kernels that treat every element alike (no rows, no neighbours): the arrays, then
    the boolean ``masks``, as 1-d views in memory order, when all are NumPy arrays (not
    tensors) of at least one dimension and of one shape, the arrays of one dtype (float32
    or float64), all laid out alike (:func:`dense_layout`); else None. Element i of one
    view then sits at the same index of the tensor as element i of every other, whatever
    the axis order, and outputs made by :func:`empty_like_flat` share that layout."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in KERNEL_DTYPES or first.ndim == 0:
        return None
    if not masks and len(arrays) == 1 and first.flags.c_contiguous:  # the common case, fast
        return [first.reshape(-1)]
    layout = dense_layout(first)
    if layout is None:
        return None
    for a in arrays[1:] + tuple(masks):
        if (
            type(a) is not np.ndarray
            or a.dtype != (np.bool_ if any(a is m for m in masks) else first.dtype)
            or a.shape != first.shape
            or dense_layout(a) != layout
        ):
            return None
    return [a.ravel("K") for a in arrays + tuple(masks)]  # views: each array is dense


def use_elementwise_kernel(*arrays: object, masks: tuple = ()) -> list[np.ndarray] | None:
    """:func:`elementwise_views` when the backend is numba, else None."""
    if get_backend() != "numba":
        return None
    return elementwise_views(*arrays, masks=masks)


def empty_like_flat(a: np.ndarray, dtype: object = None) -> tuple[np.ndarray, np.ndarray]:
    """A new array shaped and laid out as the dense array ``a`` (``np.empty_like`` keeps the
    axis order), and its 1-d view in memory order, for a kernel to write."""
    out = np.empty_like(a, dtype=dtype)
    return out, out.ravel("K")
