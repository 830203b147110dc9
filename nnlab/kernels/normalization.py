"""Normalization: LayerNorm, GroupNorm and BatchNorm, forward and backward.

Each normalization standardises groups of values with their mean μ and biased variance σ²
and applies a learned scale γ and shift β (see :mod:`nnlab.ops.normalization`)::

    x̂ = (x - μ) / √(σ² + ε),    y = γ x̂ + β
    dx = γ/√(σ² + ε) · (G - ⟨G⟩ - x̂ ⟨G x̂⟩)      (⟨·⟩: the mean over each group)

Each direction exists three times in this file, as the optimizer updates in
:mod:`nnlab.kernels.optim`:

* ``<name>_numpy``: the NumPy reference, the formula as a sequence of array operations
  (matrix-vector products for the sums, several passes over memory);
* ``<name>_numba``: a :class:`~nnlab.kernels.runtime.Kernel` computing the same formula
  with one loop per row (LayerNorm, GroupNorm: one (sample, group) is one row) or channel
  (BatchNorm), which reads each value two or three times while it is in cache, on several
  threads for large inputs (GroupNorm's forward is LayerNorm's kernel, with γ and β per row group);
* ``<name>``: what the ops call; the kernel when the backend is numba and the arrays suit
  it (float32 or float64 of one dtype, C-contiguous, non-empty; BatchNorm also takes a
  convolution's channel-first output, where each channel is one block of memory), else the
  reference.

Kernels are wired in where they were measured faster than the reference
(``benchmarks/bench_norm_kernels.py``): not for BatchNorm on (N, C) inputs (each channel
is a strided column there, where the reference's matrix-vector products win) or on other
non-contiguous layouts, nor for BatchNorm's backward in evaluation mode, nor for
LayerNorm's γ and β gradients (sums over the rows: matrix-vector products).

**Summation order.** The kernels sum differently from NumPy's pairwise sums and BLAS's
dot products: each row's or channel's sums run in float64 (for float32 inputs too) over
eight interleaved partial sums, in a fixed order. The variance is a second pass over the
centred values (two-pass, never E[x²] - E[x]², which cancels catastrophically in float32
when the mean is large), and float32 values are centred with μ split into two float32
parts, so that x - μ loses nothing to μ's rounding. The results therefore differ from the
references in the last bits (float64: within 1e-14 relative in the tests; float32:
usually closer to the float64 truth than the reference is). They do not depend on the
number of threads: every row's or channel's sums are made by one thread. So a run, and
its resume from a checkpoint, is bit-exact on either backend; but the two backends' runs
are not bit-identical to each other.

**Vectorisation.** Without fast-math, LLVM may not reorder additions, so a loop that sums
into one variable runs one addition at a time. The eight partial sums are independent
chains that LLVM's SLP vectoriser packs into SIMD registers without changing a single
rounding; numba enables that vectoriser only with ``NUMBA_SLP_VECTORIZE=1`` (measured on
a 2-core AMD EPYC: the reductions 2-5× faster, the kernels about 1.5× faster, the same
bits). The elementwise loops vectorise either way.
"""

from __future__ import annotations

import numpy as np

from nnlab import kernels
from nnlab.kernels import KERNEL_DTYPES
from nnlab.kernels.runtime import Kernel

__all__ = [
    "batch_norm_backward",
    "batch_norm_backward_numba",
    "batch_norm_backward_numpy",
    "batch_norm_forward",
    "batch_norm_forward_numba",
    "batch_norm_forward_numpy",
    "group_norm_backward",
    "group_norm_backward_numba",
    "group_norm_backward_numpy",
    "group_norm_forward",
    "group_norm_forward_numpy",
    "layer_norm_backward",
    "layer_norm_backward_numba",
    "layer_norm_backward_numpy",
    "layer_norm_forward",
    "layer_norm_forward_numba",
    "layer_norm_forward_numpy",
]


def _use_kernel(*arrays: np.ndarray | None) -> bool:
    """Whether the kernels run on these arrays (None entries are absent ones): the backend is
    numba and they are non-empty, float32 or float64 of one dtype and C-contiguous."""
    if kernels.get_backend() != "numba":
        return False
    present = [a for a in arrays if a is not None]
    dtype = present[0].dtype
    if dtype not in KERNEL_DTYPES or present[0].size == 0:
        return False
    return all(a.dtype == dtype and a.flags.c_contiguous for a in present)


def _float64_or_ones(weight: np.ndarray | None, size: int) -> np.ndarray:
    """γ in float64 (a kernel's products with it are then exact for float32 inputs), or
    ones in its place."""
    return np.ones(size) if weight is None else weight.astype(np.float64)


def _or_placeholder(a: np.ndarray | None, like: np.ndarray, ndim: int = 1) -> np.ndarray:
    """``a``, or a one-element array of ``like``'s dtype that a kernel never reads."""
    return a if a is not None else np.zeros((1,) * ndim, dtype=like.dtype)


def _channel_blocks(x: np.ndarray) -> np.ndarray | None:
    """x (N, C, *S) as a C-contiguous (B, C, P) view whose rows [b, c] all hold channel c:
    (N, C, ΠS) for a C-contiguous x; (1, C, N·ΠS) for x laid out channel-first (its memory
    ordered (C, N, *S), as a convolution's output), where each channel is one block. None
    for other layouts."""
    n, c = x.shape[:2]
    if x.flags.c_contiguous:
        return x.reshape(n, c, -1)
    first = x.swapaxes(0, 1)
    return first.reshape(1, c, -1) if first.flags.c_contiguous else None


def _like_blocks(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A new array shaped and laid out as x (one :func:`_channel_blocks` accepts), and
    its (B, C, P) view."""
    out = np.empty_like(x)
    return out, _channel_blocks(out)


# -- LayerNorm (rows) ----------------------------------------------------------------------


def layer_norm_forward_numpy(
    rows: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    eps: float,
    keep_xhat: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Layer norm of each row of ``rows`` (R, D): ``(y, x̂, 1/√(σ² + ε))``::

        μ = mean(x),  σ² = mean((x - μ)²)  per row;  x̂ = (x - μ)/√(σ² + ε);  y = γ x̂ + β

    ``weight`` γ and ``bias`` β have shape (D,) or are None; x̂ (R, D) is returned only with
    ``keep_xhat`` (for the backward; else y takes its memory), 1/√(σ² + ε) as (R, 1)."""
    size = rows.shape[1]
    d = np.asarray(max(size, 1), dtype=rows.dtype)
    mean = rows @ np.full(size, 1 / d, dtype=rows.dtype)  # row means as one GEMV
    xhat = rows - mean[:, None]
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / d
    invstd = 1 / np.sqrt(var + np.asarray(eps, dtype=rows.dtype))
    xhat *= invstd
    y = np.empty_like(xhat) if keep_xhat else xhat
    if weight is not None:
        np.multiply(xhat, weight, out=y)
    elif y is not xhat:
        y[...] = xhat
    if bias is not None:
        y += bias
    return y, (xhat if keep_xhat else None), invstd


def _layer_norm_forward(loop):
    def layer_norm_forward(x, w, b, y, xhat, invstd, centre, eps, groups, has_w, has_b, keep):
        """Standardise each row r of x (R, D) and scale it by row r % groups of w, b."""
        rows, d = x.shape
        d8 = d - d % 8
        for r in loop(rows):
            v = x[r]
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            for i in range(0, d8, 8):
                s0, s1, s2, s3 = s0 + v[i], s1 + v[i + 1], s2 + v[i + 2], s3 + v[i + 3]
                s4, s5, s6, s7 = s4 + v[i + 4], s5 + v[i + 5], s6 + v[i + 6], s7 + v[i + 7]
            for i in range(d8, d):
                s0 += v[i]
            mean = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / d
            s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
            for i in range(0, d8, 8):
                c0, c1, c2, c3 = v[i] - mean, v[i + 1] - mean, v[i + 2] - mean, v[i + 3] - mean
                c4, c5 = v[i + 4] - mean, v[i + 5] - mean
                c6, c7 = v[i + 6] - mean, v[i + 7] - mean
                s0, s1, s2, s3 = s0 + c0 * c0, s1 + c1 * c1, s2 + c2 * c2, s3 + c3 * c3
                s4, s5, s6, s7 = s4 + c4 * c4, s5 + c5 * c5, s6 + c6 * c6, s7 + c7 * c7
            for i in range(d8, d):
                c0 = v[i] - mean
                s0 += c0 * c0
            var = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / d
            # μ = hi + lo in x's dtype (storing rounds): (x - hi) is exact near μ.
            centre[r, 0] = mean
            centre[r, 1] = mean - centre[r, 0]
            invstd[r] = 1.0 / np.sqrt(var + eps)
            hi, lo, inv = centre[r, 0], centre[r, 1], invstd[r]
            k = r % groups
            for i in range(d):
                h = ((v[i] - hi) - lo) * inv
                if keep:
                    xhat[r, i] = h
                if has_w:
                    h = h * w[k, i]
                if has_b:
                    h = h + b[k, i]
                y[r, i] = h

    return layer_norm_forward


#: :func:`layer_norm_forward_numpy` (and GroupNorm's forward) with one loop per row.
layer_norm_forward_numba = Kernel(_layer_norm_forward)


def _run_layer_norm_forward(rows, w_rows, b_rows, groups, eps, keep_xhat):
    """Run :data:`layer_norm_forward_numba`; ``w_rows``, ``b_rows``: (groups, D) or None."""
    y = np.empty_like(rows)
    xhat = np.empty_like(rows) if keep_xhat else y  # (y stands in; the kernel skips it)
    invstd = np.empty(rows.shape[0], dtype=rows.dtype)
    centre = np.empty((rows.shape[0], 2), dtype=rows.dtype)
    layer_norm_forward_numba(
        rows.size, rows, _or_placeholder(w_rows, rows, 2), _or_placeholder(b_rows, rows, 2),
        y, xhat, invstd, centre, float(eps), groups, w_rows is not None, b_rows is not None,
        keep_xhat,
    )  # fmt: skip
    return y, (xhat if keep_xhat else None), invstd


def layer_norm_forward(
    rows: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    eps: float,
    keep_xhat: bool,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """:func:`layer_norm_forward_numpy`, by the kernel where it applies."""
    if not _use_kernel(rows, weight, bias):
        return layer_norm_forward_numpy(rows, weight, bias, eps, keep_xhat)
    w = None if weight is None else weight.reshape(1, -1)
    b = None if bias is None else bias.reshape(1, -1)
    y, xhat, invstd = _run_layer_norm_forward(rows, w, b, 1, eps, keep_xhat)
    return y, xhat, invstd.reshape(-1, 1)


def layer_norm_backward_numpy(
    g: np.ndarray,
    xhat: np.ndarray,
    invstd: np.ndarray,
    weight: np.ndarray | None,
    need_x: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Layer norm's ``(dx, dγ, dβ)`` for the gradient ``g`` (R, D) of y::

        Ĝ = γ G;  dx = (Ĝ - ⟨Ĝ⟩ - x̂ ⟨Ĝ x̂⟩) / √(σ² + ε) per row;  dγ = Σ_rows G x̂;  dβ = Σ_rows G

    ``invstd`` is the forward's (R, 1); the row means with γ are GEMVs, (G γ)/D and
    ((G x̂) γ)/D. Each output is None unless asked for; dγ, dβ have shape (D,)."""
    size = g.shape[1]
    ones = np.ones(g.shape[0], dtype=g.dtype)
    gx = g * xhat if need_w or need_x else None  # scratch, reused in place below
    dw = ones @ gx if need_w else None
    db = ones @ g if need_b else None
    dx = None
    if need_x:
        if weight is None:
            mean_g = g.mean(axis=1, keepdims=True)
            mean_gx = gx.mean(axis=1, keepdims=True)
            dx = g - mean_g
        else:
            mean_g = (g @ weight)[:, None] / size
            mean_gx = (gx @ weight)[:, None] / size
            dx = g * weight
            dx -= mean_g
        np.multiply(xhat, mean_gx, out=gx)
        dx -= gx
        dx *= invstd
    return dx, dw, db


def _layer_norm_backward(loop):
    def layer_norm_backward(g, xhat, invstd, w, dx):
        """dx of each row from its sums Σ γG and Σ γG x̂ (w: γ or ones, in float64)."""
        rows, d = g.shape
        d8 = d - d % 8
        for r in loop(rows):
            gv, hv = g[r], xhat[r]
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0  # Σ γG
            c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0  # Σ γG x̂
            for i in range(0, d8, 8):
                g0, g1 = gv[i] * w[i], gv[i + 1] * w[i + 1]
                g2, g3 = gv[i + 2] * w[i + 2], gv[i + 3] * w[i + 3]
                g4, g5 = gv[i + 4] * w[i + 4], gv[i + 5] * w[i + 5]
                g6, g7 = gv[i + 6] * w[i + 6], gv[i + 7] * w[i + 7]
                a0, a1, a2, a3 = a0 + g0, a1 + g1, a2 + g2, a3 + g3
                a4, a5, a6, a7 = a4 + g4, a5 + g5, a6 + g6, a7 + g7
                c0, c1 = c0 + g0 * hv[i], c1 + g1 * hv[i + 1]
                c2, c3 = c2 + g2 * hv[i + 2], c3 + g3 * hv[i + 3]
                c4, c5 = c4 + g4 * hv[i + 4], c5 + g5 * hv[i + 5]
                c6, c7 = c6 + g6 * hv[i + 6], c7 + g7 * hv[i + 7]
            for i in range(d8, d):
                g0 = gv[i] * w[i]
                a0 += g0
                c0 += g0 * hv[i]
            mean_g = (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) / d
            mean_gx = (((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))) / d
            inv = 1.0 * invstd[r]
            for i in range(d):
                dx[r, i] = (gv[i] * w[i] - mean_g - hv[i] * mean_gx) * inv

    return layer_norm_backward


#: dx of :func:`layer_norm_backward_numpy` with one loop per row.
layer_norm_backward_numba = Kernel(_layer_norm_backward)


def layer_norm_backward(
    g: np.ndarray,
    xhat: np.ndarray,
    invstd: np.ndarray,
    weight: np.ndarray | None,
    need_x: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """:func:`layer_norm_backward_numpy`, dx by the kernel where it applies (dγ and dβ are
    sums over the rows, which the reference's matrix-vector products make faster than a
    loop over rows can)."""
    if not need_x or not _use_kernel(g, xhat, invstd, weight):
        return layer_norm_backward_numpy(g, xhat, invstd, weight, need_x, need_w, need_b)
    _, dw, db = layer_norm_backward_numpy(g, xhat, invstd, weight, False, need_w, need_b)
    dx = np.empty_like(g)
    w = _float64_or_ones(weight, g.shape[1])
    layer_norm_backward_numba(g.size, g, xhat, invstd.reshape(-1), w, dx)
    return dx, dw, db


# -- GroupNorm (rows of channel groups) ----------------------------------------------------


def group_norm_forward_numpy(
    x: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    groups: int,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group norm of ``x`` (N, C, P) with ``groups`` groups: ``(y, x̂, 1/√(σ² + ε))``::

        μ, σ² per sample over each group's C/G channels and P positions
        x̂ = (x - μ)/√(σ² + ε);  y = γ_c x̂ + β_c

    ``weight``, ``bias``: (C,) or None; y and x̂ have x's shape, 1/√(σ² + ε) is (N, G, 1)."""
    n, c, _ = x.shape
    rows = x.reshape(n * groups, -1)
    size = rows.shape[1]
    mean = (rows @ np.ones(size, dtype=x.dtype))[:, None] / size
    xhat = rows - mean
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / size
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    xhat *= invstd
    xhat = xhat.reshape(x.shape)
    y = xhat * weight.reshape(1, c, 1) if weight is not None else xhat.copy()
    if bias is not None:
        y += bias.reshape(1, c, 1)
    return y, xhat, invstd.reshape(n, groups, 1)


def group_norm_forward(
    x: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    groups: int,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`group_norm_forward_numpy`, by the kernel where it applies (the LayerNorm kernel
    on the (N·G, C/G·P) rows, with γ and β repeated over the positions)."""
    if not _use_kernel(x, weight, bias):
        return group_norm_forward_numpy(x, weight, bias, groups, eps)
    n, c, p = x.shape
    rows = x.reshape(n * groups, -1)

    def per_position(a):
        return None if a is None else np.repeat(a, p).reshape(groups, -1)

    y, xhat, invstd = _run_layer_norm_forward(
        rows, per_position(weight), per_position(bias), groups, eps, True
    )
    return y.reshape(x.shape), xhat.reshape(x.shape), invstd.reshape(n, groups, 1)


def group_norm_backward_numpy(
    g: np.ndarray,
    xhat: np.ndarray,
    invstd: np.ndarray,
    weight: np.ndarray | None,
    groups: int,
    need_x: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Group norm's ``(dx, dγ, dβ)`` for the gradient ``g`` (N, C, P) of y::

        Ĝ = γ_c G;  dx = (Ĝ - ⟨Ĝ⟩ - x̂ ⟨Ĝ x̂⟩) / √(σ² + ε) per (sample, group)
        dγ_c = Σ_{n,p} G x̂;  dβ_c = Σ_{n,p} G

    Every group mean is a γ-weighted sum of the per-(sample, channel) sums of G and G x̂,
    so only those two reductions over the positions are needed. ``invstd``: (N, G, 1)."""
    n, c, positions = xhat.shape
    ones = np.ones(positions, dtype=g.dtype)
    gx = g * xhat  # scratch, reused in place below
    sum_gx, sum_g = gx @ ones, g @ ones  # (N, C) sums over the positions
    batch = np.ones(n, dtype=g.dtype)
    dw = batch @ sum_gx if need_w else None
    db = batch @ sum_g if need_b else None
    dx = None
    if need_x:
        if weight is not None:
            sum_gx, sum_g = sum_gx * weight, sum_g * weight
        size = positions * (c // groups)
        mean_g = sum_g.reshape(n, groups, -1).sum(axis=2, keepdims=True) / size
        mean_gx = sum_gx.reshape(n, groups, -1).sum(axis=2, keepdims=True) / size
        # per (sample, channel): dx = a·G - b - x̂·k, each coefficient broadcast over P
        a = np.broadcast_to(invstd, (n, groups, c // groups)).reshape(n, c, 1)
        if weight is not None:
            a = a * weight.reshape(1, c, 1)
        b = np.broadcast_to(invstd * mean_g, (n, groups, c // groups)).reshape(n, c, 1)
        k = np.broadcast_to(invstd * mean_gx, (n, groups, c // groups)).reshape(n, c, 1)
        dx = g * a
        dx -= b
        np.multiply(xhat, k, out=gx)
        dx -= gx
    return dx, dw, db


def _group_norm_backward(loop):
    def group_norm_backward(g, xhat, invstd, w, dx, sum_gx, sum_g, need_x):
        """Per (sample, group) row: Σ_p G and Σ_p G x̂ of each channel into sum_g, sum_gx
        (N, C); then dx from their γ-weighted sums (w: γ or ones, in float64)."""
        n_, c_, p_ = g.shape
        groups = invstd.shape[1]
        per_group = c_ // groups
        size = per_group * p_
        p8 = p_ - p_ % 8
        for r in loop(n_ * groups):
            n = r // groups
            first = (r % groups) * per_group
            mean_g = 0.0  # Σ γG over the group, then its mean
            mean_gx = 0.0  # Σ γG x̂ over the group, then its mean
            for c in range(first, first + per_group):
                gv, hv = g[n, c], xhat[n, c]
                a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0  # Σ G
                c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0  # Σ G x̂
                for p in range(0, p8, 8):
                    g0, g1 = 1.0 * gv[p], 1.0 * gv[p + 1]  # (in float64)
                    g2, g3 = 1.0 * gv[p + 2], 1.0 * gv[p + 3]
                    g4, g5 = 1.0 * gv[p + 4], 1.0 * gv[p + 5]
                    g6, g7 = 1.0 * gv[p + 6], 1.0 * gv[p + 7]
                    a0, a1, a2, a3 = a0 + g0, a1 + g1, a2 + g2, a3 + g3
                    a4, a5, a6, a7 = a4 + g4, a5 + g5, a6 + g6, a7 + g7
                    c0, c1 = c0 + g0 * hv[p], c1 + g1 * hv[p + 1]
                    c2, c3 = c2 + g2 * hv[p + 2], c3 + g3 * hv[p + 3]
                    c4, c5 = c4 + g4 * hv[p + 4], c5 + g5 * hv[p + 5]
                    c6, c7 = c6 + g6 * hv[p + 6], c7 + g7 * hv[p + 7]
                for p in range(p8, p_):
                    g0 = 1.0 * gv[p]
                    a0 += g0
                    c0 += g0 * hv[p]
                sum_g[n, c] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
                sum_gx[n, c] = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))
                mean_g += w[c] * sum_g[n, c]
                mean_gx += w[c] * sum_gx[n, c]
            if need_x:
                mean_g /= size
                mean_gx /= size
                inv = 1.0 * invstd[n, r % groups, 0]
                for c in range(first, first + per_group):
                    wc = w[c]
                    for p in range(p_):
                        dx[n, c, p] = (wc * g[n, c, p] - mean_g - xhat[n, c, p] * mean_gx) * inv

    return group_norm_backward


#: :func:`group_norm_backward_numpy` with one loop per (sample, group).
group_norm_backward_numba = Kernel(_group_norm_backward)


def group_norm_backward(
    g: np.ndarray,
    xhat: np.ndarray,
    invstd: np.ndarray,
    weight: np.ndarray | None,
    groups: int,
    need_x: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """:func:`group_norm_backward_numpy`, by the kernel where it applies."""
    if not _use_kernel(g, xhat, invstd, weight):
        return group_norm_backward_numpy(g, xhat, invstd, weight, groups, need_x, need_w, need_b)
    n, c, _ = g.shape
    sum_gx = np.empty((n, c))
    sum_g = np.empty((n, c))
    dx = np.empty_like(g) if need_x else g  # (g stands in; the kernel skips it)
    w = _float64_or_ones(weight, c)
    group_norm_backward_numba(g.size, g, xhat, invstd, w, dx, sum_gx, sum_g, need_x)
    dw = sum_gx.sum(axis=0).astype(g.dtype) if need_w else None
    db = sum_g.sum(axis=0).astype(g.dtype) if need_b else None
    return (dx if need_x else None), dw, db


# -- BatchNorm (channels) ------------------------------------------------------------------


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ over every axis but 1 of an (N, C, *S) array: a GEMV over the flattened spatial
    positions, then one over N (about 3× faster than ``a.sum(axis=(0, 2, 3))``)."""
    if a.ndim > 2:
        a = a.reshape(a.shape[0], a.shape[1], -1)
        a = a @ np.ones(a.shape[2], dtype=a.dtype)
    return np.ones(a.shape[0], dtype=a.dtype) @ a


def batch_norm_forward_numpy(
    x: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    mean: np.ndarray | None,
    var: np.ndarray | None,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Batch norm of ``x`` (N, C, *S) per channel (axis 1): ``(y, x̂, 1/√(σ² + ε), μ, σ²)``::

        x̂ = (x - μ)/√(σ² + ε);  y = γ_c x̂ + β_c

    With ``mean`` and ``var`` None (training) μ and the biased σ² are the batch statistics
    over the M = N·|S| values of each channel, and are returned for the running estimates;
    else the given (C,) estimates are used (evaluation) and returned as they are."""
    shape = (1, -1) + (1,) * (x.ndim - 2)  # broadcast a (C,) vector over N and S
    if mean is None:
        count = x.size // x.shape[1]
        mean = _channel_sum(x) / count
        xhat = x - mean.reshape(shape)
        var = _channel_sum(xhat * xhat) / count
    else:
        xhat = x - mean.reshape(shape)
    invstd = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False)
    xhat *= invstd.reshape(shape)
    y = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
    if bias is not None:
        y += bias.reshape(shape)
    return y, xhat, invstd, mean, var


def _batch_norm_forward(loop):
    def batch_norm_forward(
        x, w, b, mean, var, y, xhat, invstd, centre, eps, training, has_w, has_b
    ):
        """Per channel c of x (N, C, P): μ, σ² (when training), then x̂ and y."""
        n_, c_, p_ = x.shape
        count = n_ * p_
        p8 = p_ - p_ % 8
        for c in loop(c_):
            if training:
                s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
                for n in range(n_):
                    v = x[n, c]
                    for p in range(0, p8, 8):
                        s0, s1, s2, s3 = s0 + v[p], s1 + v[p + 1], s2 + v[p + 2], s3 + v[p + 3]
                        s4, s5 = s4 + v[p + 4], s5 + v[p + 5]
                        s6, s7 = s6 + v[p + 6], s7 + v[p + 7]
                    for p in range(p8, p_):
                        s0 += v[p]
                mu = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / count
                s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
                for n in range(n_):
                    v = x[n, c]
                    for p in range(0, p8, 8):
                        d0, d1, d2, d3 = v[p] - mu, v[p + 1] - mu, v[p + 2] - mu, v[p + 3] - mu
                        d4, d5 = v[p + 4] - mu, v[p + 5] - mu
                        d6, d7 = v[p + 6] - mu, v[p + 7] - mu
                        s0, s1, s2, s3 = s0 + d0 * d0, s1 + d1 * d1, s2 + d2 * d2, s3 + d3 * d3
                        s4, s5, s6, s7 = s4 + d4 * d4, s5 + d5 * d5, s6 + d6 * d6, s7 + d7 * d7
                    for p in range(p8, p_):
                        d0 = v[p] - mu
                        s0 += d0 * d0
                mean[c] = mu
                var[c] = (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) / count
            else:
                mu = 1.0 * mean[c]
            # μ = hi + lo in x's dtype (storing rounds): (x - hi) is exact near μ.
            centre[c, 0] = mu
            centre[c, 1] = mu - centre[c, 0]
            invstd[c] = 1.0 / np.sqrt(var[c] + eps)
            hi, lo, inv = centre[c, 0], centre[c, 1], invstd[c]
            for n in range(n_):
                v = x[n, c]
                hv, yv = xhat[n, c], y[n, c]
                for p in range(p_):
                    h = ((v[p] - hi) - lo) * inv
                    hv[p] = h
                    if has_w:
                        h = h * w[c]
                    if has_b:
                        h = h + b[c]
                    yv[p] = h

    return batch_norm_forward


#: :func:`batch_norm_forward_numpy` with one loop per channel.
batch_norm_forward_numba = Kernel(_batch_norm_forward)


def batch_norm_forward(
    x: np.ndarray,
    weight: np.ndarray | None,
    bias: np.ndarray | None,
    mean: np.ndarray | None,
    var: np.ndarray | None,
    eps: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`batch_norm_forward_numpy`, by the kernel where it applies: inputs with spatial
    axes, C-contiguous or channel-first (memory ordered (C, N, H, W), as a convolution's
    output: each channel's sums then run over one long block; the results differ from the
    C-contiguous layout's in the last bits). On (N, C) inputs each channel is a strided
    column, and on other layouts the reference's matrix-vector products run on memory as it
    lies; both measured faster than the kernel (or than a copy and the kernel)."""
    x3 = _channel_blocks(x) if x.ndim >= 3 else None
    if x3 is None or not _use_kernel(x3, weight, bias, mean, var):
        return batch_norm_forward_numpy(x, weight, bias, mean, var, eps)
    c = x.shape[1]
    training = mean is None
    if training:
        mean, var = np.empty(c, dtype=x.dtype), np.empty(c, dtype=x.dtype)
    (y, y3), (xhat, xhat3) = _like_blocks(x), _like_blocks(x)
    invstd = np.empty(c, dtype=x.dtype)
    centre = np.empty((c, 2), dtype=x.dtype)
    batch_norm_forward_numba(
        x.size, x3, _or_placeholder(weight, x), _or_placeholder(bias, x), mean, var, y3, xhat3,
        invstd, centre, float(eps), training, weight is not None, bias is not None,
    )  # fmt: skip
    return y, xhat, invstd, mean, var


def batch_norm_backward_numpy(
    g: np.ndarray,
    xhat: np.ndarray,
    invstd: np.ndarray,
    weight: np.ndarray | None,
    training: bool,
    need_x: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """Batch norm's ``(dx, dγ, dβ)`` for the gradient ``g`` (N, C, *S) of y::

        dγ = Σ G x̂,  dβ = Σ G  (over N and S)
        training:    dx = γ/√(σ² + ε) · (G - ⟨G⟩ - x̂ ⟨G x̂⟩),  ⟨G⟩ = dβ/M, ⟨G x̂⟩ = dγ/M
        evaluation:  dx = γ/√(σ² + ε) · G

    ``invstd`` is the forward's (C,); each output is None unless asked for."""
    shape = (1, -1) + (1,) * (g.ndim - 2)
    count = g.size // g.shape[1]
    batch_stats = need_x and training  # dx then needs dγ and dβ too
    dw = db = dx = gx = None
    if need_w or batch_stats:
        gx = g * xhat  # scratch, reused in place below
        dw = _channel_sum(gx)
    if need_b or batch_stats:
        db = _channel_sum(g)
    if need_x:
        scale = invstd if weight is None else invstd * weight
        if batch_stats:
            np.multiply(xhat, (dw / count).reshape(shape), out=gx)
            gx += (db / count).reshape(shape)
            dx = g - gx
            dx *= scale.reshape(shape)
        else:
            dx = g * scale.reshape(shape)
    return dx, (dw if need_w else None), (db if need_b else None)


def _batch_norm_backward(loop):
    def batch_norm_backward(g, xhat, invstd, w, dx, dw, db, need_x):
        """Training: per channel c of g (N, C, P), Σ G x̂ and Σ G into dw[c], db[c], then dx
        (w: γ or ones, in float64)."""
        n_, c_, p_ = g.shape
        count = n_ * p_
        p8 = p_ - p_ % 8
        for c in loop(c_):
            a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0  # Σ G
            c0 = c1 = c2 = c3 = c4 = c5 = c6 = c7 = 0.0  # Σ G x̂
            for n in range(n_):
                gv, hv = g[n, c], xhat[n, c]
                for p in range(0, p8, 8):
                    g0, g1 = 1.0 * gv[p], 1.0 * gv[p + 1]  # (in float64)
                    g2, g3 = 1.0 * gv[p + 2], 1.0 * gv[p + 3]
                    g4, g5 = 1.0 * gv[p + 4], 1.0 * gv[p + 5]
                    g6, g7 = 1.0 * gv[p + 6], 1.0 * gv[p + 7]
                    a0, a1, a2, a3 = a0 + g0, a1 + g1, a2 + g2, a3 + g3
                    a4, a5, a6, a7 = a4 + g4, a5 + g5, a6 + g6, a7 + g7
                    c0, c1 = c0 + g0 * hv[p], c1 + g1 * hv[p + 1]
                    c2, c3 = c2 + g2 * hv[p + 2], c3 + g3 * hv[p + 3]
                    c4, c5 = c4 + g4 * hv[p + 4], c5 + g5 * hv[p + 5]
                    c6, c7 = c6 + g6 * hv[p + 6], c7 + g7 * hv[p + 7]
                for p in range(p8, p_):
                    g0 = 1.0 * gv[p]
                    a0 += g0
                    c0 += g0 * hv[p]
            sum_g = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))
            sum_gx = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7))
            db[c] = sum_g
            dw[c] = sum_gx
            if need_x:
                scale = invstd[c] * w[c]
                mean_g = sum_g / count
                mean_gx = sum_gx / count
                for n in range(n_):
                    gv, hv, dv = g[n, c], xhat[n, c], dx[n, c]
                    for p in range(p_):
                        dv[p] = (gv[p] - mean_g - hv[p] * mean_gx) * scale

    return batch_norm_backward


#: :func:`batch_norm_backward_numpy` with one loop per channel.
batch_norm_backward_numba = Kernel(_batch_norm_backward)


def batch_norm_backward(
    g: np.ndarray,
    xhat: np.ndarray,
    invstd: np.ndarray,
    weight: np.ndarray | None,
    training: bool,
    need_x: bool,
    need_w: bool,
    need_b: bool,
) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
    """:func:`batch_norm_backward_numpy`, by the kernel where it applies: in training, on
    arrays with spatial axes laid out as the forward takes them, both alike. In evaluation
    dx = γ/√(σ² + ε) · G needs no statistics of G, and the reference's two matrix-vector
    products and one product are as fast as the kernel (measured)."""
    g3 = _channel_blocks(g) if training and g.ndim >= 3 else None
    xhat3 = _channel_blocks(xhat) if g3 is not None else None
    if xhat3 is None or xhat3.shape != g3.shape or not _use_kernel(g3, xhat3, invstd, weight):
        return batch_norm_backward_numpy(g, xhat, invstd, weight, training, need_x, need_w, need_b)
    c = g.shape[1]
    dx, dx3 = _like_blocks(g) if need_x else (None, g3)  # (g stands in; the kernel skips it)
    dw, db = np.empty(c, dtype=g.dtype), np.empty(c, dtype=g.dtype)
    w = _float64_or_ones(weight, c)
    batch_norm_backward_numba(g.size, g3, xhat3, invstd, w, dx3, dw, db, need_x)
    return dx, (dw if need_w else None), (db if need_b else None)
