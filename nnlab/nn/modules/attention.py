"""Attention layers: additive (Bahdanau) and dot-product attention for teaching, and
PyTorch's MultiheadAttention.

Attention computes, for each query, a weighted average of values, the weights telling
how well the query matches each value's key:

    αᵢⱼ = softmax_j(score(qᵢ, kⱼ)),      contextᵢ = Σⱼ αᵢⱼ vⱼ

- **AdditiveAttention** (Bahdanau et al., 2015): score(q, k) = wᵀ tanh(W_q q + W_k k), a
  one-hidden-layer network that works for queries and keys of different sizes.
- **DotProductAttention** (Luong et al., 2015; scaled by Vaswani et al., 2017):
  score(q, k) = q·k / √d. No parameters; one fused op.
- **MultiheadAttention** (Vaswani et al., 2017): H dot-product attentions side by side on
  learned projections of the queries, keys and values (:mod:`nnlab.ops.multihead_attention`).

Mask conventions follow PyTorch's MultiheadAttention: ``key_padding_mask`` is True at the
keys to ignore (padding). A query with no key left gets a zero context and zero weights
in the two teaching layers (as ``F.scaled_dot_product_attention``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import init
from nnlab.nn.module import Module, ShapeError
from nnlab.nn.modules.linear import Linear
from nnlab.nn.parameter import Parameter
from nnlab.ops.attention import attention
from nnlab.ops.dropout import dropout as _dropout
from nnlab.ops.multihead_attention import canonical_mask, multi_head_attention_forward
from nnlab.ops.softmax import softmax
from nnlab.tensor import Tensor

__all__ = ["AdditiveAttention", "DotProductAttention", "MultiheadAttention"]


def _mask_shape(mask: Any) -> tuple[int, ...]:
    return tuple(np.shape(mask.array if isinstance(mask, Tensor) else mask))


def _check_qkv(layer: Module, query: Tensor, key: Tensor, value: Tensor,
               dims: tuple[int | None, int | None, int | None]) -> None:  # fmt: skip
    """(N, L, Dq) or (N, Dq) query, (N, S, Dk) keys, (N, S, Dv) values; ``dims`` None = any."""
    dq, dk, dv = dims
    if query.ndim not in (2, 3) or (dq is not None and query.shape[-1] != dq):
        raise layer.shape_error(f"query (N, L, {dq or 'Dq'}) or (N, {dq or 'Dq'})", query.shape)
    n = query.shape[0]
    for name, t, d in (("key", key, dk), ("value", value, dv)):
        if t.ndim != 3 or t.shape[0] != n or (d is not None and t.shape[-1] != d):
            raise layer.shape_error(f"{name} ({n}, S, {d or 'D'})", t.shape,
                                    f"{name} holds S vectors per sample of the batch.")  # fmt: skip
    if key.shape[1] != value.shape[1]:
        raise layer.shape_error(f"value ({n}, {key.shape[1]}, Dv)", value.shape,
                                "each key needs one value: same S.")  # fmt: skip


def _padding_bias(layer: Module, mask: Any, n: int, s: int, dtype: np.dtype) -> Any:
    """key_padding_mask (N, S), True = ignore, as an additive (N, 1, S) bias."""
    if mask is None:
        return None
    if _mask_shape(mask) != (n, s):
        raise ShapeError(
            f"{layer.path()} ({type(layer).__name__}): expected key_padding_mask of shape "
            f"{(n, s)} (N, S), got {_mask_shape(mask)}."
        )
    return canonical_mask(mask, "key_padding_mask", dtype)[:, None, :]


class AdditiveAttention(Module):
    """Additive (Bahdanau) attention: score(q, k) = wᵀ tanh(W_q q + W_k k).

    αᵢⱼ = softmax_j(score(qᵢ, kⱼ)) over the keys that are not masked, contextᵢ = Σⱼ αᵢⱼ vⱼ.
    The hidden layer lets queries and keys have different sizes; it costs an (L, S, hidden)
    tensor, which is why transformers use dot products instead.

    Composed of primitive ops (Linear, tanh, softmax, matmul); default initialisation is
    Linear's, U(-1/√fan_in, 1/√fan_in).

    Args:
        query_dim: size of each query, Dq.
        key_dim: size of each key, Dk.
        hidden_dim: size of the hidden layer.
        dropout: dropout probability on the weights while training (default: 0.0).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - query: (N, L, Dq), or (N, Dq) for one query per sample (a decoder step).
        - key: (N, S, Dk); value: (N, S, Dv); key_padding_mask: (N, S), True = ignore.
        - Output: context (N, L, Dv) and weights (N, L, S) (without L for a 2-D query).

    Attributes:
        query_proj.weight: W_q (hidden_dim, query_dim).
        key_proj.weight: W_k (hidden_dim, key_dim).
        score_proj.weight: wᵀ (1, hidden_dim).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> attn = nn.AdditiveAttention(query_dim=6, key_dim=4, hidden_dim=8)
        >>> context, weights = attn(nnlab.randn(2, 6), nnlab.randn(2, 5, 4), nnlab.randn(2, 5, 3))
        >>> context.shape, weights.shape
        (nnlab.Size([2, 3]), nnlab.Size([2, 5]))
        >>> bool(((weights.sum(-1) - 1).abs() < 1e-6).all())
        True
    """

    def __init__(self, query_dim: int, key_dim: int, hidden_dim: int, dropout: float = 0.0,
                 dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.query_dim, self.key_dim, self.hidden_dim = query_dim, key_dim, hidden_dim
        self.dropout = dropout
        self.query_proj = Linear(query_dim, hidden_dim, bias=False, dtype=dtype)
        self.key_proj = Linear(key_dim, hidden_dim, bias=False, dtype=dtype)
        self.score_proj = Linear(hidden_dim, 1, bias=False, dtype=dtype)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Any = None) -> tuple[Tensor, Tensor]:  # fmt: skip
        _check_qkv(self, query, key, value, (self.query_dim, self.key_dim, None))
        single = query.ndim == 2
        q = query.unsqueeze(1) if single else query
        bias = _padding_bias(self, key_padding_mask, key.shape[0], key.shape[1], query.dtype)
        # (N, L, 1, h) + (N, 1, S, h): every query against every key, then w·tanh(·).
        hidden = (self.query_proj(q).unsqueeze(2) + self.key_proj(key).unsqueeze(1)).tanh()
        scores = self.score_proj(hidden).squeeze(-1)  # (N, L, S)
        empty = None
        if bias is not None:
            scores = scores + bias
            empty = np.isneginf(scores.array).all(axis=-1, keepdims=True)
            scores = scores.masked_fill(empty, 0.0)  # keeps the softmax (and its grad) finite
        weights = softmax(scores, dim=-1)
        if empty is not None and empty.any():
            weights = weights.masked_fill(empty, 0.0)
        if self.training and self.dropout > 0:
            weights = _dropout(weights, self.dropout)
        context = weights @ value
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def extra_repr(self) -> str:
        s = f"query_dim={self.query_dim}, key_dim={self.key_dim}, hidden_dim={self.hidden_dim}"
        return s + (f", dropout={self.dropout}" if self.dropout else "")


class DotProductAttention(Module):
    """Dot-product attention: score(q, k) = q·k / √d (``scaled=True``) or q·k.

    αᵢⱼ = softmax_j(score(qᵢ, kⱼ)), contextᵢ = Σⱼ αᵢⱼ vⱼ. Without the 1/√d the scores of
    random d-dimensional vectors have variance d, so for large d the softmax saturates
    and its gradient vanishes: the scale keeps their variance at 1.
    No parameters: one fused op (:func:`nnlab.ops.attention.attention`) returning the
    weights as well.

    Args:
        scaled: divide the scores by √d (default: True).
        dropout: dropout probability on the weights while training (default: 0.0).

    Shape:
        - query: (N, L, D) or (N, D); key: (N, S, D); value: (N, S, Dv);
          key_padding_mask: (N, S), True = ignore.
        - Output: context (N, L, Dv) and weights (N, L, S) (without L for a 2-D query).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> q = nnlab.tensor([[[1.0, 0.0]]])
        >>> k = nnlab.tensor([[[1.0, 0.0], [0.0, 1.0]]])
        >>> v = nnlab.tensor([[[10.0], [20.0]]])
        >>> context, weights = nn.DotProductAttention(scaled=False)(q, k, v)
        >>> weights.numpy().round(4)
        array([[[0.7311, 0.2689]]], dtype=float32)
    """

    def __init__(self, scaled: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.scaled = scaled
        self.dropout = dropout

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Any = None) -> tuple[Tensor, Tensor]:  # fmt: skip
        d = key.shape[-1] if key.ndim else 0
        _check_qkv(self, query, key, value, (d, d, None))
        single = query.ndim == 2
        q = query.unsqueeze(1) if single else query
        bias = _padding_bias(self, key_padding_mask, key.shape[0], key.shape[1], query.dtype)
        scale = 1.0 / math.sqrt(d) if self.scaled else 1.0
        p = self.dropout if self.training else 0.0
        context, weights = attention(q, key, value, bias, p, scale, need_weights=True)
        if single:
            return context.squeeze(1), weights.squeeze(1)
        return context, weights

    def extra_repr(self) -> str:
        return f"scaled={self.scaled}" + (f", dropout={self.dropout}" if self.dropout else "")


class MultiheadAttention(Module):
    """Multi-head attention (Vaswani et al., 2017), with PyTorch's parameters and layout.

    out = concat(head₁, …, head_H) W_oᵀ + b_o,  headₕ = softmax(Qₕ Kₕᵀ / √d + B) Vₕ, where
    Q, K, V are the projected query, key and value split into H heads of d = E/H features
    (formulas and masks: :mod:`nnlab.ops.multihead_attention`). Self-attention (the same
    tensor passed as query, key and value) projects with one GEMM.

    Default initialisation (PyTorch's): the input projections ~ Xavier uniform, their bias
    and the output projection's bias 0, the output projection's weight as Linear's,
    bias_k and bias_v ~ Xavier normal.

    Args:
        embed_dim: E, the model size (query features and output features).
        num_heads: H; must divide ``embed_dim``.
        dropout: dropout probability on the attention weights while training (default: 0.0).
        bias: learn the projection biases (default: True).
        add_bias_kv: append a learned key and value to the sequences (default: False).
        add_zero_attn: append a zero key and value after projection (default: False).
        kdim, vdim: key and value features (default: ``embed_dim``); when either differs,
            the projections are the three ``q/k/v_proj_weight`` instead of ``in_proj_weight``.
        batch_first: inputs and output are (N, L, E) instead of (L, N, E) (default: False).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - query (L, N, E), key (S, N, kdim), value (S, N, vdim); (N, ·, ·) with
          ``batch_first``; or unbatched (L, E), (S, kdim), (S, vdim).
        - key_padding_mask: (N, S) (or (S,) unbatched), bool (True = ignore) or float.
        - attn_mask: (L, S) or (N·num_heads, L, S), bool (True = not allowed) or float.
        - Output: (attn_output (L, N, E), attn_weights (N, L, S), or (N, H, L, S) with
          ``average_attn_weights=False``, or None with ``need_weights=False``).

    Attributes:
        in_proj_weight: (3E, E), the stacked [W_q; W_k; W_v] (None when kdim/vdim differ).
        q_proj_weight, k_proj_weight, v_proj_weight: (E, E), (E, kdim), (E, vdim), or None.
        in_proj_bias: (3E,), or None. out_proj: Linear(E, E).
        bias_k, bias_v: (1, 1, E), or None.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> mha = nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = nnlab.randn(2, 10, 16)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        (nnlab.Size([2, 10, 16]), nnlab.Size([2, 10, 10]))
        >>> [name for name, _ in mha.named_parameters()]
        ['in_proj_weight', 'in_proj_bias', 'out_proj.weight', 'out_proj.bias']
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        add_bias_kv: bool = False,
        add_zero_attn: bool = False,
        kdim: int | None = None,
        vdim: int | None = None,
        batch_first: bool = False,
        dtype: Any = None,
    ) -> None:
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(
                f"MultiheadAttention: embed_dim and num_heads must be greater than 0, got "
                f"embed_dim={embed_dim} and num_heads={num_heads}"
            )
        if embed_dim % num_heads:
            raise ValueError(
                f"MultiheadAttention: embed_dim must be divisible by num_heads, got "
                f"embed_dim={embed_dim} and num_heads={num_heads} (each head gets "
                f"embed_dim / num_heads features)"
            )
        super().__init__()
        d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((embed_dim, embed_dim), dtype=d))
            self.k_proj_weight = Parameter(np.empty((embed_dim, self.kdim), dtype=d))
            self.v_proj_weight = Parameter(np.empty((embed_dim, self.vdim), dtype=d))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=d))
            for name in ("q_proj_weight", "k_proj_weight", "v_proj_weight"):
                self.register_parameter(name, None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dtype=d))
        else:
            self.register_parameter("in_proj_bias", None)
        # torch's NonDynamicallyQuantizableLinear: a Linear (same state_dict keys).
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=d)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, embed_dim), dtype=d))
            self.bias_v = Parameter(np.empty((1, 1, embed_dim), dtype=d))
        else:
            self.register_parameter("bias_k", None)
            self.register_parameter("bias_v", None)
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    reset_parameters = _reset_parameters

    def _check(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any,
               attn_mask: Any) -> None:  # fmt: skip
        """Shapes, with the layer's path in the message (the functional form checks again)."""
        layout = "(N, L, E)" if self.batch_first else "(L, N, E)"
        if query.ndim not in (2, 3) or query.shape[-1] != self.embed_dim:
            raise self.shape_error(
                f"query {layout.replace('E', str(self.embed_dim))} or (L, {self.embed_dim})",
                query.shape, f"the query's last dim must be embed_dim={self.embed_dim}.",
            )  # fmt: skip
        for name, t, d in (("key", key, self.kdim), ("value", value, self.vdim)):
            if t.ndim != query.ndim or t.shape[-1] != d:
                seq = "S, " if query.ndim == 2 else ("N, S, " if self.batch_first else "S, N, ")
                raise self.shape_error(
                    f"{name} ({seq}{d})", t.shape,
                    f"a {query.ndim}-D query needs a {query.ndim}-D {name} whose last dim is "
                    f"{'kdim' if name == 'key' else 'vdim'}={d}.",
                )  # fmt: skip
        batched = query.ndim == 3
        b_axis, s_axis = (0, 1) if self.batch_first else (1, 0)
        n = query.shape[b_axis] if batched else 1
        L = query.shape[s_axis] if batched else query.shape[0]
        S = key.shape[s_axis] if batched else key.shape[0]
        if batched and (key.shape[b_axis] != n or value.shape[b_axis] != n):
            raise self.shape_error(f"key and value with batch size {n}", key.shape)
        if key.shape[:-1] != value.shape[:-1]:
            raise self.shape_error(f"value with the key's leading dims {key.shape[:-1]}",
                                   value.shape)  # fmt: skip
        if key_padding_mask is not None:
            expected = (n, S) if batched else (S,)
            if _mask_shape(key_padding_mask) != expected:
                raise ShapeError(
                    f"{self.path()} ({type(self).__name__}): expected key_padding_mask of shape "
                    f"{expected} ({'N, S' if batched else 'S'}), got "
                    f"{_mask_shape(key_padding_mask)}."
                )
        if attn_mask is not None:
            shape = _mask_shape(attn_mask)
            ok = shape in ((L, S), (n * self.num_heads, L, S))
            if not ok:
                raise ShapeError(
                    f"{self.path()} ({type(self).__name__}): expected attn_mask of shape "
                    f"{(L, S)} (L, S) or {(n * self.num_heads, L, S)} (N·num_heads, L, S), "
                    f"got {shape}."
                )

    def forward(
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        key_padding_mask: Any = None,
        need_weights: bool = True,
        attn_mask: Any = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        self._check(query, key, value, key_padding_mask, attn_mask)
        separate = {}
        if not self._qkv_same_embed_dim:
            separate = dict(
                use_separate_proj_weight=True,
                q_proj_weight=self.q_proj_weight,
                k_proj_weight=self.k_proj_weight,
                v_proj_weight=self.v_proj_weight,
            )
        return multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            average_attn_weights=average_attn_weights, is_causal=is_causal,
            batch_first=self.batch_first and query.ndim == 3, **separate,
        )  # fmt: skip

    def extra_repr(self) -> str:
        s = f"embed_dim={self.embed_dim}, num_heads={self.num_heads}"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if not self._qkv_same_embed_dim:
            s += f", kdim={self.kdim}, vdim={self.vdim}"
        if self.batch_first:
            s += ", batch_first=True"
        return s
