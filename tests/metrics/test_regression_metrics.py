"""nnlab.metrics regression metrics against scikit-learn (the oracle)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn import metrics as skm

import nnlab
from nnlab import metrics as M
from nnlab.metrics import UndefinedMetricWarning

METRICS = {
    "mean_squared_error": (M.mean_squared_error, skm.mean_squared_error),
    "root_mean_squared_error": (M.root_mean_squared_error, skm.root_mean_squared_error),
    "mean_absolute_error": (M.mean_absolute_error, skm.mean_absolute_error),
    "r2_score": (M.r2_score, skm.r2_score),
}


def _case(name: str):
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    y = rng.standard_normal(30)
    if name == "random":
        return y, y + 0.3 * rng.standard_normal(30)
    if name == "perfect":
        return y, y.copy()
    if name == "constant y_true, exact":
        return np.full(10, 2.0), np.full(10, 2.0)
    if name == "constant y_true, wrong":
        return np.full(10, 2.0), np.linspace(0, 1, 10)
    if name == "worse than the mean":
        return y, -3 * y
    if name == "column vectors":
        return y[:, None], (y + 1)[:, None]
    if name == "(N,) vs (N, 1)":
        return y, (0.5 * y)[:, None]
    if name == "multi-output":
        Y = rng.standard_normal((25, 3))
        return Y, Y + rng.standard_normal((25, 3)) * np.array([0.1, 1.0, 3.0])
    if name == "multi-output, one constant column":
        Y = rng.standard_normal((25, 3))
        Y[:, 1] = 4.0
        return Y, Y + 0.2
    if name == "float32 and ints":
        return np.arange(12, dtype=np.int64), np.arange(12, dtype=np.float32) * 1.1
    if name == "large magnitudes":
        return 1e8 + y, 1e8 + y + 0.5
    raise KeyError(name)


CASES = [
    "random",
    "perfect",
    "constant y_true, exact",
    "constant y_true, wrong",
    "worse than the mean",
    "column vectors",
    "(N,) vs (N, 1)",
    "multi-output",
    "multi-output, one constant column",
    "float32 and ints",
    "large magnitudes",
]


@pytest.mark.parametrize("metric", list(METRICS))
@pytest.mark.parametrize("case", CASES)
def test_regression_metrics_match_sklearn(metric, case):
    ours_fn, ref_fn = METRICS[metric]
    y_true, y_pred = _case(case)
    options = ["raw_values", "uniform_average"]
    if metric == "r2_score":
        options.append("variance_weighted")
    n_out = 1 if y_true.ndim == 1 else y_true.shape[1]
    if n_out > 1:
        options.append(np.arange(1.0, n_out + 1))
    for multioutput in options:
        ours = ours_fn(y_true, y_pred, multioutput=multioutput)
        ref = ref_fn(y_true, y_pred, multioutput=multioutput)
        where = f"{metric} {case} multioutput={multioutput}"
        if isinstance(ref, float):
            assert isinstance(ours, float), where
        else:
            assert isinstance(ours, np.ndarray) and ours.shape == ref.shape, where
        # scikit-learn computes float32 inputs in float32, nnlab always in float64.
        rtol = 1e-6 if np.float32 in (y_true.dtype, y_pred.dtype) else 1e-9
        np.testing.assert_allclose(ours, ref, rtol=rtol, atol=1e-12, err_msg=where)


@pytest.mark.parametrize("metric", list(METRICS))
def test_tensors_and_lists_accepted(metric):
    ours_fn, ref_fn = METRICS[metric]
    y_true, y_pred = _case("random")
    ref = ref_fn(y_true, y_pred)
    assert ours_fn(y_true.tolist(), y_pred.tolist()) == pytest.approx(ref, rel=1e-12)
    pred = nnlab.tensor(y_pred.astype(np.float32), requires_grad=True)
    got = ours_fn(nnlab.tensor(y_true.astype(np.float32)), pred)
    assert isinstance(got, float) and got == pytest.approx(ref, rel=1e-5)


def test_r2_needs_two_samples():
    with pytest.warns(UndefinedMetricWarning, match="fewer than two samples"):
        assert np.isnan(M.r2_score([1.0], [2.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(skm.r2_score([1.0], [2.0]))


BAD_INPUT = [
    (
        M.mean_squared_error,
        ([1.0, 2.0, 3.0], [1.0, 2.0]),
        {},
        r"y_true and y_pred have different lengths \(3 and 2\)",
    ),
    (M.r2_score, (np.ones((4, 2)), np.ones((4, 3))), {}, "y_true has 2 outputs but y_pred has 3"),
    (
        M.mean_absolute_error,
        ([1.0], [1.0]),
        {"multioutput": "foo"},
        "multioutput='foo' is not one of 'raw_values', 'uniform_average' or an array of weights",
    ),
    (
        M.mean_squared_error,
        ([1.0], [1.0]),
        {"multioutput": "variance_weighted"},
        "is not one of 'raw_values', 'uniform_average'",
    ),
    (
        M.r2_score,
        (np.ones((4, 2)), np.ones((4, 2))),
        {"multioutput": [1.0, 2.0, 3.0]},
        r"one entry per output \(2\)",
    ),
    (
        M.root_mean_squared_error,
        (np.ones((2, 2, 2)), np.ones((2, 2, 2))),
        {},
        r"shape \(N,\) or \(N, K\)",
    ),
    (M.mean_squared_error, ([], []), {}, "empty"),
]


@pytest.mark.parametrize("fn,args,kwargs,match", BAD_INPUT)
def test_bad_input(fn, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)
