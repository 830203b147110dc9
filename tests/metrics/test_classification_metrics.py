"""nnlab.metrics classification and ranking metrics against scikit-learn (the oracle).

One table of label cases (random and degenerate) drives every label metric, one table of
score cases (with ties) every curve and area; each is compared value by value, warnings
included.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import nnlab
from nnlab import metrics as M
from nnlab.metrics import UndefinedMetricWarning


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- the label cases ----------------------------------------------------------------------------

LABEL_CASES = {
    "binary random": (_rng(0).integers(0, 2, 50), _rng(1).integers(0, 2, 50)),
    "3 classes random": (_rng(2).integers(0, 3, 60), _rng(3).integers(0, 3, 60)),
    "5 classes random": (_rng(4).integers(0, 5, 80), _rng(5).integers(0, 5, 80)),
    "class absent from y_true": (np.array([0, 0, 1, 1, 0, 1]), np.array([0, 2, 1, 2, 0, 1])),
    "class absent from y_pred": (np.array([0, 2, 1, 2, 0, 1]), np.array([0, 0, 1, 1, 0, 1])),
    "all-same predictions": (_rng(6).integers(0, 3, 30), np.full(30, 1)),
    "all-same binary predictions": (_rng(7).integers(0, 2, 20), np.zeros(20, np.int64)),
    "all-same true and pred": (np.zeros(10, np.int64), np.zeros(10, np.int64)),
    "only negatives predicted and true": (np.array([0, 0, 0]), np.array([0, 0, 0])),
    "perfect": (np.array([0, 1, 2, 2, 1]), np.array([0, 1, 2, 2, 1])),
    "all wrong": (np.array([0, 1, 0, 1]), np.array([1, 0, 1, 0])),
    "single sample": (np.array([1]), np.array([1])),
    "string labels": (np.array(list("abcabca")), np.array(list("abbacca"))),
    "float labels": (np.array([0.0, 1.0, 2.0, 1.0]), np.array([0.0, 2.0, 2.0, 1.0])),
    "negative labels": (np.array([-1, 1, 1, -1, 1]), np.array([1, 1, -1, -1, 1])),
}
ZERO_DIVISION = ["warn", 0, 1, np.nan]
AVERAGES = [None, "micro", "macro", "weighted", "binary"]


def _call(fn, *args, **kwargs):
    """Run ``fn``, returning (result or exception type, UndefinedMetricWarning raised?)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = fn(*args, **kwargs)
        except ValueError:
            out = ValueError
    warned = any(
        issubclass(w.category, (UndefinedMetricWarning, skm._classification.UndefinedMetricWarning))
        for w in caught
    )
    return out, warned


def _assert_same(ours, ref, where: str) -> None:
    if ref is ValueError or ours is ValueError:
        assert ours is ref, f"{where}: one raised ValueError, the other did not"
        return
    if isinstance(ref, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(ref), where
        for a, b in zip(ours, ref):
            _assert_same(a, b, where)
        return
    if ref is None:
        assert ours is None, where
        return
    if isinstance(ref, float):
        assert isinstance(ours, float), f"{where}: expected a Python float, got {type(ours)}"
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=where)


@pytest.mark.parametrize("case", list(LABEL_CASES))
@pytest.mark.parametrize("zero_division", ZERO_DIVISION, ids=str)
def test_precision_recall_f1_match_sklearn(case, zero_division):
    y_true, y_pred = LABEL_CASES[case]
    pos = "b" if y_true.dtype.kind == "U" else 1
    for average in AVERAGES:
        kw = dict(average=average, zero_division=zero_division)
        if average == "binary":
            kw["pos_label"] = pos
        pairs = [
            (M.precision_recall_fscore_support, skm.precision_recall_fscore_support),
            (M.precision, skm.precision_score),
            (M.recall, skm.recall_score),
            (M.f1_score, skm.f1_score),
        ]
        for ours_fn, ref_fn in pairs:
            ours, ours_warned = _call(ours_fn, y_true, y_pred, **kw)
            ref, ref_warned = _call(ref_fn, y_true, y_pred, **kw)
            where = f"{ours_fn.__name__} {case} {kw}"
            _assert_same(ours, ref, where)
            assert ours_warned == ref_warned, f"{where}: warning parity"


@pytest.mark.parametrize("beta", [0.0, 0.5, 2.0, np.inf])
def test_fbeta_matches_sklearn(beta):
    y_true, y_pred = LABEL_CASES["5 classes random"]
    for average in [None, "macro", "micro", "weighted"]:
        ours = M.precision_recall_fscore_support(y_true, y_pred, beta=beta, average=average)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = skm.precision_recall_fscore_support(y_true, y_pred, beta=beta, average=average)
        _assert_same(ours, ref, f"beta={beta} average={average}")


@pytest.mark.parametrize(
    "labels",
    [[0, 1], [2, 0, 1], [0, 1, 2, 7], [4]],
    ids=["subset", "reordered", "extra absent label", "absent only"],
)
def test_labels_argument_matches_sklearn(labels):
    y_true, y_pred = LABEL_CASES["3 classes random"]
    for average in [None, "micro", "macro", "weighted"]:
        for zd in ["warn", 1]:
            ours, w1 = _call(
                M.precision_recall_fscore_support,
                y_true,
                y_pred,
                labels=labels,
                average=average,
                zero_division=zd,
            )
            ref, w2 = _call(
                skm.precision_recall_fscore_support,
                y_true,
                y_pred,
                labels=labels,
                average=average,
                zero_division=zd,
            )
            _assert_same(ours, ref, f"labels={labels} average={average}")
            assert w1 == w2


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_accuracy_and_confusion_matrix_match_sklearn(case):
    y_true, y_pred = LABEL_CASES[case]
    _assert_same(M.accuracy(y_true, y_pred), skm.accuracy_score(y_true, y_pred), case)
    _assert_same(
        M.accuracy(y_true, y_pred, normalize=False),
        skm.accuracy_score(y_true, y_pred, normalize=False),
        case,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for normalize in [None, "true", "pred", "all"]:
            ours = M.confusion_matrix(y_true, y_pred, normalize=normalize)
            ref = skm.confusion_matrix(y_true, y_pred, normalize=normalize)
            assert ours.dtype == ref.dtype
            np.testing.assert_allclose(ours, ref, err_msg=f"{case} normalize={normalize}")


@pytest.mark.filterwarnings("ignore:A single label was found")
def test_confusion_matrix_labels_and_num_classes():
    y_true, y_pred = LABEL_CASES["5 classes random"]
    for labels in ([0, 1, 2, 3, 4, 5], [4, 2, 0], [3]):
        np.testing.assert_array_equal(
            M.confusion_matrix(y_true, y_pred, labels=labels),
            skm.confusion_matrix(y_true, y_pred, labels=labels),
        )
    np.testing.assert_array_equal(
        M.confusion_matrix(y_true, y_pred, num_classes=7),
        skm.confusion_matrix(y_true, y_pred, labels=range(7)),
    )
    with pytest.raises(ValueError, match=r"y_pred has labels outside range\(num_classes=3\)"):
        M.confusion_matrix([0, 1], [0, 4], num_classes=3)
    with pytest.raises(ValueError, match="must be in y_true"):
        M.confusion_matrix([0, 1], [0, 1], labels=[5])
    with pytest.raises(ValueError, match="normalize='rows' is not one of None, 'true', 'pred'"):
        M.confusion_matrix([0, 1], [0, 1], normalize="rows")
    with pytest.raises(ValueError, match="not both"):
        M.confusion_matrix([0, 1], [0, 1], labels=[0, 1], num_classes=2)
    with pytest.warns(UserWarning, match="a single label was found"):
        assert M.confusion_matrix([2, 2], [2, 2]).tolist() == [[2]]


@pytest.mark.parametrize(
    "case", ["3 classes random", "class absent from y_pred", "string labels", "binary random"]
)
@pytest.mark.parametrize("zero_division", ["warn", 0, 1, np.nan], ids=str)
def test_classification_report_matches_sklearn(case, zero_division):
    y_true, y_pred = LABEL_CASES[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = M.classification_report(y_true, y_pred, zero_division=zero_division)
        ref = skm.classification_report(
            y_true, y_pred, output_dict=True, zero_division=zero_division
        )
        assert list(ours) == list(ref)
        for key in ref:
            _assert_same(
                ours[key] if key == "accuracy" else tuple(map(float, ours[key].values())),
                ref[key] if key == "accuracy" else tuple(map(float, ref[key].values())),
                f"{case} {key}",
            )
        labels = np.unique(y_true)[:2]
        names = [f"class {c}" for c in labels]
        ours = M.classification_report(y_true, y_pred, labels=labels, target_names=names)
        ref = skm.classification_report(
            y_true, y_pred, labels=labels, target_names=names, output_dict=True
        )
    assert list(ours) == list(ref)  # 'micro avg' replaces 'accuracy' for a subset of labels
    key = "micro avg" if "micro avg" in ref else "weighted avg"
    assert ours[key]["f1-score"] == pytest.approx(ref[key]["f1-score"])
    assert isinstance(ours[names[0]]["support"], int)


def test_scores_are_argmaxed_and_tensors_accepted():
    rng = _rng(10)
    logits = rng.standard_normal((40, 4)).astype(np.float32)
    y_true = rng.integers(0, 4, 40)
    y_pred = logits.argmax(1)
    expected = skm.accuracy_score(y_true, y_pred)
    assert M.accuracy(y_true, logits) == expected
    assert M.accuracy(nnlab.tensor(y_true), nnlab.tensor(logits, requires_grad=True)) == expected
    assert M.accuracy(y_true.tolist(), y_pred.tolist()) == expected
    np.testing.assert_array_equal(
        M.confusion_matrix(nnlab.tensor(y_true), nnlab.tensor(logits)),
        skm.confusion_matrix(y_true, y_pred),
    )
    assert M.f1_score(y_true, logits, average="macro") == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro")
    )
    assert M.accuracy(y_true[:, None], y_pred[:, None]) == expected  # column vectors
    assert M.accuracy([True, False], [1, 0]) == 1.0


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("ties", [False, True])
def test_top_k_accuracy_matches_sklearn(k, ties):
    rng = _rng(11)
    scores = rng.standard_normal((60, 4))
    if ties:
        scores = rng.integers(0, 3, (60, 4)).astype(float)  # many ties
    y_true = rng.integers(0, 4, 60)
    assert M.top_k_accuracy(y_true, scores, k=k) == skm.top_k_accuracy_score(y_true, scores, k=k)
    assert M.top_k_accuracy(y_true, scores, k=k, normalize=False) == skm.top_k_accuracy_score(
        y_true, scores, k=k, normalize=False
    )
    y_sub = np.where(y_true == 3, 0, y_true)  # class 3 absent: labels are needed
    assert M.top_k_accuracy(y_sub, scores, k=k, labels=[0, 1, 2, 3]) == skm.top_k_accuracy_score(
        y_sub, scores, k=k, labels=[0, 1, 2, 3]
    )


def test_top_k_accuracy_binary_and_errors():
    y = np.array([0, 1, 1, 0, 1])
    for s in ([0.2, 0.8, 0.4, 0.1, 0.9], [-1.0, 2.0, -0.5, -2.0, 0.3]):
        assert M.top_k_accuracy(y, s, k=1) == skm.top_k_accuracy_score(y, s, k=1)
    with pytest.warns(UndefinedMetricWarning, match="perfect score"):
        assert M.top_k_accuracy(y, [0.1] * 5, k=2) == 1.0
    with pytest.raises(ValueError, match="y_true has 2 classes but y_score has 3 columns"):
        M.top_k_accuracy(y, np.ones((5, 3)), k=1)
    with pytest.raises(ValueError, match="k must be a positive int"):
        M.top_k_accuracy(y, np.ones((5, 2)), k=0)


# -- bad input --------------------------------------------------------------------------------

BAD_INPUT = [
    (
        M.f1_score,
        ([0, 1], [0, 1]),
        {"average": "foo"},
        "average='foo' is not one of None, 'binary', 'micro', 'macro', 'weighted'",
    ),
    (M.precision, ([0, 1, 2], [0, 1]), {}, r"different lengths \(3 and 2\)"),
    (M.accuracy, ([0, 1, 1], [0, 1]), {}, r"y_true and y_pred have different lengths \(3 and 2\)"),
    (M.recall, ([0, 1, 2], [0, 1, 2]), {}, "3 classes but average='binary'"),
    (
        M.precision,
        ([0, 2], [0, 2]),
        {},
        r"pos_label=1 is not a valid label; it should be one of \[0, 2\]",
    ),
    (
        M.f1_score,
        ([0, 1], [0, 1]),
        {"zero_division": "nope"},
        "zero_division='nope' is not one of 'warn', 0, 1 or np.nan",
    ),
    (M.accuracy, ([0, 1], [0.2, 0.9]), {}, "looks like scores or probabilities"),
    (M.accuracy, (np.eye(2), [0, 1]), {}, r"y_true must be 1-D class labels, got shape \(2, 2\)"),
    (M.accuracy, ([], []), {}, "empty"),
    (M.accuracy, (["a", "b"], [0, 1]), {}, "mix string and numeric labels"),
    (M.precision_recall_fscore_support, ([0, 1], [0, 1]), {"beta": -1.0}, "beta must be >= 0"),
    (
        M.classification_report,
        ([0, 1], [0, 1]),
        {"target_names": ["a"]},
        "1 target_names for 2 labels",
    ),
]


@pytest.mark.parametrize("fn,args,kwargs,match", BAD_INPUT)
def test_bad_input_raises_clear_value_error(fn, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(*args, **kwargs)


def test_pos_label_ignored_warning_like_sklearn():
    with pytest.warns(UserWarning, match="pos_label=2 is ignored"):
        M.f1_score([0, 1, 2], [0, 1, 2], average="macro", pos_label=2)


# -- curves and areas ---------------------------------------------------------------------------


def _scores(seed: int, n: int, decimals: int | None) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.random(n) + 0.4 * y
    if decimals is not None:
        s = s.round(decimals)  # ties
    return y, s


SCORE_CASES = {
    "random": _scores(0, 100, None),
    "ties": _scores(1, 100, 1),
    "heavy ties": _scores(2, 60, 0),
    "all scores equal": (_rng(3).integers(0, 2, 20), np.full(20, 0.5)),
    "perfect ranking": (np.array([0, 0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.8, 0.9])),
    "inverted ranking": (np.array([1, 1, 0, 0]), np.array([0.1, 0.2, 0.3, 0.8])),
    "two samples": (np.array([0, 1]), np.array([0.3, 0.3])),
    "int scores": (np.array([0, 1, 1, 0, 1, 0]), np.array([3, 5, 5, 1, 2, 3])),
    "float32 logits": (
        _scores(4, 50, None)[0],
        (_scores(4, 50, None)[1] * 4 - 2).astype(np.float32),
    ),
    "labels -1/1": (np.array([-1, 1, 1, -1, 1, -1]), np.array([0.2, 0.7, 0.4, 0.4, 0.9, 0.1])),
    "only negatives": (np.zeros(6, np.int64), np.linspace(0, 1, 6)),
    "only positives": (np.ones(6, np.int64), np.linspace(0, 1, 6)),
}


def _curve_pair(ours_fn, ref_fn, y, s, where, **kw):
    with warnings.catch_warnings(record=True) as ours_w:
        warnings.simplefilter("always")
        ours = ours_fn(y, s, **kw)
    with warnings.catch_warnings(record=True) as ref_w:
        warnings.simplefilter("always")
        ref = ref_fn(y, s, **kw)
    assert bool(ours_w) == bool(ref_w), f"{where}: warning parity"
    for a, b in zip(ours, ref, strict=True):
        assert a.shape == b.shape, f"{where}: {a.shape} vs {b.shape}"
        np.testing.assert_allclose(a, b, rtol=1e-12, equal_nan=True, err_msg=where)


@pytest.mark.parametrize("case", list(SCORE_CASES))
@pytest.mark.parametrize("drop_intermediate", [True, False])
def test_roc_and_pr_curves_match_sklearn(case, drop_intermediate):
    y, s = SCORE_CASES[case]
    kw = {"drop_intermediate": drop_intermediate}
    _curve_pair(M.roc_curve, skm.roc_curve, y, s, f"roc {case}", **kw)
    _curve_pair(M.precision_recall_curve, skm.precision_recall_curve, y, s, f"pr {case}", **kw)
    ours, ours_w = _call(M.average_precision_score, y, s)
    ref, ref_w = _call(skm.average_precision_score, y, s)
    _assert_same(ours, ref, f"ap {case}")
    ours, ours_w = _call(M.roc_auc_score, y, s)
    ref, ref_w = _call(skm.roc_auc_score, y, s)
    _assert_same(ours, ref, f"auc {case}")
    assert ours_w == ref_w


def test_curve_defaults_match_sklearn():
    y, s = SCORE_CASES["ties"]
    for ours, ref in [
        (M.roc_curve, skm.roc_curve),
        (M.precision_recall_curve, skm.precision_recall_curve),
    ]:
        for a, b in zip(ours(y, s), ref(y, s), strict=True):
            np.testing.assert_allclose(a, b)


def test_pos_label_and_string_labels():
    y = np.array(["spam", "ham", "spam", "ham", "spam"])
    s = np.array([0.9, 0.2, 0.4, 0.4, 0.7])
    for ours_fn, ref_fn in [
        (M.roc_curve, skm.roc_curve),
        (M.precision_recall_curve, skm.precision_recall_curve),
    ]:
        for a, b in zip(ours_fn(y, s, pos_label="spam"), ref_fn(y, s, pos_label="spam")):
            np.testing.assert_allclose(a, b)
    assert M.roc_auc_score(y, s) == skm.roc_auc_score(y, s)  # "spam" > "ham" is positive
    assert M.average_precision_score(y, s, pos_label="spam") == skm.average_precision_score(
        y, s, pos_label="spam"
    )
    y3 = np.array([0, 1, 2, 1, 0, 2])  # multi-class with a chosen positive class
    s3 = np.array([0.1, 0.8, 0.3, 0.6, 0.2, 0.9])
    for a, b in zip(M.roc_curve(y3, s3, pos_label=2), skm.roc_curve(y3, s3, pos_label=2)):
        np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="pos_label is not given"):
        M.roc_curve(y, s)
    with pytest.raises(ValueError, match="y_true has 3 classes"):
        M.roc_curve(y3, s3)
    with pytest.raises(ValueError, match="pos_label=1 is not a valid label"):
        M.average_precision_score(y, s)


def _probs(seed: int, n: int, c: int, ties: bool = False):
    rng = _rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.standard_normal((n, c)) + 1.5 * np.eye(c)[y]
    if ties:
        logits = logits.round(0)
    p = np.exp(logits)
    return y, p / p.sum(1, keepdims=True)


@pytest.mark.parametrize("average", ["macro", "weighted", "micro", None])
@pytest.mark.parametrize("ties", [False, True])
def test_multiclass_auc_and_ap_match_sklearn(average, ties):
    y, p = _probs(5, 90, 4, ties)
    ours = M.roc_auc_score(y, p, multi_class="ovr", average=average)
    ref = skm.roc_auc_score(y, p, multi_class="ovr", average=average)
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    np.testing.assert_allclose(
        M.average_precision_score(y, p, average=average),
        skm.average_precision_score(y, p, average=average),
        rtol=1e-12,
    )
    t = M.roc_auc_score(nnlab.tensor(y), nnlab.tensor(p), multi_class="ovr", average=average)
    np.testing.assert_allclose(t, ref, rtol=1e-5)  # float32 tensors


def test_multiclass_auc_with_labels_and_absent_class():
    y, p = _probs(6, 50, 4)
    y = np.where(y == 3, 0, y)
    kw = dict(multi_class="ovr", labels=[0, 1, 2, 3])
    for average in ["macro", "weighted", None]:
        ours, ours_w = _call(M.roc_auc_score, y, p, average=average, **kw)
        ref, ref_w = _call(skm.roc_auc_score, y, p, average=average, **kw)
        np.testing.assert_allclose(ours, ref, equal_nan=True)
        assert ours_w == ref_w


AUC_ERRORS = [
    ({"y_true": [0, 1, 2], "y_score": np.eye(3)}, {}, "pass multi_class='ovr'"),
    (
        {"y_true": [0, 1, 2], "y_score": np.eye(3)},
        {"multi_class": "ovo"},
        "multi_class='ovo' is not one of 'raise', 'ovr'",
    ),
    (
        {"y_true": [0, 1, 2], "y_score": np.ones((3, 3))},
        {"multi_class": "ovr"},
        "rows sum to 1; apply softmax",
    ),
    (
        {"y_true": [0, 1, 2], "y_score": np.eye(3)},
        {"multi_class": "ovr", "average": "binary"},
        "average='binary' is not one of 'micro', 'macro'",
    ),
    (
        {"y_true": [0, 1], "y_score": np.eye(2)},
        {},
        r"1-D scores of the positive class \(e.g. probs\[:, 1\]",
    ),
    (
        {"y_true": [0, 1, 1], "y_score": [0.1, 0.2]},
        {},
        r"y_true and y_score have different lengths \(3 and 2\)",
    ),
    (
        {"y_true": [0, 1, 2], "y_score": np.eye(3)[:, :2] + 0.0},
        {"multi_class": "ovr"},
        "rows sum to 1",
    ),
]


@pytest.mark.parametrize("inputs,kwargs,match", AUC_ERRORS)
def test_roc_auc_errors(inputs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        M.roc_auc_score(inputs["y_true"], inputs["y_score"], **kwargs)


def test_single_class_auc_is_nan_with_warning():
    with pytest.warns(UndefinedMetricWarning, match="only one class"):
        assert np.isnan(M.roc_auc_score([1, 1, 1], [0.2, 0.5, 0.9]))


def test_auc_helper():
    x, y = [0.0, 0.5, 1.0], [0.0, 0.8, 1.0]
    assert M.auc(x, y) == skm.auc(x, y)
    assert M.auc(x[::-1], y[::-1]) == skm.auc(x[::-1], y[::-1])
    with pytest.raises(ValueError, match="neither increasing nor decreasing"):
        M.auc([0, 1, 0.5], [0, 1, 1])


def test_metrics_are_numpy_only():
    root = Path(M.__file__).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "import sklearn" not in text and "from sklearn" not in text, path
        assert "import torch" not in text and "from torch" not in text, path


# -- property tests: any small label / score arrays ------------------------------------------

labels_and_preds = st.integers(1, 25).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
        st.lists(st.integers(0, 3), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(labels_and_preds, st.sampled_from(["warn", 0, 1, np.nan]))
def test_property_prf_matches_sklearn(pair, zero_division):
    y_true, y_pred = map(np.array, pair)
    for average in [None, "micro", "macro", "weighted", "binary"]:
        kw = dict(average=average, zero_division=zero_division)
        ours, ours_w = _call(M.precision_recall_fscore_support, y_true, y_pred, **kw)
        ref, ref_w = _call(skm.precision_recall_fscore_support, y_true, y_pred, **kw)
        _assert_same(ours, ref, f"{pair} {kw}")
        assert ours_w == ref_w
    np.testing.assert_array_equal(
        M.confusion_matrix(y_true, y_pred, num_classes=4),
        skm.confusion_matrix(y_true, y_pred, labels=range(4)),
    )


scores_and_labels = st.integers(2, 30).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 1), min_size=n, max_size=n),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),  # coarse scores: many ties
    )
)


@settings(max_examples=60, deadline=None)
@given(scores_and_labels, st.booleans())
def test_property_curves_match_sklearn(pair, drop_intermediate):
    y, s = np.array(pair[0]), np.array(pair[1], dtype=float) / 4
    kw = {"drop_intermediate": drop_intermediate}
    _curve_pair(M.roc_curve, skm.roc_curve, y, s, f"roc {pair}", **kw)
    _curve_pair(M.precision_recall_curve, skm.precision_recall_curve, y, s, f"pr {pair}", **kw)
    for ours_fn, ref_fn in [
        (M.roc_auc_score, skm.roc_auc_score),
        (M.average_precision_score, skm.average_precision_score),
    ]:
        ours, ours_w = _call(ours_fn, y, s)
        ref, ref_w = _call(ref_fn, y, s)
        _assert_same(ours, ref, f"{ours_fn.__name__} {pair}")
