"""``nnlab.nn.summary.summary`` and the penalties and constraints of
``nnlab.nn.utils.regularization``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn
from nnlab.nn.summary import ModelSummary, summary
from nnlab.nn.utils import (
    elastic_net_penalty,
    l1_penalty,
    l2_penalty,
    max_norm_,
    regularized_parameters,
)  # fmt: skip

# -- summary -------------------------------------------------------------------------------


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.norm = nn.LayerNorm(6)

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        return self.norm(self.fc(x).relu()) + x


def _model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.BatchNorm1d(6), Block(),
                         nn.Dropout(0.5), nn.Linear(6, 3))  # fmt: skip


def test_summary_rows_and_totals() -> None:
    model = _model()
    s = summary(model, (2, 3, 4), verbose=False)
    assert isinstance(s, ModelSummary)
    rows = [(r.path, r.type, r.output_shape, r.num_params, r.trainable) for r in s.rows]
    assert rows == [
        ("0", "Flatten", (2, 12), 0, "-"),
        ("1", "Linear", (2, 6), 78, "yes"),
        ("2", "BatchNorm1d", (2, 6), 12, "yes"),
        ("3", "Block", (2, 6), 0, "-"),
        ("3.fc", "Linear", (2, 6), 42, "yes"),
        ("3.norm", "LayerNorm", (2, 6), 12, "yes"),
        ("4", "Dropout", (2, 6), 0, "-"),
        ("5", "Linear", (2, 3), 21, "yes"),
    ]
    total = sum(p.numel() for p in model.parameters())
    assert s.total_params == total == sum(r.num_params for r in s.rows) == 165
    assert s.trainable_params == total and s.frozen_params == 0
    assert s.output_shape == (2, 3) and s.input_shape == (2, 3, 4)
    assert [r.depth for r in s.rows] == [1, 1, 1, 1, 2, 2, 1, 1]
    assert [r.path for r in summary(model, (2, 3, 4), depth=1, verbose=False).rows] == [
        "0", "1", "2", "3", "4", "5",
    ]  # fmt: skip


def test_summary_reports_frozen_layers() -> None:
    model = _model()
    model[1].requires_grad_(False)
    model[3].fc.bias.requires_grad_(False)
    s = summary(model, (1, 12), verbose=False)
    by_path = {r.path: r for r in s.rows}
    assert by_path["1"].trainable == "no" and by_path["3.fc"].trainable == "partial"
    assert s.frozen_params == 78 + 6 and s.trainable_params == 165 - 84


def test_summary_leaves_the_model_as_it_was() -> None:
    model = _model()
    model[2](nnlab.randn(8, 6))  # some running statistics
    state = {k: v.array.copy() for k, v in model.state_dict().items()}
    rng_state = nnlab.get_rng_state()
    summary(model, (1, 3, 4), verbose=False)  # a batch of 1 only works in evaluation mode
    assert model.training and all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.array, state[k], err_msg=k)
    assert nnlab.get_rng_state() == rng_state
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())
    model.eval()
    summary(model, (1, 12), verbose=False)
    assert not model.training


def test_summary_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    s = summary(_model(), (2, 12))
    out = capsys.readouterr().out
    for text in ("Layer", "Output shape", "BatchNorm1d", "3.norm", "[2, 3]", "Total params: 165"):
        assert text in out
    assert "Trainable: 165" in str(s) and "Frozen: 0" in str(s)


def test_summary_counts_shared_parameters_once() -> None:
    shared = nn.Linear(4, 4)
    model = nn.Sequential(shared, nn.ReLU(), shared)
    s = summary(model, (2, 4), verbose=False)
    assert [r.path for r in s.rows] == ["0", "1", "0"]  # the shared layer runs twice
    assert s.total_params == 20


def test_summary_surfaces_shape_errors() -> None:
    with pytest.raises(nn.ShapeError, match=r"model\.1"):
        summary(_model(), (2, 13), verbose=False)


# -- penalties -----------------------------------------------------------------------------


def _weights(model: nn.Module) -> list[np.ndarray]:
    return [model[0].weight.array, model[3].weight.array]


def _net() -> nn.Module:
    nnlab.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Linear(5, 2),
                         nn.LayerNorm(2))  # fmt: skip


def test_regularized_parameters_skip_biases_and_norms() -> None:
    model = _net()
    chosen = list(regularized_parameters(model))
    assert [p.shape for p in chosen] == [(5, 4), (2, 5)]
    everything = list(regularized_parameters(model, exclude_bias=False, exclude_norm=False))
    assert len(everything) == len(list(model.parameters())) == 8
    assert len(list(regularized_parameters(model, exclude_norm=False))) == 4
    assert len(list(regularized_parameters(model.parameters()))) == 8


def test_penalties_values_and_gradients() -> None:
    model = _net()
    w = _weights(model)
    l1, l2 = l1_penalty(model), l2_penalty(model)
    assert float(l1) == pytest.approx(sum(np.abs(a).sum() for a in w), rel=1e-6)
    assert float(l2) == pytest.approx(sum((a**2).sum() for a in w), rel=1e-6)
    en = elastic_net_penalty(model, l1_ratio=0.3)
    assert float(en) == pytest.approx(0.3 * float(l1) + 0.35 * float(l2), rel=1e-6)
    (0.5 * l2).backward()
    np.testing.assert_allclose(model[0].weight.grad.array, w[0], rtol=1e-6)
    assert model[0].bias.grad is None and model[1].weight.grad is None
    model.zero_grad()
    l1_penalty(model).backward()
    np.testing.assert_array_equal(model[3].weight.grad.array, np.sign(w[1]))
    full = l2_penalty(model, exclude_bias=False, exclude_norm=False)
    assert float(full) == pytest.approx(sum(float((p.array**2).sum()) for p in model.parameters()),
                                        rel=1e-6)  # fmt: skip
    with pytest.raises(ValueError, match="l1_ratio"):
        elastic_net_penalty(model, l1_ratio=2.0)


def test_penalty_matches_torch_weight_decay_gradient() -> None:
    """λ/2·Σw² added to the loss gives the same step as SGD's weight_decay=λ."""
    model = nn.Linear(3, 2, bias=False)
    theirs = torch.nn.Linear(3, 2, bias=False)
    theirs.load_state_dict({"weight": torch.from_numpy(model.weight.array.copy())})
    (0.05 * l2_penalty(model)).backward()
    optimizer = torch.optim.SGD(theirs.parameters(), lr=1.0, weight_decay=0.1)
    theirs.weight.grad = torch.zeros(2, 3)
    optimizer.step()
    np.testing.assert_allclose(model.weight.array - model.weight.grad.array,
                               theirs.weight.detach().numpy(), rtol=1e-6)  # fmt: skip


def test_empty_penalty_is_zero() -> None:
    assert float(l1_penalty(nn.ReLU())) == 0.0


# -- max-norm ------------------------------------------------------------------------------


@pytest.mark.parametrize("norm_type, dim", [(2.0, 0), (1.0, 0), (2.0, 1)])
def test_max_norm_matches_torch_renorm(norm_type: float, dim: int) -> None:
    nnlab.manual_seed(1)
    model = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8))
    nn.init.normal_(model[0].weight, 0.0, 1.0)
    w = torch.from_numpy(model[0].weight.array.copy())
    bias, gamma = model[0].bias.array.copy(), model[1].weight.array.copy()
    largest = max_norm_(model, 1.5, norm_type=norm_type, dim=dim)
    expected = torch.renorm(w, p=norm_type, dim=dim, maxnorm=1.5).numpy()
    np.testing.assert_allclose(model[0].weight.array, expected, rtol=1e-6)
    norms = np.linalg.norm(np.moveaxis(w.numpy(), dim, 0), ord=norm_type, axis=1)
    assert largest == pytest.approx(norms.max(), rel=1e-6)
    np.testing.assert_array_equal(model[0].bias.array, bias)  # biases and norms untouched
    np.testing.assert_array_equal(model[1].weight.array, gamma)


def test_max_norm_leaves_small_rows_and_rejects_negative() -> None:
    layer = nn.Linear(3, 2)
    nn.init.constant_(layer.weight, 0.1)
    before = layer.weight.array.copy()
    max_norm_(layer, 1.0)
    np.testing.assert_array_equal(layer.weight.array, before)
    with pytest.raises(ValueError, match="non-negative"):
        max_norm_(layer, -1.0)
