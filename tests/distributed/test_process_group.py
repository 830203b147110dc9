"""nnlab.distributed outside an MPI launch: what works without a group, what refuses."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.distributed as dist
from nnlab import nn, optim
from nnlab.nn.modules.sync_batchnorm import SyncBatchNorm
from nnlab.nn.parallel import DistributedDataParallel
from nnlab.train import CheckpointError, Trainer


def test_outside_a_group_nothing_is_initialised():
    assert not dist.is_initialized()
    assert dist.is_main_process()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="process group is not initialised"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_only_the_mpi_backend_exists():
    with pytest.raises(ValueError, match="backend must be 'mpi'.*got 'nccl'"):
        dist.init_process_group("nccl")


@pytest.mark.parametrize("variable", ["PMI_SIZE", "OMPI_COMM_WORLD_SIZE"])
def test_an_mpi_launch_is_read_from_the_launchers_environment(monkeypatch, variable):
    for name in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert dist.launch_world_size() == 0
    monkeypatch.setenv(variable, "4")
    assert dist.launch_world_size() == 4


def test_a_checkpoint_of_k_ranks_does_not_resume_on_another_number():
    model = nn.Linear(2, 2)
    trainer = Trainer(model, "mse", optim.SGD(model.parameters(), lr=0.1), verbose=False)
    state = trainer.state_dict()
    assert state["world_size"] == 1
    state["world_size"] = 2
    with pytest.raises(CheckpointError, match=r"run on 2 process\(es\).*runs on 1"):
        trainer.load_state_dict(state, source="checkpoint last.safetensors")


def test_sync_batchnorm_outside_a_group_is_batchnorm():
    nnlab.manual_seed(0)
    x = nnlab.randn(6, 3, 4, dtype=nnlab.float64) * 3 + 1
    plain = nn.BatchNorm1d(3).to(nnlab.float64)
    sync = SyncBatchNorm(3).to(nnlab.float64)
    np.testing.assert_allclose(
        sync(x).detach().numpy(), plain(x).detach().numpy(), rtol=0, atol=1e-12
    )
    np.testing.assert_allclose(sync.running_var.numpy(), plain.running_var.numpy(), atol=1e-12)


def test_convert_sync_batchnorm_keeps_order_parameters_and_statistics():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    model[1].running_mean.array[...] = 0.5
    weight = model[1].weight
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert [type(m).__name__ for m in converted] == ["Linear", "SyncBatchNorm", "ReLU", "Linear"]
    assert converted[1].weight is weight
    assert float(converted[1].running_mean.array[0]) == 0.5
    assert list(converted.state_dict()) == list(nn.Sequential(
        nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2)).state_dict())  # fmt: skip


def test_data_parallel_false_trains_alone_under_mpirun(monkeypatch, tmp_path):
    """One trial of a search per rank: the run ignores the launch and joins no group."""
    from nnlab.config import parse_config
    from nnlab.runner.training import train_from_config

    monkeypatch.setenv("PMI_SIZE", "2")
    cfg = parse_config({"task": "binary", "data": {"dataset": "moons"}, "training": {"epochs": 1}})
    result = train_from_config(cfg, output_dir=str(tmp_path), verbose=False, data_parallel=False)
    assert (result.run_dir / "model.safetensors").is_file()
    assert not dist.is_initialized()
