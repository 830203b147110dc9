"""Finite-difference checks of every loss in float64 with torch's defaults (eps 1e-6, atol
1e-5, rtol 1e-3): ``gradcheck`` on every sample of ``loss_db`` (minus the points where a
derivative is one-sided or torch-specific, marked ``gradcheck=False`` there), and
``gradgradcheck`` on the small ones for the losses whose backward is differentiable. The
fused cross-entropy must refuse ``create_graph`` clearly; its composed twin supports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from losses.loss_db import LOSSES, REDUCTIONS
from parity import Const, Inputs, OpInfo, Sample, make_inputs, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab.autograd import gradcheck, gradgradcheck
from nnlab.ops.cross_entropy import cross_entropy_composed
from nnlab.ops.loss import binary_cross_entropy_with_logits_composed

F64 = np.dtype(np.float64)
# gradgradcheck costs about one double backward per input element per output element
GRADGRAD_MAX_ELEMENTS = 24


def _samples(double: bool) -> list[Any]:
    params = []
    for op in LOSSES:
        if double and not op.double_backward:
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
    """``op`` as a function of its differentiable inputs only (gradcheck's calling form)."""

    def fn(*xs: Any) -> Any:
        swap = {id(leaf): x for leaf, x in zip(inputs.leaves, xs)}
        args = [swap.get(id(a), a) for a in inputs.args]
        kwargs = {k: swap.get(id(v), v) for k, v in inputs.kwargs.items()}
        return op.nnlab(*args, **kwargs)

    return fn


@pytest.mark.parametrize(("op", "sample"), _samples(double=False))
def test_gradcheck(op: OpInfo, sample: Sample) -> None:
    inputs = make_inputs(sample, "nnlab", F64, contiguous=True)
    assert gradcheck(_function(op, inputs), inputs.leaves)


@pytest.mark.parametrize(("op", "sample"), _samples(double=True))
def test_gradgradcheck(op: OpInfo, sample: Sample) -> None:
    inputs = make_inputs(sample, "nnlab", F64, contiguous=True)
    assert gradgradcheck(_function(op, inputs), inputs.leaves)


def _x(rng: np.random.Generator, *shape: int) -> nnlab.Tensor:
    return nnlab.tensor(rng.standard_normal(shape), dtype=nnlab.float64, requires_grad=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nnlab_only_losses(reduction: str) -> None:
    rng = rng_for("nnlab_only", reduction)
    x, y = _x(rng, 3, 4), nnlab.tensor(rng.choice([-1, 1], (3, 4)))
    assert gradcheck(lambda t: F.hinge_loss(t, y, margin=0.8, reduction=reduction), [x])
    a, b = _x(rng, 4, 3), _x(rng, 4, 3)
    labels = nnlab.tensor([1, 0, 1, 0])
    contrastive = lambda u, v: F.contrastive_loss(u, v, labels, margin=2.0, reduction=reduction)
    assert gradcheck(contrastive, [a, b])
    assert gradgradcheck(contrastive, [a, b])


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"label_smoothing": 0.2, "weight": [0.5, 1.0, 2.0]}, {"reduction": "none"}],
    ids=["plain", "smoothing_weight", "none"],
)
def test_composed_cross_entropy_twice_differentiable(kwargs: dict[str, Any]) -> None:
    rng = rng_for("composed_ce", str(kwargs))
    x, t = _x(rng, 4, 3), nnlab.tensor([0, 2, -100, 1])
    if "weight" in kwargs:
        kwargs = {**kwargs, "weight": nnlab.tensor(kwargs["weight"], dtype=nnlab.float64)}
    assert gradgradcheck(lambda z: cross_entropy_composed(z, t, **kwargs), [x])
    probs = nnlab.tensor(rng.dirichlet(np.ones(3), 4), requires_grad=True, dtype=nnlab.float64)
    assert gradgradcheck(lambda z, p: cross_entropy_composed(z, p, **kwargs), [x, probs])


def test_composed_bce_with_logits_twice_differentiable() -> None:
    rng = rng_for("composed_bce")
    x, t = _x(rng, 3, 2), nnlab.tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    pw = Const(np.array([0.5, 2.0])).value
    fn = lambda z, y: binary_cross_entropy_with_logits_composed(z, y, pos_weight=pw)
    assert gradgradcheck(fn, [x, t.double()])


def test_fused_cross_entropy_refuses_create_graph() -> None:
    x = nnlab.tensor([[1.0, 2.0, 0.5]], dtype=nnlab.float64, requires_grad=True)
    loss = F.cross_entropy(x, nnlab.tensor([1]))
    with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy.*higher-order"):
        nnlab.autograd.grad(loss, [x], create_graph=True)
