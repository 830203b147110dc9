"""Gradient flow through time: how much of the loss's gradient reaches each step of a
recurrent layer, to see vanishing and exploding gradients.

Backpropagation through time multiplies the gradient by the step Jacobian
∂h_t/∂h_{t-1} = diag(φ'(z_t)) W_hh once per step, so after k steps

    ‖dL/dh_{T-k}‖ ≈ ‖dL/dh_T‖ · (typical gain of diag(φ') W_hh)ᵏ

which shrinks geometrically (vanishing: early inputs cannot be learned) or grows
geometrically (exploding: one update throws the weights far away; gradient clipping,
``nn.utils.clip_grad_norm_``, is the usual cure). An LSTM's cell state passes the
gradient through ``f_t`` (the forget gate) instead, which can stay close to 1.

:func:`time_step_grad_norms` measures ‖dL/dh_t‖ for every step t: the *total* derivative,
through the output at t and through every later step. It unrolls the layer with its own
weights, one cell step (``nnlab.ops.recurrent_cells``) at a time, and asks autograd for
the gradient of each h_t, so the model's ``.grad`` fields are left untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.autograd.engine import grad
from nnlab.nn.modules.rnn import GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from nnlab.ops.recurrent_cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from nnlab.ops.shape import stack
from nnlab.tensor import Tensor

__all__ = ["time_step_grad_norms"]

_STEP = {"RNN_TANH": rnn_tanh_cell, "RNN_RELU": rnn_relu_cell, "GRU": gru_cell}


def _unroll_layer(step: Callable[..., Any], xs: list[Tensor], state: Any, weights: tuple,
                  lstm: bool) -> list[Tensor]:  # fmt: skip
    hs = []
    for x in xs:
        state = step(x, state, *weights)
        hs.append(state[0] if lstm else state)
    return hs


def _initial(module: Any, hx: Any, layer: int, batch: int, dtype: np.dtype, lstm: bool) -> Any:
    if hx is None:
        h_size = getattr(module, "proj_size", 0) or module.hidden_size
        h = Tensor(np.zeros((batch, h_size), dtype=dtype))
        c = Tensor(np.zeros((batch, module.hidden_size), dtype=dtype))
        return (h, c) if lstm else h
    if isinstance(module, RNNCellBase):
        return hx
    return (hx[0][layer], hx[1][layer]) if lstm else hx[layer]


def time_step_grad_norms(
    module: RNNBase | RNNCellBase,
    x: Tensor,
    loss_fn: Callable[[Tensor], Tensor],
    hx: Any = None,
) -> np.ndarray:
    """‖dL/dh_t‖ (Frobenius norm over the batch) for every time step t of the top layer.

    Args:
        module: a unidirectional ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU`` (any number of
            layers; inter-layer dropout is not applied), or a cell (``nn.RNNCell``,
            ``nn.LSTMCell``, ``nn.GRUCell``) unrolled over the steps of ``x``.
        x: (T, B, H_in), or (B, T, H_in) for a ``batch_first`` layer.
        loss_fn: maps the output sequence of hidden states, shaped like the layer's output
            (T, B, H) or (B, T, H), to a scalar loss.
        hx: optional initial state, as the module takes it.

    Returns:
        A float64 array of T norms; index t is the gradient reaching step t.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> _ = nnlab.manual_seed(0)
        >>> rnn = nn.RNN(4, 16)
        >>> norms = time_step_grad_norms(rnn, nnlab.randn(30, 2, 4), lambda y: y[-1].sum())
        >>> norms.shape, bool(norms[0] < 1e-3 * norms[-1])  # vanished after 30 steps
        ((30,), True)
    """
    if isinstance(module, RNNBase):
        if module.bidirectional:
            raise ValueError(
                "time_step_grad_norms: only unidirectional layers are supported (a "
                "bidirectional layer has two hidden states per step)"
            )
        mode, layers, batch_first = module.mode, module.num_layers, module.batch_first
    elif isinstance(module, (RNNCell, LSTMCell, GRUCell)):
        if isinstance(module, RNNCell):
            mode = "RNN_TANH" if module.nonlinearity == "tanh" else "RNN_RELU"
        else:
            mode = "LSTM" if isinstance(module, LSTMCell) else "GRU"
        layers, batch_first = 1, False
    else:
        raise TypeError(
            f"time_step_grad_norms: expected an RNN, LSTM, GRU or one of their cells, got "
            f"{type(module).__name__}"
        )
    if x.ndim != 3:
        raise ValueError(
            f"time_step_grad_norms: expected a 3-D sequence batch, got {tuple(x.shape)}"
        )
    seq = x.transpose(0, 1) if batch_first else x
    lstm = mode == "LSTM"
    step = lstm_cell if lstm else _STEP[mode]
    xs = [seq[t] for t in range(seq.shape[0])]
    for layer in range(layers):
        if isinstance(module, RNNBase):
            w_ih, w_hh, b_ih, b_hh, w_hr = module._weights(layer, 0)
            weights = (w_ih, w_hh, b_ih, b_hh, w_hr) if lstm else (w_ih, w_hh, b_ih, b_hh)
        else:
            weights = (module.weight_ih, module.weight_hh, module.bias_ih, module.bias_hh)
        state = _initial(module, hx, layer, seq.shape[1], x.dtype, lstm)
        xs = _unroll_layer(step, xs, state, weights, lstm)
    output = stack(xs, 1 if batch_first else 0)
    loss = loss_fn(output)
    grads = grad(loss, xs, allow_unused=True)
    return np.array(
        [0.0 if g is None else float(np.linalg.norm(g.array.astype(np.float64))) for g in grads]
    )
