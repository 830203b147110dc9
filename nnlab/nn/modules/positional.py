"""Positional encodings: attention is blind to order, so each token's position is added
to its embedding before the first layer.

- **SinusoidalPositionalEncoding** (Vaswani et al., 2017): a fixed table,
  PE(pos, 2i) = sin(pos / 10000^(2i/d)),  PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).
  Each pair of features is a rotation at its own frequency, from one turn per 2π positions
  down to one per 10000·2π, so PE(pos + k) is a linear function of PE(pos) for every
  offset k, and the table extends to any length without training.
- **LearnedPositionalEncoding** (BERT, GPT): one trained vector per position, an
  embedding table of ``max_len`` rows; it cannot go beyond ``max_len``.

PyTorch has no positional-encoding module; the sinusoidal one computes what the
PyTorch tutorial's ``PositionalEncoding`` does.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn.module import Module
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.embedding import Embedding
from nnlab.tensor import Tensor

__all__ = ["SinusoidalPositionalEncoding", "LearnedPositionalEncoding", "sinusoidal_table"]


def sinusoidal_table(max_len: int, d_model: int, dtype: Any = None) -> np.ndarray:
    """The (max_len, d_model) table PE(pos, 2i) = sin(pos·ωᵢ), PE(pos, 2i+1) = cos(pos·ωᵢ),
    ωᵢ = 10000^(-2i/d_model), computed in float64 and then cast.

    Example:
        >>> sinusoidal_table(2, 4).round(4)
        array([[0.    , 1.    , 0.    , 1.    ],
               [0.8415, 0.5403, 0.01  , 1.    ]], dtype=float32)
    """
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    position = np.arange(max_len, dtype=np.float64)[:, None]
    omega = np.exp(np.arange(0, d_model, 2, dtype=np.float64) * (-math.log(10000.0) / d_model))
    table = np.zeros((max_len, d_model), dtype=np.float64)
    table[:, 0::2] = np.sin(position * omega)
    table[:, 1::2] = np.cos(position * omega[: d_model // 2])
    return table.astype(d)


def _check(layer: Module, x: Tensor, d_model: int, max_len: int, batch_first: bool) -> int:
    """The sequence length of ``x``, after checking its shape."""
    layout = "(N, L, d_model)" if batch_first else "(L, N, d_model)"
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise layer.shape_error(
            f"{layout.replace('d_model', str(d_model))} or (L, {d_model})", x.shape,
            f"the last dim must be d_model={d_model}.",
        )  # fmt: skip
    length = x.shape[1] if (x.ndim == 3 and batch_first) else x.shape[0]
    if length > max_len:
        raise layer.shape_error(
            f"at most max_len={max_len} positions", x.shape,
            f"the sequence has {length} positions; build the layer with a larger max_len"
            + ("" if batch_first or x.ndim == 2 else " (or pass batch_first=True if dim 0 "
               "is the batch)") + ".",
        )  # fmt: skip
    return length


def _broadcast(table: Tensor, x: Tensor, length: int, batch_first: bool) -> Tensor:
    """The first ``length`` rows, shaped to add to x: (L, 1, E), (1, L, E) or (L, E)."""
    rows = table[:length]
    if x.ndim == 2:
        return rows
    return rows.unsqueeze(0) if batch_first else rows.unsqueeze(1)


class SinusoidalPositionalEncoding(Module):
    """y = dropout(x + PE[:L]), PE the fixed sinusoidal table of "Attention is all you need".

    PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d)).

    The table is a *non-persistent* buffer ``pe`` of shape (max_len, d_model): it moves
    with the module (``.double()``) but is not saved in ``state_dict``, since it is a pure
    function of (max_len, d_model); a model built with another ``max_len`` loads the same
    checkpoint. (A checkpoint of the PyTorch tutorial's model, whose ``pe`` is persistent,
    loads with ``strict=False``.)

    Args:
        d_model: features of each token.
        max_len: longest sequence (default: 5000).
        dropout: dropout probability after the addition (default: 0.0).
        batch_first: (N, L, d_model) inputs instead of (L, N, d_model) (default: False).
        dtype: dtype of the table (default: the default dtype).

    Shape:
        - Input: (L, N, d_model), (N, L, d_model) with ``batch_first``, or (L, d_model).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> pe = nn.SinusoidalPositionalEncoding(d_model=4, max_len=100)
        >>> pe(nnlab.zeros(2, 1, 4))[:, 0]
        tensor([[0.    , 1.    , 0.    , 1.    ],
                [0.8415, 0.5403, 0.01  , 0.9999]])
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0,
                 batch_first: bool = False, dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.d_model, self.max_len, self.batch_first = d_model, max_len, batch_first
        self.dropout = Dropout(dropout)
        self.register_buffer("pe", Tensor(sinusoidal_table(max_len, d_model, dtype)),
                             persistent=False)  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        length = _check(self, x, self.d_model, self.max_len, self.batch_first)
        return self.dropout(x + _broadcast(self.pe, x, length, self.batch_first))

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, max_len={self.max_len}" + (
            ", batch_first=True" if self.batch_first else ""
        )


class LearnedPositionalEncoding(Module):
    """y = dropout(x + P[:L]) with P a trained (max_len, d_model) table, one row per position.

    The table is an :class:`~nnlab.nn.Embedding` of the positions (``embedding.weight``,
    initialised N(0, 1) as Embedding's). Adding its first L rows is the same as looking up
    positions 0…L-1, without building the index tensor.

    Args:
        max_len: number of positions (the longest sequence).
        d_model: features of each token.
        dropout: dropout probability after the addition (default: 0.0).
        batch_first: (N, L, d_model) inputs instead of (L, N, d_model) (default: False).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - Input: (L, N, d_model), (N, L, d_model) with ``batch_first``, or (L, d_model).
        - Output: same as the input.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> pos = nn.LearnedPositionalEncoding(max_len=50, d_model=8, batch_first=True)
        >>> pos(nnlab.zeros(2, 10, 8)).shape
        nnlab.Size([2, 10, 8])
        >>> list(pos.state_dict())
        ['embedding.weight']
    """

    def __init__(self, max_len: int, d_model: int, dropout: float = 0.0,
                 batch_first: bool = False, dtype: Any = None) -> None:  # fmt: skip
        super().__init__()
        self.max_len, self.d_model, self.batch_first = max_len, d_model, batch_first
        self.embedding = Embedding(max_len, d_model, dtype=dtype)
        self.dropout = Dropout(dropout)

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()

    def forward(self, x: Tensor) -> Tensor:
        length = _check(self, x, self.d_model, self.max_len, self.batch_first)
        return self.dropout(x + _broadcast(self.embedding.weight, x, length, self.batch_first))

    def extra_repr(self) -> str:
        return f"max_len={self.max_len}, d_model={self.d_model}" + (
            ", batch_first=True" if self.batch_first else ""
        )
