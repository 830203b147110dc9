"""Loss functions: one number that says how far predictions are from their targets.

The loss family lives in three files: this one (the shared conventions and helpers, the
regression losses, binary cross-entropy and KL divergence), :mod:`nnlab.ops.cross_entropy`
(softmax cross-entropy and NLL) and :mod:`nnlab.ops.margin_loss` (hinge, margin and embedding
losses). Conventions, stated once for all of them (they are PyTorch's):

* ``input`` is the prediction, ``target`` what it should have been. Each loss first computes
  one value per element (or per sample), then ``reduction`` combines them: ``'none'`` keeps
  them all, ``'sum'`` adds them up and ``'mean'`` averages them; where a class weight is
  given, ``'mean'`` is the weighted mean Σ wₙ lₙ / Σ wₙ. The deprecated ``size_average`` and
  ``reduce`` arguments still work and map onto ``reduction`` with a warning, as in torch.
* Each loss with a backward of its own is a :class:`Function` computing the unreduced values;
  weights and the reduction are ordinary ops composed on top, so their gradients come for
  free. Losses that torch builds from primitives (margin ranking, cosine embedding,
  triplet...) are composed here too, which keeps their gradient conventions identical.
* Backward bodies use operators and NumPy ufuncs only, so they also run on tensors for
  higher-order gradients; the one exception is the fused ``SoftmaxCrossEntropy``, whose
  backward reuses its probability matrix in place (``cross_entropy_composed`` is its twin,
  and supports ``create_graph=True``).
* Class targets are integer tensors, probabilities are floating ones; errors name the loss,
  the shapes involved and what was expected.

The module forms (``nnlab.nn.MSELoss`` ...) carry the longer explanations of each loss.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from nnlab.autograd.function import Function
from nnlab.ops.activation import softplus
from nnlab.tensor import Tensor

__all__ = [
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    "binary_cross_entropy_with_logits_composed", "huber_loss", "kl_div", "l1_loss", "mse_loss",
    "resolve_reduction", "smooth_l1_loss",
]  # fmt: skip

_REDUCTIONS = ("none", "mean", "sum")
# torch's clamp of log(x) in binary_cross_entropy, and its floor on x(1 - x) in the backward
# (a float32 constant in torch even for float64 inputs: 1e-12 rounded to float32)
_LOG_FLOOR = -100.0
_BCE_EPS = float(np.float32(1e-12))


# -- shared helpers ----------------------------------------------------------------------


def _tensor(value: Any) -> Tensor:
    return value if isinstance(value, Tensor) else Tensor(value)


def _array(value: Any) -> np.ndarray:
    return value.array if isinstance(value, Tensor) else np.asarray(value)


def resolve_reduction(
    op: str, size_average: Any, reduce: Any, reduction: str, extra: tuple[str, ...] = ()
) -> str:
    """The reduction to apply: ``reduction`` itself, checked against the allowed modes, or
    the mode the deprecated ``size_average``/``reduce`` pair maps to (with torch's warning):
    ``reduce=False`` gives 'none', else ``size_average=False`` gives 'sum', else 'mean'."""
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "mean" if size_average and reduce else "sum" if reduce else "none"
        warnings.warn(
            f"size_average and reduce args will be deprecated, please use "
            f"reduction='{reduction}' instead.",
            UserWarning,
            stacklevel=3,
        )
    if reduction not in _REDUCTIONS + extra:
        allowed = ", ".join(repr(r) for r in _REDUCTIONS + extra)
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction ({allowed})")
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _broadcast(op: str, *tensors: Tensor, names: tuple[str, ...] = ("input", "target")):
    """The common shape of ``tensors``, or a ValueError naming the loss and every shape."""
    try:
        return np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        listed = ", ".join(f"{n} shape {t.shape}" for n, t in zip(names, tensors))
        raise ValueError(
            f"{op}: {listed} cannot be broadcast together; pass tensors of the same shape"
        ) from None


def _pair(op: str, input: Any, target: Any, warn: bool) -> tuple[Tensor, Tensor]:
    """Input and target as tensors of one shape. Like torch, a broadcastable target of
    another shape is accepted, with a warning for the regression losses, because
    (N, 1) against (N,) silently becomes an (N, N) loss."""
    input, target = _tensor(input), _tensor(target)
    if target.dtype.kind not in "fc":
        # torch promotes an integer target to the input's dtype; NumPy would pick float64
        target = target.to(input.dtype)
    if input.shape == target.shape:
        return input, target
    shape = _broadcast(op, input, target)
    if warn:
        warnings.warn(
            f"{op}: target shape {target.shape} differs from input shape {input.shape}; both "
            f"are broadcast to {shape}, which is likely a mistake. Pass a target of the "
            "input's shape.",
            UserWarning,
            stacklevel=3,
        )
    return input.expand(shape), target.expand(shape)


def _weighted(op: str, loss: Tensor, weight: Any, reduction: str, mean_by_weight: bool):
    """``loss * weight`` reduced (``loss`` alone without a weight); torch's weighted MSE/L1
    mean is Σ w·l / Σ w, while its weighted Huber mean is the plain mean of w·l
    (``mean_by_weight`` False)."""
    if weight is None:
        return _reduce(loss, reduction)
    weight = _tensor(weight)
    if weight.shape != loss.shape:
        raise ValueError(
            f"{op}: weight shape {weight.shape} must equal the input shape {loss.shape}"
        )
    weighted = loss * weight
    if reduction == "mean" and mean_by_weight:
        return weighted.sum() / weight.sum()
    return _reduce(weighted, reduction)


# -- regression --------------------------------------------------------------------------


class SquaredError(Function):
    """l = (x - y)²;  ∂l/∂x = 2(x - y),  ∂l/∂y = -2(x - y)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        d = x - y
        return d * d

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = 2 * (x - y) * g
        return gx, (-gx if ctx.needs_input_grad[1] else None)


class AbsoluteError(Function):
    """l = |x - y|;  ∂l/∂x = sign(x - y) (0 where x = y, as torch),  ∂l/∂y = -sign(x - y)."""

    @staticmethod
    def forward(ctx, x, y):
        d = x - y
        ctx.sign = np.sign(d)
        return np.abs(d)

    @staticmethod
    def backward(ctx, g):
        gx = g * ctx.sign
        return gx, (-gx if ctx.needs_input_grad[1] else None)


class SmoothL1(Function):
    """With d = x - y:  l = ½d²/β where |d| < β, else |d| - ½β;
    ∂l/∂x = d/β inside, sign(d) outside (= -∂l/∂y)."""

    @staticmethod
    def forward(ctx, x, y, beta):
        ctx.save_for_backward(x, y)
        d = x - y
        a = np.abs(d)
        ctx.beta, ctx.inside = beta, a < beta
        ctx.outer_sign = np.sign(d) * ~ctx.inside
        return np.where(ctx.inside, 0.5 * d * d / beta, a - 0.5 * beta)

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * ((x - y) * ctx.inside / ctx.beta + ctx.outer_sign)
        return gx, (-gx if ctx.needs_input_grad[1] else None), None


class Huber(Function):
    """With d = x - y:  l = ½d² where |d| < δ, else δ(|d| - ½δ);
    ∂l/∂x = d inside, δ·sign(d) outside (= -∂l/∂y). Huber = β · SmoothL1 with β = δ."""

    @staticmethod
    def forward(ctx, x, y, delta):
        ctx.save_for_backward(x, y)
        d = x - y
        a = np.abs(d)
        ctx.inside = a < delta
        ctx.outer = np.sign(d) * ~ctx.inside * delta
        return np.where(ctx.inside, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * ((x - y) * ctx.inside + ctx.outer)
        return gx, (-gx if ctx.needs_input_grad[1] else None), None


def mse_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Mean squared error, l = (x - y)² (see :class:`nnlab.nn.MSELoss`).

    With ``weight`` (the input's shape): l = w·(x - y)², and ``'mean'`` is Σ w·l / Σ w.

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.mse_loss(nnlab.tensor([1.0, 2.0]), nnlab.tensor([1.0, 4.0]))
    tensor(2.)
    """
    reduction = resolve_reduction("mse_loss", size_average, reduce, reduction)
    input, target = _pair("mse_loss", input, target, warn=True)
    loss = SquaredError.apply(input, target)
    return _weighted("mse_loss", loss, weight, reduction, mean_by_weight=True)


def l1_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Mean absolute error, l = |x - y| (see :class:`nnlab.nn.L1Loss`).

    With ``weight`` (the input's shape): l = w·|x - y|, and ``'mean'`` is Σ w·l / Σ w.

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.l1_loss(nnlab.tensor([1.0, 2.0]), nnlab.tensor([1.0, 4.0]), reduction="sum")
    tensor(2.)
    """
    reduction = resolve_reduction("l1_loss", size_average, reduce, reduction)
    input, target = _pair("l1_loss", input, target, warn=True)
    loss = AbsoluteError.apply(input, target)
    return _weighted("l1_loss", loss, weight, reduction, mean_by_weight=True)


def smooth_l1_loss(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """Smooth L1: ½d²/β for |d| < β, |d| - ½β beyond, d = x - y (see
    :class:`nnlab.nn.SmoothL1Loss`). ``beta=0`` is exactly :func:`l1_loss`.

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.smooth_l1_loss(nnlab.tensor([0.5, 3.0]), nnlab.zeros(2), reduction="none")
    tensor([0.125, 2.5  ])
    """
    reduction = resolve_reduction("smooth_l1_loss", size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    input, target = _pair("smooth_l1_loss", input, target, warn=True)
    if beta == 0:
        return _reduce(AbsoluteError.apply(input, target), reduction)
    return _reduce(SmoothL1.apply(input, target, float(beta)), reduction)


def huber_loss(
    input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Tensor:
    """Huber: ½d² for |d| < δ, δ(|d| - ½δ) beyond, d = x - y (see :class:`nnlab.nn.HuberLoss`).

    With ``weight`` (the input's shape) the values are w·l and ``'mean'`` is their plain
    mean (not divided by Σ w: torch's choice for this loss).

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.huber_loss(nnlab.tensor([0.5, 3.0]), nnlab.zeros(2), reduction="none", delta=2.0)
    tensor([0.125, 4.   ])
    """
    reduction = resolve_reduction("huber_loss", None, None, reduction)
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    input, target = _pair("huber_loss", input, target, warn=True)
    loss = Huber.apply(input, target, float(delta))
    return _weighted("huber_loss", loss, weight, reduction, mean_by_weight=False)


# -- binary classification ---------------------------------------------------------------


class BinaryCrossEntropy(Function):
    """l = -[y·ln x + (1 - y)·ln(1 - x)], each log clamped at -100 as in torch (so x = 0 or 1
    gives a finite loss);  ∂l/∂x = (x - y) / max(x(1 - x), 1e-12),
    ∂l/∂y = ln(1 - x) - ln x (unclamped, as torch: ±inf at x = 0 or 1)."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), _LOG_FLOOR)
            log_1mx = np.maximum(np.log1p(-x), _LOG_FLOOR)
        return (y - 1) * log_1mx - y * log_x

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * (x - y) / ((1 - x) * x).clip(_BCE_EPS)
        gy = None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = g * (np.log1p(-x) - np.log(x))
        return gx, gy


def _sigmoid(z: Any) -> Any:
    # σ(z) = ½(1 + tanh(z/2)): never overflows, and runs on arrays and tensors alike
    return 0.5 * (1 + np.tanh(0.5 * z))


class BinaryCrossEntropyWithLogits(Function):
    """Fused sigmoid + binary cross-entropy on logits z, with log-weight λ = 1 + (p - 1)·y for
    a positive-class weight p (λ = 1 without one):

        l = (1 - y)·z + λ·ln(1 + e⁻ᶻ),  where ln(1 + e⁻ᶻ) = max(-z, 0) + ln(1 + e^-|z|)

    never overflows (the naive -ln σ(z) does for z ≪ 0); without p this is the familiar
    max(z, 0) - z·y + ln(1 + e^-|z|).
    ∂l/∂z = λ·σ(z) - p·y  (= σ(z) - y without p),   ∂l/∂y = -z + (p - 1)·ln(1 + e⁻ᶻ).
    """

    @staticmethod
    def forward(ctx, z, y, pos_weight):
        ctx.save_for_backward(z, y)
        ctx.pos_weight, ctx.negative = pos_weight, z < 0
        softplus_neg = np.maximum(-z, 0) + np.log1p(np.exp(-np.abs(z)))
        if pos_weight is None:
            return (1 - y) * z + softplus_neg
        return (1 - y) * z + (1 + (pos_weight - 1) * y) * softplus_neg

    @staticmethod
    def backward(ctx, g):
        z, y = ctx.saved_tensors
        pw = ctx.pos_weight
        if pw is None:
            gz = g * (_sigmoid(z) - y)
        else:
            gz = g * ((1 + (pw - 1) * y) * _sigmoid(z) - pw * y)
        gy = None
        if ctx.needs_input_grad[1]:
            softplus_neg = -z * ctx.negative + np.log1p(np.exp(-np.abs(z)))
            gy = g * (-z if pw is None else -z + (pw - 1) * softplus_neg)
        return gz, gy, None


def _check_unit_interval(op: str, what: str, values: np.ndarray) -> None:
    # written so that NaN fails too, as torch's check does
    if values.size and not (values.min() >= 0 and values.max() <= 1):
        raise ValueError(
            f"{op}: all elements of {what} should be between 0 and 1, got values in "
            f"[{values.min():.4g}, {values.max():.4g}]"
            + (
                "; apply sigmoid first, or pass the raw scores to "
                "binary_cross_entropy_with_logits (more stable)"
                if what == "input"
                else ""
            )
        )


def _same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"{op}: target shape {target.shape} must equal the input shape {input.shape}"
        )


def _elementwise_weight(op: str, name: str, weight: Any, shape: tuple[int, ...]) -> Tensor:
    weight = _tensor(weight)
    try:
        ok = np.broadcast_shapes(weight.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{op}: {name} of shape {weight.shape} cannot be broadcast to the input shape {shape}"
        )
    return weight


def binary_cross_entropy(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy on probabilities x ∈ [0, 1]: l = -w·[y ln x + (1 - y) ln(1 - x)]
    (see :class:`nnlab.nn.BCELoss`). Logs are clamped at -100 as in torch.

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.binary_cross_entropy(nnlab.tensor([0.5, 0.5]), nnlab.tensor([1.0, 0.0]))
    tensor(0.6931)
    """
    reduction = resolve_reduction("binary_cross_entropy", size_average, reduce, reduction)
    input, target = _tensor(input), _tensor(target)
    _same_shape("binary_cross_entropy", input, target)
    _check_unit_interval("binary_cross_entropy", "input", input.array)
    _check_unit_interval("binary_cross_entropy", "target", target.array)
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * _elementwise_weight("binary_cross_entropy", "weight", weight, input.shape)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Any,
    weight: Any = None,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable step, on raw scores (logits) z:
    l = -w·[p·y·ln σ(z) + (1 - y)·ln(1 - σ(z))] (see :class:`nnlab.nn.BCEWithLogitsLoss`).

    ``pos_weight`` p broadcasts against the target (shape (C,) weighs each class).

    >>> import nnlab, nnlab.nn.functional as F
    >>> F.binary_cross_entropy_with_logits(nnlab.tensor([0.0, 100.0]), nnlab.tensor([1.0, 1.0]))
    tensor(0.3466)
    """
    op = "binary_cross_entropy_with_logits"
    reduction = resolve_reduction(op, size_average, reduce, reduction)
    input, target = _tensor(input), _tensor(target)
    _same_shape(op, input, target)
    if target.dtype.kind != "f":
        target = target.to(input.dtype)
    pw = None
    if pos_weight is not None:
        pw = _elementwise_weight(op, "pos_weight", pos_weight, target.shape).array
        pw = pw.astype(input.dtype, copy=False)
    loss = BinaryCrossEntropyWithLogits.apply(input, target, pw)
    if weight is not None:
        loss = loss * _elementwise_weight(op, "weight", weight, input.shape)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits_composed(
    input: Tensor, target: Any, weight: Any = None, reduction: str = "mean", pos_weight: Any = None
) -> Tensor:
    """The composed twin of :func:`binary_cross_entropy_with_logits` (tests compare the two):
    l = (1 - y)·z + (1 + (p - 1)·y)·softplus(-z), built from primitive ops."""
    input, target = _tensor(input), _tensor(target)
    log_weight = 1 if pos_weight is None else 1 + (_tensor(pos_weight) - 1) * target
    loss = (1 - target) * input + log_weight * softplus(-input)
    return _reduce(loss if weight is None else loss * weight, reduction)


# -- distributions -----------------------------------------------------------------------


class KlDiv(Function):
    """Pointwise Kullback-Leibler divergence, the input x being log-probabilities:
    l = t·(ln t - x) (0 where t = 0), or l = eᵗ·(t - x) when the target is a log too;
    ∂l/∂x = -t (-eᵗ),  ∂l/∂t = ln t + 1 - x  (eᵗ·(t - x + 1))."""

    @staticmethod
    def forward(ctx, x, t, log_target):
        ctx.save_for_backward(x, t)
        ctx.log_target = log_target
        if log_target:
            return np.exp(t) * (t - x)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_log_t = np.where(t == 0, 0, t * np.log(t))  # xlogy(t, t), as torch
        return t_log_t - t * x

    @staticmethod
    def backward(ctx, g):
        x, t = ctx.saved_tensors
        gt = None
        if ctx.log_target:
            e = np.exp(t)
            if ctx.needs_input_grad[1]:
                gt = g * e * (t - x + 1)
            return -e * g, gt, None
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gt = g * (np.log(t) + 1 - x)
        return -t * g, gt, None


def kl_div(
    input: Tensor,
    target: Any,
    size_average: Any = None,
    reduce: Any = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """KL divergence D(t ‖ eˣ) for log-probabilities x: l = t·(ln t - x) (see
    :class:`nnlab.nn.KLDivLoss`). Use ``reduction='batchmean'`` for the true KL divergence.

    >>> import math, nnlab, nnlab.nn.functional as F
    >>> x = nnlab.tensor([[math.log(0.5), math.log(0.5)]])
    >>> F.kl_div(x, nnlab.tensor([[0.9, 0.1]]), reduction="batchmean")
    tensor(0.3681)
    """
    legacy = size_average is not None or reduce is not None
    reduction = resolve_reduction("kl_div", size_average, reduce, reduction, extra=("batchmean",))
    if reduction == "mean" and not legacy:
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by both the batch size and the "
            "number of elements per sample; 'batchmean' divides by the batch size only, as "
            "the mathematical definition of the KL divergence does.",
            UserWarning,
            stacklevel=2,
        )
    input = _tensor(input)
    batch = input.shape[0] if input.ndim else 1
    x, t = _pair("kl_div", input, target, warn=False)
    loss = KlDiv.apply(x, t, bool(log_target))
    if reduction == "batchmean":
        return loss.sum() / batch
    return _reduce(loss, reduction)
