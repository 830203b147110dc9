"""Uncertainty weighting of task losses (Kendall, Gal and Cipolla 2018): value and
gradients against the formula written in torch (float32 and float64), finite differences
in float64, the closed-form minimiser s_i = log L_i reached by gradient descent, the
parameter's name, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from parity import check_module, fixed_tolerance

import nnlab
from nnlab.autograd import gradcheck
from nnlab.nn.modules.task_weighting import UncertaintyWeighting


class TorchUncertaintyWeighting(torch.nn.Module):
    """The reference: L = Σ_i exp(−s_i)·L_i + s_i, with random s so that the weights differ
    (ours starts at s = 0 and receives these values through the state dict)."""

    def __init__(self, num_tasks: int) -> None:
        super().__init__()
        self.log_vars = torch.nn.Parameter(torch.randn(num_tasks))

    def forward(self, losses: torch.Tensor) -> torch.Tensor:
        return (losses * torch.exp(-self.log_vars) + self.log_vars).sum()


def _losses(n: int) -> np.ndarray:
    # positive, spread over three orders of magnitude, as task losses are
    return np.random.default_rng(n).uniform(0.01, 10.0, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("num_tasks", [1, 2, 5])
def test_matches_the_formula_in_torch(num_tasks: int, dtype: type) -> None:
    check_module(
        f"UncertaintyWeighting({num_tasks})",
        lambda: UncertaintyWeighting(num_tasks),
        lambda: TorchUncertaintyWeighting(num_tasks),
        [_losses(num_tasks)],
        lambda module, xs, lib: module(xs[0]),
        dtype,
        tolerance=fixed_tolerance,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_sequence_of_scalar_losses_matches_torch(dtype: type) -> None:
    def forward(module, xs, lib):
        # nnlab takes the list as it is; the torch reference takes the stacked vector
        return module(list(xs)) if lib is nnlab else module(torch.stack(xs))

    check_module(
        "UncertaintyWeighting(3) on a list",
        lambda: UncertaintyWeighting(3),
        lambda: TorchUncertaintyWeighting(3),
        [np.array(v) for v in _losses(3)],
        forward,
        dtype,
        tolerance=fixed_tolerance,
    )


def test_gradcheck_float64() -> None:
    weighting = UncertaintyWeighting(3, dtype=nnlab.float64)
    with nnlab.no_grad():
        weighting.log_vars.array[...] = [-1.0, 0.3, 2.0]
    losses = nnlab.tensor(_losses(3), requires_grad=True)
    # log_vars is an input too: gradcheck perturbs it in place, the module reads it
    assert gradcheck(lambda lv, ls: weighting(ls), [weighting.log_vars, losses])


def test_starts_as_the_plain_sum() -> None:
    weighting = UncertaintyWeighting(3)
    losses = _losses(3).astype(np.float32)
    assert weighting(nnlab.tensor(losses)).item() == pytest.approx(losses.sum(), rel=1e-6)
    np.testing.assert_array_equal(weighting.weights().numpy(), np.ones(3, np.float32))
    assert not weighting.weights().requires_grad


def test_gradient_descent_reaches_the_closed_form_minimiser() -> None:
    # ∂L/∂s_i = 1 − exp(−s_i)·L_i vanishes at s_i = log L_i, where every weighted loss is 1
    # and the total is Σ_i (1 + log L_i).
    task_losses = np.array([4.0, 0.01, 1.0, 50.0])
    weighting = UncertaintyWeighting(4, dtype=nnlab.float64)
    opt = nnlab.optim.SGD(weighting.parameters(), lr=0.1)
    losses = nnlab.tensor(task_losses)
    for _ in range(1000):
        opt.zero_grad()
        weighting(losses).backward()
        opt.step()
    np.testing.assert_allclose(weighting.log_vars.detach().numpy(), np.log(task_losses), atol=1e-8)
    np.testing.assert_allclose(weighting.weights().numpy(), 1 / task_losses, rtol=1e-7)
    total = weighting(losses).item()
    assert total == pytest.approx(np.sum(1 + np.log(task_losses)), rel=1e-12)


def test_parameter_name_dtype_and_repr() -> None:
    weighting = UncertaintyWeighting(2)
    assert list(weighting.state_dict()) == ["log_vars"]
    assert weighting.log_vars.dtype == nnlab.float32
    assert UncertaintyWeighting(2, dtype=nnlab.float64).log_vars.dtype == nnlab.float64
    assert repr(weighting) == "UncertaintyWeighting(num_tasks=2)"
    assert [p is weighting.log_vars for p in weighting.parameters()] == [True]


@pytest.mark.parametrize("num_tasks", [0, -1, 2.0, True, "2"])
def test_rejects_a_bad_number_of_tasks(num_tasks: object) -> None:
    with pytest.raises(ValueError, match="UncertaintyWeighting: num_tasks must be a positive"):
        UncertaintyWeighting(num_tasks)  # type: ignore[arg-type]


def test_rejects_bad_losses() -> None:
    weighting = UncertaintyWeighting(2)
    with pytest.raises(ValueError, match=r"UncertaintyWeighting.*\(2,\), got \(3,\)"):
        weighting(nnlab.ones(3))
    with pytest.raises(ValueError, match="expected 2 task losses, got 3"):
        weighting([nnlab.tensor(1.0)] * 3)
    with pytest.raises(ValueError, match="loss 1 is not reduced"):
        weighting([nnlab.tensor(1.0), nnlab.ones(4)])
    with pytest.raises(TypeError, match="a Tensor or a sequence of scalar Tensors, got list"):
        weighting([1.0, 2.0])
