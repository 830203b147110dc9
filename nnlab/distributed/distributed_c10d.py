"""The process group and its collectives, on MPI (``torch.distributed``'s names).

A *process group* is the K processes (ranks ``0 … K-1``) of one ``mpirun -n K`` launch.
A *collective* is an operation every rank calls in the same order, with buffers of the
same shape: ``all_reduce`` leaves ``op(x_0, …, x_{K-1})`` on every rank, ``broadcast``
copies rank ``src``'s buffer to all, ``all_gather`` leaves the list ``[x_0, …, x_{K-1}]``
everywhere, ``barrier`` waits until all ranks arrive. A rank that skips a collective the
others make waits forever, which is why the training loop makes every decision that
leads to one (stopping, the batch count) identical on all ranks.

MPI is reached through mpi4py, imported only by :func:`init_process_group`, so nnlab
imports without it. Tensors are reduced in place through their NumPy buffers, without a
copy when the array is contiguous.
"""

from __future__ import annotations

import os
import sys
from enum import Enum
from importlib.util import find_spec
from typing import Any

import numpy as np

from nnlab.tensor import Tensor

__all__ = [
    "ReduceOp", "Work", "is_available", "is_initialized", "launch_world_size", "launch_rank",
    "init_process_group",
    "destroy_process_group", "get_rank", "get_world_size", "is_main_process", "barrier",
    "all_reduce", "broadcast", "all_gather", "all_gather_object", "broadcast_object_list",
]  # fmt: skip

#: The environment variables MPI launchers set: MPICH/Hydra (``PMI_*``), Open MPI, MVAPICH.
_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")
_RANK_VARIABLES = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "MV2_COMM_WORLD_RANK")


class ReduceOp(Enum):
    """How :func:`all_reduce` combines the ranks' values (``AVG``: the sum divided by K)."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class _Group:
    """The initialised world: mpi4py's module and its ``COMM_WORLD``."""

    def __init__(self, mpi: Any) -> None:
        self.mpi = mpi
        self.comm = mpi.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()


_group: _Group | None = None


def is_available() -> bool:
    """True when mpi4py (and so an MPI library) is installed."""
    return find_spec("mpi4py") is not None


def is_initialized() -> bool:
    """True between :func:`init_process_group` and :func:`destroy_process_group`."""
    return _group is not None


def launch_world_size() -> int:
    """The number of processes when this one was started by ``mpirun``/``mpiexec``
    (read from the launcher's environment variables), else 0."""
    for name in _SIZE_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 0


def launch_rank() -> int:
    """This process's rank in its ``mpirun``/``mpiexec`` launch (from the launcher's
    environment variables), 0 outside one: known before the process group is joined."""
    for name in _RANK_VARIABLES:
        value = os.environ.get(name)
        if value and value.isdigit():
            return int(value)
    return 0


def init_process_group(
    backend: str = "mpi", world_size: int = -1, rank: int = -1, **unused: Any
) -> None:
    """Join the process group of this MPI launch (``backend="mpi"``, the only one).

    ``world_size`` and ``rank`` come from MPI; given, they must agree with it (as a
    check that the launch is the intended one). Calling it twice raises, as in torch.
    """
    global _group
    if backend != "mpi":
        raise ValueError(
            f"init_process_group: backend must be 'mpi' (the only one), got {backend!r}"
        )
    if _group is not None:
        raise RuntimeError("init_process_group: the process group is already initialised")
    if not is_available():
        raise RuntimeError("init_process_group: mpi4py is not installed (pip install mpi4py mpich)")
    from mpi4py import MPI  # lazy: MPI starts here, not at ``import nnlab``

    group = _Group(MPI)
    for name, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given != -1 and given != actual:
            raise ValueError(
                f"init_process_group: {name}={given} but MPI started this process with "
                f"{name} {actual}"
            )
    _group = group
    _abort_on_uncaught_exception(group)


def _abort_on_uncaught_exception(group: _Group) -> None:
    """Make an exception that escapes one rank end the whole job (``MPI_Abort``), as
    ``python -m mpi4py`` does: otherwise the other ranks wait in their next collective,
    and the failed rank in ``MPI_Finalize``, forever."""
    previous = sys.excepthook

    def hook(kind: Any, value: Any, traceback: Any) -> None:
        previous(kind, value, traceback)
        if group.size > 1:
            sys.stderr.flush()
            group.comm.Abort(1)

    sys.excepthook = hook


def destroy_process_group() -> None:
    """Leave the process group (MPI itself is finalised when the process exits)."""
    global _group
    _group = None


def _world() -> _Group:
    if _group is None:
        raise RuntimeError(
            "the default process group has not been initialised; call "
            "nnlab.distributed.init_process_group('mpi') first"
        )
    return _group


def get_rank() -> int:
    """This process's rank, ``0 … K-1``."""
    return _world().rank


def get_world_size() -> int:
    """K, the number of processes in the group."""
    return _world().size


def is_main_process() -> bool:
    """True on rank 0, and in a process outside any group: the one that writes files."""
    return _group is None or _group.rank == 0


def barrier() -> None:
    """Wait until every rank has called ``barrier``."""
    _world().comm.Barrier()


def _buffer(tensor: Tensor, name: str) -> np.ndarray:
    """The tensor's own array, which the collective writes into."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: tensor must be an nnlab.Tensor, got {type(tensor).__name__}")
    array = tensor.array
    if not array.flags.c_contiguous:
        raise ValueError(f"{name}: the tensor must be contiguous; call .contiguous() first")
    return array


def _mpi_op(group: _Group, op: ReduceOp) -> Any:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp, got {op!r}")
    names = {ReduceOp.SUM: "SUM", ReduceOp.AVG: "SUM", ReduceOp.PRODUCT: "PROD",
             ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX"}  # fmt: skip
    return getattr(group.mpi, names[op])


class Work:
    """A collective in flight (``all_reduce(..., async_op=True)``); ``wait()`` completes it."""

    def __init__(self, request: Any, finish: Any = None) -> None:
        self._request = request
        self._finish = finish

    def wait(self) -> bool:
        """Block until the collective has finished on this rank; returns True."""
        if self._request is not None:
            self._request.Wait()
            self._request = None
            if self._finish is not None:
                self._finish()
        return True


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, async_op: bool = False) -> Any:
    """Replace ``tensor`` on every rank by ``op`` over all ranks' tensors, in place.

    With ``async_op=True`` the reduction is started (MPI ``Iallreduce``) and a
    :class:`Work` is returned: the tensor holds the result once ``work.wait()`` returns.
    """
    group = _world()
    array = _buffer(tensor, "all_reduce")
    mpi_op = _mpi_op(group, op)

    def finish() -> None:
        if op is ReduceOp.AVG:
            np.divide(array, group.size, out=array, casting="unsafe")

    if async_op:
        return Work(group.comm.Iallreduce(group.mpi.IN_PLACE, array, op=mpi_op), finish)
    group.comm.Allreduce(group.mpi.IN_PLACE, array, op=mpi_op)
    finish()
    return None


def broadcast(tensor: Tensor, src: int = 0) -> None:
    """Copy rank ``src``'s ``tensor`` into every rank's, in place."""
    group = _world()
    group.comm.Bcast(_buffer(tensor, "broadcast"), root=_check_src(group, src, "broadcast"))


def all_gather(tensor_list: list[Tensor], tensor: Tensor) -> None:
    """Fill ``tensor_list`` (K tensors shaped like ``tensor``) with every rank's ``tensor``,
    in rank order."""
    group = _world()
    array = _buffer(tensor, "all_gather")
    if len(tensor_list) != group.size:
        raise ValueError(
            f"all_gather: tensor_list must hold world_size={group.size} tensors, "
            f"got {len(tensor_list)}"
        )
    gathered = np.empty((group.size, *array.shape), dtype=array.dtype)
    group.comm.Allgather(array, gathered)
    for out, part in zip(tensor_list, gathered):
        if tuple(out.shape) != array.shape:
            raise ValueError(
                f"all_gather: every output tensor must have the input's shape {array.shape}, "
                f"got {tuple(out.shape)}"
            )
        out.array[...] = part


def all_gather_object(object_list: list[Any], obj: Any) -> None:
    """Fill ``object_list`` (K slots) with every rank's picklable ``obj``, in rank order;
    for things of different sizes on each rank (the last, uneven batch's outputs)."""
    group = _world()
    if len(object_list) != group.size:
        raise ValueError(
            f"all_gather_object: object_list must have world_size={group.size} slots, "
            f"got {len(object_list)}"
        )
    object_list[:] = group.comm.allgather(obj)


def broadcast_object_list(object_list: list[Any], src: int = 0) -> None:
    """Replace ``object_list``'s items on every rank by rank ``src``'s (picklable objects)."""
    group = _world()
    object_list[:] = group.comm.bcast(list(object_list), root=_check_src(group, src, "broadcast"))


def _check_src(group: _Group, src: int, name: str) -> int:
    if not 0 <= src < group.size:
        raise ValueError(f"{name}: src must be a rank in 0..{group.size - 1}, got {src}")
    return src
