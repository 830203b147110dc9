"""Samplers of data-parallel training, without MPI: ``num_replicas`` and ``rank`` given."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab.data import DataLoader, TensorDataset
from nnlab.data.distributed import DistributedSampler, GlobalBatchShardSampler


def shares(n: int, k: int, **options) -> list[list[int]]:
    return [list(DistributedSampler(range(n), num_replicas=k, rank=r, **options)) for r in range(k)]


@pytest.mark.parametrize("n, k", [(12, 3), (10, 4), (3, 5)])
def test_distributed_sampler_reads_every_index_once_padding_to_a_multiple_of_k(n, k):
    parts = shares(n, k, seed=4)
    size = -(-n // k)
    assert [len(p) for p in parts] == [size] * k
    flat = [i for rank_order in zip(*parts) for i in rank_order]  # positions r, r + K, ...
    assert sorted(set(flat)) == list(range(n))  # every index at least once
    order = np.random.default_rng(4).permutation(n)
    assert flat == np.resize(order, size * k).tolist()  # padded with the order's start


def test_distributed_sampler_drop_last_drops_the_tail():
    parts = shares(10, 4, drop_last=True, shuffle=False)
    assert parts == [[0, 4], [1, 5], [2, 6], [3, 7]]
    assert len(DistributedSampler(range(10), 4, 0, drop_last=True)) == 2


def test_set_epoch_reshuffles_the_same_way_on_every_rank():
    samplers = [DistributedSampler(range(20), num_replicas=2, rank=r, seed=1) for r in range(2)]
    epochs = []
    for epoch in range(3):
        for s in samplers:
            s.set_epoch(epoch)
        parts = [list(s) for s in samplers]
        assert sorted(parts[0] + parts[1]) == list(range(20))  # disjoint, complete
        epochs.append(parts[0])
        assert list(samplers[0]) == parts[0]  # the same epoch repeats until set_epoch
    assert epochs[0] != epochs[1] != epochs[2]


@pytest.mark.parametrize(
    "num_replicas, rank, match",
    [(2, 2, r"invalid rank 2, rank should be in the interval \[0, 1\]"),
     (0, 0, "num_replicas must be a positive int")],
)  # fmt: skip
def test_distributed_sampler_checks_its_arguments(num_replicas, rank, match):
    with pytest.raises(ValueError, match=match):
        DistributedSampler(range(4), num_replicas=num_replicas, rank=rank)


def test_distributed_sampler_needs_a_group_or_explicit_ranks():
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


def labelled(n: int) -> TensorDataset:
    return TensorDataset(nnlab.arange(float(n)), nnlab.arange(n))


@pytest.mark.parametrize("n, batch, k", [(45, 8, 2), (48, 12, 3), (53, 8, 4)])
def test_shards_of_global_batches_make_up_the_one_process_batches(n, batch, k):
    """The ranks' i-th batches together are the one-process loader's i-th batch, over
    several epochs, with the same generator seed (the last batch split nearly evenly)."""
    one = DataLoader(labelled(n), batch_size=batch, shuffle=True, generator=nnlab.Generator(5))
    samplers = [GlobalBatchShardSampler(labelled(n), batch, k, r, generator=nnlab.Generator(5))
                for r in range(k)]  # fmt: skip
    loaders = [DataLoader(labelled(n), batch_size=s.local_batch_size, sampler=s) for s in samplers]
    assert {len(ld) for ld in loaders} == {len(one)}
    for _ in range(3):
        ranks = [[y.tolist() for _, y in ld] for ld in loaders]
        for i, (_, y) in enumerate(one):
            parts = [r[i] for r in ranks]
            assert sum(parts, []) == y.tolist()
            assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_global_batch_shards_without_shuffle_and_with_drop_last():
    s = [GlobalBatchShardSampler(range(10), 4, 2, r, shuffle=False, drop_last=True) for r in (0, 1)]
    assert [list(x) for x in s] == [[0, 1, 4, 5], [2, 3, 6, 7]]
    assert [len(x) for x in s] == [4, 4]


def test_global_batch_shards_resume_the_same_epoch():
    ds = labelled(30)
    sampler = GlobalBatchShardSampler(ds, 6, 2, 1, generator=nnlab.Generator(0))
    loader = DataLoader(ds, batch_size=3, sampler=sampler)
    state = loader.state_dict()
    first = [y.tolist() for _, y in loader]
    loader.load_state_dict(state)
    assert [y.tolist() for _, y in loader] == first


def test_a_global_batch_k_does_not_divide_is_refused():
    with pytest.raises(
        ValueError, match="global batch size 10 is not divisible by the number of processes 4"
    ):
        GlobalBatchShardSampler(range(40), 10, num_replicas=4, rank=0)


def test_a_last_batch_smaller_than_k_is_refused_unless_dropped():
    with pytest.raises(ValueError, match=r"last batch of an epoch holds 1 sample\(s\) \(33 % 8\)"):
        GlobalBatchShardSampler(range(33), 8, num_replicas=2, rank=0)
    assert len(GlobalBatchShardSampler(range(33), 8, 2, 1, drop_last=True)) == 16
