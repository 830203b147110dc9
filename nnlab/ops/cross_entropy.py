"""Multi-class classification losses: softmax cross-entropy and negative log-likelihood.

Conventions are those of :mod:`nnlab.ops.loss`. The input holds one score per class along
axis 1, shaped (N, C), (N, C, d₁, d₂, ...) for per-pixel or per-token classes, or (C,) for a
single unbatched sample. Targets are either class indices (integers, shape (N, d₁, ...)), where
``ignore_index`` marks entries that count for nothing, or class probabilities (floating, the
input's shape).

``cross_entropy`` is one fused op (:class:`SoftmaxCrossEntropy`) whose backward turns the
saved probability matrix into the gradient in place, so the loss costs no extra array of
the logits' size. ``cross_entropy_composed`` builds the same loss from ``log_softmax``
and ``nll_loss``, as torch does; the tests hold the two to the same values and gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.kernels import softmax as kernels
from nnlab.ops.loss import _array, _reduce, _tensor, resolve_reduction
from nnlab.ops.softmax import log_softmax, softmax
from nnlab.tensor import Tensor

__all__ = ["cross_entropy", "cross_entropy_composed", "nll_loss"]


def _class_weight(op: str, weight: Any, n_classes: int, dtype: np.dtype) -> np.ndarray | None:
    if weight is None:
        return None
    w = _array(weight)
    if w.shape != (n_classes,):
        raise ValueError(
            f"{op}: weight should hold one value per class, shape ({n_classes},), got "
            f"shape {w.shape}"
        )
    return w.astype(dtype, copy=False)


def _class_target(op: str, input_shape: tuple[int, ...], target: np.ndarray, ignore_index: int):
    """Check class-index targets against an input (C,), (N, C) or (N, C, d₁, ...): their dtype,
    shape and range. Returns the targets (reshaped to () for an unbatched input) and whether
    any of them is ``ignore_index``."""
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"{op}: class-index targets must be integers (int64), got dtype {target.dtype}. "
            f"For class probabilities pass a floating target of the input's shape {input_shape}."
        )
    if len(input_shape) == 1:
        if target.ndim > 1 or target.size != 1:
            raise ValueError(
                f"{op}: for an unbatched input of shape {input_shape} the target must be one "
                f"class index (shape ()), got target shape {target.shape}"
            )
        target = target.reshape(())
    else:
        n, expected = input_shape[0], (input_shape[0], *input_shape[2:])
        if target.ndim >= 1 and target.shape[0] != n:
            raise ValueError(
                f"{op}: expected input batch_size ({n}) to match target batch_size "
                f"({target.shape[0]}); input shape {input_shape}, target shape {target.shape}"
            )
        if target.shape != expected:
            raise ValueError(
                f"{op}: expected target of shape {expected} for input of shape {input_shape} "
                f"(N, C, d₁, ...), got target shape {target.shape}"
            )
    n_classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    if not target.size:
        return target, False
    lo, hi = target.min(), target.max()
    if lo >= 0 and hi < n_classes and not lo <= ignore_index <= hi:
        return target, False  # the common case, decided by two reductions
    kept = target[target != ignore_index]
    bad = kept[(kept < 0) | (kept >= n_classes)]
    if bad.size:
        raise IndexError(
            f"{op}: target {int(bad.flat[0])} is out of bounds for {n_classes} classes "
            f"(expected 0 <= target < {n_classes}, or ignore_index={ignore_index})"
        )
    return target, kept.size < target.size


def _batched(x: np.ndarray, target: np.ndarray, probs: bool) -> tuple[np.ndarray, np.ndarray]:
    """An unbatched input (C,) as a batch of one, so the class axis is always 1."""
    if x.ndim != 1:
        return x, target
    return x[None], (target[None] if probs else target.reshape(1))


def _exp_shifted(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """e = exp(x - m) with m = max along axis 1, and s = Σ e along axis 1, so that
    softmax(x) = e / s and ln softmax(x) = (x - m) - ln s. Subtracting m keeps e ≤ 1.
    The max and the subtraction are one kernel for (N, C) logits under the numba backend
    (:func:`nnlab.kernels.softmax.shift_by_max`, the same bits)."""
    e, m = kernels.shift_by_max(x, 1)
    np.exp(e, out=e)
    if e.ndim == 2:  # row sums as a GEMV: ≈3× faster than e.sum(axis=1) here
        s = (e @ np.ones(e.shape[1], dtype=e.dtype))[:, None]
    else:
        s = e.sum(axis=1, keepdims=True)
    return e, m, s


def _subtract_at(p: np.ndarray, target: np.ndarray, values: Any) -> None:
    """p[n, target[n], ...] -= values, in place (one entry per sample, so no duplicates)."""
    if p.ndim == 2:
        p[np.arange(p.shape[0]), target] -= values if np.ndim(values) == 0 else values[:, 0]
        return
    idx = target[:, None]
    np.put_along_axis(p, idx, np.take_along_axis(p, idx, axis=1) - values, axis=1)


class SoftmaxCrossEntropy(Function):
    """Fused softmax + cross-entropy along the class axis of x, (C,), (N, C) or (N, C, d₁, ...).

    With p = softmax(x), class weights w (all 1 by default) and q the target distribution of
    a sample: q = (1 - ε)·onehot(y) + ε/C for a class index y with label smoothing ε, or
    q = (1 - ε)·t + ε/C for class probabilities t,

        l = -Σ_c w_c q_c ln p_c            (0 where y = ignore_index)
        ∂l/∂x_j = p_j·Σ_c w_c q_c - w_j q_j,

    which is simply p - q without weights. ``'mean'`` divides by Σ w_y over the non-ignored
    samples for class indices, by the number of samples for probabilities. The forward keeps
    e = exp(x - max x) and its row sums s; the backward turns e into the gradient in place,
    its division by s joining the scaling by the upstream gradient (no second (N, C) array,
    one pass fewer). Under ``create_graph`` the same gradient, r·(p·Σ_c w_c q_c - w∘q), is
    built from differentiable ops instead (:func:`_recorded_gradient`), so Hessians and
    double backward through the loss work as in torch.
    ``ignore_index`` is None when the caller found no target to ignore (no mask needed).
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, label_smoothing, reduction):
        ctx.save_for_backward(x)
        probs = target.dtype.kind == "f"
        ctx.target_shape, unbatched = target.shape, x.ndim == 1
        x, target = _batched(x, target, probs)
        eps, n_classes = label_smoothing, x.shape[1]
        # e / s is softmax(x); dividing is left to the backward, where it joins the scaling
        e, m, s = _exp_shifted(x)
        log_s = np.log(s)
        wb = None if weight is None else weight.reshape((1, -1) + (1,) * (x.ndim - 2))
        ctx.e, ctx.s, ctx.m, ctx.log_s, ctx.wb = e, s, m, log_s, wb
        ctx.probs, ctx.eps, ctx.reduction = probs, eps, reduction
        if probs:
            q = target if eps == 0 else target * (1 - eps) + eps / n_classes
            wq = q if wb is None else q * wb
            ctx.wq, ctx.mass = wq, wq.sum(axis=1, keepdims=True)
            loss = -((x - m - log_s) * wq).sum(axis=1)
            denom = loss.size
        else:
            all_valid = ignore_index is None  # the caller found no target to ignore
            valid = None if all_valid else target != ignore_index
            safe = target if all_valid else np.where(valid, target, 0)
            ctx.safe = safe
            if x.ndim == 2:
                x_y = x[np.arange(x.shape[0]), safe][:, None]
            else:
                x_y = np.take_along_axis(x, safe[:, None], axis=1)
            loss = ((m - x_y) + log_s)[:, 0]
            coef = None if all_valid else valid.astype(x.dtype)
            if weight is not None:
                coef = weight[safe] if coef is None else coef * weight[safe]
            if coef is not None:
                loss *= coef
            ctx.valid = None if all_valid else valid.astype(x.dtype)
            ctx.coef = coef
            if eps > 0:
                log_p = x - m - log_s
                smooth = -(log_p.sum(axis=1) if wb is None else (log_p * wb).sum(axis=1))
                if ctx.valid is not None:
                    smooth *= ctx.valid
                loss = (1 - eps) * loss + (eps / n_classes) * smooth
            denom = loss.size if coef is None else coef.sum()
        ctx.sample_shape = loss.shape
        if reduction == "none":
            return loss.reshape(()) if unbatched else loss
        total = loss.sum()
        if reduction == "sum":
            return total
        ctx.inv_denom = 1 / denom if denom else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return (total / x.dtype.type(denom)).astype(x.dtype)

    @staticmethod
    def backward(ctx, g):
        if ctx._tensor_mode:
            return (*_recorded_gradient(ctx, g), None, None, None, None)
        (x,) = ctx.saved_tensors
        p = ctx.e  # softmax(x) · s: its division by s is folded into the first scaling below
        ctx.e = None
        x_b = x[None] if x.ndim == 1 else x
        if p is None:  # a second backward (retain_graph): the first one consumed e
            p = _exp_shifted(x_b)[0]
        inv_s = 1 / ctx.s
        # the upstream gradient per sample, broadcastable against p (N, C, d₁, ...)
        if ctx.reduction == "none":
            scale = g.reshape(ctx.sample_shape)[:, None]
        else:
            scale = g * ctx.inv_denom if ctx.reduction == "mean" else g
        eps, n_classes = ctx.eps, p.shape[1]
        gx = gt = None
        if ctx.probs:
            if ctx.needs_input_grad[1]:
                gt = -(1 - eps) * scale * (x_b - ctx.m - ctx.log_s)
                gt = gt if ctx.wb is None else gt * ctx.wb
                gt = gt.reshape(ctx.target_shape)
            if not ctx.needs_input_grad[0]:
                return None, gt, None, None, None, None
            p *= scale * ctx.mass * inv_s
            p -= scale * ctx.wq
            gx = p
        elif eps == 0:
            r = scale if ctx.coef is None else scale * ctx.coef[:, None]
            p *= r * inv_s
            _subtract_at(p, ctx.safe, r)
            gx = p
        else:
            r = scale if ctx.valid is None else scale * ctx.valid[:, None]
            w_y = 1 if ctx.wb is None else ctx.wb.reshape(-1)[ctx.safe][:, None]
            mass = 1 if ctx.wb is None else (1 - eps) * w_y + (eps / n_classes) * ctx.wb.sum()
            p *= r * mass * inv_s
            _subtract_at(p, ctx.safe, r * (1 - eps) * w_y)
            p -= (r * (eps / n_classes)) * (1 if ctx.wb is None else ctx.wb)
            gx = p
        # a reshape would return a view, which the engine copies before it becomes a .grad
        gx = gx if gx.shape == x.shape else gx.reshape(x.shape)
        return gx, gt, None, None, None, None


def _recorded_gradient(ctx: Any, g: Tensor) -> tuple[Any, Any]:
    """The gradients of :class:`SoftmaxCrossEntropy` as a recorded graph
    (``create_graph=True``): ∂l/∂x = r·(m·softmax(x) - Q) per sample, where r is the upstream
    gradient times the sample's weight and validity, Q = w∘q the weighted target
    distribution and m = Σ_c Q_c its mass; for class probabilities t,
    ∂l/∂t = -(1 - ε)·r·w∘log softmax(x)."""
    (x,) = ctx.saved_tensors
    x_b = x.unsqueeze(0) if x.ndim == 1 else x
    n, n_classes = x_b.shape[0], x_b.shape[1]
    dtype = x_b.array.dtype
    if ctx.reduction == "none":
        scale = g.reshape(ctx.sample_shape).unsqueeze(1)
    else:
        scale = g * ctx.inv_denom if ctx.reduction == "mean" else g
    eps, wb = ctx.eps, ctx.wb
    w_all = np.ones((), dtype) if wb is None else wb
    gt = None
    if ctx.probs:
        t = ctx.inputs[1]
        if isinstance(t, Tensor) and t.requires_grad:  # Q and m then depend on t
            t_b = t.unsqueeze(0) if t.ndim == 1 else t
            q = (t_b * (1 - eps) + eps / n_classes) * w_all
            mass = q.sum(1, keepdim=True)
            if ctx.needs_input_grad[1]:
                gt = (-(1 - eps) * scale * log_softmax(x_b, 1) * w_all).reshape(t.shape)
        else:
            q, mass = ctx.wq, ctx.mass
        r = np.ones((), dtype)
    else:
        safe = ctx.safe
        onehot = np.zeros((n, n_classes) + safe.shape[1:], dtype=dtype)
        np.put_along_axis(onehot, safe[:, None], 1, axis=1)
        per_sample = ctx.coef if eps == 0 else ctx.valid
        r = np.ones((), dtype) if per_sample is None else per_sample[:, None]
        if eps == 0:
            mass, q = np.ones((), dtype), onehot
        else:
            w_y = 1 if wb is None else wb.reshape(-1)[safe][:, None]
            q = (1 - eps) * w_y * onehot + (eps / n_classes) * w_all
            mass = q.sum(axis=1, keepdims=True)
    gx = None
    if ctx.needs_input_grad[0]:
        gx = ((scale * r) * (softmax(x_b, 1) * mass - q)).reshape(x.shape)
    return gx, gt


def _check_smoothing(op: str, label_smoothing: float) -> float:
    # torch silently ignores a negative value; nnlab rejects it as well as values above 1
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(
            f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}"
        )
    return float(label_smoothing)


def _ce_args(op: str, input: Any, target: Any, weight: Any, ignore_index: int, label_smoothing):
    """Validate cross-entropy arguments. Returns the input, the target, the weight array, the
    smoothing, and ``ignore_index`` or None when no target is ignored."""
    input, target = _tensor(input), _tensor(target)
    if input.ndim == 0:
        raise ValueError(
            f"{op}: input must have a class dimension, shape (C,), (N, C) or (N, C, d₁, ...); "
            "got a 0-d tensor"
        )
    x, t = input.array, target.array  # shapes and dtypes read straight from the arrays
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    w = _class_weight(op, weight, n_classes, x.dtype)
    eps = _check_smoothing(op, label_smoothing)
    if t.shape == x.shape and t.dtype.kind in "iub":
        raise TypeError(
            f"{op}: a target of the input's shape {x.shape} holds class probabilities and "
            f"must be floating point, got {t.dtype}; class indices have shape (N, d₁, ...)"
        )
    if t.shape == x.shape:
        return input, target, w, eps, None
    indices, ignores = _class_target(op, x.shape, t, ignore_index)
    return input, Tensor(indices), w, eps, (ignore_index if ignores else None)


def cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy between softmax(input) and the target: l = -Σ_c w_c q_c ln softmax(x)_c,
    fused and stable (see :class:`nnlab.nn.CrossEntropyLoss`, which explains every argument).

    ``target`` holds class indices (integers, shape (N, d₁, ...)) or class probabilities
    (floating, the input's shape).

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.cross_entropy(nnlab.tensor([[2.0, 0.0, 0.0]]), nnlab.tensor([0]))
    tensor(0.2395)
    """
    reduction = resolve_reduction("cross_entropy", size_average, reduce, reduction)
    input, target, w, eps, ignored = _ce_args(
        "cross_entropy", input, target, weight, ignore_index, label_smoothing
    )
    if target.array.dtype.kind != "f":
        target = target.array
    return SoftmaxCrossEntropy.apply(input, target, w, ignored, eps, reduction)


def cross_entropy_composed(
    input: Tensor,
    target: Any,
    weight: Any = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """The composed twin of :func:`cross_entropy`: ``log_softmax`` then :func:`nll_loss` (plus
    the smoothing term), following torch's own composition. Tests compare it with the fused
    op; it is slower, but supports higher-order gradients (``create_graph=True``)."""
    op = "cross_entropy"
    reduction = resolve_reduction(op, None, None, reduction)
    input, target, w, eps, _ = _ce_args(op, input, target, weight, ignore_index, label_smoothing)
    dim = 0 if input.ndim == 1 else 1
    n_classes = input.shape[dim]
    log_p = log_softmax(input, dim)
    wb = None if w is None else w.reshape((-1,) + (1,) * (input.ndim - dim - 1))
    if target.dtype.kind == "f":
        q = target if eps == 0 else target * (1 - eps) + eps / n_classes
        loss = -(log_p * (q if wb is None else q * wb)).sum(dim)
        if reduction == "mean":
            return loss.sum() / (input.array.size // n_classes)
        return _reduce(loss, reduction)
    nll = nll_loss(log_p, target, w, ignore_index=ignore_index, reduction=reduction)
    if eps == 0:
        return nll
    valid = (target.array != ignore_index).astype(input.dtype)
    smooth = -(log_p if wb is None else log_p * wb).sum(dim) * valid
    if reduction == "mean":
        safe = np.where(target.array != ignore_index, target.array, 0)
        denom = valid.sum() if w is None else (w[safe] * valid).sum()
        # all ignored: torch's 0/0 gives nan with a zero gradient (not inf · 0 = nan)
        smooth = smooth.sum() / denom if denom else smooth.sum() * 0.0 + np.nan
    else:
        smooth = _reduce(smooth, reduction)
    return (1 - eps) * nll + smooth * (eps / n_classes)


class NllLoss(Function):
    """Negative log-likelihood, given log-probabilities x: l = -w_y·x_y (0 where y is
    ignore_index);  ∂l/∂x_c = -w_y where c = y, else 0."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        ctx.shape, ctx.reduction = x.shape, reduction
        x, target = _batched(x, target, False)
        ctx.n_classes = x.shape[1]
        valid = target != ignore_index
        safe = np.where(valid, target, 0)
        coef = valid.astype(x.dtype)
        if weight is not None:
            coef *= weight[safe]
        ctx.safe, ctx.coef = safe, coef
        loss = -(coef * np.take_along_axis(x, safe[:, None], axis=1)[:, 0])
        if reduction == "none":
            return loss.reshape(()) if len(ctx.shape) == 1 else loss
        if reduction == "sum":
            return loss.sum()
        denom = coef.sum()
        ctx.inv_denom = 1 / denom if denom else 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            return loss.sum() / denom

    @staticmethod
    def backward(ctx, g):
        if ctx.reduction == "none":
            scale = g.reshape(ctx.coef.shape)
        else:
            scale = g * ctx.inv_denom if ctx.reduction == "mean" else g
        values = -(ctx.coef * scale)
        safe = ctx.safe
        onehot = np.zeros((safe.shape[0], ctx.n_classes) + safe.shape[1:], dtype=bool)
        np.put_along_axis(onehot, safe[:, None], True, axis=1)
        gx = onehot * values.reshape(values.shape[:1] + (1,) + values.shape[1:])
        return gx.reshape(ctx.shape), None, None, None, None


def nll_loss(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    ignore_index: int = -100,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood l = -w_y·x_y of log-probabilities x (see
    :class:`nnlab.nn.NLLLoss`); ``log_softmax`` + ``nll_loss`` is cross-entropy.

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.nll_loss(nnlab.tensor([[-0.1, -2.0], [-3.0, -0.5]]), nnlab.tensor([0, 1]))
    tensor(0.3)
    """
    reduction = resolve_reduction("nll_loss", size_average, reduce, reduction)
    input, target = _tensor(input), _tensor(target)
    if input.ndim == 0:
        raise ValueError("nll_loss: expected an input with 1 or more dimensions (got 0)")
    n_classes = input.shape[0] if input.ndim == 1 else input.shape[1]
    w = _class_weight("nll_loss", weight, n_classes, input.dtype)
    target, _ = _class_target("nll_loss", input.shape, target.array, ignore_index)
    return NllLoss.apply(input, target, w, ignore_index, reduction)
