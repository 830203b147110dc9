"""Input domains and sample families for the op table (``op_db``).

A *domain* draws float64 values for a shape from a seeded generator (``real``,
``positive``...); :class:`A` is a placeholder for such an array in a case spec, drawn when
the samples are built. The families give every op the same edge cases: 0-d tensors, odd
sizes, size-1 dims, a batch of 1, broadcasting, Python scalars, integer operands and
non-contiguous inputs (a transposed view, a strided slice).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
from parity import Const, Sample, View

__all__ = [
    "LARGE", "REDUCE", "TAIL", "A", "Domain", "Rng", "above_minus_one", "binary", "cases",
    "distinct", "fixed", "int_input", "join", "large_normal", "mask", "nonzero", "positive",
    "real", "reduce_specs", "small_ints", "split_last", "strided", "transposed", "unary",
    "with_neg_inf",
]  # fmt: skip

Rng = np.random.Generator
Domain = Callable[[Rng, tuple[int, ...]], np.ndarray]


# -- input domains ------------------------------------------------------------------------


# Domains return arrays even for shape (): arithmetic on a 0-d array gives a NumPy scalar,
# which would reach the ops as a Python number instead of a 0-d tensor.


def real(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape) * 1.5)


def positive(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """For log, sqrt, pow bases: bounded away from 0, where derivatives blow up."""
    return np.asarray(rng.uniform(0.3, 3.0, shape))


def above_minus_one(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(rng.uniform(-0.7, 3.0, shape))


def nonzero(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """Away from 0 (kinks of abs/relu, poles of division): |x| in [0.3, 2]."""
    return np.asarray(rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape))


def small_ints(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """Integer-valued floats, exact in every dtype: full of ties."""
    return np.asarray(rng.integers(-2, 3, shape).astype(np.float64))


def distinct(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """Values at least 0.1 apart: a unique max/min along every axis."""
    n = int(np.prod(shape, dtype=np.int64))
    return np.asarray(rng.permutation(n).reshape(shape) * 0.1 - n * 0.05, dtype=np.float64)


def mask(rng: Rng, *shape: int) -> np.ndarray:
    return np.asarray(rng.random(shape) < 0.4)


def with_neg_inf(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    """Masked logits: some -inf, never a whole row (that row's result would be NaN)."""
    x = real(rng, shape)
    x[..., 0] = -np.inf
    x[0, 2] = -np.inf
    return x


def large_normal(rng: Rng, shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape) * 1e4)


def transposed(a: np.ndarray) -> np.ndarray:
    return a.T


def strided(a: np.ndarray) -> np.ndarray:
    return a[::2, 1::3]


def split_last(a: np.ndarray) -> np.ndarray:
    return a[:, ::2]


# -- sample families ----------------------------------------------------------------------


class A:
    """A placeholder for an array drawn when the sample is built: ``A(3, 4)`` is a (3, 4)
    array from the entry's domain; ``A.t(5, 3)`` a transposed view (shape (3, 5));
    ``A.s(6, 7)`` the strided view ``[::2, 1::3]`` (shape (3, 2))."""

    def __init__(self, *shape: int, domain: Domain | None = None, view: Any = None) -> None:
        self.shape, self.domain, self.view = shape, domain, view

    @classmethod
    def t(cls, *shape: int, domain: Domain | None = None) -> A:
        return cls(*shape, domain=domain, view=transposed)

    @classmethod
    def s(cls, *shape: int, domain: Domain | None = None) -> A:
        return cls(*shape, domain=domain, view=strided)

    def draw(self, rng: Rng, default: Domain) -> np.ndarray | View:
        array = (self.domain or default)(rng, self.shape)
        return array if self.view is None else View(array, self.view)


def _fill(value: Any, rng: Rng, domain: Domain) -> Any:
    if isinstance(value, A):
        return value.draw(rng, domain)
    if isinstance(value, Const) and isinstance(value.value, A):
        return replace(value, value=value.value.draw(rng, domain))
    if isinstance(value, list):
        return [_fill(v, rng, domain) for v in value]
    return value


def cases(domain: Domain, *specs: tuple[Any, ...]) -> Callable[[Rng], list[Sample]]:
    """Samples from ``(name, args)``, ``(name, args, kwargs)`` or ``(name, args, kwargs,
    flags)`` specs; every :class:`A` in args and kwargs becomes an array of ``domain``."""

    def build(rng: Rng) -> list[Sample]:
        samples = []
        for name, args, *rest in specs:
            kwargs = rest[0] if rest else {}
            flags = rest[1] if len(rest) > 1 else {}
            samples.append(
                Sample(
                    name,
                    tuple(_fill(a, rng, domain) for a in args),
                    {k: _fill(v, rng, domain) for k, v in kwargs.items()},
                    **flags,
                )
            )
        return samples

    return build


def join(*builders: Callable[[Rng], list[Sample]]) -> Callable[[Rng], list[Sample]]:
    return lambda rng: [s for b in builders for s in b(rng)]


def fixed(name: str, *args: Any, **flags: Any) -> Callable[[Rng], list[Sample]]:
    """One sample with literal inputs (kinks, ties, boundaries, large magnitudes)."""
    kwargs = flags.pop("kwargs", {})
    values = tuple(np.asarray(a, dtype=np.float64) if isinstance(a, list) else a for a in args)
    return lambda rng: [Sample(name, values, dict(kwargs), **flags)]


def unary(domain: Domain, prefix: str = "", **kwargs: Any) -> Callable[[Rng], list[Sample]]:
    """The standard shapes for an elementwise op (optionally with fixed kwargs)."""
    return cases(
        domain,
        *[
            (prefix + name, (a,), kwargs)
            for name, a in [
                ("0d", A()),
                ("vector_odd", A(7)),
                ("matrix", A(3, 5)),
                ("batch_of_1", A(1, 2, 3)),
                ("size1_dims", A(3, 1, 1)),
                ("transposed", A.t(5, 3)),
                ("strided", A.s(6, 7)),
            ]
        ],
    )


def int_input(rng: Rng) -> list[Sample]:
    """An int64 tensor: float functions of it are float32 in torch (values only)."""
    return [Sample("int64_input", (rng.integers(1, 5, (2, 3)),))]


#: Saturating ops meet |x| up to 1e4 (and float32 overflows e^x from x ≈ 89).
LARGE = [-1e4, -200.0, -90.0, -30.0, -5.0, 5.0, 30.0, 90.0, 200.0, 1e4]
#: Where σ(x) is tiny but far from 0 (4e-35 at -80): only relative precision shows errors.
TAIL = [-80.0, -40.0, -20.0, -15.0, -10.0, -5.0]


def binary(
    lhs: Domain, rhs: Domain, scalar: float = 1.75, int_operands: bool = True
) -> Callable[[Rng], list[Sample]]:
    """Shapes for a broadcasting binary op, Python scalars on either side and, with
    ``int_operands``, integer tensors (no gradient: they check type promotion)."""

    def build(rng: Rng) -> list[Sample]:
        a = lambda *shape: lhs(rng, shape)
        b = lambda *shape: rhs(rng, shape)
        samples = [
            Sample("same_shape", (a(3, 4), b(3, 4))),
            Sample("broadcast_both", (a(3, 1), b(1, 4))),
            Sample("broadcast_rank", (a(2, 3, 4), b(4))),
            Sample("0d_rhs", (a(2, 3), b())),
            Sample("0d_lhs", (a(), b(2, 3))),
            Sample("0d_both", (a(), b())),
            Sample("size1_dims", (a(1, 1), b(2, 1, 3))),
            Sample("batch_of_1", (a(1, 3, 2), b(1, 3, 2))),
            Sample("noncontiguous", (View(a(5, 3), transposed), View(b(6, 14), strided))),
            Sample("const_rhs", (a(2, 3), Const(b(2, 3)))),
            Sample("scalar_rhs", (a(2, 3), scalar)),
            Sample("scalar_lhs", (scalar, b(2, 3))),
        ]
        if int_operands:
            ints = rng.integers(1, 4, (2, 3))
            samples += [
                Sample("int_tensor_float_scalar", (ints, scalar)),
                Sample("int_tensor_int_scalar", (ints, 2)),
                Sample("int_tensor_float_tensor", (ints, b(2, 3))),
                Sample("int_tensors", (ints, rng.integers(1, 4, (3,)))),
                Sample("float_tensor_0d_float64", (a(2, 3), Const(b(), dtype=np.float64))),
            ]
        return samples

    return build


REDUCE = [
    ("all", (A(3, 4),)),
    ("all_keepdim", (A(3, 4),), {"dim": None, "keepdim": True}),
    ("0d", (A(),)),
    ("0d_dim0", (A(),), {"dim": 0}),
    ("dim0", (A(3, 4),), {"dim": 0}),
    ("dim_neg_keepdim", (A(2, 3, 4),), {"dim": -1, "keepdim": True}),
    ("dims_tuple", (A(2, 3, 4),), {"dim": (0, 2)}),
    ("dims_tuple_keepdim", (A(2, 3, 4),), {"dim": (0, -1), "keepdim": True}),
    ("vector_odd", (A(7),), {"dim": 0}),
    ("batch_of_1", (A(1, 5),), {"dim": 0}),
    ("size1_dim", (A(3, 1),), {"dim": 1}),
    ("transposed", (A.t(5, 3),), {"dim": 1}),
    ("strided", (A.s(6, 7),), {"dim": 0, "keepdim": True}),
]


def reduce_specs(*drop: str) -> list[tuple[Any, ...]]:
    """The REDUCE cases minus those named."""
    return [s for s in REDUCE if s[0] not in drop]
