"""nnlab.data.preprocessing against scikit-learn (the oracle)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import model_selection as skms
from sklearn import preprocessing as skpp

import nnlab
from nnlab.data import (
    KFold,
    MinMaxScaler,
    StandardScaler,
    StratifiedKFold,
    one_hot_encode,
    train_test_split,
)


def _features(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(40, 5))
    if kind == "constant column":
        x[:, 2] = 7.5
    elif kind == "large offset":
        x = x * 1e-3 + 1e4
    elif kind == "float32":
        x = x.astype(np.float32)
    elif kind == "ints":
        x = rng.integers(-5, 5, size=(40, 5))
    elif kind == "one sample":
        x = x[:1]
    return x


FEATURE_KINDS = ["random", "constant column", "large offset", "float32", "ints", "one sample"]


def _tol(x: np.ndarray) -> dict:
    return {"rtol": 1e-5, "atol": 1e-5} if x.dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-9}


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("with_mean,with_std", [(True, True), (False, True), (True, False)])
def test_standard_scaler_matches_sklearn(kind, with_mean, with_std):
    x = _features(kind)
    ours = StandardScaler(with_mean=with_mean, with_std=with_std).fit(x)
    ref = skpp.StandardScaler(with_mean=with_mean, with_std=with_std).fit(x)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    if with_std:
        np.testing.assert_allclose(ours.var_, ref.var_, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-9)
    else:
        assert ours.var_ is None and ref.var_ is None and ours.scale_ is None
    out = ours.transform(x)
    expected = ref.transform(x)
    assert out.dtype == expected.dtype
    np.testing.assert_allclose(out, expected, **_tol(x))
    np.testing.assert_allclose(
        ours.inverse_transform(out), ref.inverse_transform(expected), **_tol(x)
    )


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("feature_range,clip", [((0, 1), False), ((-1, 2), False), ((0, 1), True)])
def test_minmax_scaler_matches_sklearn(kind, feature_range, clip):
    x = _features(kind)
    ours = MinMaxScaler(feature_range, clip=clip).fit(x[:30])
    ref = skpp.MinMaxScaler(feature_range=feature_range, clip=clip).fit(x[:30])
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-6)
    np.testing.assert_allclose(ours.min_, ref.min_, rtol=1e-6, atol=1e-6)
    out = ours.transform(x)  # includes rows outside the fitted range
    np.testing.assert_allclose(out, ref.transform(x), **_tol(x))
    assert out.dtype == ref.transform(x).dtype
    np.testing.assert_allclose(ours.inverse_transform(out), ref.inverse_transform(out), **_tol(x))


def test_scalers_fit_on_train_only():
    x = _features("random")
    x_tr, x_te = train_test_split(x, test_size=0.25, generator=nnlab.Generator(0))
    scaler = StandardScaler().fit(x_tr)
    ref = skpp.StandardScaler().fit(x_tr)
    np.testing.assert_allclose(scaler.transform(x_te), ref.transform(x_te), rtol=1e-10)
    np.testing.assert_allclose(scaler.mean_, x_tr.mean(axis=0))
    assert not np.allclose(scaler.mean_, x.mean(axis=0))  # the test split did not leak in
    np.testing.assert_allclose(scaler.transform(x_tr).mean(axis=0), 0, atol=1e-12)


def test_scalers_keep_tensors_and_fit_transform():
    x = _features("float32")
    t = nnlab.from_numpy(x)
    out = StandardScaler().fit_transform(t)
    assert isinstance(out, nnlab.Tensor) and out.dtype == np.float32
    np.testing.assert_allclose(
        out.numpy(), skpp.StandardScaler().fit_transform(x), rtol=1e-5, atol=1e-5
    )
    assert isinstance(MinMaxScaler().fit(x).transform(x), np.ndarray)


@pytest.mark.parametrize("scaler_cls", [StandardScaler, MinMaxScaler])
def test_scaler_errors(scaler_cls):
    x = _features("random")
    with pytest.raises(RuntimeError, match="not fitted yet"):
        scaler_cls().transform(x)
    fitted = scaler_cls().fit(x)
    with pytest.raises(ValueError, match="X has 3 features, but the scaler was fitted on 5"):
        fitted.transform(x[:, :3])
    with pytest.raises(ValueError, match="expected a 2-D array"):
        fitted.transform(x[:, 0])
    with pytest.raises(ValueError, match="no samples"):
        scaler_cls().fit(x[:0])


def test_minmax_bad_range():
    with pytest.raises(ValueError, match="feature_range must be"):
        MinMaxScaler((1, 0))


# -- one-hot --------------------------------------------------------------------------------


def test_one_hot_encode():
    y = np.array([2, 0, 1, 2])
    np.testing.assert_array_equal(one_hot_encode(y), np.eye(3, dtype=np.float32)[y])
    out = one_hot_encode(nnlab.tensor([1, 0]), num_classes=4, dtype=np.int64)
    assert isinstance(out, nnlab.Tensor) and out.dtype == np.int64 and out.shape == (2, 4)
    ref = skpp.OneHotEncoder(categories=[list(range(3))]).fit_transform(y[:, None]).toarray()
    np.testing.assert_array_equal(one_hot_encode(y, 3), ref)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, num_classes=2\)"):
        one_hot_encode(y, num_classes=2)
    with pytest.raises(ValueError, match="must be integers"):
        one_hot_encode([0.5, 1.0])
    with pytest.raises(ValueError, match="1-D"):
        one_hot_encode(np.zeros((2, 2), np.int64))


# -- train_test_split -----------------------------------------------------------------------

SIZE_CASES = [
    {},
    {"test_size": 0.2},
    {"test_size": 0.33},
    {"test_size": 7},
    {"train_size": 0.5},
    {"train_size": 0.6, "test_size": 0.3},
    {"train_size": 10, "test_size": 5},
]


@pytest.mark.parametrize("sizes", SIZE_CASES, ids=str)
def test_train_test_split_sizes_match_sklearn(sizes):
    x = np.arange(43 * 2).reshape(43, 2)
    ours = train_test_split(x, **sizes, generator=nnlab.Generator(0))
    ref = skms.train_test_split(x, **sizes, random_state=0)
    assert [a.shape for a in ours] == [a.shape for a in ref]
    train_rows, test_rows = ours[0][:, 0] // 2, ours[1][:, 0] // 2
    assert len(np.intersect1d(train_rows, test_rows)) == 0  # disjoint


def test_train_test_split_no_shuffle_matches_sklearn_exactly():
    x, y = np.arange(20).reshape(10, 2), np.arange(10)
    ours = train_test_split(x, y, test_size=0.3, shuffle=False)
    ref = skms.train_test_split(x, y, test_size=0.3, shuffle=False)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("test_size", [0.25, 0.1, 0.5, 13])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_split_keeps_class_counts(test_size, seed):
    rng = np.random.default_rng(seed)
    y = rng.choice(["cat", "dog", "eel"], size=101, p=[0.6, 0.3, 0.1])
    x = np.arange(101)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_size, stratify=y, generator=nnlab.Generator(seed)
    )
    _, _, _, ref_te = skms.train_test_split(x, y, test_size=test_size, stratify=y, random_state=0)
    assert sorted(np.concatenate([x_tr, x_te]).tolist()) == list(range(101))
    np.testing.assert_array_equal(y[x_tr], y_tr)
    classes = ["cat", "dog", "eel"]
    ours_counts = np.array([(y_te == c).sum() for c in classes])
    ref_counts = np.array([(ref_te == c).sum() for c in classes])
    assert ours_counts.sum() == ref_counts.sum()
    assert np.abs(ours_counts - ref_counts).max() <= 1  # equal up to the random tie-break
    expected = np.array([(y == c).sum() for c in classes]) * len(y_te) / len(y)
    assert np.abs(ours_counts - expected).max() < 1


def test_train_test_split_seeding_and_types():
    x, y = np.arange(30).reshape(15, 2), list(range(15))
    a = train_test_split(x, y, generator=nnlab.Generator(3))
    b = train_test_split(x, y, generator=nnlab.Generator(3))
    c = train_test_split(x, y, generator=nnlab.Generator(4))
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[1], c[1])
    assert isinstance(a[2], list)
    nnlab.manual_seed(8)
    t = train_test_split(nnlab.from_numpy(x), test_size=5)
    nnlab.manual_seed(8)
    u = train_test_split(x, test_size=5)
    assert isinstance(t[0], nnlab.Tensor)
    np.testing.assert_array_equal(t[1].numpy(), u[1])
    v = train_test_split(x, y, seed=3)  # an int seed is a fresh Generator(seed)
    assert all(np.array_equal(p, q) for p, q in zip(a, v))
    with pytest.raises(ValueError, match="pass seed or generator, not both"):
        train_test_split(x, seed=3, generator=nnlab.Generator(3))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"test_size": 1.5}, r"test_size=1.5 must be a fraction in \(0, 1\)"),
        ({"test_size": 10}, r"test_size=10 must be in \[1, 9\]"),
        ({"test_size": "a"}, "test_size must be an int or a float"),
        ({"train_size": 0.7, "test_size": 0.5}, "not possible"),
        ({"shuffle": False, "stratify": [0] * 10}, "stratify requires shuffle=True"),
        ({"stratify": [0] * 9 + [1]}, r"classes \[1\] have 1"),
    ],
)
def test_train_test_split_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train_test_split(np.arange(10), **kwargs)


def test_train_test_split_length_mismatch():
    with pytest.raises(ValueError, match=r"inconsistent lengths \[10, 9\]"):
        train_test_split(np.arange(10), np.arange(9))


# -- k-fold ---------------------------------------------------------------------------------


def _check_partition(folds, n):
    tests = [test for _, test in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(n))  # complete, disjoint
    for train, test in folds:
        assert len(np.intersect1d(train, test)) == 0
        assert len(train) + len(test) == n


@pytest.mark.parametrize("n,k", [(10, 5), (11, 3), (7, 7), (100, 4), (23, 2)])
def test_kfold_matches_sklearn(n, k):
    ours = list(KFold(k).split(np.zeros(n)))
    ref = list(skms.KFold(k).split(np.zeros(n)))
    for (a_tr, a_te), (b_tr, b_te) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a_tr, b_tr)
        np.testing.assert_array_equal(a_te, b_te)
    shuffled = list(KFold(k, shuffle=True, generator=nnlab.Generator(0)).split(np.zeros(n)))
    _check_partition(shuffled, n)
    assert [len(t) for _, t in shuffled] == [len(t) for _, t in ref]


def test_kfold_shuffle_is_sklearn_kfold_on_a_permutation():
    n, k = 17, 4
    kf = KFold(k, shuffle=True, generator=nnlab.Generator(5))
    perm = np.random.default_rng(kf._seed).permutation(n)
    for (_, test), (_, ref_test) in zip(kf.split(range(n)), skms.KFold(k).split(perm)):
        np.testing.assert_array_equal(test, np.sort(perm[ref_test]))
    first, second = list(kf.split(range(n))), list(kf.split(range(n)))
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, second))  # stable folds
    by_seed = KFold(k, shuffle=True, seed=5)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first, by_seed.split(range(n))))
    other = KFold(k, shuffle=True, generator=nnlab.Generator(6))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(first, other.split(range(n))))


STRAT_CASES = {
    "balanced": np.repeat([0, 1, 2], 10),
    "imbalanced": np.array([0] * 40 + [1] * 7 + [2] * 3),
    "strings, unsorted": np.array(list("bbaacbacabcbbaacab")),
    "interleaved": np.arange(60) % 3,
}


@pytest.mark.parametrize("case", list(STRAT_CASES))
@pytest.mark.parametrize("k", [2, 3])
def test_stratified_kfold_matches_sklearn(case, k):
    y = STRAT_CASES[case]
    x = np.zeros(len(y))
    ours = list(StratifiedKFold(k).split(x, y))
    ref = list(skms.StratifiedKFold(k).split(x, y))
    for (a_tr, a_te), (b_tr, b_te) in zip(ours, ref, strict=True):
        np.testing.assert_array_equal(a_tr, b_tr)
        np.testing.assert_array_equal(a_te, b_te)
    shuffled = list(StratifiedKFold(k, shuffle=True, generator=nnlab.Generator(1)).split(x, y))
    _check_partition(shuffled, len(y))
    classes = np.unique(y)
    for (_, a_te), (_, b_te) in zip(shuffled, ref):
        assert [(y[a_te] == c).sum() for c in classes] == [(y[b_te] == c).sum() for c in classes]


def test_kfold_errors():
    with pytest.raises(ValueError, match="n_splits must be at least 2"):
        KFold(1)
    with pytest.raises(TypeError, match="n_splits must be an int"):
        KFold(2.5)
    with pytest.raises(ValueError, match="n_splits=5 is greater than the number of samples"):
        list(KFold(5).split(range(3)))
    with pytest.raises(ValueError, match="y .the class labels. is required"):
        list(StratifiedKFold(2).split(range(4)))
    with pytest.raises(ValueError, match="cannot be greater than the number of members"):
        list(StratifiedKFold(3).split(range(4), [0, 0, 1, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UserWarning, match="least populated class"):
            list(StratifiedKFold(3).split(range(5), [0, 0, 0, 1, 1]))
