"""Toy datasets made to order, each built to show one thing about learning.

================================  =============================================================
generator                         what it shows
================================  =============================================================
``make_linearly_separable``       a single perceptron / logistic regression is enough
``make_xor``                      ...and here it is not: one hidden layer is needed
``make_moons``, ``make_circles``  curved decision boundaries (circles: a feature ``x² + y²``)
``make_spirals``                  a hard, many-class boundary that needs depth or width
``make_noisy_sine``               regression, under- and over-fitting a smooth curve
``make_imbalanced``               a rare positive class (fraud-like): accuracy misleads, use
                                  precision, recall, PR curves
================================  =============================================================

Every generator is seeded by ``seed`` (an int: a fresh generator, handy in configs) or by
``generator`` (an :class:`nnlab.Generator` to draw from); with neither it draws from the
global generator, so ``nnlab.manual_seed`` fixes the data. All return float32 features and
shuffled samples.
"""

from __future__ import annotations

import math

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = [
    "make_xor",
    "make_moons",
    "make_circles",
    "make_spirals",
    "make_linearly_separable",
    "make_noisy_sine",
    "make_imbalanced",
]


def _check(fn: str, n_samples: int, noise: float, minimum: int = 1) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"{fn}: n_samples must be an int, got {n_samples!r}")
    if n_samples < minimum:
        raise ValueError(f"{fn}: n_samples must be at least {minimum}, got {n_samples}")
    if not noise >= 0:
        raise ValueError(f"{fn}: noise must be >= 0, got {noise}")


def _shuffled(
    rng: np.random.Generator, x: np.ndarray, y: np.ndarray, y_dtype: type = np.int64
) -> tuple[np.ndarray, np.ndarray]:
    perm = rng.permutation(len(y))
    return x[perm].astype(np.float32), y[perm].astype(y_dtype)


def _two_classes(
    rng: np.random.Generator, class0: np.ndarray, class1: np.ndarray, noise: float
) -> tuple[np.ndarray, np.ndarray]:
    """Points of class 0 then class 1, shuffled, then blurred by Gaussian ``noise``
    (scikit-learn's order: the shuffle draws from ``rng`` before the noise)."""
    x = np.concatenate([class0, class1])
    y = np.concatenate([np.zeros(len(class0)), np.ones(len(class1))])
    x, y = _shuffled(rng, x, y)
    return (x + noise * rng.standard_normal(x.shape)).astype(np.float32), y


def make_xor(
    n_samples: int = 200,
    noise: float = 0.2,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Four Gaussian blobs at the corners ``(±1, ±1)``; the label is 1 where the signs of
    the two coordinates differ (``x0 * x1 < 0``): the XOR of the two signs.

    No straight line separates the classes, so a linear model stays near 50 % accuracy
    while one hidden layer of two or more units solves it.

    Args:
        n_samples: total samples, dealt round-robin to the four corners (default: 200).
        noise: standard deviation of the blobs (default: 0.2).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: x float32 (N, 2), y int64 (N,) in {0, 1}.

    Example:
        >>> import nnlab
        >>> x, y = make_xor(8, noise=0.0, generator=nnlab.Generator(0))
        >>> bool(((x[:, 0] * x[:, 1] < 0) == (y == 1)).all())
        True
    """
    _check("make_xor", n_samples, noise)
    rng = _seeded_rng("make_xor", seed, generator)
    corners = np.array([[1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0], [1.0, -1.0]])
    which = np.arange(n_samples) % 4
    x = corners[which] + noise * rng.standard_normal((n_samples, 2))
    y = (which % 2 == 1).astype(np.int64)  # corners 1 and 3 have opposite signs
    return _shuffled(rng, x, y)


def make_moons(
    n_samples: int = 100,
    noise: float = 0.0,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's construction): the upper moon is class
    0, the lower one, shifted right and down, class 1.

    Args:
        n_samples: total samples, ``n // 2`` in the upper moon (default: 100).
        noise: standard deviation of Gaussian noise added to every point (default: 0).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: x float32 (N, 2), y int64 (N,).

    Example:
        >>> import nnlab
        >>> x, y = make_moons(10, generator=nnlab.Generator(0))
        >>> x.shape, np.bincount(y).tolist()
        ((10, 2), [5, 5])
    """
    _check("make_moons", n_samples, noise)
    rng = _seeded_rng("make_moons", seed, generator)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = np.stack([1 - np.cos(t_in), 1 - np.sin(t_in) - 0.5], axis=1)
    return _two_classes(rng, outer, inner, noise)


def make_circles(
    n_samples: int = 100,
    noise: float = 0.0,
    factor: float = 0.8,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A large circle (class 0) around a smaller one (class 1), scikit-learn's
    construction. Linear in the feature ``x0² + x1²``, not in ``x0, x1``.

    Args:
        n_samples: total samples, ``n // 2`` on the outer circle (default: 100).
        noise: standard deviation of Gaussian noise added to every point (default: 0).
        factor: radius of the inner circle relative to the outer one, in (0, 1).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: x float32 (N, 2), y int64 (N,).

    Example:
        >>> import nnlab
        >>> x, y = make_circles(8, factor=0.5, generator=nnlab.Generator(0))
        >>> np.round(np.hypot(x[:, 0], x[:, 1]), 3)[np.argsort(y)].tolist()
        [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    """
    _check("make_circles", n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    rng = _seeded_rng("make_circles", seed, generator)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out = np.linspace(0, 2 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0, 2 * np.pi, n_in, endpoint=False)
    outer = np.stack([np.cos(t_out), np.sin(t_out)], axis=1)
    inner = factor * np.stack([np.cos(t_in), np.sin(t_in)], axis=1)
    return _two_classes(rng, outer, inner, noise)


def make_spirals(
    n_samples: int = 300,
    n_classes: int = 3,
    noise: float = 0.2,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral data).

    Arm ``k`` has radius ``r`` running from 0 to 1 and angle ``4 (k + r) + noise * N(0, 1)``
    (radians), so ``noise`` blurs the arms sideways.

    Args:
        n_samples: total samples, split as evenly as possible over the arms (default: 300).
        n_classes: the number of arms, at least 2 (default: 3).
        noise: standard deviation of the angular noise (default: 0.2).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: x float32 (N, 2), y int64 (N,) in ``[0, n_classes)``.

    Example:
        >>> import nnlab
        >>> x, y = make_spirals(30, n_classes=3, generator=nnlab.Generator(0))
        >>> x.shape, np.bincount(y).tolist()
        ((30, 2), [10, 10, 10])
    """
    _check("make_spirals", n_samples, noise)
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"make_spirals: n_classes must be an int >= 2, got {n_classes!r}")
    rng = _seeded_rng("make_spirals", seed, generator)
    counts = np.full(n_classes, n_samples // n_classes)
    counts[: n_samples % n_classes] += 1
    xs, ys = [], []
    for k, m in enumerate(counts):
        r = np.linspace(0.0, 1.0, m)
        t = 4.0 * (k + r) + noise * rng.standard_normal(m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, k))
    return _shuffled(rng, np.concatenate(xs), np.concatenate(ys))


def make_linearly_separable(
    n_samples: int = 200,
    n_features: int = 2,
    margin: float = 0.5,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian points split by a random hyperplane through the origin, with an empty gap
    of width ``margin`` between the classes, so a perceptron is guaranteed to converge.

    Draw ``x ~ N(0, I)`` and a random unit normal ``w``; the label is ``w·x > 0``, and each
    point is pushed ``margin / 2`` further from the plane along ``w``.

    Args:
        n_samples: total samples (default: 200).
        n_features: dimension of the points (default: 2).
        margin: width of the empty band between the classes, > 0 (default: 0.5).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: x float32 (N, n_features), y int64 (N,) in {0, 1}.

    Example:
        >>> import nnlab
        >>> x, y = make_linearly_separable(50, generator=nnlab.Generator(0))
        >>> x.shape, sorted(set(y.tolist()))
        ((50, 2), [0, 1])
    """
    _check("make_linearly_separable", n_samples, 0.0)
    if n_features < 1:
        raise ValueError(f"make_linearly_separable: n_features must be >= 1, got {n_features}")
    if not margin > 0:
        raise ValueError(f"make_linearly_separable: margin must be > 0, got {margin}")
    rng = _seeded_rng("make_linearly_separable", seed, generator)
    w = rng.standard_normal(n_features)
    w /= np.linalg.norm(w)
    x = rng.standard_normal((n_samples, n_features))
    side = np.where(x @ w >= 0, 1.0, -1.0)
    x += np.outer(side * margin / 2, w)
    return _shuffled(rng, x, (side > 0).astype(np.int64))


def make_noisy_sine(
    n_samples: int = 100,
    noise: float = 0.1,
    x_range: tuple[float, float] = (-math.pi, math.pi),
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Regression data: ``y = sin(x) + noise * N(0, 1)`` with ``x`` uniform on ``x_range``.

    Args:
        n_samples: number of points (default: 100).
        noise: standard deviation of the target noise (default: 0.1).
        x_range: the interval ``x`` is drawn from (default: ``(-pi, pi)``).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: both float32 of shape (N, 1), so ``y`` lines up with the output of a
        ``Linear(..., 1)`` layer (no accidental (N,) vs (N, 1) broadcasting in the loss).

    Example:
        >>> import nnlab
        >>> x, y = make_noisy_sine(5, noise=0.0, generator=nnlab.Generator(0))
        >>> x.shape, y.dtype, bool(np.allclose(y, np.sin(x), atol=1e-6))
        ((5, 1), dtype('float32'), True)
    """
    _check("make_noisy_sine", n_samples, noise)
    lo, hi = x_range
    if not lo < hi:
        raise ValueError(
            f"make_noisy_sine: x_range must be (low, high) with low < high, got {x_range}"
        )
    rng = _seeded_rng("make_noisy_sine", seed, generator)
    x = rng.uniform(lo, hi, size=(n_samples, 1))
    y = np.sin(x) + noise * rng.standard_normal((n_samples, 1))
    return x.astype(np.float32), y.astype(np.float32)


def make_imbalanced(
    n_samples: int = 10000,
    n_features: int = 10,
    n_informative: int = 4,
    positive_rate: float = 0.02,
    class_sep: float = 1.5,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A fraud-like binary set: few positives (class 1) among many negatives.

    Negatives are ``N(0, I)``. Positives are too, except that their first ``n_informative``
    features are shifted by ``class_sep`` in a random direction (random signs) and spread
    1.5 times wider; the other features are pure noise. Exactly
    ``round(positive_rate * n_samples)`` samples are positive (at least one).

    A model that always answers "negative" scores ``1 - positive_rate`` accuracy here, which
    is why recall, precision and the PR curve are the measures to watch.

    Args:
        n_samples: total samples (default: 10000).
        n_features: features per sample (default: 10).
        n_informative: how many of them tell the classes apart (default: 4).
        positive_rate: the fraction of positives, in (0, 1) (default: 0.02).
        class_sep: the shift of the positives along each informative feature (default: 1.5).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(x, y)``: x float32 (N, n_features), y int64 (N,) in {0, 1}.

    Example:
        >>> import nnlab
        >>> x, y = make_imbalanced(1000, positive_rate=0.05, generator=nnlab.Generator(0))
        >>> x.shape, int(y.sum())
        ((1000, 10), 50)
    """
    _check("make_imbalanced", n_samples, 0.0, minimum=2)
    if not 0 < positive_rate < 1:
        raise ValueError(f"make_imbalanced: positive_rate must be in (0, 1), got {positive_rate}")
    if not 1 <= n_informative <= n_features:
        raise ValueError(
            f"make_imbalanced: n_informative must be in [1, n_features={n_features}], "
            f"got {n_informative}"
        )
    rng = _seeded_rng("make_imbalanced", seed, generator)
    n_pos = min(max(round(positive_rate * n_samples), 1), n_samples - 1)
    x = rng.standard_normal((n_samples, n_features))
    direction = rng.choice([-1.0, 1.0], size=n_informative)
    x[:n_pos, :n_informative] = 1.5 * x[:n_pos, :n_informative] + class_sep * direction
    y = np.zeros(n_samples, dtype=np.int64)
    y[:n_pos] = 1
    return _shuffled(rng, x, y)
