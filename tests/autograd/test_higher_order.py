"""Higher-order gradients: ``create_graph=True`` records the backward pass itself, so
gradients can be differentiated again (Hessian-vector products, second and third
derivatives). Checked against analytic formulas and torch."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnlab
from nnlab.autograd import Function, grad, gradcheck, gradgradcheck


def f64(values, requires_grad=True):
    return nnlab.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def derivatives(fn, x, order):
    """[f(x), f'(x), f''(x), ...] elementwise, by repeated ``grad(create_graph=True)``."""
    out = [fn(x)]
    for _ in range(order):
        (d,) = grad(out[-1].sum(), x, create_graph=True)
        out.append(d)
    return out


def test_backward_with_create_graph_builds_a_differentiable_gradient():
    x = f64([0.5, -1.0, 2.0])
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad and first.grad_fn is not None
    np.testing.assert_allclose(first.array, 3 * x.array**2)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.array, 6 * x.array)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
def test_create_graph_gradient_matches_torch_after_accumulation():
    x0 = np.array([0.3, -0.8])
    x, xt = f64(x0), torch.tensor(x0, requires_grad=True)
    (x.sin() * x).sum().backward(create_graph=True)
    (xt.sin() * xt).sum().backward(create_graph=True)
    g, gt = x.grad, xt.grad
    x.grad, xt.grad = None, None
    (g * g).sum().backward()
    (gt * gt).sum().backward()
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-12)


SECOND_DERIVATIVES = {
    "x**3": (lambda x: x**3, lambda x: 6 * x),
    "sin": (lambda x: x.sin(), lambda x: -np.sin(x)),
    "cos": (lambda x: x.cos(), lambda x: -np.cos(x)),
    "tanh": (lambda x: x.tanh(), lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    "exp*log": (
        lambda x: x.exp() * x.log(),
        lambda x: np.exp(x) * (np.log(x) + 2 / x - 1 / x**2),
    ),
    "sigmoid": (
        lambda x: x.sigmoid(),
        lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s),
    ),
    "sqrt": (lambda x: x.sqrt(), lambda x: -0.25 * x**-1.5),
    "x/(1+x²)": (lambda x: x / (1 + x * x), lambda x: (2 * x**3 - 6 * x) / (1 + x**2) ** 3),
    "log1p": (lambda x: x.log1p(), lambda x: -1 / (1 + x) ** 2),
    "2**x": (lambda x: 2**x, lambda x: np.log(2) ** 2 * 2**x),
}


@pytest.mark.parametrize("name", SECOND_DERIVATIVES)
def test_second_derivative_matches_the_formula(name):
    fn, d2 = SECOND_DERIVATIVES[name]
    x0 = np.array([0.3, 0.9, 1.7, 2.5])
    _, _, second = derivatives(fn, f64(x0), order=2)
    np.testing.assert_allclose(second.array, d2(x0), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(
    "fn, d3",
    [
        (lambda x: x**4, lambda x: 24 * x),
        (lambda x: x.sin(), lambda x: -np.cos(x)),
        (lambda x: x.exp() * x, lambda x: np.exp(x) * (x + 3)),
        (lambda x: x.tanh(), lambda x: -2 * (1 - np.tanh(x) ** 2) * (1 - 3 * np.tanh(x) ** 2)),
    ],
)
def test_third_derivative(fn, d3):
    x0 = np.array([-1.1, 0.4, 1.3])
    third = derivatives(fn, f64(x0), order=3)[3]
    np.testing.assert_allclose(third.array, d3(x0), rtol=1e-10, atol=1e-12)


def test_higher_derivatives_of_a_0d_tensor():
    # NumPy returns scalars, not arrays, from ufuncs on 0-d input: the saved output must
    # still be recognised as the op's output, or e^x would become a constant.
    x = nnlab.tensor(1.0, dtype=nnlab.float64, requires_grad=True)
    values = derivatives(lambda t: t.exp(), x, order=3)
    for v in values:
        assert v.shape == () and math.isclose(v.item(), math.e, rel_tol=1e-14)
    y = nnlab.tensor(0.5, dtype=nnlab.float64, requires_grad=True)
    second = derivatives(lambda t: t.tanh(), y, order=2)[2]
    assert math.isclose(second.item(), -2 * math.tanh(0.5) * (1 - math.tanh(0.5) ** 2))


# -- Hessian-vector products of a small MLP -----------------------------------------------------

PARAM_SHAPES = {"W1": (4, 6), "b1": (6,), "W2": (6, 3), "b2": (3,)}


def mlp_loss(params, x, onehot):
    """2-layer tanh MLP with softmax cross-entropy, from raw ops (nnlab or torch alike)."""
    h = (x @ params["W1"] + params["b1"]).tanh()
    logits = h @ params["W2"] + params["b2"]
    shifted = logits - logits.amax(-1, keepdim=True)
    log_probs = shifted - shifted.exp().sum(-1, keepdim=True).log()
    return -(log_probs * onehot).sum() / x.shape[0]


def mlp_loss_log_softmax(params, x, onehot):
    h = (x @ params["W1"] + params["b1"]).tanh()
    logits = h @ params["W2"] + params["b2"]
    return -(logits.log_softmax(-1) * onehot).sum() / x.shape[0]


def hvp(lib, loss_fn, params, vectors, x, onehot):
    names = list(params)
    loss = loss_fn(params, x, onehot)
    grads = lib.autograd.grad(loss, [params[n] for n in names], create_graph=True)
    dot = sum((g * vectors[n]).sum() for g, n in zip(grads, names))
    return lib.autograd.grad(dot, [params[n] for n in names])


@pytest.mark.parametrize("loss_fn", [mlp_loss, mlp_loss_log_softmax])
@pytest.mark.parametrize(
    "dtype, rtol, atol", [(np.float64, 1e-10, 1e-12), (np.float32, 1e-4, 1e-5)]
)
def test_mlp_hessian_vector_product_matches_torch(loss_fn, dtype, rtol, atol):
    rng = np.random.default_rng(0)
    values = {n: rng.standard_normal(s).astype(dtype) for n, s in PARAM_SHAPES.items()}
    vectors = {n: rng.standard_normal(s).astype(dtype) for n, s in PARAM_SHAPES.items()}
    x = rng.standard_normal((5, 4)).astype(dtype)
    onehot = np.eye(3, dtype=dtype)[rng.integers(0, 3, 5)]

    ours = hvp(
        nnlab, loss_fn,
        {n: nnlab.tensor(v, requires_grad=True) for n, v in values.items()},
        {n: nnlab.tensor(v) for n, v in vectors.items()},
        nnlab.tensor(x), nnlab.tensor(onehot),
    )  # fmt: skip
    theirs = hvp(
        torch, loss_fn,
        {n: torch.tensor(v, requires_grad=True) for n, v in values.items()},
        {n: torch.tensor(v) for n, v in vectors.items()},
        torch.tensor(x), torch.tensor(onehot),
    )  # fmt: skip
    for name, a, b in zip(PARAM_SHAPES, ours, theirs):
        assert a.dtype == dtype, name
        np.testing.assert_allclose(a.array, b.numpy(), rtol=rtol, atol=atol, err_msg=name)


def test_full_hessian_matches_torch():
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(4)

    def f(lib_x):
        return (lib_x.tanh() * lib_x.exp()).sum() + (lib_x * lib_x).sum() ** 2 / 3

    x = f64(x0)
    (g,) = grad(f(x), x, create_graph=True)
    rows = [grad(g[i], x, retain_graph=True)[0].array for i in range(4)]
    expected = torch.autograd.functional.hessian(f, torch.tensor(x0))
    np.testing.assert_allclose(np.stack(rows), expected.numpy(), rtol=1e-10, atol=1e-12)


def test_gradgradcheck_of_an_mlp_layer():
    rng = np.random.default_rng(2)
    x = f64(rng.standard_normal((3, 4)))
    w = f64(rng.standard_normal((4, 2)))
    b = f64(rng.standard_normal(2))
    assert gradgradcheck(lambda x, w, b: (x @ w + b).tanh().softmax(-1), [x, w, b])
    assert gradcheck(lambda x, w, b: (x @ w + b).tanh().log_softmax(-1), [x, w, b])


# -- ops that cannot be differentiated twice --------------------------------------------------


class OnceOnly(Function):
    """y = 2x with a backward that only works on arrays."""

    double_backward = False

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return np.multiply(g, 2.0)


@pytest.mark.parametrize(
    "fn, name",
    [(lambda x: OnceOnly.apply(x), "OnceOnly"), (lambda x: x.prod(), "Prod")],
    ids=["custom", "prod"],
)
def test_double_backward_false_raises_a_clear_error(fn, name):
    x = f64([1.0, 2.0, 3.0])
    y = fn(x).sum()
    with pytest.raises(RuntimeError, match=rf"{name} does not support higher-order gradients"):
        grad(y, x, create_graph=True)
    with pytest.raises(RuntimeError, match=name):
        fn(x).sum().backward(create_graph=True)
    fn(x).sum().backward()  # first order is fine
    assert x.grad is not None


def test_create_graph_is_not_affected_by_ops_outside_the_requested_part():
    x = f64([1.0, 2.0])
    h = x.prod() * x  # Prod sits below h: grad w.r.t. h never reaches it
    y = (h * h).sum()
    (gh,) = grad(y, h, create_graph=True)
    (ggh,) = grad(gh.sum(), h)
    np.testing.assert_allclose(ggh.array, [2.0, 2.0])
