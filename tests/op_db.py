"""The op table: one :class:`~parity.OpInfo` per op, each with named sample cases.

Adding an op means adding an entry to :data:`OPS`; ``test_ops_parity`` compares it with
PyTorch (values, dtypes, every input gradient, in float32 and float64) and
``test_ops_gradcheck`` checks its first and second derivatives against finite
differences in float64. The conventions for inputs are in ``parity.py``: floating arrays
are differentiable inputs, integer/boolean arrays are tensors without gradient, anything
else is passed as is. Shapes stay small (≤ ~60 elements) so finite differences are cheap.

The sample families of ``op_samples.py`` cover the edge cases every op should meet: 0-d
tensors, odd sizes, size-1 dims, a batch of 1, broadcasting, and non-contiguous inputs (a
transposed view, a strided slice). Entries add their own: large magnitudes, ties, kinks,
boundaries. A case marked ``gradcheck=False`` sits where a derivative is one-sided.

The loss functions are entries too: their section of the table (samples per reduction,
class weights, ``ignore_index``, ...) lives in ``loss_db.py`` and joins :data:`OPS` at the
end, so the same parity and gradcheck harness runs every op and every loss.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as TF
from loss_db import LOSSES
from op_samples import (
    LARGE,
    REDUCE,
    TAIL,
    A,
    Rng,
    above_minus_one,
    binary,
    cases,
    distinct,
    fixed,
    int_input,
    join,
    large_normal,
    mask,
    nonzero,
    positive,
    real,
    reduce_specs,
    small_ints,
    split_last,
    strided,
    transposed,
    unary,
    with_neg_inf,
)  # fmt: skip
from parity import Const, ErrorCase, OpInfo, Sample, Tol, View

import nnlab
import nnlab.nn.functional as F

__all__ = ["OPS", "OPS_BY_NAME"]

F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

#: No absolute floor above float32's smallest normal number: a value of 1e-9 must be right
#: to 5 digits, not merely below 1e-6 (as σ(-20) is in the tail, and its gradient).
RELATIVE = {F32: Tol(rtol=1e-5, atol=1e-37), F64: Tol(rtol=1e-10, atol=1e-300)}


# -- calls where the two libraries spell an argument differently ---------------------------


def _torch_index(index: Any) -> Any:
    """NumPy arrays inside an index expression become torch tensors."""
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    if isinstance(index, np.ndarray):
        return torch.from_numpy(index)
    return index


def _torch_prod(x: torch.Tensor, dim: Any = None, keepdim: bool = False) -> torch.Tensor:
    return torch.prod(x) if dim is None else torch.prod(x, dim, keepdim)


def _torch_squeeze(x: torch.Tensor, dim: Any = None) -> torch.Tensor:
    return torch.squeeze(x) if dim is None else torch.squeeze(x, dim)


def _torch_max(x: torch.Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return torch.max(x) if dim is None else tuple(torch.max(x, dim, keepdim))


def _torch_min(x: torch.Tensor, dim: Any = None, keepdim: bool = False) -> Any:
    return torch.min(x) if dim is None else tuple(torch.min(x, dim, keepdim))


def _nnlab_dropout(
    x: nnlab.Tensor, p: float = 0.5, training: bool = True, seed: int | None = None
) -> nnlab.Tensor:
    """``F.dropout``; with ``seed`` a fresh generator per call gives the same mask every
    time, so finite differences see a fixed function."""
    generator = None if seed is None else nnlab.Generator(seed)
    return F.dropout(x, p, training, generator=generator)


# The ops whose errors name a broadcast: their nnlab error is a ValueError that is also a
# RuntimeError (torch's class), see nnlab.ops._broadcast.BroadcastError.
def _broadcast_error(op: str) -> list[ErrorCase]:
    return [
        ErrorCase("incompatible_broadcast", (np.ones((2, 3)), np.ones(4)),
                  mentions=(op, "(2, 3)", "(4,)"))
    ]  # fmt: skip


def _dim_error(op: str) -> list[ErrorCase]:
    """``op(x, dim=3)`` on a 2-D tensor is an IndexError in both libraries."""
    return [ErrorCase("dim_out_of_range", (np.ones((2, 3)),), {"dim": 3}, mentions=(op, "3"))]


# -- the table ----------------------------------------------------------------------------

ELEMENTWISE = [
    OpInfo("add", operator.add, operator.add, binary(real, real), errors=_broadcast_error("add")),
    OpInfo("sub", operator.sub, operator.sub, binary(real, real), errors=_broadcast_error("sub")),
    OpInfo("mul", operator.mul, operator.mul, binary(real, real), errors=_broadcast_error("mul")),
    OpInfo(
        "div",
        operator.truediv,
        operator.truediv,
        binary(real, nonzero),
        errors=_broadcast_error("div"),
    ),
    OpInfo(
        "pow",
        operator.pow,
        operator.pow,
        join(
            binary(positive, real),
            cases(
                real,
                ("int_exponent", (A(3, 4), 3)),
                ("square", (A(2, 3), 2)),
                ("reciprocal", (A(2, 3, domain=positive), -1)),
                ("sqrt_exponent", (A(2, 3, domain=positive), 0.5)),
                ("negative_float_exponent", (A(2, 3, domain=positive), -1.5)),
                ("scalar_base", (2.0, A(2, 3))),
            ),
            # d(x**0)/dx = 0 and d(x**2)/dx = 0 at x = 0 (torch masks the 0·x⁻¹ = NaN).
            fixed("zero_base_exponent_0", [0.0, 1.5, -2.0], 0.0),
            fixed("zero_base_exponent_2", [0.0, 1.5, -2.0], 2.0),
        ),
        errors=_broadcast_error("pow"),
    ),
    OpInfo("neg", operator.neg, operator.neg, join(unary(real), int_input)),
    OpInfo("exp", nnlab.exp, torch.exp, join(unary(real), int_input)),
    OpInfo("log", nnlab.log, torch.log, join(unary(positive), int_input)),
    OpInfo("log1p", nnlab.log1p, torch.log1p, join(unary(above_minus_one), int_input)),
    OpInfo("sqrt", nnlab.sqrt, torch.sqrt, join(unary(positive), int_input)),
    OpInfo(
        "abs",
        nnlab.abs,
        torch.abs,
        join(unary(nonzero), int_input, fixed("zeros", [0.0, -1.0, 0.0, 2.0], gradcheck=False)),
    ),
    OpInfo("sin", nnlab.sin, torch.sin, join(unary(real), int_input)),
    OpInfo("cos", nnlab.cos, torch.cos, join(unary(real), int_input)),
    OpInfo("erf", nnlab.erf, torch.erf, join(unary(real), int_input)),
    OpInfo("tanh", nnlab.tanh, torch.tanh, join(unary(real), int_input, fixed("large", LARGE))),
    OpInfo(
        "sigmoid",
        nnlab.sigmoid,
        torch.sigmoid,
        join(unary(real), int_input, fixed("large", LARGE), fixed("negative_tail", TAIL)),
        tol=RELATIVE,
    ),
    OpInfo(
        "where",
        nnlab.where,
        torch.where,
        lambda rng: [
            Sample("same_shape", (mask(rng, 3, 4), real(rng, (3, 4)), real(rng, (3, 4)))),
            Sample("broadcast", (mask(rng, 3, 1), real(rng, (1, 4)), real(rng, (3, 4)))),
            Sample("broadcast_rank", (mask(rng, 4), real(rng, (2, 3, 4)), real(rng, (1, 4)))),
            Sample("scalar_other", (mask(rng, 2, 3), real(rng, (2, 3)), 0.0)),
            Sample("scalar_first", (mask(rng, 2, 3), -1.5, real(rng, (2, 3)))),
            Sample("0d_other", (mask(rng, 2, 3), real(rng, (2, 3)), real(rng, ()))),
            Sample("0d_all", (np.array(True), real(rng, ()), real(rng, ()))),
            Sample(
                "noncontiguous",
                (
                    mask(rng, 3, 5),
                    View(real(rng, (5, 3)), transposed),
                    View(real(rng, (6, 14)), strided),
                ),
            ),
            Sample("const_branch", (mask(rng, 2, 3), real(rng, (2, 3)), Const(real(rng, (3,))))),
            Sample("scalars_both", (mask(rng, 2, 3), 1.5, -2.0)),
            Sample("int_and_float_scalar", (mask(rng, 2, 3), rng.integers(0, 3, (2, 3)), 0.5)),
            Sample(
                "0d_float64_other",
                (mask(rng, 2, 3), real(rng, (2, 3)), Const(real(rng, ()), dtype=np.float64)),
            ),
        ],
        errors=[
            ErrorCase(
                "incompatible_broadcast",
                (np.ones((2, 3), dtype=bool), np.ones(4), 0.0),
                mentions=("where", "(2, 3)", "(4,)"),
            )
        ],
    ),
    OpInfo(
        "clamp",
        nnlab.clamp,
        torch.clamp,
        join(
            cases(
                real,
                ("both", (A(3, 5), -0.5, 0.7)),
                ("min_only", (A(3, 5),), {"min": -0.3}),
                ("max_only", (A(3, 5),), {"max": 0.2}),
                ("min_above_max", (A(3, 4), 0.5, -0.5)),
                ("0d", (A(), -0.1, 0.1)),
                ("transposed", (A.t(5, 3), -1.0, 1.0)),
                ("tensor_bounds", (A(3, 4), A(3, 4), A(1, 4, domain=positive))),
                ("tensor_min_only", (A(3, 4),), {"min": A(4)}),
                ("const_tensor_bounds", (A(2, 3), Const(A(2, 3)), None)),
            ),
            # At a bound torch passes the gradient (x >= min and x <= max): not a point
            # where finite differences can be used.
            fixed("at_boundaries", [-1.0, -0.5, 0.0, 0.5, 1.0], -0.5, 0.5, gradcheck=False),
            lambda rng: [
                Sample("int_input_float_bound", (rng.integers(-3, 4, (2, 3)), -0.5, 1.5)),
                Sample("int_input_int_bound", (rng.integers(-3, 4, (2, 3)), -1, 2)),
            ],
        ),
        errors=[ErrorCase("no_bounds", (np.ones(3),), mentions=("clamp",), nnlab_exc=ValueError)],
    ),
    OpInfo(
        "clip",
        nnlab.clip,
        torch.clip,
        cases(real, ("both", (A(3, 4), -0.5, 0.5)), ("min_only", (A(5),), {"min": 0.1})),
    ),
]

ACTIVATIONS = [
    OpInfo(
        "relu",
        F.relu,
        TF.relu,
        join(unary(nonzero), int_input, fixed("zeros", [0.0, -1.0, 0.0, 2.0], gradcheck=False)),
    ),
    OpInfo(
        "leaky_relu",
        F.leaky_relu,
        TF.leaky_relu,
        join(
            unary(nonzero),
            unary(nonzero, prefix="slope_0.2_", negative_slope=0.2),
            fixed("zeros", [0.0, -1.0, 0.0, 2.0], gradcheck=False),
        ),
    ),
    OpInfo(
        "elu",
        F.elu,
        TF.elu,
        join(unary(nonzero), unary(nonzero, prefix="alpha_0.5_", alpha=0.5), fixed("large", LARGE)),
    ),
    OpInfo(
        "gelu",
        F.gelu,
        TF.gelu,
        join(
            unary(real),
            unary(real, prefix="tanh_", approximate="tanh"),
            fixed("large", LARGE),
            fixed("tanh_large", LARGE, kwargs={"approximate": "tanh"}),
        ),
        errors=[
            ErrorCase(
                "bad_approximate",
                (np.ones(3),),
                {"approximate": "exact"},
                mentions=("gelu", "'exact'"),
                nnlab_exc=ValueError,
            ),
        ],
    ),
    OpInfo(
        "silu",
        F.silu,
        TF.silu,
        join(unary(real), fixed("large", LARGE), fixed("negative_tail", TAIL)),
        tol=RELATIVE,
    ),
    OpInfo(
        "softplus",
        F.softplus,
        TF.softplus,
        join(
            unary(real),
            # beta·x crosses the threshold inside these inputs: both branches are used.
            cases(
                lambda rng, shape: np.asarray(rng.uniform(-6.0, 6.0, shape)),
                ("beta2_threshold5", (A(3, 5),), {"beta": 2.0, "threshold": 5.0}),
                ("beta0.5", (A(2, 7),), {"beta": 0.5}),
                ("threshold1", (A(3, 5),), {"threshold": 1.0}),
            ),
            fixed("large", LARGE),
            fixed("large_beta2", LARGE, kwargs={"beta": 2.0, "threshold": 5.0}),
        ),
    ),
    OpInfo(
        "dropout",
        _nnlab_dropout,
        TF.dropout,
        join(
            cases(
                real,
                ("p0_training", (A(3, 4), 0.0, True)),
                ("eval_identity", (A(3, 4), 0.5, False)),
                ("eval_0d", (A(), 0.2, False)),
                ("p1_all_dropped", (A(3, 4), 1.0, True)),
                ("transposed_p0", (A.t(5, 3), 0.0, True)),
            ),
            # torch cannot reproduce nnlab's mask: checked by gradcheck and by the
            # statistics test in test_ops_parity.
            cases(real, ("seeded_training", (A(4, 5), 0.3, True), {"seed": 7}, {"torch": False})),
        ),
        errors=[
            ErrorCase(
                "p_above_1", (np.ones(3), 1.5), mentions=("dropout", "1.5"), nnlab_exc=ValueError
            )
        ],
    ),
]

SOFTMAX_CASES = (
    ("last", (A(3, 5),), {"dim": -1}),
    ("first", (A(3, 5),), {"dim": 0}),
    ("middle", (A(2, 3, 4),), {"dim": 1}),
    ("0d", (A(),), {"dim": 0}),
    ("vector_odd", (A(7),), {"dim": 0}),
    ("batch_of_1", (A(1, 5),), {"dim": 1}),
    ("size1_dim", (A(4, 1),), {"dim": 1}),
    ("transposed", (A.t(5, 3),), {"dim": 1}),
    ("strided", (A.s(6, 7),), {"dim": 0}),
    ("ties", (A(3, 4, domain=small_ints),), {"dim": -1}),
    ("large_magnitude", (A(3, 5, domain=large_normal),), {"dim": -1}),
    # ±ε = 1e-6 does not move 1e30 at all: no finite differences here
    (
        "huge",
        (np.array([[1e30, -1e30, 0.0], [3e37, 3e37, -3e37]]),),
        {"dim": 1},
        {"gradcheck": False},
    ),
    ("masked_neg_inf", (A(3, 4, domain=with_neg_inf),), {"dim": -1}, {"gradcheck": False}),
)


SOFTMAX = [
    OpInfo(
        "softmax",
        F.softmax,
        TF.softmax,
        cases(real, *SOFTMAX_CASES),
        errors=_dim_error("softmax"),
    ),
    OpInfo(
        "log_softmax",
        F.log_softmax,
        TF.log_softmax,
        cases(real, *SOFTMAX_CASES),
        errors=_dim_error("log_softmax"),
    ),
]

TIES = [
    ("ties", (A(3, 4, domain=small_ints),), {"dim": 1}, {"gradcheck": False}),
    ("ties_all", (A(3, 4, domain=small_ints),), {}, {"gradcheck": False}),
    ("all_equal", (np.ones((2, 3)),), {"dim": 0}, {"gradcheck": False}),
]

REDUCTIONS = [
    OpInfo("sum", nnlab.sum, torch.sum, cases(real, *REDUCE), errors=_dim_error("sum")),
    OpInfo("mean", nnlab.mean, torch.mean, cases(real, *REDUCE), errors=_dim_error("mean")),
    OpInfo(
        "prod",
        nnlab.prod,
        _torch_prod,
        join(
            cases(real, *reduce_specs("all_keepdim", "dims_tuple", "dims_tuple_keepdim")),
            # torch's backward handles zeros exactly (no division by the product).
            fixed("one_zero", [[1.5, 0.0, -2.0], [0.5, 2.0, 3.0]], kwargs={"dim": 1}),
            fixed("two_zeros", [[0.0, 0.0, -2.0], [0.5, 0.0, 3.0]], kwargs={"dim": 1}),
            fixed("zero_all", [[1.5, 0.0], [-2.0, 0.5]]),
        ),
        # Prod's backward is a fused NumPy kernel: create_graph=True must raise.
        double_backward=False,
        errors=_dim_error("prod"),
    ),
    OpInfo(
        "var",
        nnlab.var,
        torch.var,
        join(
            # Bessel's correction needs 2+ elements per reduced slice.
            cases(real, *reduce_specs("0d", "0d_dim0", "size1_dim", "batch_of_1")),
            cases(
                real,
                ("correction0", (A(3, 4),), {"dim": 1, "correction": 0}),
                ("correction0_0d", (A(),), {"correction": 0}),
                ("correction2_tuple", (A(2, 3, 4),), {"dim": (0, 2), "correction": 2}),
                ("unbiased_false", (A(3, 4),), {"dim": 0, "unbiased": False}),
            ),
        ),
        errors=_dim_error("var"),
    ),
    OpInfo(
        "std",
        nnlab.std,
        torch.std,
        join(
            cases(real, *reduce_specs("0d", "0d_dim0", "size1_dim", "batch_of_1")),
            cases(real, ("correction0", (A(3, 4),), {"dim": 1, "correction": 0})),
            # a constant row has std 0, where torch defines the gradient as 0 (√ has a kink)
            fixed(
                "constant_row",
                [[1.5, 1.5, 1.5], [0.5, 2.0, -1.0]],
                kwargs={"dim": 1},
                gradcheck=False,
            ),
        ),
    ),
    OpInfo(
        "logsumexp",
        nnlab.logsumexp,
        torch.logsumexp,
        join(
            cases(real, *[s for s in REDUCE if len(s) > 2 and s[2].get("dim") is not None]),
            cases(
                real,
                ("large_magnitude", (A(3, 5, domain=large_normal),), {"dim": 1}),
                (
                    "neg_inf_entries",
                    (A(3, 4, domain=with_neg_inf),),
                    {"dim": -1},
                    {"gradcheck": False},
                ),
            ),
            fixed(
                "huge", [[1e30, 1e30, -1e30], [3e37, 0.0, 1.0]], kwargs={"dim": 1}, gradcheck=False
            ),
        ),
        errors=_dim_error("logsumexp"),
    ),
    # amax/amin (and max/min without dim) share the gradient equally among ties, as torch.
    OpInfo(
        "amax", nnlab.amax, torch.amax, cases(distinct, *REDUCE, *TIES), errors=_dim_error("amax")
    ),
    OpInfo(
        "amin", nnlab.amin, torch.amin, cases(distinct, *REDUCE, *TIES), errors=_dim_error("amin")
    ),
    OpInfo(
        "max",
        nnlab.max,
        _torch_max,
        cases(
            distinct,
            ("all", (A(3, 4),)),
            ("0d", (A(),)),
            ("transposed", (A.t(5, 3),)),
            ("ties", (A(3, 4, domain=small_ints),), {}, {"gradcheck": False}),
        ),
    ),
    OpInfo(
        "min",
        nnlab.min,
        _torch_min,
        cases(
            distinct,
            ("all", (A(3, 4),)),
            ("ties", (A(3, 4, domain=small_ints),), {}, {"gradcheck": False}),
        ),
    ),
]

# max/min along a dim return (values, indices); the gradient flows to the returned index.
# Which tied index torch returns is unspecified, so tied cases compare the values only and
# test_ops_parity checks nnlab's indices and gradient against each other instead.
ARG_DIM = [
    ("dim0", (A(3, 4),), {"dim": 0}),
    ("dim_neg_keepdim", (A(2, 3, 4),), {"dim": -1, "keepdim": True}),
    ("vector_odd", (A(7),), {"dim": 0}),
    ("0d", (A(),), {"dim": 0}),
    ("batch_of_1", (A(1, 5),), {"dim": 1}),
    ("size1_dim", (A(3, 1),), {"dim": 1}),
    ("transposed", (A.t(5, 3),), {"dim": 1}),
    ("strided", (A.s(6, 7),), {"dim": 0, "keepdim": True}),
]
TIED_DIM = [
    (
        "ties",
        (A(3, 4, domain=small_ints),),
        {"dim": 1},
        {"outputs": (0,), "grad": False, "gradcheck": False},
    ),
    (
        "ties_keepdim",
        (A(2, 5, domain=small_ints),),
        {"dim": 0, "keepdim": True},
        {"outputs": (0,), "grad": False, "gradcheck": False},
    ),
]

ARG_REDUCTIONS = [
    OpInfo(
        "max.dim",
        nnlab.max,
        _torch_max,
        cases(distinct, *ARG_DIM, *TIED_DIM),
        errors=_dim_error("max"),
    ),
    OpInfo(
        "min.dim",
        nnlab.min,
        _torch_min,
        cases(distinct, *ARG_DIM, *TIED_DIM),
        errors=_dim_error("min"),
    ),
]

# argmax/argmin: torch documents that the FIRST extreme index is returned among ties.
ARG_CASES = [
    ("all", (A(3, 4),)),
    ("all_keepdim", (A(3, 4),), {"dim": None, "keepdim": True}),
    *ARG_DIM,
    ("ties", (A(3, 4, domain=small_ints),), {"dim": 1}),
    ("ties_all", (A(3, 4, domain=small_ints),)),
]


def _rounding_ties(rng: Rng) -> list[Sample]:
    """float32 values against a 0-d float64 tensor: torch compares in float32, where
    float32(0.1) == 0.1 holds; widened to float64 they would differ."""
    x = np.array([0.1, 0.2, 0.3, 1 / 3])
    return [Sample("0d_float64_rounding", (x, Const(np.array(0.1), dtype=np.float64)))]


COMPARISONS = [
    OpInfo(
        name,
        fn,
        fn,
        join(binary(small_ints, small_ints), _rounding_ties),
        grad=False,
        errors=_broadcast_error(name),
    )
    for name, fn in [
        ("lt", operator.lt),
        ("le", operator.le),
        ("gt", operator.gt),
        ("ge", operator.ge),
        ("eq", operator.eq),
        ("ne", operator.ne),
    ]
] + [
    OpInfo(
        "argmax",
        nnlab.argmax,
        torch.argmax,
        cases(distinct, *ARG_CASES),
        grad=False,
        errors=_dim_error("argmax"),
    ),
    OpInfo(
        "argmin",
        nnlab.argmin,
        torch.argmin,
        cases(distinct, *ARG_CASES),
        grad=False,
        errors=_dim_error("argmin"),
    ),
]

SHAPE = [
    OpInfo(
        "reshape",
        nnlab.reshape,
        torch.reshape,
        cases(
            real,
            ("matrix", (A(3, 4), (4, 3))),
            ("infer", (A(3, 4), (-1,))),
            ("infer_middle", (A(2, 3, 4), (2, -1, 2))),
            ("0d_to_1", (A(), (1,))),
            ("1_to_0d", (A(1), ())),
            ("size1", (A(3, 1), (1, 3))),
            ("same_shape", (A(2, 3), (2, 3))),
            ("transposed", (A.t(5, 3), (15,))),
            ("strided", (A.s(6, 7), (6,))),
        ),
        errors=[
            ErrorCase(
                "wrong_size", (np.ones((2, 3)), (4, 2)), mentions=("reshape", "(4, 2)", "(2, 3)")
            )
        ],
    ),
    OpInfo(
        "view",
        lambda x, shape: x.view(shape),
        lambda x, shape: x.view(shape),
        cases(
            real,
            ("matrix", (A(3, 4), (2, 6))),
            ("infer", (A(2, 3, 4), (-1, 4))),
            ("0d", (A(), (1, 1))),
            # torch can view this strided slice: splitting its last dim keeps strides valid.
            ("strided_split_last", (A(3, 8, view=split_last), (3, 2, 2))),
        ),
        errors=[
            # as torch: a transposed tensor cannot be read in a flat order without a copy
            ErrorCase("transposed", (View(np.ones((3, 4)), transposed), (12,)), mentions=("view",)),
            ErrorCase("count", (np.ones((3, 4)), (5,)), mentions=("reshape", "(5,)", "(3, 4)")),
        ],
    ),
    OpInfo(
        "flatten",
        nnlab.flatten,
        torch.flatten,
        cases(
            real,
            ("all", (A(2, 3, 4),)),
            ("start1", (A(2, 3, 4), 1)),
            ("middle", (A(2, 3, 4, 2), 1, 2)),
            ("negative", (A(2, 3, 4), -2, -1)),
            ("0d", (A(),)),
            ("vector", (A(5),)),
            ("transposed", (A.t(5, 3),)),
        ),
        errors=[ErrorCase("dim_out_of_range", (np.ones((2, 3)), 2), mentions=("flatten", "2"))],
    ),
    OpInfo(
        "squeeze",
        nnlab.squeeze,
        _torch_squeeze,
        cases(
            real,
            ("all", (A(1, 3, 1, 2),)),
            ("dim0", (A(1, 3), 0)),
            ("dim_not_1", (A(2, 3), 0)),
            ("negative", (A(3, 1), -1)),
            ("tuple", (A(1, 2, 1), (0, 2))),
            ("0d", (A(),)),
            ("0d_dim0", (A(), 0)),
            ("all_ones", (A(1, 1, 1),)),
        ),
        errors=_dim_error("squeeze"),
    ),
    OpInfo(
        "unsqueeze",
        nnlab.unsqueeze,
        torch.unsqueeze,
        cases(
            real,
            ("dim0", (A(3, 4), 0)),
            ("last", (A(3, 4), -1)),
            ("middle", (A(3, 4), 1)),
            ("0d", (A(), 0)),
            ("0d_negative", (A(), -1)),
            ("transposed", (A.t(5, 3), 1)),
        ),
        errors=_dim_error("unsqueeze"),
    ),
    OpInfo(
        "transpose",
        nnlab.transpose,
        torch.transpose,
        cases(
            real,
            ("matrix", (A(3, 4), 0, 1)),
            ("negative", (A(2, 3, 4), -1, -2)),
            ("outer", (A(2, 3, 4), 0, 2)),
            ("same_dim", (A(2, 3), 1, 1)),
            ("vector", (A(5), 0, -1)),
            ("0d", (A(), 0, -1)),
            ("transposed", (A.t(5, 3), 0, 1)),
        ),
        errors=[
            ErrorCase("dim_out_of_range", (np.ones((2, 3)), 0, 2), mentions=("transpose", "2"))
        ],
    ),
    OpInfo(
        "permute",
        nnlab.permute,
        torch.permute,
        cases(
            real,
            ("swap", (A(3, 4), (1, 0))),
            ("cycle", (A(2, 3, 4), (2, 0, 1))),
            ("negative", (A(2, 3, 4), (-1, 0, 1))),
            ("identity", (A(2, 3), (0, 1))),
            ("0d", (A(), ())),
            ("batch_of_1", (A(1, 3, 2), (0, 2, 1))),
            ("strided", (A.s(6, 7), (1, 0))),
        ),
        errors=[
            ErrorCase("repeated_dim", (np.ones((2, 3)), (0, 0)), mentions=("permute", "(2, 3)"))
        ],
    ),
    OpInfo(
        "expand",
        lambda x, shape: x.expand(shape),
        lambda x, shape: x.expand(shape),
        cases(
            real,
            ("size1", (A(3, 1), (3, 4))),
            ("leading", (A(3), (2, 3))),
            ("minus_one", (A(3, 1), (-1, 4))),
            ("0d", (A(), (2, 3))),
            ("new_and_grown", (A(1, 3, 1), (2, 2, 3, 4))),
            ("same_shape", (A(2, 3), (2, 3))),
            ("transposed", (A.t(1, 3), (3, 4))),
        ),
        errors=[
            ErrorCase(
                "grow_non_singleton",
                (np.ones((2, 3)), (3, 3)),
                mentions=("expand", "(2, 3)", "(3, 3)"),
            ),
            ErrorCase(
                "minus_one_in_new_dim",
                (np.ones(3), (-1, 3)),
                mentions=("expand", "(3,)", "(-1, 3)"),
            ),
        ],
    ),
    OpInfo(
        "cat",
        nnlab.cat,
        torch.cat,
        cases(
            real,
            ("dim0", ([A(2, 3), A(1, 3)], 0)),
            ("dim1_three", ([A(2, 3), A(2, 1), A(2, 2)], 1)),
            ("negative_dim", ([A(2, 3, 1), A(2, 3, 2)], -1)),
            ("vectors", ([A(3), A(4)],)),
            ("single", ([A(2, 3)], 0)),
            # nnlab's gradcheck cannot perturb a zero-size input (reported): the empty piece
            # is checked against torch only, and as a constant by gradcheck.
            ("empty_piece", ([A(0, 3), A(2, 3)], 0), {}, {"gradcheck": False}),
            ("empty_const_piece", ([Const(A(0, 3)), A(2, 3)], 0)),
            ("noncontiguous", ([A.t(3, 2), A(2, 3)], 0)),
            ("const_piece", ([A(2, 2), Const(A(2, 2))], 1)),
        ),
        errors=[
            ErrorCase(
                "rank_mismatch",
                ([np.ones((2, 3)), np.ones(3)], 1),
                mentions=("cat", "(2, 3)", "(3,)"),
            ),
            ErrorCase(
                "size_mismatch",
                ([np.ones((2, 3)), np.ones((2, 4))], 0),
                mentions=("cat", "(2, 3)", "(2, 4)"),
            ),
            ErrorCase("dim_out_of_range", ([np.ones((2, 3))], 2), mentions=("cat", "2")),
        ],
    ),
    OpInfo(
        "stack",
        nnlab.stack,
        torch.stack,
        cases(
            real,
            ("dim0", ([A(2, 3), A(2, 3)], 0)),
            ("last", ([A(2, 3), A(2, 3), A(2, 3)], -1)),
            ("middle", ([A(2, 3), A(2, 3)], 1)),
            ("0d", ([A(), A()],)),
            ("noncontiguous", ([A.t(3, 2), A(2, 3)], 1)),
        ),
        errors=[
            ErrorCase(
                "shape_mismatch",
                ([np.ones((2, 3)), np.ones(3)],),
                mentions=("stack", "(2, 3)", "(3,)"),
            )
        ],
    ),
    OpInfo(
        "split",
        nnlab.split,
        torch.split,
        cases(
            real,
            ("even", (A(6, 2), 2)),
            ("uneven", (A(7, 3), 3)),
            ("sizes", (A(2, 6), [1, 3, 2], 1)),
            ("negative_dim", (A(2, 3, 5), 2, -1)),
            ("one_piece", (A(3, 2), 5)),
            ("empty_piece", (A(3, 2), [0, 3])),
            ("transposed", (A.t(5, 4), 2, 1)),
        ),
        errors=[
            ErrorCase(
                "sizes_do_not_add_up",
                (np.ones((2, 3)), [1, 1], 1),
                mentions=("split", "[1, 1]", "(2, 3)"),
            )
        ],
    ),
    OpInfo(
        "chunk",
        nnlab.chunk,
        torch.chunk,
        cases(
            real,
            ("even", (A(6, 2), 3)),
            ("uneven", (A(5, 3), 3)),
            ("fewer_pieces", (A(6, 2), 4)),
            ("dim1", (A(2, 7), 2, 1)),
            ("single", (A(3, 2), 1)),
        ),
    ),
    OpInfo(
        "pad",
        F.pad,
        TF.pad,
        cases(
            real,
            ("last_dim", (A(3, 4), (1, 2))),
            ("two_dims", (A(2, 3), (1, 0, 2, 1))),
            ("value", (A(2, 3), (1, 1)), {"value": -1.5}),
            ("vector", (A(5), (2, 3))),
            ("3d_last_two", (A(2, 3, 4), (0, 1, 1, 0))),
            ("zero_pad", (A(2, 3), (0, 0))),
            ("batch_of_1", (A(1, 2, 3), (1, 1))),
            ("transposed", (A.t(5, 3), (1, 1))),
        ),
        # Too many padding values is a bad argument value: ValueError (torch: RuntimeError).
        errors=[
            ErrorCase(
                "too_long",
                (np.ones((2, 3)), (1, 1, 1, 1, 1, 1)),
                mentions=("pad",),
                nnlab_exc=ValueError,
            )
        ],
    ),
]


def _getitem_samples(rng: Rng) -> list[Sample]:
    """``x[index]``: a top-level array index becomes an integer/boolean tensor; arrays
    inside a tuple stay NumPy arrays (nnlab accepts both)."""
    x = lambda *shape: real(rng, shape)
    ints = lambda *values: np.array(values, dtype=np.int64)
    specs = [
        ("int", x(4, 3), 1),
        ("negative_int", x(4, 3), -1),
        ("slice_step", x(7, 3), slice(1, None, 2)),
        ("none", x(3, 4), (None, slice(None), 1)),
        ("ellipsis", x(2, 3, 4), (Ellipsis, 1)),
        ("ellipsis_none", x(2, 3), (Ellipsis, None)),
        ("int_slice", x(3, 4, 5), (1, slice(0, 3))),
        ("scalar_result", x(3, 4), (1, 2)),
        ("0d_input_none", x(), None),
        ("0d_input_ellipsis", x(), Ellipsis),
        ("int_array_duplicates", x(5, 3), ints(0, 2, 0, 0, 4)),
        ("int_array_2d", x(5, 3), np.array([[0, 1], [1, 1]])),
        ("list_duplicates", x(5, 2), [0, 0, 3]),
        ("0d_int_tensor", x(4, 3), np.array(2)),
        ("slice_then_array", x(3, 5), (slice(None), ints(4, 0, 4))),
        ("two_arrays_broadcast", x(4, 5), (np.array([[0], [3]]), ints(1, 1, 2))),
        ("adjacent_int_and_array", x(3, 4, 5), (slice(None), 0, ints(1, 1, 3))),
        # torch applies integer indices first, then the arrays: x[0, :, [1, 1, 3]] has
        # shape (4, 3) in torch, (3, 4) in NumPy.
        ("int_slice_array", x(3, 4, 5), (0, slice(None), ints(1, 1, 3))),
        ("int_ellipsis_array", x(3, 4, 5), (1, Ellipsis, ints(0, 0))),
        ("int_none_array", x(2, 3, 4), (0, None, slice(None), ints(1, 1))),
        ("array_slice_int", x(3, 4, 5), (ints(2, 0), slice(1, 3), -1)),
        ("bool_mask_full", x(3, 4), mask(rng, 3, 4)),
        ("bool_mask_rows", x(4, 3), np.array([True, False, True, True])),
        ("slice_then_bool", x(3, 4), (slice(None), np.array([True, False, False, True]))),
        ("transposed_array", View(x(5, 4), transposed), ints(3, 0, 3)),
        ("strided_slice", View(x(6, 7), strided), (slice(None, None, 2), 1)),
    ]
    return [Sample(name, (a, index)) for name, a, index in specs]


INDEXING = [
    OpInfo(
        "getitem",
        lambda x, index: x[index],
        lambda x, index: x[_torch_index(index)],
        _getitem_samples,
        errors=[
            ErrorCase("out_of_range", (np.ones((2, 3)), 5), mentions=("getitem", "5", "(2, 3)"))
        ],
    ),
    OpInfo(
        "gather",
        nnlab.gather,
        torch.gather,
        lambda rng: [
            Sample("dim0", (real(rng, (3, 4)), 0, rng.integers(0, 3, (2, 4)))),
            Sample(
                "dim1_duplicates",
                (real(rng, (3, 4)), 1, np.array([[0, 0, 3], [1, 1, 1], [2, 0, 2]])),
            ),
            Sample("negative_dim", (real(rng, (2, 3, 4)), -1, rng.integers(0, 4, (2, 3, 2)))),
            Sample("smaller_index", (real(rng, (4, 5)), 1, rng.integers(0, 5, (2, 3)))),
            Sample("vector", (real(rng, (5,)), 0, np.array([4, 4, 0]))),
            Sample(
                "transposed", (View(real(rng, (5, 3)), transposed), 1, rng.integers(0, 5, (3, 2)))
            ),
        ],
        errors=[
            # An index out of range is Python's IndexError (torch: RuntimeError).
            ErrorCase(
                "index_out_of_range",
                (np.ones((2, 3)), 1, np.array([[5]])),
                mentions=("gather", "5", "(2, 3)"),
                nnlab_exc=IndexError,
            ),
            ErrorCase(
                "rank_mismatch",
                (np.ones((2, 3)), 1, np.array([0])),
                mentions=("gather", "(2, 3)", "(1,)"),
            ),
        ],
    ),
    OpInfo(
        "scatter_add",
        nnlab.scatter_add,
        torch.scatter_add,
        lambda rng: [
            Sample(
                "dim0_duplicates",
                (real(rng, (3, 4)), 0, np.array([[0, 2, 2, 1], [0, 2, 0, 1]]), real(rng, (2, 4))),
            ),
            Sample("dim1", (real(rng, (2, 5)), 1, rng.integers(0, 5, (2, 3)), real(rng, (2, 3)))),
            Sample(
                "negative_dim",
                (real(rng, (2, 3)), -1, np.array([[2, 2], [0, 2]]), real(rng, (2, 2))),
            ),
            Sample("vector", (real(rng, (5,)), 0, np.array([0, 0, 4, 0]), real(rng, (4,)))),
            Sample(
                "const_input", (Const(real(rng, (3, 2))), 0, np.array([[1, 1]]), real(rng, (1, 2)))
            ),
        ],
        errors=[
            ErrorCase(
                "index_out_of_range",
                (np.ones((2, 3)), 1, np.array([[5]]), np.ones((1, 1))),
                mentions=("scatter_add", "5", "(2, 3)"),
                nnlab_exc=IndexError,
            ),
        ],
    ),
    OpInfo(
        "index_select",
        nnlab.index_select,
        torch.index_select,
        lambda rng: [
            Sample("dim0_duplicates", (real(rng, (4, 3)), 0, np.array([3, 0, 3]))),
            Sample("dim1", (real(rng, (2, 5)), 1, np.array([4, 1]))),
            Sample("negative_dim", (real(rng, (2, 3, 4)), -1, np.array([0, 0]))),
            Sample("0d_index", (real(rng, (3, 4)), 1, np.array(2))),
            Sample("vector", (real(rng, (5,)), 0, np.array([1, 1, 4]))),
            Sample("transposed", (View(real(rng, (5, 3)), transposed), 0, np.array([1, 1]))),
        ],
        errors=[
            ErrorCase(
                "dim_out_of_range",
                (np.ones((2, 3)), 3, np.array([0])),
                mentions=("index_select", "3"),
            ),
            ErrorCase(
                "matrix_index",
                (np.ones((2, 3)), 1, np.array([[0]])),
                mentions=("index_select", "(1, 1)"),
            ),
            ErrorCase(
                "index_out_of_range",
                (np.ones((2, 3)), 1, np.array([5])),
                mentions=("index_select", "5", "(2, 3)"),
                nnlab_exc=IndexError,
            ),
        ],
    ),
    OpInfo(
        "masked_fill",
        nnlab.masked_fill,
        torch.masked_fill,
        lambda rng: [
            Sample("same_shape", (real(rng, (3, 4)), mask(rng, 3, 4), -1.5)),
            Sample("broadcast_mask", (real(rng, (3, 4)), mask(rng, 1, 4), 0.0)),
            Sample("mask_rank", (real(rng, (2, 3, 4)), mask(rng, 4), 2.0)),
            Sample("neg_inf", (real(rng, (3, 4)), mask(rng, 3, 4), -np.inf), gradcheck=False),
            Sample("0d", (real(rng, ()), np.array(True), 1.0)),
            Sample("transposed", (View(real(rng, (5, 3)), transposed), mask(rng, 3, 5), 0.5)),
        ],
        errors=[
            ErrorCase(
                "incompatible_broadcast",
                (np.ones((2, 3)), np.ones(4, dtype=bool), 0.0),
                mentions=("masked_fill", "(2, 3)", "(4,)"),
            )
        ],
    ),
    OpInfo(
        "one_hot",
        F.one_hot,
        TF.one_hot,
        lambda rng: [
            Sample("inferred", (rng.integers(0, 4, (5,)),)),
            Sample("given", (rng.integers(0, 4, (2, 3)), 6)),
            Sample("0d", (np.array(2), 4)),
            Sample("all_same", (np.array([1, 1, 1]),)),
        ],
        grad=False,
        # A label out of range is a bad value: ValueError (torch: RuntimeError).
        errors=[
            ErrorCase(
                "label_too_large",
                (np.array([0, 3]), 3),
                mentions=("one_hot", "3"),
                nnlab_exc=ValueError,
            ),
            ErrorCase(
                "empty_without_num_classes",
                (np.zeros(0, dtype=np.int64),),
                mentions=("one_hot", "(0,)", "num_classes"),
            ),
        ],
    ),
]

LINALG = [
    OpInfo(
        "matmul",
        operator.matmul,
        operator.matmul,
        cases(
            real,
            ("vector_vector", (A(4), A(4))),
            ("matrix_vector", (A(3, 4), A(4))),
            ("vector_matrix", (A(4), A(4, 5))),
            ("matrix_matrix", (A(3, 4), A(4, 5))),
            ("batched", (A(2, 3, 4), A(2, 4, 5))),
            ("broadcast_batch", (A(2, 1, 3, 4), A(3, 4, 2))),
            ("matrix_batched", (A(3, 4), A(2, 4, 2))),
            ("vector_batched", (A(4), A(2, 4, 3))),
            ("batched_vector", (A(2, 3, 4), A(4))),
            ("batch_of_1", (A(1, 3, 4), A(1, 4, 2))),
            ("size1_inner", (A(3, 1), A(1, 4))),
            ("outer_ones", (A(1, 4), A(4, 1))),
            ("transposed", (A.t(4, 3), A.t(5, 4))),
            ("const_rhs", (A(3, 4), Const(A(4, 2)))),
        ),
        errors=[
            ErrorCase(
                "inner_mismatch",
                (np.ones((2, 3)), np.ones((4, 2))),
                mentions=("matmul", "(2, 3)", "(4, 2)"),
            ),
            ErrorCase(
                "batch_mismatch",
                (np.ones((2, 3, 4)), np.ones((3, 4, 5))),
                mentions=("matmul", "(2, 3, 4)", "(3, 4, 5)"),
            ),
            ErrorCase("0d", (np.ones(()), np.ones(3)), mentions=("matmul", "()", "(3,)")),
        ],
    ),
    OpInfo(
        "mm",
        nnlab.mm,
        torch.mm,
        cases(real, ("matrices", (A(3, 4), A(4, 2))), ("transposed", (A.t(4, 3), A(4, 1)))),
        errors=[
            ErrorCase(
                "batched", (np.ones((2, 3, 4)), np.ones((4, 2))), mentions=("mm", "(2, 3, 4)")
            )
        ],
    ),
    OpInfo(
        "bmm",
        nnlab.bmm,
        torch.bmm,
        cases(
            real, ("batched", (A(2, 3, 4), A(2, 4, 5))), ("batch_of_1", (A(1, 2, 3), A(1, 3, 1)))
        ),
        errors=[
            ErrorCase(
                "batch_mismatch",
                (np.ones((2, 3, 4)), np.ones((3, 4, 5))),
                mentions=("bmm", "(2, 3, 4)", "(3, 4, 5)"),
            )
        ],
    ),
]

# -- torch-surface additions: maximum/minimum, rounding, norms, running sums, sorting ------


def _scalar_as_tensor(fn: Any) -> Any:
    """torch.maximum/minimum take tensors only; a Python number becomes a 0-d tensor, which
    has the same (lowest) priority in type promotion as the number has in nnlab."""
    return lambda a, b: fn(*(x if isinstance(x, torch.Tensor) else torch.tensor(x) for x in (a, b)))


def _torch_mod(a: Any, b: Any) -> Any:
    """``a % b``; torch has no derivative for a Python number % tensor (nnlab gives
    -⌊a/b⌋, as for two tensors), so a number on the left becomes a 0-d tensor, whose type
    promotion is the same."""
    return (a if isinstance(a, torch.Tensor) else torch.tensor(a)) % b


def _torch_all(x: torch.Tensor, dim: Any = None, keepdim: bool = False) -> torch.Tensor:
    return torch.all(x) if dim is None else torch.all(x, dim, keepdim)


def _torch_any(x: torch.Tensor, dim: Any = None, keepdim: bool = False) -> torch.Tensor:
    return torch.any(x) if dim is None else torch.any(x, dim, keepdim)


def _ties_and_nan() -> Any:
    """Ties split the gradient equally (½ each); NaN wins and sends the gradient to both."""
    return join(
        fixed("ties", [1.0, -2.0, 0.5, 3.0], [1.0, 0.0, 0.5, 3.0], gradcheck=False),
        fixed("ties_broadcast", [[1.0], [2.0]], [1.0, 2.0, 3.0], gradcheck=False),
        fixed("nan", [np.nan, 1.0, 2.0], [0.0, np.nan, 1.0], gradcheck=False),
        fixed("signed_zeros", [0.0, -0.0], [-0.0, 0.0], gradcheck=False),
    )


HALVES = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -1e4 - 0.5, 2.0]

BINARY_EXTRA = [
    OpInfo(
        "maximum",
        nnlab.maximum,
        _scalar_as_tensor(torch.maximum),
        join(binary(distinct, real), _ties_and_nan()),
        errors=_broadcast_error("maximum"),
    ),
    OpInfo(
        "minimum",
        nnlab.minimum,
        _scalar_as_tensor(torch.minimum),
        join(binary(distinct, real), _ties_and_nan()),
        errors=_broadcast_error("minimum"),
    ),
    OpInfo(
        "max.binary",
        nnlab.max,
        torch.max,
        cases(real, ("same_shape", (A(3, 4), A(3, 4))), ("broadcast", (A(3, 1), A(4)))),
    ),
    OpInfo(
        "floor_divide",
        operator.floordiv,
        operator.floordiv,
        join(
            binary(real, nonzero),
            fixed("exact_and_negative", [7.0, -7.0, 6.0, -6.0, 0.5], [2.0, 2.0, -3.0, -3.0, -1.0]),
            fixed("by_zero", [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]),
            lambda rng: [
                Sample("ints_negative", (np.array([7, -7, 7, -7]), np.array([2, 2, -2, -2])))
            ],
        ),
        # nnlab's result never requires grad; torch's does but refuses to backpropagate.
        grad=False,
        errors=[
            ErrorCase(
                "int_by_zero",
                (np.array([1, 2]), np.array([0, 1])),
                mentions=("floor_divide", "ZeroDivisionError"),
            )
        ],
    ),
    OpInfo(
        "remainder",
        operator.mod,
        _torch_mod,
        join(
            binary(real, nonzero),
            # the sign of the divisor, as Python (torch.fmod would keep the dividend's)
            fixed("signs", [5.0, -5.0, 5.0, -5.0, 0.5], [3.0, 3.0, -3.0, -3.0, -2.0]),
            fixed("by_zero", [1.0, -1.0, 2.0], [0.0, 0.0, 0.5], gradcheck=False),
            lambda rng: [
                Sample("ints_negative", (np.array([7, -7, 7, -7]), np.array([3, 3, -3, -3])))
            ],
        ),
        errors=[
            ErrorCase(
                "int_by_zero",
                (np.array([1, 2]), np.array([0, 1])),
                mentions=("remainder", "ZeroDivisionError"),
            )
        ],
    ),
    OpInfo(
        "isclose",
        nnlab.isclose,
        torch.isclose,
        lambda rng: [
            Sample(
                "near",
                (np.array([1.0, 1.0, 100.0, 0.0]), Const(np.array([1.0, 1.1, 100.001, 1e-9]))),
            ),
            Sample(
                "tolerances",
                (np.array([1.0, 2.0]), Const(np.array([1.01, 2.5]))),
                {"rtol": 0.0, "atol": 0.05},
            ),
            Sample(
                "inf", (np.array([np.inf, -np.inf, np.inf]), Const(np.array([np.inf, np.inf, 1.0])))
            ),
            Sample("nan", (np.array([np.nan, 1.0]), Const(np.array([np.nan, 1.0])))),
            Sample(
                "equal_nan",
                (np.array([np.nan, 1.0]), Const(np.array([np.nan, 1.0]))),
                {"equal_nan": True},
            ),
            Sample("broadcast", (real(rng, (3, 4)), Const(real(rng, (4,))))),
        ],
        grad=False,
        errors=[
            ErrorCase(
                "dtype_mismatch",
                (np.ones(2), Const(np.ones(2), dtype=np.float64)),
                mentions=("isclose", "float32", "float64"),
            )
        ],
    ),
    OpInfo(
        "all",
        lambda x, **kw: x.all(**kw),
        _torch_all,
        cases(
            lambda rng, shape: np.asarray(mask(rng, *shape) | (rng.random(shape) < 0.5)),
            ("everything", (A(3, 4),)),
            ("dim1", (A(3, 4),), {"dim": 1}),
            ("dim0_keepdim", (A(3, 4),), {"dim": 0, "keepdim": True}),
            ("dims_tuple", (A(2, 3, 4),), {"dim": (0, 2)}),
            ("0d", (A(),)),
            ("all_true", (np.ones((2, 3), dtype=bool),), {"dim": 1}),
            ("float_input", (Const(np.array([[1.5, 0.0], [2.0, -1.0]])),), {"dim": 1}),
        ),
        grad=False,
        errors=_dim_error("all"),
    ),
    OpInfo(
        "any",
        lambda x, **kw: x.any(**kw),
        _torch_any,
        cases(
            lambda rng, shape: np.asarray(mask(rng, *shape) & (rng.random(shape) < 0.5)),
            ("everything", (A(3, 4),)),
            ("dim1", (A(3, 4),), {"dim": 1}),
            ("dim0_keepdim", (A(3, 4),), {"dim": 0, "keepdim": True}),
            ("dims_tuple", (A(2, 3, 4),), {"dim": (0, 2)}),
            ("all_false", (np.zeros((2, 3), dtype=bool),), {"dim": 1}),
            ("float_input", (Const(np.array([[1.5, 0.0], [0.0, 0.0]])),), {"dim": 1}),
        ),
        grad=False,
        errors=_dim_error("any"),
    ),
]

ROUNDING = [
    OpInfo(
        name,
        fn,
        tfn,
        # zero gradient everywhere the derivative exists; halves and integers sit on the
        # jumps, so finite differences skip them
        join(unary(real), int_input, fixed("halves_and_integers", HALVES, gradcheck=False)),
    )
    for name, fn, tfn in [
        ("floor", nnlab.floor, torch.floor),
        ("ceil", nnlab.ceil, torch.ceil),
        ("trunc", nnlab.trunc, torch.trunc),
        ("round", nnlab.round, torch.round),
    ]
] + [
    OpInfo(
        "round.decimals",
        nnlab.round,
        torch.round,
        cases(
            real,
            ("decimals2", (A(3, 4),), {"decimals": 2}),
            ("decimals1_0d", (A(),), {"decimals": 1}),
            ("negative_decimals", (A(2, 5, domain=large_normal),), {"decimals": -2}),
        ),
    ),
]

NORM_CASES = [
    ("all", (A(3, 4),)),
    ("all_keepdim", (A(3, 4),), {"dim": None, "keepdim": True}),
    ("0d", (A(),)),
    ("dim1", (A(3, 4),), {"dim": 1}),
    ("dim_neg_keepdim", (A(2, 3, 4),), {"dim": -1, "keepdim": True}),
    ("dims_tuple", (A(2, 3, 4),), {"dim": (0, 2)}),
    ("vector_odd", (A(7),), {"dim": 0}),
    ("size1_dim", (A(3, 1),), {"dim": 1}),
    ("transposed", (A.t(5, 3),), {"dim": 1}),
    ("strided", (A.s(6, 7),), {"dim": 0}),
    ("large_magnitude", (A(3, 4, domain=large_normal),), {"dim": 1}),
]


def _norm_p(p: Any, *specs: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [(f"p{p}_{name}", args, {**kw, "p": p}, *flags) for name, args, kw, *flags in specs]


def _no_torch_dtype(fn: Any) -> Any:
    """nnlab's dtype arguments are NumPy dtypes: map the torch one of a shared sample."""
    table = {torch.float64: np.float64, torch.float32: np.float32}

    def call(*args: Any, **kwargs: Any) -> Any:
        if "dtype" in kwargs:
            kwargs["dtype"] = table[kwargs["dtype"]]
        return fn(*args, **kwargs)

    return call


NORMS = [
    OpInfo(
        "norm",
        nnlab.norm,
        torch.norm,
        join(
            cases(nonzero, *NORM_CASES),
            cases(
                nonzero,
                ("fro_explicit", (A(3, 4),), {"p": "fro", "dim": (0, 1)}),
                *_norm_p(1, ("all", (A(3, 4),), {}), ("dim0", (A(3, 4),), {"dim": 0})),
                *_norm_p(3, ("all", (A(3, 4),), {}), ("dim1", (A(3, 4),), {"dim": 1})),
                *_norm_p(1.5, ("dim1", (A(3, 4),), {"dim": 1}), ("0d", (A(),), {})),
                *_norm_p(0.5, ("dim1", (A(3, 4),), {"dim": 1}), ("0d", (A(),), {})),
                *_norm_p(
                    -1,
                    ("dim1", (A(3, 4),), {"dim": 1}),
                ),
                *_norm_p(np.inf, ("all", (A(3, 4),), {}), ("dim1", (A(3, 4),), {"dim": 1})),
                *_norm_p(
                    -np.inf,
                    ("dim0", (A(3, 4),), {"dim": 0}),
                ),
                # p = 0 counts non-zeros: its gradient is 0 everywhere
                *_norm_p(
                    0,
                    ("dim1", (A(3, 4),), {"dim": 1}),
                ),
                # |x| ties: the gradient is shared among the tied maxima, with their signs
                *_norm_p(
                    np.inf,
                    ("ties", (A(3, 4, domain=small_ints),), {"dim": 1}, {"gradcheck": False}),
                ),
            ),
            # a zero vector: torch defines the gradient as 0 (for p > 1) instead of 0/0
            fixed(
                "zero_row", [[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]], kwargs={"dim": 1}, gradcheck=False
            ),
            fixed(
                "p3_zero_row", [[0.0, 0.0], [1.0, -2.0]], kwargs={"p": 3, "dim": 1}, gradcheck=False
            ),
            fixed(
                "p0.5_zero_entry",
                [[0.0, 1.5], [1.0, -2.0]],
                kwargs={"p": 0.5, "dim": 1},
                gradcheck=False,
            ),
            fixed("p1_zero_entry", [[0.0, 1.5], [1.0, -2.0]], kwargs={"p": 1}, gradcheck=False),
            fixed(
                "pinf_zero_row",
                [[0.0, 0.0], [1.0, -2.0]],
                kwargs={"p": np.inf, "dim": 1},
                gradcheck=False,
            ),
        ),
        errors=[
            *_dim_error("norm"),
            ErrorCase("int_input", (np.array([1, 2]),), mentions=("vector_norm", "int64")),
        ],
    ),
    OpInfo(
        "vector_norm",
        nnlab.vector_norm,
        torch.linalg.vector_norm,
        cases(
            nonzero,
            ("default", (A(3, 4),)),
            ("ord3_dim", (A(3, 4), 3, 1)),
            ("ord_inf_keepdim", (A(3, 4),), {"ord": np.inf, "dim": 0, "keepdim": True}),
            ("ord1_tuple", (A(2, 3, 4),), {"ord": 1, "dim": (1, 2)}),
        ),
    ),
    OpInfo(
        "cumsum",
        _no_torch_dtype(nnlab.cumsum),
        torch.cumsum,
        join(
            cases(
                real,
                ("dim0", (A(3, 4), 0)),
                ("dim1", (A(3, 4), 1)),
                ("negative_dim", (A(2, 3, 4), -1)),
                ("middle", (A(2, 3, 4), 1)),
                ("vector_odd", (A(7), 0)),
                ("0d", (A(), 0)),
                ("size1_dim", (A(3, 1), 1)),
                ("batch_of_1", (A(1, 5), 0)),
                ("transposed", (A.t(5, 3), 1)),
                ("strided", (A.s(6, 7), 0)),
                ("dtype_float64", (A(3, 4), 1), {"dtype": torch.float64}),
            ),
            lambda rng: [
                Sample("int64_input", (rng.integers(-3, 4, (2, 5)), 1)),
                Sample("bool_input", (mask(rng, 3, 4), 0)),
            ],
        ),
        errors=_dim_error("cumsum"),
    ),
]


# sort/argsort/topk: the values are differentiable through gather. Which of several tied
# elements torch's unstable sort and topk return is unspecified, so tied cases compare the
# values only, except under stable=True, where the order of ties is defined (kept).
SORT_CASES = [
    ("last_dim", (A(3, 4),)),
    ("dim0", (A(3, 4),), {"dim": 0}),
    ("descending", (A(3, 4),), {"descending": True}),
    ("descending_dim0", (A(2, 3, 4),), {"dim": 0, "descending": True}),
    ("middle_dim", (A(2, 3, 4),), {"dim": 1}),
    ("vector_odd", (A(7),)),
    ("0d", (A(),)),
    ("size1_dim", (A(3, 1),), {"dim": 1}),
    ("batch_of_1", (A(1, 5),)),
    ("transposed", (A.t(5, 3),), {"dim": 1}),
    ("strided", (A.s(6, 7),), {"dim": 0}),
]
STABLE_TIES = [
    ("stable_ties", (A(3, 6, domain=small_ints),), {"stable": True}, {"gradcheck": False}),
    (
        "stable_ties_descending",
        (A(4, 5, domain=small_ints),),
        {"dim": 0, "descending": True, "stable": True},
        {"gradcheck": False},
    ),
]
UNSTABLE_TIES = [
    (
        "ties",
        (A(3, 6, domain=small_ints),),
        {},
        {"outputs": (0,), "grad": False, "gradcheck": False},
    ),
]
NAN_CASES = [
    ("nan_ascending", ([[1.0, np.nan, -np.inf, 0.5, np.inf]],), {"stable": True}),
    (
        "nan_descending",
        ([[1.0, np.nan, -np.inf, 0.5, np.inf]],),
        {"descending": True, "stable": True},
    ),
]


def _with_nan(specs: list[tuple[Any, ...]]) -> Any:
    return lambda rng: [
        Sample(name, (np.array(args[0]),), dict(kw), gradcheck=False) for name, args, kw in specs
    ]


TOPK_CASES = [
    ("k2", (A(3, 5), 2)),
    ("k1_dim0", (A(4, 3), 1), {"dim": 0}),
    ("smallest", (A(3, 5), 3), {"largest": False}),
    ("full", (A(2, 4), 4)),
    ("k0", (A(3, 4), 0)),
    ("0d", (A(), 1)),
    ("middle_dim", (A(2, 5, 3), 2), {"dim": 1}),
    ("vector_odd", (A(7), 3)),
    ("transposed", (A.t(5, 3), 2), {"dim": 1}),
    ("strided", (A.s(6, 7), 2), {"dim": 0, "largest": False}),
    (
        "ties",
        (A(3, 6, domain=small_ints), 3),
        {},
        {"outputs": (0,), "grad": False, "gradcheck": False},
    ),
]

SORTING = [
    OpInfo(
        "sort",
        nnlab.sort,
        torch.sort,
        join(cases(distinct, *SORT_CASES, *STABLE_TIES, *UNSTABLE_TIES), _with_nan(NAN_CASES)),
        errors=_dim_error("sort"),
    ),
    OpInfo(
        "argsort",
        nnlab.argsort,
        torch.argsort,
        join(cases(distinct, *SORT_CASES, *STABLE_TIES), _with_nan(NAN_CASES)),
        grad=False,
        errors=_dim_error("argsort"),
    ),
    OpInfo(
        "topk",
        nnlab.topk,
        torch.topk,
        cases(distinct, *TOPK_CASES),
        errors=[
            ErrorCase("k_too_large", (np.ones((2, 3)), 4), mentions=("topk", "4", "(2, 3)")),
            ErrorCase("dim_out_of_range", (np.ones((2, 3)), 1), {"dim": 2}, mentions=("topk", "2")),
        ],
    ),
]

# F.normalize and F.cosine_similarity are composed (norm, clamp, division): the table checks
# the composition against torch, tiny and zero vectors included.
VECTOR = [
    OpInfo(
        "normalize",
        F.normalize,
        TF.normalize,
        join(
            cases(
                real,
                ("default", (A(3, 4),)),
                ("dim0", (A(3, 4),), {"dim": 0}),
                ("p1", (A(3, 4),), {"p": 1.0}),
                ("p3_last", (A(2, 3, 4),), {"p": 3.0, "dim": -1}),
                ("vector", (A(5),), {"dim": 0}),
                ("batch_of_1", (A(1, 4),)),
                ("transposed", (A.t(5, 3),)),
            ),
            fixed("zero_row", [[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]], gradcheck=False),
            fixed("eps_clamps", [[1e-13, -2e-13], [1.0, 0.5]], gradcheck=False),
        ),
    ),
    OpInfo(
        "cosine_similarity",
        F.cosine_similarity,
        TF.cosine_similarity,
        join(
            cases(
                real,
                ("default", (A(3, 4), A(3, 4))),
                ("dim0", (A(3, 4), A(3, 4)), {"dim": 0}),
                ("broadcast", (A(1, 4), A(3, 4))),
                ("broadcast_rank", (A(4), A(2, 4)), {"dim": -1}),
                ("3d", (A(2, 3, 4), A(2, 3, 4)), {"dim": 2}),
                ("const_other", (A(3, 4), Const(A(3, 4)))),
                ("transposed", (A.t(5, 3), A(3, 5))),
            ),
            fixed(
                "zero_row",
                [[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]],
                [[1.0, 2.0, 3.0], [0.5, 0.5, 1.0]],
                gradcheck=False,
            ),
            # norms below eps: the value uses eps, the gradient passes through the norm
            fixed(
                "tiny_norm",
                [[1e-9, -2e-9, 5e-10], [1.0, 0.5, 0.0]],
                [[1.0, 2.0, 3.0], [0.5, 0.5, 1.0]],
                gradcheck=False,
            ),
        ),
        errors=[
            ErrorCase(
                "incompatible_broadcast",
                (np.ones((2, 3)), np.ones((2, 4))),
                mentions=("cosine_similarity", "(2, 3)", "(2, 4)"),
            )
        ],
    ),
]

# Ops that scripts written for PyTorch reach for: index notation, triangles, tiling.
TORCH_SURFACE = [
    OpInfo(
        "einsum",
        nnlab.einsum,
        torch.einsum,
        cases(
            real,
            ("matmul", ("ij,jk->ik", A(3, 4), A(4, 5))),
            ("batched", ("bij,bjk->bik", A(2, 3, 4), A(2, 4, 2))),
            ("outer", ("i,j->ij", A(3), A(4))),
            ("dot", ("i,i->", A(5), A(5))),
            ("transpose", ("ij->ji", A(3, 4))),
            ("trace", ("ii->", A(4, 4))),
            ("diagonal", ("ii->i", A(4, 4))),
            ("sum_private_axis", ("ij,j->j", A(3, 4), A(4))),
            ("implicit_output", ("ij,jk", A(3, 4), A(4, 2))),
            ("ellipsis", ("...ij,...jk->...ik", A(2, 3, 4), A(2, 4, 5))),
            ("ellipsis_broadcast", ("...ij,jk->...ik", A(2, 2, 3, 4), A(4, 3))),
            ("size1_broadcast", ("bij,bjk->bik", A(1, 3, 4), A(2, 4, 2))),
            ("three_operands", ("ij,jk,kl->il", A(2, 3), A(3, 4), A(4, 2))),
            ("attention_scores", ("bhqd,bhkd->bhqk", A(1, 2, 3, 4), A(1, 2, 5, 4))),
            ("transposed", ("ij,jk->ik", A.t(4, 3), A(4, 2))),
            ("list_form", ("ij,jk->ik", [A(2, 3), A(3, 2)])),
        ),
        errors=[
            ErrorCase(
                "wrong_rank",
                ("ij,jk->ik", np.ones((2, 3, 4)), np.ones((4, 2))),
                mentions=("einsum", "'ij'"),
                nnlab_exc=ValueError,  # a malformed equation is a bad value
            ),
            ErrorCase(
                "operand_count",
                ("ij,jk->ik", np.ones((2, 3))),
                mentions=("einsum", "2 operands"),
                nnlab_exc=ValueError,
            ),
        ],
    ),
    *(
        OpInfo(
            name,
            getattr(nnlab, name),
            getattr(torch, name),
            cases(
                real,
                ("square", (A(4, 4),)),
                ("wide", (A(3, 5),)),
                ("tall_offset_up", (A(5, 3), 1)),
                ("offset_down", (A(4, 4), -1)),
                ("batched", (A(2, 3, 3),), {"diagonal": 0}),
                ("far_offset", (A(3, 3), 5)),
                ("transposed", (A.t(4, 3),)),
            ),
            errors=[ErrorCase("1d", (np.ones(3),), mentions=(name, "2 dimensions"))],
        )
        for name in ("tril", "triu")
    ),
    OpInfo(
        "repeat",
        lambda x, *sizes: x.repeat(*sizes),
        lambda x, *sizes: x.repeat(*sizes),
        cases(
            real,
            ("rows", (A(2, 3), 2, 1)),
            ("both", (A(2, 3), 2, 3)),
            ("new_leading", (A(3), 2, 2)),
            ("zero", (A(2, 3), 0, 1)),
            ("0d", (A(), 3)),
            ("tuple", (A(2, 2), (1, 2))),
            ("transposed", (A.t(3, 2), 2, 1)),
        ),
        errors=[ErrorCase("too_few", (np.ones((2, 3)), 2), mentions=("repeat", "2"))],
    ),
    OpInfo(
        "narrow",
        nnlab.narrow,
        torch.narrow,
        cases(
            real,
            ("rows", (A(5, 3), 0, 1, 3)),
            ("cols", (A(3, 5), 1, 2, 2)),
            ("negative_dim", (A(3, 5), -1, 0, 5)),
            ("negative_start", (A(6), 0, -3, 2)),
            ("empty", (A(4, 2), 0, 2, 0)),
            ("strided", (A.s(6, 7), 1, 0, 1)),
        ),
        errors=[ErrorCase("too_long", (np.ones((3, 4)), 1, 2, 3), mentions=("narrow",))],
    ),
]

OPS: list[OpInfo] = [
    *ELEMENTWISE,
    *ACTIVATIONS,
    *SOFTMAX,
    *REDUCTIONS,
    *ARG_REDUCTIONS,
    *COMPARISONS,
    *SHAPE,
    *INDEXING,
    *LINALG,
    *BINARY_EXTRA,
    *ROUNDING,
    *NORMS,
    *SORTING,
    *VECTOR,
    *TORCH_SURFACE,
    *LOSSES,
]
OPS_BY_NAME = {op.name: op for op in OPS}
assert len(OPS_BY_NAME) == len(OPS), "op names must be unique"
