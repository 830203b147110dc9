"""Slices through a network's loss surface: along random directions in parameter space and
along the straight line between two solutions.

The loss L(θ) lives in as many dimensions as the network has parameters; what can be looked
at is its restriction to a line or a plane through a point θ*:

    1-D slice:   f(α)    = L(θ* + α d)
    2-D surface: g(α, β) = L(θ* + α d₁ + β d₂)
    path:        h(t)    = L((1 − t) θ_a + t θ_b)

A direction ``d`` is a list of NumPy arrays, one per ``model.parameters()`` entry and of its
shape. Random Gaussian directions mislead on their own: ReLU networks are invariant to
rescaling a unit's incoming weights by c and its outgoing weights by 1/c, so a step of the
same length is large for a layer with small weights and tiny for one with large weights.
*Filter normalisation* (Li, Xu, Taylor, Studer and Goldstein, "Visualizing the Loss
Landscape of Neural Nets", NeurIPS 2018) removes that scale: each filter of the direction
(a row of a linear layer's weight, an output channel of a convolution's) is rescaled to the
norm of the same filter of the weights,

    d_{i,j} ← d_{i,j} / ‖d_{i,j}‖ · ‖θ_{i,j}‖      (layer i, filter j),

so α = 1 moves every unit by about its own size and slices of different networks can be
compared. Parameters with one dimension or fewer (biases, BatchNorm's scale and shift) get a
zero direction by default, as the paper's figures do (``ignore="biasbn"``); with
``ignore=None`` their direction is the parameter itself, as in the paper's reference code.

Every function evaluates the model in eval mode (dropout off, BatchNorm on its running
statistics) without gradients, and leaves the model's parameters, buffers and train/eval
flags exactly as it found them (restored bit for bit, even when the loss raises).

``data`` is a pair ``(inputs, targets)`` (Tensors or arrays) or an iterable of such pairs,
e.g. a ``DataLoader``; ``loss_fn(outputs, targets)`` returns the batch's mean loss as a
one-element Tensor, and batches are averaged weighted by their size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np

from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.modules.module import Module
from nnlab.nn.utils.modes import training_modes_kept
from nnlab.random import Generator, default_generator
from nnlab.tensor import Tensor

__all__ = [
    "InterpolationResult", "filter_normalize", "filter_normalized_direction",
    "linear_interpolation", "loss_barrier", "loss_slice_1d", "loss_surface_2d",
    "random_direction",
]  # fmt: skip

Direction = list[np.ndarray]
LossFn = Callable[[Tensor, Tensor], Tensor]


class InterpolationResult(NamedTuple):
    """The loss (and accuracy, when asked for) at each ``t`` of ``(1 − t) θ_a + t θ_b``."""

    ts: np.ndarray
    losses: np.ndarray
    accuracies: np.ndarray | None


# ------------------------------------------------------------------------------ directions


def random_direction(model: Module, generator: Generator | None = None) -> Direction:
    """A direction of independent standard normal entries, one array per parameter of
    ``model`` with its shape and dtype, drawn from ``generator`` (nnlab's default generator,
    seeded by ``nnlab.manual_seed``, when None)."""
    rng = (generator or default_generator).numpy
    return [rng.standard_normal(p.shape).astype(p.array.dtype) for p in model.parameters()]


def filter_normalize(
    direction: Sequence[np.ndarray], weights: Module | Sequence[Any], ignore: str | None = "biasbn"
) -> Direction:
    """``direction`` with each filter rescaled to the norm of the same filter of ``weights``:
    d_j ← d_j · ‖θ_j‖ / (‖d_j‖ + 1e-10), a filter being a slice along the first axis (a row
    of a linear weight, an output channel of a convolution kernel).

    Args:
        direction: one array per parameter.
        weights: the model whose parameters set the scale, or one array/Tensor per parameter.
        ignore: ``"biasbn"`` (default) sets the direction of every parameter with at most one
            dimension (biases, normalisation scales and shifts) to zero, so the slice moves
            the weights only; ``None`` sets it to the parameter itself (the reference code's
            alternative).

    Returns:
        A new list of arrays; ``direction`` is not modified.
    """
    if ignore not in ("biasbn", None):
        raise ValueError(f"filter_normalize: ignore must be 'biasbn' or None, got {ignore!r}")
    ws = _arrays(weights)
    _check_direction("filter_normalize", [w.shape for w in ws], direction, "direction")
    out = []
    for d, w in zip(direction, ws):
        d = np.asarray(d)
        if w.ndim <= 1:
            out.append(np.zeros_like(d) if ignore == "biasbn" else w.astype(d.dtype, copy=True))
            continue
        axes = tuple(range(1, w.ndim))
        w_norm = np.sqrt((w.astype(np.float64) ** 2).sum(axis=axes, keepdims=True))
        d_norm = np.sqrt((d.astype(np.float64) ** 2).sum(axis=axes, keepdims=True))
        # The 1e-10 (as in the paper's code) keeps an all-zero filter of d at zero.
        out.append((d * (w_norm / (d_norm + 1e-10))).astype(d.dtype))
    return out


def filter_normalized_direction(
    model: Module, generator: Generator | None = None, ignore: str | None = "biasbn"
) -> Direction:
    """A random Gaussian direction, filter-normalised to ``model``'s weights (see
    :func:`filter_normalize`)."""
    return filter_normalize(random_direction(model, generator), model, ignore)


# ---------------------------------------------------------------------------------- slices


def loss_slice_1d(
    model: Module, loss_fn: LossFn, data: Any, direction: Sequence[np.ndarray], alphas: Any
) -> np.ndarray:
    """f(α) = L(θ + α d) for every α in ``alphas``, θ the model's current parameters.

    Returns:
        A float64 array shaped like ``alphas``.
    """
    params = list(model.parameters())
    _check_direction("loss_slice_1d", [p.shape for p in params], direction, "direction")
    alphas = np.asarray(alphas, dtype=np.float64)
    batches = _batches("loss_slice_1d", data)
    losses = np.empty(alphas.shape)
    with _restored(model) as theta:
        for i, a in enumerate(alphas.flat):
            _set(params, [w + a * d for w, d in zip(theta, direction)])
            losses.flat[i] = _evaluate("loss_slice_1d", model, loss_fn, batches)[0]
    return losses


def loss_surface_2d(
    model: Module,
    loss_fn: LossFn,
    data: Any,
    d1: Sequence[np.ndarray],
    d2: Sequence[np.ndarray],
    alphas: Any,
    betas: Any,
) -> np.ndarray:
    """g(α, β) = L(θ + α d₁ + β d₂) on the grid ``alphas`` × ``betas``.

    Returns:
        A float64 array of shape (len(alphas), len(betas)) indexed [i, j] for (αᵢ, βⱼ):
        ``matplotlib``'s ``contour(alphas, betas, surface.T)`` draws it.
    """
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    _check_direction("loss_surface_2d", shapes, d1, "d1")
    _check_direction("loss_surface_2d", shapes, d2, "d2")
    alphas = np.asarray(alphas, dtype=np.float64).ravel()
    betas = np.asarray(betas, dtype=np.float64).ravel()
    batches = _batches("loss_surface_2d", data)
    surface = np.empty((len(alphas), len(betas)))
    with _restored(model) as theta:
        for i, a in enumerate(alphas):
            for j, b in enumerate(betas):
                _set(params, [w + a * u + b * v for w, u, v in zip(theta, d1, d2)])
                surface[i, j] = _evaluate("loss_surface_2d", model, loss_fn, batches)[0]
    return surface


def linear_interpolation(
    model: Module,
    loss_fn: LossFn,
    data: Any,
    state_a: Mapping[str, Any],
    state_b: Mapping[str, Any],
    ts: Any,
    accuracy: bool = False,
) -> InterpolationResult:
    """h(t) = L((1 − t) θ_a + t θ_b) for every t in ``ts`` (t outside [0, 1] extrapolates).

    ``state_a`` and ``state_b`` are state dicts of ``model``'s architecture (from
    ``model.state_dict()``, copied). Every floating-point entry is interpolated, buffers
    included; integer buffers (BatchNorm's ``num_batches_tracked``) are taken from
    ``state_a``.

    BatchNorm caveat: the interpolated running mean and variance are not the statistics of
    the interpolated network's activations (the variance of a mix is not the mix of the
    variances), so with BatchNorm the barrier in the middle is partly an artefact of stale
    statistics; re-estimating them at every t (a pass over training data in train mode)
    removes it. Networks without normalisation layers have no such issue.

    Args:
        accuracy: also return the share of samples whose highest output (argmax over dim 1)
            equals the target.
    """
    reference = model.state_dict()
    a = _state_arrays("linear_interpolation", "state_a", state_a, reference)
    b = _state_arrays("linear_interpolation", "state_b", state_b, reference)
    ts = np.asarray(ts, dtype=np.float64).ravel()
    batches = _batches("linear_interpolation", data)
    losses, accuracies = np.empty(len(ts)), np.empty(len(ts))
    targets = list(reference.values())
    with _restored(model):
        for i, t in enumerate(ts):
            mixed = [
                ((1 - t) * x + t * y).astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else x
                for x, y in zip(a, b)
            ]
            _set(targets, mixed)
            losses[i], accuracies[i] = _evaluate(
                "linear_interpolation", model, loss_fn, batches, accuracy
            )
    return InterpolationResult(ts, losses, accuracies if accuracy else None)


def loss_barrier(ts: Any, losses: Any) -> float:
    """The height of the loss barrier on the segment between two solutions,

        max over t ∈ [0, 1] of  h(t) − ((1 − t) h(0) + t h(1)),

    the largest excess of the path's loss over the straight line joining its end losses
    (Frankle et al., 2020). ``ts`` must contain 0 and 1; 0 means the path is convex-like
    (no barrier)."""
    ts, losses = np.asarray(ts, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    if ts.shape != losses.shape:
        raise ValueError(f"loss_barrier: ts has shape {ts.shape} but losses {losses.shape}")
    if not ((ts == 0).any() and (ts == 1).any()):
        raise ValueError("loss_barrier: ts must contain both 0 and 1 (the two solutions)")
    inside = (ts >= 0) & (ts <= 1)
    h0, h1 = losses[ts == 0][0], losses[ts == 1][0]
    t = ts[inside]
    return float(np.max(losses[inside] - ((1 - t) * h0 + t * h1)))


# --------------------------------------------------------------------------------- helpers


def _arrays(weights: Module | Sequence[Any]) -> list[np.ndarray]:
    if isinstance(weights, Module):
        return [p.array for p in weights.parameters()]
    return [w.array if isinstance(w, Tensor) else np.asarray(w) for w in weights]


def _check_direction(
    what: str, shapes: Sequence[tuple], direction: Sequence[Any], name: str
) -> None:
    """Raise unless ``direction`` holds one array of each parameter's shape."""
    if isinstance(direction, (np.ndarray, Tensor)) or not isinstance(direction, Sequence):
        raise TypeError(
            f"{what}: {name} must be a list of arrays, one per parameter, "
            f"got {type(direction).__name__}"
        )
    if len(direction) != len(shapes):
        raise ValueError(
            f"{what}: {name} has {len(direction)} arrays but the model has {len(shapes)} parameters"
        )
    for k, (d, shape) in enumerate(zip(direction, shapes)):
        if tuple(np.shape(d)) != tuple(shape):
            raise ValueError(
                f"{what}: {name}[{k}] has shape {tuple(np.shape(d))} but parameter {k} has "
                f"shape {tuple(shape)}"
            )


def _state_arrays(
    what: str, name: str, state: Mapping[str, Any], reference: Mapping[str, Tensor]
) -> list[np.ndarray]:
    """The arrays of ``state`` in the order of the model's own state dict, checked against
    its keys and shapes."""
    missing = [k for k in reference if k not in state]
    unexpected = [k for k in state if k not in reference]
    if missing or unexpected:
        raise ValueError(
            f"{what}: {name} does not match the model's state dict "
            f"(missing keys {missing}, unexpected keys {unexpected})"
        )
    out = []
    for key, ref in reference.items():
        value = state[key]
        array = value.array if isinstance(value, Tensor) else np.asarray(value)
        if array.shape != tuple(ref.shape):
            raise ValueError(
                f"{what}: {name}[{key!r}] has shape {array.shape} but the model's has "
                f"{tuple(ref.shape)}"
            )
        out.append(array)
    return out


def _batches(what: str, data: Any) -> list[tuple[Tensor, Tensor]]:
    """``data`` as a list of (inputs, targets) Tensor pairs."""
    if isinstance(data, tuple) and len(data) == 2 and isinstance(data[0], (Tensor, np.ndarray)):
        pairs: Iterable[Any] = [data]
    elif isinstance(data, Iterable):
        pairs = data
    else:
        raise TypeError(
            f"{what}: data must be an (inputs, targets) pair or an iterable of such pairs, "
            f"got {type(data).__name__}"
        )
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise ValueError(f"{what}: each batch must be (inputs, targets), got {len(pair)} items")
        out.append(tuple(v if isinstance(v, Tensor) else Tensor(np.asarray(v)) for v in pair))
    if not out:
        raise ValueError(f"{what}: data holds no batch")
    return out


def _scalar_loss(what: str, loss: Any) -> Tensor:
    if not isinstance(loss, Tensor):
        raise TypeError(f"{what}: loss_fn must return a Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"{what}: loss_fn must return a one-element (mean) loss, got shape "
            f"{tuple(loss.shape)}; use reduction='mean'"
        )
    return loss


def _evaluate(
    what: str, model: Module, loss_fn: LossFn, batches: list, accuracy: bool = False
) -> tuple[float, float]:
    """The size-weighted mean loss over the batches, and the accuracy (nan unless asked)."""
    total, correct, count = 0.0, 0, 0
    with no_grad():
        for x, y in batches:
            out = model(x)
            n = len(y)
            total += _scalar_loss(what, loss_fn(out, y)).item() * n
            if accuracy:
                correct += int((out.array.argmax(1) == y.array).sum())
            count += n
    return total / count, (correct / count if accuracy else float("nan"))


def _set(targets: Sequence[Tensor], values: Sequence[np.ndarray]) -> None:
    """Write ``values`` into the targets' own arrays (their identity is kept)."""
    for t, v in zip(targets, values):
        t.array[...] = v


@contextmanager
def _restored(model: Module) -> Iterator[list[np.ndarray]]:
    """Put ``model`` in eval mode, yield copies of its parameters, and on exit restore every
    parameter and buffer bit for bit and every module's train/eval flag."""
    state = list(model.state_dict().values())
    saved = [t.array.copy() for t in state]
    with training_modes_kept(model):
        model.eval()
        try:
            yield [p.array.copy() for p in model.parameters()]
        finally:
            _set(state, saved)
