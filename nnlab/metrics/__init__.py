"""Metrics: how good are the predictions? (NumPy implementations, scikit-learn semantics.)

>>> from nnlab.metrics import accuracy, f1_score, roc_auc_score, mean_squared_error
>>> accuracy([0, 1, 1], [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]])   # labels vs. class scores
0.6666666666666666
>>> roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
0.75
"""

from nnlab.metrics._inputs import UndefinedMetricWarning
from nnlab.metrics.calibration import (
    ReliabilityBins,
    calibration_curve,
    expected_calibration_error,
    maximum_calibration_error,
    reliability_bins,
)
from nnlab.metrics.classification import (
    classification_report,
    f1_score,
    precision,
    precision_recall_fscore_support,
    recall,
)
from nnlab.metrics.confusion import accuracy, confusion_matrix, top_k_accuracy
from nnlab.metrics.generative import SampleScores, classifier_sample_scores, frechet_distance
from nnlab.metrics.ranking import (
    auc,
    average_precision_score,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from nnlab.metrics.regression import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)
from nnlab.metrics.segmentation import (
    dice_per_class,
    iou_per_class,
    mean_dice,
    mean_iou,
    pixel_accuracy,
    segmentation_confusion_matrix,
)
from nnlab.metrics.sequence_labeling import bio_entities, entity_scores
from nnlab.metrics.thresholds import (
    expected_cost,
    precision_recall_at,
    threshold_for_cost,
    threshold_for_recall,
)

__all__ = [
    "ReliabilityBins",
    "SampleScores",
    "UndefinedMetricWarning",
    "classifier_sample_scores",
    "frechet_distance",
    "accuracy",
    "auc",
    "average_precision_score",
    "bio_entities",
    "calibration_curve",
    "classification_report",
    "confusion_matrix",
    "dice_per_class",
    "entity_scores",
    "expected_calibration_error",
    "expected_cost",
    "f1_score",
    "iou_per_class",
    "maximum_calibration_error",
    "mean_absolute_error",
    "mean_dice",
    "mean_iou",
    "mean_squared_error",
    "pixel_accuracy",
    "precision",
    "precision_recall_at",
    "precision_recall_curve",
    "precision_recall_fscore_support",
    "r2_score",
    "recall",
    "reliability_bins",
    "roc_auc_score",
    "roc_curve",
    "root_mean_squared_error",
    "segmentation_confusion_matrix",
    "threshold_for_cost",
    "threshold_for_recall",
    "top_k_accuracy",
]
