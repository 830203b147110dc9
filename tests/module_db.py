"""The module table of the parity harness: one :class:`parity.ModuleCase` per layer case.

Each entry builds a layer in nnlab and in torch (the same constructor arguments), names the
input shapes of each run and the mode; ``parity.check_module_case`` builds both (torch
first, seeded), loads torch's ``state_dict`` into the nnlab twin, runs both on the same
seeded inputs in float32 and float64, and compares every output and the gradient of every
input and of every parameter (by ``state_dict`` name). Adding a layer means adding an entry;
``tests/nn/modules/test_layers.py`` runs every entry (values, gradients, repr).
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from parity import ModuleCase, module_tolerance, rng_for, to_lib

from nnlab import nn

__all__ = ["ATTENTION", "LAYERS", "MODULES", "MhaCase"]


def _one(*shapes: tuple[int, ...]) -> list[tuple[tuple[int, ...], ...]]:
    """Runs of a one-input layer, one per shape."""
    return [(s,) for s in shapes]


T = torch.nn

#: Layers whose forward takes its inputs positionally (N(0, 1) arrays of the given shapes).
LAYERS = [
    ModuleCase("Linear", lambda: nn.Linear(7, 5), lambda: T.Linear(7, 5),
              _one((4, 7), (1, 7), (7,), (3, 2, 7), (2, 1, 3, 7))),
    ModuleCase("Linear-no-bias", lambda: nn.Linear(7, 3, bias=False),
              lambda: T.Linear(7, 3, bias=False), _one((5, 7), (1, 7))),
    ModuleCase("Linear-1x1", lambda: nn.Linear(1, 1), lambda: T.Linear(1, 1), _one((3, 1))),
    ModuleCase("Linear-wide", lambda: nn.Linear(33, 65), lambda: T.Linear(33, 65), _one((9, 33))),
    ModuleCase("Bilinear", lambda: nn.Bilinear(3, 4, 5), lambda: T.Bilinear(3, 4, 5),
              [((6, 3), (6, 4)), ((1, 3), (1, 4)), ((2, 3, 3), (2, 3, 4))]),
    ModuleCase("Bilinear-no-bias", lambda: nn.Bilinear(2, 3, 1, bias=False),
              lambda: T.Bilinear(2, 3, 1, bias=False), [((4, 2), (4, 3))]),
    ModuleCase("Identity", lambda: nn.Identity(3, k=1), lambda: T.Identity(3, k=1),
              _one((2, 3), (1,))),
    ModuleCase("Flatten", lambda: nn.Flatten(), lambda: T.Flatten(), _one((2, 3, 4, 5), (1, 3))),
    ModuleCase("Flatten-0", lambda: nn.Flatten(0, -1), lambda: T.Flatten(0, -1), _one((2, 3))),
    ModuleCase("Flatten-1-2", lambda: nn.Flatten(1, 2), lambda: T.Flatten(1, 2),
              _one((2, 3, 4, 5))),
    ModuleCase("Unflatten", lambda: nn.Unflatten(1, (2, 3)), lambda: T.Unflatten(1, (2, 3)),
              _one((4, 6), (1, 6, 2))),
    ModuleCase("Unflatten-infer", lambda: nn.Unflatten(-1, (2, -1)),
              lambda: T.Unflatten(-1, (2, -1)), _one((3, 8))),
    ModuleCase("Sigmoid", nn.Sigmoid, T.Sigmoid, _one((3, 5), (7,))),
    ModuleCase("Tanh", nn.Tanh, T.Tanh, _one((3, 5))),
    ModuleCase("ReLU", nn.ReLU, T.ReLU, _one((3, 5), (1, 1))),
    ModuleCase("LeakyReLU", lambda: nn.LeakyReLU(0.2), lambda: T.LeakyReLU(0.2), _one((4, 3))),
    ModuleCase("ELU", lambda: nn.ELU(0.7), lambda: T.ELU(0.7), _one((4, 3))),
    ModuleCase("GELU", nn.GELU, T.GELU, _one((4, 3))),
    ModuleCase("GELU-tanh", lambda: nn.GELU("tanh"), lambda: T.GELU("tanh"), _one((4, 3))),
    ModuleCase("SiLU", nn.SiLU, T.SiLU, _one((4, 3))),
    ModuleCase("Softplus", lambda: nn.Softplus(2.0, 3.0), lambda: T.Softplus(2.0, 3.0),
              _one((4, 3))),
    ModuleCase("Softmax", lambda: nn.Softmax(dim=1), lambda: T.Softmax(dim=1), _one((4, 5))),
    ModuleCase("Softmax-last", lambda: nn.Softmax(-1), lambda: T.Softmax(-1), _one((2, 3, 4))),
    ModuleCase("LogSoftmax", lambda: nn.LogSoftmax(dim=1), lambda: T.LogSoftmax(dim=1),
              _one((4, 5), (1, 1))),
    ModuleCase("Dropout-eval", lambda: nn.Dropout(0.3), lambda: T.Dropout(0.3),
              _one((4, 5)), train=False),
    ModuleCase("Sequential",
              lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.Tanh(), nn.Linear(6, 2)),
              lambda: T.Sequential(T.Flatten(), T.Linear(12, 6), T.Tanh(), T.Linear(6, 2)),
              _one((5, 3, 4), (1, 3, 4))),
    ModuleCase("Sequential-dict",
              lambda: nn.Sequential(OrderedDict(fc=nn.Linear(3, 4), act=nn.GELU(),
                                                out=nn.Linear(4, 1))),
              lambda: T.Sequential(OrderedDict(fc=T.Linear(3, 4), act=T.GELU(),
                                               out=T.Linear(4, 1))),
              _one((6, 3))),
    ModuleCase("MLP", lambda: nn.MLP(5, [8, 6], 3, activation="silu", norm="layer"),
              lambda: T.Sequential(T.Linear(5, 8), T.LayerNorm(8), T.SiLU(), T.Linear(8, 6),
                                   T.LayerNorm(6), T.SiLU(), T.Linear(6, 3)),
              _one((4, 5), (1, 5))),
]  # fmt: skip


# -- attention: masks and forward flags ----------------------------------------------------


@dataclass
class MhaCase:
    name: str
    ctor: dict[str, Any]
    L: int = 4
    S: int = 4
    N: int | None = 3  # None: unbatched input
    self_attn: bool = True
    kv_same: bool = False  # key is value (but not query)
    kpm: str | None = None  # "bool" or "float"
    attn_mask: str | None = None  # "bool2d", "float2d", "bool3d", "float3d", "causal"
    fwd: dict[str, Any] = field(default_factory=dict)


E, H = 8, 2
_MHA = [
    MhaCase("self", dict(embed_dim=E, num_heads=H)),
    MhaCase("self-batch-first", dict(embed_dim=E, num_heads=H, batch_first=True)),
    MhaCase("batch-1", dict(embed_dim=E, num_heads=H), N=1),
    MhaCase("unbatched", dict(embed_dim=E, num_heads=H, batch_first=True), N=None),
    MhaCase("cross-T!=S", dict(embed_dim=E, num_heads=H), L=3, S=6, self_attn=False),
    MhaCase("cross-key-is-value", dict(embed_dim=E, num_heads=H, batch_first=True), L=3, S=5,
            self_attn=False, kv_same=True),
    MhaCase("kdim-vdim", dict(embed_dim=E, num_heads=H, kdim=5, vdim=3), L=3, S=6,
            self_attn=False),
    MhaCase("no-bias", dict(embed_dim=E, num_heads=4, bias=False), self_attn=False, S=5),
    MhaCase("one-head", dict(embed_dim=E, num_heads=1, batch_first=True)),
    MhaCase("key-padding-bool", dict(embed_dim=E, num_heads=H), S=5, self_attn=False,
            kpm="bool"),
    MhaCase("key-padding-float", dict(embed_dim=E, num_heads=H, batch_first=True),
            kpm="float"),
    MhaCase("attn-mask-bool-2d", dict(embed_dim=E, num_heads=H), attn_mask="bool2d"),
    MhaCase("attn-mask-float-3d", dict(embed_dim=E, num_heads=H, batch_first=True), L=3, S=5,
            self_attn=False, attn_mask="float3d"),
    MhaCase("both-masks", dict(embed_dim=E, num_heads=H), L=3, S=5, self_attn=False,
            kpm="bool", attn_mask="bool3d"),
    MhaCase("both-masks-float", dict(embed_dim=E, num_heads=H, batch_first=True),
            kpm="float", attn_mask="float2d"),
    MhaCase("need-weights-false", dict(embed_dim=E, num_heads=H), kpm="bool",
            attn_mask="bool2d", fwd=dict(need_weights=False)),
    MhaCase("per-head-weights", dict(embed_dim=E, num_heads=H), L=3, S=5, self_attn=False,
            kpm="bool", fwd=dict(average_attn_weights=False)),
    MhaCase("causal", dict(embed_dim=E, num_heads=H, batch_first=True), attn_mask="causal",
            fwd=dict(is_causal=True, need_weights=False)),
    MhaCase("causal-with-weights", dict(embed_dim=E, num_heads=H), attn_mask="causal",
            kpm="bool", fwd=dict(is_causal=True)),
    MhaCase("unbatched-masks", dict(embed_dim=E, num_heads=H), N=None, L=3, S=5,
            self_attn=False, kpm="bool", attn_mask="float3d"),
    MhaCase("bias-kv-zero-attn", dict(embed_dim=E, num_heads=H, add_bias_kv=True,
                                      add_zero_attn=True), L=3, S=5, self_attn=False,
            kpm="bool", attn_mask="bool2d"),
    MhaCase("bias-kv-self", dict(embed_dim=E, num_heads=H, add_bias_kv=True, batch_first=True),
            fwd=dict(need_weights=False)),
]  # fmt: skip


def _masks(case: MhaCase) -> tuple[Any, Any]:
    rng = rng_for("mha-masks", case.name)
    n, heads = case.N or 1, case.ctor["num_heads"]
    kpm = am = None
    if case.kpm:
        kpm = rng.random((n, case.S)) < 0.3
        kpm[:, 0] = False  # every query keeps at least one key
        if case.kpm == "float":
            kpm = np.where(kpm, -np.inf, rng.standard_normal(kpm.shape))
        if case.N is None:
            kpm = kpm[0]
    if case.attn_mask == "causal":
        am = np.triu(np.ones((case.L, case.S), bool), 1)
    elif case.attn_mask:
        shape = (case.L, case.S) if "2d" in case.attn_mask else (n * heads, case.L, case.S)
        am = rng.random(shape) < 0.3
        am[..., 0] = False
        if "float" in case.attn_mask:
            am = np.where(am, -np.inf, rng.standard_normal(shape))
    return kpm, am


def _inputs(case: MhaCase) -> list[np.ndarray]:
    rng = rng_for("mha", case.name)
    kdim = case.ctor.get("kdim") or case.ctor["embed_dim"]
    vdim = case.ctor.get("vdim") or case.ctor["embed_dim"]
    bf = case.ctor.get("batch_first", False)

    def shape(length: int, d: int) -> tuple[int, ...]:
        if case.N is None:
            return (length, d)
        return (case.N, length, d) if bf else (length, case.N, d)

    arrays = [rng.standard_normal(shape(case.L, case.ctor["embed_dim"]))]
    if not case.self_attn:
        arrays.append(rng.standard_normal(shape(case.S, kdim)))
        if not case.kv_same:
            arrays.append(rng.standard_normal(shape(case.S, vdim)))
    return arrays


def _forward(case: MhaCase) -> Any:
    kpm, am = _masks(case)

    def forward(module: Any, xs: list[Any], lib: Any) -> Any:
        q = xs[0]
        k = q if case.self_attn else xs[1]
        v = k if (case.self_attn or case.kv_same) else xs[2]
        dtype = np.float64 if q.dtype in (torch.float64, np.float64) else np.float32
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: mismatched kpm/attn_mask types
            return module(q, k, v, key_padding_mask=to_lib(kpm, lib, dtype),
                          attn_mask=to_lib(am, lib, dtype), **case.fwd)  # fmt: skip

    return forward


def _mha(case: MhaCase) -> ModuleCase:
    """The table entry of a MultiheadAttention case; a long-sum layer, so float32 compares
    with ``parity.module_tolerance``."""
    shapes = tuple(a.shape for a in _inputs(case))
    return ModuleCase(
        case.name,
        lambda: nn.MultiheadAttention(**case.ctor),
        lambda: T.MultiheadAttention(**case.ctor),
        [shapes],
        forward=_forward(case),
        inputs=lambda rng, shapes: _inputs(case),
        tol=module_tolerance,
    )


ATTENTION = [_mha(c) for c in _MHA]

#: The whole table.
MODULES = LAYERS + ATTENTION
