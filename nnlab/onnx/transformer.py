"""ONNX conversion of the transformer encoder: :class:`~nnlab.nn.TransformerEncoderLayer`
(self-attention, no masks) and :class:`~nnlab.nn.TransformerEncoder`, from MatMul,
Softmax and LayerNormalization nodes.

Self-attention of x (N, L, D) with h heads of size d = D/h:
``softmax(Q Kᵀ / √d) V`` per head, with Q, K, V = x W_qᵀ + b_q, ... (the three blocks of
``in_proj_weight``), heads side by side again, then ``out_proj``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab.nn import functional as F
from nnlab.nn.modules.activation import GELU
from nnlab.nn.modules.normalization import LayerNorm
from nnlab.nn.modules.transformer import TransformerEncoder, TransformerEncoderLayer
from nnlab.onnx.converters import Converter, UnsupportedModuleError, gelu, layer_norm, linear
from nnlab.onnx.graph import GraphBuilder
from nnlab.tensor import Tensor

__all__ = ["TRANSFORMER_CONVERTERS"]


def _projection(g: GraphBuilder, x: str, w: np.ndarray, b: np.ndarray | None, path: str) -> str:
    y = g.node("MatMul", [x, g.weight(f"{path}.weight_t", w.T)], path)
    return y if b is None else g.node("Add", [y, g.weight(f"{path}.bias", b)], path)


def self_attention(g: GraphBuilder, attn: Any, x: str, path: str, example: Tensor) -> str:
    """Multi-head self-attention of batch-first x (N, L, D); returns (N, L, D)."""
    if attn.in_proj_weight is None or attn.bias_k is not None or attn.add_zero_attn:
        raise UnsupportedModuleError(
            path, attn, "separate q/k/v projections, bias_k/bias_v and add_zero_attn are not "
            "exported",
        )  # fmt: skip
    d_model, heads, d = attn.embed_dim, attn.num_heads, attn.head_dim
    w = np.split(attn.in_proj_weight.detach().numpy(), 3)
    b = (np.split(attn.in_proj_bias.detach().numpy(), 3) if attn.in_proj_bias is not None
         else [None] * 3)  # fmt: skip
    split_heads = g.weight(f"{path}.heads_shape", [0, 0, heads, d], dtype=np.int64)
    q, k, v = (
        g.node("Reshape", [_projection(g, x, w[i], b[i], f"{path}.{name}"), split_heads], path)
        for i, name in enumerate(("q", "k", "v"))
    )
    q = g.node("Transpose", [q], path, perm=[0, 2, 1, 3])  # (N, h, L, d)
    k = g.node("Transpose", [k], path, perm=[0, 2, 3, 1])  # (N, h, d, L)
    v = g.node("Transpose", [v], path, perm=[0, 2, 1, 3])
    scale = g.weight(f"{path}.scale", 1 / math.sqrt(d), dtype=example.numpy().dtype)
    scores = g.node("Mul", [g.node("MatMul", [q, k], path), scale], path)
    context = g.node("MatMul", [g.node("Softmax", [scores], path, axis=-1), v], path)
    context = g.node("Transpose", [context], path, perm=[0, 2, 1, 3])  # (N, L, h, d)
    merge = g.weight(f"{path}.merge_shape", [0, 0, d_model], dtype=np.int64)
    merged = g.node("Reshape", [context, merge], path)
    return linear(g, attn.out_proj, merged, f"{path}.out_proj", example)


def _feedforward(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    hidden = linear(g, m.linear1, x, f"{path}.linear1", example)
    if m.activation is F.relu:
        hidden = g.node("Relu", [hidden], f"{path}.activation")
    elif m.activation is F.gelu:
        hidden = gelu(g, GELU(), hidden, f"{path}.activation", example)
    else:
        raise UnsupportedModuleError(path, m, "a custom activation function is not exported")
    return linear(g, m.linear2, hidden, f"{path}.linear2", example)


def encoder_layer(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """Post-norm x ← LN₁(x + SA(x)), x ← LN₂(x + FF(x)), or with norm_first
    x ← x + SA(LN₁(x)), x ← x + FF(LN₂(x)); dropout is the identity in eval mode."""
    if not m.self_attn.batch_first:  # (L, N, D) in and out: attend within each column
        x = g.node("Transpose", [x], path, perm=[1, 0, 2])
    attn, norm1, norm2 = f"{path}.self_attn", f"{path}.norm1", f"{path}.norm2"
    if m.norm_first:
        normed = layer_norm(g, m.norm1, x, norm1, example)
        x = g.node("Add", [x, self_attention(g, m.self_attn, normed, attn, example)], path)
        normed = layer_norm(g, m.norm2, x, norm2, example)
        x = g.node("Add", [x, _feedforward(g, m, normed, path, example)], path)
    else:
        h = self_attention(g, m.self_attn, x, attn, example)
        x = layer_norm(g, m.norm1, g.node("Add", [x, h], path), norm1, example)
        h = _feedforward(g, m, x, path, example)
        x = layer_norm(g, m.norm2, g.node("Add", [x, h], path), norm2, example)
    if not m.self_attn.batch_first:
        x = g.node("Transpose", [x], path, perm=[1, 0, 2])
    return x


def encoder(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """The layers in order, then the final norm if there is one."""
    for i, layer in enumerate(m.layers):
        x = encoder_layer(g, layer, x, f"{path}.layers.{i}", example)
    if m.norm is not None:
        if not isinstance(m.norm, LayerNorm) or type(m.norm).forward is not LayerNorm.forward:
            raise UnsupportedModuleError(f"{path}.norm", m.norm, "only a LayerNorm is exported")
        x = layer_norm(g, m.norm, x, f"{path}.norm", example)
    return x


TRANSFORMER_CONVERTERS: dict[type, Converter] = {
    TransformerEncoderLayer: encoder_layer,
    TransformerEncoder: encoder,
}
