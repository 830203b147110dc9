"""Finite-difference checks of every op in ``op_db`` (the losses of ``loss_db`` included), in
float64 with torch's defaults (eps 1e-6, atol 1e-5, rtol 1e-3): ``gradcheck`` for first
derivatives and ``gradgradcheck`` for second derivatives (``create_graph=True``). Ops whose
backward cannot be differentiated (``double_backward = False``) must refuse ``create_graph``
clearly.

The samples are the same as in the parity tests, minus the points where a derivative is
one-sided (kinks, ties, bounds) or finite differences are meaningless (infinite inputs);
those carry ``gradcheck=False`` in the table. Inputs are copied to contiguous memory:
gradcheck perturbs them in place through a flat view.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from op_db import OPS, OPS_BY_NAME
from parity import Inputs, OpInfo, Sample, make_inputs, rng_for

import nnlab
from nnlab.autograd import gradcheck, gradgradcheck

F64 = np.dtype(np.float64)

# gradgradcheck costs about one double-backward per input element per output; beyond this
# many differentiable elements a sample adds time but no coverage the smaller ones lack.
GRADGRAD_MAX_ELEMENTS = 24


def _checked(double: bool) -> list[Any]:
    params = []
    for op in OPS:
        if not op.grad or (double and not op.double_backward):
            continue
        for sample in op.samples(rng_for(op.name)):
            if not (sample.grad and sample.gradcheck):
                continue
            inputs = make_inputs(sample, "nnlab", F64, contiguous=True)
            if not inputs.leaves:
                continue
            if double and sum(t.array.size for t in inputs.leaves) > GRADGRAD_MAX_ELEMENTS:
                continue
            params.append(pytest.param(op, sample, id=f"{op.name}-{sample.name}"))
    return params


def _function(op: OpInfo, inputs: Inputs) -> Any:
    """``op`` as a function of its differentiable inputs only (gradcheck's calling form);
    the other arguments keep the values of the sample."""
    leaves = inputs.leaves

    def substitute(value: Any, xs: tuple[Any, ...]) -> Any:
        if isinstance(value, list):
            return [substitute(v, xs) for v in value]
        for leaf, x in zip(leaves, xs):
            if value is leaf:
                return x
        return value

    def fn(*xs: Any) -> Any:
        args = [substitute(a, xs) for a in inputs.args]
        kwargs = {k: substitute(v, xs) for k, v in inputs.kwargs.items()}
        return op.nnlab(*args, **kwargs)

    return fn


@pytest.mark.parametrize(("op", "sample"), _checked(double=False))
def test_gradcheck(op: OpInfo, sample: Sample) -> None:
    inputs = make_inputs(sample, "nnlab", F64, contiguous=True)
    assert gradcheck(_function(op, inputs), inputs.leaves)


@pytest.mark.parametrize(("op", "sample"), _checked(double=True))
def test_gradgradcheck(op: OpInfo, sample: Sample) -> None:
    inputs = make_inputs(sample, "nnlab", F64, contiguous=True)
    assert gradgradcheck(_function(op, inputs), inputs.leaves)


@pytest.mark.parametrize(
    "op", [op for op in OPS if op.grad and not op.double_backward], ids=lambda op: op.name
)
def test_no_double_backward_raises_clearly(op: OpInfo) -> None:
    """create_graph=True through an op with a NumPy-only backward must fail loudly, naming
    the op, rather than return a silently wrong second derivative."""
    sample = op.samples(rng_for(op.name))[0]
    inputs = make_inputs(sample, "nnlab", F64)
    out = op.nnlab(*inputs.args, **inputs.kwargs)
    with pytest.raises(RuntimeError, match="does not support higher-order gradients"):
        nnlab.autograd.grad(out.sum(), inputs.leaves, create_graph=True)
    # without create_graph the same backward works
    (g,) = nnlab.autograd.grad(op.nnlab(*inputs.args, **inputs.kwargs).sum(), inputs.leaves)
    assert g.shape == inputs.leaves[0].shape


def test_prod_is_the_op_without_double_backward() -> None:
    """Keeps the table honest: a new op that cannot double-backward must say so there."""
    no_double = [op.name for op in OPS if op.grad and not op.double_backward]
    assert no_double == ["prod"]
    assert OPS_BY_NAME["prod"].nnlab is nnlab.prod
