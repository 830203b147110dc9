"""Uncertainty of a classifier's predictions: calibrating them, sampling them, splitting
their entropy, and detecting inputs unlike the training data.

>>> import numpy as np
>>> from nnlab.uncertainty import mutual_information, ood_roc_auc
>>> members = np.array([[[0.9, 0.1]], [[0.1, 0.9]]])   # two members that disagree
>>> float(mutual_information(members)[0]) > 0
True
>>> ood_roc_auc([0.1, 0.2], [0.8, 0.9])
1.0

- :class:`TemperatureScaling`: p = softmax(z / T), T fitted on validation data.
- :func:`mc_dropout_predict`: S forward passes with dropout on, the rest in eval mode.
- :func:`ensemble_predict`: each member's class probabilities.
- :func:`predictive_entropy`, :func:`expected_entropy`, :func:`mutual_information`:
  total = aleatoric + epistemic uncertainty.
- :func:`ood_score`, :func:`ood_roc_auc`: out-of-distribution detection.
"""

from nnlab.uncertainty.ensemble import ensemble_predict
from nnlab.uncertainty.entropy import expected_entropy, mutual_information, predictive_entropy
from nnlab.uncertainty.mc_dropout import MCDropoutPrediction, mc_dropout_predict
from nnlab.uncertainty.ood import OOD_SCORES, ood_roc_auc, ood_score
from nnlab.uncertainty.temperature import TemperatureScaling

__all__ = [
    "MCDropoutPrediction",
    "OOD_SCORES",
    "TemperatureScaling",
    "ensemble_predict",
    "expected_entropy",
    "mc_dropout_predict",
    "mutual_information",
    "ood_roc_auc",
    "ood_score",
    "predictive_entropy",
]
