"""Preparing tabular data: scaling, one-hot labels, train/test splits and k-fold CV.

The rule that keeps an evaluation honest: **fit on the training split only**. A scaler's
mean, standard deviation, minimum and maximum are statistics of the data; computed on
the test split too, they leak it into training. So split first, ``fit`` the scaler on
``x_train``, then ``transform`` both splits with the training statistics.

Every function here gives the same numbers as its scikit-learn namesake (scikit-learn is
the test oracle) and draws its randomness from an nnlab :class:`~nnlab.Generator`, so one
``nnlab.manual_seed`` fixes splits, folds and shuffles. Arrays come back as arrays and
nnlab Tensors as Tensors.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = [
    "StandardScaler",
    "MinMaxScaler",
    "one_hot_encode",
    "train_test_split",
    "KFold",
    "StratifiedKFold",
]


def _seeded_rng(fn: str, seed: int | None, generator: Generator | None) -> np.random.Generator:
    """What to draw from: a fresh generator for an int ``seed``, else ``generator``, else the
    global generator (so ``nnlab.manual_seed`` controls it)."""
    if seed is not None and generator is not None:
        raise ValueError(f"{fn}: pass seed or generator, not both")
    if seed is None:
        return _rng(generator)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"{fn}: seed must be an int, got {seed!r}")
    return Generator(int(seed)).numpy


def _to_array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _like(result: np.ndarray, original: Any) -> Any:
    """Return a Tensor when the input was a Tensor, else the array."""
    return Tensor._make(result, False, None, 0) if isinstance(original, Tensor) else result


def _features(X: Any, where: str) -> np.ndarray:
    x = _to_array(X)
    if x.ndim != 2:
        raise ValueError(
            f"{where}: expected a 2-D array (n_samples, n_features), got shape {x.shape}; "
            "use x.reshape(-1, 1) for a single feature"
        )
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{where}: expected numbers, got dtype {x.dtype}")
    return x if x.dtype.kind == "f" else x.astype(np.float64)


class _Scaler:
    """Shared fit/transform plumbing: subclasses define ``_fit`` and the two maps."""

    n_features_in_: int | None = None

    def fit(self, X: Any) -> Any:
        """Learn the per-feature statistics of ``X`` (the training split); returns self."""
        x = _features(X, f"{type(self).__name__}.fit")
        if x.shape[0] == 0:
            raise ValueError(f"{type(self).__name__}.fit: X has no samples")
        self._fit(x)
        self.n_features_in_ = x.shape[1]
        return self

    def _checked(self, X: Any, where: str) -> np.ndarray:
        name = type(self).__name__
        if self.n_features_in_ is None:
            raise RuntimeError(f"{name} is not fitted yet: call {name}.fit(x_train) first")
        x = _features(X, f"{name}.{where}")
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name}.{where}: X has {x.shape[1]} features, but the scaler was fitted "
                f"on {self.n_features_in_}"
            )
        return x

    def transform(self, X: Any) -> Any:
        """Scale ``X`` with the statistics learned by ``fit``."""
        x = self._checked(X, "transform")
        return _like(self._forward(x).astype(x.dtype, copy=False), X)

    def inverse_transform(self, X: Any) -> Any:
        """Undo ``transform``: map scaled values back to the original units."""
        x = self._checked(X, "inverse_transform")
        return _like(self._inverse(x).astype(x.dtype, copy=False), X)

    def fit_transform(self, X: Any) -> Any:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)


class StandardScaler(_Scaler):
    """Standardise each feature to zero mean and unit variance: ``z = (x - mean) / std``.

    ``std`` is the population standard deviation (``ddof=0``) of the training data. A
    feature that is constant there gets ``scale_ = 1``, so it maps to 0 instead of
    dividing by zero. Statistics are accumulated in float64; float inputs keep their dtype.

    Args:
        with_mean: subtract the mean (default: True).
        with_std: divide by the standard deviation (default: True).

    Attributes:
        mean_, var_, scale_: per-feature mean, variance and the divisor used (the last two
            are None without ``with_std``).

    Example:
        >>> import numpy as np
        >>> x_train = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0]])
        >>> scaler = StandardScaler().fit(x_train)
        >>> scaler.mean_, scaler.scale_
        (array([ 2., 10.]), array([1.63299316, 1.        ]))
        >>> scaler.transform(np.array([[2.0, 11.0]]))
        array([[0., 1.]])
    """

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def _fit(self, x: np.ndarray) -> None:
        x64 = x.astype(np.float64)
        n = x64.shape[0]
        self.n_samples_seen_ = n
        self.mean_ = x64.mean(axis=0)
        self.var_ = self.scale_ = None  # as scikit-learn, without with_std
        if self.with_std:
            var = x64.var(axis=0)
            # As scikit-learn: a variance within the rounding error of the two-pass
            # algorithm (Chan, Golub & LeVeque) means a constant feature, left unscaled.
            eps = np.finfo(np.float64).eps
            constant = var <= n * eps * var + (n * self.mean_ * eps) ** 2
            self.var_, self.scale_ = var, np.where(constant, 1.0, np.sqrt(var))

    def _forward(self, x: np.ndarray) -> np.ndarray:
        out = x.astype(np.float64)
        if self.with_mean:
            out = out - self.mean_
        if self.with_std:
            out = out / self.scale_
        return out

    def _inverse(self, x: np.ndarray) -> np.ndarray:
        out = x.astype(np.float64)
        if self.with_std:
            out = out * self.scale_
        if self.with_mean:
            out = out + self.mean_
        return out


class MinMaxScaler(_Scaler):
    """Rescale each feature linearly so the training data spans ``feature_range``.

    ``x' = x * scale_ + min_`` with ``scale_ = (hi - lo) / (max - min)`` and
    ``min_ = lo - min * scale_``. A constant feature gets ``max - min`` replaced by 1.
    Values outside the training range land outside ``feature_range`` unless ``clip``.

    Args:
        feature_range: the target interval ``(lo, hi)`` (default: ``(0, 1)``).
        clip: clip transformed values into ``feature_range`` (default: False).

    Example:
        >>> import numpy as np
        >>> scaler = MinMaxScaler().fit(np.array([[1.0], [3.0], [5.0]]))
        >>> scaler.transform(np.array([[2.0], [7.0]]))
        array([[0.25],
               [1.5 ]])
    """

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0), clip: bool = False) -> None:
        lo, hi = feature_range
        if not lo < hi:
            raise ValueError(
                f"MinMaxScaler: feature_range must be (min, max) with min < max, "
                f"got {feature_range}"
            )
        self.feature_range = (float(lo), float(hi))
        self.clip = clip

    def _fit(self, x: np.ndarray) -> None:
        x64 = x.astype(np.float64)
        lo, hi = self.feature_range
        self.data_min_ = x64.min(axis=0)
        self.data_max_ = x64.max(axis=0)
        self.data_range_ = self.data_max_ - self.data_min_
        tiny = 10 * np.finfo(np.float64).eps
        safe_range = np.where(self.data_range_ < tiny, 1.0, self.data_range_)
        self.scale_ = (hi - lo) / safe_range
        self.min_ = lo - self.data_min_ * self.scale_

    def _forward(self, x: np.ndarray) -> np.ndarray:
        out = x.astype(np.float64) * self.scale_ + self.min_
        return np.clip(out, *self.feature_range) if self.clip else out

    def _inverse(self, x: np.ndarray) -> np.ndarray:
        return (x.astype(np.float64) - self.min_) / self.scale_


def one_hot_encode(labels: Any, num_classes: int | None = None, dtype: Any = np.float32) -> Any:
    """Turn integer class labels into one-hot rows: ``out[i, labels[i]] = 1``.

    Args:
        labels: integer labels in ``[0, num_classes)``, shape (N,).
        num_classes: the number of columns C (default: ``max(labels) + 1``).
        dtype: dtype of the result (default: float32).

    Shape:
        (N,) -> (N, C). A Tensor in gives a Tensor out.

    Example:
        >>> one_hot_encode([0, 2, 1], num_classes=3)
        array([[1., 0., 0.],
               [0., 0., 1.],
               [0., 1., 0.]], dtype=float32)
    """
    y = _to_array(labels)
    if y.ndim != 1:
        raise ValueError(f"one_hot_encode: labels must be 1-D, got shape {y.shape}")
    if y.size and (y.dtype.kind not in "iub" and not np.array_equal(y, np.round(y))):
        raise ValueError("one_hot_encode: labels must be integers")
    y = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(
            f"one_hot_encode: labels must lie in [0, num_classes={num_classes}), got values "
            f"from {y.min()} to {y.max()}"
        )
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return _like(out, labels)


def _take(a: Any, idx: np.ndarray) -> Any:
    if isinstance(a, Tensor):
        return Tensor._make(a.array[idx], False, None, 0)
    if isinstance(a, np.ndarray):
        return a[idx]
    return [a[i] for i in idx.tolist()]


def _split_sizes(
    n: int, test_size: float | int | None, train_size: float | int | None
) -> tuple[int, int]:
    """scikit-learn's rule: a fractional test size rounds up, a fractional train size down."""
    if test_size is None and train_size is None:
        test_size = 0.25
    for name, v in (("test_size", test_size), ("train_size", train_size)):
        if v is None:
            continue
        if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
            if not 0 < v < n:
                raise ValueError(f"train_test_split: {name}={v} must be in [1, {n - 1}] (n={n})")
        elif isinstance(v, float):
            if not 0.0 < v < 1.0:
                raise ValueError(f"train_test_split: {name}={v} must be a fraction in (0, 1)")
        else:
            raise ValueError(f"train_test_split: {name} must be an int or a float, got {v!r}")
    n_test = math.ceil(test_size * n) if isinstance(test_size, float) else test_size
    n_train = math.floor(train_size * n) if isinstance(train_size, float) else train_size
    if n_train is None:
        n_train = n - n_test
    if n_test is None:
        n_test = n - n_train
    if n_train + n_test > n or n_train == 0:
        raise ValueError(
            f"train_test_split: with n_samples={n}, test_size={test_size} and "
            f"train_size={train_size} the split sizes ({n_train}, {n_test}) are not possible"
        )
    return int(n_train), int(n_test)


def _approximate_mode(counts: np.ndarray, n_draws: int, rng: np.random.Generator) -> np.ndarray:
    """How many of ``n_draws`` each class gets: proportional shares, floored, then the rest
    to the largest remainders (ties broken at random). Never off by more than one."""
    continuous = counts / counts.sum() * n_draws
    floored = np.floor(continuous)
    need = int(n_draws - floored.sum())
    remainder = continuous - floored
    for value in np.sort(np.unique(remainder))[::-1]:
        if need <= 0:
            break
        (inds,) = np.where(remainder == value)
        take = rng.choice(inds, size=min(len(inds), need), replace=False)
        floored[take] += 1
        need -= len(take)
    return floored.astype(np.int64)


def train_test_split(
    *arrays: Any,
    test_size: float | int | None = None,
    train_size: float | int | None = None,
    shuffle: bool = True,
    stratify: Any = None,
    seed: int | None = None,
    generator: Generator | None = None,
) -> list[Any]:
    """Split arrays into random train and test parts (the same rows for every array).

    Sizes follow scikit-learn: a fraction of ``test_size`` rounds up, a fraction of
    ``train_size`` rounds down, and the default is a 25 % test split. With ``stratify=y``
    each class keeps its proportion in both parts (within one sample).

    Args:
        *arrays: arrays, Tensors or lists with the same length.
        test_size: the test part as a fraction in (0, 1) or a count.
        train_size: the train part likewise (default: the rest).
        shuffle: shuffle before splitting (default: True; without, the test part is the tail).
        stratify: class labels to stratify by (requires ``shuffle``).
        seed, generator: an int seed, or a Generator to draw the shuffle from (default:
            the global generator).

    Returns:
        ``[a_train, a_test, b_train, b_test, ...]``, each of its input's type.

    Example:
        >>> import nnlab, numpy as np
        >>> x, y = np.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
        >>> x_tr, x_te, y_tr, y_te = train_test_split(
        ...     x, y, test_size=0.4, stratify=y, generator=nnlab.Generator(0))
        >>> x_tr.shape, x_te.shape, np.bincount(y_te).tolist()
        ((6, 2), (4, 2), [2, 2])
    """
    if not arrays:
        raise ValueError("train_test_split: at least one array is required")
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(f"train_test_split: arrays have inconsistent lengths {lengths}")
    n = lengths[0]
    n_train, n_test = _split_sizes(n, test_size, train_size)
    rng = _seeded_rng("train_test_split", seed, generator)
    if not shuffle:
        if stratify is not None:
            raise ValueError("train_test_split: stratify requires shuffle=True")
        train, test = np.arange(n_train), np.arange(n_train, n_train + n_test)
    elif stratify is None:
        perm = rng.permutation(n)
        test, train = perm[:n_test], perm[n_test : n_test + n_train]
    else:
        train, test = _stratified_indices(_to_array(stratify), n, n_train, n_test, rng)
    return [part for a in arrays for part in (_take(a, train), _take(a, test))]


def _stratified_indices(
    y: np.ndarray, n: int, n_train: int, n_test: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    if len(y) != n:
        raise ValueError(f"train_test_split: stratify has length {len(y)}, the arrays {n}")
    classes, y_idx, counts = np.unique(y, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(
            f"train_test_split: stratify needs at least 2 samples per class; classes "
            f"{classes[counts < 2].tolist()} have 1"
        )
    if n_train < len(classes) or n_test < len(classes):
        raise ValueError(
            f"train_test_split: train ({n_train}) and test ({n_test}) sizes must be at least "
            f"the number of classes ({len(classes)}) to stratify"
        )
    n_i = _approximate_mode(counts, n_train, rng)
    t_i = _approximate_mode(counts - n_i, n_test, rng)
    members = np.split(np.argsort(y_idx, kind="stable"), np.cumsum(counts)[:-1])
    train, test = [], []
    for i, idx in enumerate(members):
        idx = idx[rng.permutation(len(idx))]
        train.append(idx[: n_i[i]])
        test.append(idx[n_i[i] : n_i[i] + t_i[i]])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


class KFold:
    """K-fold cross-validation: cut the samples into ``n_splits`` folds; each fold is the
    test set once while the others train.

    The first ``n % n_splits`` folds hold one sample more, as in scikit-learn; without
    ``shuffle`` the folds are consecutive blocks and equal scikit-learn's exactly. With
    ``shuffle`` the order is one permutation drawn when the splitter is made, so
    ``split`` gives the same folds every call.

    Args:
        n_splits: the number of folds, at least 2 (default: 5).
        shuffle: permute the samples before cutting folds (default: False).
        seed, generator: an int seed, or a Generator to draw the permutation from
            (default: the global generator).

    Example:
        >>> for train, test in KFold(3).split(range(7)):
        ...     print(train.tolist(), test.tolist())
        [3, 4, 5, 6] [0, 1, 2]
        [0, 1, 2, 5, 6] [3, 4]
        [0, 1, 2, 3, 4] [5, 6]
    """

    def __init__(
        self,
        n_splits: int = 5,
        shuffle: bool = False,
        *,
        seed: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        if isinstance(n_splits, bool) or not isinstance(n_splits, (int, np.integer)):
            raise TypeError(f"{type(self).__name__}: n_splits must be an int, got {n_splits!r}")
        if n_splits < 2:
            raise ValueError(f"{type(self).__name__}: n_splits must be at least 2, got {n_splits}")
        self.n_splits = int(n_splits)
        self.shuffle = shuffle
        # One seed drawn now, so every call to split() repeats the same folds.
        rng = _seeded_rng(type(self).__name__, seed, generator)
        self._seed = int(rng.integers(2**63)) if shuffle else None

    def get_n_splits(self) -> int:
        return self.n_splits

    def _test_folds(self, n: int, y: Any) -> np.ndarray:
        """The fold number of every sample."""
        order = np.arange(n)
        if self.shuffle:
            order = np.random.default_rng(self._seed).permutation(n)
        sizes = np.full(self.n_splits, n // self.n_splits)
        sizes[: n % self.n_splits] += 1
        folds = np.empty(n, dtype=np.int64)
        folds[order] = np.repeat(np.arange(self.n_splits), sizes)
        return folds

    def split(self, X: Any, y: Any = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train_indices, test_indices)`` per fold, both sorted."""
        n = len(X)
        if self.n_splits > n:
            raise ValueError(
                f"{type(self).__name__}: n_splits={self.n_splits} is greater than the number "
                f"of samples n_samples={n}"
            )
        folds = self._test_folds(n, y)
        for k in range(self.n_splits):
            yield np.flatnonzero(folds != k), np.flatnonzero(folds == k)


class StratifiedKFold(KFold):
    """K-fold cross-validation in which every fold keeps the class proportions.

    scikit-learn's allocation: the labels, sorted by class (classes in order of first
    appearance), are dealt round-robin to the folds, so each fold gets ``count / n_splits``
    of every class, within one. Without ``shuffle`` each class fills its folds in data
    order and the folds equal scikit-learn's exactly; with it, each class's fold labels are
    shuffled.

    Args:
        n_splits: the number of folds, at least 2 (default: 5).
        shuffle: shuffle each class's samples among the folds (default: False).
        seed, generator: an int seed, or a Generator to draw the shuffle from (default:
            the global generator).

    Example:
        >>> y = [0, 0, 0, 0, 1, 1]
        >>> for train, test in StratifiedKFold(2).split(y, y):
        ...     print(test.tolist())
        [0, 1, 4]
        [2, 3, 5]
    """

    def _test_folds(self, n: int, y: Any) -> np.ndarray:
        if y is None:
            raise ValueError("StratifiedKFold.split: y (the class labels) is required")
        y = _to_array(y)
        if y.ndim != 1 or len(y) != n:
            raise ValueError(
                f"StratifiedKFold.split: y must be 1-D with one label per sample ({n}), "
                f"got shape {y.shape}"
            )
        _, first, inverse = np.unique(y, return_index=True, return_inverse=True)
        _, class_order = np.unique(first, return_inverse=True)
        y_enc = class_order[inverse]  # classes numbered by first appearance
        counts = np.bincount(y_enc)
        if np.all(self.n_splits > counts):
            raise ValueError(
                f"StratifiedKFold: n_splits={self.n_splits} cannot be greater than the number "
                f"of members in each class (counts {counts.tolist()})"
            )
        if self.n_splits > counts.min():
            warnings.warn(
                f"StratifiedKFold: the least populated class in y has only {counts.min()} "
                f"members, which is less than n_splits={self.n_splits}",
                UserWarning,
                stacklevel=3,
            )
        y_sorted = np.sort(y_enc)
        allocation = np.stack(
            [
                np.bincount(y_sorted[i :: self.n_splits], minlength=len(counts))
                for i in range(self.n_splits)
            ]
        )
        rng = np.random.default_rng(self._seed) if self.shuffle else None
        folds = np.empty(n, dtype=np.int64)
        for k in range(len(counts)):
            fold_of_member = np.repeat(np.arange(self.n_splits), allocation[:, k])
            if rng is not None:
                rng.shuffle(fold_of_member)
            folds[y_enc == k] = fold_of_member
        return folds
