"""Run a recurrent layer in nnlab and in torch on the same weights and inputs, compare all.

Convention (shared by ``test_rnn.py`` and ``test_rnn_packed.py``): the torch layer is
built first (seeded), its ``state_dict`` (NumPy) loads into the nnlab twin, whose keys must
come in torch's order. Both run on the same seeded input and initial states; a random
upstream gradient is applied to the output AND to every final state (h_n, c_n), so every
row of the Jacobian of each output is tested. Compared: output, h_n (c_n), and the
gradients of the input, of the initial states and of every parameter (by name).

Tolerances: ``parity.module_tolerance``. float64 must agree to ``parity.TOLERANCES``. In
float32 an element of a weight gradient is a sum over all steps and batch rows computed in
another order than torch's (and σ is computed as ½(1 + tanh(x/2)) here), so it allows rtol
1e-5 plus atol 1e-5 times the largest |element| of the compared array (the scale of the sum).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from parity import compare_to_torch as compare
from parity import load_from_torch, rng_for

import nnlab
from nnlab import nn
from nnlab.nn.utils import rnn as nn_rnn

TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


def build(kind: str, kwargs: dict[str, Any], dtype: Any) -> tuple[nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    theirs = getattr(torch.nn, kind)(**kwargs).to(TORCH_DTYPE[dtype])
    ours = getattr(nn, kind)(**kwargs).to(dtype)
    load_from_torch(ours, theirs)
    return ours, theirs


def _states(
    kind: str, ours: nn.Module, batch: int | None, rng: np.random.Generator, dtype: Any
) -> list[np.ndarray]:
    n = ours.num_layers * (2 if ours.bidirectional else 1)
    out = ours.proj_size or ours.hidden_size if kind == "LSTM" else ours.hidden_size
    lead = (n,) if batch is None else (n, batch)
    shapes = [lead + (out,)]
    if kind == "LSTM":
        shapes.append(lead + (ours.hidden_size,))
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def check_layer(
    kind: str,
    kwargs: dict[str, Any],
    shape: tuple[int, ...],
    dtype: Any,
    with_state: bool,
    lengths: list[int] | None = None,
    enforce_sorted: bool = True,
    train: bool = False,
) -> None:
    """One layer configuration, one input shape: forward and backward vs torch."""
    # torch's oneDNN path builds kernels per shape (seconds each); its native kernels are
    # the same oracle, and fast for these small sizes.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "TF32 acceleration", UserWarning)
        with torch.backends.mkldnn.flags(enabled=False):
            _check_layer(kind, kwargs, shape, dtype, with_state, lengths, enforce_sorted, train)


def _check_layer(kind, kwargs, shape, dtype, with_state, lengths, enforce_sorted, train) -> None:
    ours, theirs = build(kind, kwargs, dtype)
    ours.train(train)
    theirs.train(train)
    label = f"{kind}{kwargs} x{shape} {np.dtype(dtype)} state={with_state} lengths={lengths}"
    rng = rng_for(label)
    x = rng.standard_normal(shape).astype(dtype)
    batch_first = kwargs.get("batch_first", False)
    batch = None if len(shape) == 2 else shape[0 if batch_first else 1]
    states = _states(kind, ours, batch, rng, dtype) if with_state else []

    xs = [nnlab.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)]
    hs = [[nnlab.tensor(s, requires_grad=True) for s in states],
          [torch.tensor(s, requires_grad=True) for s in states]]  # fmt: skip
    results = []
    for lib, model, xin, h in ((nn_rnn, ours, xs[0], hs[0]),
                               (torch.nn.utils.rnn, theirs, xs[1], hs[1])):  # fmt: skip
        inp = xin
        if lengths is not None:
            inp = lib.pack_padded_sequence(xin, lengths, batch_first, enforce_sorted)
        hx = None if not h else (tuple(h) if kind == "LSTM" else h[0])
        out, final = model(inp, hx)
        if lengths is not None:
            out, out_lengths = lib.pad_packed_sequence(out, batch_first)
            assert np.asarray(out_lengths.tolist()).tolist() == list(lengths), label
        finals = list(final) if kind == "LSTM" else [final]
        results.append([out, *finals])
    names = ["output", "h_n", "c_n"]
    for k, (a, e) in enumerate(zip(*results)):
        compare(a, e, dtype, f"{label}: {names[k]}")
    seeds = [rng.standard_normal(tuple(e.shape)).astype(dtype) for e in results[1]]
    nnlab.autograd.backward(results[0], seeds)
    torch.autograd.backward(results[1], [torch.from_numpy(s) for s in seeds])
    compare(xs[0].grad, xs[1].grad, dtype, f"{label}: grad of input")
    for k, (a, e) in enumerate(zip(*hs)):
        compare(a.grad, e.grad, dtype, f"{label}: grad of initial state {k}")
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        compare(p.grad, theirs_params[name].grad, dtype, f"{label}: grad of {name}")
