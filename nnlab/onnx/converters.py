"""One ONNX converter per nnlab module type: the nodes that compute the module's eval-mode
forward pass.

A converter is ``convert(g, module, x, path, example) -> output name``: it adds to the
:class:`~nnlab.onnx.graph.GraphBuilder` ``g`` the nodes that map the value named ``x`` to
the module's output, with ``path`` (the module's name in the model, "features.0") naming
them. ``example`` is the module's nnlab input for the example batch: its rank and its
non-batch sizes pick the ONNX form where torch's and ONNX's semantics differ (Gemm takes
only matrices, Reshape needs sizes). :data:`CONVERTERS` maps module types to converters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.nn import modules as M
from nnlab.onnx.graph import GraphBuilder
from nnlab.tensor import Tensor

__all__ = ["CONVERTERS", "Converter", "UnsupportedModuleError"]

Converter = Callable[[GraphBuilder, Any, str, str, Tensor], str]


class UnsupportedModuleError(TypeError):
    """A module (or a setting of one) that has no ONNX conversion."""

    def __init__(self, path: str, module: Any, reason: str) -> None:
        super().__init__(f"cannot export {path or '<model>'} ({type(module).__name__}): {reason}")


def _array(t: Tensor) -> np.ndarray:
    return t.detach().numpy()


def _ntuple(value: Any, n: int) -> list[int]:
    return [int(v) for v in value] if isinstance(value, (tuple, list)) else [int(value)] * n


# -- layers with weights --------------------------------------------------------------------


def linear(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """y = x Wᵀ + b: one Gemm for a matrix input, MatMul + Add for (N, *, in_features)
    (ONNX's Gemm takes only 2-D inputs)."""
    w = _array(m.weight)
    b = None if m.bias is None else g.weight(f"{path}.bias", _array(m.bias))
    if example.ndim == 2:
        inputs = [x, g.weight(f"{path}.weight", w)] + ([b] if b else [])
        return g.node("Gemm", inputs, path, transB=1)
    y = g.node("MatMul", [x, g.weight(f"{path}.weight_t", w.T)], path)
    return y if b is None else g.node("Add", [y, b], path)


def _conv_pads(m: Any, d: int) -> list[int]:
    """ONNX pads: every spatial dim's start, then every dim's end. padding='same' puts
    the odd extra pixel at the end, as torch does."""
    if m.padding == "valid":
        return [0] * (2 * d)
    if m.padding == "same":
        total = [dil * (k - 1) for dil, k in zip(m.dilation, m.kernel_size, strict=True)]
        return [t // 2 for t in total] + [t - t // 2 for t in total]
    return list(m.padding) * 2


def conv(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """A Conv node: cross-correlation with the same kernel, stride, padding, dilation
    and groups."""
    if m.padding_mode != "zeros":
        raise UnsupportedModuleError(
            path, m, f"padding_mode={m.padding_mode!r}; only 'zeros' is exported"
        )
    d = len(m.kernel_size)
    inputs = [x, g.weight(f"{path}.weight", _array(m.weight))]
    if m.bias is not None:
        inputs.append(g.weight(f"{path}.bias", _array(m.bias)))
    return g.node("Conv", inputs, path, kernel_shape=list(m.kernel_size), strides=list(m.stride),
                  pads=_conv_pads(m, d), dilations=list(m.dilation), group=m.groups)  # fmt: skip


def batch_norm(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """Eval-mode batch norm: (x − running_mean) / √(running_var + eps) · γ + β per
    channel (dim 1)."""
    if m.running_mean is None:
        raise UnsupportedModuleError(
            path, m, "track_running_stats=False normalises with each batch's own statistics "
            "even in eval mode; ONNX's BatchNormalization needs running statistics",
        )  # fmt: skip
    c = m.num_features
    dtype = _array(m.running_mean).dtype
    scale = _array(m.weight) if m.weight is not None else np.ones(c, dtype)
    bias = _array(m.bias) if getattr(m, "bias", None) is not None else np.zeros(c, dtype)
    inputs = [x, g.weight(f"{path}.weight", scale), g.weight(f"{path}.bias", bias),
              g.weight(f"{path}.running_mean", _array(m.running_mean)),
              g.weight(f"{path}.running_var", _array(m.running_var))]  # fmt: skip
    return g.node("BatchNormalization", inputs, path, epsilon=float(m.eps))


def layer_norm(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """LayerNormalization over the last len(normalized_shape) dims (opset 17)."""
    if m.elementwise_affine:
        scale = _array(m.weight)
    else:
        scale = np.ones(m.normalized_shape, dtype=example.numpy().dtype)
    inputs = [x, g.weight(f"{path}.weight", scale)]
    if getattr(m, "bias", None) is not None:
        inputs.append(g.weight(f"{path}.bias", _array(m.bias)))
    return g.node("LayerNormalization", inputs, path, axis=-len(m.normalized_shape),
                  epsilon=float(m.eps))  # fmt: skip


def embedding(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """Row lookup: Gather(weight, indices) along dim 0."""
    if m.max_norm is not None:
        raise UnsupportedModuleError(
            path, m, "max_norm renormalises the looked-up rows; ONNX's Gather does not"
        )
    return g.node("Gather", [g.weight(f"{path}.weight", _array(m.weight)), x], path, axis=0)


# -- activations ----------------------------------------------------------------------------


def _elementwise(op_type: str, **fixed: Any) -> Converter:
    def convert(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
        return g.node(op_type, [x], path, **fixed)

    return convert


def _scalar(g: GraphBuilder, path: str, value: float, example: Tensor) -> str:
    return g.weight(f"{path}.const", value, dtype=example.numpy().dtype)


def leaky_relu(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    return g.node("LeakyRelu", [x], path, alpha=float(m.negative_slope))


def elu(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    return g.node("Elu", [x], path, alpha=float(m.alpha))


def silu(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """x · σ(x)."""
    return g.node("Mul", [x, g.node("Sigmoid", [x], path)], path)


def softplus(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """log(1 + exp(β x)) / β. Torch switches to x above the threshold β x > 20 only to
    avoid overflow; there the two differ by less than e⁻²⁰, below float32's resolution."""
    if m.beta == 1:
        return g.node("Softplus", [x], path)
    beta = _scalar(g, path, m.beta, example)
    return g.node("Div", [g.node("Softplus", [g.node("Mul", [x, beta], path)], path), beta], path)


def gelu(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """x Φ(x) = ½ x (1 + erf(x / √2)), or with approximate='tanh'
    ½ x (1 + tanh(√(2/π) (x + 0.044715 x³))). Opset 17 has no Gelu node (it came in 20)."""
    half = g.node("Mul", [x, _scalar(g, path, 0.5, example)], path)
    if m.approximate == "tanh":
        cube = g.node("Mul", [g.node("Mul", [x, x], path), x], path)
        inner = g.node("Add", [x, g.node("Mul", [cube, _scalar(g, path, 0.044715, example)],
                                         path)], path)  # fmt: skip
        scaled = g.node("Mul", [inner, _scalar(g, path, math.sqrt(2 / math.pi), example)], path)
        core = g.node("Tanh", [scaled], path)
    else:
        core = g.node("Erf", [g.node("Div", [x, _scalar(g, path, math.sqrt(2), example)],
                                     path)], path)  # fmt: skip
    one_plus = g.node("Add", [core, _scalar(g, path, 1.0, example)], path)
    return g.node("Mul", [half, one_plus], path)


def _softmax(op_type: str) -> Converter:
    def convert(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
        if m.dim is None:
            raise UnsupportedModuleError(
                path, m, "dim=None (an implicit, deprecated choice of dim); give dim explicitly"
            )
        return g.node(op_type, [x], path, axis=int(m.dim))

    return convert


# -- shapes and pooling ---------------------------------------------------------------------


def flatten(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """Merge dims start_dim..end_dim: ONNX's Flatten for the usual (N, rest) case, else a
    Reshape that copies the leading dims (0), infers the merged one (−1) and fixes the
    trailing ones, so the batch dim stays dynamic."""
    n = example.ndim
    start, end = m.start_dim % n, m.end_dim % n
    if start == 1 and end == n - 1:
        return g.node("Flatten", [x], path, axis=1)
    shape = [0] * start + [-1] + [int(s) for s in example.shape[end + 1 :]]
    return g.node("Reshape", [x, g.weight(f"{path}.shape", shape, dtype=np.int64)], path)


def _pool_attributes(m: Any, path: str, example: Tensor, dilation: list[int]) -> dict[str, Any]:
    """Kernel, strides, pads and ceil_mode. With ceil_mode torch drops a last window that
    would start in the right padding; ONNX keeps it, so such a size is refused."""
    d = m.dims
    kernel, stride, padding = (_ntuple(v, d) for v in (m.kernel_size, m.stride, m.padding))
    if m.ceil_mode:
        spatial = [int(s) for s in example.shape[-d:]]
        onnx_size = [math.ceil((n + 2 * p - dl * (k - 1) - 1) / s) + 1
                     for n, p, dl, k, s in zip(spatial, padding, dilation, kernel, stride,
                                               strict=True)]  # fmt: skip
        torch_size = [int(s) for s in m(example).shape[-d:]]
        if onnx_size != torch_size:
            raise UnsupportedModuleError(
                path, m, f"ceil_mode=True on input size {spatial}: torch drops the last "
                f"window, which starts in the padding, giving {torch_size}; ONNX gives "
                f"{onnx_size}",
            )  # fmt: skip
    return {"kernel_shape": kernel, "strides": stride, "pads": padding * 2,
            "ceil_mode": int(bool(m.ceil_mode))}  # fmt: skip


def max_pool(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    if m.return_indices:
        raise UnsupportedModuleError(path, m, "return_indices=True (two outputs)")
    dilation = _ntuple(m.dilation, m.dims)
    attributes = _pool_attributes(m, path, example, dilation)
    return g.node("MaxPool", [x], path, dilations=dilation, **attributes)


def avg_pool(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    if getattr(m, "divisor_override", None) is not None:
        raise UnsupportedModuleError(path, m, "divisor_override has no ONNX equivalent")
    attributes = _pool_attributes(m, path, example, [1] * m.dims)
    return g.node("AveragePool", [x], path, count_include_pad=int(bool(m.count_include_pad)),
                  **attributes)  # fmt: skip


def adaptive_avg_pool(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """Only output size 1 (a global average), the form classifiers use."""
    if any(s != 1 for s in _ntuple(m.output_size, m.dims)):
        raise UnsupportedModuleError(
            path, m, f"output_size={m.output_size}; only 1 (a global average) is exported"
        )
    return g.node("GlobalAveragePool", [x], path)


def global_avg_pool(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """The mean over all spatial dims, (N, C) with flatten else (N, C, 1, ...)."""
    y = g.node("GlobalAveragePool", [x], path)
    return g.node("Flatten", [y], path, axis=1) if m.flatten else y


_identity = _elementwise("Identity")  # Dropout is the identity in eval mode

CONVERTERS: dict[type, Converter] = {
    M.Linear: linear,
    M.Conv1d: conv,
    M.Conv2d: conv,
    M.Conv3d: conv,
    M.BatchNorm1d: batch_norm,
    M.BatchNorm2d: batch_norm,
    M.BatchNorm3d: batch_norm,
    M.LayerNorm: layer_norm,
    M.Embedding: embedding,
    M.ReLU: _elementwise("Relu"),
    M.Sigmoid: _elementwise("Sigmoid"),
    M.Tanh: _elementwise("Tanh"),
    M.LeakyReLU: leaky_relu,
    M.ELU: elu,
    M.SiLU: silu,
    M.Softplus: softplus,
    M.GELU: gelu,
    M.Softmax: _softmax("Softmax"),
    M.LogSoftmax: _softmax("LogSoftmax"),
    M.Identity: _identity,
    M.Dropout: _identity,
    M.Dropout1d: _identity,
    M.Dropout2d: _identity,
    M.Dropout3d: _identity,
    M.Flatten: flatten,
    M.MaxPool1d: max_pool,
    M.MaxPool2d: max_pool,
    M.AvgPool1d: avg_pool,
    M.AvgPool2d: avg_pool,
    M.AdaptiveAvgPool1d: adaptive_avg_pool,
    M.AdaptiveAvgPool2d: adaptive_avg_pool,
    M.GlobalAvgPool: global_avg_pool,
}
