"""Named metrics for the training loop: turn raw model outputs into scores.

A metric here is ``fn(outputs, targets) -> float`` on NumPy arrays, where ``outputs``
are what the model returned (logits) and ``targets`` what the loader gave. The names
below know how to read logits: multi-class outputs ``(N, C)`` are scored by their
argmax, binary outputs ``(N,)`` or ``(N, 1)`` by sign (probability ≥ 0.5), and ranking
metrics (ROC-AUC, average precision) use the sigmoid of the logit as the score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from nnlab import metrics as m

__all__ = ["resolve_metrics", "METRIC_NAMES"]


def _is_binary(outputs: np.ndarray) -> bool:
    return outputs.ndim == 1 or (outputs.ndim == 2 and outputs.shape[1] == 1)


def _labels(outputs: np.ndarray) -> np.ndarray:
    if _is_binary(outputs):
        return (outputs.reshape(-1) >= 0).astype(np.int64)
    return outputs.argmax(axis=1)


def _scores(outputs: np.ndarray) -> np.ndarray:
    if _is_binary(outputs):
        return 1.0 / (1.0 + np.exp(-outputs.reshape(-1).astype(np.float64)))
    e = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return probs[:, 1] if probs.shape[1] == 2 else probs


def _average(outputs: np.ndarray) -> str:
    return "binary" if _is_binary(outputs) or outputs.shape[1] == 2 else "macro"


def _classification(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    def fn(outputs: np.ndarray, targets: np.ndarray) -> float:
        y = targets.reshape(-1).astype(np.int64)
        if name == "accuracy":
            return float(m.accuracy(y, _labels(outputs)))
        if name in ("precision", "recall", "f1"):
            score = {"precision": m.precision, "recall": m.recall, "f1": m.f1_score}[name]
            return float(score(y, _labels(outputs), average=_average(outputs), zero_division=0))
        if name == "roc_auc":
            scores = _scores(outputs)
            if scores.ndim == 2:  # several classes: one-vs-rest, macro-averaged
                labels = np.arange(scores.shape[1])
                return float(m.roc_auc_score(y, scores, multi_class="ovr", labels=labels))
            return float(m.roc_auc_score(y, scores))
        if name == "average_precision":
            return float(m.average_precision_score(y, _scores(outputs)))
        if name == "top5_accuracy":
            return float(m.top_k_accuracy(y, outputs, k=5, labels=np.arange(outputs.shape[1])))
        raise KeyError(name)

    return fn


def _regression(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    score = {
        "mse": m.mean_squared_error,
        "rmse": m.root_mean_squared_error,
        "mae": m.mean_absolute_error,
        "r2": m.r2_score,
    }[name]
    return lambda outputs, targets: float(score(targets.reshape(-1), outputs.reshape(-1)))


_CLASSIFICATION = ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision",
                   "top5_accuracy")  # fmt: skip
_REGRESSION = ("mse", "rmse", "mae", "r2")
_SEGMENTATION = ("pixel_accuracy", "mean_iou", "mean_dice")


def _segmentation(name: str) -> Callable[[np.ndarray, np.ndarray], float]:
    """Per-pixel scores from (N, C, H, W) logits and (N, H, W) masks."""
    score = {"pixel_accuracy": m.pixel_accuracy, "mean_iou": m.mean_iou, "mean_dice": m.mean_dice}
    return lambda outputs, targets: float(score[name](targets, outputs.argmax(1)))


def token_accuracy(outputs: np.ndarray, targets: np.ndarray, pad_idx: int = 0) -> float:
    """Sequence outputs (N, T, V) against target ids (N, T): the fraction of non-padding
    positions whose argmax is the target token."""
    real = targets != pad_idx
    return float((outputs.argmax(-1)[real] == targets[real]).mean()) if real.any() else 0.0


_SEQUENCE = ("token_accuracy",)

METRIC_NAMES = _CLASSIFICATION + _REGRESSION + _SEGMENTATION + _SEQUENCE


def resolve_metrics(metrics: Iterable[Any] | None) -> dict[str, Callable[..., float]]:
    """Map names (see ``METRIC_NAMES``) and callables to ``{name: fn(outputs, targets)}``."""
    out: dict[str, Callable[..., float]] = {}
    for metric in metrics or ():
        if callable(metric):
            out[getattr(metric, "__name__", f"metric{len(out)}")] = metric
        elif metric in _CLASSIFICATION:
            out[metric] = _classification(metric)
        elif metric in _REGRESSION:
            out[metric] = _regression(metric)
        elif metric in _SEGMENTATION:
            out[metric] = _segmentation(metric)
        elif metric == "token_accuracy":
            out[metric] = token_accuracy
        else:
            raise ValueError(f"unknown metric {metric!r}; allowed: {', '.join(METRIC_NAMES)}")
    return out
