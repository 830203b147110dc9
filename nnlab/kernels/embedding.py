"""The embedding lookup's backward: a scatter-add of the upstream gradient rows into the
table's gradient,

    dW[v] = Σ_{n : idx[n] = v} aₙ · G[n]      (aₙ = 1, or 1/count(idx[n]) with
                                               ``scale_grad_by_freq``; dW[padding] = 0)

As in :mod:`nnlab.kernels.activation`, a NumPy reference (:func:`embedding_backward_numpy`,
what :mod:`nnlab.ops.embedding` computed before: the one-hot matrix as a sparse CSR
matrix times G), a :class:`~nnlab.kernels.runtime.Kernel` (:data:`embedding_backward_numba`)
and a dispatcher (:func:`embedding_backward`).

**Bits.** SciPy's sparse product starts every row of dW at 0 and adds aₙ · G[n] for the
indices n of that row in increasing n (the CSR matrix keeps them in that order); the kernel
walks the n in the same order, so duplicates accumulate as in the reference, to the bit
(``1 · x`` is x, so without scaling the kernel adds G[n] itself). It is serial in n and
deterministic; on large gradients it splits the embedding dimension (the columns) across
threads, each column's sum staying in one thread.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from nnlab.kernels import KERNEL_DTYPES, get_backend, runtime
from nnlab.kernels.runtime import Kernel

__all__ = ["embedding_backward", "embedding_backward_numba", "embedding_backward_numpy"]

#: Fewest columns a thread takes: narrower column runs would share cache lines of dW.
_MIN_COLUMNS = 16

#: Gradient elements counted as one element of :data:`~nnlab.kernels.runtime.
#: PARALLEL_MIN_SIZE`, a threshold set for kernels of about a dozen operations per element
#: (Adam): this one does one addition. Measured on a loaded machine: 2048 × 128 float32
#: took 36 µs on one thread and 96 µs split over two.
_ELEMENTS_PER_UNIT = 4


def _weights(idx: np.ndarray, rows: int, dtype, scale: bool) -> np.ndarray:
    """aₙ: ones, or 1/count(idx[n]) (computed in float64, then rounded to ``dtype``)."""
    values = np.ones(idx.size, dtype=dtype)
    if scale:
        values /= np.bincount(idx, minlength=rows)[idx]
    return values


def embedding_backward_numpy(
    g2: np.ndarray, idx: np.ndarray, rows: int, padding_idx: int | None, scale: bool
) -> np.ndarray:
    """dW (rows, D) = onehot(idx)ᵀ diag(a) G for the gradient rows ``g2`` (n, D) of the
    flat indices ``idx`` (n,); the row ``padding_idx`` (if any) is 0."""
    values = _weights(idx, rows, g2.dtype, scale)
    onehot_t = scipy.sparse.csr_matrix((values, (idx, np.arange(idx.size))), shape=(rows, idx.size))
    dw = np.asarray(onehot_t @ g2, dtype=g2.dtype)
    if padding_idx is not None:
        dw[padding_idx] = 0
    return dw


def _embedding_backward(loop):
    def embedding_backward(g, idx, values, scaled, padding, width, n_chunks, dw):
        for t in loop(n_chunks):
            lo = t * width
            hi = min(g.shape[1], lo + width)
            for n in range(g.shape[0]):
                v = idx[n]
                if v == padding:
                    continue
                # rows sliced to the chunk and indexed from 0, which LLVM vectorises
                src, dst = g[n, lo:hi], dw[v, lo:hi]
                if scaled:
                    a = values[n]
                    for k in range(src.size):
                        dst[k] = dst[k] + a * src[k]
                else:
                    for k in range(src.size):
                        dst[k] = dst[k] + src[k]

    return embedding_backward


#: dW[idx[n], cols] += aₙ · G[n, cols] for n in order, one run of columns per iteration.
embedding_backward_numba = Kernel(_embedding_backward)


def embedding_backward(
    g2: np.ndarray, idx: np.ndarray, rows: int, padding_idx: int | None, scale: bool
) -> np.ndarray:
    """:func:`embedding_backward_numpy`, by the kernel for C-contiguous float32/float64
    gradients and int64 indices under the numba backend."""
    if not (
        get_backend() == "numba"
        and type(g2) is np.ndarray
        and g2.dtype in KERNEL_DTYPES
        and g2.ndim == 2
        and g2.flags.c_contiguous
        and g2.shape[1] > 0
        and type(idx) is np.ndarray
        and idx.dtype == np.int64
        and idx.ndim == 1
        and idx.size == g2.shape[0]
    ):
        return embedding_backward_numpy(g2, idx, rows, padding_idx, scale)
    size = g2.size // _ELEMENTS_PER_UNIT
    n_chunks = 1
    if size >= runtime.PARALLEL_MIN_SIZE:
        n_chunks = max(1, min(2 * runtime.get_num_threads(), g2.shape[1] // _MIN_COLUMNS))
    width = -(-g2.shape[1] // n_chunks)
    n_chunks = -(-g2.shape[1] // width)
    values = _weights(idx, rows, g2.dtype, scale)
    dw = np.zeros((rows, g2.shape[1]), dtype=g2.dtype)
    padding = -1 if padding_idx is None else padding_idx
    embedding_backward_numba(size, g2, np.ascontiguousarray(idx), values, scale, padding,
                             width, n_chunks, dw)  # fmt: skip
    return dw
