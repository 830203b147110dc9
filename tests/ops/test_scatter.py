"""Scatter, gather and the segment softmax (nnlab.ops.scatter): parity with PyTorch
Geometric's ``utils.scatter`` and ``utils.softmax`` (values and gradients, float32 and
float64, empty segments, several dims), float64 gradcheck and gradgradcheck, and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from parity import DTYPES, compare_to_torch, to_lib

import nnlab
from nnlab.autograd import gradcheck, gradgradcheck
from nnlab.ops.scatter import index_gather, scatter, scatter_softmax

pyg_utils = pytest.importorskip("torch_geometric.utils")

#: (src shape, dim, index length): messages (E, F), a feature-first layout and a 3-D one
CASES = [((7, 3), 0), ((3, 7), 1), ((2, 7, 2), 1), ((7,), 0)]


def _case(shape, dim, seed=0):
    """Random src and an index into 5 slots that leaves slots 1 and 4 empty."""
    rng = np.random.default_rng(seed)
    src = rng.standard_normal(shape)
    index = rng.choice(np.array([0, 2, 3]), size=shape[dim])
    return src, index


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("shape,dim", CASES)
def test_scatter_matches_pyg(shape, dim, reduce, dtype):
    src, index = _case(shape, dim)
    ours = to_lib(src, nnlab, dtype, grad=True)
    theirs = to_lib(src, torch, dtype, grad=True)
    out = scatter(ours, index, dim=dim, dim_size=5, reduce=reduce)
    ref = pyg_utils.scatter(theirs, torch.from_numpy(index), dim=dim, dim_size=5, reduce=reduce)
    compare_to_torch(out, ref, dtype, f"scatter {reduce} output")
    upstream = np.random.default_rng(1).standard_normal(ref.shape)
    out.backward(to_lib(upstream, nnlab, dtype))
    ref.backward(to_lib(upstream, torch, dtype))
    compare_to_torch(ours.grad, theirs.grad, dtype, f"scatter {reduce} grad")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("shape", [(9,), (9, 2)])
def test_softmax_matches_pyg(shape, dtype):
    rng = np.random.default_rng(2)
    src = 3 * rng.standard_normal(shape)
    index = rng.choice(np.array([0, 1, 3]), size=shape[0])
    ours, theirs = to_lib(src, nnlab, dtype, grad=True), to_lib(src, torch, dtype, grad=True)
    out = scatter_softmax(ours, index, num_nodes=4)
    ref = pyg_utils.softmax(theirs, torch.from_numpy(index), num_nodes=4)
    compare_to_torch(out, ref, dtype, "softmax output")
    upstream = rng.standard_normal(shape)
    out.backward(to_lib(upstream, nnlab, dtype))
    ref.backward(to_lib(upstream, torch, dtype))
    compare_to_torch(ours.grad, theirs.grad, dtype, "softmax grad")


def test_softmax_from_ptr_equals_index():
    src = nnlab.tensor(np.arange(5.0))
    by_ptr = scatter_softmax(src, ptr=np.array([0, 2, 5]))
    by_index = scatter_softmax(src, np.array([0, 0, 1, 1, 1]))
    np.testing.assert_allclose(by_ptr.numpy(), by_index.numpy())


def test_ties_share_the_max_gradient_like_torch():
    src = np.array([2.0, 2.0, 1.0])
    index = np.array([0, 0, 0])
    ours, theirs = nnlab.tensor(src, requires_grad=True), torch.tensor(src, requires_grad=True)
    scatter(ours, index, reduce="max").sum().backward()
    pyg_utils.scatter(theirs, torch.tensor(index), reduce="max").sum().backward()
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy())
    np.testing.assert_allclose(ours.grad.numpy(), [0.5, 0.5, 0.0])


def test_gather_is_index_select():
    x = np.random.default_rng(3).standard_normal((4, 3))
    index = np.array([3, 0, 3, 1])
    ours, theirs = nnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    g = np.random.default_rng(4).standard_normal((3, 4))
    index_gather(ours, index, dim=0).backward(nnlab.tensor(g.T))
    theirs.index_select(0, torch.tensor(index)).backward(torch.tensor(g.T))
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
def test_scatter_gradcheck_and_gradgradcheck(reduce):
    src, index = _case((6, 2), 0, seed=5)
    x = nnlab.tensor(src, requires_grad=True)

    def fn(t):
        return scatter(t, index, dim_size=5, reduce=reduce)

    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_softmax_and_gather_gradcheck_and_gradgradcheck():
    src, index = _case((6, 2), 0, seed=6)
    x = nnlab.tensor(src, requires_grad=True)
    assert gradcheck(lambda t: scatter_softmax(t, index, num_nodes=5), (x,))
    assert gradgradcheck(lambda t: scatter_softmax(t, index, num_nodes=5), (x,))
    assert gradcheck(lambda t: index_gather(t, np.array([1, 1, 0]), dim=1), (x,))
    assert gradgradcheck(lambda t: index_gather(t, np.array([1, 1, 0]), dim=1), (x,))


def test_double_backward_of_a_message_passing_energy():
    """∂/∂x of ‖∇_x E‖² for E = Σ_i (Σ_{e→i} softmax · x_src)²: the create_graph path runs
    the backward ops on tensors and must agree with torch's."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 2))
    src_i, dst_i = np.array([0, 1, 2, 3, 3]), np.array([1, 1, 0, 2, 2])

    def energy(lib, t, scat, soft):
        weights = soft(t[src_i].sum(1), dst_i)
        msgs = t[src_i] * weights.reshape(-1, 1)
        return (scat(msgs, dst_i) ** 2).sum()

    ours = nnlab.tensor(x, requires_grad=True)
    (g,) = nnlab.autograd.grad(
        energy(nnlab, ours, lambda m, i: scatter(m, i, dim_size=4), scatter_softmax),
        ours, create_graph=True,
    )  # fmt: skip
    (g**2).sum().backward()
    theirs = torch.tensor(x, requires_grad=True)
    ti = torch.tensor(dst_i)
    (h,) = torch.autograd.grad(
        energy(
            torch, theirs, lambda m, i: pyg_utils.scatter(m, ti, dim_size=4),
            lambda s, i: pyg_utils.softmax(s, ti),
        ),
        theirs, create_graph=True,
    )  # fmt: skip
    (h**2).sum().backward()
    np.testing.assert_allclose(g.detach().numpy(), h.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    "index,kwargs,error,words",
    [
        (np.array([[0, 1, 2]]), {}, ValueError, "one-dimensional"),
        (np.array([0.0, 1.0, 2.0]), {}, TypeError, "integers"),
        (np.array([0, 1]), {}, ValueError, "3 along dim"),
        (np.array([0, 1, 5]), {"dim_size": 3}, IndexError, "index 5"),
        (np.array([0, -1, 1]), {}, IndexError, "index -1"),
        (np.array([0, 1, 1]), {"reduce": "mul"}, ValueError, "reduce"),
    ],
)
def test_bad_arguments_are_named(index, kwargs, error, words):
    with pytest.raises(error, match=words):
        scatter(nnlab.ones(3, 2), index, **kwargs)
