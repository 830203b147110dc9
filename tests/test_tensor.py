"""The Tensor API, the factories and the random generators, compared with torch."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

import nnlab
from nnlab.tensor import Tensor


def torch_dtype_name(t: torch.Tensor) -> str:
    return str(t.dtype).removeprefix("torch.")


def same_dtype(a: Tensor, b: torch.Tensor) -> bool:
    return a.dtype.name == torch_dtype_name(b)


F32_EPS, F64_EPS = float(np.finfo(np.float32).eps), float(np.finfo(np.float64).eps)


def _ulps(values: np.ndarray, exact: list[Fraction]) -> float:
    """The largest |value - exact| in float32 ulps at |exact| (exact as fractions)."""
    worst = 0.0
    for v, e in zip(values.tolist(), exact):
        spacing = Fraction(float(np.spacing(np.float32(abs(e)))))
        worst = max(worst, float(abs(Fraction(v) - e) / spacing))
    return worst


# -- construction and dtypes -------------------------------------------------------------

DTYPE_CASES = {
    "list of floats": [1.0, 2.0],
    "nested floats": [[1.0, 2.0], [3.0, 4.0]],
    "mixed int and float": [1, 2.5],
    "list of ints": [1, 2, 3],
    "python int": 3,
    "python float": 3.5,
    "python bool": True,
    "list of bools": [True, False],
    "empty list": [],
    "float64 array": np.array([1.0, 2.0]),
    "float32 array": np.array([1.0, 2.0], dtype=np.float32),
    "int32 array": np.array([1, 2], dtype=np.int32),
}


@pytest.mark.parametrize("data", DTYPE_CASES.values(), ids=DTYPE_CASES.keys())
def test_dtype_inference_matches_torch(data):
    a = nnlab.tensor(data)
    b = torch.tensor(data)
    assert same_dtype(a, b), (a.dtype, b.dtype)
    assert a.shape == tuple(b.shape)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_float64_on_request():
    assert nnlab.tensor([1.0, 2.0], dtype=nnlab.float64).dtype == np.float64
    assert nnlab.tensor([1, 2], dtype="double").dtype == np.float64
    assert nnlab.zeros(2, dtype=np.float64).dtype == np.float64
    assert nnlab.tensor([1.5], dtype=nnlab.int64).dtype == np.int64


def test_set_default_dtype_changes_inference_and_factories():
    try:
        nnlab.set_default_dtype(nnlab.float64)
        assert nnlab.tensor([1.0]).dtype == np.float64
        assert nnlab.zeros(2).dtype == np.float64
        assert nnlab.rand(2).dtype == np.float64
        assert nnlab.arange(0.0, 1.0, 0.5).dtype == np.float64
        assert "dtype" not in repr(nnlab.tensor([1.0]))
        assert "dtype=nnlab.float32" in repr(nnlab.tensor([1.0], dtype=nnlab.float32))
    finally:
        nnlab.set_default_dtype(nnlab.float32)
    assert nnlab.tensor([1.0]).dtype == np.float32
    with pytest.raises(TypeError, match="float32 or float64"):
        nnlab.set_default_dtype(nnlab.int64)


def test_tensor_copies_but_from_numpy_shares():
    array = np.zeros(3, dtype=np.float32)
    t = nnlab.tensor(array)
    array[0] = 1.0
    assert t.array[0] == 0.0
    shared = nnlab.from_numpy(array)
    array[1] = 2.0
    assert shared.array[1] == 2.0


def test_unsupported_data_raises_type_error():
    with pytest.raises(TypeError, match="cannot make a tensor"):
        nnlab.tensor("abc")
    with pytest.raises(TypeError):
        nnlab.tensor(None)


@pytest.mark.parametrize("dtype", [nnlab.int64, nnlab.int32, nnlab.bool_])
def test_requires_grad_only_for_floating_dtypes(dtype):
    with pytest.raises(RuntimeError, match="floating point"):
        nnlab.tensor([1, 0], dtype=dtype, requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        nnlab.zeros(2, dtype=dtype, requires_grad=True)
    with pytest.raises(RuntimeError):
        torch.tensor([1, 0], dtype=getattr(torch, dtype.name), requires_grad=True)
    assert nnlab.tensor([1.0], dtype=nnlab.float64, requires_grad=True).requires_grad


def test_requires_grad_flag_on_leaves_and_results():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    c = nnlab.tensor([3.0, 4.0])
    assert x.is_leaf and x.grad_fn is None and x.grad is None
    y = x * c
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    z = c * 2
    assert not z.requires_grad and z.is_leaf and z.grad_fn is None
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    c.requires_grad_()
    assert c.requires_grad


# -- conversion and inspection ----------------------------------------------------------


def test_grad_is_a_tensor_and_backward_needs_no_argument_for_scalars():
    x = nnlab.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x).sum().backward()
    assert isinstance(x.grad, Tensor)
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0, 6.0])


def test_detach_shares_data_and_leaves_the_graph():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    assert np.shares_memory(d.array, y.array)
    d.data[0] = 100.0  # as torch: the detached tensor is a view of the same values
    assert y.array[0] == 100.0
    dx = x.detach()
    dx.zero_()
    np.testing.assert_array_equal(x.array, [0.0, 0.0])


def test_item_gives_python_numbers():
    assert nnlab.tensor(2.5).item() == 2.5 and isinstance(nnlab.tensor(2.5).item(), float)
    assert nnlab.tensor([[7]]).item() == 7 and isinstance(nnlab.tensor([7]).item(), int)
    assert float(nnlab.tensor([1.5])) == 1.5 and int(nnlab.tensor(3)) == 3
    with pytest.raises(RuntimeError, match="2 elements"):
        nnlab.tensor([1.0, 2.0]).item()
    with pytest.raises(RuntimeError):
        torch.tensor([1.0, 2.0]).item()


def test_numpy_shares_memory_and_refuses_tensors_that_require_grad():
    t = nnlab.tensor([1.0, 2.0])
    assert t.numpy() is t.array
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        x.numpy()
    with pytest.raises(RuntimeError):
        torch.tensor([1.0], requires_grad=True).numpy()
    assert np.shares_memory(x.detach().numpy(), x.array)


def test_np_asarray_uses_array_protocol():
    x = nnlab.tensor([[1.0, 2.0]], requires_grad=True)
    a = np.asarray(x)
    assert isinstance(a, np.ndarray) and a.shape == (1, 2) and a.dtype == np.float32
    assert np.asarray(x, dtype=np.float64).dtype == np.float64
    assert np.array(x, copy=True) is not x.array


def test_numpy_ufuncs_and_mixed_expressions_give_tensors():
    x = nnlab.tensor([0.5, 1.0], requires_grad=True)
    y = np.exp(x) + np.ones(2, dtype=np.float32) * x
    assert isinstance(y, Tensor) and y.requires_grad
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([0.5, 1.0]) + 1, rtol=1e-6)
    with pytest.raises(TypeError, match="no nnlab op"):
        np.arctan2(x, x)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 3, 4)])
def test_shape_ndim_size_numel_match_torch(shape):
    values = np.arange(int(np.prod(shape)), dtype=np.float32).reshape(shape)
    a, b = nnlab.tensor(values), torch.tensor(values)
    assert a.shape == tuple(b.shape) and a.size() == tuple(b.size())
    assert a.ndim == b.ndim and a.dim() == b.dim() and a.numel() == b.numel()
    for d in range(-len(shape), len(shape)):
        assert a.size(d) == b.size(d)
    if shape:
        assert len(a) == len(b) and [r.shape for r in a] == [tuple(r.shape) for r in b]
    else:
        with pytest.raises(TypeError, match="0-d"):
            len(a)


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 3, 4)])
def test_transposes_match_torch(shape):
    values = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    a, b = nnlab.tensor(values), torch.tensor(values)
    reversed_dims = tuple(range(len(shape) - 1, -1, -1))
    np.testing.assert_array_equal(a.T.numpy(), b.permute(reversed_dims).numpy())
    if len(shape) == 2:
        np.testing.assert_array_equal(a.t().numpy(), b.t().numpy())
    if len(shape) >= 2:
        np.testing.assert_array_equal(a.mT.numpy(), b.mT.numpy())
    else:
        with pytest.raises(IndexError):
            a.mT


def test_transpose_gradient_flows_back():
    x = nnlab.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    w = nnlab.tensor(np.arange(6.0).reshape(3, 2))
    (x.T * w).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), w.numpy().T)
    assert x.grad.array.flags.c_contiguous


REPRS = [
    (lambda: nnlab.tensor([1.0, 2.0]), "tensor([1., 2.])"),
    (lambda: nnlab.ones(2, requires_grad=True), "tensor([1., 1.], requires_grad=True)"),
    (
        lambda: nnlab.tensor([1.0, 2.0], dtype=nnlab.float64),
        "tensor([1., 2.], dtype=nnlab.float64)",
    ),
    (lambda: nnlab.tensor(3.0), "tensor(3.)"),
    (lambda: nnlab.tensor([1, 2]), "tensor([1, 2])"),
    (lambda: nnlab.tensor([True]), "tensor([ True])"),
    (lambda: nnlab.ones(1, requires_grad=True) * 2, "tensor([2.], grad_fn=<MulBackward>)"),
]


@pytest.mark.parametrize("make, expected", REPRS, ids=[e for _, e in REPRS])
def test_repr(make, expected):
    assert repr(make()) == expected


def test_repr_of_large_tensor_is_summarised():
    text = repr(nnlab.zeros(1000))
    assert "..." in text and len(text) < 200


def test_bool_of_many_values_is_ambiguous():
    assert bool(nnlab.tensor([1.0])) and not bool(nnlab.tensor(0.0))
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(nnlab.tensor([1.0, 2.0]))


def test_dtype_conversions():
    x = nnlab.tensor([1.5, -2.5], requires_grad=True)
    assert x.double().dtype == np.float64 and x.double().requires_grad
    assert x.long().dtype == np.int64 and not x.long().requires_grad
    assert x.int().dtype == np.int32 and x.bool().dtype == np.bool_
    assert x.to("float64").dtype == np.float64 and x.to(nnlab.float32) is x
    x.double().sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


# -- factories ---------------------------------------------------------------------------

SHAPE_FACTORIES = ["zeros", "ones", "empty", "rand", "randn"]


@pytest.mark.parametrize("name", SHAPE_FACTORIES)
def test_shape_factories_accept_varargs_and_tuples(name):
    make, make_torch = getattr(nnlab, name), getattr(torch, name)
    for args in [(2, 3), ((2, 3),), ([2, 3],), (4,), ((),)]:
        a, b = make(*args), make_torch(*args)
        assert a.shape == tuple(b.shape), args
        assert same_dtype(a, b)
    assert make(2, dtype=nnlab.float64).dtype == np.float64
    x = make(2, 2, requires_grad=True)
    assert x.requires_grad and x.is_leaf


def test_constant_factory_values():
    np.testing.assert_array_equal(nnlab.zeros(2, 3).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal(nnlab.ones(2).numpy(), np.ones(2))
    np.testing.assert_array_equal(nnlab.eye(3).numpy(), torch.eye(3).numpy())
    np.testing.assert_array_equal(nnlab.eye(2, 3).numpy(), torch.eye(2, 3).numpy())
    assert nnlab.eye(2).dtype == np.float32


@pytest.mark.parametrize("fill", [1.5, 2, True])
def test_full_infers_dtype_like_torch(fill):
    a, b = nnlab.full((2, 3), fill), torch.full((2, 3), fill)
    assert same_dtype(a, b) and a.shape == (2, 3)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert nnlab.full((2,), 1, dtype=nnlab.float64).dtype == np.float64


ARANGE_CASES = [
    (5,), (2, 7), (0, 5, 2), (5.0,), (0, 1, 0.1), (-1, 1, 0.3), (1, 10, 1.5),
    (10, 0, -1.5), (-3.2, 4.1, 0.7), (0, 100, 0.37), (0, 1, 1 / 3),
]  # fmt: skip


@pytest.mark.parametrize("args", ARANGE_CASES, ids=str)
def test_arange_matches_torch(args):
    a, b = nnlab.arange(*args), torch.arange(*args)
    assert same_dtype(a, b), (a.dtype, b.dtype)
    assert a.shape == tuple(b.shape)
    start, step = (0, 1) if len(args) == 1 else (args[0], 1 if len(args) == 2 else args[2])
    exact = [Fraction(start) + i * Fraction(step) for i in range(a.numel())]
    if a.dtype == np.float32:
        # nnlab rounds start + i·step (float64) once: within half a float32 ulp of exact.
        assert _ulps(a.numpy(), exact) <= 0.5 + 1e-6
        # torch's float32 arange rounds differently per SIMD lane, so how close it comes
        # depends on the CPU's vector width: only a few ulps are asserted against it.
        scale = float(max(abs(start), abs(step)))
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=4 * F32_EPS, atol=F32_EPS * scale)
    else:
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert a.numpy().tolist() == exact


def test_arange_with_explicit_dtype():
    assert nnlab.arange(5, dtype=nnlab.float32).dtype == np.float32
    assert nnlab.arange(0.0, 3.0, dtype=nnlab.int64).dtype == np.int64
    np.testing.assert_array_equal(nnlab.arange(0.0, 3.0, dtype=nnlab.int64).numpy(), [0, 1, 2])


@pytest.mark.parametrize("args", [(0, 1, 5), (-2, 3.5, 7), (0, 1, 1), (1, 0, 10), (0, 1, 100)])
def test_linspace_matches_torch(args):
    a, b = nnlab.linspace(*args), torch.linspace(*args)
    assert same_dtype(a, b) and a.shape == tuple(b.shape)
    start, end, steps = args
    exact = [Fraction(start) + (Fraction(end) - Fraction(start)) * i / max(steps - 1, 1)
             for i in range(steps)]  # fmt: skip
    scale = max(abs(start), abs(end))
    # nnlab's float32 values are float64 ones rounded once: within half an ulp of exact.
    assert _ulps(a.numpy(), exact) <= 0.5 + 1e-6
    a64, b64 = (
        nnlab.linspace(*args, dtype=nnlab.float64),
        torch.linspace(*args, dtype=torch.float64),
    )
    err64 = max(abs(Fraction(float(v)) - e) for v, e in zip(a64.numpy(), exact))
    assert err64 <= 2 * F64_EPS * scale
    # torch's float32 linspace (start + i·step from one end, end - j·step from the other,
    # vectorised per CPU) is within a few eps of the range of exact, whatever the CPU.
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=0, atol=4 * F32_EPS * scale)
    np.testing.assert_allclose(a64.numpy(), b64.numpy(), rtol=0, atol=4 * F64_EPS * scale)


@pytest.mark.parametrize(
    "name", ["zeros_like", "ones_like", "empty_like", "rand_like", "randn_like"]
)
def test_like_factories_keep_shape_and_dtype(name):
    make, make_torch = getattr(nnlab, name), getattr(torch, name)
    for dtype in (np.float32, np.float64):
        x = nnlab.tensor(np.zeros((2, 3), dtype=dtype))
        a, b = make(x), make_torch(torch.tensor(x.numpy()))
        assert a.shape == (2, 3) and same_dtype(a, b)
    x = nnlab.zeros(2, 3)
    assert make(x, dtype=nnlab.float64).dtype == np.float64


def test_like_factories_values_and_requires_grad():
    x = nnlab.tensor([[1, 2]])
    np.testing.assert_array_equal(nnlab.zeros_like(x).numpy(), [[0, 0]])
    assert nnlab.zeros_like(x).dtype == np.int64
    np.testing.assert_array_equal(nnlab.full_like(x, 7).numpy(), [[7, 7]])
    np.testing.assert_array_equal(
        nnlab.full_like(x, 2.5).numpy(), torch.full_like(torch.tensor([[1, 2]]), 2.5).numpy()
    )
    f = nnlab.ones_like(nnlab.zeros(3), requires_grad=True)
    assert f.requires_grad and f.is_leaf


def test_continuous_random_samples_must_be_floating():
    with pytest.raises(TypeError, match="randint"):
        nnlab.rand(2, dtype=nnlab.int64)
    with pytest.raises(TypeError):
        nnlab.randn_like(nnlab.tensor([1, 2]))
    with pytest.raises((RuntimeError, NotImplementedError)):
        torch.rand(2, dtype=torch.int64)


def test_random_values_are_in_range():
    nnlab.manual_seed(0)
    u = nnlab.rand(10_000).numpy()
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    z = nnlab.randn(10_000, dtype=nnlab.float64).numpy()
    assert abs(z.mean()) < 0.05 and abs(z.std() - 1.0) < 0.05
    n = nnlab.normal(3.0, 2.0, (10_000,)).numpy()
    assert abs(n.mean() - 3.0) < 0.1 and abs(n.std() - 2.0) < 0.1


def test_randint_forms_match_torch_signatures():
    nnlab.manual_seed(0)
    for args, kwargs in [((10, (3,)), {}), ((5, 10, (2, 2)), {}), ((10,), {"size": (4,)})]:
        a, b = nnlab.randint(*args, **kwargs), torch.randint(*args, **kwargs)
        assert a.shape == tuple(b.shape) and same_dtype(a, b)
    low_high = nnlab.randint(5, 10, (1000,)).numpy()
    assert low_high.min() >= 5 and low_high.max() <= 9
    high_only = nnlab.randint(3, (1000,)).numpy()
    assert set(high_only.tolist()) == {0, 1, 2}


def test_randperm_is_a_permutation():
    p = nnlab.randperm(20)
    assert p.dtype == np.int64
    assert sorted(p.tolist()) == list(range(20))


# -- seeding and generators ---------------------------------------------------------------


def test_manual_seed_makes_sampling_reproducible():
    nnlab.manual_seed(123)
    first = [nnlab.rand(3).numpy(), nnlab.randn(2, 2).numpy(), nnlab.randint(0, 100, (5,)).numpy()]
    nnlab.manual_seed(123)
    second = [nnlab.rand(3).numpy(), nnlab.randn(2, 2).numpy(), nnlab.randint(0, 100, (5,)).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    nnlab.manual_seed(124)
    assert not np.array_equal(nnlab.rand(3).numpy(), first[0])


def test_explicit_generators_are_independent_of_the_global_seed():
    g1 = nnlab.Generator().manual_seed(7)
    nnlab.manual_seed(0)
    a = nnlab.randn(4, generator=g1).numpy()
    g2 = nnlab.Generator(7)
    nnlab.manual_seed(999)
    nnlab.rand(10)  # drawing from the default generator does not move g2
    b = nnlab.randn(4, generator=g2).numpy()
    np.testing.assert_array_equal(a, b)
    # ...and drawing from an explicit generator does not move the default one
    nnlab.manual_seed(5)
    expected = nnlab.rand(3).numpy()
    nnlab.manual_seed(5)
    nnlab.rand(100, generator=nnlab.Generator(1))
    np.testing.assert_array_equal(nnlab.rand(3).numpy(), expected)


def test_generator_state_round_trip():
    g = nnlab.Generator(3)
    nnlab.rand(5, generator=g)
    state = g.get_state()
    a = nnlab.randn(6, generator=g).numpy()
    nnlab.rand(17, generator=g)
    g.set_state(state)
    np.testing.assert_array_equal(nnlab.randn(6, generator=g).numpy(), a)
    assert g.initial_seed() == 3


def test_default_generator_state_round_trip():
    nnlab.manual_seed(11)
    state = nnlab.get_rng_state()
    a = nnlab.rand(4).numpy()
    nnlab.set_rng_state(state)
    np.testing.assert_array_equal(nnlab.rand(4).numpy(), a)


def test_negative_seed_is_accepted_as_in_torch():
    g = nnlab.manual_seed(-1)
    assert g.initial_seed() == torch.manual_seed(-1).initial_seed() == 2**64 - 1
    nnlab.manual_seed(0)


# -- in-place updates ---------------------------------------------------------------------


def test_setitem_on_a_tensor_without_grad():
    t = nnlab.zeros(2, 3)
    t[0, 1] = 5.0
    t[1] = nnlab.tensor([1.0, 2.0, 3.0])
    t[:, 0] += 1
    ref = torch.zeros(2, 3)
    ref[0, 1] = 5.0
    ref[1] = torch.tensor([1.0, 2.0, 3.0])
    ref[:, 0] += 1
    np.testing.assert_array_equal(t.numpy(), ref.numpy())


def test_setitem_on_a_tensor_that_requires_grad():
    w = nnlab.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        w[0] = 1.0
    with nnlab.no_grad():
        w[0] = 1.0
    np.testing.assert_array_equal(w.array, [1.0, 0.0, 0.0])
    assert w.requires_grad and w.is_leaf


def test_setitem_with_a_value_that_requires_grad_is_refused():
    v = nnlab.tensor([1.0], requires_grad=True)
    t = nnlab.zeros(3)
    with pytest.raises(RuntimeError, match="drop its gradient"):
        t[0:1] = v * 2
    with pytest.raises(RuntimeError, match="drop its gradient"):
        t[0:1] += v
    with nnlab.no_grad():
        t[0:1] = v * 2
    assert t.array[0] == 2.0


INPLACE = {
    "+=": lambda t, o: t.__iadd__(o),
    "-=": lambda t, o: t.__isub__(o),
    "*=": lambda t, o: t.__imul__(o),
    "/=": lambda t, o: t.__itruediv__(o),
    "add_": lambda t, o: t.add_(o),
    "add_ alpha": lambda t, o: t.add_(o, alpha=0.5),
    "sub_": lambda t, o: t.sub_(o),
    "sub_ alpha": lambda t, o: t.sub_(o, alpha=2.0),
    "mul_": lambda t, o: t.mul_(o),
    "div_": lambda t, o: t.div_(o),
    "zero_": lambda t, o: t.zero_(),
    "fill_": lambda t, o: t.fill_(3.0),
    "copy_": lambda t, o: t.copy_(o),
    "clamp_": lambda t, o: t.clamp_(-0.5, 0.5),
}


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_ops_match_torch_and_return_self(name):
    rng = np.random.default_rng(0)
    x, other = rng.standard_normal((2, 3)), rng.standard_normal(3) + 3.0
    a, b = nnlab.tensor(x), torch.tensor(x)
    result = INPLACE[name](a, nnlab.tensor(other))
    INPLACE[name](b, torch.tensor(other))
    assert result is a
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


@pytest.mark.parametrize("name", INPLACE)
def test_inplace_ops_refuse_tensors_that_require_grad(name):
    w = nnlab.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="in place"):
        INPLACE[name](w, nnlab.ones(3))
    with nnlab.no_grad():
        assert INPLACE[name](w, nnlab.ones(3)) is w
    assert w.requires_grad and w.is_leaf


def test_sgd_step_under_no_grad_updates_the_same_object():
    w = nnlab.tensor([1.0, -2.0], requires_grad=True)
    (w * w).sum().backward()
    before_id, array = id(w), w.array
    with nnlab.no_grad():
        w -= 0.1 * w.grad
    assert id(w) == before_id and w.array is array
    np.testing.assert_allclose(w.array, [0.8, -1.6])
    assert w.requires_grad and w.is_leaf and w.grad_fn is None


def test_inplace_refuses_a_change_of_dtype_or_shape():
    t = nnlab.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        t += 0.5
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).add_(0.5)
    t += 1
    np.testing.assert_array_equal(t.numpy(), [2, 3])
    f = nnlab.zeros(3)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        f += nnlab.ones(2, 3)
    f += nnlab.ones(3, dtype=nnlab.float64)  # same kind: allowed, as in torch
    assert f.dtype == np.float32


def test_inplace_on_a_detached_view_is_allowed():
    w = nnlab.ones(3, requires_grad=True)
    w.detach().mul_(2.0)
    np.testing.assert_array_equal(w.array, [2.0, 2.0, 2.0])


# -- gradients are never aliased -------------------------------------------------------------


def test_leaf_grads_own_their_memory():
    a = nnlab.tensor([1.0, 2.0], requires_grad=True)
    b = nnlab.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # add hands one array to both inputs, sum a broadcast view
    assert not np.shares_memory(a.grad.array, b.grad.array)
    assert a.grad.array.flags.writeable and a.grad.array.flags.c_contiguous
    a.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])


def test_leaf_grad_does_not_alias_the_gradient_argument():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    seed = nnlab.tensor([5.0, 6.0])
    x.clone().backward(seed)
    assert not np.shares_memory(x.grad.array, seed.array)
    x.grad.mul_(0.0)
    np.testing.assert_array_equal(seed.numpy(), [5.0, 6.0])
