"""im2col and col2im: a whole convolution as one matrix product.

This is the machinery under :mod:`nnlab.ops.conv`. With input x (N, C, S₁..S_d), weight W
(O, C/G, k₁..k_d), stride s, padding p, dilation δ and G groups, output channel o of
group g sums over that group's input channels c and the kernel offsets κ:

    y[n, o, l] = b[o] + Σ_c Σ_κ W[o, c, κ] · x_pad[n, g·C/G + c, s·l + δ·κ]

(l, κ are d-dim indices). Each output dim has size

    L = ⌊(S + 2p − δ(k − 1) − 1) / s⌋ + 1

**im2col.** Gathering, for every kernel offset κ, the strided window x_pad[:, :, s·l + δ·κ]
into row block κ of a matrix turns the whole convolution into ONE matrix product. The
matrix is laid out K-major, (C·K, N·L) with K = Πk and L = ΠLᵢ: its rows are (channel,
offset) pairs in W's own order, its columns every (image, output position). Then

    Y = W₂ · X_col        W₂ = W.reshape(O, C/G·K),  Y (O, N·L)

one GEMM (G of them with groups, stacked), instead of a batch of N small ones. X_col is
built by K slice copies (a loop over kernel offsets only, never over pixels; for 2-d
convolutions :mod:`nnlab.kernels.im2col` runs the copies and slice-adds as compiled loops,
on several threads for large inputs), and kept for the weight gradient. With G = dL/dY as
an (O, N·L) matrix:

    dL/dW = G · X_colᵀ                 (a GEMM, straight into W's layout)
    dL/db = G · 1                      (a GEMV)
    dL/dx = col2im(W₂ᵀ · G)            (col2im: K slice-adds, the adjoint of the copies)

Arrays are kept channel-first in memory, (C, N, S..): that is the layout both im2col and
col2im read and write, so the output is returned as a transposed *view* (N, O, L..) of the
GEMM result, with no copy, and the next layer's im2col reads it without one either.

Transposed convolution runs the same two steps the other way round: its forward is
col2im(W₂ᵀ·X), its backward im2col of the output gradient then W₂·col.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from nnlab.kernels import im2col as im2col_kernels

__all__ = [
    "ConvGeometry", "grouped_mm", "grouped_mm_bt", "FOLD_BLOCK_BYTES", "WIDE_MAX_GROWTH", "Pads",
]  # fmt: skip

Pads = tuple[tuple[int, int], ...]

#: The input gradient's col2im consumes W₂ᵀ·G (as large as X_col) in blocks of kernel
#: offsets of at most this size: one large GEMM per block keeps both BLAS threads busy,
#: the cap bounds the memory of the backward.
FOLD_BLOCK_BYTES = 16 * 2**20

#: The widest column layout (see ``ConvGeometry``) worth its extra GEMM work.
WIDE_MAX_GROWTH = 1.5


def _stack(a: np.ndarray, groups: int) -> np.ndarray:
    """(G·m, n) → (G, m, n): the per-group blocks of a matrix."""
    return a.reshape(groups, a.shape[0] // groups, a.shape[1])


def grouped_mm(a: np.ndarray, b: np.ndarray, groups: int, ta: bool = False, tb: bool = False):
    """Block-diagonal product: per group, op(a) @ op(b), with op = transpose when ``ta`` /
    ``tb`` (a view: BLAS reads it with a transpose flag). a, b are (G·m, n) matrices."""
    if groups == 1:
        return (a.T if ta else a) @ (b.T if tb else b)
    a3, b3 = _stack(a, groups), _stack(b, groups)
    out = np.matmul(a3.swapaxes(1, 2) if ta else a3, b3.swapaxes(1, 2) if tb else b3)
    return out.reshape(-1, out.shape[-1])


def grouped_mm_bt(a: np.ndarray, b: np.ndarray, groups: int) -> np.ndarray:
    """Per group a @ bᵀ for wide matrices (G·m, L) and (G·n, L), computed as (b @ aᵀ)ᵀ.

    The weight gradient G·X_colᵀ contracts over all N·L output positions. OpenBLAS runs
    such a long, thin product faster with the long operand as the un-transposed left
    factor (``benchmarks/bench_conv.py`` times the convolutions); the result is only
    (m, n)."""
    if groups == 1:
        return (b @ a.T).T
    m, n = a.shape[0] // groups, b.shape[0] // groups
    per_group = grouped_mm(b, a, groups, tb=True).reshape(groups, n, m)  # b_g @ a_gᵀ
    return per_group.swapaxes(1, 2).reshape(groups * m, n)


class ConvGeometry:
    """Where each kernel offset of one convolution reads, and the column layout of X_col.

    Plain layout: the columns of an image are its output positions, L = ΠLᵢ, and offset κ
    reads the strided window x_pad[:, :, s·l + δ·κ]. Its rows are only L_d elements long
    (10 for LeNet's second conv), so a slice copy spends its time stepping between rows.

    Wide layout (stride 1, d ≥ 2): the columns are L₁ × P₂ × … × P_d, every output row
    widened to the padded width. Offset κ then reads ONE contiguous run of the flattened
    padded image, starting at Σ δᵢκᵢ·(Pᵢ₊₁·…·P_d): each copy and slice-add is a single
    long run per (channel, image). The extra columns (P − L per row) hold values that no
    output uses: the forward drops them (a view), the backward sets their gradient to 0.
    The GEMMs grow by ΠPᵢ/ΠLᵢ over dims 2..d (1.125× for 3×3 on 16×16, 1.4× for LeNet's
    second conv), so the wide layout is used only up to ``WIDE_MAX_GROWTH``, where fewer,
    longer copies still outweigh the larger GEMMs. A little slack after each flattened
    image keeps the last runs inside the array.
    """

    def __init__(self, in_size, kernel, stride, dilation, pads: Pads, out_size) -> None:
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pads, self.out_size = pads, tuple(out_size)
        self.padded = tuple(n + lo + hi for n, (lo, hi) in zip(in_size, pads))
        self.interior = (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(in_size, pads)
        )
        self.offsets = list(itertools.product(*map(range, kernel)))
        # where each offset's window starts (in each dim): the offset times the dilation
        self.origins = np.array([[o * d for o, d in zip(off, self.dilation)]
                                 for off in self.offsets], dtype=np.int64)  # fmt: skip
        k = len(self.offsets)
        self.identity = k == 1 and self.padded == self.out_size  # 1×1, stride 1: X_col = x
        growth = math.prod(self.padded[1:]) / max(1, math.prod(self.out_size[1:]))
        self.wide = (
            len(kernel) > 1 and k > 1 and all(s == 1 for s in stride) and growth <= WIDE_MAX_GROWTH
        )
        if self.wide:
            self.cols = (self.out_size[0],) + self.padded[1:]
            self.run = math.prod(self.cols)
            self.flat = math.prod(self.padded)
            steps = [math.prod(self.padded[i + 1 :]) for i in range(len(kernel))]
            self.starts = self.origins @ np.array(steps, dtype=np.int64)
            self.slack = sum((k - 1) * d * st for k, d, st in zip(kernel, dilation, steps)) - (
                (kernel[0] - 1) * dilation[0] * steps[0]
            )
            self.valid = (slice(None), slice(None)) + tuple(slice(0, n) for n in self.out_size)
        else:
            self.cols = self.out_size

    def _window(self, j: int, buf: np.ndarray) -> np.ndarray:
        """The part of ``buf`` (…, P..) that offset j meets in the plain layout (1-d and 3-d
        convolutions; the 2-d and wide loops are in :mod:`nnlab.kernels.im2col`)."""
        return buf[(Ellipsis,) + tuple(
            slice(o, o + s * (n - 1) + 1, s)
            for o, s, n in zip(self.origins[j], self.stride, self.out_size)
        )]  # fmt: skip

    def pad_input(self, x: np.ndarray) -> np.ndarray:
        """x (N, C, S..) → the channel-first zero-padded array that :meth:`unfold` reads:
        (C, N, P..), or (C, N, flat + slack) in the wide layout. Without padding, in the
        plain layout, a transposed view (no copy)."""
        n, c = x.shape[:2]
        if not self.wide and not any(lo or hi for lo, hi in self.pads):
            return x.swapaxes(0, 1)
        if self.wide:
            store = np.empty((c, n, self.flat + self.slack), dtype=x.dtype)
            store[:, :, self.flat :] = 0
            xp = store[:, :, : self.flat].reshape((c, n) + self.padded)
        else:
            store = xp = np.empty((c, n) + self.padded, dtype=x.dtype)
        xp[self.interior] = x.swapaxes(0, 1)
        for axis, (lo, hi) in enumerate(self.pads):  # zero only the borders
            before = (slice(None),) * (axis + 2)
            if lo:
                xp[before + (slice(0, lo),)] = 0
            if hi:
                xp[before + (slice(self.padded[axis] - hi, None),)] = 0
        return store

    def unfold(self, xp: np.ndarray) -> np.ndarray:
        """im2col: (C·K, N·columns), one slice copy per kernel offset."""
        c, n = xp.shape[:2]
        if self.identity:
            return xp.reshape(c, -1)
        col = np.empty((c, len(self.offsets), n) + self.cols, dtype=xp.dtype)
        if self.wide:
            im2col_kernels.unfold_wide(xp, self.starts, col.reshape(c, len(self.offsets), n, -1))
        elif len(self.kernel) == 2:
            im2col_kernels.unfold_plain(xp, self.origins, self.stride, col)
        else:
            for j in range(len(self.offsets)):
                col[:, j] = self._window(j, xp)
        return col.reshape(c * len(self.offsets), -1)

    def widen(self, g: np.ndarray) -> np.ndarray:
        """g (N, O, L..) → (O, N·columns), zero in the wide layout's extra columns."""
        n, o = g.shape[:2]
        if not self.wide:
            return g.swapaxes(0, 1).reshape(o, -1)  # free for channel-first memory
        wide = np.zeros((o, n) + self.cols, dtype=g.dtype)
        wide[self.valid] = g.swapaxes(0, 1)
        return wide.reshape(o, -1)

    def narrow(self, y2: np.ndarray, n: int, bias: np.ndarray | None = None) -> np.ndarray:
        """(O, N·columns) → (N, O, L..), plus the bias of each output channel. In the wide
        layout a new channel-first array without the extra columns, made in one pass that
        adds the bias (the next elementwise kernel can then take the output whole);
        otherwise a view of y2, the bias added in place."""
        y = y2.reshape((y2.shape[0], n) + self.cols)
        if not self.wide:
            if bias is not None:
                y2 += bias[:, None]
            return y.swapaxes(0, 1)
        out = np.empty((y2.shape[0], n) + self.out_size, dtype=y2.dtype)
        im2col_kernels.narrow_wide(y, bias, out)
        return out.swapaxes(0, 1)

    def fold_product(self, w2: np.ndarray, g2: np.ndarray, groups: int, c: int, n: int):
        """col2im(W₂ᵀ·G), the gradient of x, as (N, C, S..) (a view of the padded buffer).

        W₂ᵀ·G (as large as X_col) is built a block of kernel offsets at a time, at most
        ``FOLD_BLOCK_BYTES``: one GEMM per block, then one slice-add per offset."""
        if self.identity:  # 1×1, stride 1: W₂ᵀ·G is the gradient of the padded input
            padded = grouped_mm(w2, g2, groups, ta=True).reshape((c, n) + self.padded)
            return padded[self.interior].swapaxes(0, 1)
        k, o, cg = len(self.offsets), w2.shape[0], c // groups
        per_offset = c * g2.shape[1] * g2.itemsize
        blocks = -(-k // max(1, min(k, FOLD_BLOCK_BYTES // per_offset)))
        size = -(-k // blocks)  # offsets per block, balanced
        # (G, K, C/G, O/G): per group and offset, the (C/G, O/G) block of W₂ᵀ.
        wt = w2.reshape(groups, o // groups, cg, k).transpose(0, 3, 2, 1)
        g3 = g2.reshape(groups, o // groups, -1)
        if self.wide:
            store = np.zeros((c, n, self.flat + self.slack), dtype=g2.dtype)
        else:
            store = np.zeros((c, n) + self.padded, dtype=g2.dtype)
        target = store.reshape((groups, cg) + store.shape[1:])
        for j0 in range(0, k, size):
            b = min(size, k - j0)
            product = np.matmul(wt[:, j0 : j0 + b].reshape(groups, b * cg, -1), g3)
            product = product.reshape((groups, b, cg, n) + (self.run,) if self.wide else
                                      (groups, b, cg, n) + self.cols)  # fmt: skip
            if self.wide:
                im2col_kernels.fold_wide(product, self.starts[j0 : j0 + b], target)
            elif len(self.kernel) == 2:
                stride = self.stride
                im2col_kernels.fold_plain(product, self.origins[j0 : j0 + b], stride, target)
            else:
                for i in range(b):
                    self._window(j0 + i, target)[...] += product[:, i]
        if self.wide:
            store = store[:, :, : self.flat].reshape((c, n) + self.padded)
        return store[self.interior].swapaxes(0, 1)
