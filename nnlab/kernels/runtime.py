"""How kernels are compiled and launched: numba, its on-disk cache and its threads.

**Compilation.** :class:`Kernel` wraps a factory ``make(loop)`` that returns the kernel's
Python function, with its element loop written ``for i in loop(n)``. On its first call the
kernel is compiled twice: with ``loop = range`` (one thread) and with ``loop = numba.prange``
under ``parallel=True`` (numba's worker threads). A factory rather than one function
compiled with two sets of flags, because numba's cache keys machine code by the function's
bytecode and closure values only: two builds of one function would share cache entries.
Kernels use NumPy's floating-point error model (``x / 0`` gives ``inf`` or ``nan``, as the
references do) and never ``fastmath``, so they round exactly as their references.

**Cache.** Compiled code is kept on disk (``cache=True``) and loaded by later processes
instead of compiling again; numba recompiles when the source file changes. It is written
beside the source, in ``nnlab/kernels/__pycache__/`` (a checkout or an editable install);
where that folder is read-only (a system-wide install), in numba's user-wide cache
(``$NUMBA_CACHE_DIR``, else ``~/.cache/numba``); where neither is writable, the kernel is
compiled in every process, with a warning.

**Threads.** Kernels on arrays of at least :data:`PARALLEL_MIN_SIZE` elements run on
:func:`get_num_threads` threads: the number :func:`nnlab.set_num_threads` sets for the
matrix products too (at first use, OpenBLAS's current count), capped by numba's pool size
(``NUMBA_NUM_THREADS``, the number of CPUs). Kernels and matrix products run one after
another, never at once, so one count for both never oversubscribes the cores.
numba's threading layer is ``workqueue`` unless ``NUMBA_THREADING_LAYER`` says otherwise:
its workers sleep on a condition variable as soon as a kernel ends, whereas an OpenMP
runtime's threads spin for a while after each parallel region (as OpenBLAS's already do
after each matrix product, see PERFORMANCE.md) and would take the cores from the next
matrix product; it needs no OpenMP or TBB library, and a forked child (a data-loader
worker) builds a fresh pool. The price is a slower launch (condition-variable hand-offs
with every worker, twice per kernel), hence :data:`PARALLEL_MIN_SIZE`. ``workqueue``
cannot run two parallel kernels at once (it aborts the process): a kernel launched while
another thread's parallel kernel runs takes the one-thread build instead.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

__all__ = ["PARALLEL_MIN_SIZE", "Kernel", "get_num_threads", "load_numba", "set_num_threads"]

#: Smallest array (in elements) a kernel splits across threads. Waking numba's workqueue
#: workers and joining them costs about 0.1 ms on this kind of machine (a 2-core virtual
#: machine, idle), as much as one thread takes for ReLU on 400k float32 values in cache:
#: measured on the idle machine, one thread was faster up to about 2.4 M elements for
#: ReLU (ReLU 41 µs against 149 µs on 393k; Adam over 535,818 parameters 142 µs against
#: 206 µs), and two threads from about 1.5 M elements for LayerNorm's rows and 3 M for
#: ReLU, once the arrays outgrow the caches.
PARALLEL_MIN_SIZE = 1 << 21

_numba: ModuleType | None = None
_pool: int | None = None  # threads numba can use, once numba is loaded
_num_threads: int | None = None  # as set by nnlab.set_num_threads; None: not set yet
_parallel_launch = threading.Lock()  # workqueue runs one parallel kernel at a time


def load_numba() -> ModuleType:
    """Import numba (once) and choose its threading layer before any kernel runs."""
    global _numba
    if _numba is None:
        import numba

        if "NUMBA_THREADING_LAYER" not in os.environ:
            numba.config.THREADING_LAYER = "workqueue"
        if "NUMBA_SLP_VECTORIZE" not in os.environ:
            # LLVM's straight-line vectoriser (off by default in numba) widens the kernels'
            # interleaved partial sums: 2-5x on the normalisation rows, the same bits
            # (no reassociation without fast-math). The disk cache does not key on it.
            numba.config.SLP_VECTORIZE = 1
        _numba = numba
    return _numba


def _pool_size() -> int:
    """Threads numba can use: its pool (``NUMBA_NUM_THREADS``) within this process's CPUs."""
    global _pool
    if _pool is None:
        affinity = getattr(os, "sched_getaffinity", None)
        cpus = len(affinity(0)) if affinity is not None else os.cpu_count() or 1
        _pool = max(1, min(load_numba().config.NUMBA_NUM_THREADS, cpus))
    return _pool


def set_num_threads(num_threads: int) -> None:
    """Run parallel kernels on ``num_threads`` threads (at most numba's pool size); called by
    :func:`nnlab.set_num_threads`, which sets the matrix products' threads too."""
    global _num_threads
    _num_threads = num_threads


def get_num_threads() -> int:
    """The number of threads parallel kernels run on."""
    global _num_threads
    if _num_threads is None:
        from nnlab.threads import get_num_threads as blas_threads

        _num_threads = blas_threads()
    return min(_num_threads, _pool_size())


class Kernel:
    """A numba kernel built from ``make(loop)`` (see the module docstring), compiled at its
    first call; ``kernel(size, *args)`` runs it on ``size`` elements' worth of arrays."""

    def __init__(self, make: Callable[[Any], Callable[..., None]]) -> None:
        self._make = make
        self.__name__ = make.__name__
        self.__doc__ = make.__doc__
        self._serial: Callable[..., None] | None = None
        self._parallel: Callable[..., None] | None = None

    def __call__(self, size: int, *args: Any) -> None:
        if self._serial is None:
            self._build()
        if size >= PARALLEL_MIN_SIZE and get_num_threads() > 1:
            if _parallel_launch.acquire(blocking=False):
                try:
                    # numba's thread count is per calling thread: set it for this launch.
                    _numba.set_num_threads(get_num_threads())
                    self._parallel(*args)
                    return
                finally:
                    _parallel_launch.release()
        self._serial(*args)

    def _build(self) -> None:
        numba = load_numba()
        self._parallel = _compile(numba, self._make(numba.prange), parallel=True)
        self._serial = _compile(numba, self._make(range), parallel=False)


def _compile(numba: ModuleType, function: Callable[..., None], parallel: bool) -> Any:
    options = {"parallel": parallel, "error_model": "numpy", "nogil": True}
    try:
        return numba.njit(cache=True, **options)(function)
    except RuntimeError as exc:  # numba found no writable cache folder
        warnings.warn(
            f"nnlab.kernels: {function.__qualname__} is compiled without an on-disk cache "
            f"(it will be compiled again in every process): {exc}",
            RuntimeWarning,
            stacklevel=3,
        )
        return numba.njit(cache=False, **options)(function)
