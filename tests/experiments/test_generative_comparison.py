"""The helpers of the generative-comparison experiment: the evaluation counter, the
reference samples and the judge's scores."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from experiments.generative_comparison import EvaluationCounter, reference_samples, scores
from nnlab import nn
from nnlab.models.diffusion import DDPMScheduler, DenoisingMLP, ddpm_sample


def test_counter_counts_rows_until_removed():
    layer = nn.Linear(4, 2)
    counter = EvaluationCounter(layer)
    layer(nnlab.randn(3, 4))
    layer(nnlab.randn(5, 4))
    counter.remove()
    layer(nnlab.randn(7, 4))
    assert counter.rows == 8


@pytest.mark.parametrize("steps", [1, 6])
def test_ddpm_sample_costs_one_evaluation_per_reverse_step(steps):
    nnlab.manual_seed(0)
    model = DenoisingMLP(4, hidden_size=8, num_blocks=1)
    scheduler = DDPMScheduler(6)
    counter = EvaluationCounter(model)
    ddpm_sample(model, scheduler, (5, 4), steps, nnlab.Generator(0))
    assert counter.rows / 5 == steps


def test_reference_samples_shapes_and_range():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(50, 6)).astype(np.float32)
    refs = reference_samples(rng, x, n_real=10, n=20)
    assert refs["real training digits"].shape == (10, 6)
    assert all(any((row == x).all(1)) for row in refs["real training digits"])
    for name in ("Gaussian fit to the pixels", "uniform noise"):
        assert refs[name].shape == (20, 6)
        assert refs[name].min() >= -1 and refs[name].max() <= 1


def test_scores_of_the_real_set_itself():
    nnlab.manual_seed(0)
    classifier = nn.Sequential(
        nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 10)
    )
    images = np.random.default_rng(1).uniform(-1, 1, size=(80, 64)).astype(np.float32)
    with nnlab.no_grad():
        real_features = classifier[:4](nnlab.tensor(images)).numpy()
    result = scores(classifier, images, real_features)
    assert result["fd"] == pytest.approx(0.0, abs=1e-3)
    assert 0.1 <= result["confidence"] <= 1.0
    assert 0.0 <= result["coverage"] <= 1.0
