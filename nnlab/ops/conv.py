"""Convolution in 1, 2 or 3 spatial dims, and transposed convolution as its adjoint.

One implementation serves every dimensionality d. With input x (N, C, S₁..S_d), weight W
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
built by K slice copies (a loop over kernel offsets only, never over pixels), and kept for
the weight gradient. With G = dL/dY as an (O, N·L) matrix:

    dL/dW = G · X_colᵀ                 (a GEMM, straight into W's layout)
    dL/db = G · 1                      (a GEMV)
    dL/dx = col2im(W₂ᵀ · G)            (col2im: K slice-adds, the adjoint of the copies)

Arrays are kept channel-first in memory, (C, N, S..): that is the layout both im2col and
col2im read and write, so the output is returned as a transposed *view* (N, O, L..) of the
GEMM result, with no copy, and the next layer's im2col reads it without one either.

**Transposed convolution** (``conv_transpose*``) is the adjoint of convolution: its
forward is the convolution's input-gradient computation (W₂ᵀ·X then col2im), and its
backward is a convolution (im2col of the output gradient, then W₂·col). Its weight is
stored (C_in, C_out/G, k..), the layout of the convolution it is the adjoint of, and each
output dim has size

    S = (L − 1)·s − 2p + δ(k − 1) + output_padding + 1

``conv_composed`` builds the same convolution from primitive ops (pad, slicing, matmul,
add), slowly; the tests compare the fused op with it and with PyTorch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops.padding import pad as _pad
from nnlab.ops.shape import reshape
from nnlab.tensor import Tensor

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_output_size", "conv_transpose_output_size", "conv_composed",
]  # fmt: skip

Pads = tuple[tuple[int, int], ...]

#: The input gradient's col2im consumes W₂ᵀ·G (as large as X_col) in blocks of kernel
#: offsets of at most this size: one large GEMM per block keeps both BLAS threads busy,
#: the cap bounds the memory of the backward.
FOLD_BLOCK_BYTES = 16 * 2**20

#: The widest column layout (see ``_Geometry``) worth its extra GEMM work.
WIDE_MAX_GROWTH = 1.5


# -- the machinery: one convolution's geometry, im2col, col2im, grouped GEMM -------------


def _stack(a: np.ndarray, groups: int) -> np.ndarray:
    """(G·m, n) → (G, m, n): the per-group blocks of a matrix."""
    return a.reshape(groups, a.shape[0] // groups, a.shape[1])


def _mm(a: np.ndarray, b: np.ndarray, groups: int, ta: bool = False, tb: bool = False):
    """Block-diagonal product: per group, op(a) @ op(b), with op = transpose when ``ta`` /
    ``tb`` (a view: BLAS reads it with a transpose flag). a, b are (G·m, n) matrices."""
    if groups == 1:
        return (a.T if ta else a) @ (b.T if tb else b)
    a3, b3 = _stack(a, groups), _stack(b, groups)
    out = np.matmul(a3.swapaxes(1, 2) if ta else a3, b3.swapaxes(1, 2) if tb else b3)
    return out.reshape(-1, out.shape[-1])


def _mm_bt(a: np.ndarray, b: np.ndarray, groups: int) -> np.ndarray:
    """Per group a @ bᵀ for wide matrices (G·m, L) and (G·n, L), computed as (b @ aᵀ)ᵀ.

    The weight gradient G·X_colᵀ contracts over all N·L output positions. OpenBLAS was
    twice as fast here with the long operand as the un-transposed left factor (measured on
    LeNet's convolutions: 1.2 → 0.6 ms and 0.64 → 0.35 ms); the result is only (m, n)."""
    if groups == 1:
        return (b @ a.T).T
    m, n = a.shape[0] // groups, b.shape[0] // groups
    per_group = _mm(b, a, groups, tb=True).reshape(groups, n, m)  # b_g @ a_gᵀ
    return per_group.swapaxes(1, 2).reshape(groups * m, n)


class _Geometry:
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
    second conv), so the wide layout is used only up to ``WIDE_MAX_GROWTH``. Measured on
    LeNet's second conv it saves 20% of the forward and 10% of forward + backward. A
    little slack after each flattened image keeps the last runs inside the array.
    """

    def __init__(self, in_size, kernel, stride, dilation, pads: Pads, out_size) -> None:
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.pads, self.out_size = pads, tuple(out_size)
        self.padded = tuple(n + lo + hi for n, (lo, hi) in zip(in_size, pads))
        self.interior = (slice(None), slice(None)) + tuple(
            slice(lo, lo + n) for n, (lo, _) in zip(in_size, pads)
        )
        self.offsets = list(itertools.product(*map(range, kernel)))
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
            self.starts = [sum(o * d * st for o, d, st in zip(off, dilation, steps))
                           for off in self.offsets]  # fmt: skip
            self.slack = sum((k - 1) * d * st for k, d, st in zip(kernel, dilation, steps)) - (
                (kernel[0] - 1) * dilation[0] * steps[0]
            )
            self.valid = (slice(None), slice(None)) + tuple(slice(0, n) for n in self.out_size)
        else:
            self.cols = self.out_size

    def _window(self, j: int, buf: np.ndarray) -> np.ndarray:
        """The part of ``buf`` (…, P..) or, wide, (…, flat + slack) that offset j meets."""
        if self.wide:
            return buf[..., self.starts[j] : self.starts[j] + self.run]
        return buf[(Ellipsis,) + tuple(
            slice(o * d, o * d + s * (n - 1) + 1, s)
            for o, s, d, n in zip(self.offsets[j], self.stride, self.dilation, self.out_size)
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
        flat = col.reshape(c, len(self.offsets), n, -1) if self.wide else col
        for j in range(len(self.offsets)):
            flat[:, j] = self._window(j, xp)
        return col.reshape(c * len(self.offsets), -1)

    def widen(self, g: np.ndarray) -> np.ndarray:
        """g (N, O, L..) → (O, N·columns), zero in the wide layout's extra columns."""
        n, o = g.shape[:2]
        if not self.wide:
            return g.swapaxes(0, 1).reshape(o, -1)  # free for channel-first memory
        wide = np.zeros((o, n) + self.cols, dtype=g.dtype)
        wide[self.valid] = g.swapaxes(0, 1)
        return wide.reshape(o, -1)

    def narrow(self, y2: np.ndarray, n: int) -> np.ndarray:
        """(O, N·columns) → (N, O, L..), a view without the wide layout's extra columns."""
        y = y2.reshape((y2.shape[0], n) + self.cols)
        return (y[self.valid] if self.wide else y).swapaxes(0, 1)

    def fold_product(self, w2: np.ndarray, g2: np.ndarray, groups: int, c: int, n: int):
        """col2im(W₂ᵀ·G), the gradient of x, as (N, C, S..) (a view of the padded buffer).

        W₂ᵀ·G (as large as X_col) is built a block of kernel offsets at a time, at most
        ``FOLD_BLOCK_BYTES``: one GEMM per block, then one slice-add per offset."""
        if self.identity:  # 1×1, stride 1: W₂ᵀ·G is the gradient of the padded input
            padded = _mm(w2, g2, groups, ta=True).reshape((c, n) + self.padded)
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
            for i in range(b):
                self._window(j0 + i, target)[...] += product[:, i]
        if self.wide:
            store = store[:, :, : self.flat].reshape((c, n) + self.padded)
        return store[self.interior].swapaxes(0, 1)


class ConvNd(Function):
    """Y = W₂·im2col(x) + b;  dW = G·X_colᵀ,  db = G·1,  dx = col2im(W₂ᵀ·G).

    ``pads`` holds one (before, after) pair per spatial dim (asymmetric for even kernels
    with padding='same'). The backward runs on arrays only (no ``create_graph``).
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups, out_size):
        n, o = x.shape[0], weight.shape[0]
        geom = _Geometry(x.shape[2:], weight.shape[2:], stride, dilation, pads, out_size)
        col = geom.unfold(geom.pad_input(x))
        w2 = weight.reshape(o, -1)
        y2 = _mm(w2, col, groups)
        if bias is not None:
            y2 += bias[:, None]  # a fresh array
        ctx.col = col if ctx.needs_input_grad[1] else None  # Πk × the input: only if needed
        ctx.w2, ctx.geom, ctx.groups = w2, geom, groups
        ctx.x_shape, ctx.w_shape = x.shape, weight.shape
        return geom.narrow(y2, n)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        geom, groups = ctx.geom, ctx.groups
        g2 = geom.widen(g)  # (O, N·columns)
        dx = dw = db = None
        if need_w:
            dw = _mm_bt(g2, ctx.col, groups).reshape(ctx.w_shape)
        if need_b:
            db = g2 @ np.ones(g2.shape[1], dtype=g2.dtype)
        if need_x:
            n, c = ctx.x_shape[:2]
            dx = geom.fold_product(ctx.w2, g2, groups, c, n)
        return dx, dw, db, None, None, None, None, None


class ConvTransposeNd(Function):
    """The adjoint of :class:`ConvNd` (whose input has this op's output size):
    y = col2im(W₂ᵀ·X) + b;  dx = W₂·im2col(G),  dW = X·im2col(G)ᵀ,  db = Σ G.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, out_size):
        n, c_in = x.shape[:2]
        c_out = weight.shape[1] * groups
        pads = tuple((p, p) for p in padding)
        geom = _Geometry(out_size, weight.shape[2:], stride, dilation, pads, x.shape[2:])
        w2 = weight.reshape(c_in, -1)
        x2 = geom.widen(x)  # (C_in, N·columns)
        y = geom.fold_product(w2, x2, groups, c_out, n)
        if bias is not None:
            y += bias.reshape((1, c_out) + (1,) * (x.ndim - 2))  # a view of a fresh buffer
        ctx.x2 = x2 if ctx.needs_input_grad[1] else None
        ctx.w2, ctx.geom, ctx.groups, ctx.w_shape = w2, geom, groups, weight.shape
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        geom, groups = ctx.geom, ctx.groups
        dx = dw = db = None
        if need_x or need_w:
            col = geom.unfold(geom.pad_input(g))  # (C_out·K, N·columns)
            if need_x:
                dx = geom.narrow(_mm(ctx.w2, col, groups), g.shape[0])
            if need_w:
                dw = _mm_bt(ctx.x2, col, groups).reshape(ctx.w_shape)
        if need_b:
            rows = g.swapaxes(0, 1).reshape(g.shape[1], -1)
            db = rows @ np.ones(rows.shape[1], dtype=g.dtype)
        return dx, dw, db, None, None, None, None, None


# -- argument handling shared by the public functions ------------------------------------


def _tuple(name: str, value: Any, d: int, arg: str) -> tuple[int, ...]:
    """An int or a d-sequence of ints as a d-tuple (torch's ``_pair``/``_triple``)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return (int(value),) * d
    if isinstance(value, (tuple, list)) and len(value) == d:
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
            return tuple(int(v) for v in value)
    if isinstance(value, (tuple, list)) and len(value) == 1 and d > 1:
        return _tuple(name, value[0], d, arg)
    raise TypeError(f"{name}: {arg} must be an int or a tuple of {d} ints, got {value!r}")


def conv_output_size(
    size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int] | Pads,
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1 per dim; ``padding`` may hold (before, after) pairs.

    Example:
        >>> conv_output_size((28, 28), (5, 5), (1, 1), (0, 0), (1, 1))
        (24, 24)
        >>> conv_output_size((32,), (3,), (2,), (1,), (1,))
        (16,)
    """
    out = []
    for n, k, s, p, d in zip(size, kernel_size, stride, padding, dilation):
        total = p[0] + p[1] if isinstance(p, tuple) else 2 * p
        out.append((n + total - d * (k - 1) - 1) // s + 1)
    return tuple(out)


def conv_transpose_output_size(
    size: Sequence[int],
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    output_padding: Sequence[int],
    dilation: Sequence[int],
) -> tuple[int, ...]:
    """(L − 1)·s − 2p + δ(k − 1) + output_padding + 1 per dim.

    Example:
        >>> conv_transpose_output_size((12, 12), (5, 5), (2, 2), (2, 2), (1, 1), (1, 1))
        (24, 24)
    """
    return tuple(
        (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        for n, k, s, p, op, d in zip(size, kernel_size, stride, padding, output_padding, dilation)
    )


def _check_common(name: str, x: Tensor, weight: Tensor, bias: Any, d: int) -> None:
    if weight.ndim != d + 2:
        raise RuntimeError(
            f"{name}: weight must be {d + 2}-D (out_channels, in_channels/groups, "
            f"{', '.join('k' + str(i + 1) for i in range(d))}), got shape {tuple(weight.shape)}"
        )
    if x.ndim not in (d + 1, d + 2):
        raise RuntimeError(
            f"{name}: expected a {d + 1}-D (unbatched) or {d + 2}-D (batched) input, got shape "
            f"{tuple(x.shape)}"
        )
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise TypeError(
            f"{name}: input dtype {x.dtype} and weight dtype {weight.dtype} differ; convert one "
            "of them (e.g. model.double() or x.float())"
        )


def _size_error(name: str, x_shape, out, detail: str) -> RuntimeError:
    return RuntimeError(
        f"{name}: input of shape {tuple(x_shape)} gives an output of spatial size {out}, "
        f"which has a dim ≤ 0: {detail}; use a larger input, more padding or a smaller kernel"
    )


def _batched(x: Tensor, d: int) -> tuple[Tensor, bool]:
    if x.ndim == d + 1:
        return reshape(x, (1,) + x.shape), True
    return x, False


def _conv(
    name: str, d: int, x: Tensor, weight: Tensor, bias: Any, stride: Any, padding: Any,
    dilation: Any, groups: int,
) -> Tensor:  # fmt: skip
    _check_common(name, x, weight, bias, d)
    stride = _tuple(name, stride, d, "stride")
    dilation = _tuple(name, dilation, d, "dilation")
    kernel = tuple(weight.shape[2:])
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError(
                    f"{name}: padding='same' is not supported for strided convolutions"
                )
            # Total δ(k-1) split as torch does: the extra unit of an odd total goes after.
            totals = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            pads = tuple((t // 2, t - t // 2) for t in totals)
        else:
            raise RuntimeError(f"{name}: padding must be 'same', 'valid' or ints, got {padding!r}")
    else:
        pads = tuple((p, p) for p in _tuple(name, padding, d, "padding"))
    if any(v <= 0 for v in stride + dilation) or any(lo < 0 for lo, _ in pads):
        raise RuntimeError(
            f"{name}: stride and dilation must be positive and padding non-negative, got "
            f"stride={stride}, padding={padding}, dilation={dilation}"
        )
    if not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"{name}: groups must be a positive int, got {groups!r}")
    x, unbatched = _batched(x, d)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_out % groups:
        raise RuntimeError(
            f"{name}: out_channels={c_out} (weight dim 0) is not divisible by groups={groups}"
        )
    if c_in != weight.shape[1] * groups:
        raise RuntimeError(
            f"{name}: weight of shape {tuple(weight.shape)} with groups={groups} expects an input "
            f"with {weight.shape[1] * groups} channels, but the input of shape {tuple(x.shape)} "
            f"has {c_in} (dim 1)"
        )
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise RuntimeError(f"{name}: bias must have shape ({c_out},), got {tuple(bias.shape)}")
    out_size = conv_output_size(x.shape[2:], kernel, stride, pads, dilation)
    if any(n <= 0 for n in out_size):
        raise _size_error(
            name, x.shape, out_size,
            f"each output dim is ⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1 with S={x.shape[2:]}, "
            f"padding={pads}, dilation={dilation}, kernel_size={kernel}, stride={stride}",
        )  # fmt: skip
    y = ConvNd.apply(x, weight, bias, stride, pads, dilation, groups, out_size)
    return reshape(y, y.shape[1:]) if unbatched else y


def _conv_transpose(
    name: str, d: int, x: Tensor, weight: Tensor, bias: Any, stride: Any, padding: Any,
    output_padding: Any, groups: int, dilation: Any,
) -> Tensor:  # fmt: skip
    _check_common(name, x, weight, bias, d)
    stride = _tuple(name, stride, d, "stride")
    padding = _tuple(name, padding, d, "padding")
    output_padding = _tuple(name, output_padding, d, "output_padding")
    dilation = _tuple(name, dilation, d, "dilation")
    if any(v <= 0 for v in stride + dilation) or any(v < 0 for v in padding + output_padding):
        raise RuntimeError(
            f"{name}: stride and dilation must be positive, padding and output_padding "
            f"non-negative, got stride={stride}, padding={padding}, "
            f"output_padding={output_padding}, dilation={dilation}"
        )
    if any(op >= max(s, dl) for op, s, dl in zip(output_padding, stride, dilation)):
        raise RuntimeError(
            f"{name}: output_padding={output_padding} must be smaller than either stride="
            f"{stride} or dilation={dilation} in each dim"
        )
    if not isinstance(groups, int) or groups < 1:
        raise RuntimeError(f"{name}: groups must be a positive int, got {groups!r}")
    x, unbatched = _batched(x, d)
    c_in = x.shape[1]
    if c_in != weight.shape[0] or c_in % groups:
        raise RuntimeError(
            f"{name}: weight of shape {tuple(weight.shape)} (in_channels, out_channels/groups, "
            f"k..) with groups={groups} expects an input with {weight.shape[0]} channels "
            f"divisible by groups, but the input of shape {tuple(x.shape)} has {c_in} (dim 1)"
        )
    c_out = weight.shape[1] * groups
    if bias is not None and tuple(bias.shape) != (c_out,):
        raise RuntimeError(f"{name}: bias must have shape ({c_out},), got {tuple(bias.shape)}")
    kernel = tuple(weight.shape[2:])
    out_size = conv_transpose_output_size(
        x.shape[2:], kernel, stride, padding, output_padding, dilation
    )
    if any(n <= 0 for n in out_size):
        raise _size_error(
            name, x.shape, out_size,
            f"each output dim is (L − 1)·s − 2p + δ(k − 1) + output_padding + 1 with "
            f"L={x.shape[2:]}, stride={stride}, padding={padding}, dilation={dilation}, "
            f"kernel_size={kernel}, output_padding={output_padding}",
        )  # fmt: skip
    y = ConvTransposeNd.apply(x, weight, bias, stride, padding, dilation, groups, out_size)
    return reshape(y, y.shape[1:]) if unbatched else y


# -- the public functions ----------------------------------------------------------------

_CONV_ARGS = """
    Args:
        input: (N, C_in, {dims}) or unbatched (C_in, {dims}).
        weight: (C_out, C_in/groups, {kdims}).
        bias: (C_out,) or None (default: None).
        stride: step between windows, an int or a tuple (default: 1).
        padding: zeros added on both sides of each spatial dim: an int, a tuple, 'valid'
            (no padding) or 'same' (output as large as the input; stride 1 only; an odd
            total δ(k−1) puts the extra zero after) (default: 0).
        dilation: spacing δ between kernel taps (default: 1).
        groups: split the channels into this many independent convolutions; both channel
            counts must be divisible by it. groups = C_in is a depthwise conv (default: 1).

    Shape:
        - Output: (N, C_out, {odims}), each L = ⌊(S + 2p − δ(k − 1) − 1)/s⌋ + 1.
"""


def conv1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """1-D convolution (``torch.nn.functional.conv1d``): y[n, o, l] = b[o] +
    Σ_c Σ_κ W[o, c, κ]·x_pad[n, c, s·l + δ·κ].

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[1.0, 2.0, 3.0, 4.0]]])
        >>> conv1d(x, nnlab.tensor([[[1.0, -1.0]]]))
        tensor([[[-1., -1., -1.]]])
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """2-D convolution (``torch.nn.functional.conv2d``): y[n, o, i, j] = b[o] +
    Σ_c Σ_(a,b) W[o, c, a, b]·x_pad[n, c, s₁i + δ₁a, s₂j + δ₂b].

    Example:
        >>> import nnlab
        >>> x = nnlab.ones(1, 1, 4, 4)
        >>> conv2d(x, nnlab.ones(2, 1, 3, 3), padding=1, stride=2).shape
        nnlab.Size([1, 2, 2, 2])
        >>> conv2d(x, nnlab.ones(1, 1, 3, 3))
        tensor([[[[9., 9.],
                  [9., 9.]]]])
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """3-D convolution (``torch.nn.functional.conv3d``), e.g. over video or volumes.

    Example:
        >>> import nnlab
        >>> conv3d(nnlab.ones(2, 3, 5, 6, 7), nnlab.ones(4, 3, 3, 3, 3), padding="same").shape
        nnlab.Size([2, 4, 5, 6, 7])
    """
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


conv1d.__doc__ += _CONV_ARGS.format(dims="L", kdims="k", odims="L_out")
conv2d.__doc__ += _CONV_ARGS.format(dims="H, W", kdims="kH, kW", odims="H_out, W_out")
conv3d.__doc__ += _CONV_ARGS.format(dims="D, H, W", kdims="kD, kH, kW", odims="D_out, H_out, W_out")

_CONV_T_ARGS = """
    Args:
        input: (N, C_in, {dims}) or unbatched (C_in, {dims}).
        weight: (C_in, C_out/groups, {kdims}).
        bias: (C_out,) or None (default: None).
        stride: the stride of the convolution this is the adjoint of (default: 1).
        padding: the padding of that convolution, removed from each side of the output
            (default: 0).
        output_padding: extra size added to one side of each output dim, to pick among the
            input sizes a strided convolution maps to the same output size; smaller than
            the stride or the dilation (default: 0).
        groups: as in convolution (default: 1).
        dilation: spacing between kernel taps (default: 1).

    Shape:
        - Output: (N, C_out, {odims}), each S = (L − 1)·s − 2p + δ(k − 1) + output_padding + 1.
"""


def conv_transpose1d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """1-D transposed convolution (``torch.nn.functional.conv_transpose1d``): each input
    element scatters a scaled copy of the kernel into the output; the adjoint of conv1d.

    Example:
        >>> import nnlab
        >>> conv_transpose1d(nnlab.tensor([[[1.0, 2.0]]]), nnlab.tensor([[[1.0, 1.0, 1.0]]]))
        tensor([[[1., 3., 3., 2.]]])
    """
    return _conv_transpose(
        "conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
        dilation,
    )  # fmt: skip


def conv_transpose2d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """2-D transposed convolution (``torch.nn.functional.conv_transpose2d``), e.g. the
    learned upsampling of a decoder; the adjoint of conv2d.

    Example:
        >>> import nnlab
        >>> x = nnlab.ones(1, 4, 7, 7)
        >>> conv_transpose2d(x, nnlab.ones(4, 2, 3, 3), stride=2, padding=1,
        ...                  output_padding=1).shape
        nnlab.Size([1, 2, 14, 14])
    """
    return _conv_transpose(
        "conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
        dilation,
    )  # fmt: skip


def conv_transpose3d(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, output_padding: Any = 0, groups: int = 1, dilation: Any = 1,
) -> Tensor:  # fmt: skip
    """3-D transposed convolution (``torch.nn.functional.conv_transpose3d``).

    Example:
        >>> import nnlab
        >>> conv_transpose3d(nnlab.ones(1, 2, 3, 3, 3), nnlab.ones(2, 1, 2, 2, 2), stride=2).shape
        nnlab.Size([1, 1, 6, 6, 6])
    """
    return _conv_transpose(
        "conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
        dilation,
    )  # fmt: skip


conv_transpose1d.__doc__ += _CONV_T_ARGS.format(dims="L", kdims="k", odims="L_out")
conv_transpose2d.__doc__ += _CONV_T_ARGS.format(dims="H, W", kdims="kH, kW", odims="H_out, W_out")
conv_transpose3d.__doc__ += _CONV_T_ARGS.format(
    dims="D, H, W", kdims="kD, kH, kW", odims="D_out, H_out, W_out"
)


def conv_composed(
    input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
    padding: Any = 0, dilation: Any = 1, groups: int = 1,
) -> Tensor:  # fmt: skip
    """The same convolution (any d, batched input) from primitive ops: the fused op's twin.

    y = b + Σ_κ W[:, :, κ] · x_pad[:, :, s·l + δ·κ], one batched matmul per kernel offset;
    autograd derives the backward. Slow (K graph nodes per op), for tests and teaching.

    Example:
        >>> import numpy as np, nnlab
        >>> x, w = nnlab.randn(2, 4, 6, 5), nnlab.randn(6, 2, 3, 2)
        >>> a = conv_composed(x, w, stride=(2, 1), padding=1, groups=2)
        >>> b = conv2d(x, w, stride=(2, 1), padding=1, groups=2)
        >>> bool(np.allclose(a.array, b.array, atol=1e-5))
        True
    """
    d = weight.ndim - 2
    stride = _tuple("conv_composed", stride, d, "stride")
    dilation = _tuple("conv_composed", dilation, d, "dilation")
    padding = _tuple("conv_composed", padding, d, "padding")
    kernel = tuple(weight.shape[2:])
    flat = [p for p in reversed(padding) for _ in range(2)]
    xp = _pad(input, flat) if any(padding) else input
    out_size = conv_output_size(input.shape[2:], kernel, stride, padding, dilation)
    n, c = input.shape[:2]
    o = weight.shape[0]
    l = math.prod(out_size)
    y = None
    for offset in itertools.product(*map(range, kernel)):
        window = xp[(slice(None), slice(None)) + tuple(
            slice(k * dl, k * dl + s * (m - 1) + 1, s)
            for k, s, dl, m in zip(offset, stride, dilation, out_size)
        )]  # (N, C, L..): the input values offset κ meets  # fmt: skip
        window = reshape(window, (n, groups, c // groups, l))
        w = reshape(weight[(slice(None), slice(None)) + offset], (groups, o // groups, -1))
        term = w @ window  # (N, G, O/G, L)
        y = term if y is None else y + term
    y = reshape(y, (n, o) + out_size)
    if bias is not None:
        y = y + reshape(bias, (1, o) + (1,) * d)
    return y
