"""Padded batches of tokens: checking the ids and averaging over the real positions.

The conventions, stated once for every text model:

* token ids are an integer array (N, T), each row padded on the right with a pad id;
* the padding mask is True (or 1, BERT's ``attention_mask``) at real tokens and False (0)
  at padding; PyTorch's ``key_padding_mask`` is its negation (True = ignore);
* attention turns a mask into an additive bias, 0 where a key may be seen and -∞ where it
  may not: :func:`nnlab.ops.attention.attention_bias` is the one place that does it.

A mean over the real positions is the usual way to turn per-token vectors into one vector
per text (a bag of embeddings, a transformer's or a sentence encoder's pooled output):

    mean_t(x) = Σ_t m_t x_t / max(Σ_t m_t, 1)

so padding never counts and a row with no real token gives zeros instead of 0/0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["masked_mean", "token_ids"]


def token_ids(model: Module, ids: Tensor, pad_idx: int) -> Tensor:
    """Check token ids (N, T) and drop the trailing columns that are padding in every row:
    they cannot change the result (they are masked), only cost time, and a batch of
    short posts padded to a long ``max_len`` is mostly such columns.

    ``model`` names the layer in the error raised for anything but an integer (N, T) Tensor.

    Example:
        >>> import nnlab
        >>> token_ids(nnlab.nn.Identity(), nnlab.tensor([[4, 7, 0, 0], [3, 0, 0, 0]]), 0)
        tensor([[4, 7],
                [3, 0]])
    """
    if ids.ndim != 2 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"{model.path()}: expected int64 token ids of shape (N, T), got "
            f"{ids.dtype} {tuple(ids.shape)}"
        )
    used = (ids.array != pad_idx).any(0).nonzero()[0]
    width = int(used[-1]) + 1 if used.size else 1
    return ids if width == ids.shape[1] else ids[:, :width]


def masked_mean(x: Tensor, mask: Any) -> Tensor:
    """Mean of ``x`` (N, T, D) over the positions where ``mask`` (N, T) is True (or
    non-zero); a row without any such position gives zeros. Differentiable in ``x``.

    ``mask`` is a Tensor or an array, boolean or 0/1 integers (BERT's ``attention_mask``).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[[1.0], [3.0], [100.0]]])
        >>> masked_mean(x, nnlab.tensor([[True, True, False]]))
        tensor([[2.]])
    """
    m = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    weights = Tensor(m.astype(x.dtype))
    total = (x * weights.unsqueeze(-1)).sum(1)
    count = weights.sum(1, keepdim=True).clamp(min=1.0)
    return total / count
