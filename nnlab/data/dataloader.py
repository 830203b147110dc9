"""Batches: samplers choose the order, the DataLoader groups and collates.

One pass over the data is an *epoch*. Each epoch the sampler yields every index once (in
order, or shuffled), the loader cuts that order into batches of ``batch_size`` and
``collate_fn`` stacks the samples of a batch into tensors. The batch size picks the
flavour of gradient descent:

* ``batch_size=1``: stochastic gradient descent (one sample per step, noisy steps);
* ``1 < batch_size < len(dataset)``: mini-batch gradient descent (the usual choice);
* ``batch_size=len(dataset)``: full-batch gradient descent (one exact step per epoch).

Randomness follows one rule: each shuffled epoch draws a single 63-bit *epoch seed* from
its generator (``nnlab.manual_seed`` seeds the default one) and permutes with a fresh
PCG64 started from it. So ``nnlab.manual_seed(0)`` makes every epoch reproducible, two
epochs differ, and a loader's :meth:`DataLoader.state_dict` (the generator state, the
epoch seed and how many batches were served) is all a resumed run needs to serve the same
next batches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from nnlab.data.dataset import _batch_getter
from nnlab.random import Generator, _rng, default_generator
from nnlab.tensor import Tensor

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "default_collate",
    "DataLoader",
]


# -- samplers -------------------------------------------------------------------------------


class Sampler:
    """Base class of samplers: ``iter(sampler)`` yields the dataset indices of one epoch.

    Subclasses define ``__iter__`` and ``__len__``; they may override ``epoch_indices`` to
    hand the whole order over as one array, and ``state_dict``/``load_state_dict`` when
    they hold random state.
    """

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def epoch_indices(self) -> np.ndarray:
        """The indices of one epoch as an int64 array (draws a new order when random)."""
        return np.fromiter(iter(self), dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


class SequentialSampler(Sampler):
    """Indices ``0, 1, ..., len(data_source) - 1``, the same every epoch.

    Example:
        >>> list(SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def __len__(self) -> int:
        return len(self.data_source)

    def epoch_indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))


class _SeededSampler(Sampler):
    """Shared by the random samplers: one epoch seed per epoch, drawn from ``generator``."""

    generator: Generator | None

    def __init__(self, generator: Generator | None) -> None:
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(
                f"{type(self).__name__}: generator must be an nnlab.Generator or None, "
                f"got {type(generator).__name__}"
            )
        self.generator = generator
        self._epoch_seed: int | None = None
        self._resume_seed: int | None = None

    def _epoch_rng(self) -> np.random.Generator:
        if self._resume_seed is not None:
            seed, self._resume_seed = self._resume_seed, None
        else:
            seed = int(_rng(self.generator).integers(2**63))
        self._epoch_seed = seed
        return np.random.default_rng(seed)

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())

    def state_dict(self) -> dict[str, Any]:
        """The generator's state and the seed of the last epoch drawn."""
        gen = self.generator or default_generator
        seed = self._epoch_seed if self._resume_seed is None else self._resume_seed
        return {"generator": gen.get_state(), "epoch_seed": seed}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the generator; with an ``epoch_seed``, the next epoch replays that one."""
        (self.generator or default_generator).set_state(state["generator"])
        self._resume_seed = state.get("epoch_seed")


class RandomSampler(_SeededSampler):
    """A new random order every epoch.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw ``num_samples`` indices with replacement instead of a permutation.
        num_samples: how many indices per epoch (default: ``len(data_source)``).
        generator: the source of the epoch seeds (default: the global generator).

    Example:
        >>> import nnlab
        >>> s = RandomSampler(range(5), generator=nnlab.Generator(0))
        >>> sorted(s) == [0, 1, 2, 3, 4]
        True
    """

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(generator)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        if num_samples is not None and (not isinstance(num_samples, int) or num_samples <= 0):
            raise ValueError(
                f"RandomSampler: num_samples must be a positive int, got {num_samples}"
            )

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __len__(self) -> int:
        return self.num_samples

    def epoch_indices(self) -> np.ndarray:
        n, rng = len(self.data_source), self._epoch_rng()
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        # Without replacement and more samples than n: whole permutations, end to end.
        reps = -(-self.num_samples // n) if n else 0
        perms = [rng.permutation(n) for _ in range(reps)]
        return np.concatenate(perms or [np.empty(0, np.int64)])[: self.num_samples]


class SubsetRandomSampler(_SeededSampler):
    """The given indices in a new random order every epoch (e.g. a validation fold).

    Example:
        >>> import nnlab
        >>> sorted(SubsetRandomSampler([7, 3, 5], generator=nnlab.Generator(0)))
        [3, 5, 7]
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        super().__init__(generator)
        self.indices = np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    def epoch_indices(self) -> np.ndarray:
        return self.indices[self._epoch_rng().permutation(len(self.indices))]


class WeightedRandomSampler(_SeededSampler):
    """Index ``i`` drawn with probability ``weights[i] / sum(weights)``: the way to show a
    model its rare class (fraud, disease) more often without copying data.

    Args:
        weights: one non-negative weight per sample (need not sum to 1).
        num_samples: indices drawn per epoch.
        replacement: draw with replacement (without, ``num_samples <= len(weights)``).
        generator: the source of the epoch seeds.

    Example:
        >>> import nnlab
        >>> s = WeightedRandomSampler([0.0, 1.0, 0.0], 4, generator=nnlab.Generator(0))
        >>> list(s)
        [1, 1, 1, 1]
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        super().__init__(generator)
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.size == 0 or (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise ValueError(
                "WeightedRandomSampler: weights must be a non-empty 1-D sequence of finite, "
                "non-negative numbers with a positive sum"
            )
        if not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(
                f"WeightedRandomSampler: num_samples must be a positive int, got {num_samples}"
            )
        if not replacement and num_samples > np.count_nonzero(w):
            raise ValueError(
                f"WeightedRandomSampler: without replacement num_samples ({num_samples}) cannot "
                f"exceed the number of non-zero weights ({np.count_nonzero(w)})"
            )
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement

    def __len__(self) -> int:
        return self.num_samples

    def epoch_indices(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        rng = self._epoch_rng()
        idx = rng.choice(len(p), size=self.num_samples, replace=self.replacement, p=p)
        return idx.astype(np.int64)


# -- collation -----------------------------------------------------------------------------


def _stack(arrays: list[np.ndarray]) -> Tensor:
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(
            f"default_collate: cannot stack samples of different shapes {sorted(shapes)}; "
            "pad them to one shape or pass a collate_fn"
        )
    if arrays[0].dtype.kind not in "biuf":
        raise TypeError(f"default_collate: cannot batch arrays of dtype {arrays[0].dtype}")
    return Tensor._make(np.stack(arrays), False, None, 0)


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, keeping the samples' structure.

    Rules (as ``torch.utils.data.default_collate``): tensors and arrays are stacked along a
    new dim 0 keeping their dtype; Python ints become int64, Python floats float64 and bools
    bool tensors; strings stay a list; tuples, lists, namedtuples and dicts are collated
    field by field, recursively. A batch never carries gradients. (Unlike torch, a tuple of
    fields comes back as a tuple, not a list.)

    Example:
        >>> import nnlab
        >>> default_collate([(nnlab.tensor([1.0, 2.0]), 0), (nnlab.tensor([3.0, 4.0]), 1)])
        (tensor([[1., 2.],
                [3., 4.]]), tensor([0, 1]))
        >>> default_collate([{"x": 1.5, "name": "a"}, {"x": 2.5, "name": "b"}])
        {'x': tensor([1.5, 2.5], dtype=nnlab.float64), 'name': ['a', 'b']}
    """
    if len(batch) == 0:
        raise ValueError("default_collate: the batch is empty")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([np.asarray(b.array) for b in batch])
    if isinstance(elem, (np.ndarray, np.generic)):
        return _stack([np.asarray(b) for b in batch])
    if isinstance(elem, bool):
        return Tensor._make(np.array(batch, dtype=np.bool_), False, None, 0)
    if isinstance(elem, int):
        return Tensor._make(np.array(batch, dtype=np.int64), False, None, 0)
    if isinstance(elem, float):
        return Tensor._make(np.array(batch, dtype=np.float64), False, None, 0)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, Mapping):
        return type(elem)({key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(list(f)) for f in zip(*batch)))
    if isinstance(elem, (tuple, list)):
        if len({len(b) for b in batch}) != 1:
            raise ValueError("default_collate: each sample of the batch must have as many fields")
        fields = [default_collate(list(f)) for f in zip(*batch)]
        return tuple(fields) if isinstance(elem, tuple) else fields
    raise TypeError(
        "default_collate: samples must be tensors, arrays, numbers, strings, dicts, tuples or "
        f"lists; found {type(elem).__name__}. Pass a collate_fn for other types."
    )


# -- the loader ------------------------------------------------------------------------------


class DataLoader:
    """Iterate over a dataset in batches.

    ``batch_size=1`` is stochastic gradient descent, ``batch_size=len(dataset)`` full-batch
    gradient descent, anything between mini-batch gradient descent. With ``shuffle=True``
    the order is redrawn every epoch from ``generator`` (default: the global one, seeded
    by ``nnlab.manual_seed``). A :class:`~nnlab.data.TensorDataset` (or a Subset of one)
    with the default collate is batched by one fancy-index per tensor, without a Python
    loop over samples; the batches are identical to the generic path's.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``).
        batch_size: samples per batch (default: 1).
        shuffle: a new random order each epoch (default: False).
        sampler: where the indices come from instead (excludes ``shuffle``).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        collate_fn: turns a list of samples into a batch (default: :func:`default_collate`).
        generator: the source of the shuffling (default: the global generator).
        num_workers, pin_memory, timeout, worker_init_fn, prefetch_factor,
            persistent_workers: PyTorch's worker-process options, accepted (keyword only)
            and kept as attributes so code written for torch runs unchanged. They change
            nothing: nnlab always loads in the main process, as torch does with
            ``num_workers=0`` (so ``worker_init_fn`` is never called), and there is no GPU
            memory to pin. Values torch rejects (a negative ``num_workers`` or ``timeout``,
            ``prefetch_factor`` or ``persistent_workers`` without workers) raise the same
            ValueError.

    Example:
        >>> import nnlab
        >>> from nnlab.data import TensorDataset
        >>> ds = TensorDataset(nnlab.arange(10.0), nnlab.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=nnlab.Generator(0))
        >>> len(loader), [len(y) for _, y in loader]
        (3, [4, 4, 2])
        >>> state = loader.state_dict()        # save between epochs...
        >>> first = [y.tolist() for _, y in loader]
        >>> loader.load_state_dict(state)       # ...and the resumed epoch is the same
        >>> [y.tolist() for _, y in loader] == first
        True
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        sampler: Any = None,
        drop_last: bool = False,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        generator: Generator | None = None,
        *,
        num_workers: int = 0,
        pin_memory: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        if num_workers < 0:
            raise ValueError(
                "DataLoader: num_workers option should be non-negative; use num_workers=0 "
                "to disable multiprocessing."
            )
        if timeout < 0:
            raise ValueError("DataLoader: timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in "
                "multiprocessing. Let num_workers > 0 to enable multiprocessing, otherwise "
                "set prefetch_factor to None."
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        # torch's worker options, kept for compatibility: loading runs in this process
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = 2 if num_workers > 0 and prefetch_factor is None else prefetch_factor
        self.persistent_workers = persistent_workers
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if sampler is None:
            if shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.drop_last = drop_last
        self.sampler = sampler
        self.generator = generator
        self.collate_fn = collate_fn or default_collate
        self._get_batch = _batch_getter(dataset) if collate_fn is None else None
        self._served = 0  # batches served in the epoch in progress
        self._skip = 0  # batches to skip at the start of the next epoch (a resume)

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _fetch(self, indices: np.ndarray) -> Any:
        if self._get_batch is not None:
            return self._get_batch(indices)
        return self.collate_fn([self.dataset[i] for i in indices.tolist()])

    def __iter__(self) -> Iterator[Any]:
        if isinstance(self.sampler, Sampler):
            order = self.sampler.epoch_indices()
        else:
            order = np.fromiter(iter(self.sampler), dtype=np.int64)
        n, bs = len(order), self.batch_size
        n_batches = n // bs if self.drop_last else math.ceil(n / bs)
        start, self._skip = self._skip, 0
        self._served = start
        for b in range(start, n_batches):
            batch = self._fetch(order[b * bs : (b + 1) * bs])
            self._served = b + 1
            yield batch
        self._served = 0

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to serve the same next batches.

        Holds the number of batches already served in the epoch in progress and the
        sampler's state (for a shuffling loader: its generator's state and the epoch seed).
        When the loader draws from the global generator, loading this state restores the
        global generator too, as ``nnlab.set_rng_state`` would with a state saved at the
        same moment.
        """
        has_state = hasattr(self.sampler, "state_dict")
        sampler_state = dict(self.sampler.state_dict()) if has_state else {}
        served = self._skip or self._served  # a loaded, not yet resumed, state counts too
        if served == 0 and "epoch_seed" in sampler_state:
            sampler_state["epoch_seed"] = None  # between epochs: the next one draws afresh
        return {"batches_served": served, "sampler": sampler_state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a :meth:`state_dict`; the next ``iter(loader)`` resumes where it left off."""
        missing = {"batches_served", "sampler"} - set(state)
        if missing:
            raise KeyError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        if hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state["sampler"])
        self._skip = int(state["batches_served"])
        self._served = 0

    def __repr__(self) -> str:
        return (
            f"DataLoader(dataset={type(self.dataset).__name__}(n={len(self.dataset)}), "
            f"batch_size={self.batch_size}, sampler={type(self.sampler).__name__}, "
            f"drop_last={self.drop_last})"
        )
