"""Segmentation: the synthetic shapes dataset, the metrics (scikit-learn as the oracle), the
Dice loss (NumPy formula, gradcheck, torch autograd) and per-pixel cross-entropy (torch)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, jaccard_score

import nnlab
import nnlab.nn.functional as F
from nnlab.autograd import gradcheck
from nnlab.data.datasets import SHAPE_CLASSES, make_shapes_segmentation
from nnlab.metrics import (
    dice_per_class,
    iou_per_class,
    mean_dice,
    mean_iou,
    pixel_accuracy,
    segmentation_confusion_matrix,
)
from nnlab.nn import CrossEntropyLoss, DiceLoss

# -- the shapes dataset -----------------------------------------------------------------------


def test_shapes_deterministic_per_seed_and_typed():
    a = make_shapes_segmentation(40, size=24, seed=3)
    b = make_shapes_segmentation(40, size=24, generator=nnlab.Generator(3))
    c = make_shapes_segmentation(40, size=24, seed=4)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[0], c[0]) and not np.array_equal(a[1], c[1])
    x, m = a
    assert x.shape == (40, 1, 24, 24) and x.dtype == np.float32
    assert m.shape == (40, 24, 24) and m.dtype == np.int64
    assert x.min() >= 0 and x.max() <= 1 and m.min() >= 0 and m.max() < 4
    nnlab.manual_seed(9)
    d = make_shapes_segmentation(5)
    nnlab.manual_seed(9)
    np.testing.assert_array_equal(d[1], make_shapes_segmentation(5)[1])


def test_shapes_class_frequencies():
    _, m = make_shapes_segmentation(400, seed=0)
    freq = np.bincount(m.ravel(), minlength=4) / m.size
    assert 0.6 < freq[0] < 0.95  # mostly background, as real scenes
    assert (freq[1:] > 0.02).all() and freq[1:].max() / freq[1:].min() < 1.6
    present = np.array([[(mi == c).any() for c in range(1, 4)] for mi in m])
    assert present.any(axis=1).all()  # every image holds at least one shape
    _, m2 = make_shapes_segmentation(50, n_classes=2, seed=0)
    assert set(np.unique(m2)) == {0, 1}
    assert SHAPE_CLASSES[1:] == ("circle", "square", "triangle")


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_masks_match_the_pixels(channels):
    x, m = make_shapes_segmentation(60, size=32, noise=0.0, channels=channels, seed=1)
    for ch in range(channels):
        np.testing.assert_array_equal(x[:, ch] > 0.3, m > 0)
    # with noise the images change, the masks do not
    xn, mn = make_shapes_segmentation(60, size=32, noise=0.2, channels=channels, seed=1)
    np.testing.assert_array_equal(mn, m)
    assert np.abs(xn - x).mean() > 0.05


def test_shapes_have_their_geometry():
    x, m = make_shapes_segmentation(300, size=32, noise=0.0, max_shapes=1, seed=2)
    fill = {1: [], 2: [], 3: []}
    for xi, mi in zip(x, m):
        (c,) = set(np.unique(mi)) - {0}
        ys, xs = np.nonzero(mi)
        box = (ys.max() - ys.min() + 1) * (xs.max() - xs.min() + 1)
        fill[c].append(len(ys) / box)
        assert len(np.unique(xi[0][mi > 0])) == 1  # one shape, one intensity
    assert min(fill[2]) == 1.0  # squares fill their bounding box
    assert 0.65 < np.mean(fill[1]) < 0.9  # circles about π/4
    assert np.mean(fill[3]) < 0.62  # triangles about half
    assert np.mean(fill[3]) < np.mean(fill[1]) < np.mean(fill[2])


def test_shapes_errors():
    with pytest.raises(ValueError, match="n_classes"):
        make_shapes_segmentation(4, n_classes=5)
    with pytest.raises(ValueError, match="channels"):
        make_shapes_segmentation(4, channels=2)
    with pytest.raises(TypeError, match="n_samples"):
        make_shapes_segmentation(4.0)


# -- metrics against scikit-learn -------------------------------------------------------------


def random_masks(seed: int, c: int = 4, shape=(3, 7, 9), absent: tuple[int, ...] = ()):
    rng = np.random.default_rng(seed)
    t = rng.integers(0, c, size=shape)
    p = np.where(rng.random(shape) < 0.6, t, rng.integers(0, c, size=shape))
    for k in absent:
        t[t == k], p[p == k] = 0, 0
    return t, p


CASES = {
    "plain": dict(seed=0),
    "absent_from_both": dict(seed=1, c=5, absent=(3,)),
    "binary": dict(seed=2, c=2, shape=(2, 16, 16)),
    "flat": dict(seed=3, shape=(50,)),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_metrics_match_sklearn(case):
    t, p = random_masks(**CASES[case])
    c = CASES[case].get("c", 4)
    ft, fp = t.ravel(), p.ravel()
    labels = list(range(c))
    np.testing.assert_array_equal(
        segmentation_confusion_matrix(t, p, c), confusion_matrix(ft, fp, labels=labels)
    )
    assert pixel_accuracy(t, p) == pytest.approx(accuracy_score(ft, fp))
    present = np.isin(labels, np.union1d(ft, fp))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iou_ref = jaccard_score(ft, fp, labels=labels, average=None, zero_division=0)
        f1_ref = f1_score(ft, fp, labels=labels, average=None, zero_division=0)
    iou, dice = iou_per_class(t, p, c), dice_per_class(t, p, c)
    np.testing.assert_allclose(iou[present], iou_ref[present])
    np.testing.assert_allclose(dice[present], f1_ref[present])
    assert np.isnan(iou[~present]).all() and np.isnan(dice[~present]).all()
    assert mean_iou(t, p, c) == pytest.approx(jaccard_score(ft, fp, average="macro"))
    assert mean_dice(t, p, c) == pytest.approx(f1_score(ft, fp, average="macro"))
    np.testing.assert_allclose(dice[present], 2 * iou[present] / (1 + iou[present]))


def test_metrics_degenerate_classes():
    t = np.array([[0, 0, 1, 1]])
    # class 2 predicted but absent from the target: 0; class 3 absent from both: nan
    p = np.array([[0, 2, 1, 1]])
    np.testing.assert_allclose(iou_per_class(t, p, 4), [0.5, 1.0, 0.0, np.nan])
    np.testing.assert_allclose(dice_per_class(t, p, 4), [2 / 3, 1.0, 0.0, np.nan])
    assert mean_iou(t, p, 4) == pytest.approx(0.5)
    # a class missed entirely: 0
    np.testing.assert_allclose(iou_per_class(t, np.zeros_like(t)), [0.5, 0.0])
    # perfect
    assert mean_iou(t, t) == 1.0 and mean_dice(t, t) == 1.0 and pixel_accuracy(t, t) == 1.0


def test_metrics_accept_logits_tensors_and_ignore_index():
    t, p = random_masks(4, c=3, shape=(2, 5, 6))
    logits = np.random.default_rng(0).standard_normal((2, 3, 5, 6))
    logits[np.arange(2)[:, None, None], p, np.arange(5)[:, None], np.arange(6)] += 10
    np.testing.assert_array_equal(iou_per_class(t, logits), iou_per_class(t, p, 3))
    tt, lt = nnlab.from_numpy(t), nnlab.from_numpy(logits)
    assert mean_dice(tt, lt) == mean_dice(t, p, 3)
    t_ign = t.copy()
    t_ign[:, 0] = 255
    keep = t_ign != 255
    assert pixel_accuracy(t_ign, p, ignore_index=255) == pytest.approx(
        accuracy_score(t[keep], p[keep])
    )
    np.testing.assert_allclose(
        iou_per_class(t_ign, p, 3, ignore_index=255),
        jaccard_score(t[keep], p[keep], labels=[0, 1, 2], average=None),
    )


def test_metrics_errors():
    t = np.zeros((2, 3), dtype=np.int64)
    with pytest.raises(ValueError, match="shape"):
        mean_iou(t, np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(TypeError, match="integer mask"):
        mean_iou(t, np.zeros((2, 3)))
    with pytest.raises(ValueError, match="outside"):
        iou_per_class(t, t + 5, num_classes=3)
    with pytest.raises(ValueError, match="no pixels"):
        pixel_accuracy(t, t, ignore_index=0)
    with pytest.raises(ValueError, match="num_classes"):
        mean_iou(t, np.zeros((2, 4, 3)), num_classes=3)


# -- the Dice loss ------------------------------------------------------------------------------


def dice_numpy(x: np.ndarray, t: np.ndarray, smooth: float, ignore_index: int = -100):
    """The (N, C) matrix 1 - (2ΣPG + s) / (ΣP + ΣG + s), straight from the definition."""
    e = np.exp(x - x.max(axis=1, keepdims=True))
    p = e / e.sum(axis=1, keepdims=True)
    valid = t != ignore_index
    c = x.shape[1]
    gt = np.stack([(t == k) & valid for k in range(c)], axis=1).astype(np.float64)
    p = p * valid[:, None]
    axes = tuple(range(2, x.ndim))
    inter = (p * gt).sum(axis=axes)
    return 1 - (2 * inter + smooth) / (p.sum(axis=axes) + gt.sum(axis=axes) + smooth)


@pytest.mark.parametrize("smooth", [0.0, 1.0])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_dice_loss_matches_numpy_formula(smooth, reduction):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 5, 6))
    t = rng.integers(0, 4, size=(3, 5, 6))
    t[0, 0] = -100
    ref = dice_numpy(x, t, smooth)
    ref = {"none": ref, "mean": ref.mean(), "sum": ref.sum()}[reduction]
    out = F.dice_loss(nnlab.from_numpy(x), nnlab.from_numpy(t), smooth=smooth, reduction=reduction)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-12)
    module = DiceLoss(smooth=smooth, reduction=reduction)
    np.testing.assert_allclose(module(nnlab.from_numpy(x), nnlab.from_numpy(t)).numpy(), ref)


def test_dice_loss_probabilities_volumes_and_perfect_predictions():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4, 3, 2))  # volumes (N, C, D, H, W)
    t = rng.integers(0, 3, size=(2, 4, 3, 2))
    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    a = F.dice_loss(nnlab.from_numpy(x), nnlab.from_numpy(t))
    b = F.dice_loss(nnlab.from_numpy(probs), nnlab.from_numpy(t), from_logits=False)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    one_hot = np.moveaxis(np.eye(3)[t], -1, 1)
    perfect = F.dice_loss(nnlab.from_numpy(one_hot), nnlab.from_numpy(t), from_logits=False)
    assert perfect.item() == pytest.approx(0.0, abs=1e-12)


def test_dice_loss_gradcheck():
    rng = np.random.default_rng(2)
    x = nnlab.tensor(rng.standard_normal((2, 3, 3, 4)), dtype=nnlab.float64, requires_grad=True)
    t = nnlab.from_numpy(rng.integers(0, 3, size=(2, 3, 4)))
    t.array[1, 0, :2] = -1
    assert gradcheck(lambda z: F.dice_loss(z, t, smooth=0.5, ignore_index=-1), [x])
    assert gradcheck(
        lambda z: F.dice_loss(z, t, smooth=0.0, reduction="none", ignore_index=-1), [x]
    )
    probs = nnlab.tensor(rng.uniform(0.1, 1, (2, 3, 3, 4)), dtype=nnlab.float64, requires_grad=True)
    assert gradcheck(lambda z: F.dice_loss(z, t, from_logits=False, ignore_index=-1), [probs])


def test_dice_loss_gradient_matches_torch_autograd():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 4, 5, 5))
    t = rng.integers(0, 4, size=(2, 5, 5))
    xn = nnlab.tensor(x, dtype=nnlab.float64, requires_grad=True)
    F.dice_loss(xn, nnlab.from_numpy(t)).backward()
    xt = torch.tensor(x, requires_grad=True)
    p = torch.softmax(xt, dim=1)
    g = torch.nn.functional.one_hot(torch.tensor(t), 4).permute(0, 3, 1, 2).double()
    inter, sizes = (p * g).sum(dim=(2, 3)), p.sum(dim=(2, 3)) + g.sum(dim=(2, 3))
    (1 - (2 * inter + 1) / (sizes + 1)).mean().backward()
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_dice_loss_drives_logits_to_the_target():
    _, m = make_shapes_segmentation(4, size=16, seed=0)
    logits = nnlab.zeros(4, 4, 16, 16, dtype=nnlab.float64, requires_grad=True)
    target = nnlab.from_numpy(m)
    for _ in range(60):
        loss = F.dice_loss(logits, target) + F.cross_entropy(logits, target)
        logits.grad = None
        loss.backward()
        logits.array -= 20.0 * logits.grad.array
    assert mean_iou(m, logits) == 1.0  # a Tensor of scores is fine too


def test_dice_loss_errors_and_repr():
    x = nnlab.zeros(2, 3, 4, 4)
    with pytest.raises(TypeError, match="integers"):
        F.dice_loss(x, nnlab.zeros(2, 4, 4))
    with pytest.raises(ValueError, match="target of shape"):
        F.dice_loss(x, nnlab.zeros(2, 4, 5, dtype=nnlab.int64))
    with pytest.raises(IndexError, match="out of bounds"):
        F.dice_loss(x, nnlab.full((2, 4, 4), 3, dtype=nnlab.int64))
    with pytest.raises(ValueError, match="smooth"):
        DiceLoss(smooth=-1.0)
    with pytest.raises(ValueError, match="reduction"):
        DiceLoss(reduction="avg")
    assert "smooth=1.0" in repr(DiceLoss())


# -- per-pixel cross-entropy is the existing CrossEntropyLoss -----------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_per_pixel_matches_torch(weighted):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 5, 6)).astype(np.float32)
    t = rng.integers(0, 4, size=(2, 5, 6))
    t[0, :2] = 255
    w = rng.uniform(0.5, 2, 4).astype(np.float32) if weighted else None
    xn = nnlab.tensor(x, requires_grad=True)
    loss = CrossEntropyLoss(weight=None if w is None else nnlab.tensor(w), ignore_index=255)(
        xn, nnlab.from_numpy(t)
    )
    loss.backward()
    xt = torch.tensor(x, requires_grad=True)
    ref = torch.nn.CrossEntropyLoss(
        weight=None if w is None else torch.tensor(w), ignore_index=255
    )(xt, torch.tensor(t))
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-7)
    # the same as classifying every pixel as a sample of its own
    flat = np.moveaxis(x, 1, -1).reshape(-1, 4)
    flat_loss = F.cross_entropy(
        nnlab.tensor(flat), nnlab.from_numpy(t.ravel()), ignore_index=255,
        weight=None if w is None else nnlab.tensor(w),
    )  # fmt: skip
    np.testing.assert_allclose(loss.item(), flat_loss.item(), rtol=1e-5)
