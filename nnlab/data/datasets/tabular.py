"""Small classic tabular datasets, bundled with scikit-learn (no download).

Each loader returns ``(x, y)``: float32 features of shape (N, F) and int64 class labels of
shape (N,), ready for :class:`~nnlab.data.TensorDataset`. :func:`standardized_split` does
the usual next step (a stratified train/test split and a scaler fitted on the train part
only).

======================  =====  ========  =======  ==========================================
loader                  N      features  classes  what
======================  =====  ========  =======  ==========================================
``load_iris``           150    4         3        iris flower measurements
``load_wine``           178    13        3        chemical analysis of three cultivars
``load_breast_cancer``  569    30        2        tumour cell nuclei (0 malignant, 1 benign)
``load_digits``         1797   64        10       8x8 handwritten digits, pixels in [0, 16]
======================  =====  ========  =======  ==========================================
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from nnlab.data.preprocessing import StandardScaler, train_test_split
from nnlab.random import Generator

__all__ = [
    "Split",
    "load_iris",
    "load_wine",
    "load_breast_cancer",
    "load_digits",
    "standardized_split",
]


class Split(NamedTuple):
    """A train/test split, in ``train_test_split``'s order."""

    x_train: np.ndarray
    x_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets  # lazy: scikit-learn (~0.4 s) only when a loader runs

    bunch = getattr(datasets, name)()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris: 150 flowers, 4 measurements (cm), 3 species of 50.

    Example:
        >>> x, y = load_iris()
        >>> x.shape, x.dtype, y.dtype, np.bincount(y).tolist()
        ((150, 4), dtype('float32'), dtype('int64'), [50, 50, 50])
    """
    return _load("load_iris")


def load_wine() -> tuple[np.ndarray, np.ndarray]:
    """Wine: 178 wines, 13 chemical measurements, 3 cultivars (59, 71, 48).

    Example:
        >>> x, y = load_wine()
        >>> x.shape, np.bincount(y).tolist()
        ((178, 13), [59, 71, 48])
    """
    return _load("load_wine")


def load_breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    """Wisconsin breast cancer: 569 tumours, 30 features, 212 malignant (0), 357 benign (1).

    Example:
        >>> x, y = load_breast_cancer()
        >>> x.shape, np.bincount(y).tolist()
        ((569, 30), [212, 357])
    """
    return _load("load_breast_cancer")


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """Handwritten digits: 1797 images of 8x8 pixels (flattened to 64, values 0..16), 10
    classes. Reshape with ``x.reshape(-1, 1, 8, 8)`` for a convolutional net.

    Example:
        >>> x, y = load_digits()
        >>> x.shape, float(x.max()), len(np.unique(y))
        ((1797, 64), 16.0, 10)
    """
    return _load("load_digits")


def standardized_split(
    x: Any,
    y: Any,
    test_size: float = 0.2,
    stratify: bool = True,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[Split, StandardScaler]:
    """Split into train and test, then standardise both with a scaler fitted on train only.

    Args:
        x: features, shape (N, F).
        y: class labels, shape (N,).
        test_size: the test fraction (default: 0.2).
        stratify: keep the class proportions in both parts (default: True).
        seed, generator: an int seed, or a Generator to draw the shuffle from (default:
            the global generator).

    Returns:
        ``(Split(x_train, x_test, y_train, y_test), scaler)``; features stay float32.

    Example:
        >>> import nnlab
        >>> (x_tr, x_te, y_tr, y_te), scaler = standardized_split(*load_iris(), seed=0)
        >>> x_tr.shape, x_te.shape, x_tr.dtype
        ((120, 4), (30, 4), dtype('float32'))
        >>> bool(np.allclose(x_tr.mean(axis=0), 0, atol=1e-5))
        True
    """
    x_tr, x_te, y_tr, y_te = train_test_split(
        x,
        y,
        test_size=test_size,
        stratify=y if stratify else None,
        seed=seed,
        generator=generator,
    )
    scaler = StandardScaler().fit(x_tr)
    return Split(scaler.transform(x_tr), scaler.transform(x_te), y_tr, y_te), scaler
