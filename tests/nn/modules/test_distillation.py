"""Knowledge distillation (Hinton et al. 2015): value and gradients against the formula
written in torch (float32 and float64), finite differences in float64, the detached
teacher, the T² scaling (the soft gradients' exact large-T limit), α's end points, unlabelled
rows, and the errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from parity import TORCH_DTYPE, compare_to_torch

import nnlab
from nnlab.autograd import gradcheck
from nnlab.nn.modules.distillation import DistillationLoss, distillation_loss


def torch_distillation(s, t, y, temperature, alpha, ignore_index=-100):
    """The reference: α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(s, y) in torch."""
    soft = TF.kl_div(
        TF.log_softmax(s / temperature, dim=1),
        TF.softmax(t.detach() / temperature, dim=1),
        reduction="batchmean",
    )
    hard = TF.cross_entropy(s, y, ignore_index=ignore_index)
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def _batch(n: int = 6, c: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    s = 2 * rng.standard_normal((n, c))
    t = 3 * rng.standard_normal((n, c))
    return s, t, rng.integers(0, c, n)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("temperature", "alpha"), [(1.0, 0.5), (4.0, 0.5), (8, 0.9), (2.0, 0)])
def test_matches_the_formula_in_torch(temperature: float, alpha: float, dtype: type) -> None:
    s, t, y = _batch()
    ours_s = nnlab.tensor(s.astype(dtype), requires_grad=True)
    theirs_s = torch.tensor(s, dtype=TORCH_DTYPE[np.dtype(dtype)], requires_grad=True)
    ours = distillation_loss(
        ours_s, nnlab.tensor(t.astype(dtype)), nnlab.tensor(y), temperature, alpha
    )
    theirs = torch_distillation(
        theirs_s, torch.tensor(t, dtype=theirs_s.dtype), torch.tensor(y), temperature, alpha
    )
    assert ours.dtype == nnlab.tensor(s.astype(dtype)).dtype
    compare_to_torch(ours, theirs, dtype, "loss")
    ours.backward()
    theirs.backward()
    compare_to_torch(ours_s.grad, theirs_s.grad, dtype, "grad of the student's logits")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unlabelled_rows_count_only_through_the_teacher(dtype: type) -> None:
    s, t, y = _batch(8)
    y[[1, 4, 5]] = -100
    ours_s = nnlab.tensor(s.astype(dtype), requires_grad=True)
    theirs_s = torch.tensor(s, dtype=TORCH_DTYPE[np.dtype(dtype)], requires_grad=True)
    ours = DistillationLoss(3.0, 0.3)(ours_s, nnlab.tensor(t.astype(dtype)), nnlab.tensor(y))
    theirs = torch_distillation(
        theirs_s, torch.tensor(t, dtype=theirs_s.dtype), torch.tensor(y), 3.0, 0.3
    )
    compare_to_torch(ours, theirs, dtype, "loss")
    ours.backward()
    theirs.backward()
    compare_to_torch(ours_s.grad, theirs_s.grad, dtype, "grad of the student's logits")


def test_gradcheck_float64() -> None:
    s, t, y = _batch(4, 3)
    target = nnlab.tensor(y)
    teacher = nnlab.tensor(t)
    student = nnlab.tensor(s, requires_grad=True)
    assert gradcheck(lambda x: distillation_loss(x, teacher, target, 3.0, 0.7), [student])


def test_no_gradient_reaches_the_teacher() -> None:
    s, t, y = _batch()
    teacher = nnlab.tensor(t, requires_grad=True)
    student = nnlab.tensor(s, requires_grad=True)
    distillation_loss(student, teacher, nnlab.tensor(y)).backward()
    assert teacher.grad is None
    assert student.grad is not None


def test_alpha_end_points_are_the_two_terms() -> None:
    s, t, y = _batch()
    student, teacher, target = nnlab.tensor(s), nnlab.tensor(t), nnlab.tensor(y)
    ce = nnlab.nn.functional.cross_entropy(student, target).item()
    assert distillation_loss(student, teacher, target, 4.0, 0.0).item() == pytest.approx(ce)
    # the student equal to the teacher: KL = 0, so α = 1 leaves nothing
    assert distillation_loss(teacher, teacher, target, 4.0, 1.0).item() == pytest.approx(
        0.0, abs=1e-12
    )


def test_soft_gradient_tends_to_centred_logit_matching() -> None:
    # With d = s − t, T²·∂KL/∂sᵢ = T·(pᵢ − qᵢ) → (dᵢ − mean(d))/C per sample (divided by N for
    # the batch mean) as T → ∞; at T = 1e3 the remainder is O(1/T).
    s, t, y = _batch(5, 4)
    n, c = s.shape
    d = s - t
    limit = (d - d.mean(axis=1, keepdims=True)) / (c * n)
    norms = []
    for temperature in (1.0, 10.0, 100.0, 1000.0):
        student = nnlab.tensor(s, requires_grad=True)
        distillation_loss(student, nnlab.tensor(t), nnlab.tensor(y), temperature, 1.0).backward()
        norms.append(np.linalg.norm(student.grad.numpy()))
    np.testing.assert_allclose(student.grad.numpy(), limit, atol=2e-3 * np.abs(limit).max())
    # the scaled gradients stay the same size over three decades of temperature
    assert max(norms[1:]) / min(norms[1:]) < 1.2


def test_module_defaults_and_repr() -> None:
    criterion = DistillationLoss()
    assert (criterion.temperature, criterion.alpha, criterion.ignore_index) == (4.0, 0.5, -100)
    assert repr(criterion) == "DistillationLoss(temperature=4.0, alpha=0.5)"
    assert list(criterion.parameters()) == []


@pytest.mark.parametrize(
    ("temperature", "alpha", "error", "match"),
    [
        (0.0, 0.5, ValueError, "temperature must be finite and > 0, got 0.0"),
        (-1.0, 0.5, ValueError, "temperature must be finite and > 0"),
        (float("inf"), 0.5, ValueError, "temperature must be finite"),
        ("4", 0.5, TypeError, "temperature must be a number, got str"),
        (4.0, 1.5, ValueError, r"alpha must be in \[0, 1\], got 1.5"),
        (4.0, -0.1, ValueError, r"alpha must be in \[0, 1\]"),
        (4.0, True, TypeError, "alpha must be a number, got bool"),
    ],
)
def test_rejects_bad_hyperparameters(temperature, alpha, error, match) -> None:
    with pytest.raises(error, match=f"DistillationLoss: {match}"):
        DistillationLoss(temperature, alpha)
    s, t, y = _batch()
    with pytest.raises(error, match=f"distillation_loss: {match}"):
        distillation_loss(nnlab.tensor(s), nnlab.tensor(t), nnlab.tensor(y), temperature, alpha)


def test_rejects_bad_logits() -> None:
    s, t, y = _batch(6, 5)
    target = nnlab.tensor(y)
    with pytest.raises(ValueError, match=r"teacher_logits must have the student's shape \(6, 5\)"):
        distillation_loss(nnlab.tensor(s), nnlab.tensor(t[:, :4]), target)
    with pytest.raises(ValueError, match=r"student_logits must be \(N, C\), got shape \(5,\)"):
        distillation_loss(nnlab.tensor(s[0]), nnlab.tensor(t[0]), target)
    with pytest.raises(TypeError, match="must be Tensors, got Tensor and ndarray"):
        distillation_loss(nnlab.tensor(s), t, target)
    with pytest.raises(TypeError, match="class-index targets must be integers"):
        distillation_loss(nnlab.tensor(s), nnlab.tensor(t), nnlab.tensor(y.astype(float)))
