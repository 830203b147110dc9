"""Data-parallel training on MPI (``torch.distributed`` of nnlab).

Launch K copies of one program with ``mpirun -n K`` (``mpirun -n K nnlab train CONFIG``
does everything below by itself). Each copy joins the process group, wraps its model in
:class:`~nnlab.nn.parallel.DistributedDataParallel` and reads its share of every batch::

    import nnlab.distributed as dist
    dist.init_process_group("mpi")
    model = DistributedDataParallel(model)        # rank 0's weights on every rank
    for x, y in loader:                           # loader: this rank's shard of the batch
        loss_fn(model(x), y).backward()           # gradients averaged over the K ranks
        optimizer.step(); optimizer.zero_grad()   # the same step on every rank

See ``docs/distributed.md`` for the design and the scaling model.
"""

from nnlab.distributed.distributed_c10d import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_main_process,
    launch_rank,
    launch_world_size,
)

__all__ = [
    "ReduceOp", "Work", "all_gather", "all_gather_object", "all_reduce", "barrier", "broadcast",
    "broadcast_object_list", "destroy_process_group", "get_rank", "get_world_size",
    "init_process_group", "is_available", "is_initialized", "is_main_process", "launch_rank",
    "launch_world_size",
]  # fmt: skip
