"""Finite-difference checks that only losses need, in float64 with torch's defaults (eps 1e-6,
atol 1e-5, rtol 1e-3): the nnlab-only losses, and the composed twins of the fused ops, which
support ``create_graph`` as the fused ones do. Every sample
of ``loss_db`` runs through ``gradcheck`` and ``gradgradcheck`` with the ops, in
``test_ops_gradcheck`` (``loss_db`` is a section of ``op_db``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from loss_db import REDUCTIONS
from parity import Const, rng_for

import nnlab
import nnlab.nn.functional as F
from nnlab.autograd import gradcheck, gradgradcheck
from nnlab.ops.cross_entropy import cross_entropy_composed
from nnlab.ops.loss import binary_cross_entropy_with_logits_composed

F64 = np.dtype(np.float64)


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
