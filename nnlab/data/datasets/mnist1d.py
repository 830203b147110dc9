"""MNIST-1D: a small, procedurally generated stand-in for MNIST (Greydanus, 2020).

Each sample is a 1-D signal of 40 points made from one of ten digit-like templates, then
padded, translated, scaled, sheared and noised; the label is the template. It is small
enough to train on a laptop CPU in seconds yet, unlike MNIST, linear models and MLPs
clearly trail convolutional nets on it. The data are *generated locally* with the
``mnist1d`` package (nothing is downloaded) and are identical for the same arguments.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np

__all__ = ["load_mnist1d"]


def load_mnist1d(
    num_samples: int = 5000, seed: int = 42, **overrides: Any
) -> dict[str, np.ndarray]:
    """Generate MNIST-1D with ``mnist1d.data.make_dataset`` (no download).

    The package makes ``num_samples // 10`` samples per class, shuffles them and keeps the
    first ``train_split`` (default 0.8) for training, as it does; ``x`` is standardised
    over the whole set by the package itself.

    Args:
        num_samples: total number of samples, at least 10 (default: 5000, the package's).
        seed: the package's seed (default: 42, the package's).
        **overrides: any other argument of ``mnist1d.data.get_dataset_args``, e.g.
            ``train_split=0.9`` or ``iid_noise_scale=0.05``.

    Returns:
        The package's splits under its own keys: ``{"x", "y"}`` (train) and
        ``{"x_test", "y_test"}``; x float32 of shape (N, 40), y int64 of shape (N,).

    Example:
        >>> data = load_mnist1d(num_samples=200, seed=0)
        >>> data["x"].shape, data["x_test"].shape, data["x"].dtype, data["y"].dtype
        ((160, 40), (40, 40), dtype('float32'), dtype('int64'))
    """
    # lazy: mnist1d pulls in scipy/sklearn (~0.4 s), which `import nnlab` should not pay
    from mnist1d.data import get_dataset_args, make_dataset

    if not isinstance(num_samples, int) or num_samples < 10:
        raise ValueError(f"load_mnist1d: num_samples must be an int >= 10, got {num_samples!r}")
    args = get_dataset_args()
    unknown = sorted(set(overrides) - set(vars(args)))
    if unknown:
        raise ValueError(
            f"load_mnist1d: unknown arguments {unknown}; allowed: {sorted(vars(args))}"
        )
    for key, value in {**overrides, "num_samples": num_samples, "seed": seed}.items():
        setattr(args, key, value)
    # make_dataset seeds NumPy's and Python's global generators; put them back afterwards
    # so that generating data does not change anybody else's random numbers.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {
        "x": data["x"].astype(np.float32),
        "y": data["y"].astype(np.int64),
        "x_test": data["x_test"].astype(np.float32),
        "y_test": data["y_test"].astype(np.int64),
    }
