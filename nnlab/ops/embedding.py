"""Embedding lookup: y = W[indices], each integer index picks one row of a (V, D) table.

A lookup is a product with one-hot rows, y = onehot(indices) W, so its gradient is

    dL/dW = onehot(indices)ᵀ G,   i.e.  dL/dW[v] = Σ_{n : indices[n] = v} G[n]

a *scatter-add* of the upstream rows into the table: a word used five times in a batch
receives the sum of its five gradients. ``np.add.at`` does this but is slow (≈10× here);
the reference multiplies the one-hot matrix, as a sparse CSR matrix (V × n, one 1 per
column), by G, a sparse GEMM that sums the repeated rows at about memory speed; the numba
kernel adds the rows in the same order in one pass (:mod:`nnlab.kernels.embedding`).

``padding_idx`` marks a row that never receives a gradient (the padding token's vector
stays as it is, zeros by default); ``scale_grad_by_freq`` divides each row's gradient by
how often the index occurs in the batch; ``max_norm`` rescales looked-up rows in place
to norm ≤ max_norm before the lookup, as torch does (outside autograd).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.autograd.grad_mode import no_grad
from nnlab.kernels.embedding import embedding_backward
from nnlab.tensor import Tensor

__all__ = ["embedding", "embedding_composed", "embedding_renorm_"]


class Embedding(Function):
    """y = W[indices];  dW = onehot(indices)ᵀ G (rows of G summed per index), with the
    padding row's gradient set to 0 and, with ``scale_grad_by_freq``, each G[n] divided by
    the count of indices[n] in the batch. The indices get no gradient."""

    double_backward = False

    @staticmethod
    def forward(ctx, weight, indices, padding_idx, scale_grad_by_freq):
        ctx.indices, ctx.rows = indices, weight.shape[0]
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return weight[indices]

    @staticmethod
    def backward(ctx, g):
        idx = ctx.indices.reshape(-1)
        g2 = g.reshape(idx.size, -1)
        dw = embedding_backward(g2, idx, ctx.rows, ctx.padding_idx, ctx.scale)
        return dw, None, None, None


def _indices(op: str, input: Any, num: int) -> np.ndarray:
    idx = input.array if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: indices must be an integer tensor (int64 or int32), got dtype {idx.dtype}; "
            "convert it with .long()"
        )
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(
            f"{op}: index out of range in self: index {bad} is not in [0, {num}) for a table "
            f"of {num} embeddings"
        )
    return idx.astype(np.intp, copy=False)


def _padding(op: str, padding_idx: int | None, num: int) -> int | None:
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise ValueError(
            f"{op}: padding_idx must be within num_embeddings ({num}), got {padding_idx}"
        )
    return padding_idx % num


def embedding_renorm_(
    weight: Tensor, input: Any, max_norm: float, norm_type: float = 2.0
) -> Tensor:
    """Rescale in place, outside autograd, each row W[v] used by ``input`` whose p-norm
    exceeds ``max_norm`` to norm max_norm: W[v] *= max_norm / (‖W[v]‖ₚ + 1e-7) (torch's
    ``embedding_renorm_``; the 1e-7 is torch's too).

    Example:
        >>> import nnlab
        >>> w = nnlab.tensor([[3.0, 4.0], [0.3, 0.4]])
        >>> embedding_renorm_(w, nnlab.tensor([0, 1]), 1.0)
        tensor([[0.6, 0.8],
               [0.3, 0.4]])
    """
    rows = np.unique(_indices("embedding_renorm_", input, weight.shape[0]))
    with no_grad():
        w = weight.array[rows]
        norms = np.linalg.norm(w, ord=norm_type, axis=1)
        over = norms > max_norm
        scale = (max_norm / (norms[over] + 1e-7)).astype(w.dtype)
        weight.array[rows[over]] = w[over] * scale[:, None]
    return weight


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Look up rows of an embedding table (``torch.nn.functional.embedding``).

    y[..., :] = W[input[...], :]. The gradient sums the upstream rows per index (see the
    module docstring); the row ``padding_idx`` gets none.

    Args:
        input: integer tensor of any shape, values in [0, V).
        weight: (V, D) table.
        padding_idx: a row that receives no gradient (negative counts from the end).
        max_norm: if given, rows looked up are first renormalised in place to this norm.
        norm_type: the p of the p-norm for ``max_norm`` (default: 2).
        scale_grad_by_freq: divide gradients by each index's frequency in the batch.
        sparse: sparse gradients are not supported (must be False).

    Shape:
        input (*), weight (V, D) → output (*, D).

    Example:
        >>> import nnlab
        >>> w = nnlab.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = embedding(nnlab.tensor([[1, 2, 1]]), w)
        >>> y.shape
        nnlab.Size([1, 3, 2])
        >>> y.sum().backward()
        >>> w.grad  # row 1 was used twice
        tensor([[0., 0.],
               [2., 2.],
               [1., 1.]])
    """
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported in nnlab")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (V, D), got shape {tuple(weight.shape)}")
    num = weight.shape[0]
    idx = _indices("embedding", input, num)
    padding_idx = _padding("embedding", padding_idx, num)
    if max_norm is not None:
        embedding_renorm_(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, idx, padding_idx, scale_grad_by_freq)


def embedding_composed(input: Tensor, weight: Tensor) -> Tensor:
    """The same lookup as plain indexing (whose backward uses ``np.add.at``): the fused
    op's twin.

    Example:
        >>> import nnlab
        >>> w, i = nnlab.randn(5, 3), nnlab.tensor([4, 0, 4])
        >>> bool((embedding_composed(i, w) == embedding(i, w)).all())
        True
    """
    return weight[_indices("embedding", input, weight.shape[0])]
