"""Samplers for data-parallel training: which samples each of K processes reads.

Two ways to share an epoch among ranks ``r = 0 … K-1``:

* :class:`DistributedSampler` (torch's): one permutation per epoch (seeded by
  ``seed + epoch``, the same on every rank), padded by repeating its start to a multiple of
  K, and rank ``r`` takes every K-th index from position ``r``. Each rank then batches its
  share on its own, so the union of the ranks' i-th batches is *a* global batch but not
  the one a single process would have drawn.
* :class:`GlobalBatchShardSampler`: the single-process order (the same epoch seed from the
  same generator as ``DataLoader(shuffle=True)``) cut into global batches of B, and rank
  ``r`` takes the r-th slice of B/K of each. With a per-rank ``DataLoader`` of batch
  ``B // K`` the K ranks' i-th batches together are exactly the one-process i-th batch,
  which is what makes K ranks train to the same weights as one process.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from nnlab import distributed as dist
from nnlab.data.dataloader import Sampler, _SeededSampler
from nnlab.random import Generator

__all__ = ["DistributedSampler", "GlobalBatchShardSampler"]


def _replicas_and_rank(name: str, num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """``num_replicas``/``rank`` as given, else the process group's; both checked."""
    if num_replicas is None:
        num_replicas = dist.get_world_size()
    if rank is None:
        rank = dist.get_rank()
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
        raise ValueError(f"{name}: num_replicas must be a positive int, got {num_replicas!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
        raise ValueError(
            f"{name}: invalid rank {rank!r}, rank should be in the interval [0, {num_replicas - 1}]"
        )
    return num_replicas, rank


class DistributedSampler(Sampler):
    """This rank's share of a permutation of the dataset (``torch.utils.data.distributed``).

    Every rank draws the same permutation (seeded by ``seed + epoch``: call
    :meth:`set_epoch` at the start of each epoch, or every epoch repeats the first
    order). Without ``drop_last`` the permutation is padded by repeating its first indices
    up to ``K * ceil(N / K)``, so a few samples are read twice per epoch; with it the tail
    beyond ``K * floor(N / K)`` is dropped. Rank ``r`` takes positions ``r, r + K, …``.

    Args:
        dataset: the dataset (only its length is used).
        num_replicas: K (default: the process group's world size).
        rank: this process's rank (default: the process group's).
        shuffle: a new permutation every epoch (else ``0 … N-1``).
        seed: the seed every rank shares.
        drop_last: drop the tail instead of padding.

    Example:
        >>> s = DistributedSampler(range(5), num_replicas=2, rank=1, shuffle=False)
        >>> list(s), len(s)
        ([1, 3, 0], 3)
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.num_replicas, self.rank = _replicas_and_rank("DistributedSampler", num_replicas, rank)
        self.dataset = dataset
        self.shuffle = shuffle
        self.seed = int(seed)
        self.drop_last = drop_last
        self.epoch = 0
        n, k = len(dataset), self.num_replicas
        self.num_samples = math.ceil((n - k) / k) if drop_last and n % k else math.ceil(n / k)
        self.total_size = self.num_samples * k

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` (the same on every rank)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.num_samples

    def epoch_indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n:  # pad with the start, repeated if K > N
            order = np.resize(order, self.total_size)
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch = int(state["epoch"])


class GlobalBatchShardSampler(_SeededSampler):
    """This rank's slice of every global batch of the single-process order.

    The epoch order is the one ``DataLoader(dataset, batch_size, shuffle=True,
    generator=generator)`` draws (one epoch seed per epoch from ``generator``, then a
    permutation); under a process group rank 0's epoch seed is broadcast so that every
    rank cuts the same order even if their generators drifted apart (dropout draws).
    The order is cut into global batches of ``batch_size`` = B; rank ``r`` takes indices
    ``[r·B/K, (r+1)·B/K)`` of each, and its share of a last, smaller batch of ``b``
    samples is the r-th of K nearly equal parts (``numpy.array_split``). Read it with a
    ``DataLoader(dataset, batch_size=sampler.local_batch_size, sampler=sampler)``.

    The K ranks' i-th batches then make up the one-process i-th batch, so averaging
    their gradients weighted by local/global sample counts is the one-process gradient.

    Args:
        data_source: the dataset (only its length is used).
        batch_size: the global batch size B, a multiple of K.
        num_replicas: K (default: the process group's world size).
        rank: this process's rank (default: the process group's).
        shuffle: draw a new order every epoch (else ``0 … N-1``).
        drop_last: drop the last global batch when it is smaller than B.
        generator: the source of the epoch seeds (default: the global generator).

    Raises:
        ValueError: B is not a multiple of K, or the last global batch has fewer than
            K samples (a rank would get none; set ``drop_last`` or change B).

    Example:
        >>> s = GlobalBatchShardSampler(range(10), 4, num_replicas=2, rank=1, shuffle=False)
        >>> list(s), s.local_batch_size
        ([2, 3, 6, 7, 9], 2)
    """

    def __init__(
        self,
        data_source: Any,
        batch_size: int,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        drop_last: bool = False,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(generator)
        name = "GlobalBatchShardSampler"
        self.num_replicas, self.rank = _replicas_and_rank(name, num_replicas, rank)
        k = self.num_replicas
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"{name}: batch_size must be a positive int, got {batch_size!r}")
        if batch_size % k:
            raise ValueError(
                f"{name}: the global batch size {batch_size} is not divisible by the number "
                f"of processes {k}; use a batch size that is a multiple of {k}"
            )
        tail = len(data_source) % batch_size
        if not drop_last and 0 < tail < k:
            raise ValueError(
                f"{name}: the last batch of an epoch holds {tail} sample(s) "
                f"({len(data_source)} % {batch_size}), fewer than the {k} processes, so a "
                "process would get none; drop it (drop_last) or change the batch size"
            )
        self.data_source = data_source
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last

    @property
    def local_batch_size(self) -> int:
        """B / K, the batch each rank reads."""
        return self.batch_size // self.num_replicas

    def __len__(self) -> int:
        n, b = len(self.data_source), self.batch_size
        full = (n // b) * self.local_batch_size
        if self.drop_last or n % b == 0:
            return full
        return full + len(np.array_split(np.arange(n % b), self.num_replicas)[self.rank])

    def _epoch_rng(self) -> np.random.Generator:
        super()._epoch_rng()  # draws (or replays) the epoch seed, as a one-process loader
        if dist.is_initialized() and dist.get_world_size() == self.num_replicas > 1:
            seed = [self._epoch_seed]
            dist.broadcast_object_list(seed, src=0)
            self._epoch_seed = seed[0]
        return np.random.default_rng(self._epoch_seed)

    def epoch_indices(self) -> np.ndarray:
        n, b, k, m = (
            len(self.data_source),
            self.batch_size,
            self.num_replicas,
            self.local_batch_size,
        )
        order = self._epoch_rng().permutation(n) if self.shuffle else np.arange(n)
        full = (n // b) * b
        parts = [order[:full].reshape(-1, k, m)[:, self.rank].reshape(-1)]
        if not self.drop_last and full < n:
            parts.append(np.array_split(order[full:], k)[self.rank])
        return np.concatenate(parts).astype(np.int64)
