"""Run under ``mpiexec -n 2``: data-parallel training against one process (see
test_data_parallel.py, which launches it). Every rank also trains the one-process
reference itself (no communication), so rank 0 can compare; it prints one line per
check, ``ok NAME`` or ``FAIL NAME: why``, and exits with 1 if any failed."""

from __future__ import annotations

import sys

import numpy as np

import nnlab
import nnlab.distributed as dist
from nnlab import nn, optim
from nnlab.data import DataLoader, TensorDataset
from nnlab.data.distributed import DistributedSampler, GlobalBatchShardSampler
from nnlab.nn.modules.sync_batchnorm import SyncBatchNorm
from nnlab.nn.parallel import DistributedDataParallel
from nnlab.train import Trainer

N, BATCH, EPOCHS = 45, 8, 3  # 45 % 8 = 5: the last global batch splits 3 + 2


def data(dtype: np.dtype) -> TensorDataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 5)).astype(dtype)
    y = (x[:, 0] + x[:, 1] ** 2 > 0.5).astype(np.int64)
    return TensorDataset(nnlab.from_numpy(x), nnlab.from_numpy(y))


def mlp(dtype: np.dtype, batch_norm: bool = False) -> nn.Module:
    nnlab.manual_seed(1)
    norm = [nn.BatchNorm1d(16)] if batch_norm else []
    model = nn.Sequential(nn.Linear(5, 16), *norm, nn.Tanh(), nn.Linear(16, 2))
    return model.to(nnlab.float64 if dtype == np.float64 else nnlab.float32)


def make_optimizer(name: str, model: nn.Module) -> optim.Optimizer:
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return optim.Adam(model.parameters(), lr=0.01)


def train(dtype, opt, distributed, batch_norm=False, accumulate=1, bucket_cap_mb=25.0,
          sync_bn=False):  # fmt: skip
    """Final weights of 3 epochs of training; the loaders share the seed's order."""
    ds = data(dtype)
    model = mlp(dtype, batch_norm)
    optimizer = make_optimizer(opt, model)
    nnlab.manual_seed(7)
    if distributed:
        sampler = GlobalBatchShardSampler(ds, BATCH)
        loader = DataLoader(ds, batch_size=sampler.local_batch_size, sampler=sampler)
        if sync_bn:
            model = SyncBatchNorm.convert_sync_batchnorm(model)
        model = DistributedDataParallel(model, bucket_cap_mb=bucket_cap_mb)
    else:
        loader = DataLoader(ds, batch_size=BATCH, shuffle=True)
    trainer = Trainer(model, "cross_entropy", optimizer, verbose=False,
                      accumulate_steps=accumulate, metrics=["accuracy"])  # fmt: skip
    history = trainer.fit(loader, epochs=EPOCHS)
    state = trainer.model_state()
    return {k: v.array.astype(np.float64) for k, v in state.items()}, history


def worst(a: dict, b: dict) -> float:
    return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)


def collectives(rank: int, check) -> None:
    """all_reduce (each op, and async), broadcast, all_gather, the sampler's defaults."""
    x = nnlab.tensor([1.0 + rank, 10.0 * (rank + 1)], dtype=nnlab.float64)
    dist.all_reduce(x)
    check("all_reduce sum", x.tolist() == [3.0, 30.0], x.tolist())
    expected = {"MAX": [2.0, 20.0], "MIN": [1.0, 10.0], "AVG": [1.5, 15.0], "PRODUCT": [2.0, 200.0]}
    for name, want in expected.items():
        op = dist.ReduceOp[name]
        x = nnlab.tensor([1.0 + rank, 10.0 * (rank + 1)], dtype=nnlab.float64)
        dist.all_reduce(x, op)
        check(f"all_reduce {op.name}", x.tolist() == want, x.tolist())
    x = nnlab.tensor([float(rank)] * 3)
    dist.all_reduce(x, async_op=True).wait()
    check("all_reduce async", x.tolist() == [1.0] * 3, x.tolist())
    x = nnlab.tensor([float(rank + 5)])
    dist.broadcast(x, src=1)
    check("broadcast from rank 1", x.tolist() == [6.0], x.tolist())
    out = [nnlab.zeros(2), nnlab.zeros(2)]
    dist.all_gather(out, nnlab.tensor([float(rank), 1.0]))
    check("all_gather", [t.tolist() for t in out] == [[0.0, 1.0], [1.0, 1.0]], out)
    s = DistributedSampler(range(5), shuffle=False)
    check(
        "DistributedSampler takes the group's rank",
        list(s) == [[0, 2, 4], [1, 3, 0]][rank],
        list(s),
    )


def ddp_contract(rank: int, check) -> None:
    """Rank 0's weights at construction; a parameter left out of the loss is named."""
    nnlab.manual_seed(rank)  # different weights on each rank
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    ddp = DistributedDataParallel(model)
    w = model[0].weight.detach().numpy().copy()
    box = [w]
    dist.broadcast_object_list(box, src=0)
    check("construction broadcasts rank 0's weights", np.array_equal(box[0], w), "differ")
    check("state_dict keys carry module.", list(ddp.state_dict())[0] == "module.0.weight",
          list(ddp.state_dict()))  # fmt: skip
    sizes = DistributedDataParallel(model, bucket_cap_mb=0).bucket_sizes, ddp.bucket_sizes
    check("bucket_cap_mb=0: one bucket per parameter", sizes == ([1, 1, 1, 1], [4]), sizes)
    ddp(nnlab.randn(4, 3))[:, 0].sum().backward()
    model[1].weight.grad = None
    try:
        hidden = nnlab.randn(4, 3)
        model[0](hidden).sum().backward()  # the last layer takes no part
        ddp(hidden)
        check("unused parameter raises", False, "no error")
    except RuntimeError as exc:
        check("unused parameter raises", "1.weight" in str(exc), str(exc))


def batch_norm(rank: int, check) -> None:
    """Plain BatchNorm: local statistics (rank r's running mean is its shard's); K ranks
    then differ from one process. SyncBatchNorm: the same weights as one process."""
    nnlab.manual_seed(0)
    x = nnlab.randn(8, 3, dtype=nnlab.float64) * 2 + 1
    shard = x[4 * rank : 4 * rank + 4]
    bn = nn.BatchNorm1d(3).to(nnlab.float64)
    DistributedDataParallel(bn)(shard)
    local = 0.1 * shard.numpy().mean(0)
    check("BatchNorm statistics are local", np.allclose(bn.running_mean.numpy(), local),
          f"{bn.running_mean.numpy()} vs {local}")  # fmt: skip
    sync = SyncBatchNorm(3).to(nnlab.float64)
    DistributedDataParallel(sync)(shard)
    whole = 0.1 * x.numpy().mean(0)
    check("SyncBatchNorm statistics are global", np.allclose(sync.running_mean.numpy(), whole),
          f"{sync.running_mean.numpy()} vs {whole}")  # fmt: skip
    # float32 with |mean| >> std: two-pass statistics stay finite (Σx²/n − μ² would not)
    big = nnlab.randn(8, 3, dtype=nnlab.float32) * 0.01 + 1000
    out = SyncBatchNorm(3)(big[4 * rank : 4 * rank + 4]).detach().numpy()
    b64 = big.numpy().astype(np.float64)
    expect = ((b64 - b64.mean(0)) / np.sqrt(b64.var(0) + 1e-5))[4 * rank : 4 * rank + 4]
    check("SyncBatchNorm float32 with a large mean", np.allclose(out, expect, atol=2e-2),
          f"worst {np.abs(out - expect).max():.3g}")  # fmt: skip
    ref, _ = train(np.float64, "sgd", False, batch_norm=True)
    got, _ = train(np.float64, "sgd", True, batch_norm=True)
    check(
        "BatchNorm: K ranks differ from one process",
        worst(ref, got) > 1e-6,
        f"{worst(ref, got):.3g}",
    )
    got, _ = train(np.float64, "sgd", True, batch_norm=True, sync_bn=True)
    check(
        "SyncBatchNorm: K ranks equal one process",
        worst(ref, got) <= 1e-10,
        f"{worst(ref, got):.3g}",
    )


def main() -> int:
    dist.init_process_group("mpi")
    rank, failures = dist.get_rank(), []

    def check(name: str, ok: bool, detail: object) -> None:
        """Every rank reports; rank 0 prints the verdict and the failing ranks' details."""
        verdicts: list = [None, None]
        dist.all_gather_object(verdicts, (bool(ok), str(detail)))
        bad = [f"rank {r}: {d}" for r, (good, d) in enumerate(verdicts) if not good]
        if rank == 0:
            print(("FAIL " + name + ": " + "; ".join(bad)) if bad else "ok " + name, flush=True)
        if bad:
            failures.append(name)

    for dtype, tol in ((np.float64, 1e-10), (np.float32, 1e-5)):
        for opt in ("sgd", "adam"):
            ref, ref_hist = train(dtype, opt, False)
            got, hist = train(dtype, opt, True)
            err = worst(ref, got)
            check(
                f"same weights {np.dtype(dtype).name} {opt}",
                err <= tol,
                f"max |diff| {err:.3g} > {tol}",
            )
            loss_err = abs(ref_hist["loss"][-1] - hist["loss"][-1])
            check(
                f"same epoch loss {np.dtype(dtype).name} {opt}",
                loss_err <= 10 * tol,
                f"{loss_err:.3g}",
            )
            acc = (ref_hist["accuracy"][-1], hist["accuracy"][-1])
            check(f"same train accuracy {np.dtype(dtype).name} {opt}", acc[0] == acc[1], f"{acc}")
    ref, _ = train(np.float64, "sgd", False, accumulate=2)
    got, _ = train(np.float64, "sgd", True, accumulate=2)
    check("accumulation with no_sync", worst(ref, got) <= 1e-10, f"{worst(ref, got):.3g}")
    one, _ = train(np.float64, "adam", True, bucket_cap_mb=0)
    many, _ = train(np.float64, "adam", True)
    check("one bucket per parameter equals 25 MiB buckets", worst(one, many) <= 1e-12,
          f"{worst(one, many):.3g}")  # fmt: skip
    collectives(rank, check)
    ddp_contract(rank, check)
    batch_norm(rank, check)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
