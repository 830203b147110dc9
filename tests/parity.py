"""PyTorch parity: run one op in nnlab and in torch on the same seeded NumPy inputs, compare.

Convention (stated once, used by every entry of ``op_db``):

* A :class:`Sample` holds NumPy inputs, generated in float64 from a seeded generator. They
  are cast to the dtype under test (float32 or float64) and handed to both libraries as
  fresh tensors, with the same strides: a :class:`View` input stays non-contiguous.
* A floating array argument is a differentiable input; integer and boolean arrays become
  tensors that need no gradient; :class:`Const` marks a floating tensor without gradient.
  Lists of arrays (``cat``, ``stack``) become lists of tensors; anything else (Python
  scalars, dims, shapes, index expressions) reaches both ops unchanged.
* :func:`check_parity` compares every output's shape, dtype, values and ``requires_grad``,
  then backpropagates the SAME random upstream gradient through both graphs and compares
  the gradient of every differentiable input. It also checks that nnlab did not write
  into its inputs.
* Tolerances live in :data:`TOLERANCES`, one entry per dtype; an op may widen them through
  its ``OpInfo.tol`` (with a comment saying why). Integer and boolean results are exact.
* :func:`check_raises_like_torch` checks that both libraries reject a bad input, with the
  same exception class, and that nnlab's message names the op and the shapes involved.

* Modules (the table is ``module_db``): :func:`check_module` builds a layer in both
  libraries (torch first, seeded), loads torch's ``state_dict`` into nnlab, runs the same
  seeded inputs and compares every output, input gradient and parameter gradient within
  :func:`module_tolerance` (long sums in float32) or :func:`fixed_tolerance`.

A failure names the op, the case, the dtype, what was compared (output k or the gradient of
input k, with its shape) and the worst element: its index, both values and the difference.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

import nnlab

__all__ = [
    "TOLERANCES", "Tol", "Sample", "View", "Const", "ErrorCase", "OpInfo", "Inputs",
    "assert_close", "check_parity", "check_raises_like_torch", "make_inputs", "rng_for",
    "run_nnlab", "upstream_gradients", "check_module_step", "module_tolerance",
    "compare_to_torch", "load_from_torch", "to_lib", "check_module", "ModuleCase",
    "check_module_case", "fixed_tolerance",
]  # fmt: skip


@dataclass(frozen=True)
class Tol:
    rtol: float
    atol: float


#: |nnlab - torch| <= atol + rtol * |torch|, elementwise, for values and gradients.
#: float32 carries ~7 significant digits, so 1e-5 relative leaves room for a different
#: (equally valid) order of summation; float64 results must agree to ~10 digits.
TOLERANCES: dict[np.dtype, Tol] = {
    np.dtype(np.float32): Tol(rtol=1e-5, atol=1e-6),
    np.dtype(np.float64): Tol(rtol=1e-10, atol=1e-12),
}

DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


# -- describing inputs -------------------------------------------------------------------


@dataclass(frozen=True)
class View:
    """A non-contiguous input: ``fn(base)`` after ``base`` is cast, e.g. a transposed view
    or a strided slice. Both libraries receive the view itself (no copy)."""

    base: np.ndarray
    fn: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Const:
    """A floating tensor input that does not require grad (e.g. to check that an op skips
    the gradient of an input nobody needs). With ``dtype`` it keeps that dtype instead of
    the one under test (to check type promotion, e.g. float32 * 0-d float64)."""

    value: Any
    dtype: Any = None


@dataclass
class Sample:
    """One named case of an op: positional ``args`` and keyword ``kwargs`` for both calls.

    Attributes:
        grad: compare gradients with torch (False when torch's choice is unspecified).
        gradcheck: run the finite-difference checks (False at kinks, ties and boundaries,
            where the derivative is one-sided, or where finite differences are unreliable).
        outputs: indices of the outputs compared with torch (None: all of them).
        torch: compare with torch at all (False for nnlab-only cases, such as a seeded
            dropout mask that torch cannot reproduce).
    """

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    grad: bool = True
    gradcheck: bool = True
    outputs: tuple[int, ...] | None = None
    torch: bool = True


@dataclass
class ErrorCase:
    """A bad input both libraries must reject.

    ``mentions`` are substrings nnlab's message must contain (the op name, the shapes).
    ``nnlab_exc`` overrides the expected nnlab exception class where nnlab deliberately
    follows Python's convention instead of torch's (say why in the table).
    """

    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    mentions: tuple[str, ...] = ()
    nnlab_exc: type[BaseException] | tuple[type[BaseException], ...] | None = None


@dataclass
class OpInfo:
    """One op of the table.

    Attributes:
        name: the op's name in messages and test ids.
        nnlab, torch: the public calls, taking the same arguments.
        samples: builds the named cases from a seeded NumPy generator.
        grad: the op is differentiable (False: values only, e.g. comparisons, argmax).
        double_backward: the op supports ``create_graph=True`` (False: it must raise).
        tol: per-dtype tolerances replacing :data:`TOLERANCES` (comment why in the table).
        errors: bad inputs both libraries reject (a list, or a function returning one).
    """

    name: str
    nnlab: Callable[..., Any]
    torch: Callable[..., Any] | None
    samples: Callable[[np.random.Generator], list[Sample]]
    grad: bool = True
    double_backward: bool = True
    tol: dict[np.dtype, Tol] = field(default_factory=dict)
    errors: Callable[[], list[ErrorCase]] | list[ErrorCase] | None = None

    def tolerance(self, dtype: np.dtype) -> Tol:
        return self.tol.get(np.dtype(dtype), TOLERANCES[np.dtype(dtype)])

    def error_cases(self) -> list[ErrorCase]:
        """``errors`` as a list (the table may give a list or a function building one)."""
        if self.errors is None:
            return []
        return list(self.errors() if callable(self.errors) else self.errors)


def rng_for(*names: str) -> np.random.Generator:
    """A generator seeded from names, so each op and case draws the same numbers every run
    and adding a case does not change the inputs of the others."""
    return np.random.default_rng(zlib.crc32("/".join(names).encode()))


# -- turning a sample into tensors -------------------------------------------------------


@dataclass
class Inputs:
    """A sample's arguments for one library, with the differentiable leaves in order."""

    args: list[Any]
    kwargs: dict[str, Any]
    leaves: list[Any]
    # (array nnlab received, copy of its values) to detect ops writing into their inputs
    originals: list[tuple[np.ndarray, np.ndarray]]


def _cast(value: np.ndarray | View, dtype: np.dtype) -> np.ndarray:
    """A fresh array of the tested dtype (views are taken after casting: still strided)."""
    if isinstance(value, View):
        return value.fn(value.base.astype(dtype))
    if value.dtype.kind == "f":
        return value.astype(dtype)
    return value.copy()


def _is_float(value: Any) -> bool:
    if isinstance(value, View):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind == "f"


def make_inputs(
    sample: Sample, lib: str, dtype: np.dtype, grad: bool = True, contiguous: bool = False
) -> Inputs:
    """Build ``sample``'s arguments as ``lib`` tensors ("nnlab" or "torch") of ``dtype``.

    Floating arrays require grad when ``grad``; ``contiguous`` copies views (gradcheck
    perturbs inputs in place through a flat view, which needs contiguous memory).
    """
    leaves: list[Any] = []
    originals: list[tuple[np.ndarray, np.ndarray]] = []

    def convert(value: Any) -> Any:
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, Const):
            if value.dtype is not None:
                return wrap(np.asarray(value.value), False, np.dtype(value.dtype))
            return wrap(value.value, requires_grad=False)
        if isinstance(value, (np.ndarray, View)):
            return wrap(value, requires_grad=grad and _is_float(value))
        return value

    def wrap(value: np.ndarray | View, requires_grad: bool, as_dtype: Any = None) -> Any:
        array = _cast(value, as_dtype or dtype)
        if contiguous and not array.flags.c_contiguous:
            array = array.copy(order="C")  # (np.ascontiguousarray would make 0-d arrays 1-d)
        if lib == "torch":
            t = torch.from_numpy(array)
            if requires_grad:
                t.requires_grad_(True)
        else:
            t = nnlab.Tensor(array, requires_grad=requires_grad)
            originals.append((array, array.copy()))
        if requires_grad:
            leaves.append(t)
        return t

    args = [convert(a) for a in sample.args]
    kwargs = {k: convert(v) for k, v in sample.kwargs.items()}
    return Inputs(args, kwargs, leaves, originals)


def _as_outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _numpy(t: Any) -> np.ndarray:
    if isinstance(t, torch.Tensor):
        return t.detach().numpy()
    return np.asarray(t.array if isinstance(t, nnlab.Tensor) else t)


def _numpy_dtype(t: Any) -> np.dtype:
    if isinstance(t, torch.Tensor):
        return torch.empty((), dtype=t.dtype).numpy().dtype
    return np.dtype(t.dtype)


def upstream_gradients(outputs: Sequence[Any], rng: np.random.Generator) -> list[np.ndarray]:
    """One random gradient per output (N(0, 1), in the output's dtype): a random upstream
    gradient tests every row of the Jacobian, where ``.sum()`` would test only their sum."""
    return [rng.standard_normal(o.shape).astype(_numpy_dtype(o)) for o in outputs]


def run_nnlab(op: OpInfo, inputs: Inputs) -> list[Any]:
    return _as_outputs(op.nnlab(*inputs.args, **inputs.kwargs))


# -- comparing ---------------------------------------------------------------------------


def assert_close(actual: np.ndarray, expected: np.ndarray, tol: Tol | None, what: str) -> None:
    """Check shape, dtype and values; the message names ``what`` and the worst element.

    ``tol`` None means exact equality (integer and boolean results). NaN must meet NaN and
    an infinity the same infinity.
    """
    actual, expected = np.asarray(actual), np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: nnlab shape {actual.shape}, torch shape {expected.shape}")
    if actual.dtype != expected.dtype:
        raise AssertionError(f"{what}: nnlab dtype {actual.dtype}, torch dtype {expected.dtype}")
    if actual.size == 0:
        return
    if tol is None or actual.dtype.kind not in "fc":
        bad = actual != expected
        excess = bad.astype(np.float64)
        limit = "exact equality"
    else:
        a, e = actual.astype(np.float64), expected.astype(np.float64)
        with np.errstate(invalid="ignore"):
            diff = np.abs(a - e)
            allowed = tol.atol + tol.rtol * np.abs(e)
            excess = np.where(np.isfinite(diff), diff - allowed, 0.0)
        special = ~(np.isfinite(a) & np.isfinite(e))
        mismatch_special = special & ~((a == e) | (np.isnan(a) & np.isnan(e)))
        excess = np.where(mismatch_special, np.inf, excess)
        bad = excess > 0
        limit = f"atol {tol.atol:g} + rtol {tol.rtol:g}·|torch|"
    if not bad.any():
        return
    worst = np.unravel_index(int(np.argmax(excess)), actual.shape)
    a_w, e_w = actual[worst].item(), expected[worst].item()
    detail = ""
    if actual.dtype.kind in "fciu":
        diff = abs(float(a_w) - float(e_w))
        detail = f" (|diff| {diff:.3g} > {limit})" if np.isfinite(diff) else " (NaN/Inf mismatch)"
    raise AssertionError(
        f"{what}: {int(bad.sum())} of {actual.size} elements differ; worst at index "
        f"{tuple(int(i) for i in worst)}: nnlab {a_w!r}, torch {e_w!r}{detail}"
    )


def _compare(op: OpInfo, actual: Any, expected: Any, what: str) -> None:
    """Compare with the tolerance of torch's result dtype (which may differ from the tested
    one: an int64 input gives float32 results in both runs)."""
    a, e = _numpy(actual), _numpy(expected)
    tol = None
    for dtype in (e.dtype, a.dtype):
        if dtype in TOLERANCES:
            tol = op.tolerance(dtype)
            break
    assert_close(a, e, tol, what)


def check_parity(op: OpInfo, sample: Sample, dtype: np.dtype) -> None:
    """Run ``sample`` through nnlab and torch in ``dtype`` and compare everything."""
    dtype = np.dtype(dtype)
    label = f"op {op.name!r}, case {sample.name!r}, {dtype}"
    grad = op.grad and sample.grad
    ours = make_inputs(sample, "nnlab", dtype, grad=grad)
    theirs = make_inputs(sample, "torch", dtype, grad=grad)
    out_nn = run_nnlab(op, ours)
    assert op.torch is not None, f"{label}: no torch reference"
    out_th = _as_outputs(op.torch(*theirs.args, **theirs.kwargs))
    if len(out_nn) != len(out_th):
        raise AssertionError(f"{label}: nnlab returned {len(out_nn)} outputs, torch {len(out_th)}")
    compared = range(len(out_nn)) if sample.outputs is None else sample.outputs
    for k in compared:
        what = f"{label}: output {k} (shape {tuple(out_th[k].shape)})"
        _compare(op, out_nn[k], out_th[k], what)
        if bool(out_nn[k].requires_grad) != bool(out_th[k].requires_grad):
            raise AssertionError(
                f"{what}: requires_grad is {out_nn[k].requires_grad} in nnlab, "
                f"{out_th[k].requires_grad} in torch"
            )
    for k, (array, before) in enumerate(ours.originals):
        if not np.array_equal(array, before, equal_nan=True):
            raise AssertionError(f"{label}: nnlab modified its input tensor {k} in place")
    if not grad or not ours.leaves:
        return
    _check_gradients(op, sample, dtype, label, ours, theirs, out_nn, out_th)


def _check_gradients(
    op: OpInfo,
    sample: Sample,
    dtype: np.dtype,
    label: str,
    ours: Inputs,
    theirs: Inputs,
    out_nn: list[Any],
    out_th: list[Any],
) -> None:
    differentiable = [k for k, o in enumerate(out_th) if o.requires_grad]
    if not differentiable:
        return
    seeds = upstream_gradients([out_th[k] for k in differentiable], rng_for(op.name, sample.name))
    g_th = torch.autograd.grad(
        [out_th[k] for k in differentiable], theirs.leaves,
        [torch.from_numpy(s) for s in seeds], allow_unused=True,
    )  # fmt: skip
    g_nn = nnlab.autograd.grad(
        [out_nn[k] for k in differentiable], ours.leaves, list(seeds), allow_unused=True
    )
    for k, (a, e, leaf) in enumerate(zip(g_nn, g_th, theirs.leaves)):
        # An unused input gets None (torch) or zeros: both mean a zero gradient.
        zeros = np.zeros(tuple(leaf.shape), dtype=dtype)
        a_np = zeros if a is None else _numpy(a)
        e_np = zeros if e is None else _numpy(e)
        what = f"{label}: gradient of input {k} (shape {tuple(leaf.shape)})"
        assert_close(a_np, e_np, op.tolerance(dtype), what)


# -- modules -----------------------------------------------------------------------------


def module_tolerance(dtype: Any, expected: np.ndarray) -> Tol:
    """The tolerance of a module's outputs and gradients: rtol 1e-5 plus atol 1e-5·(largest
    finite |element| of ``expected``) in float32, :data:`TOLERANCES` in float64.

    In float32 an output or a weight gradient of a layer is a long sum (over the batch, the
    time steps, the kernel) that torch computes in another order (oneDNN's blocked GEMMs,
    another softmax reduction), so the error scales with the largest element of the array,
    not with each element; float64 leaves no room for that and must agree to ~10 digits."""
    if np.dtype(dtype) == np.float64:
        return TOLERANCES[np.dtype(np.float64)]
    finite = expected[np.isfinite(expected)] if expected.size else expected
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    return Tol(rtol=1e-5, atol=max(1e-6, 1e-5 * scale))


def compare_to_torch(actual: Any, expected: Any, dtype: Any, what: str) -> None:
    """``actual`` (an nnlab tensor or array) against ``expected`` (a torch tensor or array)
    within :func:`module_tolerance` of ``dtype``."""
    e, a = _numpy(expected), _numpy(actual)
    assert_close(a, e, module_tolerance(dtype, e), what)


def load_from_torch(ours: Any, theirs: torch.nn.Module) -> None:
    """Load torch's ``state_dict`` into the nnlab twin, whose keys (in torch's order) and
    shapes must be torch's."""
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd), (
        f"state_dict keys differ:\n{list(ours.state_dict())}\n{list(sd)}"
    )
    mine = [tuple(v.shape) for v in ours.state_dict().values()]
    assert mine == [tuple(v.shape) for v in sd.values()], "state_dict shapes differ"
    ours.load_state_dict({k: v.detach().numpy() for k, v in sd.items()})


def fixed_tolerance(dtype: Any, expected: np.ndarray) -> Tol:
    """:data:`TOLERANCES` of ``dtype``, whatever the scale of ``expected`` (for layers
    whose float32 results are short sums: activations, small ``Linear`` layers)."""
    return TOLERANCES[np.dtype(dtype)]


def to_lib(value: Any, lib: Any, dtype: Any, grad: bool = False) -> Any:
    """A NumPy array as a tensor of ``lib`` (``torch`` or ``nnlab``; floats cast to
    ``dtype``); anything else (None, a Python scalar) is returned unchanged."""
    if value is None or not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f":
        value = value.astype(dtype)
    if lib is torch:
        t = torch.from_numpy(value.copy())
        return t.requires_grad_(True) if grad else t
    return nnlab.tensor(value, requires_grad=grad)


Tolerance = Callable[[Any, np.ndarray], Tol]
Forward = Callable[[Any, list[Any], Any], Any]


def check_module(
    label: str,
    build_ours: Callable[[], Any],
    build_theirs: Callable[[], torch.nn.Module],
    inputs: Sequence[np.ndarray],
    forward: Forward,
    dtype: Any,
    train: bool = True,
    backward: bool = True,
    tolerance: Tolerance = module_tolerance,
) -> None:
    """The module harness: build both (torch first, seeded), load torch's weights, run
    ``forward(module, tensors, lib)`` on the same inputs and compare every output, then the
    gradient of every input and of every parameter, within ``tolerance(dtype, expected)``.

    ``forward`` returns one tensor or a tuple (None entries must be None in both). The
    upstream gradient of each output is random (seeded by ``label``), so every row of each
    output's Jacobian is tested."""
    torch.manual_seed(0)
    theirs = build_theirs().to(TORCH_DTYPE[np.dtype(dtype)]).train(train)
    ours = build_ours().to(dtype).train(train)
    load_from_torch(ours, theirs)
    xs = [to_lib(a, nnlab, dtype, grad=True) for a in inputs]
    txs = [to_lib(a, torch, dtype, grad=True) for a in inputs]
    out_n, out_t = _as_outputs(forward(ours, xs, nnlab)), _as_outputs(forward(theirs, txs, torch))
    assert len(out_n) == len(out_t), label
    label = f"{label} {np.dtype(dtype)}"

    def compare(actual: Any, expected: Any, what: str) -> None:
        e = _numpy(expected)
        assert_close(_numpy(actual), e, tolerance(dtype, e), f"{label}: {what}")

    rng = rng_for(label)
    loss_n, loss_t = 0.0, 0.0
    for k, (a, e) in enumerate(zip(out_n, out_t)):
        if e is None:
            assert a is None, f"{label}: output {k} is None in torch only"
            continue
        compare(a, e, f"output {k} {tuple(e.shape)}")
        g = rng.standard_normal(tuple(e.shape)).astype(dtype)
        loss_n = loss_n + (a * nnlab.tensor(g)).sum()
        loss_t = loss_t + (e * torch.from_numpy(g)).sum()
    if not backward:
        return
    loss_n.backward()
    loss_t.backward()
    for k, (x, tx) in enumerate(zip(xs, txs)):
        if tx.grad is None:
            assert x.grad is None or not np.any(x.grad.array), f"{label}: input {k}"
            continue
        compare(x.grad, tx.grad, f"grad of input {k}")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = theirs_params[name].grad
        if expected is None:
            assert p.grad is None or not np.any(p.grad.array), f"{label}: grad of {name}"
            continue
        compare(p.grad, expected, f"grad of {name}")


@dataclass
class ModuleCase:
    """One module of the table (``module_db``): a layer built in both libraries and the
    inputs it runs on.

    Attributes:
        name: the case's name in messages and test ids.
        nnlab, torch: build the layer (the same constructor arguments in both).
        shapes: the runs; each entry holds one shape per forward input.
        train: the mode both layers run in.
        forward: ``forward(module, tensors, lib)``; None calls ``module(*tensors)``. Masks,
            initial states and keyword flags go here.
        inputs: ``inputs(rng, shapes)`` builds the NumPy inputs of one run; None draws
            N(0, 1) arrays of the given shapes.
        tol: the tolerance rule: :func:`fixed_tolerance` (default) or
            :func:`module_tolerance` for layers whose results are long sums.
    """

    name: str
    nnlab: Callable[[], Any]
    torch: Callable[[], torch.nn.Module]
    shapes: list[tuple[tuple[int, ...], ...]]
    train: bool = True
    forward: Forward | None = None
    inputs: (
        Callable[[np.random.Generator, tuple[tuple[int, ...], ...]], list[np.ndarray]] | None
    ) = None
    tol: Tolerance = fixed_tolerance


def check_module_case(case: ModuleCase, shapes: tuple[tuple[int, ...], ...], dtype: Any) -> None:
    """Run one entry of the module table on one set of input shapes through :func:`check_module`."""
    rng = rng_for(case.name, str(shapes))
    if case.inputs is None:
        arrays = [rng.standard_normal(s) for s in shapes]
    else:
        arrays = case.inputs(rng, shapes)
    forward = case.forward or (lambda module, xs, lib: module(*xs))
    check_module(f"{case.name} {shapes}", case.nnlab, case.torch, arrays, forward, dtype,
                 train=case.train, tolerance=case.tol)  # fmt: skip


def check_module_step(
    ours: Any, theirs: torch.nn.Module, x: np.ndarray, g: np.ndarray, tol: Tol, label: str
) -> None:
    """One forward and backward of an nnlab module and its torch twin (same state) on the
    input ``x`` with upstream gradient ``g``; afterwards the output, the gradient of the
    input and of every parameter, and every buffer (running statistics, counters) must agree
    within ``tol``. The gradients are zeroed first, so a caller can step repeatedly (in
    training and evaluation mode) and compare the buffers as they evolve."""
    ours.zero_grad()
    theirs.zero_grad()
    xn = nnlab.tensor(x, requires_grad=True)
    xt = torch.tensor(x, requires_grad=True)
    yn, yt = ours(xn), theirs(xt)
    assert_close(yn.array, yt.detach().numpy(), tol, f"{label}: output")
    yn.backward(g)
    yt.backward(torch.from_numpy(g))
    assert_close(xn.grad.array, xt.grad.numpy(), tol, f"{label}: gradient of the input")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        assert_close(p.grad.array, theirs_params[name].grad.numpy(), tol, f"{label}: d{name}")
    theirs_buffers = dict(theirs.named_buffers())
    assert list(dict(ours.named_buffers())) == list(theirs_buffers)
    for name, b in ours.named_buffers():
        assert_close(b.array, theirs_buffers[name].numpy(), tol, f"{label}: buffer {name}")


# -- bad inputs --------------------------------------------------------------------------


def check_raises_like_torch(op: OpInfo, case: ErrorCase) -> None:
    """Both libraries raise on ``case``; nnlab with torch's exception class (or the one the
    table names) and a message naming the op and the shapes."""
    label = f"op {op.name!r}, bad input {case.name!r}"
    dtype = np.dtype(np.float32)
    theirs = make_inputs(Sample(case.name, case.args, case.kwargs), "torch", dtype, grad=False)
    ours = make_inputs(Sample(case.name, case.args, case.kwargs), "nnlab", dtype, grad=False)
    assert op.torch is not None
    try:
        op.torch(*theirs.args, **theirs.kwargs)
    except Exception as exc:  # noqa: BLE001 - any torch error is the reference
        torch_exc: BaseException = exc
    else:
        raise AssertionError(f"{label}: torch accepts this input; the case is wrong")
    expected = case.nnlab_exc or type(torch_exc)
    try:
        op.nnlab(*ours.args, **ours.kwargs)
    except Exception as exc:  # noqa: BLE001 - checked below
        if not isinstance(exc, expected):
            raise AssertionError(
                f"{label}: nnlab raised {type(exc).__name__} ({exc}); expected {expected} "
                f"(torch raised {type(torch_exc).__name__}: {torch_exc})"
            ) from exc
        message = str(exc)
        missing = [m for m in case.mentions if m not in message]
        if missing:
            raise AssertionError(
                f"{label}: nnlab's message does not mention {missing}: {message!r}"
            ) from exc
    else:
        raise AssertionError(
            f"{label}: nnlab accepted an input torch rejects "
            f"({type(torch_exc).__name__}: {torch_exc})"
        )
