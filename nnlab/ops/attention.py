"""Scaled dot-product attention, fused into one op with a hand-written backward.

Each query row qᵢ is compared with every key kⱼ; the softmax of the scores weighs the
values (Vaswani et al., 2017, "Attention is all you need"):

    S = s · Q Kᵀ + B,      P = softmax(S) along the keys,      O = P V

with s the scale (1/√E by default, E the query/key size) and B an additive mask: 0 where
a query may look at a key, -∞ where it may not (a boolean mask is turned into such a B).
With G = dL/dO the backward is the chain rule through the two products and the softmax:

    dV = Pᵀ G,    dP = G Vᵀ,    dS = P ⊙ (dP - Σⱼ P ⊙ dP)   (the softmax Jacobian, per row)
    dQ = s · dS K,    dK = s · dSᵀ Q,    dB = dS

Dropout on the attention weights replaces P by P̃ = P ⊙ M/(1 - p) in O = P̃ V; then dV =
P̃ᵀ G and the gradient reaching P is (G Vᵀ) ⊙ M/(1 - p).

Layout: the op keeps the score matrices *transposed* and stacked key-major, one buffer of
shape (S, …, L) seen as the (…, S, L) blocks Sᵀ. Every reduction of the softmax (the max
and the sum over the keys) then runs down the S rows of one contiguous (S, B·L) matrix,
which NumPy vectorises over all heads and batches at once (the sum as one GEMV), and
every broadcast of a per-query statistic runs along contiguous rows; reducing each small
(L, S) block over its last axis instead was 2-9× slower here. The products write into
and read from that buffer through BLAS's leading dimensions and transpose flags, and the
inputs are used in the layout they come in (heads split off by a reshape-permute are not
copied), so the only copies are s·Q and the buffer itself. The softmax and its backward
work in place on that buffer, the dropout in its layout: masked softmax (mask, column
maximum and shift fused; normalisation fused) and its backward (with the dropout mask)
are the kernels of :mod:`nnlab.kernels.attention`, with their NumPy references.

Rows with no key to look at (every entry of the query's row masked with -∞): PyTorch
2.13's ``scaled_dot_product_attention`` (math and fused CPU kernels alike) returns 0 for
them, and a zero gradient, so this op does the same (a "safe" softmax). PyTorch's
``MultiheadAttention`` with ``need_weights=True`` computes the softmax itself and returns
NaN instead; the op reproduces that with ``empty_rows="nan"``.

:func:`scaled_dot_product_attention_composed` builds the same map from primitive ops
(matmul, masked_fill, softmax, dropout); the tests compare the two.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels.attention import masked_softmax, softmax_columns_backward
from nnlab.kernels.dropout import dropout as dropout_weights
from nnlab.ops._broadcast import unbroadcast
from nnlab.ops.dropout import dropout
from nnlab.ops.softmax import softmax
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = [
    "scaled_dot_product_attention", "scaled_dot_product_attention_composed", "attention",
    "attention_bias", "causal_mask",
]  # fmt: skip


def _scores_buffer(
    lead: tuple[int, ...], S: int, L: int, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """A fresh (S, …, L) buffer and its (…, S, L) view: the view holds the blocks Sᵀ, the
    buffer reshaped to (S, B·L) holds every query's column of keys."""
    buf = np.empty((S,) + lead + (L,), dtype=dtype)
    return buf, np.moveaxis(buf, 0, -2)


class ScaledDotProductAttention(Function):
    """O = softmax(s·Q Kᵀ + B) V, with optional dropout on the weights and the weights
    returned as a second output (``need_weights``).

    Backward, with P the weights, P̃ = P ⊙ M/(1 - p) and G = dL/dO (plus dL/dP̃ when the
    weights are used): dV = P̃ᵀ G;  dP = (G Vᵀ + dL/dP̃) ⊙ M/(1 - p);
    dS = P ⊙ (dP - Σ P ⊙ dP);  dQ = s·dS K;  dK = dSᵀ (s·Q);  dB = dS.
    All of it is computed on the transposed, key-major blocks (see the module docstring).
    """

    double_backward = False

    @staticmethod
    def forward(ctx, q, k, v, bias, scale, dropout_p, rng, empty_rows, need_weights):
        lead, L, S = q.shape[:-2], q.shape[-2], k.shape[-2]
        qs = np.multiply(q, np.asarray(scale, dtype=q.dtype))  # s·Q, kept for dK
        buf, st = _scores_buffer(lead, S, L, q.dtype)
        np.matmul(k, qs.swapaxes(-1, -2), out=st)  # Sᵀ = K (s·Q)ᵀ: column i = query i
        # Softmax down each column of the (S, B·L) matrix, in place: Sᵀ becomes Pᵀ.
        masked_softmax(buf, bias, empty_rows == "zero")
        p = st
        if dropout_p > 0:
            # Drawn in the (…, L, S) order of the weights, exactly as F.dropout draws them,
            # so the composed twin with the same seed drops the same entries.
            u = rng.random(lead + (L, S), dtype=np.float32)
            if dropout_p < 1:
                # The draws moved into the buffer's key-major layout once, so the mask and
                # the dropped weights come out in it, in one pass (nnlab.kernels.dropout),
                # and the backward applies the mask in its softmax kernel.
                u_t = np.ascontiguousarray(np.moveaxis(u, -1, 0))
                p_buf, ctx.mask = dropout_weights(buf, u_t, dropout_p)
            else:  # p = 1 drops all
                ctx.mask = np.zeros_like(buf)
                p_buf = buf * ctx.mask
            p = np.moveaxis(p_buf, 0, -2)
        out = np.matmul(p.swapaxes(-1, -2), v)
        ctx.buf, ctx.pt, ctx.pt_drop, ctx.qs, ctx.k, ctx.v = buf, st, p, qs, k, v
        ctx.scale = scale
        ctx.b_shape = None if bias is None else np.shape(bias)
        if need_weights:
            return out, np.ascontiguousarray(p.swapaxes(-1, -2))
        return out

    @staticmethod
    def backward(ctx, g, g_weights=None):
        need_q, need_k, need_v, need_b = ctx.needs_input_grad[:4]
        pt, qs, k, v = ctx.pt, ctx.qs, ctx.k, ctx.v
        lead, S, L = pt.shape[:-2], pt.shape[-2], pt.shape[-1]
        dq = dk = dv = db = None
        if need_v:
            dv = np.matmul(ctx.pt_drop, g)
        if need_q or need_k or need_b:
            dbuf, dpt = _scores_buffer(lead, S, L, pt.dtype)
            np.matmul(v, g.swapaxes(-1, -2), out=dpt)  # (G Vᵀ)ᵀ
            if g_weights is not None:
                dpt += np.swapaxes(g_weights, -1, -2)
            # dS = P ⊙ (dP - Σ P ⊙ dP), the sums down each column, dP ⊙ M first under
            # dropout; in place on dP.
            mask = getattr(ctx, "mask", None)
            softmax_columns_backward(
                ctx.buf.reshape(S, -1),
                dbuf.reshape(S, -1),
                L,
                None if mask is None else mask.reshape(S, -1),
            )
            if need_q:
                dq = np.matmul(dpt.swapaxes(-1, -2), k)
                dq *= np.asarray(ctx.scale, dtype=dq.dtype)
            if need_k:
                dk = np.matmul(dpt, qs)
            if need_b:
                db = unbroadcast(np.ascontiguousarray(dpt.swapaxes(-1, -2)), ctx.b_shape)
        return dq, dk, dv, db, None, None, None, None, None


# -- masks --------------------------------------------------------------------------------


def causal_mask(L: int, S: int | None = None) -> np.ndarray:
    """The boolean (L, S) mask of causal attention: query i sees keys j ≤ i (aligned at the
    top left, as torch's ``is_causal``). True means "may attend".

    Example:
        >>> causal_mask(3).astype(int)
        array([[1, 0, 0],
               [1, 1, 0],
               [1, 1, 1]])
    """
    S = L if S is None else S
    return np.tril(np.ones((L, S), dtype=bool))


def attention_bias(mask: Any, dtype: Any) -> np.ndarray:
    """A boolean mask (True = attend) as the additive bias B: 0 where True, -∞ where False."""
    mask = np.asarray(mask.array if isinstance(mask, Tensor) else mask)
    bias = np.zeros(mask.shape, dtype=dtype)
    bias[~mask] = -np.inf
    return bias


def _check(q: Tensor, k: Tensor, v: Tensor, attn_mask: Any, dropout_p: float,
           is_causal: bool) -> None:  # fmt: skip
    op = "scaled_dot_product_attention"
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise RuntimeError(
            f"{op}: expected query, key and value to be at least 2-D (…, L, E), got shapes "
            f"{q.shape}, {k.shape} and {v.shape}"
        )
    if not (q.dtype == k.dtype == v.dtype) or q.dtype.kind != "f":
        raise RuntimeError(
            f"{op}: expected query, key and value to have the same floating dtype, got "
            f"{q.dtype}, {k.dtype} and {v.dtype}"
        )
    if k.shape[-1] != q.shape[-1] or v.shape[-2] != k.shape[-2]:
        raise RuntimeError(
            f"{op}: query (…, L, E), key (…, S, E) and value (…, S, Ev) do not fit: got "
            f"{q.shape}, {k.shape} and {v.shape} (query and key need the same E, key and "
            "value the same S)"
        )
    if not 0.0 <= dropout_p <= 1.0:
        raise RuntimeError(
            f"{op}: dropout probability has to be between 0 and 1, but got {dropout_p}"
        )
    if is_causal and attn_mask is not None:
        raise RuntimeError(f"{op}: Explicit attn_mask should not be set when is_causal=True")


def _lead_shape(q: Tensor, k: Tensor, v: Tensor) -> tuple[int, ...]:
    try:
        return np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise RuntimeError(
            f"scaled_dot_product_attention: the leading (batch, head) dims of query "
            f"{q.shape}, key {k.shape} and value {v.shape} do not broadcast"
        ) from None


def _mask_bias(attn_mask: Any, is_causal: bool, L: int, S: int, full: tuple[int, ...],
               dtype: np.dtype) -> Any:  # fmt: skip
    """attn_mask/is_causal as B: None, a constant array, or the float mask Tensor itself
    (which then receives a gradient when it requires one)."""
    if is_causal:
        return attention_bias(causal_mask(L, S), dtype)
    if attn_mask is None:
        return None
    data = attn_mask.array if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    if data.dtype != bool and data.dtype.kind != "f":
        raise RuntimeError(
            "scaled_dot_product_attention: Expected attn_mask dtype to be bool or float, but "
            f"got {data.dtype}"
        )
    if data.ndim < 2:  # as torch, which reads the mask's last two dims as (L, S)
        raise RuntimeError(
            f"scaled_dot_product_attention: attn_mask must have at least 2 dims (…, L, S), "
            f"got shape {data.shape}"
        )
    try:
        fits = np.broadcast_shapes(data.shape, full) == full
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(
            f"scaled_dot_product_attention: attn_mask of shape {data.shape} does not "
            f"broadcast to the attention weights' shape {full} (…, L, S)"
        )
    if data.dtype == bool:
        return attention_bias(data, dtype)
    if isinstance(attn_mask, Tensor):
        return attn_mask if attn_mask.dtype == dtype else attn_mask.to(dtype)
    return data.astype(dtype, copy=False)


def attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    bias: Any = None,
    dropout_p: float = 0.0,
    scale: float | None = None,
    need_weights: bool = False,
    empty_rows: str = "zero",
    generator: Generator | None = None,
) -> Any:
    """The fused op with an additive bias already built: (output, weights) when
    ``need_weights`` else the output. For layers (MultiheadAttention) that merge their own
    masks; ``bias`` broadcasts to (…, L, S) and is a constant array or a float Tensor."""
    if scale is None:
        scale = 1.0 / math.sqrt(query.shape[-1])
    lead = _lead_shape(query, key, value)
    q, k, v = (t if t.shape[:-2] == lead else t.expand(lead + t.shape[-2:])
               for t in (query, key, value))  # fmt: skip
    rng = _rng(generator) if dropout_p > 0 else None
    return ScaledDotProductAttention.apply(
        q, k, v, bias, float(scale), float(dropout_p), rng, empty_rows, need_weights
    )


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    generator: Generator | None = None,
) -> Tensor:
    """Attention of queries over key-value pairs (``F.scaled_dot_product_attention``).

    O = softmax(s · Q Kᵀ + B) V with s = ``scale`` (default 1/√E). B comes from the mask:
    a boolean ``attn_mask`` is True where a query may attend to a key (B = 0 there, -∞
    elsewhere); a float ``attn_mask`` is added to the scores as is; ``is_causal`` lets
    query i see keys j ≤ i only. A query that may attend to no key gets a zero output, as
    in PyTorch 2.13. Dropout with probability ``dropout_p`` is applied to the weights
    whenever ``dropout_p > 0`` (pass ``dropout_p=0.0`` in evaluation); it draws from the
    default generator (``nnlab.manual_seed``) or ``generator``.

    One fused op with a hand-written backward (see the module docstring for the formulas).

    Args:
        query: (…, L, E).
        key: (…, S, E).
        value: (…, S, Ev). The leading dims (batch, heads) of the three broadcast.
        attn_mask: boolean or float, broadcastable to (…, L, S); or None.
        dropout_p: dropout probability on the attention weights (default: 0.0).
        is_causal: causal attention; ``attn_mask`` must then be None (default: False).
        scale: s (default: 1/√E).
        enable_gqa: grouped-query attention; not supported (must be False).

    Shape:
        Output: (…, L, Ev).

    Example:
        >>> import nnlab
        >>> import nnlab.nn.functional as F
        >>> q, k, v = nnlab.ones(2, 4, 3, 8), nnlab.ones(2, 4, 5, 8), nnlab.randn(2, 4, 5, 6)
        >>> F.scaled_dot_product_attention(q, k, v, is_causal=True).shape
        nnlab.Size([2, 4, 3, 6])
        >>> F.scaled_dot_product_attention(nnlab.ones(1, 2), nnlab.ones(2, 2),
        ...                                nnlab.tensor([[1.0], [3.0]]))
        tensor([[2.]])
    """
    if enable_gqa:
        raise NotImplementedError(
            "scaled_dot_product_attention: enable_gqa=True (grouped-query attention) is not "
            "implemented; repeat the key/value heads with repeat_interleave instead"
        )
    _check(query, key, value, attn_mask, dropout_p, is_causal)
    lead = _lead_shape(query, key, value)
    L, S = query.shape[-2], key.shape[-2]
    bias = _mask_bias(attn_mask, is_causal, L, S, lead + (L, S), query.dtype)
    return attention(query, key, value, bias, dropout_p, scale, generator=generator)


def scaled_dot_product_attention_composed(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Any = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    generator: Generator | None = None,
) -> Tensor:
    """:func:`scaled_dot_product_attention` from primitive ops (matmul, masked_fill,
    softmax, dropout): the twin the tests compare the fused op to.

    Rows with no visible key are set to 0 before the softmax and after it (the first
    keeps their gradient finite, the second gives torch's zero output).

    Example:
        >>> import nnlab
        >>> q, k, v = nnlab.randn(2, 3, 4), nnlab.randn(2, 5, 4), nnlab.randn(2, 5, 2)
        >>> a = scaled_dot_product_attention(q, k, v, is_causal=True)
        >>> b = scaled_dot_product_attention_composed(q, k, v, is_causal=True)
        >>> bool(((a - b).abs() < 1e-5).all())
        True
    """
    _check(query, key, value, attn_mask, dropout_p, is_causal)
    L, S, E = query.shape[-2], key.shape[-2], query.shape[-1]
    s = (query @ key.mT) * (1.0 / math.sqrt(E) if scale is None else scale)
    if is_causal:
        s = s.masked_fill(~causal_mask(L, S), -math.inf)
    elif attn_mask is not None:
        data = attn_mask.array if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if data.dtype == bool:
            s = s.masked_fill(~data, -math.inf)
        else:
            s = s + attn_mask
    empty = (s.array == -math.inf).all(axis=-1, keepdims=True)
    if empty.any():
        s = s.masked_fill(empty, 0.0)
    p = softmax(s, dim=-1)
    if empty.any():
        p = p.masked_fill(empty, 0.0)
    if dropout_p > 0:
        p = dropout(p, dropout_p, True, generator=generator)
    return p @ value
