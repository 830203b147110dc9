"""im2col and col2im for 2-d convolutions: the slice copies and slice-adds of
:class:`nnlab.ops.im2col.ConvGeometry` as loops over (channel, kernel offset) rows.

:mod:`nnlab.ops.im2col` builds the column matrix of a convolution with one NumPy slice
copy per kernel offset κ, and its adjoint (col2im) with one slice-add per offset::

    unfold:  col[c, κ, n, l]     = x_pad[c, n, window_κ(l)]
    fold:    x_pad[c, n, window_κ(l)] += cols[κ, c, n, l]       for κ in order

NumPy runs each copy on one thread, stepping between rows of a few elements. The kernels
below do the same copies and additions, in the same order for every element, with one
(channel, offset) row (unfold) or one channel (fold: its offsets' additions must stay in
order, and channels write disjoint memory) per iteration, on several threads for large
arrays. Nothing is rounded differently: a copy is exact, and each element of x_pad receives
the reference's additions in the reference's order, so the results are bit-identical.

Two layouts exist, as in :class:`~nnlab.ops.im2col.ConvGeometry`: the *wide* one, where
offset κ reads one contiguous run of each flattened padded image starting at ``starts[κ]``,
and the *plain* one, where it reads a strided (rows × columns) window of the 2-d padded
image. In the wide layout the GEMM's output has the extra columns too: ``narrow_wide``
drops them in one pass that adds the bias on the way, leaving a dense array that the
elementwise kernels after the convolution (ReLU) can take. Each has a reference
(``<name>_numpy``, the slice loop), a kernel and a dispatcher; 1-d and 3-d convolutions
(plain layout), and dtypes the kernels are not compiled for, take the references.
"""

from __future__ import annotations

import numpy as np

from nnlab import kernels
from nnlab.kernels import KERNEL_DTYPES
from nnlab.kernels.runtime import Kernel

__all__ = [
    "narrow_wide",
    "narrow_wide_numba",
    "narrow_wide_numpy",
    "fold_plain",
    "fold_plain_numba",
    "fold_plain_numpy",
    "fold_wide",
    "fold_wide_numba",
    "fold_wide_numpy",
    "unfold_plain",
    "unfold_plain_numba",
    "unfold_plain_numpy",
    "unfold_wide",
    "unfold_wide_numba",
    "unfold_wide_numpy",
]


def _kernel_takes(*arrays: np.ndarray) -> bool:
    """The backend is numba and the arrays are C-contiguous, of one kernel dtype."""
    if kernels.get_backend() != "numba" or arrays[0].dtype not in KERNEL_DTYPES:
        return False
    return all(a.dtype == arrays[0].dtype and a.flags.c_contiguous for a in arrays)


# -- the wide layout: one contiguous run per (channel, offset, image) ----------------------


def unfold_wide_numpy(xp: np.ndarray, starts: np.ndarray, col: np.ndarray) -> None:
    """col[c, j, n, :] = xp[c, n, starts[j] : starts[j] + run] for every offset j, with
    xp (C, N, flat + slack) and col (C, K, N, run)."""
    run = col.shape[-1]
    for j, s in enumerate(starts):
        col[:, j] = xp[:, :, s : s + run]


def _unfold_wide(loop):
    def unfold_wide(xp, starts, col):
        c_, k_, n_, run = col.shape
        for cj in loop(c_ * k_):
            c, j = cj // k_, cj % k_
            s = starts[j]
            for n in range(n_):
                # slices, so that every index runs from 0: LLVM then drops numba's
                # negative-index checks and vectorises the copy
                src, dst = xp[c, n, s : s + run], col[c, j, n]
                for t in range(run):
                    dst[t] = src[t]

    return unfold_wide


#: :func:`unfold_wide_numpy`, one (channel, offset) row per iteration.
unfold_wide_numba = Kernel(_unfold_wide)


def unfold_wide(xp: np.ndarray, starts: np.ndarray, col: np.ndarray) -> None:
    """:func:`unfold_wide_numpy`, by the kernel where it applies."""
    if not _kernel_takes(xp, col):
        return unfold_wide_numpy(xp, starts, col)
    unfold_wide_numba(col.size, xp, starts, col)


def fold_wide_numpy(cols: np.ndarray, starts: np.ndarray, store: np.ndarray) -> None:
    """store[g, c, n, starts[j] : starts[j] + run] += cols[g, j, c, n, :] for j in order,
    with cols (G, B, C/G, N, run) (B offsets, G groups) and store (G, C/G, N, flat + slack)."""
    run = cols.shape[-1]
    for j, s in enumerate(starts):
        store[..., s : s + run] += cols[:, j]


def _fold_wide(loop):
    def fold_wide(cols, starts, store):
        g_, b_, c_, n_, run = cols.shape
        for gc in loop(g_ * c_):
            g, c = gc // c_, gc % c_
            for j in range(b_):  # the offsets in order: each element's sum as the reference's
                s = starts[j]
                for n in range(n_):
                    src, dst = cols[g, j, c, n], store[g, c, n, s : s + run]
                    for t in range(run):
                        dst[t] += src[t]

    return fold_wide


#: :func:`fold_wide_numpy`, one channel per iteration.
fold_wide_numba = Kernel(_fold_wide)


def fold_wide(cols: np.ndarray, starts: np.ndarray, store: np.ndarray) -> None:
    """:func:`fold_wide_numpy`, by the kernel where it applies."""
    if not _kernel_takes(cols, store):
        return fold_wide_numpy(cols, starts, store)
    fold_wide_numba(cols.size, cols, starts, store)


# -- the plain 2-d layout: a strided window per (channel, offset, image) -------------------


def _window(xp: np.ndarray, origin, stride, out_size) -> np.ndarray:
    """xp[..., r0 + s0·a, c0 + s1·b] for a < L0, b < L1: the window an offset meets."""
    (r0, c0), (s0, s1), (l0, l1) = origin, stride, out_size
    return xp[..., r0 : r0 + s0 * (l0 - 1) + 1 : s0, c0 : c0 + s1 * (l1 - 1) + 1 : s1]


def unfold_plain_numpy(xp: np.ndarray, origins: np.ndarray, stride, col: np.ndarray) -> None:
    """col[c, j, n, a, b] = xp[c, n, r_j + s0·a, c_j + s1·b] for every offset j, with
    ``origins[j] = (r_j, c_j)`` (the offset times the dilation), xp (C, N, P0, P1) and
    col (C, K, N, L0, L1)."""
    for j, origin in enumerate(origins):
        col[:, j] = _window(xp, origin, stride, col.shape[-2:])


def _unfold_plain(loop):
    def unfold_plain(xp, origins, s0, s1, col):
        c_, k_, n_, l0, l1 = col.shape
        for cj in loop(c_ * k_):
            c, j = cj // k_, cj % k_
            r, q = origins[j, 0], origins[j, 1]
            for n in range(n_):
                for a in range(l0):
                    src, dst = xp[c, n, r + s0 * a, q:], col[c, j, n, a]
                    for b in range(l1):
                        dst[b] = src[s1 * b]

    return unfold_plain


#: :func:`unfold_plain_numpy`, one (channel, offset) row per iteration.
unfold_plain_numba = Kernel(_unfold_plain)


def unfold_plain(xp: np.ndarray, origins: np.ndarray, stride, col: np.ndarray) -> None:
    """:func:`unfold_plain_numpy`, by the kernel where it applies (xp may be a transposed
    view; the kernel then reads a C-contiguous copy of it)."""
    if xp.ndim != 4 or not _kernel_takes(col) or xp.dtype != col.dtype:
        return unfold_plain_numpy(xp, origins, stride, col)
    xp = np.ascontiguousarray(xp)
    unfold_plain_numba(col.size, xp, origins, int(stride[0]), int(stride[1]), col)


def fold_plain_numpy(cols: np.ndarray, origins: np.ndarray, stride, store: np.ndarray) -> None:
    """store[g, c, n, r_j + s0·a, c_j + s1·b] += cols[g, j, c, n, a, b] for j in order, with
    cols (G, B, C/G, N, L0, L1) and store (G, C/G, N, P0, P1)."""
    for j, origin in enumerate(origins):
        _window(store, origin, stride, cols.shape[-2:])[...] += cols[:, j]


def _fold_plain(loop):
    def fold_plain(cols, origins, s0, s1, store):
        g_, b_, c_, n_, l0, l1 = cols.shape
        for gc in loop(g_ * c_):
            g, c = gc // c_, gc % c_
            for j in range(b_):  # the offsets in order: each element's sum as the reference's
                r, q = origins[j, 0], origins[j, 1]
                for n in range(n_):
                    for a in range(l0):
                        src, dst = cols[g, j, c, n, a], store[g, c, n, r + s0 * a, q:]
                        for b in range(l1):
                            dst[s1 * b] += src[b]

    return fold_plain


#: :func:`fold_plain_numpy`, one channel per iteration.
fold_plain_numba = Kernel(_fold_plain)


def fold_plain(cols: np.ndarray, origins: np.ndarray, stride, store: np.ndarray) -> None:
    """:func:`fold_plain_numpy`, by the kernel where it applies."""
    if store.ndim != 5 or not _kernel_takes(cols, store):
        return fold_plain_numpy(cols, origins, stride, store)
    fold_plain_numba(cols.size, cols, origins, int(stride[0]), int(stride[1]), store)


# -- the wide layout's output: dropping the extra columns ----------------------------------


def narrow_wide_numpy(y: np.ndarray, bias: np.ndarray | None, out: np.ndarray) -> None:
    """out = y without the wide layout's extra columns, plus the bias of each output
    channel: y (O, N, L₁, P₂..) → out (O, N, L₁, L₂..), out[o] = y[o, …, :L₂, ..] + b[o]."""
    valid = y[(Ellipsis,) + tuple(slice(0, n) for n in out.shape[3:])]
    if bias is None:
        out[...] = valid
    else:
        np.add(valid, bias.reshape((-1,) + (1,) * (y.ndim - 1)), out=out)


def _narrow_wide(loop):
    def narrow_wide(y, bias, has_bias, out):
        o_, n_, l0, l1 = out.shape
        for o in loop(o_):
            b = bias[o] if has_bias else y.dtype.type(0)
            for n in range(n_):
                for a in range(l0):
                    src, dst = y[o, n, a], out[o, n, a]
                    if has_bias:
                        for t in range(l1):
                            dst[t] = src[t] + b
                    else:
                        for t in range(l1):
                            dst[t] = src[t]

    return narrow_wide


#: :func:`narrow_wide_numpy` for 2-d convolutions, one output channel per iteration.
narrow_wide_numba = Kernel(_narrow_wide)


def narrow_wide(y: np.ndarray, bias: np.ndarray | None, out: np.ndarray) -> None:
    """:func:`narrow_wide_numpy`, by the kernel where it applies (2-d convolutions)."""
    if out.ndim != 4 or not _kernel_takes(y, out, *(() if bias is None else (bias,))):
        return narrow_wide_numpy(y, bias, out)
    has_bias = bias is not None
    narrow_wide_numba(out.size, y, bias if has_bias else np.zeros(1, y.dtype), has_bias, out)
