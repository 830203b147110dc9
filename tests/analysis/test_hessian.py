"""Curvature by double backward, checked against the exact Hessian of a small network.

The reference Hessian of a 31-parameter tanh MLP is built independently of the code under
test, twice: by ``nnlab.autograd.functional.hessian`` of the network written as a function
of one flat parameter vector (one backward pass per row), and by float64 central finite
differences of its gradient (no double backward at all). Against it: Hessian-vector products
to rounding, the top eigenvalues from power iteration and from Lanczos against
``numpy.linalg.eigvalsh``, and Hutchinson's trace within four standard deviations computed
from the exact Hessian. ε-sharpness is checked on a quadratic, where it has a closed form.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.analysis.hessian import (
    epsilon_sharpness,
    hessian_trace,
    hessian_vector_product,
    top_hessian_eigenvalues,
)
from nnlab.autograd.functional import hessian

pytestmark = pytest.mark.usefixtures("one_blas_thread")

SIZES = (3, 4, 3)  # inputs, hidden, classes: 3·4 + 4 + 4·3 + 3 = 31 parameters


def nll(logits: nnlab.Tensor, y: nnlab.Tensor) -> nnlab.Tensor:
    """Cross-entropy from twice-differentiable ops."""
    return F.nll_loss(F.log_softmax(logits, 1), y)


@pytest.fixture
def problem() -> tuple[nn.Module, tuple[np.ndarray, np.ndarray]]:
    nnlab.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((20, 3))
    return model, (x, rng.integers(0, 3, 20))


def flat_loss(data: tuple[np.ndarray, np.ndarray]):
    """The same network's loss as a function of one flat parameter vector, in
    ``model.parameters()`` order."""
    x, y = nnlab.tensor(data[0]), nnlab.tensor(data[1])
    n_in, n_hid, n_out = SIZES

    def f(theta: nnlab.Tensor) -> nnlab.Tensor:
        cut = np.cumsum([n_hid * n_in, n_hid, n_out * n_hid])
        w1 = theta[: cut[0]].reshape(n_hid, n_in)
        b1 = theta[cut[0] : cut[1]]
        w2 = theta[cut[1] : cut[2]].reshape(n_out, n_hid)
        b2 = theta[cut[2] :]
        return nll(F.linear(F.linear(x, w1, b1).tanh(), w2, b2), y)

    return f


def flat(model: nn.Module) -> np.ndarray:
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def exact_hessian(model: nn.Module, data: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return hessian(flat_loss(data), nnlab.tensor(flat(model))).numpy()


def test_reference_hessian_agrees_with_finite_differences(problem) -> None:
    model, data = problem
    f, theta = flat_loss(data), flat(model)

    def gradient(t: np.ndarray) -> np.ndarray:
        x = nnlab.tensor(t, requires_grad=True)
        return nnlab.autograd.grad(f(x), x)[0].numpy()

    eps = 1e-5
    columns = [
        (gradient(theta + eps * e) - gradient(theta - eps * e)) / (2 * eps)
        for e in np.eye(len(theta))
    ]
    np.testing.assert_allclose(exact_hessian(model, data), np.stack(columns, 1), atol=1e-8)


def test_hvp_equals_exact_hessian_times_v(problem) -> None:
    model, (x, y) = problem
    params = list(model.parameters())
    v = [np.random.default_rng(1).standard_normal(p.shape) for p in params]
    hv = hessian_vector_product(lambda: nll(model(nnlab.tensor(x)), nnlab.tensor(y)), params, v)
    expected = exact_hessian(model, (x, y)) @ np.concatenate([a.ravel() for a in v])
    np.testing.assert_allclose(np.concatenate([h.numpy().ravel() for h in hv]), expected,
                               rtol=1e-10, atol=1e-12)  # fmt: skip
    assert all(p.grad is None for p in params)


def test_hvp_of_a_loss_tensor_and_of_an_unused_parameter() -> None:
    a = nnlab.tensor([1.0, 2.0], requires_grad=True)
    unused = nnlab.tensor([3.0], requires_grad=True)
    loss = (a**3).sum()  # H = diag(6a)
    hv = hessian_vector_product(loss, [a, unused], [np.ones(2), np.ones(1)])
    np.testing.assert_array_equal(hv[0].numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(hv[1].numpy(), [0.0])
    # the graph is kept: the same loss Tensor can be used again
    again = hessian_vector_product(loss, [a, unused], [np.ones(2), np.zeros(1)])
    np.testing.assert_array_equal(again[0].numpy(), [6.0, 12.0])


def test_power_iteration_finds_the_top_eigenvalues(problem) -> None:
    model, data = problem
    exact = np.linalg.eigvalsh(exact_hessian(model, data))
    top = exact[np.argsort(-np.abs(exact))[:3]]
    found = top_hessian_eigenvalues(
        model, nll, data, k=3, iters=3000, tol=1e-13, generator=nnlab.random.Generator(0)
    )
    np.testing.assert_allclose(found.eigenvalues, top, rtol=1e-6)
    # each eigenvector is a unit vector with H u = λ u
    h = exact_hessian(model, data)
    for value, vector in zip(found.eigenvalues, found.eigenvectors):
        u = np.concatenate([a.ravel() for a in vector])
        assert abs(np.linalg.norm(u) - 1) < 1e-12
        np.testing.assert_allclose(h @ u, value * u, atol=1e-4 * abs(top[0]))


def test_lanczos_over_all_dimensions_is_exact(problem) -> None:
    model, data = problem
    exact = np.linalg.eigvalsh(exact_hessian(model, data))
    top = exact[np.argsort(-np.abs(exact))[:5]]
    found = top_hessian_eigenvalues(model, nll, data, k=5, iters=31, method="lanczos")
    np.testing.assert_allclose(found.eigenvalues, top, rtol=1e-8)


def test_batches_are_weighted_by_their_size(problem) -> None:
    """The Hessian of the mean loss over uneven batches is the full batch's."""
    model, (x, y) = problem
    batches = [(x[:3], y[:3]), (x[3:], y[3:])]
    whole = top_hessian_eigenvalues(model, nll, (x, y), k=2, iters=31, method="lanczos")
    parts = top_hessian_eigenvalues(model, nll, batches, k=2, iters=31, method="lanczos")
    np.testing.assert_allclose(parts.eigenvalues, whole.eigenvalues, rtol=1e-10)


def test_hutchinson_trace_converges_to_the_exact_trace(problem) -> None:
    model, data = problem
    h = exact_hessian(model, data)
    samples = 2000
    # Rademacher v: Var(vᵀHv) = 2 Σ_{i≠j} H_ij²
    sigma = np.sqrt(2 * ((h**2).sum() - (np.diag(h) ** 2).sum()) / samples)
    estimate = hessian_trace(model, nll, data, samples, generator=nnlab.random.Generator(0))
    assert abs(estimate.trace - np.trace(h)) < 4 * sigma
    assert 0.8 < estimate.std_error / sigma < 1.25


class Point(nn.Module):
    """A model that is its parameter: L(θ) = loss_fn(θ) ignores the data."""

    def __init__(self, theta: np.ndarray) -> None:
        super().__init__()
        self.theta = nn.Parameter(nnlab.tensor(theta))

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        return self.theta


def test_epsilon_sharpness_of_a_quadratic_has_its_closed_form() -> None:
    """L(θ) = ½ Σ aᵢ θᵢ²: when ε(|θᵢ| + 1) < |θᵢ| the loss rises fastest toward the box's
    corner sign(θ)·ε(|θ| + 1), where it is ½ Σ aᵢ (|θᵢ| + ε(|θᵢ| + 1))²."""
    a = np.array([1.0, 3.0, 0.5, 2.0])
    theta = np.array([0.5, -1.0, 2.0, -0.3])
    eps = 0.05
    model = Point(theta)
    data = (np.zeros((1, 1)), np.zeros(1))
    quadratic = lambda out, _: 0.5 * (nnlab.tensor(a) * out**2).sum()  # noqa: E731
    base = 0.5 * (a * theta**2).sum()
    top = 0.5 * (a * (np.abs(theta) + eps * (np.abs(theta) + 1)) ** 2).sum()
    found = epsilon_sharpness(model, quadratic, data, epsilon=eps, steps=10)
    assert found == pytest.approx(100 * (top - base) / (1 + base), rel=1e-12)
    np.testing.assert_array_equal(model.theta.detach().numpy(), theta)


def test_model_is_left_untouched(problem) -> None:
    model, data = problem
    model.train()
    before = [p.detach().numpy().copy() for p in model.parameters()]
    top_hessian_eigenvalues(model, nll, data, iters=5)
    hessian_trace(model, nll, data, samples=3)
    epsilon_sharpness(model, nll, data, steps=2)
    for p, b in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.detach().numpy(), b)
        assert p.grad is None
    assert all(m.training for m in model.modules())


def test_fused_cross_entropy_gives_the_same_eigenvalues(problem) -> None:
    model, data = problem
    fused = top_hessian_eigenvalues(model, F.cross_entropy, data, k=2, method="lanczos")
    composed = top_hessian_eigenvalues(model, nll, data, k=2, method="lanczos")
    np.testing.assert_allclose(fused.eigenvalues, composed.eigenvalues, rtol=1e-8)


def test_errors_name_the_problem(problem) -> None:
    model, (x, y) = problem
    params = list(model.parameters())
    with pytest.raises(ValueError, match=r"v\[1\] has shape \(3,\) but params\[1\] has shape"):
        wrong = [np.zeros(params[0].shape)] + [np.zeros(3)] * 3
        hessian_vector_product(lambda: nll(model(nnlab.tensor(x)), nnlab.tensor(y)), params, wrong)
    with pytest.raises(ValueError, match="one array per parameter"):
        hessian_vector_product(lambda: model(nnlab.tensor(x)).sum(), params, [np.zeros(3)])
    with pytest.raises(ValueError, match=r"one-element \(mean\) loss, got shape \(20,\)"):
        top_hessian_eigenvalues(model, lambda o, t: F.nll_loss(o, t, reduction="none"), (x, y))
    conv = nn.Sequential(nn.Conv1d(1, 2, 2), nn.Flatten(), nn.Linear(4, 3)).double()
    with pytest.raises(RuntimeError, match="convolutions, pooling and BatchNorm"):
        top_hessian_eigenvalues(conv, nll, (x[:, None], y))
    with pytest.raises(ValueError, match="exceeds the number of parameters"):
        top_hessian_eigenvalues(model, nll, (x, y), k=40)
