"""Datasets: anything with ``__getitem__`` and ``__len__``.

A dataset answers one question, "what is sample ``i``?", and knows nothing about batches
or shuffling (that is the :class:`~nnlab.data.DataLoader`'s job). The classes here follow
``torch.utils.data``:

* :class:`Dataset` is the base class: subclass it and define ``__getitem__`` and ``__len__``.
* :class:`TensorDataset` wraps same-length tensors (features, labels, ...) and also answers
  a whole batch of indices at once (``get_batch``), which is the DataLoader's fast path.
* :class:`Subset` is a view on some indices of another dataset; :func:`random_split` cuts a
  dataset into disjoint random subsets (train / validation / test).
* :class:`ConcatDataset` chains datasets end to end (``a + b`` does the same).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split"]


class Dataset:
    """Base class of map-style datasets: ``dataset[i]`` is sample ``i``, ``len(dataset)``
    the number of samples.

    Example:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 4
        ...     def __getitem__(self, i):
        ...         return i, i * i
        >>> ds = Squares()
        >>> len(ds), ds[3]
        (4, (3, 9))
        >>> len(ds + ds)
        8
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other: Dataset) -> ConcatDataset:
        return ConcatDataset([self, other])


def _as_data_tensor(x: Any, position: int) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        # Wrapped without a copy and with its dtype, as torch.from_numpy does.
        return Tensor._make(x, False, None, 0)
    try:
        return Tensor(x)
    except TypeError as e:
        raise TypeError(
            f"TensorDataset: argument {position} must be a Tensor, an ndarray or a nested "
            f"list of numbers, got {type(x).__name__}"
        ) from e


def _row(t: Tensor, index: Any) -> Tensor:
    # Samples are data, not part of a graph: they never carry gradients.
    return Tensor._make(np.asarray(t.array[index]), False, None, 0)


class TensorDataset(Dataset):
    """A dataset of tensors that share their first dimension; sample ``i`` is the tuple
    ``(t[i] for t in tensors)``.

    NumPy arrays are wrapped without copying and keep their dtype (cast features to
    float32 first); nested lists go through ``nnlab.tensor``.

    Args:
        *tensors: tensors or arrays with the same size of dimension 0.

    Example:
        >>> import numpy as np
        >>> x = np.arange(6, dtype=np.float32).reshape(3, 2)
        >>> y = np.array([0, 1, 0])
        >>> ds = TensorDataset(x, y)
        >>> len(ds), ds[1]
        (3, (tensor([2., 3.]), tensor(1)))
        >>> ds.get_batch(np.array([2, 0]))
        (tensor([[4., 5.],
                [0., 1.]]), tensor([0, 0]))
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        self.tensors = tuple(_as_data_tensor(t, i) for i, t in enumerate(tensors))
        sizes = [t.shape[0] if t.ndim > 0 else None for t in self.tensors]
        if None in sizes or len(set(sizes)) != 1:
            shapes = ", ".join(str(t.shape) for t in self.tensors)
            raise ValueError(
                f"TensorDataset: all tensors must have the same size in dimension 0; "
                f"got shapes {shapes}"
            )

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        return tuple(_row(t, index) for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> tuple[Tensor, ...]:
        """The collated batch for ``indices``: one fancy-index per tensor, no Python loop
        over samples. Equal to ``default_collate([self[i] for i in indices])``."""
        return tuple(_row(t, indices) for t in self.tensors)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: the dataset to take samples from.
        indices: integer positions in ``dataset``.

    Example:
        >>> ds = TensorDataset([10, 11, 12, 13])
        >>> sub = Subset(ds, [3, 0])
        >>> len(sub), sub[0]
        (2, (tensor(13),))
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(
                f"Subset: indices must be a 1-D sequence of integers, got shape {idx.shape} "
                f"and dtype {idx.dtype}"
            )
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise ValueError(
                f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples, "
                f"got values from {idx.min()} to {idx.max()}"
            )
        self.dataset = dataset
        self.indices = idx.astype(np.int64)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[int(self.indices[index])]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Datasets chained end to end: the samples of the first, then of the second, ...

    Args:
        datasets: the datasets to chain (at least one).

    Example:
        >>> a, b = TensorDataset([1, 2]), TensorDataset([3, 4, 5])
        >>> both = ConcatDataset([a, b])
        >>> len(both), both[2], both[-1]
        (5, (tensor(3),), (tensor(5),))
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"ConcatDataset: index {index} out of range for {n} samples")
        if index < 0:
            index += n
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which > 0 else 0
        return self.datasets[which][index - start]


def _split_lengths(n: int, lengths: Sequence[float]) -> list[int]:
    """Turn ``lengths`` (counts summing to ``n``, or fractions summing to 1) into counts."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("random_split: lengths must not be empty")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in lengths):
        if any(v < 0 for v in lengths) or sum(lengths) != n:
            raise ValueError(
                f"random_split: lengths {lengths} must be non-negative and sum to the length "
                f"of the dataset ({n}), or be fractions summing to 1"
            )
        return [int(v) for v in lengths]
    if any(not 0 <= v <= 1 for v in lengths) or not math.isclose(sum(lengths), 1.0):
        raise ValueError(
            f"random_split: fractions {lengths} must lie in [0, 1] and sum to 1 "
            f"(or pass integer lengths summing to {n})"
        )
    counts = [math.floor(n * f) for f in lengths]
    # As torch: the samples left over by flooring go one each to the subsets, round-robin.
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(
    dataset: Any, lengths: Sequence[float], generator: Generator | None = None
) -> list[Subset]:
    """Split ``dataset`` into disjoint random subsets that together cover it.

    ``lengths`` are either counts that sum to ``len(dataset)`` or fractions that sum to 1;
    fractions are floored and the leftover samples handed out one each, round-robin, so
    ``random_split(ds, [0.8, 0.2])`` always uses every sample.

    Args:
        dataset: the dataset to split.
        lengths: the size of each subset, as counts or as fractions.
        generator: the source of the shuffle (default: the global generator, so
            ``nnlab.manual_seed`` makes the split reproducible).

    Example:
        >>> import nnlab
        >>> ds = TensorDataset(nnlab.arange(10))
        >>> train, val = random_split(ds, [0.7, 0.3], generator=nnlab.Generator(0))
        >>> len(train), len(val)
        (7, 3)
        >>> sorted(train.indices.tolist() + val.indices.tolist()) == list(range(10))
        True
    """
    n = len(dataset)
    counts = _split_lengths(n, lengths)
    perm = _rng(generator).permutation(n)
    bounds = np.cumsum([0, *counts])
    return [Subset(dataset, perm[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _batch_getter(dataset: Any) -> Callable[[np.ndarray], Any] | None:
    """The dataset's vectorised ``get_batch`` (looking through Subsets), or None when the
    samples must be fetched one by one and collated."""
    if isinstance(dataset, Subset):
        inner = _batch_getter(dataset.dataset)
        if inner is None:
            return None
        indices = dataset.indices
        return lambda batch: inner(indices[batch])
    get_batch = getattr(dataset, "get_batch", None)
    return get_batch if callable(get_batch) else None
