"""The LSTM's and the GRU's gate arithmetic, per time step and in bulk, around the step's
gate GEMM and NumPy's ``tanh``.

:mod:`nnlab.ops.recurrent` (LSTM) and :mod:`nnlab.ops.recurrent_gru` (GRU) run one layer
over a whole sequence: a GEMM per time step for the recurrent part of the gates, then a
dozen elementwise operations on (batch, hidden) blocks (8k-32k values at batch 64, hidden
128: below :data:`~nnlab.kernels.runtime.PARALLEL_MIN_SIZE`, so one thread runs them; the
factors computed in bulk for all steps are above it). These functions are that
elementwise work; the ops keep the GEMMs. The arrays and their layouts are the ops':

* LSTM: gates ``g`` as planes (4, N, H) in the order (g, i, f, o), the sigmoid gates'
  pre-activations already halved (σ(v) = ½(1 + tanh(v/2)), see the ops' docstring); the
  cell states ``c`` (N, H) and the states each row starts from ``cp``; the step's GEMM
  output ``tt`` (B, 4H), gates side by side; the backward's dZ (N, 4H), side by side.
* GRU: gates ``g`` (N, 3H) side by side in torch's order (r, z, n), r and z halved.

Rows ``lo:hi`` are one time step's (packed layout, ``b = hi - lo`` rows); carries such as
dL/dh are (B, H) arrays whose first b rows belong to the step.

Each computation exists three times, as in :mod:`nnlab.kernels.activation`:
``<name>_numpy`` (the NumPy reference: what the ops computed before the kernels),
``<name>_numba`` (:class:`~nnlab.kernels.runtime.Kernel` objects doing the same arithmetic
in one pass each) and ``<name>`` (what the ops call: the kernels when the backend is numba and
the arrays suit them, float32 or float64 of one dtype, C-contiguous; else the reference).
The kernels perform the reference's IEEE operations in its order and dtype, so both give
the same bits; ``tanh`` stays NumPy's vectorised ufunc, called in place between the kernels
on the same views as in the reference (a scalar ``tanh`` loop in numba is ~85× slower,
see :mod:`nnlab.kernels.activation`). Nothing here reduces across elements.

Inside the kernels every row is taken as 1-d views and indexed from 0 (an offset index
such as ``lo + r`` on a 2-d array may be negative as far as LLVM knows, and numba's
wrap-around check then blocks vectorisation). The fused loops that write several arrays
still run mostly scalar (LLVM cannot prove the arrays apart and gives up on the runtime
checks); splitting them into one loop per written array vectorises them but was slower
(the LSTM backward step, b = 64, H = 128: 12.5 µs against 6.5 µs, one thread): a step's
arrays are small, so one pass over memory matters more than SIMD width here.
"""

from __future__ import annotations

import numpy as np

from nnlab import kernels
from nnlab.kernels import KERNEL_DTYPES
from nnlab.kernels.runtime import Kernel

__all__ = [
    "gru_backward_step",
    "gru_backward_step_numba",
    "gru_backward_step_numpy",
    "gru_factors",
    "gru_factors_numba",
    "gru_factors_numpy",
    "gru_forward_step",
    "gru_forward_step_numpy",
    "gru_gate_sum_numba",
    "gru_gates_numba",
    "gru_output_numba",
    "lstm_backward_step",
    "lstm_backward_step_numba",
    "lstm_backward_step_numpy",
    "lstm_cell_numba",
    "lstm_factors",
    "lstm_factors_numba",
    "lstm_factors_numpy",
    "lstm_forward_step",
    "lstm_forward_step_numpy",
    "lstm_gate_sum_numba",
]


def _suits(*arrays: object) -> bool:
    """Whether the kernels take these arrays: the backend is numba and all are NumPy arrays
    (not tensors) of one dtype, float32 or float64, C-contiguous (one compiled signature
    per dtype; a strided view would compile another)."""
    if kernels.get_backend() != "numba":
        return False
    dtype = getattr(arrays[0], "dtype", None)
    if dtype not in KERNEL_DTYPES:
        return False
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != dtype or not a.flags.c_contiguous:
            return False
    return True


def _rows(gy, lo: int, hi: int, like: np.ndarray):
    """Rows lo:hi of the incoming gradient gy, C-contiguous for the kernels: a view when gy
    is, else a copy of the step's rows (gy of a bidirectional layer is a column block of
    the concatenated output's gradient); gy itself when it is no NumPy array of like's
    dtype (the reference runs then)."""
    if type(gy) is not np.ndarray or gy.dtype != like.dtype:
        return gy
    rows = gy[lo:hi]
    return rows if rows.flags.c_contiguous else np.ascontiguousarray(rows)


# -- LSTM forward step ---------------------------------------------------------------------


def lstm_forward_step_numpy(g, bias, tt, cp, c, tc, m, lo: int, hi: int) -> None:
    """One LSTM step after its gate GEMM ``tt`` = h_{t-1} W_hhᵀ (b, 4H), in place:

        z = (g + bias) + tt (per gate plane),  g ← tanh(z_g),  i, f, o ← ½(1 + tanh(z))
        c_t = f ⊙ c_{t-1} + g ⊙ i,   tc_t = tanh(c_t),   m_t = o ⊙ tc_t

    on rows lo:hi of ``g`` (4, N, H: the input projections), ``c``, ``tc``, ``m`` (N, H)
    and ``cp`` (N, H, the c_{t-1} of each row); ``bias`` (4, H) or None; ``tt`` is
    overwritten (scratch). The sigmoid gates' pre-activations come halved: ½(1 + tanh) is
    σ of twice them."""
    b, hidden = hi - lo, c.shape[1]
    gt = g[:, lo:hi]
    if bias is not None:  # per step rather than over all rows: the kernel fuses it
        gt += bias[:, None]
    # one GEMM for all gates (one BLAS call threads best), added into the planes
    gt += tt[:b].reshape(b, 4, hidden).transpose(1, 0, 2)
    np.tanh(gt, out=gt)
    sig = gt[1:]
    sig *= 0.5
    sig += 0.5
    ct, scratch = c[lo:hi], tt[:b, :hidden]
    np.multiply(g[2, lo:hi], cp[lo:hi], out=ct)
    np.multiply(g[0, lo:hi], g[1, lo:hi], out=scratch)
    ct += scratch
    np.tanh(ct, out=tc[lo:hi])
    np.multiply(g[3, lo:hi], tc[lo:hi], out=m[lo:hi])


def _lstm_gate_sum(loop):
    def lstm_gate_sum(g, bias, has_bias, tt, lo, hi):
        hidden = g.shape[2]
        for r in loop(hi - lo):
            src = tt[r]
            for k in range(4):
                dst, part, bk = g[k, lo + r], src[k * hidden : (k + 1) * hidden], bias[k]
                if has_bias:
                    for j in range(hidden):
                        dst[j] = (dst[j] + bk[j]) + part[j]
                else:
                    for j in range(hidden):
                        dst[j] += part[j]

    return lstm_gate_sum


#: The gates' pre-activations z = (g + bias) + tt, the (b, 4H) GEMM output added into the
#: planes.
lstm_gate_sum_numba = Kernel(_lstm_gate_sum)


def _lstm_cell(loop):
    def lstm_cell(g, cp, c, lo, hi):
        hidden = g.shape[2]
        half = g.dtype.type(0.5)
        for r in loop(hi - lo):
            row = lo + r
            gg, gi, gf, go = g[0, row], g[1, row], g[2, row], g[3, row]
            cpr, cr = cp[row], c[row]
            for j in range(hidden):
                i = gi[j] * half + half
                f = gf[j] * half + half
                gi[j] = i
                gf[j] = f
                go[j] = go[j] * half + half
                cr[j] = f * cpr[j] + gg[j] * i

    return lstm_cell


#: After tanh of the gates: i, f, o ← ½(1 + t) and c_t = f ⊙ c_{t-1} + g ⊙ i, in one pass.
lstm_cell_numba = Kernel(_lstm_cell)


def lstm_forward_step(g, bias, tt, cp, c, tc, m, lo: int, hi: int) -> None:
    """:func:`lstm_forward_step_numpy`: a kernel for the gate sum, NumPy's tanh of all gates
    in place, a kernel for σ and c_t, NumPy's tanh(c_t) and o ⊙ tanh(c_t), where the
    kernels apply; else the reference."""
    if not _suits(g, tt, cp, c, tc, m) or not (bias is None or _suits(g, bias)):
        lstm_forward_step_numpy(g, bias, tt, cp, c, tc, m, lo, hi)
        return
    size = (hi - lo) * g.shape[2]
    has_bias = bias is not None
    if not has_bias:  # a placeholder the kernel never reads
        bias = np.empty((4, g.shape[2]), g.dtype)
    lstm_gate_sum_numba(4 * size, g, bias, has_bias, tt, lo, hi)
    gt = g[:, lo:hi]
    np.tanh(gt, out=gt)
    lstm_cell_numba(size, g, cp, c, lo, hi)
    tct = tc[lo:hi]
    np.tanh(c[lo:hi], out=tct)
    # o ⊙ tanh(c_t): a single product, which NumPy's ufunc does as fast as a kernel
    np.multiply(g[3, lo:hi], tct, out=m[lo:hi])


# -- LSTM factors, for all steps at once ---------------------------------------------------


def lstm_factors_numpy(g, tc, cp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gate-derivative factors of the backward, for all N rows, from the activated gate
    planes ``g`` (4, N, H) (g, i, f, o), tc = tanh(c) and cp = c_{t-1} (N, H):

        k1 = (1 - tc²) o        (the factor of dm in dc)
        k2 = (o - o²) tc        (of dm in dz_o)
        k3 = [(1 - g²) i, (i - i²) g, (f - f²) c_{t-1}]   (3, N, H) (of dc in dz_g, dz_i, dz_f)
    """
    gg, gi, gf, go = g
    k1 = tc * tc
    np.subtract(1, k1, out=k1)
    k1 *= go
    k2 = go * go
    np.subtract(go, k2, out=k2)
    k2 *= tc
    k3 = np.empty((3,) + tc.shape, tc.dtype)
    np.multiply(gg, gg, out=k3[0])
    np.subtract(1, k3[0], out=k3[0])
    k3[0] *= gi
    np.multiply(gi, gi, out=k3[1])
    np.subtract(gi, k3[1], out=k3[1])
    k3[1] *= gg
    np.multiply(gf, gf, out=k3[2])
    np.subtract(gf, k3[2], out=k3[2])
    k3[2] *= cp
    return k1, k2, k3


def _lstm_factors(loop):
    def lstm_factors(g, tc, cp, k1, k2, k3):
        one = g.dtype.type(1)
        hidden = g.shape[2]
        for row in loop(g.shape[1]):
            gg, gi, gf, go = g[0, row], g[1, row], g[2, row], g[3, row]
            tcr, cpr = tc[row], cp[row]
            k1r, k2r, k3g, k3i, k3f = k1[row], k2[row], k3[0, row], k3[1, row], k3[2, row]
            for j in range(hidden):
                t, o, gv, i, f = tcr[j], go[j], gg[j], gi[j], gf[j]
                k1r[j] = (one - t * t) * o
                k2r[j] = (o - o * o) * t
                k3g[j] = (one - gv * gv) * i
                k3i[j] = (i - i * i) * gv
                k3f[j] = (f - f * f) * cpr[j]

    return lstm_factors


#: :func:`lstm_factors_numpy` in one pass over the rows (threads for large N·H).
lstm_factors_numba = Kernel(_lstm_factors)


def lstm_factors(g, tc, cp) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`lstm_factors_numpy`, by the kernel where it applies."""
    if not _suits(g, tc, cp):
        return lstm_factors_numpy(g, tc, cp)
    k1, k2 = np.empty_like(tc), np.empty_like(tc)
    k3 = np.empty((3,) + tc.shape, tc.dtype)
    lstm_factors_numba(tc.size, g, tc, cp, k1, k2, k3)
    return k1, k2, k3


# -- LSTM backward step --------------------------------------------------------------------


def lstm_backward_step_numpy(gy, dh, dm, k1, k2, k3, f, dc, dz, lo: int, hi: int) -> None:
    """One LSTM backward step before its GEMM dz W_hh, from the factors of
    :func:`lstm_factors_numpy` and the gates' plane f (N, H):

        dm_t = gy_t + dh  (or, with ``gy`` None, dm as given: a projection's dh W_hr)
        dc ← dm_t ⊙ k1 + dc,   dz_o = dm_t ⊙ k2,   [dz_g, dz_i, dz_f] = k3 ⊙ dc,   dc ← dc ⊙ f

    gy (N, H) holds dL/dy of every row; dh, dm and the carry dc are (B, H), first b rows
    (dm is overwritten); dz (N, 4H) gets rows lo:hi, gates side by side in plane order."""
    b, hidden = hi - lo, dc.shape[1]
    dmt = dm[:b] if gy is None else np.add(gy[lo:hi], dh[:b], out=dm[:b])
    dz4 = dz[lo:hi].reshape(b, 4, hidden)
    np.multiply(dmt, k2[lo:hi], out=dz4[:, 3])
    dcb = dmt  # dm is not needed any more: dc_t takes its place
    dcb *= k1[lo:hi]
    dcb += dc[:b]
    np.multiply(k3[:, lo:hi].transpose(1, 0, 2), dcb[:, None], out=dz4[:, :3])
    np.multiply(dcb, f[lo:hi], out=dc[:b])


def _lstm_backward_step(loop):
    def lstm_backward_step(gyt, dh, add, dm, k1, k2, k3, f, dc, dz, lo, hi):
        hidden = dc.shape[1]
        for r in loop(hi - lo):
            row = lo + r
            dhr, dmr, dcr, dzr = dh[r], dm[r], dc[r], dz[row]
            gyr = gyt[r] if add else dmr
            k1r, k2r, fr = k1[row], k2[row], f[row]
            k3g, k3i, k3f = k3[0, row], k3[1, row], k3[2, row]
            dzg, dzi = dzr[:hidden], dzr[hidden : 2 * hidden]
            dzf, dzo = dzr[2 * hidden : 3 * hidden], dzr[3 * hidden :]
            for j in range(hidden):
                d = gyr[j] + dhr[j] if add else dmr[j]
                dzo[j] = d * k2r[j]
                dcv = d * k1r[j] + dcr[j]
                dzg[j] = k3g[j] * dcv
                dzi[j] = k3i[j] * dcv
                dzf[j] = k3f[j] * dcv
                dcr[j] = dcv * fr[j]

    return lstm_backward_step


#: :func:`lstm_backward_step_numpy` in one pass over the step's rows.
lstm_backward_step_numba = Kernel(_lstm_backward_step)


def lstm_backward_step(gy, dh, dm, k1, k2, k3, f, dc, dz, lo: int, hi: int) -> None:
    """:func:`lstm_backward_step_numpy`, by the kernel where it applies."""
    gyt = None if gy is None else _rows(gy, lo, hi, dh)
    if not _suits(dh, dm, k1, k2, k3, f, dc, dz) or not (gy is None or _suits(gyt, dh)):
        lstm_backward_step_numpy(gy, dh, dm, k1, k2, k3, f, dc, dz, lo, hi)
        return
    add = gy is not None
    # without gy the kernel never reads it: dm stands in (one compiled signature)
    lstm_backward_step_numba(
        (hi - lo) * dc.shape[1], gyt if add else dm, dh, add, dm, k1, k2, k3, f, dc, dz, lo, hi
    )


# -- GRU forward step ----------------------------------------------------------------------


def gru_forward_step_numpy(g, b_i, b_h, tt, a, hp, y, b_hn, lo: int, hi: int) -> None:
    """One GRU step after its gate GEMM ``tt`` = h_{t-1} W_hhᵀ (b, 3H), in place, with
    gates ``g`` (N, 3H) = [r, z, n] (the input projections, r and z halved):

        g ← g + b_i,   r, z ← ½(1 + tanh((g_rz + b_h) + tt_rz)),   a = tt_n + b_hn,
        n ← tanh(g_n + r ⊙ a),   y_t = n + (h_{t-1} - n) ⊙ z   (= (1 - z) ⊙ n + z ⊙ h_{t-1})

    on rows lo:hi of ``g``, ``a`` (N, H, kept for the backward), ``hp`` (N, H: h_{t-1} of
    each row) and ``y`` (N, H); the biases ``b_i`` (3H,) (input part, r and z halved),
    ``b_h`` (2H,) (recurrent part of r and z, halved) and ``b_hn`` (H,) may each be None;
    ``tt`` is overwritten (scratch)."""
    b, hidden = hi - lo, a.shape[1]
    h1, h2 = hidden, 2 * hidden
    gt, at, tt = g[lo:hi], a[lo:hi], tt[:b]
    rz = gt[:, :h2]
    # the biases per step rather than over all rows: the kernel fuses them
    if b_i is not None:
        gt += b_i
    if b_h is not None:
        rz += b_h
    rz += tt[:, :h2]
    np.tanh(rz, out=rz)
    rz *= 0.5
    rz += 0.5
    if b_hn is None:
        at[...] = tt[:, h2:]
    else:
        np.add(tt[:, h2:], b_hn, out=at)
    n = gt[:, h2:]
    np.multiply(gt[:, :h1], at, out=tt[:, :h1])
    n += tt[:, :h1]
    np.tanh(n, out=n)
    np.subtract(hp[lo:hi], n, out=tt[:, :h1])
    tt[:, :h1] *= gt[:, h1:h2]
    np.add(n, tt[:, :h1], out=y[lo:hi])


def _gru_gates(loop):
    def gru_gates(g, tt, a, b_hn, has_bias, lo, hi):
        hidden = a.shape[1]
        half = g.dtype.type(0.5)
        for r in loop(hi - lo):
            row = lo + r
            gr = g[row]
            rz, n = gr[: 2 * hidden], gr[2 * hidden :]
            ttn, ar = tt[r, 2 * hidden :], a[row]
            for j in range(2 * hidden):
                rz[j] = rz[j] * half + half
            for j in range(hidden):
                av = ttn[j] + b_hn[j] if has_bias else ttn[j]
                ar[j] = av
                n[j] = n[j] + rz[j] * av

    return gru_gates


#: After tanh of r and z: r, z ← ½(1 + t), a = tt_n + b_hn, n ← g_n + r ⊙ a, in one pass.
gru_gates_numba = Kernel(_gru_gates)


def _gru_gate_sum(loop):
    def gru_gate_sum(g, b_i, has_bi, b_h, has_bh, tt, lo, hi):
        width = g.shape[1]
        rz_width = width // 3 * 2
        for r in loop(hi - lo):
            gr, ttr = g[lo + r], tt[r]
            if has_bi:
                for j in range(width):
                    gr[j] += b_i[j]
            if has_bh:
                for j in range(rz_width):
                    gr[j] += b_h[j]
            for j in range(rz_width):
                gr[j] += ttr[j]

    return gru_gate_sum


#: The pre-activations: g + b_i for all gates, then ((g + b_i) + b_h) + tt for r and z.
gru_gate_sum_numba = Kernel(_gru_gate_sum)


def _gru_output(loop):
    def gru_output(g, hp, y, lo, hi):
        hidden = y.shape[1]
        for r in loop(hi - lo):
            row = lo + r
            gr, hpr, yr = g[row], hp[row], y[row]
            z, n = gr[hidden : 2 * hidden], gr[2 * hidden :]
            for j in range(hidden):
                nv = n[j]
                yr[j] = nv + (hpr[j] - nv) * z[j]

    return gru_output


#: After tanh of n: y_t = n + (h_{t-1} - n) ⊙ z, in one pass.
gru_output_numba = Kernel(_gru_output)


def gru_forward_step(g, b_i, b_h, tt, a, hp, y, b_hn, lo: int, hi: int) -> None:
    """:func:`gru_forward_step_numpy`: a kernel for the sums, NumPy's tanh of r and z in
    place, a kernel for σ, a and n's pre-activation, NumPy's tanh(n) in place, a kernel for
    y_t, where the kernels apply; else the reference."""
    biases = [v for v in (b_i, b_h, b_hn) if v is not None]
    if not _suits(g, tt, a, hp, y) or not _suits(g, *biases):
        gru_forward_step_numpy(g, b_i, b_h, tt, a, hp, y, b_hn, lo, hi)
        return
    b, hidden = hi - lo, a.shape[1]
    h2 = 2 * hidden
    # absent biases: a row of a stands in, never read (one compiled signature)
    gru_gate_sum_numba(
        3 * b * hidden, g, a[0] if b_i is None else b_i, b_i is not None,
        a[0] if b_h is None else b_h, b_h is not None, tt, lo, hi,
    )  # fmt: skip
    rz = g[lo:hi, :h2]
    np.tanh(rz, out=rz)
    has_bias = b_hn is not None
    gru_gates_numba(3 * b * hidden, g, tt, a, b_hn if has_bias else a[0], has_bias, lo, hi)
    n = g[lo:hi, h2:]
    np.tanh(n, out=n)
    gru_output_numba(b * hidden, g, hp, y, lo, hi)


# -- GRU factors, for all steps at once ----------------------------------------------------


def gru_factors_numpy(g, hp, a) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The GRU's gate-derivative factors for all N rows, from the activated gates ``g``
    (N, 3H) = [r, z, n], h_{t-1} ``hp`` and a = h W_hnᵀ + b_hn (N, H):

        kz = (h_{t-1} - n)(z - z²),   kn = (1 - n²)(1 - z),   kr = (r - r²) a
    """
    hidden = a.shape[1]
    r, z, n = g[:, :hidden], g[:, hidden : 2 * hidden], g[:, 2 * hidden :]
    kz = hp - n
    zz = z * z
    np.subtract(z, zz, out=zz)
    kz *= zz
    kn = n * n
    np.subtract(1, kn, out=kn)
    np.subtract(1, z, out=zz)
    kn *= zz
    kr = r * r
    np.subtract(r, kr, out=kr)
    kr *= a
    return kz, kn, kr


def _gru_factors(loop):
    def gru_factors(g, hp, a, kz, kn, kr):
        one = g.dtype.type(1)
        hidden = a.shape[1]
        for row in loop(a.shape[0]):
            gr, hpr, ar = g[row], hp[row], a[row]
            rr, zr, nr = gr[:hidden], gr[hidden : 2 * hidden], gr[2 * hidden :]
            kzr, knr, krr = kz[row], kn[row], kr[row]
            for j in range(hidden):
                z, n, rv = zr[j], nr[j], rr[j]
                kzr[j] = (hpr[j] - n) * (z - z * z)
                knr[j] = (one - n * n) * (one - z)
                krr[j] = (rv - rv * rv) * ar[j]

    return gru_factors


#: :func:`gru_factors_numpy` in one pass over the rows (threads for large N·H).
gru_factors_numba = Kernel(_gru_factors)


def gru_factors(g, hp, a) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`gru_factors_numpy`, by the kernel where it applies."""
    if not _suits(g, hp, a):
        return gru_factors_numpy(g, hp, a)
    kz, kn, kr = np.empty_like(a), np.empty_like(a), np.empty_like(a)
    gru_factors_numba(a.size, g, hp, a, kz, kn, kr)
    return kz, kn, kr


# -- GRU backward step ---------------------------------------------------------------------


def gru_backward_step_numpy(gy, dh, d, dz_gate, g, kz, kn, kr, dzi, dzh, lo: int, hi: int):
    """One GRU backward step before its GEMM d(recurrent) W_hh, from the factors of
    :func:`gru_factors_numpy` and the gates ``g`` (N, 3H) = [r, z, n]:

        d = gy_t + dh,   dz_n = d ⊙ kn,   dz_z = d ⊙ kz,   dz_r = dz_n ⊙ kr
        dzh (recurrent pre-activations) = [dz_r, dz_z, dz_n ⊙ r],  dzi (input) = [dz_r, dz_z, dz_n]
        dz_gate = d ⊙ z   (the carry's direct part: dh_{t-1} = dz_gate + dzh W_hh)

    gy (N, H); dh, d and dz_gate (B, H), first b rows (d and dz_gate are written); dzi and
    dzh (N, 3H) get rows lo:hi. Returns dzh's rows lo:hi, the GEMM's left factor."""
    b, hidden = hi - lo, kz.shape[1]
    h1, h2 = hidden, 2 * hidden
    dt = np.add(gy[lo:hi], dh[:b], out=d[:b])
    dzht, dzit = dzh[lo:hi], dzi[lo:hi]
    np.multiply(dt, kz[lo:hi], out=dzht[:, h1:h2])
    dn = np.multiply(dt, kn[lo:hi], out=dzit[:, h2:])
    np.multiply(dn, kr[lo:hi], out=dzht[:, :h1])
    np.multiply(dn, g[lo:hi, :h1], out=dzht[:, h2:])
    dzit[:, :h2] = dzht[:, :h2]  # r and z see x and h through the same pre-activation
    np.multiply(dt, g[lo:hi, h1:h2], out=dz_gate[:b])
    return dzht


def _gru_backward_step(loop):
    def gru_backward_step(gyt, dh, d, dz_gate, g, kz, kn, kr, dzi, dzh, lo, hi):
        hidden = kz.shape[1]
        for r in loop(hi - lo):
            row = lo + r
            gyr, dhr, dr, dgr = gyt[r], dh[r], d[r], dz_gate[r]
            gr, kzr, knr, krr = g[row], kz[row], kn[row], kr[row]
            rr, zr = gr[:hidden], gr[hidden : 2 * hidden]
            hr, ir = dzh[row], dzi[row]
            hr_r, hr_z, hr_n = hr[:hidden], hr[hidden : 2 * hidden], hr[2 * hidden :]
            ir_r, ir_z, ir_n = ir[:hidden], ir[hidden : 2 * hidden], ir[2 * hidden :]
            for j in range(hidden):
                dv = gyr[j] + dhr[j]
                dr[j] = dv
                dzz = dv * kzr[j]
                dn = dv * knr[j]
                dzr = dn * krr[j]
                hr_z[j] = dzz
                ir_z[j] = dzz
                hr_r[j] = dzr
                ir_r[j] = dzr
                ir_n[j] = dn
                hr_n[j] = dn * rr[j]
                dgr[j] = dv * zr[j]

    return gru_backward_step


#: :func:`gru_backward_step_numpy` in one pass over the step's rows.
gru_backward_step_numba = Kernel(_gru_backward_step)


def gru_backward_step(gy, dh, d, dz_gate, g, kz, kn, kr, dzi, dzh, lo: int, hi: int):
    """:func:`gru_backward_step_numpy`, by the kernel where it applies."""
    gyt = _rows(gy, lo, hi, dh)
    if not _suits(gyt, dh, d, dz_gate, g, kz, kn, kr, dzi, dzh):
        return gru_backward_step_numpy(gy, dh, d, dz_gate, g, kz, kn, kr, dzi, dzh, lo, hi)
    size = (hi - lo) * kz.shape[1]
    gru_backward_step_numba(size, gyt, dh, d, dz_gate, g, kz, kn, kr, dzi, dzh, lo, hi)
    return dzh[lo:hi]
