"""One time step of each recurrent cell, composed from primitive ops (matmul, add, chunk,
sigmoid, tanh, relu, mul): autograd derives their backward step by step.

These are the readable definitions and the second implementation the tests compare the
fused whole-sequence ops of ``recurrent.py`` and ``recurrent_gru.py`` to; the cell layers
(``nn.RNNCell``, ``nn.LSTMCell``, ``nn.GRUCell``) call them. Gate order and parameter
layout are torch's: weight_ih (gates·H, input), weight_hh (gates·H, H).
"""

from __future__ import annotations

from nnlab.ops.activation import relu, sigmoid, tanh
from nnlab.tensor import Tensor

__all__ = ["rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]


def _affine(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    y = x @ w.T
    return y if b is None else y + b


def _pre(x, h, w_ih, w_hh, b_ih, b_hh) -> Tensor:
    return _affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)


def rnn_tanh_cell(
    input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    Example:
        >>> import nnlab
        >>> rnn_tanh_cell(nnlab.ones(1, 2), nnlab.zeros(1, 3), nnlab.zeros(3, 2),
        ...               nnlab.zeros(3, 3)).shape
        nnlab.Size([1, 3])
    """
    return tanh(_pre(input, h, w_ih, w_hh, b_ih, b_hh))


def rnn_relu_cell(
    input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """h' = relu(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh).

    Example:
        >>> import nnlab
        >>> rnn_relu_cell(-nnlab.ones(1, 2), nnlab.zeros(1, 1), nnlab.ones(1, 2),
        ...               nnlab.ones(1, 1))
        tensor([[0.]])
    """
    return relu(_pre(input, h, w_ih, w_hh, b_ih, b_hh))


def lstm_cell(
    input: Tensor, state: tuple[Tensor, Tensor], w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None, w_hr: Tensor | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """(h', c') of one LSTM step, gates (i, f, g, o):

        i, f, g, o = σ, σ, tanh, σ of the four chunks of x W_ihᵀ + b_ih + h W_hhᵀ + b_hh
        c' = f ⊙ c + i ⊙ g,    h' = o ⊙ tanh(c')   (then h' W_hrᵀ with a projection)

    Example:
        >>> import nnlab
        >>> h, c = lstm_cell(nnlab.ones(2, 3), (nnlab.zeros(2, 4), nnlab.zeros(2, 4)),
        ...                  nnlab.zeros(16, 3), nnlab.zeros(16, 4))
        >>> h.shape, c.shape
        (nnlab.Size([2, 4]), nnlab.Size([2, 4]))
    """
    h, c = state
    i, f, g, o = _pre(input, h, w_ih, w_hh, b_ih, b_hh).chunk(4, dim=-1)
    c_new = sigmoid(f) * c + sigmoid(i) * tanh(g)
    h_new = sigmoid(o) * tanh(c_new)
    if w_hr is not None:
        h_new = h_new @ w_hr.T
    return h_new, c_new


def gru_cell(
    input: Tensor, h: Tensor, w_ih: Tensor, w_hh: Tensor,
    b_ih: Tensor | None = None, b_hh: Tensor | None = None,
) -> Tensor:  # fmt: skip
    """h' of one GRU step, gates (r, z, n):

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),   h' = (1 - z) ⊙ n + z ⊙ h

    Example:
        >>> import nnlab
        >>> gru_cell(nnlab.ones(1, 2), nnlab.ones(1, 1), nnlab.zeros(3, 2), nnlab.zeros(3, 1))
        tensor([[0.5]])
    """
    xr, xz, xn = _affine(input, w_ih, b_ih).chunk(3, dim=-1)
    hr, hz, hn = _affine(h, w_hh, b_hh).chunk(3, dim=-1)
    r = sigmoid(xr + hr)
    z = sigmoid(xz + hz)
    n = tanh(xn + r * hn)
    return (1 - z) * n + z * h
