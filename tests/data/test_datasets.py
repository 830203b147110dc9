"""nnlab.data.datasets: shapes, dtypes, class counts, determinism and the property each
synthetic set was built to show."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn import datasets as skds
from sklearn.linear_model import LogisticRegression, Perceptron

import nnlab
from nnlab.data.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    load_mnist1d,
    load_wine,
    make_circles,
    make_imbalanced,
    make_linearly_separable,
    make_moons,
    make_noisy_sine,
    make_spirals,
    make_xor,
    standardized_split,
)

# -- tabular ----------------------------------------------------------------------------------

TABULAR = {
    "iris": (load_iris, skds.load_iris, (150, 4), [50, 50, 50]),
    "wine": (load_wine, skds.load_wine, (178, 13), [59, 71, 48]),
    "breast_cancer": (load_breast_cancer, skds.load_breast_cancer, (569, 30), [212, 357]),
    "digits": (load_digits, skds.load_digits, (1797, 64), None),
}


@pytest.mark.parametrize("name", list(TABULAR))
def test_tabular_loaders(name):
    ours, ref, shape, counts = TABULAR[name]
    x, y = ours()
    bunch = ref()
    assert x.shape == shape and x.dtype == np.float32
    assert y.shape == (shape[0],) and y.dtype == np.int64
    np.testing.assert_array_equal(x, bunch.data.astype(np.float32))
    np.testing.assert_array_equal(y, bunch.target)
    if counts is not None:
        assert np.bincount(y).tolist() == counts
    else:
        assert len(np.unique(y)) == 10


def test_standardized_split_fits_on_train_only():
    x, y = load_wine()
    (x_tr, x_te, y_tr, y_te), scaler = standardized_split(
        x, y, test_size=0.25, generator=nnlab.Generator(0)
    )
    assert len(x_tr) + len(x_te) == len(x) and len(x_te) == 45
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int64
    np.testing.assert_allclose(x_tr.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(x_tr.std(axis=0), 1, atol=1e-4)
    # The scaler's statistics are the raw training rows', recovered by inverting it.
    raw_train = scaler.inverse_transform(x_tr)
    np.testing.assert_allclose(scaler.mean_, raw_train.mean(axis=0), rtol=1e-4)
    assert not np.allclose(x_te.mean(axis=0), 0, atol=1e-3)
    # Stratified: class proportions preserved within one sample.
    expected = np.bincount(y) * len(y_te) / len(y)
    assert np.abs(np.bincount(y_te) - expected).max() < 1
    again, _ = standardized_split(x, y, test_size=0.25, generator=nnlab.Generator(0))
    np.testing.assert_array_equal(again.x_test, x_te)


# -- MNIST-1D ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist1d():
    return load_mnist1d()  # the package defaults: 5000 samples, seed 42 (~1 s)


def test_mnist1d_shapes_and_dtypes(mnist1d):
    assert set(mnist1d) == {"x", "y", "x_test", "y_test"}
    assert mnist1d["x"].shape == (4000, 40) and mnist1d["x_test"].shape == (1000, 40)
    assert mnist1d["x"].dtype == np.float32 and mnist1d["y"].dtype == np.int64
    assert mnist1d["y"].shape == (4000,) and mnist1d["y_test"].shape == (1000,)
    assert mnist1d["x_test"].dtype == np.float32 and mnist1d["y_test"].dtype == np.int64
    y = np.concatenate([mnist1d["y"], mnist1d["y_test"]])
    assert np.bincount(y).tolist() == [500] * 10  # the package makes n // 10 per class
    x = np.concatenate([mnist1d["x"], mnist1d["x_test"]])
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3  # standardised


def test_mnist1d_is_the_package_data_and_deterministic():
    from mnist1d.data import get_dataset_args, make_dataset

    ours = load_mnist1d(num_samples=300, seed=7, train_split=0.9)
    args = get_dataset_args()
    args.num_samples, args.seed, args.train_split = 300, 7, 0.9
    ref = make_dataset(args)
    for key in ("x", "y", "x_test", "y_test"):
        np.testing.assert_array_equal(ours[key], ref[key].astype(ours[key].dtype))
    assert ours["x"].shape == (270, 40)
    again = load_mnist1d(num_samples=300, seed=7, train_split=0.9)
    np.testing.assert_array_equal(again["x_test"], ours["x_test"])


def test_mnist1d_leaves_global_random_state_alone():
    np.random.seed(123)
    random.seed(123)
    expected_np, expected_py = np.random.random(), random.random()
    np.random.seed(123)
    random.seed(123)
    load_mnist1d(num_samples=100, seed=0)
    assert np.random.random() == expected_np and random.random() == expected_py


def test_mnist1d_errors():
    with pytest.raises(ValueError, match="num_samples must be an int >= 10"):
        load_mnist1d(num_samples=5)
    with pytest.raises(ValueError, match=r"unknown arguments \['bogus'\]"):
        load_mnist1d(num_samples=100, bogus=1)


# -- synthetic ----------------------------------------------------------------------------------

SYNTHETIC = {
    # name: (function, kwargs, x shape, y dtype, classes)
    "xor": (make_xor, {"n_samples": 101}, (101, 2), np.int64, 2),
    "moons": (make_moons, {"n_samples": 101, "noise": 0.1}, (101, 2), np.int64, 2),
    "circles": (make_circles, {"n_samples": 100, "noise": 0.05}, (100, 2), np.int64, 2),
    "spirals": (make_spirals, {"n_samples": 101, "n_classes": 4}, (101, 2), np.int64, 4),
    "separable": (make_linearly_separable, {"n_features": 5}, (200, 5), np.int64, 2),
    "sine": (make_noisy_sine, {"n_samples": 60}, (60, 1), np.float32, None),
    "imbalanced": (make_imbalanced, {"n_samples": 500}, (500, 10), np.int64, 2),
}  # fmt: skip


@pytest.mark.parametrize("name", list(SYNTHETIC))
def test_synthetic_shapes_dtypes_and_determinism(name):
    fn, kwargs, shape, y_dtype, n_classes = SYNTHETIC[name]
    x, y = fn(**kwargs, generator=nnlab.Generator(0))
    assert x.shape == shape and x.dtype == np.float32 and y.dtype == y_dtype
    assert len(y) == shape[0]
    if n_classes is not None:
        assert sorted(np.unique(y).tolist()) == list(range(n_classes))
    x2, y2 = fn(**kwargs, generator=nnlab.Generator(0))
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = fn(**kwargs, generator=nnlab.Generator(1))
    assert not np.array_equal(x, x3)
    nnlab.manual_seed(5)
    a, _ = fn(**kwargs)
    nnlab.manual_seed(5)
    b, _ = fn(**kwargs)
    np.testing.assert_array_equal(a, b)
    x4, y4 = fn(**kwargs, seed=0)  # an int seed is a fresh Generator(seed)
    np.testing.assert_array_equal(x4, x)
    np.testing.assert_array_equal(y4, y)
    with pytest.raises(ValueError, match=f"{fn.__name__}: pass seed or generator, not both"):
        fn(**kwargs, seed=0, generator=nnlab.Generator(0))
    with pytest.raises(TypeError, match="seed must be an int"):
        fn(**kwargs, seed=1.5)


def _linear_train_accuracy(x, y):
    return LogisticRegression(C=1e4, max_iter=5000).fit(x, y).score(x, y)


def test_xor_is_not_linearly_separable():
    x, y = make_xor(400, noise=0.1, generator=nnlab.Generator(0))
    assert np.bincount(y).tolist() == [200, 200]
    assert _linear_train_accuracy(x, y) < 0.7
    # ...but one product feature makes it separable.
    assert _linear_train_accuracy(np.c_[x, x[:, 0] * x[:, 1]], y) == 1.0


@pytest.mark.parametrize("n_features", [2, 8])
def test_linearly_separable_is(n_features):
    x, y = make_linearly_separable(300, n_features=n_features, generator=nnlab.Generator(3))
    clf = Perceptron(max_iter=10000, tol=None, random_state=0).fit(x, y)
    assert clf.score(x, y) == 1.0
    assert 0.3 < y.mean() < 0.7


def test_moons_and_circles_match_sklearn_without_noise():
    for ours, ref in [(make_moons, skds.make_moons), (make_circles, skds.make_circles)]:
        x, y = ours(51, generator=nnlab.Generator(0))
        xr, yr = ref(51, shuffle=False)
        for c in (0, 1):
            mine = np.sort(x[y == c].round(5), axis=0)
            theirs = np.sort(xr[yr == c].astype(np.float32).round(5), axis=0)
            np.testing.assert_allclose(mine, theirs, atol=1e-5)
    x, y = make_circles(200, noise=0.0, factor=0.3, generator=nnlab.Generator(0))
    assert _linear_train_accuracy(x, y) < 0.8
    assert _linear_train_accuracy(np.c_[x, (x**2).sum(1)], y) == 1.0


def test_spirals():
    x, y = make_spirals(300, n_classes=3, noise=0.0, generator=nnlab.Generator(0))
    assert np.bincount(y).tolist() == [100, 100, 100]
    assert np.hypot(x[:, 0], x[:, 1]).max() <= 1.0 + 1e-6
    assert _linear_train_accuracy(x, y) < 0.7


def test_noisy_sine():
    x, y = make_noisy_sine(500, noise=0.0, generator=nnlab.Generator(0))
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    assert x.min() >= -np.pi and x.max() <= np.pi
    x, y = make_noisy_sine(5000, noise=0.3, x_range=(0, 1), generator=nnlab.Generator(0))
    assert abs(float((y - np.sin(x)).std()) - 0.3) < 0.02
    assert x.min() >= 0 and x.max() <= 1


@pytest.mark.parametrize("rate", [0.02, 0.1, 0.5])
def test_imbalanced_positive_rate_and_signal(rate):
    x, y = make_imbalanced(3000, positive_rate=rate, generator=nnlab.Generator(0))
    assert int(y.sum()) == round(rate * 3000)
    gap = np.abs(x[y == 1].mean(axis=0) - x[y == 0].mean(axis=0))
    assert (gap[:4] > 1.0).all() and (gap[4:] < 0.5).all()  # informative vs noise features


SYNTHETIC_ERRORS = [
    (make_xor, {"n_samples": 0}, "n_samples must be at least 1"),
    (make_moons, {"noise": -1.0}, "noise must be >= 0"),
    (make_circles, {"factor": 1.5}, r"factor must be in \(0, 1\)"),
    (make_spirals, {"n_classes": 1}, "n_classes must be an int >= 2"),
    (make_linearly_separable, {"margin": 0.0}, "margin must be > 0"),
    (make_noisy_sine, {"x_range": (1.0, 0.0)}, "x_range must be"),
    (make_imbalanced, {"positive_rate": 1.5}, r"positive_rate must be in \(0, 1\)"),
    (make_imbalanced, {"n_informative": 20}, r"n_informative must be in \[1, n_features=10\]"),
]


@pytest.mark.parametrize("fn,kwargs,match", SYNTHETIC_ERRORS)
def test_synthetic_errors(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)
