"""Shared oracle helpers of the attention/transformer tests: run an nnlab module and its
torch twin (weights loaded from torch's ``state_dict``) on the same seeded inputs, then
compare every output, the gradient of every input and of every parameter.

Tolerances: float64 agrees to ~1e-10 relative. In float32 an attention output or a
weight gradient is a long sum computed in another order than torch's (oneDNN's blocked
GEMMs, a different softmax reduction), so, as in ``tests/cnn/test_conv.py``, ``tolerance``
keeps rtol 1e-5 and allows atol 1e-5·(largest |element| of the compared array).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from parity import Tol, assert_close, rng_for

import nnlab

DTYPES = (np.float32, np.float64)
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def tolerance(dtype: Any, expected: np.ndarray) -> Tol:
    finite = expected[np.isfinite(expected)] if expected.size else expected
    scale = float(np.abs(finite).max()) if finite.size else 0.0
    if np.dtype(dtype) == np.float64:
        return Tol(rtol=1e-10, atol=max(1e-12, 1e-10 * scale))
    return Tol(rtol=1e-5, atol=max(1e-6, 1e-5 * scale))


def compare(actual: Any, expected: Any, dtype: Any, what: str) -> None:
    e = expected.detach().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    a = np.asarray(actual.array if isinstance(actual, nnlab.Tensor) else actual)
    assert_close(a, e, tolerance(dtype, e), what)


def to_lib(value: Any, lib: Any, dtype: Any, grad: bool = False) -> Any:
    """A NumPy array as a tensor of ``lib`` (floats cast to ``dtype``); None stays None."""
    if value is None or not isinstance(value, np.ndarray):
        return value
    if value.dtype.kind == "f":
        value = value.astype(dtype)
    if lib is torch:
        t = torch.from_numpy(value.copy())
        return t.requires_grad_(True) if grad else t
    return nnlab.tensor(value, requires_grad=grad)


def load_from_torch(ours: Any, theirs: torch.nn.Module) -> None:
    assert list(ours.state_dict()) == list(theirs.state_dict()), (
        f"state_dict keys differ:\n{list(ours.state_dict())}\n{list(theirs.state_dict())}"
    )
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})


def _outputs(out: Any) -> list[Any]:
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check_module(
    label: str,
    build_ours: Callable[[], Any],
    build_theirs: Callable[[], torch.nn.Module],
    inputs: Sequence[np.ndarray],
    forward: Callable[[Any, list[Any], Any], Any],
    dtype: Any,
    train: bool = True,
    backward: bool = True,
) -> None:
    """Build both (torch first, seeded), load torch's weights, run ``forward(module,
    tensors, lib)`` on the same inputs and compare outputs and all gradients.

    ``forward`` returns one tensor or a tuple (None entries must be None in both). The
    upstream gradient of each output is random (seeded by ``label``)."""
    torch.manual_seed(0)
    theirs = build_theirs().to(TORCH_DTYPE[dtype]).train(train)
    ours = build_ours().to(dtype).train(train)
    load_from_torch(ours, theirs)
    xs = [to_lib(a, nnlab, dtype, grad=True) for a in inputs]
    txs = [to_lib(a, torch, dtype, grad=True) for a in inputs]
    out_n, out_t = _outputs(forward(ours, xs, nnlab)), _outputs(forward(theirs, txs, torch))
    assert len(out_n) == len(out_t), label
    rng = rng_for(label, str(np.dtype(dtype)))
    loss_n, loss_t = 0.0, 0.0
    for k, (a, e) in enumerate(zip(out_n, out_t)):
        if e is None:
            assert a is None, f"{label}: output {k} is None in torch only"
            continue
        compare(a, e, dtype, f"{label} {np.dtype(dtype)}: output {k} {tuple(e.shape)}")
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
        compare(x.grad, tx.grad, dtype, f"{label} {np.dtype(dtype)}: grad of input {k}")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        expected = theirs_params[name].grad
        if expected is None:
            assert p.grad is None or not np.any(p.grad.array), f"{label}: grad of {name}"
            continue
        compare(p.grad, expected, dtype, f"{label} {np.dtype(dtype)}: grad of {name}")
