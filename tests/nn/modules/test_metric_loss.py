"""NT-Xent (``nnlab.nn.modules.metric_loss``) against a torch implementation written here,
the usual SimCLR one: cross-entropy over cosine-similarity logits of the 2N views, with the
self-similarity masked to -inf and the other view as the target. Values and gradients in
float32 and float64 (float32 within a wider tolerance, see NT_XENT_TOL), float64 gradcheck,
the loss's properties, and the errors.

The contrastive loss of Siamese networks (``nnlab.nn.ContrastiveLoss``) is tested with the
other margin losses in ``tests/ops/test_losses_parity.py`` and ``test_losses_gradcheck.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from parity import DTYPES, TOLERANCES, Tol, assert_close, rng_for

import nnlab
from nnlab.autograd import gradcheck
from nnlab.nn.modules.metric_loss import NTXentLoss, nt_xent_loss

REDUCTIONS = ("mean", "sum", "none")

# float32: logits up to 1/τ = 14 and gradients that are differences of softmax-weighted
# sums lose a few more digits than one op does; float64 keeps the parity tolerance.
NT_XENT_TOL = {**TOLERANCES, np.dtype(np.float32): Tol(rtol=1e-4, atol=1e-5)}


def torch_nt_xent(z1: torch.Tensor, z2: torch.Tensor, tau: float, reduction: str) -> torch.Tensor:
    """SimCLR's loss as usually written in torch: a (2N, 2N) logit matrix with -inf on the
    diagonal, and row i's target the other view of the same example."""
    n = z1.shape[0]
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    logits = (z @ z.T / tau).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    target = (torch.arange(2 * n) + n) % (2 * n)
    return torch.nn.functional.cross_entropy(logits, target, reduction=reduction)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("n", "d", "tau"), [(5, 3, 0.5), (1, 4, 0.5), (8, 2, 0.07)])
def test_nt_xent_matches_torch(n: int, d: int, tau: float, dtype: np.dtype, reduction: str):
    rng = rng_for("nt_xent", str(n), str(d), str(tau))
    a, b = (rng.standard_normal((n, d)).astype(dtype) for _ in range(2))
    upstream = rng.standard_normal(2 * n if reduction == "none" else ()).astype(dtype)

    x1, x2 = nnlab.tensor(a, requires_grad=True), nnlab.tensor(b, requires_grad=True)
    out = NTXentLoss(temperature=tau, reduction=reduction)(x1, x2)
    out.backward(nnlab.tensor(upstream))

    t1, t2 = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    expected = torch_nt_xent(t1, t2, tau, reduction)
    expected.backward(torch.tensor(upstream))

    tol = NT_XENT_TOL[dtype]
    assert_close(out.array, expected.detach().numpy(), tol, f"nt_xent {reduction}")
    assert_close(x1.grad.array, t1.grad.numpy(), tol, "nt_xent grad input1")
    assert_close(x2.grad.array, t2.grad.numpy(), tol, "nt_xent grad input2")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nt_xent_gradcheck(reduction: str):
    rng = rng_for("nt_xent_gradcheck", reduction)
    a, b = (
        nnlab.tensor(rng.standard_normal((3, 4)), dtype=nnlab.float64, requires_grad=True)
        for _ in range(2)
    )

    def loss(u, v):
        return nt_xent_loss(u, v, temperature=0.3, reduction=reduction)

    # first derivatives only: the fused cross-entropy has no double backward
    assert gradcheck(loss, [a, b])


def test_nt_xent_properties():
    rng = rng_for("nt_xent_properties")
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 3))
    base = nt_xent_loss(nnlab.tensor(a), nnlab.tensor(b)).item()
    # the cosine ignores each embedding's length ...
    scales = rng.uniform(0.1, 10.0, (6, 1))
    assert nt_xent_loss(nnlab.tensor(a * scales), nnlab.tensor(b)).item() == pytest.approx(base)
    # ... and the loss treats the two views alike
    assert nt_xent_loss(nnlab.tensor(b), nnlab.tensor(a)).item() == pytest.approx(base)
    # identical views, the examples orthogonal: every term is ln(1 + (2N - 2)·e^(-1/τ))
    eye = np.eye(3)
    tau = 0.2
    expected = np.log(1 + 4 * np.exp(-1 / tau))
    loss = nt_xent_loss(nnlab.tensor(eye), nnlab.tensor(eye), tau, reduction="none")
    np.testing.assert_allclose(loss.array, np.full(6, expected), rtol=1e-12)
    # one example: its only other view is its positive, the loss is 0
    assert nt_xent_loss(nnlab.tensor(a[:1]), nnlab.tensor(b[:1])).item() == 0.0


def test_nt_xent_repr():
    assert repr(NTXentLoss()) == "NTXentLoss(temperature=0.5, reduction='mean')"


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: nt_xent_loss(nnlab.ones(4, 3), nnlab.ones(5, 3)), ValueError, "(4, 3)"),
        (lambda: nt_xent_loss(nnlab.ones(4), nnlab.ones(4)), ValueError, "(N, D)"),
        (lambda: nt_xent_loss(nnlab.ones(2, 3), nnlab.ones(2, 3), 0.0), ValueError, "temper"),
        (lambda: nt_xent_loss(np.ones((2, 3)), nnlab.ones(2, 3)), TypeError, "ndarray"),
        (
            lambda: nt_xent_loss(nnlab.tensor([[1, 2]]), nnlab.tensor([[1, 2]])),
            TypeError,
            "floating",
        ),
        (lambda: NTXentLoss(temperature=-1.0), ValueError, "NTXentLoss"),
        (lambda: NTXentLoss(reduction="avg"), ValueError, "avg"),
    ],
    ids=["shapes", "one_dim", "temperature", "numpy", "integer", "module_temperature", "red"],
)
def test_nt_xent_errors(call, error, words):
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        call()
