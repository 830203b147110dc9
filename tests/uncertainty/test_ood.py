"""OOD scores and their ROC-AUC: the AUC is the Mann-Whitney statistic, and each score
ranks a uniform prediction above a confident one."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from nnlab.uncertainty import OOD_SCORES, ood_roc_auc, ood_score


def test_roc_auc_is_the_mann_whitney_statistic() -> None:
    rng = np.random.default_rng(0)
    scores_in = np.round(rng.normal(0.0, 1.0, 80), 1)  # rounded: ties count ½
    scores_out = np.round(rng.normal(0.7, 1.0, 50), 1)
    u = mannwhitneyu(scores_out, scores_in).statistic
    assert ood_roc_auc(scores_in, scores_out) == pytest.approx(u / (80 * 50), abs=1e-12)
    assert ood_roc_auc([0.1, 0.2], [0.3, 0.4]) == 1.0
    assert ood_roc_auc([0.3, 0.4], [0.1, 0.2]) == 0.0


@pytest.mark.parametrize("method", OOD_SCORES)
def test_uniform_scores_above_confident(method: str) -> None:
    confident = np.array([[0.97, 0.01, 0.01, 0.01]])
    uniform = np.full((1, 4), 0.25)
    # K = 2 members; for the mutual information the uncertain case is disagreement
    members_sure = np.stack([confident, confident])
    members_unsure = (
        np.stack([confident, confident[:, ::-1]])
        if method == "mutual_information"
        else np.stack([uniform, uniform])
    )
    assert ood_score(members_unsure, method)[0] > ood_score(members_sure, method)[0]
    if method != "mutual_information":
        assert ood_score(uniform, method)[0] > ood_score(confident, method)[0]


def test_max_softmax_and_entropy_values() -> None:
    p = np.array([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(ood_score(p, "max_softmax"), [0.3, 2 / 3])
    np.testing.assert_allclose(ood_score(p, "entropy")[1], np.log(3))


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        ood_score([[0.5, 0.5]], "energy")
    with pytest.raises(ValueError, match="non-empty 1-D"):
        ood_roc_auc([], [0.5])
