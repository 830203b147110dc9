"""Convolution in 1, 2 or 3 spatial dims, and transposed convolution as its adjoint.

One implementation serves every dimensionality d. With input x (N, C, S₁..S_d), weight W
(O, C/G, k₁..k_d), stride s, padding p, dilation δ and G groups, output channel o of
group g sums over that group's input channels c and the kernel offsets κ:

    y[n, o, l] = b[o] + Σ_c Σ_κ W[o, c, κ] · x_pad[n, g·C/G + c, s·l + δ·κ]

(l, κ are d-dim indices). Each output dim has size

    L = ⌊(S + 2p − δ(k − 1) − 1) / s⌋ + 1

The whole convolution is ONE matrix product of the weight W₂ = W.reshape(O, C/G·K) with
the im2col matrix X_col of the input, and its gradients are matrix products too:

    Y = W₂ · X_col,    dL/dW = G · X_colᵀ,    dL/db = G · 1,    dL/dx = col2im(W₂ᵀ · G)

The derivation, the column layouts and the channel-first memory layout are in
:mod:`nnlab.ops.im2col`; this file holds the ops, their argument checks and the public
functions.

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
from nnlab.ops.im2col import ConvGeometry, Pads, grouped_mm, grouped_mm_bt
from nnlab.ops.padding import pad as _pad
from nnlab.ops.shape import reshape
from nnlab.tensor import Tensor

__all__ = [
    "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "conv_output_size", "conv_transpose_output_size", "conv_composed",
]  # fmt: skip


class ConvNd(Function):
    """Y = W₂·im2col(x) + b;  dW = G·X_colᵀ,  db = G·1,  dx = col2im(W₂ᵀ·G).

    ``pads`` holds one (before, after) pair per spatial dim (asymmetric for even kernels
    with padding='same'). The backward runs on arrays only (no ``create_graph``).
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups, out_size):
        n, o = x.shape[0], weight.shape[0]
        geom = ConvGeometry(x.shape[2:], weight.shape[2:], stride, dilation, pads, out_size)
        col = geom.unfold(geom.pad_input(x))
        w2 = weight.reshape(o, -1)
        y2 = grouped_mm(w2, col, groups)  # a fresh array: narrow may add the bias in place
        ctx.col = col if ctx.needs_input_grad[1] else None  # Πk × the input: only if needed
        ctx.w2, ctx.geom, ctx.groups = w2, geom, groups
        ctx.x_shape, ctx.w_shape = x.shape, weight.shape
        return geom.narrow(y2, n, bias)

    @staticmethod
    def backward(ctx, g):
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        geom, groups = ctx.geom, ctx.groups
        g2 = geom.widen(g)  # (O, N·columns)
        dx = dw = db = None
        if need_w:
            dw = grouped_mm_bt(g2, ctx.col, groups).reshape(ctx.w_shape)
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
        geom = ConvGeometry(out_size, weight.shape[2:], stride, dilation, pads, x.shape[2:])
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
                dx = geom.narrow(grouped_mm(ctx.w2, col, groups), g.shape[0])
            if need_w:
                dw = grouped_mm_bt(ctx.x2, col, groups).reshape(ctx.w_shape)
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
