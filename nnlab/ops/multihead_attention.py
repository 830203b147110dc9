"""Multi-head attention (``torch.nn.functional.multi_head_attention_forward``), composed of
linear projections and the fused attention op of :mod:`nnlab.ops.attention`.

With H heads of size d = E/H, the queries, keys and values are projected, split into
heads, attended to independently and the heads concatenated and projected again:

    Q = X_q W_qᵀ + b_q,   K = X_k W_kᵀ + b_k,   V = X_v W_vᵀ + b_v        (E features)
    headₕ = softmax(Qₕ Kₕᵀ / √d + B) Vₕ                                 (d features each)
    out = concat(head₁, …, head_H) W_oᵀ + b_o

PyTorch stacks W_q, W_k, W_v into one (3E, E) ``in_proj_weight`` when the three inputs
have E features; for self-attention (query, key and value the same tensor) the three
projections are then ONE GEMM, X [W_q; W_k; W_v]ᵀ, split afterwards.

Masks, as PyTorch: a boolean ``key_padding_mask`` (N, S) or ``attn_mask`` (L, S) or
(N·H, L, S) is True where attention is *not* allowed (the opposite of
``scaled_dot_product_attention``'s boolean mask); float masks are added to the scores.
Both become one additive bias B of shape (N, H or 1, L, S) before the attention op.
Masks are constants here: a float mask that requires a gradient does not receive one.

``need_weights=True`` also returns the attention weights (after dropout, averaged over
the heads unless ``average_attn_weights=False``); as in PyTorch, a query whose keys are all
masked then gets NaN, while ``need_weights=False`` (PyTorch's SDPA path) gives it 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.ops.attention import attention, attention_bias, causal_mask
from nnlab.ops.linear import linear
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = ["multi_head_attention_forward", "canonical_mask"]


def canonical_mask(mask: Any, name: str, dtype: np.dtype) -> np.ndarray | None:
    """A boolean mask (True = masked out) as an additive float array (-∞ where True); a
    float mask unchanged; None stays None (torch's ``F._canonical_mask``)."""
    if mask is None:
        return None
    data = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if data.dtype == bool:
        return attention_bias(~data, dtype)
    if data.dtype.kind != "f":
        raise TypeError(f"only bool and floating types of {name} are supported, got {data.dtype}")
    return data.astype(dtype, copy=False)


def _ndim(mask: Any) -> int:
    return np.ndim(mask.array if isinstance(mask, Tensor) else mask)


def _shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any,
                 attn_mask: Any, num_heads: int) -> bool:  # fmt: skip
    """True for a batched (3-D) query, False for an unbatched (2-D) one (``_mha_shape_check``)."""
    if query.ndim not in (2, 3):
        raise RuntimeError(
            "multi_head_attention: query should be an unbatched 2-D (L, E) or batched 3-D "
            f"tensor, got shape {query.shape}"
        )
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise RuntimeError(
            f"multi_head_attention: for a {kind} query, key and value must be {query.ndim}-D "
            f"too, got shapes {key.shape} and {value.shape}"
        )
    if key_padding_mask is not None and _ndim(key_padding_mask) != query.ndim - 1:
        raise RuntimeError(
            f"multi_head_attention: for a {kind} query, key_padding_mask must be "
            f"{query.ndim - 1}-D ({'(N, S)' if batched else '(S,)'}), got "
            f"{_ndim(key_padding_mask)}-D"
        )
    if attn_mask is not None and _ndim(attn_mask) not in (2, 3):
        raise RuntimeError(
            f"multi_head_attention: attn_mask must be 2-D (L, S) or 3-D (N·num_heads, L, S), "
            f"got {_ndim(attn_mask)}-D"
        )
    return batched


def _project(query: Tensor, key: Tensor, value: Tensor, embed_dim: int, in_proj_weight: Any,
             in_proj_bias: Any, separate: Any) -> tuple[Tensor, Tensor, Tensor]:  # fmt: skip
    """Q, K, V with as few GEMMs as the inputs allow (torch's ``_in_projection_packed``)."""
    E = embed_dim
    biases: Any = (None, None, None)
    if in_proj_bias is not None:
        biases = in_proj_bias.split(E)
    if separate is not None:
        return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), separate, biases))
    if key is value:
        if query is key:  # self-attention: one GEMM for the three projections
            return linear(query, in_proj_weight, in_proj_bias).split(E, dim=-1)
        w_q, w_kv = in_proj_weight.split([E, 2 * E])
        b_q, b_kv = (None, None) if in_proj_bias is None else in_proj_bias.split([E, 2 * E])
        k, v = linear(key, w_kv, b_kv).split(E, dim=-1)
        return linear(query, w_q, b_q), k, v
    weights = in_proj_weight.split(E)
    return tuple(linear(x, w, b) for x, w, b in zip((query, key, value), weights, biases))


def _pad_last(mask: np.ndarray | None) -> np.ndarray | None:
    """One more key column (bias_k or the zero key) that every query may attend to."""
    if mask is None:
        return None
    return np.concatenate([mask, np.zeros(mask.shape[:-1] + (1,), dtype=mask.dtype)], axis=-1)


def multi_head_attention_forward(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    embed_dim_to_check: int,
    num_heads: int,
    in_proj_weight: Tensor | None,
    in_proj_bias: Tensor | None,
    bias_k: Tensor | None,
    bias_v: Tensor | None,
    add_zero_attn: bool,
    dropout_p: float,
    out_proj_weight: Tensor,
    out_proj_bias: Tensor | None,
    training: bool = True,
    key_padding_mask: Any = None,
    need_weights: bool = True,
    attn_mask: Any = None,
    use_separate_proj_weight: bool = False,
    q_proj_weight: Tensor | None = None,
    k_proj_weight: Tensor | None = None,
    v_proj_weight: Tensor | None = None,
    static_k: Tensor | None = None,
    static_v: Tensor | None = None,
    average_attn_weights: bool = True,
    is_causal: bool = False,
    *,
    batch_first: bool = False,
) -> tuple[Tensor, Tensor | None]:
    """Multi-head attention as ``torch.nn.functional.multi_head_attention_forward``.

    Inputs are sequence-first, (L, N, E) / (S, N, kdim) / (S, N, vdim), or unbatched
    (L, E); nnlab's keyword ``batch_first=True`` takes (N, L, E) instead and avoids the
    transposes. See the module docstring for the formula and the masks.

    Returns:
        ``(attn_output, attn_weights)``: the output (L, N, E) (or (N, L, E) with
        ``batch_first``, (L, E) unbatched), and the weights (N, L, S) averaged over heads,
        (N, H, L, S) with ``average_attn_weights=False``, or None when not
        ``need_weights``.

    Example:
        >>> import nnlab
        >>> E, H = 4, 2
        >>> w, wo = nnlab.randn(3 * E, E), nnlab.randn(E, E)
        >>> x = nnlab.randn(5, 3, E)  # (L, N, E)
        >>> out, weights = multi_head_attention_forward(
        ...     x, x, x, E, H, w, None, None, None, False, 0.0, wo, None)
        >>> out.shape, weights.shape
        (nnlab.Size([5, 3, 4]), nnlab.Size([3, 5, 5]))
    """
    if static_k is not None or static_v is not None:
        raise NotImplementedError(
            "multi_head_attention_forward: static_k/static_v are not supported"
        )
    batched = _shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:
        batch_first = True
        query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
        if key_padding_mask is not None:
            kpm = (
                key_padding_mask.array if isinstance(key_padding_mask, Tensor) else key_padding_mask
            )
            key_padding_mask = np.asarray(kpm)[None]
    b_axis, s_axis = (0, 1) if batch_first else (1, 0)
    bsz, tgt_len, embed_dim = query.shape[b_axis], query.shape[s_axis], query.shape[2]
    if embed_dim != embed_dim_to_check:
        raise RuntimeError(
            f"multi_head_attention: was expecting embedding dimension of {embed_dim_to_check}, "
            f"but got query of shape {query.shape}"
        )
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise RuntimeError(
            f"multi_head_attention: embed_dim {embed_dim} not divisible by num_heads {num_heads}"
        )
    if key.shape[:2] != value.shape[:2] or (
        not use_separate_proj_weight and key.shape != value.shape
    ):
        raise RuntimeError(
            f"multi_head_attention: key shape {key.shape} does not match value shape {value.shape}"
        )
    if is_causal and attn_mask is None:
        raise RuntimeError(
            "Need attn_mask if specifying the is_causal hint. You may use the Transformer "
            "module method `generate_square_subsequent_mask` to create this mask."
        )
    dtype = query.dtype
    kpm = canonical_mask(key_padding_mask, "key_padding_mask", dtype)
    causal = is_causal and kpm is None and not need_weights  # torch then ignores attn_mask
    mask = None if causal else canonical_mask(attn_mask, "attn_mask", dtype)
    src_len = key.shape[s_axis]
    if mask is not None:
        expected = (tgt_len, src_len) if mask.ndim == 2 else (bsz * num_heads, tgt_len, src_len)
        if mask.shape != expected:
            raise RuntimeError(
                f"multi_head_attention: the shape of the {mask.ndim}-D attn_mask is "
                f"{mask.shape}, but should be {expected}"
            )
    if kpm is not None and kpm.shape != (bsz, src_len):
        raise RuntimeError(
            f"multi_head_attention: expected key_padding_mask of shape {(bsz, src_len)}, "
            f"got {kpm.shape}"
        )

    separate = None
    if use_separate_proj_weight:
        separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    q, k, v = _project(query, key, value, embed_dim, in_proj_weight, in_proj_bias, separate)
    if bias_k is not None and bias_v is not None:
        shape = (bsz, 1, embed_dim) if batch_first else (1, bsz, embed_dim)
        k = cat([k, bias_k.reshape(1, 1, embed_dim).expand(shape)], dim=s_axis)
        v = cat([v, bias_v.reshape(1, 1, embed_dim).expand(shape)], dim=s_axis)
        mask, kpm = _pad_last(mask), _pad_last(kpm)

    # (…, E) -> (N, H, len, d): the heads become a leading dim of the attention op.
    to_heads = (0, 2, 1, 3) if batch_first else (1, 2, 0, 3)
    q, k, v = (t.reshape(t.shape[:2] + (num_heads, head_dim)).permute(to_heads)
               for t in (q, k, v))  # fmt: skip
    if add_zero_attn:
        zeros = Tensor(np.zeros((bsz, num_heads, 1, head_dim), dtype=dtype))
        k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)
        mask, kpm = _pad_last(mask), _pad_last(kpm)

    bias = None
    if causal:
        bias = attention_bias(causal_mask(tgt_len, k.shape[2]), dtype)
    if mask is not None:
        bias = mask if mask.ndim == 2 else mask.reshape(bsz, num_heads, tgt_len, -1)
    if kpm is not None:
        kpm4 = kpm.reshape(bsz, 1, 1, -1)
        bias = kpm4 if bias is None else bias + kpm4

    p = dropout_p if training else 0.0
    result = attention(q, k, v, bias, p, need_weights=need_weights,
                       empty_rows="nan" if need_weights else "zero")  # fmt: skip
    out, weights = result if need_weights else (result, None)
    # (N, H, L, d) -> (…, E), then the output projection.
    out = out.permute((0, 2, 1, 3) if batch_first else (2, 0, 1, 3))
    out = linear(out.reshape(out.shape[:2] + (embed_dim,)), out_proj_weight, out_proj_bias)
    if weights is not None and average_attn_weights:
        weights = weights.mean(dim=1)
    if not batched:
        out = out.squeeze(0)
        weights = None if weights is None else weights.squeeze(0)
    return out, weights
