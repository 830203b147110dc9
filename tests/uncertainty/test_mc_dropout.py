"""MC dropout: with p = 0 it is the deterministic model; the mean of many samples of a
linear layer after dropout approaches the evaluation output (inverted dropout keeps the
expectation); batch norm stays in evaluation mode and every mode is restored."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.nn import functional as F
from nnlab.uncertainty import mc_dropout_predict


def _eval_probs(model: nn.Module, x: nnlab.Tensor) -> np.ndarray:
    model.eval()
    with nnlab.no_grad():
        return F.softmax(model(x), dim=1).numpy()


def test_p_zero_equals_the_deterministic_model() -> None:
    nnlab.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.0), nn.Linear(16, 3))
    x = nnlab.randn(6, 4)
    pred = mc_dropout_predict(model, x, n_samples=4)
    expected = _eval_probs(model, x)
    for sample in pred.samples:
        np.testing.assert_allclose(sample, expected, rtol=1e-6)
    np.testing.assert_allclose(pred.mean, expected, rtol=1e-6)


def test_mean_of_linear_outputs_approaches_the_eval_output() -> None:
    # softmax is not linear, so the check is on the logits of a linear read-out:
    # E[W (m ⊙ h) / (1 − p)] = W h. A softmax over two columns [z, 0] gives back z.
    nnlab.manual_seed(1)
    linear = nn.Linear(8, 1).double()
    model = nn.Sequential(nn.Dropout(0.5), linear, _AppendZeroColumn())
    x = nnlab.tensor(np.random.default_rng(1).standard_normal((3, 8)))
    pred = mc_dropout_predict(model, x, n_samples=4000)
    sampled = np.log(pred.samples[..., 0] / pred.samples[..., 1])  # (S, N) logits z
    with nnlab.no_grad():
        exact = linear(x).numpy()[:, 0]
    # the sample mean's standard error is std / sqrt(4000) ≈ 1.6 % of the std
    stderr = sampled.std(axis=0) / np.sqrt(len(sampled))
    assert np.all(np.abs(sampled.mean(axis=0) - exact) < 5 * stderr)
    assert np.all(sampled.std(axis=0) > 0)  # the samples did differ


class _AppendZeroColumn(nn.Module):
    def forward(self, z: nnlab.Tensor) -> nnlab.Tensor:
        return nnlab.cat([z, nnlab.zeros_like(z)], dim=1)


def test_batchnorm_stays_in_eval_and_modes_are_restored() -> None:
    nnlab.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.3),
                          nn.Linear(8, 3))  # fmt: skip
    model.train()
    model[1].eval()  # a mixed state, which must come back as it was
    bn = model[1]
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    mc_dropout_predict(model, nnlab.randn(16, 4) * 5 + 3, n_samples=5)
    np.testing.assert_array_equal(bn.running_mean.numpy(), mean)
    np.testing.assert_array_equal(bn.running_var.numpy(), var)
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]


def test_samples_are_reproducible_and_differ() -> None:
    model = nn.Sequential(nn.Linear(4, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
    x = nnlab.randn(5, 4)
    nnlab.manual_seed(3)
    first = mc_dropout_predict(model, x, n_samples=3)
    nnlab.manual_seed(3)
    second = mc_dropout_predict(model, x, n_samples=3)
    np.testing.assert_array_equal(first.samples, second.samples)
    assert not np.allclose(first.samples[0], first.samples[1])
    np.testing.assert_allclose(first.samples.sum(axis=2), 1.0, rtol=1e-6)


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="has no Dropout module"):
        mc_dropout_predict(nn.Linear(2, 2), nnlab.randn(1, 2))
    with pytest.raises(ValueError, match="n_samples must be a positive int"):
        mc_dropout_predict(nn.Sequential(nn.Dropout(), nn.Linear(2, 2)), nnlab.randn(1, 2), 0)
