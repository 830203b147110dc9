"""Optimizer updates: SGD, Adam/AdamW, RMSprop and Adagrad, each in place on one parameter.

Each update exists three times in this file:

* ``<name>_numpy``: the NumPy reference, the formula of the optimizer's docstring as a
  sequence of in-place array operations (Adam is about twelve passes over memory);
* ``<name>_numba``: a :class:`~nnlab.kernels.runtime.Kernel` doing the same arithmetic,
  element by element, in one pass over all the parameters of a group (on several threads
  for large groups);
* ``<name>_``: what the optimizers call; it runs the kernel when the backend is numba and
  the arrays suit it (float32 or float64, contiguous, writeable, one dtype and shape, and
  no hyper-parameter a NumPy scalar wider than them), else the reference.

The kernel performs, for each element, the reference's operations in the reference's order
and dtype (float32 constants for float32 parameters, no fused multiply-add), so both give
the same bits; the tests hold them to that. No update reduces across elements.

The optimizer keeps the state (``exp_avg``, ``step``, ...) and passes its arrays; every
hyper-parameter arrives as a keyword. ``scratch(n)`` returns ``n`` temporary arrays shaped
like the parameter, which only the references use.

**One call per parameter group.** The optimizers update one parameter at a time (the
formula per parameter); inside :func:`one_call_per_group`, which
:meth:`nnlab.optim.Optimizer.step` opens around each group for the updates marked
``launches_together`` (the optimizers of this file; not a subclass's override, which may
read ``p.array`` after the update), the dispatchers do not launch
their kernel at once but collect the launch, and the block's end runs the collected ones
together: their arrays travel as tuples of :data:`GROUP_WIDTH` 1-d arrays (one kernel call
for up to that many parameters; a tuple of a fixed width keeps one compiled kernel for any
number of parameters), and a table of blocks of at most :data:`BLOCK` elements splits the
work of all of them across threads in one parallel launch. Packing into tuples costs
nothing per element (a numba typed list cost about 5 µs per parameter, a flat buffer for
the group one more pass over memory to copy the gradients in). Every element still gets the
reference's operations, so the bits are the same as one call per parameter.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from nnlab.kernels import use_kernel
from nnlab.kernels.runtime import Kernel

__all__ = [
    "BLOCK",
    "GROUP_WIDTH",
    "one_call_per_group",
    "adagrad_",
    "adagrad_numba",
    "adagrad_numpy",
    "adam_",
    "adam_numba",
    "adam_numpy",
    "effective_grad",
    "lerp_",
    "rmsprop_",
    "rmsprop_numba",
    "rmsprop_numpy",
    "sgd_",
    "sgd_numba",
    "sgd_numpy",
]

Scratch = Callable[[int], list[np.ndarray]]

#: Parameters per kernel call.
GROUP_WIDTH = 8
#: Elements per row of the block table: the unit of work a thread takes.
BLOCK = 1 << 15

_collecting = threading.local()  # .launches: the list one_call_per_group collects into


@contextmanager
def one_call_per_group() -> Iterator[None]:
    """Collect the kernel launches of the updates inside the block and run them when it
    ends, :data:`GROUP_WIDTH` parameters per call (see the module docstring). Updates that
    take the references run at once, as outside the block."""
    outer = getattr(_collecting, "launches", None)
    _collecting.launches = launches = []
    try:
        yield
    finally:
        _collecting.launches = outer
        _run_together(launches)


def _launch(kernel: Kernel, arrays: tuple, h: tuple, flags: tuple) -> None:
    """Run ``kernel`` on one parameter's flat ``arrays`` (the parameter first) with the
    constants ``h`` (Python numbers, rounded to the parameter's dtype once, as NumPy rounds
    them for the reference) and the branch ``flags``, now or, inside
    :func:`one_call_per_group`, at the block's end."""
    launches = getattr(_collecting, "launches", None)
    if launches is None:
        _run_together([(kernel, arrays, h, flags)])
    else:
        launches.append((kernel, arrays, h, flags))


def _kernel_views(hyper: tuple, *arrays: np.ndarray | None) -> list[np.ndarray] | None:
    """The arrays' flat views (:func:`~nnlab.kernels.use_kernel`) if the kernel may take
    them: also every array writeable and aligned (the tuples of a group's call hold arrays
    of one numba type), and no hyper-parameter a NumPy scalar wider than the arrays (with
    one, NumPy 2 computes the reference in the wider dtype, whose bits the kernel's
    constants rounded to the arrays' dtype would not give). Else None: the reference runs."""
    flat = use_kernel(*arrays)
    if flat is None or not all(a.flags.writeable and a.flags.aligned for a in flat):
        return None
    dtype = flat[0].dtype
    if any(isinstance(v, np.generic) and np.result_type(v, dtype) != dtype for v in hyper):
        return None
    return flat


@functools.lru_cache(maxsize=256)
def _block_table(sizes: tuple[int, ...]) -> np.ndarray:
    """Rows (tensor, start, stop) covering each tensor in blocks of at most BLOCK elements."""
    rows = [(t, lo, min(lo + BLOCK, n)) for t, n in enumerate(sizes) for lo in range(0, n, BLOCK)]
    return np.array(rows, dtype=np.int64).reshape(-1, 3)


def _run_together(launches: list) -> None:
    """Run launches of the same kernel, dtype and flags as single calls, GROUP_WIDTH
    parameters each: the i-th arrays of the launches as one tuple (padded with an empty
    array), their constants as the rows of one table."""
    buckets: dict[tuple, list] = {}
    for kernel, arrays, h, flags in launches:
        buckets.setdefault((kernel, arrays[0].dtype, flags), []).append((arrays, h))
    for (kernel, dtype, flags), items in buckets.items():
        empty = np.empty(0, dtype)
        for start in range(0, len(items), GROUP_WIDTH):
            chunk = items[start : start + GROUP_WIDTH]
            pad = (empty,) * (GROUP_WIDTH - len(chunk))
            columns = [tuple(column) + pad for column in zip(*(arrays for arrays, _ in chunk))]
            h = np.array([row for _, row in chunk], dtype)
            sizes = tuple(arrays[0].size for arrays, _ in chunk)
            kernel(sum(sizes), *columns, h, _block_table(sizes), *flags)


def effective_grad(
    param: np.ndarray,
    grad: np.ndarray,
    g_buf: np.ndarray,
    work: np.ndarray,
    *,
    maximize: bool,
    weight_decay: float,
    decoupled_lr: float | None = None,
) -> np.ndarray:
    """The first lines of every update::

        g = -grad if maximize else grad
        if weight_decay != 0:
            if decoupled:  theta = theta * (1 - lr * weight_decay)     # AdamW
            else:          g = g + weight_decay * theta                # L2

    ``decoupled_lr`` is the ``lr`` of the decoupled form (None: the L2 form). ``g`` is
    written into ``g_buf`` (never into ``grad``); ``theta`` shrinks in place."""
    if maximize:
        grad = np.negative(grad, out=g_buf)
    if weight_decay != 0:
        if decoupled_lr is not None:
            param *= 1 - decoupled_lr * weight_decay
        else:
            np.multiply(param, weight_decay, out=work)
            grad = np.add(grad, work, out=g_buf)
    return grad


def lerp_(start: np.ndarray, end: np.ndarray, weight: float, work: np.ndarray) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's two-sided formula (exact
    at both ends): ``start + w·(end - start)`` for ``|w| < 0.5``, else
    ``end - (1 - w)·(end - start)``."""
    np.subtract(end, start, out=work)
    if abs(weight) < 0.5:
        work *= weight
        start += work
    else:
        work *= 1.0 - weight
        np.subtract(end, work, out=start)


# -- SGD ---------------------------------------------------------------------------------


def sgd_numpy(
    param: np.ndarray,
    grad: np.ndarray,
    momentum_buffer: np.ndarray | None,
    scratch: Scratch,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
) -> None:
    """SGD's update (see :class:`nnlab.optim.SGD`)::

        g = -grad if maximize else grad;  if weight_decay != 0:  g = g + weight_decay * theta
        if momentum != 0:
            b = g  at the first step,  else  b = momentum * b + (1 - dampening) * g
            g = g + momentum * b  if nesterov  else  b
        theta = theta - lr * g

    ``momentum_buffer`` is ``b`` (None without momentum); at ``first_step`` its contents are
    ignored and overwritten."""
    g_buf, work = scratch(2)
    grad = effective_grad(param, grad, g_buf, work, maximize=maximize, weight_decay=weight_decay)
    if momentum != 0:
        buf = momentum_buffer
        if first_step:
            buf[...] = grad
        else:
            buf *= momentum
            np.multiply(grad, 1 - dampening, out=work)
            buf += work
        if nesterov:
            np.multiply(buf, momentum, out=work)
            grad = np.add(grad, work, out=g_buf)
        else:
            grad = buf
    np.multiply(grad, -lr, out=work)
    param += work


def _sgd(loop):
    def sgd(params, grads, bufs, h, blocks, maximize, decay, has_momentum, nesterov):
        for k in loop(blocks.shape[0]):
            t, lo, hi = blocks[k, 0], blocks[k, 1], blocks[k, 2]
            param, grad, buf = params[t][lo:hi], grads[t][lo:hi], bufs[t][lo:hi]
            weight_decay, momentum, keep, neg_lr = h[t, 0], h[t, 1], h[t, 2], h[t, 3]
            first_step = h[t, 4] != 0
            for i in range(param.size):  # from 0: no negative-index checks, it vectorises
                g = -grad[i] if maximize else grad[i]
                if decay:
                    g = g + param[i] * weight_decay
                if has_momentum:
                    b = g if first_step else buf[i] * momentum + g * keep
                    buf[i] = b
                    g = g + b * momentum if nesterov else b
                param[i] = param[i] + g * neg_lr

    return sgd


#: :func:`sgd_numpy` in one pass, over the parameters of a group.
sgd_numba = Kernel(_sgd)


def sgd_(
    param: np.ndarray,
    grad: np.ndarray,
    momentum_buffer: np.ndarray | None,
    scratch: Scratch,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
    first_step: bool,
) -> None:
    """:func:`sgd_numpy`, by the kernel where it applies."""
    has_momentum = momentum != 0
    hyper = (lr, momentum, dampening, weight_decay)
    flat = _kernel_views(hyper, param, grad, *((momentum_buffer,) if has_momentum else ()))
    if flat is None:
        sgd_numpy(
            param, grad, momentum_buffer, scratch, lr=lr, momentum=momentum,
            dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
            maximize=maximize, first_step=first_step,
        )  # fmt: skip
        return
    p, g = flat[0], flat[1]
    buf = flat[2] if has_momentum else p  # (a placeholder the kernel never touches)
    h = (weight_decay, momentum, 1 - dampening, -lr, float(first_step))
    _launch(sgd_numba, (p, g, buf), h, (maximize, weight_decay != 0, has_momentum, nesterov))


# -- Adam / AdamW --------------------------------------------------------------------------


def adam_numpy(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    scratch: Scratch,
    *,
    step: float,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
) -> None:
    """Adam's update at step ``step`` (already counted; see :class:`nnlab.optim.Adam`)::

        g = -grad if maximize else grad
        if weight_decay != 0:
            if decoupled_weight_decay:  theta = theta * (1 - lr * weight_decay)   # AdamW
            else:                       g = g + weight_decay * theta              # L2
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        if amsgrad:  v_max = max(v_max, v);  v_hat = v_max    else:  v_hat = v
        theta = theta - lr / (1 - beta1**t) * m / (sqrt(v_hat) / sqrt(1 - beta2**t) + eps)

    ``max_exp_avg_sq`` is ``v_max`` (None without amsgrad)."""
    g_buf, work = scratch(2)
    grad = effective_grad(
        param, grad, g_buf, work, maximize=maximize, weight_decay=weight_decay,
        decoupled_lr=lr if decoupled_weight_decay else None,
    )  # fmt: skip
    m, v = exp_avg, exp_avg_sq
    lerp_(m, grad, 1 - beta1, work)
    # v ← β₂v + (1-β₂)g², written as v += (1-β₂)(g² - v): one pass fewer.
    np.multiply(grad, grad, out=work)
    work -= v
    work *= 1 - beta2
    v += work

    step_size = lr / (1 - beta1**step)
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    if amsgrad:
        np.maximum(max_exp_avg_sq, v, out=max_exp_avg_sq)
        v = max_exp_avg_sq
    # lr·m̂/(√v̂ + ε) = (step_size·bc₂)·m / (√v + ε·bc₂): the same value, two passes fewer
    # (each pass over a large parameter costs as much as the arithmetic).
    denom = np.sqrt(v, out=work)
    denom += eps * bias_correction2_sqrt
    np.divide(m, denom, out=work)
    work *= -step_size * bias_correction2_sqrt
    param += work


def _adam(loop):
    def adam(params, grads, ms, vs, v_maxs, h, blocks, maximize, decay, decoupled, amsgrad,
             near_start):  # fmt: skip
        for k in loop(blocks.shape[0]):
            t, lo, hi = blocks[k, 0], blocks[k, 1], blocks[k, 2]
            param, grad, m, v = params[t][lo:hi], grads[t][lo:hi], ms[t][lo:hi], vs[t][lo:hi]
            v_max = v_maxs[t][lo:hi]
            weight_decay, shrink, w1, w1_rest = h[t, 0], h[t, 1], h[t, 2], h[t, 3]
            w2, eps_bc, neg_step = h[t, 4], h[t, 5], h[t, 6]
            for i in range(param.size):
                g = -grad[i] if maximize else grad[i]
                p = param[i]
                if decay:
                    if decoupled:
                        p = p * shrink
                    else:
                        g = g + p * weight_decay
                d = g - m[i]
                mi = m[i] + d * w1 if near_start else g - d * w1_rest
                m[i] = mi
                vi = v[i] + (g * g - v[i]) * w2
                v[i] = vi
                if amsgrad:
                    # np.maximum's rule: a NaN on either side wins.
                    vi = vi if vi > v_max[i] or vi != vi else v_max[i]
                    v_max[i] = vi
                param[i] = p + mi / (np.sqrt(vi) + eps_bc) * neg_step

    return adam


#: :func:`adam_numpy` in one pass, over the parameters of a group.
adam_numba = Kernel(_adam)


def adam_(
    param: np.ndarray,
    grad: np.ndarray,
    exp_avg: np.ndarray,
    exp_avg_sq: np.ndarray,
    max_exp_avg_sq: np.ndarray | None,
    scratch: Scratch,
    *,
    step: float,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    decoupled_weight_decay: bool,
    amsgrad: bool,
    maximize: bool,
) -> None:
    """:func:`adam_numpy`, by the kernel where it applies."""
    hyper = (lr, beta1, beta2, eps, weight_decay)
    optional = (max_exp_avg_sq,) if amsgrad else ()
    flat = _kernel_views(hyper, param, grad, exp_avg, exp_avg_sq, *optional)
    if flat is None:
        adam_numpy(
            param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scratch, step=step, lr=lr,
            beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
            decoupled_weight_decay=decoupled_weight_decay, amsgrad=amsgrad, maximize=maximize,
        )  # fmt: skip
        return
    p, g, m, v = flat[:4]
    v_max = flat[4] if amsgrad else v  # (a placeholder the kernel never touches)
    step_size = lr / (1 - beta1**step)
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    w1 = 1 - beta1
    h = (
        weight_decay,
        1 - lr * weight_decay,
        w1,
        1.0 - w1,
        1 - beta2,
        eps * bias_correction2_sqrt,
        -step_size * bias_correction2_sqrt,
    )
    flags = (maximize, weight_decay != 0, decoupled_weight_decay, amsgrad, abs(w1) < 0.5)
    _launch(adam_numba, (p, g, m, v, v_max), h, flags)


# -- RMSprop -------------------------------------------------------------------------------


def rmsprop_numpy(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray | None,
    momentum_buffer: np.ndarray | None,
    scratch: Scratch,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    """RMSprop's update (see :class:`nnlab.optim.RMSprop`)::

        g = -grad if maximize else grad;  if weight_decay != 0:  g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g**2                     # square_avg
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g              # grad_avg
            avg = sqrt(v - gbar**2) + eps
        else:
            avg = sqrt(v) + eps
        if momentum > 0:  b = momentum * b + g / avg;  theta = theta - lr * b
        else:             theta = theta - lr * g / avg

    ``grad_avg`` is used only when centered, ``momentum_buffer`` only when momentum > 0."""
    g_buf, work, avg = scratch(3)
    grad = effective_grad(param, grad, g_buf, work, maximize=maximize, weight_decay=weight_decay)
    square_avg *= alpha
    np.multiply(grad, grad, out=work)
    work *= 1 - alpha
    square_avg += work
    if centered:
        lerp_(grad_avg, grad, 1 - alpha, work)
        np.multiply(grad_avg, grad_avg, out=work)
        np.subtract(square_avg, work, out=avg)
        np.sqrt(avg, out=avg)
    else:
        np.sqrt(square_avg, out=avg)
    avg += eps

    if momentum > 0:
        buf = momentum_buffer
        buf *= momentum
        np.divide(grad, avg, out=work)
        buf += work
        np.multiply(buf, -lr, out=work)
    else:
        np.divide(grad, avg, out=work)
        work *= -lr
    param += work


def _rmsprop(loop):
    def rmsprop(params, grads, vs, gbars, bufs, h, blocks, maximize, decay, centered,
                near_start, has_mom):  # fmt: skip
        for k in loop(blocks.shape[0]):
            t, lo, hi = blocks[k, 0], blocks[k, 1], blocks[k, 2]
            param, grad, v = params[t][lo:hi], grads[t][lo:hi], vs[t][lo:hi]
            gbar, buf = gbars[t][lo:hi], bufs[t][lo:hi]
            weight_decay, alpha, w, w_rest = h[t, 0], h[t, 1], h[t, 2], h[t, 3]
            eps, momentum, neg_lr = h[t, 4], h[t, 5], h[t, 6]
            for i in range(param.size):
                g = -grad[i] if maximize else grad[i]
                p = param[i]
                if decay:
                    g = g + p * weight_decay
                vi = v[i] * alpha + g * g * w
                v[i] = vi
                if centered:
                    d = g - gbar[i]
                    gi = gbar[i] + d * w if near_start else g - d * w_rest
                    gbar[i] = gi
                    avg = np.sqrt(vi - gi * gi) + eps
                else:
                    avg = np.sqrt(vi) + eps
                if has_mom:
                    b = buf[i] * momentum + g / avg
                    buf[i] = b
                    param[i] = p + b * neg_lr
                else:
                    param[i] = p + g / avg * neg_lr

    return rmsprop


#: :func:`rmsprop_numpy` in one pass, over the parameters of a group.
rmsprop_numba = Kernel(_rmsprop)


def rmsprop_(
    param: np.ndarray,
    grad: np.ndarray,
    square_avg: np.ndarray,
    grad_avg: np.ndarray | None,
    momentum_buffer: np.ndarray | None,
    scratch: Scratch,
    *,
    lr: float,
    alpha: float,
    eps: float,
    weight_decay: float,
    momentum: float,
    centered: bool,
    maximize: bool,
) -> None:
    """:func:`rmsprop_numpy`, by the kernel where it applies."""
    has_momentum = momentum > 0
    optional = ((grad_avg,) if centered else ()) + ((momentum_buffer,) if has_momentum else ())
    hyper = (lr, alpha, eps, weight_decay, momentum)
    flat = _kernel_views(hyper, param, grad, square_avg, *optional)
    if flat is None:
        rmsprop_numpy(
            param, grad, square_avg, grad_avg, momentum_buffer, scratch, lr=lr, alpha=alpha,
            eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered,
            maximize=maximize,
        )  # fmt: skip
        return
    p, g, v = flat[:3]
    rest = iter(flat[3:])
    gbar = next(rest) if centered else p  # (placeholders the kernel never touches)
    buf = next(rest) if has_momentum else p
    w = 1 - alpha
    h = (weight_decay, alpha, w, 1.0 - w, eps, momentum, -lr)
    flags = (maximize, weight_decay != 0, centered, abs(w) < 0.5, has_momentum)
    _launch(rmsprop_numba, (p, g, v, gbar, buf), h, flags)


# -- Adagrad -------------------------------------------------------------------------------


def adagrad_numpy(
    param: np.ndarray,
    grad: np.ndarray,
    state_sum: np.ndarray,
    scratch: Scratch,
    *,
    step: float,
    lr: float,
    lr_decay: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    """Adagrad's update at step ``step`` (already counted; see :class:`nnlab.optim.Adagrad`)::

        g = -grad if maximize else grad;  if weight_decay != 0:  g = g + weight_decay * theta
        lr_t = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g**2
        theta = theta - lr_t * g / (sqrt(sum) + eps)

    ``state_sum`` is ``sum``."""
    g_buf, work = scratch(2)
    grad = effective_grad(param, grad, g_buf, work, maximize=maximize, weight_decay=weight_decay)
    clr = lr / (1 + (step - 1) * lr_decay)
    np.multiply(grad, grad, out=work)
    state_sum += work
    std = np.sqrt(state_sum, out=work)
    std += eps
    np.divide(grad, std, out=work)
    work *= -clr
    param += work


def _adagrad(loop):
    def adagrad(params, grads, sums, h, blocks, maximize, decay):
        for k in loop(blocks.shape[0]):
            t, lo, hi = blocks[k, 0], blocks[k, 1], blocks[k, 2]
            param, grad, state_sum = params[t][lo:hi], grads[t][lo:hi], sums[t][lo:hi]
            weight_decay, eps, neg_clr = h[t, 0], h[t, 1], h[t, 2]
            for i in range(param.size):
                g = -grad[i] if maximize else grad[i]
                if decay:
                    g = g + param[i] * weight_decay
                s = state_sum[i] + g * g
                state_sum[i] = s
                param[i] = param[i] + g / (np.sqrt(s) + eps) * neg_clr

    return adagrad


#: :func:`adagrad_numpy` in one pass, over the parameters of a group.
adagrad_numba = Kernel(_adagrad)


def adagrad_(
    param: np.ndarray,
    grad: np.ndarray,
    state_sum: np.ndarray,
    scratch: Scratch,
    *,
    step: float,
    lr: float,
    lr_decay: float,
    eps: float,
    weight_decay: float,
    maximize: bool,
) -> None:
    """:func:`adagrad_numpy`, by the kernel where it applies."""
    flat = _kernel_views((lr, lr_decay, eps, weight_decay), param, grad, state_sum)
    if flat is None:
        adagrad_numpy(
            param, grad, state_sum, scratch, step=step, lr=lr, lr_decay=lr_decay, eps=eps,
            weight_decay=weight_decay, maximize=maximize,
        )  # fmt: skip
        return
    p, g, s = flat
    clr = lr / (1 + (step - 1) * lr_decay)
    h = (weight_decay, eps, -clr)
    _launch(adagrad_numba, (p, g, s), h, (maximize, weight_decay != 0))
