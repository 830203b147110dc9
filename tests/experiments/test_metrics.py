"""The brute-force ranking statistic of experiments.metrics on a hand-checked case."""

from __future__ import annotations

import numpy as np

from experiments.metrics import pair_ranking_fraction


def test_pair_ranking_fraction_counts_wins_and_half_ties():
    y = np.array([0, 0, 1, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8])
    # Pairs (pos, neg): 0.35>0.1 win, 0.35<0.4 loss, 0.8 beats both: 3 of 4.
    assert pair_ranking_fraction(y, score) == 0.75
    assert pair_ranking_fraction(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.5
