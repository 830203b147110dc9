"""The backward engine: accumulation, graph freeing, depth, grad modes, ``autograd.grad``,
custom Functions, hooks, error messages and memory, compared with torch where it has the
same behaviour."""

from __future__ import annotations

import gc
import math
import tracemalloc
import weakref

import numpy as np
import pytest
import torch

import nnlab
from nnlab.autograd import Function
from nnlab.autograd.function import Function as FunctionBase
from nnlab.tensor import Tensor


def pair(values, requires_grad=True):
    """The same float64 values as an nnlab and a torch tensor."""
    values = np.asarray(values, dtype=np.float64)
    return (
        nnlab.tensor(values, requires_grad=requires_grad),
        torch.tensor(values, requires_grad=requires_grad),
    )


def assert_close(a, b, rtol=1e-12, atol=1e-12):
    a = a.array if isinstance(a, Tensor) else np.asarray(a)
    b = b.detach().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# -- accumulation -----------------------------------------------------------------------------


def test_gradients_accumulate_until_reset_like_torch():
    x, xt = pair([1.0, -2.0, 3.0])
    for _ in range(3):
        (x * x * x).sum().backward()
        (xt * xt * xt).sum().backward()
        assert_close(x.grad, xt.grad)
    assert_close(x.grad, 3 * 3 * np.array([1.0, 4.0, 9.0]))
    x.grad = None
    (x * 2).sum().backward()
    assert_close(x.grad, [2.0, 2.0, 2.0])


def test_accumulation_is_in_place_as_in_torch():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    first = x.grad
    (x * 4).sum().backward()
    assert x.grad is first
    assert_close(first, [7.0, 7.0])


def test_a_tensor_used_twice_gets_the_sum_of_both_gradients():
    x, xt = pair([0.5, 1.5])
    (x * x.sin() + x.exp() * x).sum().backward()
    (xt * xt.sin() + xt.exp() * xt).sum().backward()
    assert_close(x.grad, xt.grad)
    y = nnlab.tensor([2.0], requires_grad=True)
    (y + y + y).sum().backward()
    assert_close(y.grad, [3.0])


def test_diamond_graph_matches_torch():
    x, xt = pair([[0.3, -0.7], [1.1, 0.2]])
    for lib_x in (x, xt):
        h = lib_x.tanh()
        a, b = h * 2, h.exp()
        (a * b + a.sum(0, keepdim=True) * h).sum().backward()
    assert_close(x.grad, xt.grad)


def test_leaf_grad_keeps_the_leaf_dtype():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = nnlab.tensor([3.0, 4.0], dtype=nnlab.float64)
    out = (x * y).sum()
    assert out.dtype == np.float64
    out.backward()
    assert x.grad.dtype == np.float32


def test_backward_with_an_explicit_gradient():
    x, xt = pair([[1.0, 2.0], [3.0, 4.0]])
    g = np.array([[1.0, -1.0], [0.5, 2.0]])
    (x * x).backward(nnlab.tensor(g))
    (xt * xt).backward(torch.tensor(g))
    assert_close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match=r"gradient has shape \(3,\).*\(2, 2\)"):
        (x * x).backward(nnlab.ones(3, dtype=nnlab.float64))


def test_autograd_backward_on_several_roots():
    x, xt = pair([1.0, 2.0])
    nnlab.autograd.backward([(x * x).sum(), x * 3], [None, nnlab.tensor([1.0, 2.0])])
    torch.autograd.backward([(xt * xt).sum(), xt * 3], [None, torch.tensor([1.0, 2.0])])
    assert_close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match="2 gradients for 1 outputs"):
        nnlab.autograd.backward([x.sum()], [None, None])


def test_backward_on_a_non_scalar_without_gradient_explains_what_to_do():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"scalar.*sum\(\)|sum\(\).*scalar") as info:
        (x * 2).backward()
    assert "(2,)" in str(info.value) and "gradient" in str(info.value)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (torch.ones(2, requires_grad=True) * 2).backward()
    (x * 2)[:1].backward()  # one element is fine, as in torch
    assert_close(x.grad, [2.0, 0.0])


def test_backward_on_a_tensor_that_requires_no_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        nnlab.tensor([1.0]).sum().backward()
    x = nnlab.tensor([1.0], requires_grad=True)
    with nnlab.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="no_grad"):
        y.backward()


# -- graph freeing -----------------------------------------------------------------------------


def test_second_backward_through_a_freed_graph_mentions_retain_graph():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()
    xt = torch.tensor([1.0, 2.0], requires_grad=True)
    yt = (xt.exp() * xt).sum()
    yt.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        yt.backward()


def test_a_freed_subgraph_is_detected_from_another_root():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward_with_torchs_result():
    x, xt = pair([0.2, -0.4, 1.3])
    y = (x.tanh() * x.exp()).sum()
    yt = (xt.tanh() * xt.exp()).sum()
    y.backward(retain_graph=True)
    yt.backward(retain_graph=True)
    y.backward()
    yt.backward()
    assert_close(x.grad, xt.grad)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_backward_releases_saved_arrays():
    x = nnlab.randn(500, 500, requires_grad=True)
    h = x * 2.0
    alive = weakref.ref(h.array)
    y = h.sin()  # Sin saves its input, the 1 MB array of h
    del h
    assert alive() is not None, "the graph keeps the saved input alive"
    y.sum().backward()
    assert alive() is None, "backward must free the arrays the graph saved"
    assert y.grad_fn is not None  # the node object remains; only its contents are released


def test_backward_releases_arrays_kept_as_ctx_attributes():
    x = nnlab.randn(300, 300, requires_grad=True)
    y = nnlab.relu(x)  # ReLU keeps a mask on ctx, not through save_for_backward
    mask = weakref.ref(y.grad_fn.mask)
    y.sum().backward()
    assert mask() is None


def test_retain_graph_keeps_saved_arrays():
    x = nnlab.randn(100, 100, requires_grad=True)
    h = x * 2.0
    alive = weakref.ref(h.array)
    y = h.sin()
    del h
    y.sum().backward(retain_graph=True)
    assert alive() is not None
    y.sum().backward()
    assert alive() is None


# -- depth -------------------------------------------------------------------------------------


def test_a_10000_op_chain_backpropagates_without_recursion():
    x = nnlab.tensor(0.7, dtype=nnlab.float64, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    y.backward()
    assert math.isclose(x.grad.item(), 1.0001**10_000, rel_tol=1e-9)


def test_a_10000_deep_chain_of_mixed_ops_matches_the_chain_rule():
    # y ← sin(y)·0.5 + 0.1,  y ← tanh(y) + y·0.3,  y ← exp(-y²)·0.9, cycling; the exact
    # derivative is carried along in plain floats.
    x = nnlab.tensor([0.3, -1.2], dtype=nnlab.float64, requires_grad=True)
    y = x
    value = np.array([0.3, -1.2])
    deriv = np.ones(2)
    for i in range(10_000):
        kind = i % 3
        if kind == 0:
            y = y.sin() * 0.5 + 0.1
            deriv = deriv * 0.5 * np.cos(value)
            value = np.sin(value) * 0.5 + 0.1
        elif kind == 1:
            y = y.tanh() + y * 0.3
            deriv = deriv * (1 - np.tanh(value) ** 2 + 0.3)
            value = np.tanh(value) + value * 0.3
        else:
            y = (-(y * y)).exp() * 0.9
            deriv = deriv * 0.9 * np.exp(-(value**2)) * (-2 * value)
            value = np.exp(-(value**2)) * 0.9
    y.sum().backward()
    np.testing.assert_allclose(y.array, value, rtol=1e-12)
    np.testing.assert_allclose(x.grad.array, deriv, rtol=1e-9, atol=1e-300)


def test_a_wide_graph_with_many_uses_of_one_tensor():
    x = nnlab.tensor([1.0, 2.0], dtype=nnlab.float64, requires_grad=True)
    total = x * 0
    for k in range(2000):
        total = total + x * (k % 7)
    total.sum().backward()
    assert_close(x.grad, np.full(2, float(sum(k % 7 for k in range(2000)))))


# -- grad modes --------------------------------------------------------------------------------


def test_no_grad_context():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    with nnlab.no_grad():
        assert not nnlab.is_grad_enabled()
        y = x * 2 + x.exp()
        z = x.sum()
    assert nnlab.is_grad_enabled()
    for t in (y, z):
        assert not t.requires_grad and t.grad_fn is None


@pytest.mark.parametrize("bare", [True, False])
def test_no_grad_as_decorator(bare):
    def f(x):
        assert not nnlab.is_grad_enabled()
        return x * 2

    decorated = nnlab.no_grad(f) if bare else nnlab.no_grad()(f)
    x = nnlab.ones(2, requires_grad=True)
    y = decorated(x)
    assert not y.requires_grad and nnlab.is_grad_enabled()
    assert decorated.__name__ == "f"

    @nnlab.no_grad
    def g():
        return nnlab.is_grad_enabled()

    assert g() is False


def test_enable_grad_inside_no_grad():
    x = nnlab.ones(2, requires_grad=True)
    with nnlab.no_grad():
        with nnlab.enable_grad():
            y = x * 2
        z = x * 2

        @nnlab.enable_grad()
        def f():
            return x * 3

        w = f()
        assert not nnlab.is_grad_enabled()
    assert y.requires_grad and not z.requires_grad and w.requires_grad


def test_set_grad_enabled_as_call_context_and_decorator():
    try:
        nnlab.set_grad_enabled(False)
        assert not nnlab.is_grad_enabled()
        nnlab.set_grad_enabled(True)
        assert nnlab.is_grad_enabled()
        with nnlab.set_grad_enabled(False):
            assert not nnlab.is_grad_enabled()
        assert nnlab.is_grad_enabled()

        @nnlab.set_grad_enabled(False)
        def f():
            return nnlab.is_grad_enabled()

        assert nnlab.is_grad_enabled()
        assert f() is False and nnlab.is_grad_enabled()
    finally:
        nnlab.set_grad_enabled(True)


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with nnlab.no_grad():
            raise ValueError
    assert nnlab.is_grad_enabled()


# -- autograd.grad -------------------------------------------------------------------------------


def test_grad_returns_gradients_without_touching_dot_grad():
    x, xt = pair([0.5, -1.0])
    w, wt = pair([[1.0, 2.0], [3.0, 4.0]])
    gx, gw = nnlab.autograd.grad((x @ w).tanh().sum(), [x, w])
    gxt, gwt = torch.autograd.grad((xt @ wt).tanh().sum(), [xt, wt])
    assert_close(gx, gxt)
    assert_close(gw, gwt)
    assert x.grad is None and w.grad is None
    assert not gx.requires_grad


def test_grad_allow_unused():
    x = nnlab.tensor([1.0], requires_grad=True)
    unused = nnlab.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        nnlab.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = nnlab.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert_close(gx, [2.0])
    assert gu is None


def test_grad_with_respect_to_a_non_leaf_intermediate():
    x, xt = pair([0.3, 0.6])
    h, ht = x.exp(), xt.exp()
    y, yt = (h * h).sin().sum(), (ht * ht).sin().sum()
    (gh,) = nnlab.autograd.grad(y, h, retain_graph=True)
    (ght,) = torch.autograd.grad(yt, ht, retain_graph=True)
    assert_close(gh, ght)
    gh2, gx = nnlab.autograd.grad(y, [h, x])
    assert_close(gh2, ght)
    assert_close(gx, torch.autograd.grad(yt, xt)[0])


def test_grad_with_grad_outputs():
    x, xt = pair([[1.0, 2.0], [3.0, 4.0]])
    v = np.array([[0.5, -1.0], [2.0, 0.25]])
    (g,) = nnlab.autograd.grad(x * x * x, x, grad_outputs=nnlab.tensor(v))
    (gt,) = torch.autograd.grad(xt * xt * xt, xt, grad_outputs=torch.tensor(v))
    assert_close(g, gt)
    outs = [(x * 2).sum(), x.exp()]
    g2 = nnlab.autograd.grad(outs, x, grad_outputs=[None, nnlab.tensor(v)])[0]
    assert_close(g2, 2 + v * np.exp(x.array))


def test_grad_of_the_same_input_twice_and_of_a_leaf_output():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    a, b = nnlab.autograd.grad((x * x).sum(), [x, x])
    assert_close(a, [2.0, 4.0])
    assert_close(b, [2.0, 4.0])
    assert not np.shares_memory(a.array, b.array)
    (g,) = nnlab.autograd.grad(x, x, nnlab.ones(2))
    assert_close(g, [1.0, 1.0])


def test_grad_requires_inputs_that_require_grad():
    x = nnlab.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="input 1 does not require grad"):
        nnlab.autograd.grad((x * 2).sum(), [x, nnlab.tensor([1.0])])


class Exploding(Function):
    """Identity whose backward must never run."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        raise AssertionError("backward ran for a node below the requested inputs")


def test_grad_runs_only_the_part_of_the_graph_it_needs():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    h = Exploding.apply(x) * 3
    y = (h * h).sum()
    (gh,) = nnlab.autograd.grad(y, h)
    assert_close(gh, 2 * h.array)


def test_grad_results_can_be_modified_in_place():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    (g,) = nnlab.autograd.grad(x.sum(), x)  # sum's backward is a read-only broadcast view
    g.add_(1.0)
    assert_close(g, [2.0, 2.0])


# -- custom Functions --------------------------------------------------------------------------


class Cube(Function):
    """y = x³;  dy/dx = 3x² (the example of function.py)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x**2


def test_documented_custom_function():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert repr(y.grad_fn) == "<CubeBackward>"
    y.sum().backward()
    assert_close(x.grad, [3.0, 12.0])
    assert nnlab.autograd.gradcheck(
        Cube.apply, [nnlab.randn(4, dtype=nnlab.float64, requires_grad=True)]
    )


class ScaledProduct(Function):
    """y = a·b·scale;  da = g·b·scale, db = g·a·scale; records which inputs needed grads."""

    seen: list = []

    @staticmethod
    def forward(ctx, a, b, scale):
        ctx.save_for_backward(a, b)
        ctx.scale = scale
        return a * b * scale

    @staticmethod
    def backward(ctx, g):
        ScaledProduct.seen.append(ctx.needs_input_grad)
        a, b = ctx.saved_tensors
        ga = g * b * ctx.scale if ctx.needs_input_grad[0] else None
        gb = g * a * ctx.scale if ctx.needs_input_grad[1] else None
        return ga, gb, None


def test_multi_input_function_and_needs_input_grad():
    ScaledProduct.seen.clear()
    a = nnlab.tensor([1.0, 2.0], dtype=nnlab.float64, requires_grad=True)
    b = nnlab.tensor([3.0, 4.0], dtype=nnlab.float64)
    ScaledProduct.apply(a, b, 2.0).sum().backward()
    assert ScaledProduct.seen == [(True, False, False)]
    assert_close(a.grad, [6.0, 8.0])
    assert b.grad is None
    b.requires_grad_()
    assert nnlab.autograd.gradcheck(lambda p, q: ScaledProduct.apply(p, q, 0.5), [a, b])


def test_function_without_inputs_needing_grad_records_nothing():
    y = ScaledProduct.apply(nnlab.ones(2), nnlab.ones(2), 1.0)
    assert not y.requires_grad and y.grad_fn is None


class Split2(Function):
    """(y₁, y₂) = (2x, x²): two outputs, so backward receives two gradients."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return 2 * x, x * x

    @staticmethod
    def backward(ctx, g1, g2):
        (x,) = ctx.saved_tensors
        return 2 * g1 + 2 * x * g2


def test_multi_output_function_gets_zeros_for_unused_outputs():
    x = nnlab.tensor([1.0, 3.0], dtype=nnlab.float64, requires_grad=True)
    y1, y2 = Split2.apply(x)
    assert y1.grad_fn is y2.grad_fn
    (y1 + y2).sum().backward()
    assert_close(x.grad, [4.0, 8.0])
    x.grad = None
    y1, _ = Split2.apply(x)
    y1.sum().backward()
    assert_close(x.grad, [2.0, 2.0])


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x.sum()

    @staticmethod
    def backward(ctx, g):
        return np.ones(3)


class WrongCount(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g


class SavesATemporary(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x * 2)
        return x

    @staticmethod
    def backward(ctx, g):
        (doubled,) = ctx.saved_tensors
        return g * doubled / doubled


def test_a_wrong_gradient_shape_names_the_function():
    x = nnlab.ones(2, 2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WrongShape.*\(3,\).*\(2, 2\)"):
        WrongShape.apply(x).backward()


def test_a_wrong_number_of_gradients_names_the_function():
    x = nnlab.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="WrongCount.backward returned 1 gradients, expected 2"):
        WrongCount.apply(x, x).sum().backward()


def test_saving_an_array_that_is_neither_input_nor_output_is_refused():
    # Harmless for a first derivative; a second derivative would silently treat the
    # saved temporary as a constant, so create_graph refuses it.
    x = nnlab.ones(2, requires_grad=True)
    SavesATemporary.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match="SavesATemporary.*ctx attribute"):
        nnlab.autograd.grad(SavesATemporary.apply(x).sum(), x, create_graph=True)


def test_function_base_methods_must_be_overridden():
    class Incomplete(FunctionBase):
        pass

    with pytest.raises(NotImplementedError):
        Incomplete.apply(nnlab.ones(1))


# -- retain_grad and hooks ------------------------------------------------------------------


def run_hook_scenario(lib, x0):
    """Hooks on a leaf and a non-leaf, retain_grad, two backward calls; returns a record."""
    x = lib.tensor(x0, requires_grad=True)
    calls = []
    x.register_hook(lambda g: calls.append(("x", g.detach().clone().numpy())))
    h = x * 3
    h.retain_grad()
    h.register_hook(lambda g: g * 10)
    y = (h * h).sum()
    y.backward(retain_graph=True)
    first = (x.grad.detach().clone().numpy(), h.grad.detach().clone().numpy())
    y.backward()
    second = (x.grad.detach().numpy(), h.grad.detach().numpy())
    return calls, first, second, h.retains_grad


def test_hooks_and_retain_grad_match_torch():
    x0 = np.array([1.0, -2.0])
    calls, first, second, retains = run_hook_scenario(nnlab, x0)
    calls_t, first_t, second_t, retains_t = run_hook_scenario(torch, x0)
    assert [c[0] for c in calls] == [c[0] for c in calls_t]
    for (_, a), (_, b) in zip(calls, calls_t):
        assert_close(a, b)
    for a, b in zip(first + second, first_t + second_t):
        assert_close(a, b)
    assert retains == retains_t is True


def test_leaf_hook_sees_the_total_gradient_once():
    for lib in (nnlab, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        calls = []
        x.register_hook(lambda g, calls=calls: (calls.append(1), g * g)[1])
        (x * 2 + x * 3).sum().backward()
        assert len(calls) == 1
        assert_close(x.grad.detach().numpy(), [25.0, 25.0])


def test_hooks_run_for_autograd_grad_like_torch():
    for lib in (nnlab, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        x.register_hook(lambda g: g + 1)
        h = x * 3
        h.register_hook(lambda g: g * 10)
        h.retain_grad()
        y = (h * h).sum()
        (gx,) = lib.autograd.grad(y, x, retain_graph=True)
        assert_close(gx.detach().numpy(), [181.0, 361.0])
        (gh,) = lib.autograd.grad(y, h)
        assert_close(gh.detach().numpy(), [60.0, 120.0])
        assert x.grad is None
        assert_close(h.grad.detach().numpy(), [120.0, 240.0])  # retained twice: accumulated


def test_hook_handle_remove():
    x = nnlab.tensor([1.0], requires_grad=True)
    handle = x.register_hook(lambda g: g * 100)
    h = x * 1
    hh = h.register_hook(lambda g: g * 7)
    (h * 1).sum().backward(retain_graph=True)
    assert_close(x.grad, [700.0])
    handle.remove()
    hh.remove()
    x.grad = None
    (h * 1).sum().backward()
    assert_close(x.grad, [1.0])


def test_hook_returning_a_wrong_shape_is_refused():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: nnlab.ones(3))
    with pytest.raises(RuntimeError, match=r"hook.*\(3,\).*\(2,\)"):
        (x * 2).sum().backward()


def test_retain_grad_and_hooks_need_requires_grad():
    t = nnlab.tensor([1.0])
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        t.retain_grad()
    with pytest.raises(RuntimeError, match="doesn't require grad"):
        t.register_hook(lambda g: g)
    leaf = nnlab.tensor([1.0], requires_grad=True)
    leaf.retain_grad()  # a no-op on leaves, as in torch
    assert not leaf.retains_grad


def test_non_leaf_grad_stays_none_without_retain_grad():
    x = nnlab.tensor([1.0], requires_grad=True)
    h = x * 2
    (h * h).sum().backward()
    assert h.grad is None and x.grad is not None


# -- clear errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_broadcast_errors_name_the_op_and_both_shapes(op):
    a, b = nnlab.ones(2, 3, requires_grad=True), nnlab.ones(4)
    with pytest.raises((ValueError, RuntimeError)) as info:
        getattr(nnlab, op)(a, b)
    message = str(info.value)
    assert op in message and "(2, 3)" in message and "(4,)" in message
    with pytest.raises(RuntimeError):
        getattr(torch, op)(torch.ones(2, 3), torch.ones(4))


def test_matmul_errors_name_the_op_and_both_shapes():
    with pytest.raises(RuntimeError, match=r"matmul.*\(2, 3\).*\(4, 2\)"):
        nnlab.ones(2, 3) @ nnlab.ones(4, 2)
    with pytest.raises(RuntimeError, match=r"matmul.*\(2, 3\).*\(4,\)"):
        nnlab.matmul(nnlab.ones(2, 3), nnlab.ones(4))
    with pytest.raises(RuntimeError):
        torch.ones(2, 3) @ torch.ones(4, 2)


def test_reshape_error_names_the_shapes():
    with pytest.raises(RuntimeError, match=r"reshape.*\(2, 2\).*\(3,\)"):
        nnlab.ones(3).reshape(2, 2)


# -- memory -----------------------------------------------------------------------------------


def make_training_step():
    rng = np.random.default_rng(0)
    w1 = nnlab.tensor(rng.standard_normal((4, 8)) * 0.3, requires_grad=True)
    b1 = nnlab.zeros(8, requires_grad=True)
    w2 = nnlab.tensor(rng.standard_normal((8, 3)) * 0.3, requires_grad=True)
    x = nnlab.tensor(rng.standard_normal((16, 4)))
    onehot = nnlab.tensor(np.eye(3)[rng.integers(0, 3, 16)])

    def step():
        h = (x @ w1 + b1).tanh()
        loss = -(h @ w2).log_softmax(-1).mul(onehot).sum(-1).mean()
        loss.backward()
        with nnlab.no_grad():
            for p in (w1, b1, w2):
                p -= 0.01 * p.grad
                p.grad = None
        return loss.item()

    return step


def count_live_nnlab_objects() -> int:
    gc.collect()
    return sum(issubclass(type(o), (Tensor, FunctionBase)) for o in gc.get_objects())


def test_training_iterations_do_not_grow_memory():
    step = make_training_step()
    for _ in range(50):
        step()
    live_before = count_live_nnlab_objects()
    tracemalloc.start()
    try:
        for _ in range(300):
            step()
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(1000):
            step()
        growth = tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
    # One leaked graph per step would be several MB here; allow for interpreter free lists.
    assert growth < 150_000, f"memory grew by {growth} bytes over 1000 steps"
    assert count_live_nnlab_objects() == live_before


def test_the_engine_creates_no_reference_cycles():
    step = make_training_step()
    step()
    gc.collect()
    gc.disable()
    try:
        for _ in range(200):
            step()
        x = nnlab.randn(3, requires_grad=True)
        y = (x.exp() * x).sum()
        y.retain_grad()
        y.register_hook(lambda g: g)
        y.backward()
        nnlab.autograd.grad((x * x).sum(), x)
        del x, y
        assert gc.collect() == 0
    finally:
        gc.enable()


def test_graph_is_released_when_its_output_is_dropped():
    x = nnlab.randn(200, 200, requires_grad=True)
    y = (x * 2).exp().sum()
    node = weakref.ref(y.grad_fn)
    del y
    assert node() is None


def test_where_sends_exactly_zero_to_the_unchosen_branch():
    # torch gives 0 where the branch was not chosen, even for an infinite gradient
    for lib in (nnlab, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        lib.where(lib.tensor([True, False]), x, lib.tensor(0.0)).backward(
            lib.tensor([float("inf"), float("inf")])
        )
        assert x.grad.tolist() == [float("inf"), 0.0]
