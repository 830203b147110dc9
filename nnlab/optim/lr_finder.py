"""The learning-rate range test (Smith, 2017, "Cyclical Learning Rates for Training Neural
Networks", section 3.3): train for a few batches while the learning rate grows
exponentially from tiny to huge, and watch the loss.

At first the learning rate is too small for the loss to move; then the loss falls, faster
and faster; then the steps overshoot and the loss blows up. A good learning rate lies where
the loss falls fastest, well before the blow-up: :func:`lr_range_test` suggests the one at
the steepest descent of the smoothed loss curve (against ``log10(lr)``).

The test trains the real model, so it saves the model's and the optimizer's state first and
restores both afterwards (even when it is interrupted): running it changes nothing.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from nnlab.optim.optimizer import Optimizer
from nnlab.tensor import Tensor

__all__ = ["LRFinderResult", "lr_range_test"]


@dataclass
class LRFinderResult:
    """What the range test saw: one entry per training step.

    Attributes:
        lrs: the learning rate of each step.
        losses: the smoothed loss after each step (an exponential moving average).
        raw_losses: the loss of each batch, unsmoothed.
        diverged: True when the test stopped early because the loss blew up.
        suggested_lr: the learning rate at the steepest descent of ``losses``
            (see :meth:`suggest`), or None when there are too few points.
    """

    lrs: list[float]
    losses: list[float]
    raw_losses: list[float]
    diverged: bool
    suggested_lr: float | None = field(default=None)

    def __post_init__(self) -> None:
        if self.suggested_lr is None:
            self.suggested_lr = self.suggest()

    def suggest(self, skip_start: int = 10, skip_end: int = 5) -> float | None:
        """The learning rate where the smoothed loss falls fastest per decade of learning
        rate, ignoring the first ``skip_start`` points (noisy) and the last ``skip_end``
        (blowing up), and nothing past the lowest loss. Skipping is relaxed when the curve is
        too short for it."""
        n = len(self.losses)
        if n < 3:
            return None
        losses = np.asarray(self.losses, dtype=np.float64)
        log_lrs = np.log10(np.asarray(self.lrs, dtype=np.float64))
        finite = np.isfinite(losses)
        if finite.sum() < 3:
            return None
        lo, hi = skip_start, n - skip_end
        if hi - lo < 3:
            lo, hi = 0, n
        best = int(np.nanargmin(np.where(finite, losses, np.nan)))
        if best + 1 - lo >= 3:
            hi = min(hi, best + 1)
        slopes = np.gradient(np.where(finite, losses, np.nanmax(losses[finite])), log_lrs)
        return float(self.lrs[lo + int(np.argmin(slopes[lo:hi]))])

    def plot(self, path: str | os.PathLike[str], skip_start: int = 0, skip_end: int = 0) -> Path:
        """Write the loss-versus-learning-rate curve (log scale) to a PNG file at ``path``,
        with the suggested learning rate marked. Returns the path."""
        # A bare Figure on its own Agg canvas, not pyplot nor analysis.plots.save_figure:
        # importing analysis.plots selects the Agg backend for the whole process, which
        # would stop a notebook that calls this from showing its other figures.
        from matplotlib.backends.backend_agg import FigureCanvasAgg  # lazy: matplotlib only
        from matplotlib.figure import Figure  # when plotting, not on `import nnlab`

        end = len(self.lrs) - skip_end
        lrs, losses = self.lrs[skip_start:end], self.losses[skip_start:end]
        fig = Figure(figsize=(6, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(lrs, losses, label="smoothed loss")
        ax.plot(lrs, self.raw_losses[skip_start:end], alpha=0.3, label="batch loss")
        if self.suggested_lr is not None:
            i = int(np.argmin(np.abs(np.log(self.lrs) - math.log(self.suggested_lr))))
            ax.scatter(
                [self.suggested_lr],
                [self.losses[i]],
                color="red",
                zorder=3,
                label=f"suggested lr = {self.suggested_lr:.2e}",
            )
        ax.set_xscale("log")
        finite = [v for v in losses if math.isfinite(v)]
        if finite:
            low, first = min(finite), finite[0]
            ax.set_ylim(low - 0.1 * abs(first - low), first + 0.5 * abs(first - low) + 1e-12)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("Learning-rate range test")
        ax.legend()
        fig.tight_layout()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png")
        return path


def lr_range_test(
    model: Any,
    loss_fn: Callable[[Any, Any], Tensor],
    optimizer: Optimizer,
    loader: Iterable[tuple[Any, Any]],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    smooth: float = 0.05,
    diverge_threshold: float = 5.0,
) -> LRFinderResult:
    """Run the learning-rate range test and restore the model and optimizer afterwards.

    Step ``i`` (of ``num_iter``) trains one batch at
    ``lr_i = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))``, the same for every
    parameter group. The loss is smoothed as ``s_i = smooth * loss_i + (1 - smooth) *
    s_{i-1}``; the test stops early, after recording the step, once ``s_i`` exceeds
    ``diverge_threshold`` times the lowest smoothed loss so far or the loss is not finite
    (a criterion meant for positive losses, such as MSE or cross-entropy).

    Args:
        model: a callable taking the inputs (a Module: it is put in training mode and its
            ``state_dict`` is restored afterwards).
        loss_fn: ``loss_fn(outputs, targets)`` returning a scalar Tensor.
        optimizer: an optimizer over the model's parameters (its state and learning rates
            are restored afterwards).
        loader: any iterable of ``(inputs, targets)``; it is iterated again when exhausted.
        start_lr: first learning rate (default: 1e-7).
        end_lr: last learning rate (default: 10).
        num_iter: number of steps (default: 100).
        smooth: weight of the newest loss in the moving average (smaller is smoother);
            0 turns smoothing off, as in the torch-lr-finder package (default: 0.05).
        diverge_threshold: stop when the smoothed loss exceeds this multiple of the best
            (default: 5).

    Returns:
        An :class:`LRFinderResult` with the learning rates, losses and suggested lr.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab.optim import SGD, lr_range_test
        >>> rng = np.random.default_rng(0)
        >>> x = nnlab.tensor(rng.standard_normal((64, 3)).astype(np.float32))
        >>> y = x @ nnlab.tensor([[1.0], [-2.0], [0.5]])
        >>> w = nnlab.zeros(3, 1, requires_grad=True)
        >>> result = lr_range_test(
        ...     lambda inp: inp @ w, lambda out, t: ((out - t) ** 2).mean(),
        ...     SGD([w], lr=0.1), [(x, y)], start_lr=1e-4, end_lr=10, num_iter=50)
        >>> 1e-3 < result.suggested_lr < 2.0, float(w.abs().sum())  # w is restored
        (True, 0.0)
    """
    if not start_lr > 0:
        raise ValueError(f"start_lr must be positive, got {start_lr}")
    if not end_lr > start_lr:
        raise ValueError(f"end_lr must be greater than start_lr ({start_lr}), got {end_lr}")
    if not (isinstance(num_iter, int) and num_iter >= 2):
        raise ValueError(f"num_iter must be an integer >= 2, got {num_iter}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    if not diverge_threshold > 1:
        raise ValueError(f"diverge_threshold must be greater than 1, got {diverge_threshold}")

    params = [p for group in optimizer.param_groups for p in group["params"]]
    saved_params = [p.array.copy() for p in params]
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    has_state = callable(getattr(model, "state_dict", None))
    saved_model = copy.deepcopy(model.state_dict()) if has_state else None
    was_training = getattr(model, "training", None)
    if callable(getattr(model, "train", None)):
        model.train()

    lrs: list[float] = []
    losses: list[float] = []
    raw: list[float] = []
    diverged = False
    try:
        batches = _cycle(loader)
        ratio = end_lr / start_lr
        best = math.inf
        for i in range(num_iter):
            batch = next(batches, None)
            if batch is None:
                break
            inputs, targets = batch
            lr = start_lr * ratio ** (i / (num_iter - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            value = float(loss.item())
            if smooth > 0 and losses:
                smoothed = smooth * value + (1 - smooth) * losses[-1]
            else:
                smoothed = value
            lrs.append(lr)
            raw.append(value)
            losses.append(smoothed)
            best = min(best, smoothed)
            if not math.isfinite(smoothed) or smoothed > diverge_threshold * best:
                diverged = True
                break
    finally:
        for p, data in zip(params, saved_params):
            p.array[...] = data
            p.grad = None
        if saved_model is not None:
            model.load_state_dict(saved_model)
        optimizer.load_state_dict(saved_optimizer)
        if was_training is not None and callable(getattr(model, "train", None)):
            model.train(was_training)
    return LRFinderResult(lrs=lrs, losses=losses, raw_losses=raw, diverged=diverged)


def _cycle(loader: Iterable[Any]) -> Any:
    """Yield batches forever, starting the loader again when it runs out (a one-shot
    iterator simply ends)."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            return
