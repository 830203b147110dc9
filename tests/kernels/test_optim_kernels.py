"""The optimizer kernels (nnlab.kernels.optim) against their NumPy references.

Bound: **bit-identical**, float32 and float64 alike (0 ulp). Each kernel performs the
reference's IEEE operations (negate, multiply, add, subtract, divide, sqrt: all correctly
rounded) on the same operands in the same order and dtype, with float32 constants for
float32 parameters, no fast-math and no fused multiply-add, and nothing reduces across
elements; so any difference is a bug, not rounding.

Each update is run through an optimizer with the numpy backend and with the numba backend,
on the serial build and on the parallel build (``prange``, forced onto small arrays), and
every parameter and state array is compared after every step. The optimizers' agreement
with torch is tests/optim/test_optimizers.py, which CI runs under both backends.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

import nnlab
from nnlab import kernels, optim

pytestmark = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")

#: (optimizer, keyword arguments): every branch of every kernel.
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.01, maximize=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.6), weight_decay=0.1, decoupled_weight_decay=True)),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.3, centered=True)),
    ("RMSprop", dict(lr=0.005, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.9, centered=True, weight_decay=0.01, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]
SHAPES = [(37, 11), (5,), ()]  # a 0-d parameter too
STEPS = 4


def _id(case):
    name, kwargs = case
    return f"{name}({','.join(f'{k}={v}' for k, v in kwargs.items())})"


def _gradients(dtype, seed=0):
    """``STEPS`` gradients per shape, spanning several orders of magnitude and signs."""
    rng = np.random.default_rng(seed)
    return [
        [(rng.standard_normal(s) * 10.0 ** rng.integers(-3, 2, s)).astype(dtype) for s in SHAPES]
        for _ in range(STEPS)
    ]


def _run(backend, name, kwargs, dtype, grads, steps=STEPS, start=None):
    """Parameters and optimizer after ``steps`` steps on the given gradients (from
    ``start``: a (params, optimizer state_dict) pair, else fresh seeded weights)."""
    rng = np.random.default_rng(1)
    weights = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    if start is not None:
        weights = [w.copy() for w in start[0]]
    params = [nnlab.tensor(w, requires_grad=True) for w in weights]
    opt = getattr(optim, name)(params, **kwargs)
    if start is not None:
        opt.load_state_dict(copy.deepcopy(start[1]))
    history = []
    with kernels.use_backend(backend):
        for step_grads in grads[:steps]:
            for p, g in zip(params, step_grads):
                p.grad = nnlab.tensor(g)
            opt.step()
            history.append(_snapshot(params, opt))
    return params, opt, history


def _snapshot(params, opt):
    arrays = {f"param{i}": p.array.copy() for i, p in enumerate(params)}
    for k, state in opt.state_dict()["state"].items():
        for key, value in state.items():
            arrays[f"state{k}.{key}"] = value.array.copy()
    return arrays


def _assert_identical(history, expected, where):
    for step, (got, want) in enumerate(zip(history, expected), start=1):
        assert got.keys() == want.keys(), f"{where}: state names differ"
        for key in want:
            assert got[key].dtype == want[key].dtype, f"{where} step {step}: {key} dtype"
            np.testing.assert_array_equal(
                got[key], want[key], err_msg=f"{where} step {step}: {key}", strict=True
            )


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=_id)
def test_kernel_gives_the_references_bits(case, dtype, build):
    name, kwargs = case
    grads = _gradients(dtype)
    *_, reference = _run("numpy", name, kwargs, dtype, grads)
    *_, kernel = _run("numba", name, kwargs, dtype, grads)
    _assert_identical(kernel, reference, f"{_id(case)} {build}")


@pytest.mark.parametrize("case", CASES[1:2] + CASES[7:8] + CASES[16:17], ids=_id)
def test_resume_is_bit_exact_across_backends(case):
    """Checkpoint after two steps; continuing under either backend gives the bits of the
    uninterrupted run."""
    name, kwargs = case
    grads = _gradients(np.float32, seed=2)
    _, _, whole = _run("numba", name, kwargs, np.float32, grads)
    params, opt, _ = _run("numpy", name, kwargs, np.float32, grads, steps=2)
    saved = ([p.array.copy() for p in params], copy.deepcopy(opt.state_dict()))
    for backend in ("numba", "numpy"):
        *_, resumed = _run(backend, name, kwargs, np.float32, grads[2:], start=saved)
        _assert_identical(resumed, whole[2:], f"{_id(case)} resumed on {backend}")


@pytest.mark.parametrize(
    "layout", ["fortran-order gradient", "strided parameter", "float16", "float32 grad"]
)
def test_arrays_a_kernel_cannot_take_fall_back_to_the_reference(layout):
    """Non-contiguous or mixed-dtype arrays, or a dtype without a kernel, run the NumPy
    reference: the result is the reference's whatever the backend."""
    rng = np.random.default_rng(3)
    dtype = np.float16 if layout == "float16" else np.float64
    base = rng.standard_normal((6, 8)).astype(dtype)
    grad = rng.standard_normal((6, 8)).astype(dtype)
    if layout == "fortran-order gradient":
        grad = np.asfortranarray(grad)
    if layout == "float32 grad":
        grad = grad.astype(np.float32)
    results = []
    for backend in ("numpy", "numba"):
        weights = base.copy()
        param = nnlab.from_numpy(weights[:, ::2] if layout == "strided parameter" else weights)
        param.requires_grad_(True)
        opt = optim.Adam([param], lr=0.1, amsgrad=True)
        with kernels.use_backend(backend):
            for _ in range(2):
                g = grad[:, ::2] if layout == "strided parameter" else grad
                param.grad = nnlab.tensor(g)
                opt.step()
        results.append(param.array.copy())
    np.testing.assert_array_equal(results[1], results[0], strict=True)


def test_flat_views_accept_only_what_the_kernels_take():
    a = np.zeros((3, 4), np.float32)
    assert [v.shape for v in kernels.flat_views(a, a.copy())] == [(12,), (12,)]
    assert kernels.flat_views(a, a.T.copy().T) is None  # Fortran order
    assert kernels.flat_views(a, a.astype(np.float64)) is None
    assert kernels.flat_views(a.astype(np.float16)) is None
    assert kernels.flat_views(a, a[:, :2].copy()) is None  # shapes differ
    view = kernels.flat_views(a)[0]
    view[0] = 1.0
    assert a[0, 0] == 1.0, "the flat view must share the parameter's memory"


def test_kernels_update_in_place_and_leave_the_gradient_alone():
    w = nnlab.tensor(np.ones((300, 300), np.float32), requires_grad=True)  # > 64k: parallel
    weights = w.array
    grad = np.full((300, 300), 0.5, np.float32)
    w.grad = nnlab.tensor(grad)
    opt = optim.Adam([w], lr=0.1, maximize=True, weight_decay=0.1)
    with kernels.use_backend("numba"):
        opt.step()
    assert w.array is weights
    assert np.all(grad == 0.5)
    np.testing.assert_allclose(weights, 1.1, rtol=1e-6)  # the first Adam step is lr·sign(g)


@pytest.mark.parametrize("case", CASES[3:4] + CASES[7:8] + CASES[16:17] + CASES[18:19], ids=_id)
def test_a_group_of_many_parameters_gives_the_references_bits(case, build):
    """More parameters than one kernel call takes (GROUP_WIDTH), one of them strided (it
    takes the reference while the others are collected), and a second group: the bits of
    the reference, every parameter and state array."""
    name, kwargs = case
    rng = np.random.default_rng(4)
    shapes = [(7, 3), (4,), (), (2, 2, 2), (9,), (3, 5), (1,), (6,), (5, 2), (8,), (2, 3)]
    weights = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in shapes] for _ in range(3)]
    results = []
    for backend in ("numpy", "numba"):
        base = [w.copy() for w in weights]
        wide = np.repeat(base[4][:, None], 2, axis=1)
        params = [nnlab.tensor(w, requires_grad=True) for w in base]
        params[4] = nnlab.from_numpy(wide[:, 0]).requires_grad_(True)  # strided: the reference
        opt = getattr(optim, name)([{"params": params[:9]}, {"params": params[9:]}], **kwargs)
        history = []
        with kernels.use_backend(backend):
            for step_grads in grads:
                for p, g in zip(params, step_grads):
                    p.grad = nnlab.tensor(g)
                opt.step()
                history.append(_snapshot(params, opt))
        results.append(history)
    assert not params[4].array.flags.c_contiguous
    _assert_identical(results[1], results[0], f"{_id(case)} {build}")


def test_a_subclass_that_changes_the_parameter_after_the_update_sees_it_done():
    """The group's launches wait only for the marked updates: an override of ``_update``
    that clips after ``super()._update()`` clips the updated values on both backends."""

    class ClampedSGD(optim.SGD):
        def _update(self, p, grad, group):
            super()._update(p, grad, group)
            np.clip(p.array, -0.5, 0.5, out=p.array)

    results = []
    for backend in ("numpy", "numba"):
        w = nnlab.tensor([0.45, -0.45, 0.0], requires_grad=True)
        w.grad = nnlab.tensor([-1.0, 1.0, 0.0])
        with kernels.use_backend(backend):
            ClampedSGD([w], lr=1.0).step()
        results.append(w.array.copy())
    np.testing.assert_array_equal(results[0], [0.5, -0.5, 0.0])
    np.testing.assert_array_equal(results[1], results[0], strict=True)


@pytest.mark.parametrize("case", CASES[1:2] + CASES[7:8] + CASES[16:17] + CASES[18:19], ids=_id)
def test_read_only_gradients_and_numpy_float64_settings_give_the_references_bits(case):
    """A read-only gradient (the kernels' tuples hold one array type) and NumPy float64
    hyper-parameters on float32 parameters (NumPy 2 computes the reference in float64) take
    the reference's path: its bits, on either backend, and no error."""
    name, kwargs = case
    wide = {k: np.float64(v) if isinstance(v, float) else v for k, v in kwargs.items()}
    rng = np.random.default_rng(5)
    weights = [rng.standard_normal(s).astype(np.float32) for s in ((6, 4), (5,))]
    grads = [rng.standard_normal(w.shape).astype(np.float32) for w in weights]
    grads[1].flags.writeable = False
    results = []
    for backend in ("numpy", "numba"):
        params = [nnlab.tensor(w, requires_grad=True) for w in weights]
        opt = getattr(optim, name)(params, **wide)
        with kernels.use_backend(backend):
            for _ in range(3):
                for p, g in zip(params, grads):
                    p.grad = nnlab.from_numpy(g)
                opt.step()
        results.append([_snapshot(params, opt)])
    assert not params[1].grad.array.flags.writeable
    _assert_identical(results[1], results[0], _id(case))
