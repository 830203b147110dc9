"""Embedding layer: a trainable lookup table mapping integer ids (words, items) to vectors.

A thin shell over :func:`nnlab.nn.functional.embedding`; the parameter ``weight`` has
torch's name and (num_embeddings, embedding_dim) layout, so torch weights load as is.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import functional as F
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = ["Embedding"]


class Embedding(Module):
    """A lookup table: y = W[input], one row of W per id.

    Equivalent to a bias-free Linear layer applied to one-hot vectors, without building
    them. The gradient of W sums the upstream gradients of every occurrence of an id.

    Default initialisation (PyTorch's): W ~ N(0, 1), and the ``padding_idx`` row zeroed.

    Args:
        num_embeddings: size of the vocabulary V.
        embedding_dim: size D of each vector.
        padding_idx: an id whose row is zero-initialised and never receives a gradient,
            e.g. the padding token of variable-length batches (negative counts from V).
        max_norm: if given, each looked-up row with a larger norm is rescaled in place to
            norm ``max_norm`` before the lookup.
        norm_type: p of the p-norm used with ``max_norm`` (default: 2).
        scale_grad_by_freq: divide gradients by the id's frequency in the mini-batch.
        sparse: sparse gradients are not supported (must be False).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - Input: (*) integer ids in [0, num_embeddings).
        - Output: (*, embedding_dim).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> emb = nn.Embedding(10, 3, padding_idx=0)
        >>> emb(nnlab.tensor([[1, 2, 0], [4, 0, 0]])).shape
        nnlab.Size([2, 3, 3])
        >>> emb.weight[0]
        tensor([0., 0., 0.], grad_fn=<GetItemBackward>)
    """

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
        _weight: Any = None,
        _freeze: bool = False,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(
                    f"Embedding: padding_idx must be within num_embeddings ({num_embeddings}), "
                    f"got {padding_idx}"
                )
            padding_idx %= num_embeddings
        if sparse:
            raise NotImplementedError("Embedding: sparse gradients are not supported in nnlab")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = padding_idx
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        self.sparse = sparse
        if _weight is None:
            d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=d),
                                    requires_grad=not _freeze)  # fmt: skip
            self.reset_parameters()
        else:
            data = _weight.array if isinstance(_weight, Tensor) else np.asarray(_weight)
            if data.shape != (num_embeddings, embedding_dim):
                raise ValueError(
                    f"Embedding: _weight must have shape ({num_embeddings}, {embedding_dim}), "
                    f"got {tuple(data.shape)}"
                )
            self.weight = Parameter(data, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.array[self.padding_idx] = 0

    @classmethod
    def from_pretrained(
        cls,
        embeddings: Any,
        freeze: bool = True,
        padding_idx: int | None = None,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        sparse: bool = False,
    ) -> Embedding:
        """An Embedding whose table is ``embeddings`` (V, D), frozen unless ``freeze=False``.
        As torch, the ``padding_idx`` row is kept as given (not zeroed).

        Example:
            >>> import nnlab
            >>> from nnlab import nn
            >>> emb = nn.Embedding.from_pretrained(nnlab.tensor([[1.0, 2.0], [3.0, 4.0]]))
            >>> emb(nnlab.tensor([1])), emb.weight.requires_grad
            (tensor([[3., 4.]]), False)
        """
        data = embeddings.array if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if data.ndim != 2:
            raise ValueError(
                f"Embedding.from_pretrained: embeddings must be 2-D (V, D), got shape "
                f"{tuple(data.shape)}"
            )
        return cls(
            data.shape[0], data.shape[1], padding_idx=padding_idx, max_norm=max_norm,
            norm_type=norm_type, scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
            _weight=data.copy(), _freeze=freeze,
        )  # fmt: skip

    def forward(self, input: Tensor) -> Tensor:
        ids = input.array if isinstance(input, Tensor) else np.asarray(input)
        if ids.dtype.kind not in "iu":
            raise TypeError(
                f"{self.path()} (Embedding): expected integer ids (int64 or int32), got dtype "
                f"{ids.dtype}. Hint: convert them with .long(); float features need a Linear "
                "layer instead."
            )
        if ids.size and (ids.min() < 0 or ids.max() >= self.num_embeddings):
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise IndexError(
                f"{self.path()} (Embedding): index out of range in self: id {bad} is not in "
                f"[0, {self.num_embeddings}). Hint: num_embeddings must exceed the largest id "
                "(the vocabulary size, padding and unknown tokens included)."
            )
        return F.embedding(
            input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
            self.scale_grad_by_freq, self.sparse,
        )  # fmt: skip

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        if self.sparse is not False:
            s += f", sparse={self.sparse}"
        return s
