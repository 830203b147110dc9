"""How many threads nnlab computes with: ``set_num_threads`` / ``get_num_threads``.

nnlab's threads are those of the BLAS library behind NumPy's matrix products (OpenBLAS
in NumPy's wheels) and those of its compiled kernels (:mod:`nnlab.kernels`, numba);
everything else runs on one thread. threadpoolctl finds the BLAS library at run time,
whichever it is, and sets its pool size; the kernels take the same count. Both never run
at once, so one count for both does not oversubscribe the cores.
"""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

from nnlab.kernels import runtime as kernel_runtime

__all__ = ["get_num_threads", "set_num_threads", "get_num_interop_threads",
           "set_num_interop_threads"]  # fmt: skip

_controller: ThreadpoolController | None = None


def _blas() -> ThreadpoolController:
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller.select(user_api="blas")


def set_num_threads(num_threads: int) -> None:
    """Use ``num_threads`` threads for matrix products and compiled kernels from now on
    (``torch.set_num_threads``).

    Example:
        >>> import nnlab
        >>> before = nnlab.get_num_threads()
        >>> nnlab.set_num_threads(1); nnlab.get_num_threads()
        1
        >>> nnlab.set_num_threads(before)
    """
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"set_num_threads: expected a positive int, got {num_threads!r}")
    _blas().limit(limits=num_threads)
    kernel_runtime.set_num_threads(num_threads)


def get_num_threads() -> int:
    """The number of threads matrix products use (1 where no BLAS pool was found)."""
    pools = _blas().info()
    return max((pool["num_threads"] for pool in pools), default=1)


def set_num_interop_threads(num_threads: int) -> None:
    """Accepted for torch compatibility: nnlab runs ops one after another, never in parallel
    with each other, so only the value 1 means anything; others are checked and kept."""
    global _interop
    if isinstance(num_threads, bool) or not isinstance(num_threads, int) or num_threads < 1:
        raise ValueError(f"set_num_interop_threads: expected a positive int, got {num_threads!r}")
    _interop = num_threads


def get_num_interop_threads() -> int:
    return _interop


_interop = 1
