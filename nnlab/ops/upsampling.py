"""Resizing feature maps: nearest and (bi/tri)linear interpolation, as ``F.interpolate``.

Both modes are separable: resizing (N, C, H, W) to (H', W') resamples dim H, then dim W.
Along one dim of length L, output position o reads one or two inputs:

- nearest:  y[o] = x[⌊o·scale⌋] (``nearest-exact``: x[⌊(o + ½)·scale⌋]), clamped to L - 1;
- linear:   y[o] = (1 - λ)·x[i] + λ·x[i + 1], with the source coordinate
  src = o·(L - 1)/(L' - 1) when ``align_corners`` (the corner pixels' centres line up),
  else src = (o + ½)·scale - ½ clamped at 0 (the pixels' edges line up), i = ⌊src⌋,
  λ = src - i, and i + 1 clamped to L - 1.

scale is 1/scale_factor when one is given (and ``recompute_scale_factor`` is not set),
otherwise L/L', exactly as torch computes it (in float32 for nearest), so the same
pixels are picked. Each dim is a sparse linear map y = A x with one or two taps per row;
the backward applies Aᵀ: the tap indices never decrease with o, so each input's share is
a sum over a run of consecutive outputs, added up offset by offset within the runs (two
strided slices for a 2× upsampling), with no scatter-add.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops.adaptive_pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d
from nnlab.tensor import Tensor

__all__ = ["interpolate", "upsample"]

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")

# One dim's resampling: (axis, input length, [(tap indices, tap weights or None), ...]).
Plan = list[tuple[int, int, list[tuple[np.ndarray, np.ndarray | None]]]]


def _take(x: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray | None) -> np.ndarray:
    y = x.take(index, axis=axis)
    if weight is not None:
        y *= weight.reshape((-1,) + (1,) * (x.ndim - axis - 1))
    return y


def _put_sum(
    g: np.ndarray, axis: int, index: np.ndarray, weight: np.ndarray | None, length: int
) -> np.ndarray:
    """Aᵀ for one tap: out[i] = Σ_{o: index[o] = i} w[o]·g[o] along ``axis``.

    ``index`` never decreases, so the outputs reading input i form a run o = start_i,
    ..., start_i + run_i - 1. The loop goes over the offsets k within a run (2 for a 2×
    upsampling), adding g[start + k] for every input at once: a strided slice when all
    runs have one length, a ``take`` otherwise (``np.add.reduceat`` along an inner axis
    is ~10× slower).
    """
    n = index.size
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    runs = np.diff(np.r_[starts, n])
    step = int(runs[0])
    uniform = bool((runs == step).all())  # then start_i = i·step
    shape = (-1,) + (1,) * (g.ndim - axis - 1)
    total = None
    for k in range(int(runs.max())):
        if uniform:
            part = g[(slice(None),) * axis + (slice(k, None, step),)]
            coef = None if weight is None else weight[k::step]
        else:
            pos = np.minimum(starts + k, n - 1)
            part = g.take(pos, axis=axis)
            valid = k < runs
            coef = valid if weight is None else weight[pos] * valid
            if weight is None and valid.all():
                coef = None
        if coef is not None:
            part = part * coef.reshape(shape)
        total = part if total is None else total + part
    targets = index[starts]
    if targets.size == length:  # every input was read
        return total.copy() if np.may_share_memory(total, g) else total
    out = np.zeros(g.shape[:axis] + (length,) + g.shape[axis + 1 :], dtype=g.dtype)
    out[(slice(None),) * axis + (targets,)] = total
    return out


class Resample(Function):
    """y = A_n ⋯ A_1 x, one sparse map per resized dim (taps: indices and weights);
    dx = A_1ᵀ ⋯ A_nᵀ g, each Aᵀ as run sums over the outputs that read an input."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, plan):
        y = x
        for axis, _, taps in plan:
            parts = [_take(y, axis, index, weight) for index, weight in taps]
            y = parts[0]
            for part in parts[1:]:
                y += part
        ctx.plan = plan
        return y

    @staticmethod
    def backward(ctx, g):
        for axis, length, taps in reversed(ctx.plan):
            total = None
            for index, weight in taps:
                part = _put_sum(g, axis, index, weight, length)
                total = part if total is None else total + part
            g = total
        return g, None


def _nearest_taps(
    length: int, out: int, scale: float | None, exact: bool, dtype: np.dtype
) -> np.ndarray:
    """torch's nearest source index: ⌊o·scale⌋ (or ⌊(o + ½)·scale⌋), in float32."""
    if scale is not None and scale > 0:
        ratio = np.float32(1.0 / scale)
    elif dtype == np.float32:
        ratio = np.float32(length) / np.float32(out)
    else:
        ratio = np.float32(length / out)
    o = np.arange(out, dtype=np.float32)
    src = np.floor((o + np.float32(0.5)) * ratio if exact else o * ratio)
    return np.minimum(src.astype(np.int64), length - 1)


def _linear_taps(
    length: int, out: int, scale: float | None, align_corners: bool, dtype: np.dtype
) -> list[tuple[np.ndarray, np.ndarray]]:
    """torch's linear taps (i, 1 - λ) and (i + 1, λ), computed in the input's dtype."""
    f = np.float64 if dtype == np.float64 else np.float32
    o = np.arange(out, dtype=f)
    if align_corners:
        ratio = f(length - 1) / f(out - 1) if out > 1 else f(0)
        src = o * ratio
    else:
        ratio = f(1.0 / scale) if scale is not None and scale > 0 else f(length) / f(out)
        src = np.maximum(ratio * (o + f(0.5)) - f(0.5), f(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), length - 1)
    lam = np.clip(src - i0, 0, 1).astype(dtype)
    i1 = i0 + (i0 < length - 1)
    return [(i0, (1 - lam).astype(dtype)), (i1, lam)]


def _sizes(
    input: Tensor, size: Any, scale_factor: Any, recompute_scale_factor: bool | None
) -> tuple[list[int], list[float | None]]:
    n = input.ndim - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(
                "interpolate: recompute_scale_factor is not meaningful with an explicit size."
            )
        sizes = list(size) if isinstance(size, (list, tuple)) else [size] * n
        if len(sizes) != n:
            raise ValueError(
                "interpolate: Input and output must have the same number of spatial "
                f"dimensions, but got input with spatial dimensions of {spatial} and output "
                f"size of {size}. Please provide input tensor in (N, C, d1, d2, ...,dK) "
                "format and output size in (o1, o2, ...,oK) format."
            )
        return [int(s) for s in sizes], [None] * n
    if scale_factor is None:
        raise ValueError("interpolate: either size or scale_factor should be defined")
    scales = list(scale_factor) if isinstance(scale_factor, (list, tuple)) else [scale_factor] * n
    if len(scales) != n:
        raise ValueError(
            "interpolate: Input and scale_factor must have the same number of spatial "
            f"dimensions, but got input with spatial dimensions of {spatial} and "
            f"scale_factor of shape {scale_factor}. Please provide input tensor in "
            "(N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,sK) format."
        )
    out = [math.floor(length * float(s)) for length, s in zip(spatial, scales)]
    if recompute_scale_factor:
        return out, [None] * n
    return out, [float(s) for s in scales]


def interpolate(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resize the spatial dims of a batch (``torch.nn.functional.interpolate``).

    Per dim of length L resized to L' (``size``, or ⌊L·scale_factor⌋):

    - ``nearest``: y[o] = x[min(⌊o·scale⌋, L - 1)], scale = 1/scale_factor or L/L'
      (``nearest-exact`` uses ⌊(o + ½)·scale⌋, which rounds to the nearest pixel centre);
    - ``linear`` (3-D input), ``bilinear`` (4-D), ``trilinear`` (5-D): y[o] = (1 - λ)x[i]
      + λx[i + 1] at the source coordinate src = i + λ, one dim after another. With
      ``align_corners=True`` src = o·(L - 1)/(L' - 1): the corner pixels map onto each
      other; with False (default) src = (o + ½)·scale - ½: the image edges do.
    - ``area``: adaptive average pooling to the new size.

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: the output spatial size, an int or one per spatial dim.
        scale_factor: multiplier of the spatial size, a float or one per dim (give
            exactly one of ``size`` and ``scale_factor``).
        mode: 'nearest' (default), 'nearest-exact', 'linear', 'bilinear', 'trilinear'
            or 'area'.
        align_corners: for the linear modes only (default: None, meaning False).
        recompute_scale_factor: compute the sampling scale from the output size rather
            than use ``scale_factor`` (default: None, meaning no).
        antialias: not supported (must be False).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[1.0, 2.0, 4.0]]])
        >>> interpolate(x, scale_factor=2)
        tensor([[[1., 1., 2., 2., 4., 4.]]])
        >>> interpolate(x, size=5, mode="linear", align_corners=True)
        tensor([[[1. , 1.5, 2. , 3. , 4. ]]])
    """
    if mode not in _MODES:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported in nnlab; use one of {_MODES}"
        )
    if not 3 <= input.ndim <= 5:
        raise NotImplementedError(
            f"interpolate: Input Error: Only 3D, 4D and 5D input Tensors supported (got "
            f"{input.ndim}D, shape {tuple(input.shape)}) for the modes: {' | '.join(_MODES)} "
            f"(got {mode})"
        )
    if mode in _LINEAR and input.ndim != _LINEAR[mode] + 2:
        raise NotImplementedError(
            f"interpolate: Got {input.ndim}D input, but {mode} mode needs "
            f"{_LINEAR[mode] + 2}D input (shape {tuple(input.shape)})"
        )
    if mode not in _LINEAR and align_corners is not None:
        raise ValueError(
            "interpolate: align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported in nnlab")
    out, scales = _sizes(input, size, scale_factor, recompute_scale_factor)
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[input.ndim - 3]
        return pool(input, out)
    if min(out) <= 0:
        raise RuntimeError(
            f"interpolate: input and output sizes should be greater than 0, but got input "
            f"{tuple(input.shape[2:])} and output {tuple(out)}"
        )
    plan: Plan = []
    for d, (length, target, scale) in enumerate(zip(input.shape[2:], out, scales)):
        if mode in _LINEAR:
            if target == length:  # torch copies a dim whose size does not change
                continue
            taps = _linear_taps(length, target, scale, bool(align_corners), input.dtype)
            plan.append((2 + d, length, list(taps)))
        else:
            exact = mode == "nearest-exact"
            if not exact and input.ndim == 4 and target in (length, 2 * length):
                # torch's 2-D nearest kernel copies a dim that keeps its size and reads
                # o // 2 when it doubles, whatever scale_factor says; its 1-D and 3-D
                # kernels apply the formula (L = 7, scale_factor = 1.1 reads 0, 0, 1, ...).
                index = np.arange(target) // (target // length)
            else:
                index = _nearest_taps(length, target, scale, exact, input.dtype)
            if target != length or (index != np.arange(length)).any():
                plan.append((2 + d, length, [(index, None)]))
    if not plan:
        return input.clone()
    return Resample.apply(input, plan)


def upsample(
    input: Tensor,
    size: Any = None,
    scale_factor: Any = None,
    mode: str = "nearest",
    align_corners: bool | None = None,
) -> Tensor:
    """The older name of :func:`interpolate` (``torch.nn.functional.upsample``).

    Example:
        >>> import nnlab
        >>> upsample(nnlab.ones(1, 1, 2), scale_factor=2).shape
        nnlab.Size([1, 1, 4])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)
