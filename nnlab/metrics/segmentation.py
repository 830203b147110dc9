"""Segmentation metrics: how well predicted masks match the true ones, pixel by pixel.

Everything comes from one table, the **confusion matrix** over pixels: entry ``[i, j]``
counts the pixels of true class i predicted as j. For a class c, with TP = ``[c, c]``,
FP the rest of column c and FN the rest of row c:

* pixel accuracy = Σ_c TP_c / #pixels: the share of pixels labelled right. Easy to read
  but flattering: when 90 % of the pixels are background, "all background" scores 0.9.
* IoU_c (intersection over union, the Jaccard index) = |P ∩ G| / |P ∪ G|
  = TP / (TP + FP + FN), with P the pixels predicted c and G those truly c. The standard
  segmentation score: a small object counts as much as the background.
* Dice_c = 2|P ∩ G| / (|P| + |G|) = 2TP / (2TP + FP + FN): the F1 score of class c over
  pixels. Dice = 2·IoU / (1 + IoU), so both rank models alike; Dice is the gentler number.
* mean IoU (mIoU) and mean Dice average the per-class values over the classes that occur
  in the target or the prediction. A class absent from both has 0/0: it is reported as
  ``nan`` and left out of the means (there was nothing to find and nothing was invented).
  A class predicted but absent from the target scores 0, as does one missed entirely.

Counts are pooled over every pixel given (all images of the batch or of the dataset, the
PASCAL VOC / Cityscapes convention), not averaged image by image; the values equal
scikit-learn's ``jaccard_score`` and ``f1_score`` on the flattened masks.

**Inputs.** ``y_true`` is an integer mask of any shape, (N, H, W) typically; ``y_pred`` an
integer mask of the same shape, or class scores (logits or probabilities) with a class
axis at position 1, (N, C, H, W), whose argmax is taken. ``ignore_index`` marks true
pixels (e.g. unlabelled borders) that count for nothing. Arrays and Tensors are accepted.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.tensor import Tensor

__all__ = [
    "segmentation_confusion_matrix",
    "pixel_accuracy",
    "iou_per_class",
    "mean_iou",
    "dice_per_class",
    "mean_dice",
]


def _as_array(x: Any, fn: str, name: str) -> np.ndarray:
    a = x.array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind == "b":
        a = a.astype(np.int64)
    if a.dtype.kind not in "iuf":
        raise TypeError(f"{fn}: {name} must hold numbers, got dtype {a.dtype}")
    return a


def _masks(
    y_true: Any, y_pred: Any, fn: str, num_classes: int | None, ignore_index: int | None
) -> tuple[np.ndarray, np.ndarray, int]:
    """The kept true and predicted labels as flat int64 vectors, and the number of classes."""
    yt = _as_array(y_true, fn, "y_true")
    yp = _as_array(y_pred, fn, "y_pred")
    if yt.dtype.kind == "f":
        raise TypeError(f"{fn}: y_true must be an integer mask, got dtype {yt.dtype}")
    if yp.ndim == yt.ndim + 1 and yp.ndim >= 2:
        if (yp.shape[0],) + yp.shape[2:] != yt.shape:
            raise ValueError(
                f"{fn}: scores of shape {yp.shape} (N, C, ...) do not fit y_true of shape "
                f"{yt.shape} (N, ...)"
            )
        if num_classes is not None and num_classes != yp.shape[1]:
            raise ValueError(
                f"{fn}: num_classes={num_classes} but the scores have {yp.shape[1]} classes"
            )
        num_classes = yp.shape[1]
        yp = yp.argmax(axis=1)
    elif yp.shape != yt.shape:
        raise ValueError(
            f"{fn}: y_pred must be a mask of y_true's shape {yt.shape} or scores (N, C, ...), "
            f"got shape {yp.shape}"
        )
    elif yp.dtype.kind == "f":
        raise TypeError(
            f"{fn}: a y_pred of y_true's shape must be an integer mask, got dtype {yp.dtype}; "
            "pass scores with a class axis (N, C, ...) to have their argmax taken"
        )
    yt, yp = yt.reshape(-1).astype(np.int64), yp.reshape(-1).astype(np.int64)
    if ignore_index is not None:
        keep = yt != ignore_index
        yt, yp = yt[keep], yp[keep]
    if yt.size == 0:
        raise ValueError(f"{fn}: no pixels to score (empty masks, or every pixel ignored)")
    if num_classes is None:
        num_classes = int(max(yt.max(), yp.max())) + 1
    for name, v in (("y_true", yt), ("y_pred", yp)):
        if v.min() < 0 or v.max() >= num_classes:
            raise ValueError(
                f"{fn}: {name} holds labels from {v.min()} to {v.max()}, outside "
                f"[0, {num_classes}) (set ignore_index for unlabelled pixels)"
            )
    return yt, yp, int(num_classes)


def segmentation_confusion_matrix(
    y_true: Any, y_pred: Any, num_classes: int | None = None, *, ignore_index: int | None = None
) -> np.ndarray:
    """The (C, C) pixel confusion matrix: ``[i, j]`` counts pixels of true class i predicted
    as j (rows true, columns predicted, as scikit-learn's ``confusion_matrix``). One
    ``bincount`` of ``C·true + pred``, however many pixels.

    Args:
        y_true: integer mask, any shape.
        y_pred: integer mask of the same shape, or scores (N, C, ...) (argmax taken).
        num_classes: C (default: the scores' C, else the largest label + 1).
        ignore_index: a true label whose pixels are left out (default: None).

    Example:
        >>> segmentation_confusion_matrix([[0, 0], [1, 2]], [[0, 1], [1, 1]]).tolist()
        [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    """
    yt, yp, c = _masks(y_true, y_pred, "segmentation_confusion_matrix", num_classes, ignore_index)
    return np.bincount(c * yt + yp, minlength=c * c).reshape(c, c)


def _per_class(cm: np.ndarray, dice: bool) -> np.ndarray:
    tp = np.diag(cm).astype(np.float64)
    predicted, true = cm.sum(axis=0), cm.sum(axis=1)
    denominator = (predicted + true) if dice else (predicted + true - tp)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, (2 * tp if dice else tp) / denominator, np.nan)


def pixel_accuracy(y_true: Any, y_pred: Any, *, ignore_index: int | None = None) -> float:
    """The share of (non-ignored) pixels whose predicted class is the true one.

    Args:
        y_true: integer mask, any shape.
        y_pred: integer mask of the same shape, or scores (N, C, ...) (argmax taken).
        ignore_index: a true label whose pixels are left out (default: None).

    Example:
        >>> pixel_accuracy([[0, 0], [1, 2]], [[0, 1], [1, 1]])
        0.5
    """
    yt, yp, _ = _masks(y_true, y_pred, "pixel_accuracy", None, ignore_index)
    return float((yt == yp).mean())


def iou_per_class(
    y_true: Any, y_pred: Any, num_classes: int | None = None, *, ignore_index: int | None = None
) -> np.ndarray:
    """Intersection over union of each class: IoU_c = TP / (TP + FP + FN) = |P∩G| / |P∪G|;
    ``nan`` for a class absent from both masks.

    Args:
        y_true: integer mask, any shape.
        y_pred: integer mask of the same shape, or scores (N, C, ...) (argmax taken).
        num_classes: C (default: the scores' C, else the largest label + 1).
        ignore_index: a true label whose pixels are left out (default: None).

    Returns:
        float64 array (C,).

    Example:
        >>> iou_per_class([[0, 0], [1, 2]], [[0, 1], [1, 1]], num_classes=4).tolist()
        [0.5, 0.3333333333333333, 0.0, nan]
    """
    yt, yp, c = _masks(y_true, y_pred, "iou_per_class", num_classes, ignore_index)
    return _per_class(np.bincount(c * yt + yp, minlength=c * c).reshape(c, c), dice=False)


def mean_iou(
    y_true: Any, y_pred: Any, num_classes: int | None = None, *, ignore_index: int | None = None
) -> float:
    """Mean IoU (mIoU): the mean of :func:`iou_per_class` over the classes present in the
    target or the prediction (classes absent from both are left out).

    Example:
        >>> round(mean_iou([[0, 0], [1, 2]], [[0, 1], [1, 1]], num_classes=4), 4)
        0.2778
    """
    return float(np.nanmean(iou_per_class(y_true, y_pred, num_classes, ignore_index=ignore_index)))


def dice_per_class(
    y_true: Any, y_pred: Any, num_classes: int | None = None, *, ignore_index: int | None = None
) -> np.ndarray:
    """Dice coefficient of each class: Dice_c = 2TP / (2TP + FP + FN) = 2|P∩G| / (|P| + |G|),
    the per-class F1 score over pixels; ``nan`` for a class absent from both masks.

    Args:
        y_true: integer mask, any shape.
        y_pred: integer mask of the same shape, or scores (N, C, ...) (argmax taken).
        num_classes: C (default: the scores' C, else the largest label + 1).
        ignore_index: a true label whose pixels are left out (default: None).

    Returns:
        float64 array (C,).

    Example:
        >>> dice_per_class([[0, 0], [1, 2]], [[0, 1], [1, 1]]).tolist()
        [0.6666666666666666, 0.5, 0.0]
    """
    yt, yp, c = _masks(y_true, y_pred, "dice_per_class", num_classes, ignore_index)
    return _per_class(np.bincount(c * yt + yp, minlength=c * c).reshape(c, c), dice=True)


def mean_dice(
    y_true: Any, y_pred: Any, num_classes: int | None = None, *, ignore_index: int | None = None
) -> float:
    """The mean of :func:`dice_per_class` over the classes present in the target or the
    prediction (classes absent from both are left out).

    Example:
        >>> round(mean_dice([[0, 0], [1, 2]], [[0, 1], [1, 1]]), 4)
        0.3889
    """
    return float(np.nanmean(dice_per_class(y_true, y_pred, num_classes, ignore_index=ignore_index)))
