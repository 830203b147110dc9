"""Attention's masked softmax and its backward, on the key-major score buffer of
:mod:`nnlab.ops.attention`.

The attention op keeps the scores transposed: a buffer (S, …, L) whose 2-d view
``cols`` (S, C), C = (batch·heads)·L, holds one query per column and one key per row. The
softmax runs down the columns:

    P = softmax(Sᵀ + Bᵀ) per column:   x = Sᵀ + Bᵀ,  m = max x,  e = exp(x - m),  P = e · (1/Σ e)

and its backward, given dP in the same layout (times dropout's mask M, if any):
dS = P ⊙ (dP - Σ P ⊙ dP) per column. With
``zero_empty`` (PyTorch's SDPA), a column whose every key is masked (m = -∞) is shifted by
0 and divided by 1, so it gives P = 0 instead of NaN.

As in :mod:`nnlab.kernels.softmax`, each computation has a NumPy reference
(``<name>_numpy``, what the op computed before), a :class:`~nnlab.kernels.runtime.Kernel`
(``<name>_numba``) and a dispatcher (``<name>``). The kernels fuse, per tile of columns
(:data:`TILE` queries: whole (batch, head) blocks, or part of one, with all their keys,
kept in cache between the tile's passes): the mask addition, the column maximum and the
shift in one kernel; the column sum and the normalisation in a second; ``exp`` stays
NumPy's vectorised ufunc in place between them (numba's scalar ``exp`` is 5× slower here).
The backward fuses dP ⊙ M, the column sums of P ⊙ dP and the update. Tiles are split
across threads.

**Why columns, not softmax's row kernels.** The reductions here run down the columns, so
each step of the kernels is one vector operation across a row of C contiguous queries; the
row kernels of :mod:`nnlab.kernels.softmax` (a horizontal pairwise sum per row of 128 keys)
took 1.5 ms on the MiniLM encoder's 96 × 128 × 128 scores where this layout takes 0.9 ms
in plain NumPy and 0.55 ms in these kernels, plus 0.5 ms of ``exp`` for either (one
thread, measured on a loaded machine).

**Bits.** NumPy sums down axis 0 of a C-contiguous matrix one row after another, from 0
(the output row accumulates ``out += x[i]``; pairwise summation applies only along a
contiguous reduced axis), and the kernels add in that order: the results are the reference's to the
bit, float32 and float64 (the tests check it). With a single column NumPy's iterator
reduces a contiguous axis pairwise instead, so one-column buffers take the reference. The
maximum's order does not matter; NaN wins as in ``np.max``. (The op summed with a GEMV
before, ``ones @ cols``, whose order BLAS chooses; the reference sums with ``sum(axis=0)``
instead, which can be replayed and took about as long.)

The mask B is any array broadcastable to (…, L, S) of the scores' dtype (other dtypes take
the reference). The kernels read it as :func:`bias_table`'s compact (S, blocks, 1 or L)
table, with the (batch, head) block of each score block: the key-padding mask of BERT
(N, 1, 1, S) is 8 columns of 128 keys, not a full (N, H, L, S) copy.
"""

from __future__ import annotations

import numpy as np

from nnlab.kernels import KERNEL_DTYPES, get_backend
from nnlab.kernels.runtime import Kernel, load_numba

__all__ = [
    "TILE",
    "bias_table",
    "masked_softmax",
    "masked_softmax_numpy",
    "masked_shift_numba",
    "column_normalize_numba",
    "softmax_columns_backward",
    "softmax_columns_backward_numba",
    "softmax_columns_backward_numpy",
]

#: Queries (columns) per tile: with 128 keys a float32 tile is 256 KB, kept in L2 between
#: the kernels' passes over it (128 to 2048 measured; 512 was fastest).
TILE = 512


def _columns(buf: np.ndarray) -> np.ndarray:
    """The (S, C) view of a key-major buffer (S, …, L)."""
    return buf.reshape(buf.shape[0], -1)


# -- forward -------------------------------------------------------------------------------


def masked_softmax_numpy(buf: np.ndarray, bias, zero_empty: bool) -> None:
    """In place on the key-major scores ``buf`` (S, …, L) (see the module docstring):
    x = Sᵀ + Bᵀ, m = max x down each column (with ``zero_empty`` and a mask, m = 0 where
    m = -∞), e = exp(x - m), z = Σ e (with ``zero_empty`` and a mask, z = 1 where z = 0),
    P = e · (1/z). ``bias`` is None or B, broadcastable to (…, L, S); ``buf`` must be
    C-contiguous (the op's fresh buffer: its (S, C) view is then a view)."""
    if bias is not None:
        np.moveaxis(buf, 0, -2)[...] += np.swapaxes(bias, -1, -2)
    cols = _columns(buf)
    m = cols.max(axis=0)
    empty = zero_empty and bias is not None
    if empty:
        m[m == -np.inf] = 0  # exp(-∞ - 0) = 0: an empty column gives 0, not 0/0
    with np.errstate(invalid="ignore"):  # otherwise -∞ - (-∞) gives the NaN torch's MHA returns
        cols -= m
    np.exp(cols, out=cols)
    z = cols.sum(axis=0)
    if empty:
        z[z == 0] = 1
    cols *= 1 / z


def bias_table(bias: np.ndarray, lead: tuple[int, ...], L: int, S: int):
    """The mask B (…, L', S') broadcastable to lead + (L, S), as the kernels read it:
    ``table`` (S, nb, L'), C-contiguous, with B's nb distinct leading blocks and L' ∈ {1, L}
    (B the same for every query, or not), and ``block`` (prod(lead),), the table block of
    each (batch, head) score block."""
    b = bias.reshape((1,) * (len(lead) + 2 - bias.ndim) + bias.shape)
    blead = b.shape[:-2]
    nb = int(np.prod(blead, dtype=np.int64))
    block = np.broadcast_to(np.arange(nb, dtype=np.int64).reshape(blead), lead).reshape(-1)
    b3 = np.broadcast_to(b.reshape((nb,) + b.shape[-2:]), (nb, b.shape[-2], S))
    return np.ascontiguousarray(b3.transpose(2, 0, 1)), np.ascontiguousarray(block)


def tile_py(t, L, n_blocks, span):
    """Tile ``t``'s score blocks [b0, b1) and queries [j0, j1) within each: ``span``
    (> 0) whole blocks of L < :data:`TILE` queries, or for ``span`` = 0 a run of at most
    TILE queries of one block. Compiled as ``_tile``."""
    if span == 0:
        per_block = (L + TILE - 1) // TILE
        b0, j0 = t // per_block, (t % per_block) * TILE
        return b0, b0 + 1, j0, min(L, j0 + TILE)
    b0 = t * span
    return b0, min(n_blocks, b0 + span), 0, L


def _tiles(L: int, n_blocks: int) -> tuple[int, int]:
    """(span, number of tiles) for :func:`tile_py`."""
    if L >= TILE:
        return 0, n_blocks * ((L + TILE - 1) // TILE)
    span = TILE // L
    return span, (n_blocks + span - 1) // span


_tile = None  # tile_py compiled, set at the first kernel's build


def _helpers() -> None:
    """Compile :func:`tile_py` into the module global the kernels call (a global, not a
    closure variable, so the kernels' cache keys stay fixed)."""
    global _tile
    if _tile is None:
        njit = load_numba().njit(cache=True, error_model="numpy", nogil=True, inline="always")
        _tile = njit(tile_py)


# The kernels slice each row to the tile and index the slices from 0: LLVM vectorises
# those loops, not ones indexed from a runtime offset (numba wraps negative indices, and
# an offset might be negative as far as it knows), which ran 6x slower.


def _masked_shift(loop):
    _helpers()

    def masked_shift(cols, L, span, n_tiles, table, block, zero_empty, m):
        S = cols.shape[0]
        n_blocks = cols.shape[1] // L
        per_query = table.shape[2] != 1
        for t in loop(n_tiles):
            b0, b1, j0, j1 = _tile(t, L, n_blocks, span)
            lo, hi = b0 * L + j0, (b1 - 1) * L + j1
            mt = m[lo:hi]
            # Starting from -∞ gives the maximum of the first row itself, NaN included.
            for c in range(mt.size):
                mt[c] = -np.inf
            # The two kinds of mask in separate loop nests: a branch between them inside
            # the nest kept LLVM from vectorising either (3x slower). Each loop stores to
            # one array (two stores to arrays that might alias, as far as LLVM knows, ran
            # 1.3x slower): the maximum of x = s + b first, then x - m with x recomputed.
            if per_query:
                for i in range(S):
                    for b in range(b0, b1):
                        seg, ms = cols[i, b * L + j0 : b * L + j1], m[b * L + j0 : b * L + j1]
                        bias = table[i, block[b], j0:j1]
                        for c in range(seg.size):
                            a, x = ms[c], seg[c] + bias[c]
                            ms[c] = a if (a >= x) | (a != a) else x  # a NaN wins, as np.max
            else:
                for i in range(S):
                    for b in range(b0, b1):
                        seg, ms = cols[i, b * L + j0 : b * L + j1], m[b * L + j0 : b * L + j1]
                        v = table[i, block[b], 0]
                        for c in range(seg.size):
                            a, x = ms[c], seg[c] + v
                            ms[c] = a if (a >= x) | (a != a) else x
            if zero_empty:
                zero = m.dtype.type(0)
                for c in range(mt.size):
                    mt[c] = zero if mt[c] == -np.inf else mt[c]
            if per_query:
                for i in range(S):
                    for b in range(b0, b1):
                        seg, ms = cols[i, b * L + j0 : b * L + j1], m[b * L + j0 : b * L + j1]
                        bias = table[i, block[b], j0:j1]
                        for c in range(seg.size):
                            seg[c] = (seg[c] + bias[c]) - ms[c]
            else:
                for i in range(S):
                    for b in range(b0, b1):
                        seg, ms = cols[i, b * L + j0 : b * L + j1], m[b * L + j0 : b * L + j1]
                        v = table[i, block[b], 0]
                        for c in range(seg.size):
                            seg[c] = (seg[c] + v) - ms[c]

    return masked_shift


#: x = Sᵀ + Bᵀ, m = max x, x - m per column, in place, tile by tile (the forward's first
#: half). ``m`` is scratch (C,).
masked_shift_numba = Kernel(_masked_shift)


def _column_normalize(loop):
    _helpers()

    def column_normalize(cols, L, span, n_tiles, zero_empty, z):
        S = cols.shape[0]
        n_blocks = cols.shape[1] // L
        zero, one = z.dtype.type(0), z.dtype.type(1)
        for t in loop(n_tiles):
            b0, b1, j0, j1 = _tile(t, L, n_blocks, span)
            lo, hi = b0 * L + j0, (b1 - 1) * L + j1
            zt, row = z[lo:hi], cols[0, lo:hi]
            for c in range(zt.size):
                zt[c] = zero + row[c]  # NumPy's sum starts from 0 (-0 becomes +0)
            for i in range(1, S):
                row = cols[i, lo:hi]
                for c in range(zt.size):
                    zt[c] = zt[c] + row[c]  # NumPy's order: one row after another
            for c in range(zt.size):
                s = zt[c]
                if zero_empty:
                    s = one if s == 0 else s
                zt[c] = one / s
            for i in range(S):
                row = cols[i, lo:hi]
                for c in range(zt.size):
                    row[c] = row[c] * zt[c]

    return column_normalize


#: e · (1/Σ e) per column, in place, tile by tile (the forward's second half). ``z`` is
#: scratch (C,).
column_normalize_numba = Kernel(_column_normalize)


def _kernel_buffer(buf) -> bool:
    """Whether the kernels can take the key-major buffer: NumPy, float32/float64,
    C-contiguous, at least two columns (one column NumPy sums pairwise) and one key."""
    return (
        get_backend() == "numba"
        and type(buf) is np.ndarray
        and buf.dtype in KERNEL_DTYPES
        and buf.ndim >= 2
        and buf.flags.c_contiguous
        and buf.shape[0] > 0
        and buf.shape[-1] > 0
        and buf.size // buf.shape[0] >= 2
    )


def masked_softmax(buf: np.ndarray, bias, zero_empty: bool) -> None:
    """:func:`masked_softmax_numpy`, by the two kernels around NumPy's ``exp`` where they
    take the buffer and the mask (a NumPy array of the buffer's dtype), else the
    reference."""
    if not _kernel_buffer(buf) or (
        bias is not None
        and (type(bias) is not np.ndarray or bias.dtype != buf.dtype or bias.ndim > buf.ndim)
    ):
        masked_softmax_numpy(buf, bias, zero_empty)
        return
    S, L = buf.shape[0], buf.shape[-1]
    cols = _columns(buf)
    lead = buf.shape[1:-1]
    if bias is None:
        # No mask as a mask of +0: s + 0 is s but for -0, which becomes +0; the shift and
        # exp then give exactly the reference's values (exp(±0) = 1), and the tests hold
        # the softmax to its bits.
        table = np.zeros((S, 1, 1), buf.dtype)
        block = np.zeros(int(np.prod(lead, dtype=np.int64)), np.int64)
    else:
        table, block = bias_table(bias, lead, L, S)
    span, n_tiles = _tiles(L, cols.shape[1] // L)
    scratch = np.empty(cols.shape[1], buf.dtype)
    empty = zero_empty and bias is not None
    masked_shift_numba(buf.size, cols, L, span, n_tiles, table, block, empty, scratch)
    np.exp(cols, out=cols)
    column_normalize_numba(buf.size, cols, L, span, n_tiles, empty, scratch)


# -- backward ------------------------------------------------------------------------------


def softmax_columns_backward_numpy(p: np.ndarray, d: np.ndarray, mask=None) -> None:
    """dS = P ⊙ (dP - Σ P ⊙ dP) down each column of the (S, C) matrices, in place on
    ``d`` (dP in, dS out); with dropout's ``mask`` M (S, C), dP ⊙ M in place of dP."""
    if mask is not None:
        d *= mask
    d -= (p * d).sum(axis=0)
    d *= p


def _softmax_columns_backward(loop):
    _helpers()

    def softmax_columns_backward(p, d, L, span, n_tiles, has_mask, mask, s):
        S = p.shape[0]
        n_blocks = p.shape[1] // L
        zero = s.dtype.type(0)
        for t in loop(n_tiles):
            b0, b1, j0, j1 = _tile(t, L, n_blocks, span)
            lo, hi = b0 * L + j0, (b1 - 1) * L + j1
            st = s[lo:hi]
            # NumPy's sum: from 0, one row after another. With a mask, dP ⊙ M is computed
            # in both passes rather than stored (the same bits, one store per loop), in
            # its own loop nest (see masked_shift).
            for c in range(st.size):
                st[c] = zero
            if has_mask:
                for i in range(S):
                    pr, dr, mr = p[i, lo:hi], d[i, lo:hi], mask[i, lo:hi]
                    for c in range(st.size):
                        st[c] = st[c] + pr[c] * (dr[c] * mr[c])
                for i in range(S):
                    pr, dr, mr = p[i, lo:hi], d[i, lo:hi], mask[i, lo:hi]
                    for c in range(st.size):
                        dr[c] = (dr[c] * mr[c] - st[c]) * pr[c]
            else:
                for i in range(S):
                    pr, dr = p[i, lo:hi], d[i, lo:hi]
                    for c in range(st.size):
                        st[c] = st[c] + pr[c] * dr[c]
                for i in range(S):
                    pr, dr = p[i, lo:hi], d[i, lo:hi]
                    for c in range(st.size):
                        dr[c] = (dr[c] - st[c]) * pr[c]

    return softmax_columns_backward


#: :func:`softmax_columns_backward_numpy` tile by tile; ``s`` is scratch (C,).
softmax_columns_backward_numba = Kernel(_softmax_columns_backward)


def softmax_columns_backward(p: np.ndarray, d: np.ndarray, L: int, mask=None) -> None:
    """:func:`softmax_columns_backward_numpy` on the (S, C) views of key-major buffers with
    L queries per (batch, head) block, by the kernel where it takes them."""
    if not (
        _kernel_buffer(p)
        and p.ndim == 2
        and L > 0
        and p.shape[1] % L == 0
        and all(
            type(a) is np.ndarray
            and a.dtype == p.dtype
            and a.shape == p.shape
            and a.flags.c_contiguous
            for a in ((d,) if mask is None else (d, mask))
        )
    ):
        softmax_columns_backward_numpy(p, d, mask)
        return
    span, n_tiles = _tiles(L, p.shape[1] // L)
    has_mask = mask is not None
    mask = mask if has_mask else np.empty((1, 1), p.dtype)
    scratch = np.empty(p.shape[1], p.dtype)
    softmax_columns_backward_numba(p.size, p, d, L, span, n_tiles, has_mask, mask, scratch)
