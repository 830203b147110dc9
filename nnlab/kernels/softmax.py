"""Softmax's row loops along the last axis of a C-contiguous array: the shift by the row
maximum (softmax, log-softmax, cross-entropy), row sums, softmax's normalisation, and the
backward passes of softmax and log-softmax.

As in :mod:`nnlab.kernels.activation`, each computation has a NumPy reference
(``<name>_numpy``, the formula :mod:`nnlab.ops.softmax` computed before the kernels), a
:class:`~nnlab.kernels.runtime.Kernel` (``<name>_numba``, one row per iteration, the row
staying in cache between its passes) and a dispatcher (``<name>``) that takes the kernel
under the numba backend for float32/float64 arrays reduced along their last, contiguous
axis, and the reference otherwise (another axis, a strided array, tensors under
``create_graph``).

**Bits.** The row sums replay NumPy's own summation order, the pairwise sum of
``np.add.reduce`` (blocks of at most 128 values summed by eight interleaved accumulators,
halves split at multiples of eight; :func:`pairwise_plan`), so the kernels give the
reference's bits in float32 and float64 alike, and the tests hold them to that. ``exp``
stays NumPy's vectorised ufunc, applied in place between the kernels: numba without Intel's
SVML calls a scalar ``exp`` per element, 5× slower than ``np.exp`` here (see
:mod:`nnlab.kernels.activation`).
"""

from __future__ import annotations

import numpy as np

from nnlab.kernels import use_kernel
from nnlab.kernels.runtime import Kernel, load_numba

__all__ = [
    "log_softmax_backward",
    "log_softmax_backward_numba",
    "log_softmax_backward_numpy",
    "pairwise_plan",
    "RowKernel",
    "row_sum",
    "row_sum_numba",
    "softmax",
    "softmax_backward",
    "softmax_backward_numba",
    "softmax_backward_numpy",
    "softmax_normalize_numba",
    "softmax_numpy",
    "log_softmax",
    "log_softmax_numpy",
    "shift_by_max",
    "shift_by_max_numba",
    "shift_by_max_numpy",
]

#: NumPy's block size for its pairwise sum (``PW_BLOCKSIZE``).
_PW_BLOCKSIZE = 128


def block_sum_py(x, r, lo, n):
    """Σ x[r, lo : lo + n] for n ≤ 128 in the order of NumPy's ``pairwise_sum``
    (numpy/_core/src/umath/loops_utils.h.src): fewer than 8 values in sequence; else eight
    accumulators over interleaved elements, combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)),
    then the rest in sequence. Compiled by numba as ``_block_sum``."""
    if n < 8:
        res = x.dtype.type(0)
        for i in range(lo, lo + n):
            res += x[r, i]
        return res
    r0, r1, r2, r3 = x[r, lo], x[r, lo + 1], x[r, lo + 2], x[r, lo + 3]
    r4, r5, r6, r7 = x[r, lo + 4], x[r, lo + 5], x[r, lo + 6], x[r, lo + 7]
    end = lo + n - n % 8
    for i in range(lo + 8, end, 8):
        r0 += x[r, i]
        r1 += x[r, i + 1]
        r2 += x[r, i + 2]
        r3 += x[r, i + 3]
        r4 += x[r, i + 4]
        r5 += x[r, i + 5]
        r6 += x[r, i + 6]
        r7 += x[r, i + 7]
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(end, lo + n):
        res += x[r, i]
    return res


def pairwise_plan(n: int) -> tuple[np.ndarray, np.ndarray]:
    """NumPy's pairwise sum of n values, unrolled: above 128 values it sums two halves (the
    first a multiple of 8 long) recursively and adds them. Returns ``blocks``, the (start,
    length) of the ≤ 128-value blocks in order, and ``adds``, the (left, right) operands of
    each addition in the order the recursion performs them, as indices into the values
    (block sums first, then the sums of ``adds``); the last value is the total.

    The kernels follow this plan instead of recursing because numba cannot cache a
    recursive function; every row of an array shares its length, hence its plan."""
    blocks: list[tuple[int, int]] = []
    adds: list[tuple[tuple[str, int], tuple[str, int]]] = []

    def visit(lo: int, size: int) -> tuple[str, int]:
        if size <= _PW_BLOCKSIZE:
            blocks.append((lo, size))
            return ("block", len(blocks) - 1)
        half = size // 2
        half -= half % 8
        left, right = visit(lo, half), visit(lo + half, size - half)
        adds.append((left, right))
        return ("add", len(adds) - 1)

    visit(0, n)

    def index(ref: tuple[str, int]) -> int:
        return ref[1] if ref[0] == "block" else len(blocks) + ref[1]

    adds_array = np.array([(index(a), index(b)) for a, b in adds], np.int64).reshape(-1, 2)
    return np.array(blocks, np.int64).reshape(-1, 2), adds_array


_plans: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _plan(n: int) -> tuple[np.ndarray, np.ndarray]:
    if n not in _plans:
        _plans[n] = pairwise_plan(n)
    return _plans[n]


def planned_sum_py(x, r, blocks, adds, values):
    """Σ x[r] by the plan of :func:`pairwise_plan`, with ``values[r]`` (one per block and
    per addition) as scratch; NumPy's ``x[r].sum()`` to the bit. Compiled as
    ``_planned_sum``."""
    n_blocks = blocks.shape[0]
    for b in range(n_blocks):
        values[r, b] = _block_sum(x, r, blocks[b, 0], blocks[b, 1])
    for k in range(adds.shape[0]):
        values[r, n_blocks + k] = values[r, adds[k, 0]] + values[r, adds[k, 1]]
    return values[r, values.shape[1] - 1]


_block_sum = None  # block_sum_py compiled, set at the first kernel's build
_planned_sum = None  # planned_sum_py compiled, likewise


def _helpers() -> None:
    """Compile the sums (cached on disk, as the kernels) into the module globals the kernels
    call; globals, not closure variables, so the kernels' cache keys stay fixed."""
    global _block_sum, _planned_sum
    if _planned_sum is None:
        njit = load_numba().njit(cache=True, error_model="numpy", nogil=True, inline="always")
        _block_sum = njit(block_sum_py)
        _planned_sum = njit(planned_sum_py)


def _scratch(x2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plan of ``x2``'s rows and one row of scratch values per row of ``x2``."""
    blocks, adds = _plan(x2.shape[1])
    return blocks, adds, np.empty((x2.shape[0], len(blocks) + len(adds)), x2.dtype)


class RowKernel:
    """A row kernel built twice from ``make(loop, planned)``: with ``planned`` False its row
    sums are one :func:`block_sum_py` (rows of up to 128 values), with True they follow
    :func:`pairwise_plan`. Two builds, because the plan's code in the loop, even where a
    row never reaches it, kept LLVM from vectorising the element loops (12× slower on rows
    of 10 values). ``kernel(size, rows, *args)`` runs on ``size`` elements; ``rows`` is the
    2-d array whose row length and count choose the build and size the scratch, appended
    to ``args`` with the plan."""

    def __init__(self, make) -> None:
        def single(loop):
            return make(loop, False)

        def planned(loop):
            return make(loop, True)

        single.__name__ = planned.__name__ = make.__name__
        single.__doc__ = planned.__doc__ = make.__doc__
        self.__name__, self.__doc__ = make.__name__, make.__doc__
        self._single, self._planned = Kernel(single), Kernel(planned)

    def __call__(self, size: int, rows: np.ndarray, *args) -> None:
        blocks, adds, scratch = _scratch(rows)
        kernel = self._single if len(blocks) == 1 else self._planned
        kernel(size, *args, blocks, adds, scratch)


def _as_rows(flat: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A flat view as (rows, last axis) of ``like``'s shape. The kernels index rows of a 2-d
    array from 0, which LLVM vectorises; offsets into a 1-d array (``x[r·n + j]``) may be
    negative as far as it knows (numba wraps negative indices), and ran 4× slower."""
    return flat.reshape(-1, like.shape[-1])


def _last_axis(dim: int, x) -> bool:
    """Whether ``dim`` is the last axis of a non-empty one (the kernels work on rows)."""
    return x.ndim > 0 and dim in (-1, x.ndim - 1) and x.shape[-1] > 0


# -- row sums ------------------------------------------------------------------------------


def _row_sum(loop, planned):
    _helpers()

    def row_sum(x, out, blocks, adds, scratch):
        for r in loop(x.shape[0]):
            if planned:
                out[r] = _planned_sum(x, r, blocks, adds, scratch)
            else:
                out[r] = _block_sum(x, r, 0, x.shape[1])

    return row_sum


#: ``x.sum(axis=-1)`` of a 2-d array, row by row, to NumPy's bit.
row_sum_numba = RowKernel(_row_sum)


def row_sum(x: np.ndarray) -> np.ndarray:
    """``x.sum(axis=-1)``, by the kernel where it applies (it shows the plan replays NumPy's
    order; the softmax kernels fuse the same sum with their element loops)."""
    flat = use_kernel(x) if _last_axis(-1, x) else None
    if flat is None:
        return x.sum(axis=-1)
    x2 = _as_rows(flat[0], x)
    out = np.empty(x2.shape[0], x.dtype)
    row_sum_numba(x.size, x2, x2, out)
    return out.reshape(x.shape[:-1])


# -- softmax forward -----------------------------------------------------------------------


def softmax_numpy(x: np.ndarray, dim: int) -> np.ndarray:
    """y = e / Σ e along ``dim``, e = exp(x - max x)."""
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


def shift_by_max_numpy(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(x - m, m) with m = max x along ``dim`` (kept as a dim of size 1): the shift that
    keeps every exp of softmax, log-softmax and cross-entropy at most 1."""
    m = x.max(axis=dim, keepdims=True)
    return np.subtract(x, m), m


def _shift_by_max(loop):
    def shift_by_max(x, out, maxes):
        for r in loop(x.shape[0]):
            xr, o = x[r], out[r]
            m, nan = xr[0], xr[0] != xr[0]
            for j in range(1, xr.size):
                v = xr[j]
                m = v if v > m else m
                nan |= v != v  # a flag, not a branch in the select: 4× faster
            if nan:  # np.max's rule: a NaN wins
                for j in range(xr.size):
                    if xr[j] != xr[j]:
                        m = xr[j]
                        break
            maxes[r] = m
            for j in range(xr.size):
                o[j] = xr[j] - m

    return shift_by_max


#: :func:`shift_by_max_numpy` along the last axis, one visit of each row for both.
shift_by_max_numba = Kernel(_shift_by_max)


def shift_by_max(x: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`shift_by_max_numpy`, by the kernel along a last axis it can take."""
    flat = use_kernel(x) if _last_axis(dim, x) else None
    if flat is None:
        return shift_by_max_numpy(x, dim)
    x2 = _as_rows(flat[0], x)
    out, maxes = np.empty_like(x2), np.empty(x2.shape[0], x.dtype)
    shift_by_max_numba(x.size, x2, out, maxes)
    return out.reshape(x.shape), maxes.reshape(x.shape[:-1] + (1,))


def _softmax_normalize(loop, planned):
    _helpers()

    def softmax_normalize(e, blocks, adds, scratch):
        for r in loop(e.shape[0]):
            er = e[r]
            if planned:
                s = _planned_sum(e, r, blocks, adds, scratch)
            else:
                s = _block_sum(e, r, 0, er.size)
            for j in range(er.size):
                er[j] = er[j] / s

    return softmax_normalize


#: e = e / Σ e per row, in place; the sum in NumPy's order.
softmax_normalize_numba = RowKernel(_softmax_normalize)


def softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """:func:`softmax_numpy`: by the kernels (shift, NumPy's ``exp`` in place, normalise)
    along a last axis that a kernel can take, else the reference."""
    flat = use_kernel(x) if _last_axis(dim, x) else None
    if flat is None:
        return softmax_numpy(x, dim)
    x2 = _as_rows(flat[0], x)
    out = np.empty_like(x2)
    shift_by_max_numba(x.size, x2, out, np.empty(x2.shape[0], x.dtype))
    np.exp(out, out=out)
    softmax_normalize_numba(x.size, out, out)
    return out.reshape(x.shape)


def log_softmax_numpy(x: np.ndarray, dim: int) -> np.ndarray:
    """y = (x - m) - ln Σ exp(x - m) along ``dim``, m = max x."""
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=dim, keepdims=True))


def log_softmax(x: np.ndarray, dim: int) -> np.ndarray:
    """:func:`log_softmax_numpy`: the shift and the row sums by kernels, ``exp``, ``log`` and
    the last subtraction (in place) by NumPy, along a last axis a kernel can take; else the
    reference."""
    flat = use_kernel(x) if _last_axis(dim, x) else None
    if flat is None:
        return log_softmax_numpy(x, dim)
    shifted, _ = shift_by_max(x, -1)
    e = _as_rows(np.exp(shifted).reshape(-1), x)
    sums = np.empty(e.shape[0], x.dtype)
    row_sum_numba(x.size, e, e, sums)
    log_sums = np.log(sums).reshape(x.shape[:-1] + (1,))
    return np.subtract(shifted, log_sums, out=shifted)


# -- backward ------------------------------------------------------------------------------


def softmax_backward_numpy(g, y, dim: int):
    """dx = y ⊙ (g - Σ g ⊙ y) along ``dim``, from softmax's output y."""
    return y * (g - (g * y).sum(axis=dim, keepdims=True))


def _softmax_backward(loop, planned):
    _helpers()

    def softmax_backward(g, y, out, blocks, adds, scratch):
        for r in loop(y.shape[0]):
            gr, yr, o = g[r], y[r], out[r]
            for j in range(yr.size):
                o[j] = gr[j] * yr[j]
            if planned:
                d = _planned_sum(out, r, blocks, adds, scratch)
            else:
                d = _block_sum(out, r, 0, o.size)
            for j in range(yr.size):
                o[j] = yr[j] * (gr[j] - d)

    return softmax_backward


#: :func:`softmax_backward_numpy` one row at a time (the row's g ⊙ y kept in ``out``).
softmax_backward_numba = RowKernel(_softmax_backward)


def softmax_backward(g, y, dim: int):
    """:func:`softmax_backward_numpy`, by the kernel where it applies."""
    flat = use_kernel(g, y) if _last_axis(dim, y) else None
    if flat is None:
        return softmax_backward_numpy(g, y, dim)
    g2, y2 = _as_rows(flat[0], y), _as_rows(flat[1], y)
    out = np.empty_like(y2)
    softmax_backward_numba(y.size, y2, g2, y2, out)
    return out.reshape(y.shape)


def log_softmax_backward_numpy(g, y, dim: int):
    """dx = g - eʸ Σ g along ``dim``, from log-softmax's output y (eʸ = softmax(x))."""
    return g - np.exp(y) * g.sum(axis=dim, keepdims=True)


def _log_softmax_backward(loop, planned):
    _helpers()

    def log_softmax_backward(g, p, blocks, adds, scratch):
        for r in loop(g.shape[0]):
            gr, pr = g[r], p[r]
            if planned:
                s = _planned_sum(g, r, blocks, adds, scratch)
            else:
                s = _block_sum(g, r, 0, gr.size)
            for j in range(gr.size):
                pr[j] = gr[j] - pr[j] * s

    return log_softmax_backward


#: :func:`log_softmax_backward_numpy` one row at a time, given p = eʸ (overwritten).
log_softmax_backward_numba = RowKernel(_log_softmax_backward)


def log_softmax_backward(g, y, dim: int):
    """:func:`log_softmax_backward_numpy`: eʸ by NumPy's vectorised ``exp``, the rest by the
    kernel, where it applies."""
    flat = use_kernel(g, y) if _last_axis(dim, y) else None
    if flat is None:
        return log_softmax_backward_numpy(g, y, dim)
    p = np.exp(_as_rows(flat[1], y))
    log_softmax_backward_numba(y.size, p, _as_rows(flat[0], y), p)
    return p.reshape(y.shape)
