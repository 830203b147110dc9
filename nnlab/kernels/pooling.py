"""Max and average pooling over 1, 2 or 3 spatial dims, forward and backward.

The window geometry and the formulas are those of :mod:`nnlab.ops.pooling` (which calls the
dispatchers here with its window, a :class:`nnlab.ops.pooling_window._Window`): output
position o reads the input at o·s - p + j·d for the kernel offsets j, numbered 0..K-1 in
row-major order (the order that decides ties)::

    max:      y[o] = max_j x[o·s - p + j·d]  (-inf padding)        dx[i] = Σ_{o: w[o] = i} g[o]
    average:  y[o] = Σ_j x[o·s - p + j] / D[o]  (zero padding)     dx[i] = Σ_{o ∋ i} g[o] / D[o]

where w[o], the *winner* of window o, is its first maximum in row-major order (the offset
number j; -1 where the window has none: a NaN in it, whose y is NaN and which passes no
gradient, or a window of padding only). The max forward records the winners, so its backward
is one scatter pass instead of comparing the input with y again; torch's flat indices
(``return_indices``) are computed from them by :mod:`nnlab.ops.pooling`.

Each computation exists three times, as in :mod:`nnlab.kernels.activation`:

* ``<name>_numpy``: the NumPy reference, one array operation per kernel offset on strided
  views of the whole (padded) batch (as :mod:`nnlab.ops.pooling` computed before the kernels
  existed, the winners now found in the forward);
* ``<name>_numba``: a :class:`~nnlab.kernels.runtime.Kernel` looping over the planes (one
  (sample, channel) pair each; ``prange`` over them for large inputs), window by window or,
  for the averages, offset by offset along each output row. The loops see every input as
  3-d windows over (planes, D, H, W) (a 1-d or 2-d pooling has D = H = 1 or D = 1, kernel
  1 there), so one compiled kernel per dtype serves all three; 2×2 windows inside the
  planes (most CNNs) take a spelled-out path;
* ``<name>``: what the op calls; the kernel when the backend is numba and the arrays suit it,
  else the reference. The kernels take float32 and float64 arrays whose (sample, channel)
  planes are each one C-contiguous block: a C-contiguous (N, C, *S) array, or the (N, C, *S)
  view of a C-contiguous (C, N, *S) one, as a convolution returns and the ReLU after it
  keeps. The outputs are allocated in that layout (so the ops after them keep it; an
  upstream gradient in the other layout is copied); any other layout takes the reference.

**Bits.** The kernels perform the reference's IEEE operations in its order and dtype, so the
results are identical (the tests hold them to that): y is the running ``np.maximum`` over the
offsets (NaN wins; of two equal values the later one is kept, which decides the sign of a
zero maximum); the average sums the offsets in order, its padding adding +0, then divides by
D. The max backward writes g at each winner and +0 elsewhere (as torch: an infinite g does
not spread NaN over its window); where windows overlap, each input adds its windows' g (or
g / D) in the reference's order, offset by offset. No sum depends on the number of threads:
each plane is one thread's.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from nnlab import kernels
from nnlab.kernels import KERNEL_DTYPES
from nnlab.kernels.runtime import Kernel, load_numba

__all__ = [
    "avg_pool",
    "avg_pool_backward",
    "avg_pool_backward_numba",
    "avg_pool_backward_numpy",
    "avg_pool_numba",
    "avg_pool_numpy",
    "max_pool",
    "max_pool_backward",
    "max_pool_backward_numba",
    "max_pool_backward_numpy",
    "max_pool_numba",
    "max_pool_numpy",
]


# -- layouts and geometry ------------------------------------------------------------------


def _planes(a: Any) -> tuple[np.ndarray, bool] | None:
    """(planes, channel_first): a (N, C, *S) array as a C-contiguous (P, D, H, W) view of its
    P = N·C planes (S padded with leading 1s to three dims), in the order its memory holds
    them (sample-major, or channel-major when ``channel_first``); None for other layouts."""
    if type(a) is not np.ndarray or a.size == 0:
        return None
    spatial = (1,) * (5 - a.ndim) + a.shape[2:]
    if a.flags.c_contiguous:
        return a.reshape((-1,) + spatial), False
    t = a.swapaxes(0, 1)
    if t.flags.c_contiguous:
        return t.reshape((-1,) + spatial), True
    return None


def _empty(shape: tuple[int, ...], dtype: Any, channel_first: bool) -> np.ndarray:
    """An uninitialised (N, C, *S) array, its planes in the given order."""
    if not channel_first:
        return np.empty(shape, dtype)
    return np.empty((shape[1], shape[0]) + shape[2:], dtype).swapaxes(0, 1)


def _in_order(a: np.ndarray, channel_first: bool) -> np.ndarray:
    """``a``'s planes as (P, D, H, W) in the given order (a view, or a copy if ``a`` is laid
    out otherwise)."""
    spatial = (1,) * (5 - a.ndim) + a.shape[2:]
    if channel_first:
        return np.ascontiguousarray(a.swapaxes(0, 1)).reshape((-1,) + spatial)
    return np.ascontiguousarray(a).reshape((-1,) + spatial)


def _geometry(win: Any) -> np.ndarray:
    """Rows (kernel, stride, padding, dilation) for the D, H, W dims; a missing dim is one
    window of one element. (Cached: the kernels only read it.)"""
    return _cached_geometry(win.kernel, win.stride, win.padding, win.dilation)[0]


def _offsets(win: Any) -> np.ndarray:
    """(K, 3): where each kernel offset (row-major) reads in its window, per D, H, W dim, in
    input elements (the offset times the dilation). (Cached: the kernels only read it.)"""
    return _cached_geometry(win.kernel, win.stride, win.padding, win.dilation)[1]


@functools.lru_cache(maxsize=64)
def _cached_geometry(kernel, stride, padding, dilation) -> tuple[np.ndarray, np.ndarray]:
    rows = [(1, 1, 0, 1)] * (3 - len(kernel)) + list(zip(kernel, stride, padding, dilation))
    geo = np.array(rows, dtype=np.int64)
    grid = np.meshgrid(*(np.arange(k) * d for k, d in zip(geo[:, 0], geo[:, 3])), indexing="ij")
    offsets = np.stack([a.reshape(-1) for a in grid], axis=1).astype(np.int64)
    geo.flags.writeable = offsets.flags.writeable = False
    return geo, offsets


def span_py(start, k, dilation, n):
    """(lo, hi): the kernel offsets j in [lo, hi) of a window starting at ``start`` read a
    real input (0 ≤ start + j·dilation < n); the others read padding. ``start < n`` (a
    window never starts in the right padding). Compiled by numba as ``_span``."""
    lo = 0 if start >= 0 else (dilation - 1 - start) // dilation
    hi = k if start + (k - 1) * dilation < n else (n - start + dilation - 1) // dilation
    return lo, hi


def columns_py(k, stride, padding, dilation, n, n_out):
    """(first, last): for each kernel offset c along the last dim, the outputs o in
    [first[c], last[c]) whose input o·stride - padding + c·dilation lies in [0, n).
    Compiled by numba as ``_columns``."""
    first = np.empty(k, np.int64)
    last = np.empty(k, np.int64)
    for c in range(k):
        shift = c * dilation - padding
        first[c] = max(0, -(shift // stride))  # ⌈-shift / stride⌉
        last[c] = min(n_out, -((shift - n) // stride))  # ⌈(n - shift) / stride⌉
    return first, last


def two_by_two_py(geo, h_in, w_in, h_out, w_out):
    """Whether the windows are 2×2 (one deep, undilated, unpadded) and lie inside the
    planes (no ceil-mode overhang), as in most CNNs: the kernels then take a spelled-out
    path, about 3× faster than the general loop's two-element inner loops. Compiled by
    numba as ``_two_by_two``."""
    kd, kh, kw = geo[0, 0], geo[1, 0], geo[2, 0]
    sh, ph, dh = geo[1, 1], geo[1, 2], geo[1, 3]
    sw, pw, dw = geo[2, 1], geo[2, 2], geo[2, 3]
    return (
        kd == 1 and kh == 2 and kw == 2 and dh == 1 and dw == 1 and ph == 0 and pw == 0
        and (h_out - 1) * sh + 2 <= h_in and (w_out - 1) * sw + 2 <= w_in
    )  # fmt: skip


_span = None  # span_py compiled, set at the first kernel's build
_columns = None  # columns_py compiled, likewise
_two_by_two = None  # two_by_two_py compiled, likewise


def _helpers() -> None:
    """Compile :func:`span_py`, :func:`columns_py` and :func:`two_by_two_py` into the module
    globals the kernels call (globals, not closure variables, so the kernels' cache keys
    stay fixed; as nnlab.kernels.softmax)."""
    global _span, _columns, _two_by_two
    if _span is None:
        njit = load_numba().njit(cache=True, error_model="numpy", nogil=True, inline="always")
        _span, _columns = njit(span_py), njit(columns_py)
        _two_by_two = njit(two_by_two_py)


def _suits(*arrays: Any) -> bool:
    """The backend is numba and the arrays are NumPy arrays of one kernel dtype."""
    if kernels.get_backend() != "numba":
        return False
    dtype = arrays[0].dtype if type(arrays[0]) is np.ndarray else None
    if dtype not in KERNEL_DTYPES:
        return False
    return all(type(a) is np.ndarray and a.dtype == dtype for a in arrays)


# -- max pooling ---------------------------------------------------------------------------


def _first_max_hits(xp: np.ndarray, y: np.ndarray, win: Any):
    """Yield (offset number, view index, mask) per kernel offset; the mask marks the windows
    whose FIRST maximum (row-major over the offsets) sits at that offset. Padding never
    counts, so a window of real -inf values picks its first real element, as torch; a
    window holding a NaN (y = NaN equals nothing) has no hit."""
    offsets = win.offsets
    padded = any(win.padding) or xp.shape[2:] != win.size
    free = np.ones(y.shape, dtype=bool)
    hit = np.empty(y.shape, dtype=bool)
    for i, offset in enumerate(offsets):
        view = win.view(offset)
        np.equal(xp[view], y, out=hit)
        if i:  # every window is still free at the first offset
            hit &= free
        real = win.real(offset) if padded else None
        if real is not None:
            hit &= real
        if i < len(offsets) - 1:
            free ^= hit
        yield i, view, hit


def max_pool_numpy(x: np.ndarray, win: Any, keep: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """(y, winners): y[o] = max_j x[o·s - p + j·d] by ``np.maximum`` over the kernel offsets
    on strided views of the -inf padded input; with ``keep``, the winner of each window
    (int32, -1 for none; see the module docstring), else None."""
    fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    xp = win.pad(x, fill)
    views = [xp[win.view(offset)] for offset in win.offsets]
    y = views[0].copy()
    for v in views[1:]:
        np.maximum(y, v, out=y)
    if not keep:
        return y, None
    winner = np.full(y.shape, -1, dtype=np.int32)
    for i, _, hit in _first_max_hits(xp, y, win):
        winner += hit * np.int32(i + 1)  # one hit per window at most
    return y, winner


def _max_pool(loop):
    _helpers()

    def max_pool(x, y, winner, geo, keep):
        """y and the winners of each window of each plane of x (P, D, H, W)."""
        _, d_in, h_in, w_in = x.shape
        planes, d_out, h_out, w_out = y.shape
        kd, sd, pd, dd = geo[0, 0], geo[0, 1], geo[0, 2], geo[0, 3]
        kh, sh, ph, dh = geo[1, 0], geo[1, 1], geo[1, 2], geo[1, 3]
        kw, sw, pw, dw = geo[2, 0], geo[2, 1], geo[2, 2], geo[2, 3]
        ninf = x.dtype.type(-np.inf)
        two_by_two = _two_by_two(geo, h_in, w_in, h_out, w_out)
        for p in loop(planes):
            xp, yp, wp = x[p], y[p], winner[p]
            if two_by_two:
                for od in range(d_out):
                    for oh in range(h_out):
                        r0, r1 = xp[od * sd, oh * sh], xp[od * sd, oh * sh + 1]
                        for ow in range(w_out):
                            i = ow * sw
                            v0, v1, v2, v3 = r0[i], r0[i + 1], r1[i], r1[i + 1]
                            # np.maximum(m, v): m if m > v or m is NaN, else v
                            m = v0
                            m = m if (m > v1) | (m != m) else v1
                            m = m if (m > v2) | (m != m) else v2
                            m = m if (m > v3) | (m != m) else v3
                            yp[od, oh, ow] = m
                            if keep:
                                best, top = 0, v0  # the first maximum (NaN aside)
                                best, top = (1, v1) if v1 > top else (best, top)
                                best, top = (2, v2) if v2 > top else (best, top)
                                best = 3 if v3 > top else best
                                nan = (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
                                wp[od, oh, ow] = -1 if nan else best
            else:
                for od in range(d_out):
                    d0 = od * sd - pd
                    a0, a1 = _span(d0, kd, dd, d_in)  # the offsets that read real inputs
                    for oh in range(h_out):
                        h0 = oh * sh - ph
                        b0, b1 = _span(h0, kh, dh, h_in)
                        for ow in range(w_out):
                            w0 = ow * sw - pw
                            c0, c1 = _span(w0, kw, dw, w_in)
                            m = ninf  # the reference's np.maximum, over -inf padding
                            # the largest value so far (NaN aside) and its first offset
                            # (the first real one while all are -inf)
                            top = ninf
                            best = (a0 * kh + b0) * kw + c0
                            if a0 >= a1 or b0 >= b1 or c0 >= c1:
                                best = -1  # a window of padding only
                            nan = False
                            for a in range(a0, a1):
                                for b in range(b0, b1):
                                    row = xp[d0 + a * dd, h0 + b * dh]
                                    j = (a * kh + b) * kw
                                    for c in range(c0, c1):
                                        v = row[w0 + c * dw]
                                        m = m if (m > v) | (m != m) else v
                                        above = v > top  # False for NaN
                                        best = j + c if above else best
                                        top = v if above else top
                                        nan = nan | (v != v)
                            yp[od, oh, ow] = m
                            if keep:
                                wp[od, oh, ow] = -1 if nan else best

    return max_pool


#: :func:`max_pool_numpy` in one pass over the windows.
max_pool_numba = Kernel(_max_pool)


def max_pool(x: np.ndarray, win: Any, keep: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """:func:`max_pool_numpy`, by the kernel where it applies (y and the winners laid out as
    x)."""
    found = _planes(x) if _suits(x) else None
    if found is None:
        return max_pool_numpy(x, win, keep)
    xs, channel_first = found
    shape = x.shape[:2] + tuple(win.out)
    y = _empty(shape, x.dtype, channel_first)
    winner = _empty(shape, np.int32, channel_first) if keep else None
    ws = _planes(winner)[0] if keep else np.empty((xs.shape[0], 1, 1, 1), np.int32)  # unused
    max_pool_numba(x.size, xs, _planes(y)[0], ws, _geometry(win), keep)
    return y, winner


def max_pool_backward_numpy(
    g: np.ndarray, winner: np.ndarray, win: Any, shape: tuple[int, ...]
) -> np.ndarray:
    """dx (of the input's ``shape``) = g routed to each window's winner: zeros, then per
    kernel offset j, g where the winner is j (else +0) is written into (or, where windows
    overlap, added to) the view of dx at offset j."""
    if win.tiles:  # every input element gets exactly one write below: no zeroing
        dxp = np.empty(shape, dtype=g.dtype)
    else:
        dxp = win.padded_zeros(shape, g.dtype)
    hit = np.empty(winner.shape, dtype=bool)
    bits = g.view(f"u{g.itemsize}")
    for i, offset in enumerate(win.offsets):
        view = win.view(offset)
        np.equal(winner, i, out=hit)
        # g where hit, else +0, as g's bits times 1 or 0 (np.where: 5× slower here)
        routed = (bits * hit).view(g.dtype)
        if win.disjoint:
            dxp[view] = routed
        else:
            dxp[view] += routed  # + 0 changes no sum: each starts at +0
    return win.unpad(dxp)


def _max_pool_backward(loop):
    def max_pool_backward(g, winner, dx, geo, offsets, disjoint):
        """dx for each plane from g and the winners (P, Do, Ho, Wo); offsets (K, 3): where
        offset j sits in its window, (a·dd, b·dh, c·dw)."""
        _, d_in, h_in, w_in = dx.shape
        planes, d_out, h_out, w_out = g.shape
        sd, pd = geo[0, 1], geo[0, 2]
        sh, ph = geo[1, 1], geo[1, 2]
        sw, pw = geo[2, 1], geo[2, 2]
        nought = g.dtype.type(0)
        # (Zeroing each plane, then one store per window, beat writing g or 0 at each
        # window's every input: that select branches, unpredictably, on the winner.)
        for p in loop(planes):
            gp, wp, dxp = g[p], winner[p], dx[p]
            for i_d in range(d_in):
                for i_h in range(h_in):
                    for i_w in range(w_in):
                        dxp[i_d, i_h, i_w] = nought
            if disjoint:  # every input in one window at most: any order
                for od in range(d_out):
                    for oh in range(h_out):
                        for ow in range(w_out):
                            j = wp[od, oh, ow]
                            if j >= 0:
                                i_d = od * sd - pd + offsets[j, 0]
                                i_h = oh * sh - ph + offsets[j, 1]
                                dxp[i_d, i_h, ow * sw - pw + offsets[j, 2]] = gp[od, oh, ow]
            else:
                # The windows in reverse row-major order: the windows sharing an input reach
                # it at ascending offsets then, so they add their g in the reference's order
                # (offset by offset).
                for od in range(d_out - 1, -1, -1):
                    for oh in range(h_out - 1, -1, -1):
                        for ow in range(w_out - 1, -1, -1):
                            j = wp[od, oh, ow]
                            if j >= 0:
                                i_d = od * sd - pd + offsets[j, 0]
                                i_h = oh * sh - ph + offsets[j, 1]
                                dxp[i_d, i_h, ow * sw - pw + offsets[j, 2]] += gp[od, oh, ow]

    return max_pool_backward


#: :func:`max_pool_backward_numpy` as one scatter pass over the winners per plane.
max_pool_backward_numba = Kernel(_max_pool_backward)


def max_pool_backward(
    g: np.ndarray, winner: np.ndarray, win: Any, shape: tuple[int, ...]
) -> np.ndarray:
    """:func:`max_pool_backward_numpy`, by the kernel where it applies (dx laid out as the
    winners, g copied into that layout if it has another)."""
    found = _planes(winner) if _suits(g) and g.shape == winner.shape else None
    if found is None:
        return max_pool_backward_numpy(g, winner, win, shape)
    ws, channel_first = found
    dx = _empty(shape, g.dtype, channel_first)
    max_pool_backward_numba(
        dx.size, _in_order(g, channel_first), ws, _planes(dx)[0], _geometry(win),
        _offsets(win), win.disjoint,
    )  # fmt: skip
    return dx


# -- average pooling -----------------------------------------------------------------------


def avg_pool_numpy(x: np.ndarray, win: Any, divisor: np.ndarray) -> np.ndarray:
    """y[o] = Σ_j x[o·s - p + j] / D[o]: the sum over the kernel offsets on strided views of
    the zero-padded input, in offset order, divided by ``divisor`` (D, broadcastable to the
    output's spatial shape, in x's dtype)."""
    xp = win.pad(x, 0)
    views = [xp[win.view(offset)] for offset in win.offsets]
    total = views[0].copy()
    for v in views[1:]:
        total += v
    total /= divisor
    return total


def _avg_pool(loop):
    _helpers()

    def avg_pool(x, y, divisor, geo):
        """y for each window of each plane of x (P, D, H, W); divisor (Do, Ho, Wo). Each
        output row sums in place, kernel offset by offset over the whole row (long loops)."""
        _, d_in, h_in, w_in = x.shape
        planes, d_out, h_out, w_out = y.shape
        kd, sd, pd, dd = geo[0, 0], geo[0, 1], geo[0, 2], geo[0, 3]
        kh, sh, ph, dh = geo[1, 0], geo[1, 1], geo[1, 2], geo[1, 3]
        kw, sw, pw, dw = geo[2, 0], geo[2, 1], geo[2, 2], geo[2, 3]
        first, last = _columns(kw, sw, pw, dw, w_in, w_out)
        nought, minus_nought = x.dtype.type(0), x.dtype.type(-0.0)
        two_by_two = _two_by_two(geo, h_in, w_in, h_out, w_out)
        for p in loop(planes):
            xp, yp = x[p], y[p]
            if two_by_two:  # spelled out, as in max_pool
                for od in range(d_out):
                    divisors = divisor[od]
                    for oh in range(h_out):
                        r0, r1 = xp[od * sd, oh * sh], xp[od * sd, oh * sh + 1]
                        for ow in range(w_out):
                            i = ow * sw
                            total = ((r0[i] + r0[i + 1]) + r1[i]) + r1[i + 1]
                            yp[od, oh, ow] = total / divisors[oh, ow]
                continue
            for od in range(d_out):
                d0 = od * sd - pd
                a0, a1 = _span(d0, kd, dd, d_in)  # the offsets that read real inputs
                for oh in range(h_out):
                    h0 = oh * sh - ph
                    b0, b1 = _span(h0, kh, dh, h_in)
                    row = yp[od, oh]
                    for ow in range(w_out):
                        row[ow] = minus_nought  # -0 + v is v: the first value as copied
                    for a in range(a0, a1):
                        for b in range(b0, b1):
                            xrow = xp[d0 + a * dd, h0 + b * dh]
                            for c in range(kw):
                                # from index 0, so that numba knows no index is negative (it
                                # would wrap it) and LLVM vectorises; strides 1 and 2 spelled out
                                lo = first[c]
                                dst, src = row[lo:], xrow[lo * sw + c * dw - pw :]
                                if sw == 1:
                                    for k in range(last[c] - lo):
                                        dst[k] += src[k]
                                elif sw == 2:
                                    for k in range(last[c] - lo):
                                        dst[k] += src[2 * k]
                                else:
                                    for k in range(last[c] - lo):
                                        dst[k] += src[k * sw]
                    padded_rows = a1 - a0 < kd or b1 - b0 < kh
                    divisors = divisor[od, oh]
                    for ow in range(w_out):
                        total = row[ow]
                        w0 = ow * sw - pw
                        if padded_rows or w0 < 0 or w0 + (kw - 1) * dw >= w_in:
                            # The reference also adds the padding's zeros: + 0 changes
                            # nothing but a sum of -0s (to +0), whatever their order.
                            total = total + nought
                        row[ow] = total / divisors[ow]

    return avg_pool


#: :func:`avg_pool_numpy` in one pass over the windows.
avg_pool_numba = Kernel(_avg_pool)


def _divisor_grid(divisor: np.ndarray, win: Any, dtype: Any) -> np.ndarray:
    """D as a C-contiguous (Do, Ho, Wo) array of ``dtype``."""
    out = (1,) * (3 - len(win.out)) + tuple(win.out)
    full = np.broadcast_to(np.asarray(divisor, dtype=dtype), tuple(win.out))
    return np.ascontiguousarray(full).reshape(out)


def avg_pool(x: np.ndarray, win: Any, divisor: np.ndarray) -> np.ndarray:
    """:func:`avg_pool_numpy`, by the kernel where it applies (y laid out as x)."""
    found = _planes(x) if _suits(x, divisor) else None
    if found is None:
        return avg_pool_numpy(x, win, divisor)
    xs, channel_first = found
    y = _empty(x.shape[:2] + tuple(win.out), x.dtype, channel_first)
    avg_pool_numba(x.size, xs, _planes(y)[0], _divisor_grid(divisor, win, x.dtype), _geometry(win))
    return y


def avg_pool_backward_numpy(
    g: np.ndarray, win: Any, divisor: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """dx (of the input's ``shape``) = g / D spread over each window: zeros, then per
    kernel offset, g / D is written into (or, where windows overlap, added to) the view of
    dx at that offset."""
    share = g / divisor
    dxp = win.padded_zeros(shape, g.dtype)
    for offset in win.offsets:
        view = dxp[win.view(offset)]
        if win.disjoint:
            view[...] = share
        else:
            view += share
    return win.unpad(dxp)


def _avg_pool_backward(loop):
    _helpers()

    def avg_pool_backward(g, divisor, dx, geo, disjoint, zero):
        """dx for each plane from g (P, Do, Ho, Wo) and divisor (Do, Ho, Wo), output row
        by output row, kernel offset by offset over the whole row."""
        _, d_in, h_in, w_in = dx.shape
        planes, d_out, h_out, w_out = g.shape
        kd, sd, pd, dd = geo[0, 0], geo[0, 1], geo[0, 2], geo[0, 3]
        kh, sh, ph, dh = geo[1, 0], geo[1, 1], geo[1, 2], geo[1, 3]
        kw, sw, pw, dw = geo[2, 0], geo[2, 1], geo[2, 2], geo[2, 3]
        first, last = _columns(kw, sw, pw, dw, w_in, w_out)
        nought = g.dtype.type(0)
        two_by_two = disjoint and _two_by_two(geo, h_in, w_in, h_out, w_out)
        for p in loop(planes):
            gp, dxp = g[p], dx[p]
            if zero:  # (not when the windows tile the planes: every input is written below)
                for i_d in range(d_in):
                    for i_h in range(h_in):
                        for i_w in range(w_in):
                            dxp[i_d, i_h, i_w] = nought
            if two_by_two:  # spelled out, as in avg_pool
                for od in range(d_out):
                    divisors = divisor[od]
                    for oh in range(h_out):
                        r0, r1 = dxp[od * sd, oh * sh], dxp[od * sd, oh * sh + 1]
                        for ow in range(w_out):
                            i = ow * sw
                            share = gp[od, oh, ow] / divisors[oh, ow]
                            r0[i], r0[i + 1], r1[i], r1[i + 1] = share, share, share, share
                continue
            # The output rows in reverse order, each row's offsets in order: the windows
            # sharing an input then add their g / D to it in the reference's order (offset
            # by offset).
            for od in range(d_out - 1, -1, -1):
                d0 = od * sd - pd
                a0, a1 = _span(d0, kd, dd, d_in)
                for oh in range(h_out - 1, -1, -1):
                    h0 = oh * sh - ph
                    b0, b1 = _span(h0, kh, dh, h_in)
                    grow, divisors = gp[od, oh], divisor[od, oh]
                    for a in range(a0, a1):
                        for b in range(b0, b1):
                            row = dxp[d0 + a * dd, h0 + b * dh]
                            for c in range(kw):
                                lo = first[c]  # from index 0: see avg_pool
                                dst, share = row[lo * sw + c * dw - pw :], grow[lo:]
                                divs = divisors[lo:]
                                if disjoint:
                                    for k in range(last[c] - lo):
                                        dst[k * sw] = share[k] / divs[k]
                                elif sw == 1:
                                    for k in range(last[c] - lo):
                                        dst[k] += share[k] / divs[k]
                                else:
                                    for k in range(last[c] - lo):
                                        dst[k * sw] += share[k] / divs[k]

    return avg_pool_backward


#: :func:`avg_pool_backward_numpy` in one pass over the windows per plane.
avg_pool_backward_numba = Kernel(_avg_pool_backward)


def avg_pool_backward(
    g: np.ndarray, win: Any, divisor: np.ndarray, shape: tuple[int, ...]
) -> np.ndarray:
    """:func:`avg_pool_backward_numpy`, by the kernel where it applies (dx laid out as g)."""
    found = _planes(g) if _suits(g, divisor) else None
    if found is None:
        return avg_pool_backward_numpy(g, win, divisor, shape)
    gs, channel_first = found
    dx = _empty(shape, g.dtype, channel_first)
    avg_pool_backward_numba(
        dx.size, gs, _divisor_grid(divisor, win, g.dtype), _planes(dx)[0], _geometry(win),
        win.disjoint, not win.tiles,
    )  # fmt: skip
    return dx
