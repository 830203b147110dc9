"""The differentiable ops, one family per file. Each op is a ``Function`` subclass with its
forward and backward side by side; the lowercase functions here are the public API."""

from __future__ import annotations

import numpy as np
import scipy.special

from nnlab.ops.activation import elu, gelu, leaky_relu, relu, sigmoid, silu, softplus, tanh
from nnlab.ops.comparison import (
    allclose,
    eq,
    equal,
    ge,
    gt,
    isclose,
    le,
    logical_not,
    lt,
    ne,
    sign,
)  # fmt: skip
from nnlab.ops.dropout import dropout
from nnlab.ops.einsum import einsum
from nnlab.ops.elementwise import (
    abs,
    add,
    cast,
    clamp,
    clip,
    clone,
    cos,
    div,
    erf,
    exp,
    log,
    log1p,
    masked_fill,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sin,
    sqrt,
    sub,
    where,
)  # fmt: skip
from nnlab.ops.indexing import gather, getitem, index_select, one_hot, scatter_add
from nnlab.ops.linalg import bmm, matmul, mm, tril, triu
from nnlab.ops.reduction import (
    all,
    amax,
    amin,
    any,
    argmax,
    argmin,
    cumsum,
    logsumexp,
    max,
    mean,
    min,
    norm,
    prod,
    std,
    sum,
    var,
    vector_norm,
)  # fmt: skip
from nnlab.ops.rounding import ceil, floor, floor_divide, remainder, round, trunc
from nnlab.ops.scatter import index_gather, scatter, scatter_softmax
from nnlab.ops.shape import (
    cat,
    chunk,
    concatenate,
    expand,
    flatten,
    narrow,
    pad,
    permute,
    repeat,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unsqueeze,
    view,
)  # fmt: skip
from nnlab.ops.softmax import log_softmax, softmax
from nnlab.ops.sorting import argsort, sort, topk

__all__ = [
    "abs", "add", "amax", "amin", "argmax", "argmin", "bmm", "cast", "cat", "chunk", "clamp",
    "clip", "clone", "concatenate", "cos", "div", "dropout", "elu", "eq", "erf", "exp",
    "expand", "flatten", "gather", "ge", "gelu", "getitem", "gt", "index_select", "le",
    "leaky_relu", "log", "log1p", "log_softmax", "logical_not", "logsumexp", "lt",
    "masked_fill", "matmul", "max", "mean", "min", "mm", "mul", "ne", "neg", "one_hot", "pad",
    "permute", "pow", "prod", "relu", "reshape", "scatter_add", "sigmoid", "sign", "silu",
    "sin", "softmax", "softplus", "split", "sqrt", "squeeze", "stack", "std", "sub", "sum",
    "tanh", "transpose", "unsqueeze", "var", "view", "where", "UFUNCS",
    # comparisons of whole tensors, sorting, rounding, norms, running sums
    "all", "allclose", "any", "argsort", "ceil", "cumsum", "floor", "floor_divide", "isclose",
    "maximum", "minimum", "norm", "remainder", "round", "sort", "topk", "trunc", "vector_norm",
    # matrices and index notation
    "einsum", "equal", "narrow", "repeat", "tril", "triu",
    # graphs: reductions over an edge list's segments
    "index_gather", "scatter", "scatter_softmax",
]  # fmt: skip

#: NumPy (and SciPy) ufuncs that a Tensor answers with its own differentiable op.
UFUNCS = {
    np.add: add,
    np.subtract: sub,
    np.multiply: mul,
    np.true_divide: div,
    np.power: pow,
    np.negative: neg,
    np.positive: lambda x: x,
    np.matmul: matmul,
    np.exp: exp,
    np.log: log,
    np.log1p: log1p,
    np.sqrt: sqrt,
    np.absolute: abs,
    np.sin: sin,
    np.cos: cos,
    np.tanh: tanh,
    np.square: lambda x: mul(x, x),
    np.sign: sign,
    np.less: lt,
    np.less_equal: le,
    np.greater: gt,
    np.greater_equal: ge,
    np.equal: eq,
    np.not_equal: ne,
    np.logical_not: logical_not,
    np.maximum: maximum,
    np.minimum: minimum,
    np.floor: floor,
    np.ceil: ceil,
    np.trunc: trunc,
    np.rint: round,
    np.floor_divide: floor_divide,
    np.remainder: remainder,
    scipy.special.erf: erf,
}
