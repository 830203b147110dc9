"""Recurrent layers as fused whole-sequence ops: the Elman RNN and the LSTM, with
hand-written backpropagation through time (BPTT). The GRU is in ``recurrent_gru.py``; the
cell-by-cell twins built from primitive ops, which the tests compare these to, are in
``recurrent_cells.py``.

One op call runs one layer in one direction over the whole sequence:

* the input projections of all steps are ONE GEMM, ``X W_ihᵀ`` over all rows at once;
  only ``h W_hhᵀ`` (one GEMM per step) must wait for the previous step (the LSTM and the
  GRU add their biases per step, fused with that step's gate arithmetic: one pass over
  the gates less);
* the backward walks the steps in reverse, carrying dL/dh (and dL/dc) from step t to
  step t-1: dh_{t-1} = (dL/dgates_t) W_hh. The weight gradients are then ONE GEMM each
  over the stored per-step gate gradients: dW_ih = dGᵀ X, dW_hh = dGᵀ H_prev, db = 1ᵀ dG;
* the local derivatives of the gates (σ' = σ(1-σ), tanh' = 1-tanh²) are computed for all
  steps in bulk after the forward, so each backward step is a handful of NumPy calls;
* the LSTM's and the GRU's gate arithmetic between the GEMMs (per step, and the bulk
  derivatives) is :mod:`nnlab.kernels.recurrent`'s: fused numba kernels around NumPy's
  ``tanh``, or their NumPy references (``NNLAB_KERNELS=numpy``), with the same bits.

Sequences of different lengths use PyTorch's packed layout (``PackedSequence.data``):
sequences sorted by decreasing length, and the rows of step t are the ``batch_sizes[t]``
sequences still running, stored one step after another. A step reads and writes only
its own rows, so a finished sequence's state is simply never touched again: padding can
never change a result or a gradient. In the reverse direction each sequence starts at
its own last step, from its initial state. A full batch is the special case where every
step has all B rows; then the state of step t-1 is read in place (no copies).

σ(x) is computed as ½(1 + tanh(x/2)): the ½ is folded into the gate weights once per
call, so one ``tanh`` covers all gates of a step (faster than a separate ``exp``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels import recurrent as rk
from nnlab.tensor import Tensor

__all__ = ["Schedule", "rnn_sequence", "lstm_sequence", "take_rows", "put_rows"]


class Schedule:
    """Which rows of the packed (N, features) layout each time step reads and writes.

    Args:
        batch_sizes: (T,) non-increasing: how many sequences are still running at step t.
        reverse: process the steps from T-1 down to 0.

    Attributes:
        steps: (t, first row, end row, rows) per step, in processing order.
        last_rows: (B,) the row holding each sequence's final state.
        uniform: every step has all B rows (a plain padded-free batch).

    Example:
        >>> s = Schedule([3, 3, 1])
        >>> [step[1:] for step in s.steps], s.last_rows.tolist()
        ([(0, 3, 3), (3, 6, 3), (6, 7, 1)], [6, 4, 5])
    """

    def __init__(self, batch_sizes: Any, reverse: bool = False) -> None:
        bs = np.asarray(batch_sizes, dtype=np.int64).reshape(-1)
        if bs.size == 0 or bs[0] <= 0 or (np.diff(bs) > 0).any() or bs[-1] <= 0:
            raise ValueError(f"batch_sizes must be positive and non-increasing, got {bs.tolist()}")
        self.batch_sizes = bs
        self.reverse = reverse
        self.T, self.B, self.N = len(bs), int(bs[0]), int(bs.sum())
        offsets = np.concatenate([[0], np.cumsum(bs)])
        self.uniform = bool((bs == bs[0]).all())
        order = range(self.T - 1, -1, -1) if reverse else range(self.T)
        self.steps = [(t, int(offsets[t]), int(offsets[t + 1]), int(bs[t])) for t in order]
        rows = np.arange(self.B)
        if reverse:
            self.last_rows = rows
        else:
            lengths = (bs[None, :] > rows[:, None]).sum(axis=1)
            self.last_rows = offsets[lengths - 1] + rows

    def history(self, init: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Buffers (out, prev), each (N, width): ``out`` receives the new state of every
        row, ``prev`` holds the state each row starts from. For a uniform schedule they
        overlap, shifted by one step, so writing step t's output fills step t+1's input;
        otherwise ``fill_prev`` copies the rows in before each step."""
        n, b, width = self.N, self.B, init.shape[1]
        if not self.uniform:
            return np.empty((n, width), init.dtype), np.empty((n, width), init.dtype)
        buf = np.empty((n + b, width), init.dtype)
        if self.reverse:
            buf[n:] = init
            return buf[:n], buf[b:]
        buf[:b] = init
        return buf[b:], buf[:n]

    def fill_prev(self, k: int, prev: np.ndarray, out: np.ndarray, init: np.ndarray) -> None:
        """Copy the starting state of processing step k into ``prev`` (non-uniform only):
        the rows the previous step produced, then initial states for sequences that start
        here (the reverse direction starts each sequence at its own last step)."""
        _, lo, hi, b = self.steps[k]
        dst = prev[lo:hi]
        if k == 0:
            dst[...] = init[:b]
            return
        _, plo, _, pb = self.steps[k - 1]
        m = min(b, pb)
        dst[:m] = out[plo : plo + m]
        if m < b:
            dst[m:] = init[m:b]


def _bias(b_ih: np.ndarray | None, b_hh: np.ndarray | None) -> np.ndarray | None:
    """b_ih + b_hh: both biases add to the same pre-activation (None when neither exists)."""
    if b_ih is None:
        return b_hh
    return b_ih if b_hh is None else b_ih + b_hh


def _contiguous_t(w: np.ndarray) -> np.ndarray:
    """wᵀ as its own C-contiguous copy: the per-step GEMM h @ wᵀ on small row blocks runs
    faster on a row-major right factor than on a transposed view (benchmarks/bench_seq.py
    measures the recurrent step)."""
    return np.ascontiguousarray(w.T)


def _row_sum(a: np.ndarray) -> np.ndarray:
    """Σ over rows as a GEMV (much faster than ``a.sum(0)`` here, PERFORMANCE.md)."""
    return np.ones(a.shape[0], dtype=a.dtype) @ a


class RNNSequence(Function):
    """Elman RNN over a sequence: h_t = φ(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), φ = tanh
    or relu.

    BPTT with dh_t = dy_t + dh_{t+1}-carry and dz_t = dh_t ⊙ φ'(z_t) (φ' = 1 - h_t² for
    tanh, [h_t > 0] for relu): the carry is dz_t W_hh;  dW_ih = Σ dz_tᵀ x_t,
    dW_hh = Σ dz_tᵀ h_{t-1},  db_ih = db_hh = Σ dz_t,  dx_t = dz_t W_ih.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, h0, w_ih, w_hh, b_ih, b_hh, relu, sched):
        y, hp = sched.history(h0)
        np.matmul(x, w_ih.T, out=y)  # every step's input projection in one GEMM
        bias = _bias(b_ih, b_hh)
        if bias is not None:
            y += bias
        w_hh_t = _contiguous_t(w_hh)
        tmp = np.empty_like(h0)
        for k, (_, lo, hi, b) in enumerate(sched.steps):
            if not sched.uniform:
                sched.fill_prev(k, hp, y, h0)
            yt = y[lo:hi]
            np.matmul(hp[lo:hi], w_hh_t, out=tmp[:b])
            yt += tmp[:b]
            if relu:
                np.maximum(yt, 0, out=yt)
            else:
                np.tanh(yt, out=yt)
        if any(ctx.needs_input_grad):
            # φ'(z) for all steps at once: [h > 0] or 1 - h².
            ctx.deriv = (y > 0).astype(y.dtype) if relu else 1 - y * y
            ctx.x, ctx.hp, ctx.w_ih, ctx.w_hh, ctx.sched = x, hp, w_ih, w_hh, sched
        return y, y[sched.last_rows]

    @staticmethod
    def backward(ctx, gy, ghn):
        need_x, need_h0, need_wih, need_whh, need_bih, need_bhh = ctx.needs_input_grad[:6]
        sched, deriv, w_hh = ctx.sched, ctx.deriv, ctx.w_hh
        dz = np.empty_like(deriv)
        dh = ghn.copy()  # dL/dh of each sequence's running state
        for _, lo, hi, b in reversed(sched.steps):
            dzt = dz[lo:hi]
            np.add(gy[lo:hi], dh[:b], out=dzt)
            dzt *= deriv[lo:hi]
            np.matmul(dzt, w_hh, out=dh[:b])
        db = _row_sum(dz) if (need_bih or need_bhh) else None
        return (
            dz @ ctx.w_ih if need_x else None,
            dh if need_h0 else None,
            dz.T @ ctx.x if need_wih else None,
            dz.T @ ctx.hp if need_whh else None,
            db if need_bih else None,
            (db.copy() if need_bih else db) if need_bhh else None,
            None,
            None,
        )


#: Internal order of the LSTM gate planes: torch's (i, f, g, o) rows taken as (g, i, f, o),
#: so the three sigmoid gates are one contiguous block of planes.
_LSTM_PLANES = np.array([2, 0, 1, 3])


def _planes(w: np.ndarray, gates: int, order: np.ndarray | None = None) -> np.ndarray:
    """A (gates·H, K) weight as (gates, K, H) C-contiguous planes: ``x @ planes[k]`` is
    gate k's part of x Wᵀ, and a batched matmul writes every gate to its own plane."""
    p = w.reshape(gates, -1, w.shape[1])
    if order is not None:
        p = p[order]
    return np.ascontiguousarray(p.transpose(0, 2, 1))


def _from_planes(p: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
    """Inverse of the gate order of ``_planes`` for a (gates, H, ...) gradient → (gates·H, ...)."""
    if order is not None:
        out = np.empty_like(p)
        out[order] = p
        p = out
    return p.reshape((-1,) + p.shape[2:])


class LSTMSequence(Function):
    """LSTM over a sequence (gates in torch's order i, f, g, o):

        z = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh,   i, f, o = σ(z_i, z_f, z_o),  g = tanh(z_g)
        c_t = f ⊙ c_{t-1} + i ⊙ g,  m_t = o ⊙ tanh(c_t),  h_t = m_t (or m_t W_hrᵀ with proj_size)

    BPTT, with dh_t = dy_t + (carry from t+1), dm_t = dh_t (or dh_t W_hr) and τ = tanh(c_t):

        dc_t = dm_t ⊙ o ⊙ (1 - τ²) + dc_{t+1} ⊙ f_{t+1}
        dz_o = dm_t ⊙ τ ⊙ o(1-o),  dz_g = dc_t ⊙ i(1-g²),  dz_i = dc_t ⊙ g i(1-i),
        dz_f = dc_t ⊙ c_{t-1} f(1-f),  carry dh_{t-1} = dz W_hh,  carry dc_{t-1} = dc_t ⊙ f

    The forward stores the gates as planes (4, N, H), one contiguous (N, H) array per
    gate, so every elementwise op and the bulk factors read contiguous memory (column
    blocks of an (N, 4H) array cost ≈3× more here: one inner loop per row). The backward
    keeps dZ side by side (N, 4H) instead, so that the step GEMM dz W_hh and the weight
    gradients dW_ih = dZᵀ X, dW_hh = dZᵀ H_prev, db = 1ᵀ dZ are single GEMMs (four
    batched ones thread worse); dW_hr = dHᵀ M.
    """

    double_backward = False

    @staticmethod
    def forward(ctx, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, sched):
        hidden, order = w_ih.shape[0] // 4, _LSTM_PLANES
        # σ(v) = ½(1 + tanh(v/2)): the ½ folded into the i, f, o planes (1 for g)
        scale = np.array([1.0, 0.5, 0.5, 0.5], dtype=x.dtype)[:, None, None]
        g = np.matmul(x, _planes(w_ih, 4, order) * scale)  # (4, N, H): input projections
        bias = _bias(b_ih, b_hh)
        if bias is not None:  # (4, H), plane order; each step adds it to its rows
            bias = bias.reshape(4, hidden)[order] * scale[:, :, 0]
        w_hh_p = w_hh.reshape(4, hidden, -1)[order]  # (4, H, H_out) in plane order
        w_hh_t = _contiguous_t((w_hh_p * scale).reshape(4 * hidden, -1))
        y, hp = sched.history(h0)
        c, cp = sched.history(c0)
        tc = np.empty_like(c)  # tanh(c_t)
        m = np.empty_like(c) if w_hr is not None else y
        w_hr_t = None if w_hr is None else _contiguous_t(w_hr)
        tmp = np.empty((sched.B, 4 * hidden), x.dtype)
        for k, (_, lo, hi, b) in enumerate(sched.steps):
            if not sched.uniform:
                sched.fill_prev(k, hp, y, h0)
                sched.fill_prev(k, cp, c, c0)
            # one GEMM for all gates (one BLAS call threads best); the gate arithmetic
            # around NumPy's tanh is nnlab.kernels.recurrent's
            np.matmul(hp[lo:hi], w_hh_t, out=tmp[:b])
            rk.lstm_forward_step(g, bias, tmp, cp, c, tc, m, lo, hi)
            if w_hr is not None:
                np.matmul(m[lo:hi], w_hr_t, out=y[lo:hi])
        if any(ctx.needs_input_grad):
            # the factors of dm in dc and dz_o and of dc in dz_g, dz_i, dz_f, all steps
            ctx.k1, ctx.k2, ctx.k3 = rk.lstm_factors(g, tc, cp)
            ctx.f = g[2]
            ctx.x, ctx.hp, ctx.m, ctx.sched = x, hp, m, sched
            ctx.w_ih, ctx.w_hh_p, ctx.w_hr = w_ih, w_hh_p.reshape(4 * hidden, -1), w_hr
        rows = sched.last_rows
        return y, y[rows], c[rows]

    @staticmethod
    def backward(ctx, gy, ghn, gcn):
        sched, k1, k2, k3, f, w_hr = ctx.sched, ctx.k1, ctx.k2, ctx.k3, ctx.f, ctx.w_hr
        w_hh = ctx.w_hh_p  # (4H, H_out), rows in plane order
        n, hidden = f.shape
        # dz is (N, 4H), gates side by side, so the step and weight GEMMs are single GEMMs
        dz = np.empty((n, 4 * hidden), f.dtype)
        dh, dc = ghn.copy(), gcn.copy()  # carries of each sequence's running state
        dhy = np.empty_like(gy) if w_hr is not None else None  # dL/dh_t, for dW_hr
        dm = np.empty((sched.B, hidden), f.dtype)  # dL/dm_t (scratch of the step)
        for _, lo, hi, b in reversed(sched.steps):
            if w_hr is None:
                rk.lstm_backward_step(gy, dh, dm, k1, k2, k3, f, dc, dz, lo, hi)
            else:
                dht = np.add(gy[lo:hi], dh[:b], out=dhy[lo:hi])
                np.matmul(dht, w_hr, out=dm[:b])
                rk.lstm_backward_step(None, dh, dm, k1, k2, k3, f, dc, dz, lo, hi)
            np.matmul(dz[lo:hi], w_hh, out=dh[:b])
        return _lstm_grads(ctx, dz, dh, dc, dhy)


def _lstm_grads(ctx, dz, dh, dc, dhy) -> tuple:
    need_x, need_h0, need_c0, need_wih, need_whh, need_bih, need_bhh, need_whr = (
        ctx.needs_input_grad[:8]
    )
    order, hidden = _LSTM_PLANES, dz.shape[1] // 4

    def torch_rows(a: np.ndarray) -> np.ndarray:  # plane-ordered gate rows → (i, f, g, o)
        return _from_planes(a.reshape((4, hidden) + a.shape[1:]), order)

    dx = dz @ ctx.w_ih.reshape(4, hidden, -1)[order].reshape(4 * hidden, -1) if need_x else None
    dw_ih = torch_rows(dz.T @ ctx.x) if need_wih else None
    dw_hh = torch_rows(dz.T @ ctx.hp) if need_whh else None
    db = torch_rows(_row_sum(dz)) if (need_bih or need_bhh) else None
    dw_hr = dhy.T @ ctx.m if need_whr else None
    return (
        dx, dh if need_h0 else None, dc if need_c0 else None, dw_ih, dw_hh,
        db if need_bih else None, (db.copy() if need_bih else db) if need_bhh else None,
        dw_hr, None,
    )  # fmt: skip


# -- moving rows between the padded and the packed layouts -------------------------------


class TakeRows(Function):
    """y = x[index] for distinct row indices (packing: each padded row used at most once);
    dx = zeros with g written back at ``index`` (no scatter-add needed: no repeats)."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, index):
        ctx.index, ctx.shape = index, x.shape
        return x[index]

    @staticmethod
    def backward(ctx, g):
        dx = np.zeros(ctx.shape, dtype=g.dtype)
        dx[ctx.index] = g
        return dx, None


class PutRows(Function):
    """y = a (rows, *) array filled with ``value`` and x written at the distinct rows
    ``index`` (unpacking into padding);  dx = g[index]."""

    double_backward = False

    @staticmethod
    def forward(ctx, x, index, rows, value):
        ctx.index = index
        y = np.full((rows,) + x.shape[1:], value, dtype=x.dtype)
        y[index] = x
        return y

    @staticmethod
    def backward(ctx, g):
        return g[ctx.index], None, None, None


def take_rows(x: Tensor, index: np.ndarray) -> Tensor:
    """x[index] along dim 0 for distinct integer indices (a gather whose backward is a
    plain assignment).

    Example:
        >>> import nnlab
        >>> take_rows(nnlab.tensor([[1.0], [2.0], [3.0]]), np.array([2, 0]))
        tensor([[3.],
               [1.]])
    """
    return TakeRows.apply(x, np.asarray(index, dtype=np.intp))


def put_rows(x: Tensor, index: np.ndarray, rows: int, value: float = 0.0) -> Tensor:
    """A (rows, *) tensor filled with ``value``, with x's rows written at distinct ``index``.

    Example:
        >>> import nnlab
        >>> put_rows(nnlab.tensor([[1.0], [2.0]]), np.array([2, 0]), 3)
        tensor([[2.],
               [0.],
               [1.]])
    """
    return PutRows.apply(x, np.asarray(index, dtype=np.intp), rows, value)


# -- public calls -------------------------------------------------------------------------


def _prepare(op: str, x: Tensor, batch_sizes: Any, reverse: bool) -> tuple[Tensor, Schedule, Any]:
    """(rows (N, features), schedule, shape of the output's leading dims or None)."""
    if batch_sizes is None:
        if x.ndim != 3:
            raise ValueError(f"{op}: expected x of shape (T, B, features), got {tuple(x.shape)}")
        t, b = x.shape[:2]
        return x.reshape(t * b, x.shape[2]), Schedule(np.full(t, b), reverse), (t, b)
    if x.ndim != 2:
        raise ValueError(
            f"{op}: with batch_sizes, x must be packed rows (N, features), got {tuple(x.shape)}"
        )
    sched = Schedule(batch_sizes.array if isinstance(batch_sizes, Tensor) else batch_sizes, reverse)
    if sched.N != x.shape[0]:
        raise ValueError(f"{op}: batch_sizes sum to {sched.N} rows but x has {x.shape[0]} rows")
    return x, sched, None


def _check_weights(op: str, x: Tensor, w_ih: Tensor, gates: int, *others: Any) -> None:
    if w_ih.shape[0] % gates or w_ih.shape[1] != x.shape[-1]:
        raise ValueError(
            f"{op}: weight_ih must be ({gates}·hidden_size, {x.shape[-1]}) for inputs with "
            f"{x.shape[-1]} features, got {tuple(w_ih.shape)}"
        )
    for t in (w_ih, *others):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(
                f"{op}: input dtype {x.dtype} and parameter dtype {t.dtype} differ; convert one "
                "of them (e.g. model.double() or x.float())"
            )


def rnn_sequence(
    x: Tensor,
    h0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    batch_sizes: Any = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor]:
    """One Elman RNN layer, one direction, over a whole sequence (fused, see RNNSequence).

    Args:
        x: (T, B, input_size), time-major; or packed rows (N, input_size) with
            ``batch_sizes`` (torch's ``PackedSequence.data`` layout).
        h0: (B, hidden_size) initial state.
        w_ih, w_hh: (hidden_size, input_size), (hidden_size, hidden_size).
        b_ih, b_hh: (hidden_size,) or both None.
        nonlinearity: "tanh" or "relu".
        batch_sizes: (T,) running sequences per step, or None for a full batch.
        reverse: run from the last step to the first.

    Returns:
        (y, h_n): y (T, B, hidden_size) (or (N, hidden_size) packed), h_n (B, hidden_size).

    Example:
        >>> import nnlab
        >>> y, h = rnn_sequence(nnlab.ones(5, 2, 3), nnlab.zeros(2, 4), nnlab.ones(4, 3),
        ...                     nnlab.zeros(4, 4))
        >>> y.shape, h.shape, round(float(h[0, 0]), 4)
        (nnlab.Size([5, 2, 4]), nnlab.Size([2, 4]), 0.9951)
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"rnn_sequence: unknown nonlinearity {nonlinearity!r} (tanh or relu)")
    rows, sched, lead = _prepare("rnn_sequence", x, batch_sizes, reverse)
    _check_weights("rnn_sequence", x, w_ih, 1, w_hh, h0, b_ih, b_hh)
    y, hn = RNNSequence.apply(rows, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity == "relu", sched)
    return (y if lead is None else y.reshape(lead + (y.shape[-1],))), hn


def lstm_sequence(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor | None = None,
    b_hh: Tensor | None = None,
    w_hr: Tensor | None = None,
    batch_sizes: Any = None,
    reverse: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer, one direction, over a whole sequence (fused, see LSTMSequence).

    Args:
        x: (T, B, input_size), time-major; or packed rows (N, input_size) with
            ``batch_sizes``.
        h0: (B, H_out) initial hidden state, H_out = proj_size or hidden_size.
        c0: (B, hidden_size) initial cell state.
        w_ih, w_hh: (4·hidden_size, input_size), (4·hidden_size, H_out); gates i, f, g, o.
        b_ih, b_hh: (4·hidden_size,) or both None.
        w_hr: (proj_size, hidden_size) projection of the hidden state, or None.
        batch_sizes: (T,) running sequences per step, or None for a full batch.
        reverse: run from the last step to the first.

    Returns:
        (y, h_n, c_n): y (T, B, H_out) (or packed (N, H_out)), h_n (B, H_out),
        c_n (B, hidden_size).

    Example:
        >>> import nnlab
        >>> w = nnlab.zeros(8, 3)
        >>> y, h, c = lstm_sequence(nnlab.ones(4, 1, 3), nnlab.zeros(1, 2), nnlab.zeros(1, 2),
        ...                         w, nnlab.zeros(8, 2))
        >>> float(c[0, 0])  # f = i = o = ½, g = 0 throughout: c stays 0
        0.0
    """
    rows, sched, lead = _prepare("lstm_sequence", x, batch_sizes, reverse)
    _check_weights("lstm_sequence", x, w_ih, 4, w_hh, h0, c0, b_ih, b_hh, w_hr)
    y, hn, cn = LSTMSequence.apply(rows, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr, sched)
    return (y if lead is None else y.reshape(lead + (y.shape[-1],))), hn, cn
