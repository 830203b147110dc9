"""The GRU as a fused whole-sequence op with hand-written backpropagation through time.

The layout, the packed-rows schedule and the σ-via-tanh trick are those of
``recurrent.py`` (read its docstring first). With torch's gate order (r, z, n):

    r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),    z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
    n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),    h' = (1 - z) ⊙ n + z ⊙ h

The reset gate multiplies the *recurrent* part of n only (its bias b_hn included), which
is why b_hh cannot simply be merged into b_ih for the n gate as it is for r and z.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels import recurrent as rk
from nnlab.ops.recurrent import _check_weights, _contiguous_t, _prepare, _row_sum
from nnlab.tensor import Tensor

__all__ = ["gru_sequence"]


class GRUSequence(Function):
    """GRU over a sequence; BPTT with dh_t = dy_t + (carry from t+1), a = h W_hnᵀ + b_hn:

        dz_n = dh ⊙ (1-z)(1-n²),   dz_z = dh ⊙ (h_{t-1} - n) z(1-z),   dz_r = dz_n ⊙ a r(1-r)
        d(recurrent pre-activations) = [dz_r, dz_z, dz_n ⊙ r],  d(input ones) = [dz_r, dz_z, dz_n]
        carry dh_{t-1} = dh ⊙ z + d(recurrent) W_hh

    dW_ih = dZ_iᵀ X, dW_hh = dZ_hᵀ H_prev, db_ih = 1ᵀ dZ_i, db_hh = 1ᵀ dZ_h: one GEMM each.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, sched):
        hidden = w_ih.shape[0] // 3
        h2 = 2 * hidden
        scale = np.full((3 * hidden, 1), 0.5, dtype=x.dtype)  # σ(v) = ½(1 + tanh(v/2)) for r, z
        scale[h2:] = 1.0
        g = x @ (w_ih * scale).T  # (N, 3H): input projections, becomes r, z, n
        # the biases, scaled as the weights; each step adds them to its rows
        b_i = None if b_ih is None else b_ih * scale[:, 0]
        b_h = b_hn = None
        if b_hh is not None:
            b_h, b_hn = b_hh[:h2] * 0.5, b_hh[h2:]
        w_hh_t = _contiguous_t(w_hh * scale)
        y, hp = sched.history(h0)
        a = np.empty((sched.N, hidden), x.dtype)  # h W_hnᵀ + b_hn per row, kept for dz_r
        tmp = np.empty((sched.B, 3 * hidden), x.dtype)
        for k, (_, lo, hi, b) in enumerate(sched.steps):
            if not sched.uniform:
                sched.fill_prev(k, hp, y, h0)
            np.matmul(hp[lo:hi], w_hh_t, out=tmp[:b])
            # the gates and h' = n + z ⊙ (h - n) around NumPy's tanh: nnlab.kernels.recurrent
            rk.gru_forward_step(g, b_i, b_h, tmp, a, hp, y, b_hn, lo, hi)
        if any(ctx.needs_input_grad):
            # (h_{t-1} - n) z(1-z), (1-z)(1-n²), a r(1-r) for all steps
            ctx.kz, ctx.kn, ctx.kr = rk.gru_factors(g, hp, a)
            ctx.g, ctx.x, ctx.hp, ctx.w_ih, ctx.w_hh, ctx.sched = g, x, hp, w_ih, w_hh, sched
        return y, y[sched.last_rows]

    @staticmethod
    def backward(ctx, gy, ghn):
        need_x, need_h0, need_wih, need_whh, need_bih, need_bhh = ctx.needs_input_grad[:6]
        sched, kz, kn, kr, g, w_hh = ctx.sched, ctx.kz, ctx.kn, ctx.kr, ctx.g, ctx.w_hh
        n, hidden = kz.shape
        dzi = np.empty((n, 3 * hidden), kz.dtype)  # gradients of the input pre-activations
        dzh = np.empty((n, 3 * hidden), kz.dtype)  # ... and of the recurrent ones
        dh = ghn.copy()  # carry: dL/dh of each sequence's running state
        dht = np.empty((sched.B, hidden), kz.dtype)
        tmp = np.empty((sched.B, hidden), kz.dtype)  # (gy + dh) ⊙ z: the carry's direct part
        for _, lo, hi, b in reversed(sched.steps):
            dzht = rk.gru_backward_step(gy, dh, dht, tmp, g, kz, kn, kr, dzi, dzh, lo, hi)
            np.matmul(dzht, w_hh, out=dh[:b])
            dh[:b] += tmp[:b]
        return (
            dzi @ ctx.w_ih if need_x else None,
            dh if need_h0 else None,
            dzi.T @ ctx.x if need_wih else None,
            dzh.T @ ctx.hp if need_whh else None,
            _row_sum(dzi) if need_bih else None,
            _row_sum(dzh) if need_bhh else None,
            None,
        )


def gru_sequence(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    batch_sizes: Any = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """One GRU layer, one direction, over a whole sequence (fused, see GRUSequence).

    Args:
        x: (T, B, input_size), time-major; or packed rows (N, input_size) with
            ``batch_sizes`` (torch's ``PackedSequence.data`` layout).
        h0: (B, hidden_size) initial state.
        w_ih, w_hh: (3·hidden_size, input_size), (3·hidden_size, hidden_size); gates r, z, n.
        b_ih, b_hh: (3·hidden_size,) or None.
        batch_sizes: (T,) running sequences per step, or None for a full batch.
        reverse: run from the last step to the first.

    Returns:
        (y, h_n): y (T, B, hidden_size) (or packed (N, hidden_size)), h_n (B, hidden_size).

    Example:
        >>> import nnlab
        >>> y, h = gru_sequence(nnlab.ones(3, 2, 4), nnlab.ones(2, 5), nnlab.zeros(15, 4),
        ...                     nnlab.zeros(15, 5))
        >>> float(h[0, 0])  # z = ½, n = 0 at every step: h halves three times
        0.125
    """
    rows, sched, lead = _prepare("gru_sequence", x, batch_sizes, reverse)
    _check_weights("gru_sequence", x, w_ih, 3, w_hh, h0, b_ih, b_hh)
    y, hn = GRUSequence.apply(rows, h0, w_ih, w_hh, b_ih, b_hh, sched)
    return (y if lead is None else y.reshape(lead + (y.shape[-1],))), hn
