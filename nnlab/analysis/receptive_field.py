"""Receptive fields: which input positions can influence one unit of a feature map.

A unit of a convolutional feature map depends only on a window of the input, its
*receptive field*. Walking the layers in order, with per spatial dim

    j  the jump: the distance, in input pixels, between two neighbouring units
       (the product of the strides so far),
    r  the receptive field size, in input pixels,
    s  the start: the input coordinate of the centre of the first unit's field
       (pixel i of the input is centred at i),

a layer with kernel k, stride σ, padding p and dilation δ (a convolution or a pooling)
maps them to (Araujo, Norris and Sim, "Computing Receptive Fields of Convolutional
Neural Networks", Distill 2019)::

    r ← r + (k − 1)·δ·j          j ← j·σ          s ← s + ((k − 1)·δ/2 − p)·j

starting from r = 1, j = 1, s = 0. Pointwise layers (activations, batch norm, dropout,
1×1 convolutions) change nothing; a padding layer only moves s; an upsampling by f and
a transposed convolution with stride σ divide j by f or σ, and add to r the span of the
inputs one output mixes (j for bilinear, (⌈k/σ⌉ − 1)·j for a transposed convolution;
its outputs' fields are not evenly spaced, and s is their average); a layer that pools
or flattens the whole map makes r cover the map: r ← r + (L − 1)·j. The field is
*theoretical*: it may exceed the input (the rest is zero padding), and its centre weighs
much more than its edges (Luo et al. 2016, the "effective" receptive field).

:func:`receptive_field` applies the recurrence to the layers a model really calls, in
call order (it runs one forward pass with hooks, as ``summary``); for a residual block
it follows the main path and skips the shortcut. A module lists the children that are
off its main path in a class attribute ``receptive_field_skip`` (ResNet blocks:
``("downsample",)``). Leaf modules of an unknown type are taken as pointwise when they
keep the spatial size. :func:`empirical_receptive_field` measures the field instead:
it backpropagates from one central output unit and finds the input positions whose
gradient is not zero.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from nnlab import dtypes
from nnlab.autograd.engine import grad as _grad
from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.module import Module
from nnlab.nn.modules import padding as _padding
from nnlab.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from nnlab.nn.modules.linear import Linear
from nnlab.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveAvgPool3d,
    AdaptiveMaxPool1d,
    AdaptiveMaxPool2d,
    AdaptiveMaxPool3d,
    AvgPool1d,
    AvgPool2d,
    AvgPool3d,
    MaxPool1d,
    MaxPool2d,
    MaxPool3d,
)
from nnlab.nn.modules.upsampling import Upsample
from nnlab.tensor import Tensor

__all__ = [
    "receptive_field", "empirical_receptive_field", "ReceptiveField", "ReceptiveFieldRow",
    "EmpiricalReceptiveField",
]  # fmt: skip

_CONVS = (Conv1d, Conv2d, Conv3d)
_TRANSPOSED = (ConvTranspose1d, ConvTranspose2d, ConvTranspose3d)
_MAX_POOLS = (MaxPool1d, MaxPool2d, MaxPool3d)
_AVG_POOLS = (AvgPool1d, AvgPool2d, AvgPool3d)
_ADAPTIVE = (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
             AdaptiveMaxPool2d, AdaptiveMaxPool3d)  # fmt: skip
_PADS = tuple(getattr(_padding, name) for name in _padding.__all__)
_UPSAMPLE_SPAN = {"nearest": 0, "nearest-exact": 0, "linear": 1, "bilinear": 1, "trilinear": 1,
                  "bicubic": 3}  # fmt: skip


@dataclass
class ReceptiveFieldRow:
    """One layer call of the walk, after the layer.

    Attributes:
        path: the module's name in the model ("layer1.0.conv2"), or "input".
        type: its class name.
        channels: channels of the output (dim 1), or None.
        output_size: the output's spatial size, () once the spatial dims are gone.
        kernel, stride, padding, dilation: the layer's geometry per spatial dim (None for
            a layer that maps each position to itself).
        jump: distance in input pixels between neighbouring output units (the cumulative
            stride), per dim; None once the spatial dims are gone.
        rf: receptive field size in input pixels, per dim.
        start: input coordinate of the centre of the first output unit's field, per dim;
            None once the spatial dims are gone.
    """

    path: str
    type: str
    channels: int | None
    output_size: tuple[int, ...]
    kernel: tuple[int, ...] | None
    stride: tuple[int, ...] | None
    padding: tuple[int, ...] | None
    dilation: tuple[int, ...] | None
    jump: tuple[float, ...] | None
    rf: tuple[int, ...]
    start: tuple[float, ...] | None


@dataclass
class ReceptiveField:
    """What :func:`receptive_field` found; ``print(r)`` shows the rows as a table.

    Attributes:
        model_type: the model's class name.
        input_shape: the input shape of the forward pass, batch included.
        rows: one :class:`ReceptiveFieldRow` per layer call, the input first.
    """

    model_type: str
    input_shape: tuple[int, ...]
    rows: list[ReceptiveFieldRow] = field(default_factory=list)

    @property
    def rf(self) -> tuple[int, ...]:
        """The receptive field of the model's output units, per spatial dim."""
        return self.rows[-1].rf

    @property
    def jump(self) -> tuple[float, ...] | None:
        """The jump of the model's output units (None if the output is not spatial)."""
        return self.rows[-1].jump

    def row(self, path: str) -> ReceptiveFieldRow:
        """The (last) row of the module at ``path``."""
        for r in reversed(self.rows):
            if r.path == path:
                return r
        raise KeyError(f"no layer {path!r} on the walk; layers: {[r.path for r in self.rows]}")

    def table(self) -> Any:
        """The rows as a :class:`rich.table.Table`."""
        table = Table(title=f"{self.model_type} receptive field, input {list(self.input_shape)}")
        for name in ("Layer", "Type", "Output", "Kernel", "Stride", "Pad", "Dil.", "Jump",
                     "RF", "Start"):  # fmt: skip
            table.add_column(name, justify="left" if name in ("Layer", "Type") else "right")
        for r in self.rows:
            out = "×".join(str(n) for n in r.output_size) if r.output_size else "-"
            if r.channels is not None:
                out = f"{r.channels} × {out}" if r.output_size else f"{r.channels}"
            table.add_row(
                r.path, r.type, out, _dims(r.kernel), _dims(r.stride), _dims(r.padding),
                _dims(r.dilation), _dims(r.jump), _dims(r.rf), _dims(r.start),
            )  # fmt: skip
        return table

    def __str__(self) -> str:
        buffer = io.StringIO()
        Console(file=buffer, width=120, color_system=None).print(self.table())
        return buffer.getvalue()

    def __repr__(self) -> str:
        return str(self).rstrip("\n")


def _dims(values: Sequence[float] | None) -> str:
    """(5, 5) → "5", (3, 1) → "3×1", 0.5 → "0.5", None → "-"."""
    if values is None:
        return "-"
    text = [str(int(v)) if float(v).is_integer() else f"{v:g}" for v in values]
    return text[0] if len(set(text)) == 1 else "×".join(text)


def _tuple(value: Any, d: int) -> tuple[int, ...]:
    if isinstance(value, (tuple, list)):
        return tuple(int(v) for v in value) if len(value) == d else (int(value[0]),) * d
    return (int(value),) * d


@dataclass
class _State:
    """The recurrence's variables per spatial dim (jump and start None once flattened)."""

    size: tuple[int, ...]
    jump: tuple[float, ...] | None
    rf: tuple[int, ...]
    start: tuple[float, ...] | None


def _windowed(
    state: _State,
    k: Sequence[int],
    s: Sequence[float],
    p: Sequence[int],
    dl: Sequence[int],
    size: tuple[int, ...],
) -> _State:
    """A convolution or pooling: r + (k − 1)·δ·j, j·σ, s + ((k − 1)·δ/2 − p)·j."""
    j, r, st = state.jump, state.rf, state.start
    return _State(
        size,
        tuple(jj * ss for jj, ss in zip(j, s)),
        tuple(int(round(rr + (kk - 1) * dd * jj)) for rr, kk, dd, jj in zip(r, k, dl, j)),
        tuple(t + ((kk - 1) * dd / 2 - pp) * jj for t, kk, dd, pp, jj in zip(st, k, dl, p, j)),
    )


def _transposed_span(k: int, s: int, p: int, dl: int) -> int:
    """How far apart (in input units) the inputs mixed into one output can lie, at most:
    output o receives input i through tap κ when o = i·s − p + κ·δ."""
    span = 0
    for o in range(s):
        taps = [(o + p - kappa * dl) // s for kappa in range(k) if (o + p - kappa * dl) % s == 0]
        if taps:
            span = max(span, max(taps) - min(taps))
    return span


def _collapse(state: _State) -> _State:
    """Every position of the map feeds every output (flatten, global pooling, Linear)."""
    if state.jump is None:
        return state
    rf = tuple(int(round(r + (n - 1) * j)) for r, n, j in zip(state.rf, state.size, state.jump))
    return _State((), None, rf, None)


def _step(
    module: Module, state: _State, in_size: tuple[int, ...], out: Tensor, d: int, path: str
) -> tuple[_State, tuple[Any, Any, Any, Any]]:
    """The state after ``module``, and its geometry (kernel, stride, padding, dilation)."""
    out_spatial = out.ndim == d + 2
    out_size = tuple(out.shape[2:]) if out_spatial else ()
    none = (None, None, None, None)
    if state.jump is None:
        return state, none
    if isinstance(module, Linear) or not out_spatial:
        return _collapse(state), none
    if isinstance(module, _CONVS):
        flat = module._reversed_padding_repeated_twice
        pads = tuple(flat[2 * (d - 1 - i)] for i in range(d))
        geometry = (module.kernel_size, module.stride, pads, module.dilation)
        return _windowed(state, *geometry, out_size), geometry
    if isinstance(module, (*_MAX_POOLS, *_AVG_POOLS)):
        k = _tuple(module.kernel_size, d)
        s = _tuple(module.stride, d)
        p = _tuple(module.padding, d)
        dl = _tuple(getattr(module, "dilation", 1), d)
        return _windowed(state, k, s, p, dl, out_size), (k, s, p, dl)
    if isinstance(module, _ADAPTIVE):
        # torch's windows: cell i covers [⌊iL/O⌋, ⌈(i+1)L/O⌉); stride L/O, largest window k
        k = tuple(max(-(-(i + 1) * n // o) - (i * n // o) for i in range(o))
                  for n, o in zip(in_size, out_size))  # fmt: skip
        s = tuple(n / o for n, o in zip(in_size, out_size))
        new = _windowed(state, k, s, (0,) * d, (1,) * d, out_size)
        stride = tuple(int(v) if float(v).is_integer() else v for v in s)
        return new, (k, stride, (0,) * d, (1,) * d)
    if isinstance(module, _TRANSPOSED):
        k, s, p, dl = module.kernel_size, module.stride, module.padding, module.dilation
        spans = [_transposed_span(*g) for g in zip(k, s, p, dl)]
        j = state.jump
        new = _State(
            out_size,
            tuple(jj / ss for jj, ss in zip(j, s)),
            tuple(int(round(r + n * jj)) for r, n, jj in zip(state.rf, spans, j)),
            tuple(t + (pp - (kk - 1) * dd / 2) / ss * jj
                  for t, pp, kk, dd, ss, jj in zip(state.start, p, k, dl, s, j)),
        )  # fmt: skip
        return new, (k, s, p, dl)
    if isinstance(module, Upsample):
        # nearest copies one input; linear modes mix 2 neighbours per dim, bicubic 4
        span = _UPSAMPLE_SPAN.get(module.mode)
        if span is None:
            raise ValueError(
                f"receptive_field: {path} (Upsample) mode {module.mode!r} is not supported; "
                f"use one of {sorted(_UPSAMPLE_SPAN)}"
            )
        factors = [o / n for o, n in zip(out_size, in_size)]
        j = state.jump
        new = _State(
            out_size,
            tuple(jj / f for jj, f in zip(j, factors)),
            tuple(int(round(r + span * jj)) for r, jj in zip(state.rf, j)),
            tuple(t + ((0.5 / f - 0.5) * jj if span else 0.0)
                  for t, f, jj in zip(state.start, factors, j)),
        )  # fmt: skip
        return new, none
    if isinstance(module, _PADS):
        pads = module.padding
        before = tuple(pads[2 * (len(pads) // 2 - 1 - i)] for i in range(len(pads) // 2))[-d:]
        new = _State(
            out_size, state.jump, state.rf,
            tuple(t - b * jj for t, b, jj in zip(state.start, before, state.jump)),
        )  # fmt: skip
        return new, none
    if out_size != in_size:
        raise ValueError(
            f"receptive_field: don't know how {path} ({type(module).__name__}) maps positions: "
            f"it changes the spatial size {in_size} → {out_size}. Supported: Conv, "
            "ConvTranspose, Max/Avg/Adaptive pooling, Upsample, padding layers, Linear, "
            "Flatten, and layers that keep the size (taken as pointwise)"
        )
    return _State(out_size, state.jump, state.rf, state.start), none


def _leaves_on_main_path(model: Module) -> dict[int, str]:
    """id → path of every leaf module, minus the children that modules mark as off their
    main path (``receptive_field_skip``)."""
    skipped: set[int] = set()
    for _, module in model.named_modules():
        for name in getattr(type(module), "receptive_field_skip", ()):
            child = module._modules.get(name)
            if child is not None:
                skipped.update(id(m) for m in child.modules())
    return {
        id(m): path
        for path, m in model.named_modules()
        if id(m) not in skipped and not any(True for _ in m.children())
    }


def _first_tensor(value: Any) -> Tensor | None:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], Tensor):
        return value[0]
    return None


def receptive_field(
    model: Module, input_shape: Sequence[int], verbose: bool = True
) -> ReceptiveField:
    """The receptive field, jump and output size after every layer of ``model``.

    Runs ``model`` once (evaluation mode, no graph, modes restored afterwards) on zeros of
    ``input_shape`` with a hook on every leaf module, and applies the recurrence of the
    module docstring to the layers in the order they are called. Shortcut branches that a
    block lists in ``receptive_field_skip`` are left out (the main path of a residual
    block is the longer one). Layers after the spatial dims are gone (global pooling,
    flatten, Linear) keep the field of the whole map.

    Args:
        model: the network.
        input_shape: the full input shape, batch included: (N, C, L), (N, C, H, W) or
            (N, C, D, H, W).
        verbose: print the table (default: True).

    Returns:
        A :class:`ReceptiveField` whose ``rows`` are :class:`ReceptiveFieldRow`.

    Example:
        >>> from nnlab import nn
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3))
        >>> r = receptive_field(net, (1, 1, 28, 28), verbose=False)
        >>> [(row.path, row.output_size[0], row.jump[0], row.rf[0]) for row in r.rows]
        [('input', 28, 1, 1), ('0', 26, 1, 3), ('1', 26, 1, 3), ('2', 13, 2, 4), ('3', 11, 2, 8)]
    """
    input_shape = tuple(int(n) for n in input_shape)
    d = len(input_shape) - 2
    if not 1 <= d <= 3:
        raise ValueError(
            f"receptive_field: input_shape must be (N, C, L), (N, C, H, W) or (N, C, D, H, W) "
            f"(batch included), got {input_shape}; a model without spatial dims has no "
            "receptive field to speak of"
        )
    leaves = _leaves_on_main_path(model)
    calls: list[tuple[Module, tuple[int, ...], Tensor]] = []

    def record(module: Module, args: Any, out: Any) -> None:
        x, y = _first_tensor(args), _first_tensor(out)
        if x is not None and y is not None:
            calls.append((module, tuple(x.shape), y))

    modes = {id(m): m.training for m in model.modules()}
    removers = [m.register_forward_hook(record) for m in model.modules() if id(m) in leaves]
    params = next(iter(model.parameters()), None)
    dtype = params.dtype if params is not None else dtypes.get_default_dtype()
    try:
        model.eval()
        with no_grad():
            model(Tensor(np.zeros(input_shape, dtype=dtype)))
    finally:
        for remove in removers:
            remove()
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])

    spatial = input_shape[2:]
    state = _State(spatial, (1,) * d, (1,) * d, (0.0,) * d)
    rows = [ReceptiveFieldRow("input", "-", input_shape[1], spatial, None, None, None, None,
                              state.jump, state.rf, state.start)]  # fmt: skip
    for module, in_shape, out in calls:
        path = leaves[id(module)]
        in_spatial = in_shape[2:] if len(in_shape) == d + 2 else ()
        if state.jump is not None and in_spatial != state.size:
            if in_spatial == () or all(n == 1 for n in state.size):
                state = _collapse(state)
            else:
                warnings.warn(
                    f"receptive_field: {path} receives a map of size {in_spatial} but the "
                    f"walk is at {state.size}: an operation outside any module (in a forward) "
                    "changed it, and its effect on the field is not counted",
                    stacklevel=2,
                )
                state = _State(in_spatial, state.jump, state.rf, state.start)
        state, geometry = _step(module, state, in_spatial, out, d, path)
        kernel, stride, padding, dilation = (None if g is None else tuple(g) for g in geometry)
        rows.append(
            ReceptiveFieldRow(
                path, type(module).__name__, out.shape[1] if out.ndim >= 2 else None,
                state.size, kernel, stride, padding, dilation, state.jump, state.rf,
                state.start,
            )
        )  # fmt: skip
    result = ReceptiveField(type(model).__name__, input_shape, rows)
    if verbose:
        Console().print(result.table())
    return result


@dataclass
class EmpiricalReceptiveField:
    """What :func:`empirical_receptive_field` measured.

    Attributes:
        size: extent (last − first + 1) of the nonzero-gradient positions per spatial dim:
            the receptive field, unless it reaches past the input's border.
        count: the number of input positions with a nonzero gradient.
        bounds: (first, last) such position per spatial dim.
        output_index: the spatial index of the output unit the gradient came from (()
            for a non-spatial output, whose units see the whole input).
        mask: bool array of the input's spatial shape, True where the gradient is nonzero.
    """

    size: tuple[int, ...]
    count: int
    bounds: tuple[tuple[int, int], ...]
    output_index: tuple[int, ...]
    mask: np.ndarray = field(repr=False)


def empirical_receptive_field(
    model: Module,
    input_shape: Sequence[int],
    output_index: Sequence[int] | None = None,
    seed: int = 0,
) -> EmpiricalReceptiveField:
    """Measure the receptive field of one output unit from gradients.

    The model (in evaluation mode, so that batch norm does not couple positions through
    batch statistics) runs on a random normal input of ``input_shape``; the gradient of
    the sum over channels of the output at ``output_index`` (default: the centre) is
    taken with respect to the input (parameters' ``.grad`` are left untouched). An input
    position belongs to the field when its gradient is nonzero for some sample and some
    channel. ReLU and max pooling block the gradient at some positions for a given input,
    so the union is taken over a batch of random samples: a few suffice for smooth
    activations, ReLU networks need a handful to a few dozen, and stacked max poolings
    (each window position must win for some sample and channel) dozens. A unit whose
    ReLU is off for every sample has no gradient at all: measure before the activation.

    Args:
        model: the network.
        input_shape: the full input shape, batch included (the batch is the number of
            random samples).
        output_index: the spatial index of the output unit (default: the centre,
            ``size // 2`` per dim).
        seed: seed of the random input (default: 0).

    Example:
        >>> from nnlab import nn
        >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Tanh(), nn.Conv2d(4, 4, 3, dilation=2))
        >>> m = empirical_receptive_field(net, (2, 1, 21, 21))
        >>> m.size, m.count, m.output_index
        ((7, 7), 49, (7, 7))
        >>> receptive_field(net, (2, 1, 21, 21), verbose=False).rf
        (7, 7)
    """
    input_shape = tuple(int(n) for n in input_shape)
    d = len(input_shape) - 2
    if d < 1:
        raise ValueError(
            f"empirical_receptive_field: input_shape must have spatial dims after (N, C), got "
            f"{input_shape}"
        )
    params = next(iter(model.parameters()), None)
    dtype = params.dtype if params is not None else dtypes.get_default_dtype()
    rng = np.random.default_rng(seed)
    x = Tensor(rng.standard_normal(input_shape).astype(dtype), requires_grad=True)
    modes = {id(m): m.training for m in model.modules()}
    try:
        model.eval()
        out = _first_tensor(model(x))
    finally:
        for m in model.modules():
            object.__setattr__(m, "training", modes[id(m)])
    if out is None:
        raise TypeError(f"empirical_receptive_field: the model returned {type(out).__name__}")
    if out.ndim >= 3:
        index = (
            tuple(n // 2 for n in out.shape[2:]) if output_index is None else tuple(output_index)
        )
        if len(index) != out.ndim - 2:
            raise ValueError(
                f"empirical_receptive_field: output_index {index} needs one entry per spatial "
                f"dim of the output {tuple(out.shape)}"
            )
        unit = out[(slice(None), slice(None), *index)]
    else:
        index, unit = (), out
    (g,) = _grad(unit.sum(), x, allow_unused=True)
    gdata = np.zeros(input_shape) if g is None else g.array
    mask = np.any(gdata != 0, axis=(0, 1))
    hits = np.nonzero(mask)
    if not hits[0].size:
        bounds = tuple((0, -1) for _ in range(d))
    else:
        bounds = tuple((int(h.min()), int(h.max())) for h in hits)
    size = tuple(hi - lo + 1 for lo, hi in bounds)
    return EmpiricalReceptiveField(size, int(mask.sum()), bounds, index, mask)
