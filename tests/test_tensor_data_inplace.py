"""``Tensor.data`` and the in-place methods, against torch's behaviour.

``.data`` is a tensor outside the graph that shares storage; in-place methods follow
torch's rule that a leaf requiring grad can only be changed under ``no_grad`` (or through
``.data``). Values are compared with torch on the same inputs in float32 and float64.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab

DTYPES = [np.float32, np.float64]


def _pair(a: np.ndarray, requires_grad: bool = False) -> tuple[nnlab.Tensor, torch.Tensor]:
    return (
        nnlab.tensor(a.copy(), requires_grad=requires_grad),
        torch.tensor(a.copy(), requires_grad=requires_grad),
    )


def test_data_is_a_tensor_sharing_storage_without_grad() -> None:
    w = nnlab.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert isinstance(d, nnlab.Tensor) and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.array, w.array)
    d.add_(nnlab.tensor([1.0, 1.0]), alpha=-0.5)  # not recorded, and allowed on a leaf
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 1.5])
    assert w.requires_grad and w.grad_fn is None


def test_manual_sgd_through_data_matches_torch() -> None:
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((16, 3)), rng.standard_normal(16)
    w0 = rng.standard_normal(3)
    results = []
    for lib in (nnlab, torch):
        w = lib.tensor(w0.copy(), requires_grad=True)
        xs, ys = lib.tensor(x), lib.tensor(y)
        for _ in range(5):
            loss = ((xs @ w - ys) ** 2).mean()
            loss.backward()
            w.data.add_(w.grad.data, alpha=-0.1)  # the optimizer tutorial's update
            w.grad.data.zero_()
        results.append(w.detach().numpy().copy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)


def test_assigning_data_swaps_values_even_with_a_new_shape() -> None:
    for lib in (nnlab, torch):
        p = lib.zeros(2, 3, dtype=lib.float64, requires_grad=True)
        p.data = lib.ones(4, dtype=lib.float64)
        assert tuple(p.shape) == (4,) and p.requires_grad and float(p.sum()) == 4.0
    with pytest.raises(TypeError, match="expected a Tensor"):
        nnlab.zeros(2).data = np.ones(2)


def test_data_fill_methods_change_the_parameter() -> None:
    layer = nnlab.nn.Linear(3, 2)
    layer.weight.data.normal_(0.0, 0.02)
    layer.bias.data.fill_(0.5)
    layer.bias.data.zero_()
    assert float(layer.bias.abs().sum()) == 0.0
    assert 0 < float(layer.weight.std()) < 0.2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "method, make_args, kwargs",
    [
        ("add_", lambda r: (r.standard_normal((3, 4)),), {"alpha": -0.3}),
        ("sub_", lambda r: (r.standard_normal(4),), {"alpha": 2.0}),
        ("mul_", lambda r: (r.standard_normal((3, 1)),), {}),
        ("div_", lambda r: (r.uniform(1, 2, (3, 4)),), {}),
        ("addcmul_", lambda r: (r.standard_normal((3, 4)), r.standard_normal(4)), {"value": 0.1}),
        ("addcdiv_", lambda r: (r.standard_normal((3, 4)), r.uniform(1, 2, (3, 4))), {"value": -2}),
        ("lerp_", lambda r: (r.standard_normal((3, 4)), 0.25), {}),
        ("clamp_", lambda r: (), {"min": -0.5, "max": 0.5}),
        ("copy_", lambda r: (r.standard_normal(4),), {}),
        ("fill_", lambda r: (1.5,), {}),
        ("zero_", lambda r: (), {}),
        ("masked_fill_", lambda r: (r.random((3, 4)) < 0.5, -7.0), {}),
    ],
)  # fmt: skip
def test_in_place_methods_match_torch(method, make_args, kwargs, dtype) -> None:
    rng = np.random.default_rng(1)
    base = rng.standard_normal((3, 4)).astype(dtype)
    args = make_args(rng)
    ours, theirs = _pair(base)
    out = getattr(ours, method)(
        *(nnlab.tensor(a.astype(dtype) if a.dtype != bool else a) if isinstance(a, np.ndarray)
          else a for a in args), **kwargs)  # fmt: skip
    getattr(theirs, method)(
        *(torch.tensor(a.astype(dtype) if a.dtype != bool else a) if isinstance(a, np.ndarray)
          else a for a in args), **kwargs)  # fmt: skip
    assert out is ours and repr(ours.dtype) == repr(theirs.dtype).replace("torch.", "nnlab.")
    rtol = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_index_add_matches_torch_with_repeated_indices(dtype) -> None:
    rng = np.random.default_rng(2)
    base, src = rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal((4, 3)).astype(dtype)
    index = np.array([0, 4, 0, 2])
    ours, theirs = _pair(base)
    ours.index_add_(0, nnlab.tensor(index), nnlab.tensor(src), alpha=2.0)
    theirs.index_add_(0, torch.tensor(index), torch.tensor(src), alpha=2.0)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)
    ours, theirs = _pair(base.T.copy())
    ours.index_add_(1, nnlab.tensor(index), nnlab.tensor(src.T.copy()))
    theirs.index_add_(1, torch.tensor(index), torch.tensor(src.T.copy()))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_random_fills_follow_the_seed_and_the_distribution() -> None:
    a = nnlab.empty(20000, dtype=nnlab.float64)
    nnlab.manual_seed(3)
    a.normal_(2.0, 0.5)
    first = a.numpy().copy()
    nnlab.manual_seed(3)
    a.normal_(2.0, 0.5)
    np.testing.assert_array_equal(a.numpy(), first)
    assert abs(first.mean() - 2.0) < 0.02 and abs(first.std() - 0.5) < 0.02
    a.uniform_(-1.0, 3.0, generator=nnlab.Generator(0))
    assert a.numpy().min() >= -1.0 and a.numpy().max() < 3.0 and abs(a.numpy().mean() - 1.0) < 0.05
    a.bernoulli_(0.25, generator=nnlab.Generator(0))
    assert set(np.unique(a.numpy())) == {0.0, 1.0} and abs(a.numpy().mean() - 0.25) < 0.02


def test_leaf_requiring_grad_is_changed_in_place_only_without_grad_as_torch() -> None:
    for lib in (nnlab, torch):
        w = lib.ones(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="in.place|in-place"):
            w.add_(1.0)
        with lib.no_grad():
            w.add_(1.0)
            w.mul_(2.0)
        assert float(w.sum()) == 12.0
        w.requires_grad_(False)
        w.add_(1.0)
        assert float(w.sum()) == 15.0
    with pytest.raises(RuntimeError, match="requires_grad_\\(False\\) is only allowed on leaf"):
        (nnlab.ones(2, requires_grad=True) * 2).requires_grad_(False)


def test_in_place_result_cannot_change_dtype_or_shape() -> None:
    x = nnlab.zeros(3, dtype=nnlab.int64)
    with pytest.raises(RuntimeError, match="can't be cast"):
        x.add_(0.5)
    with pytest.raises(RuntimeError, match="cannot be stored in place"):
        nnlab.zeros(3).add_(nnlab.zeros(2, 3))
    with pytest.raises(RuntimeError, match="boolean masks"):
        nnlab.zeros(3).masked_fill_(nnlab.tensor([1, 0, 1]), 1.0)
    with pytest.raises(IndexError, match="1-D tensor of integers"):
        nnlab.zeros(3, 2).index_add_(0, nnlab.tensor([[0]]), nnlab.ones(1, 2))
