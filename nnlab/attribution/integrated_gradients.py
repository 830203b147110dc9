"""Integrated gradients (Sundararajan, Taly & Yan 2017): the gradient averaged along the
straight path from a baseline b (a "blank" input) to x, times the distance travelled.

    IG_i(x) = (x_i − b_i) · ∫₀¹ ∂f_t/∂x_i (b + α(x − b)) dα

Completeness, the axiom it is built for: by the fundamental theorem of calculus along the
path, Σ_i IG_i(x) = f_t(x) − f_t(b). The integral is a quadrature over ``n_steps`` points
α_k with weights w_k, IG_i ≈ (x_i − b_i) Σ_k w_k ∂f_t/∂x_i(b + α_k(x − b)), so the sum
misses f_t(x) − f_t(b) by the quadrature error: O(1/n) for the left/right rules,
O(1/n²) for the midpoint and trapezoid rules, and far less for Gauss–Legendre on a smooth
model. That miss, the *convergence delta*, is what ``return_convergence_delta`` reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.attribution.base import (
    Attribution,
    Target,
    as_batch,
    baselines_like,
    evaluate_scores,
    input_gradient,
    target_indices,
)

__all__ = ["IntegratedGradients", "approximation_parameters"]

METHODS = ("riemann_left", "riemann_right", "riemann_middle", "riemann_trapezoid", "gausslegendre")


def approximation_parameters(method: str, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The quadrature points α_k in [0, 1] and weights w_k (summing to 1) of ``method``
    with ``n_steps`` points, as Captum lays them out."""
    if method not in METHODS:
        raise ValueError(f"IntegratedGradients: method must be one of {METHODS}, got {method!r}")
    minimum = 2 if method == "riemann_trapezoid" else 1
    if not isinstance(n_steps, int) or n_steps < minimum:
        raise ValueError(
            f"IntegratedGradients: n_steps must be an int ≥ {minimum} for {method}, got {n_steps!r}"
        )
    n = n_steps
    if method == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(n)  # on [-1, 1]
        return (nodes + 1) / 2, weights / 2
    if method == "riemann_trapezoid":
        weights = np.full(n, 1 / (n - 1))
        weights[[0, -1]] /= 2
        return np.linspace(0, 1, n), weights
    offset = {"riemann_left": 0.0, "riemann_right": 1.0, "riemann_middle": 0.5}[method]
    return (np.arange(n) + offset) / n, np.full(n, 1 / n)


class IntegratedGradients(Attribution):
    """Integrated gradients (``captum.attr.IntegratedGradients``).

    Args:
        forward_func: the model, or a function from a batch to (N, classes) or (N,) scores.
        multiply_by_inputs: multiply the path-averaged gradient by (x − b) (default: True;
            False returns the averaged gradient alone, without completeness).

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
        >>> x = np.random.default_rng(0).normal(size=(2, 3))
        >>> a, delta = IntegratedGradients(net).attribute(x, target=1,
        ...                                               return_convergence_delta=True)
        >>> a.shape, bool(np.abs(delta).max() < 1e-8)
        ((2, 3), True)
    """

    def __init__(self, forward_func: Any, multiply_by_inputs: bool = True) -> None:
        super().__init__(forward_func)
        self.multiply_by_inputs = multiply_by_inputs

    def attribute(
        self, inputs: Any, baselines: Any = None, target: Target = None, n_steps: int = 50,
        method: str = "gausslegendre", internal_batch_size: int | None = None,
        return_convergence_delta: bool = False,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """IG attributions shaped like ``inputs`` (and the convergence delta (N,):
        Σ_i IG_i − (f_t(x) − f_t(b)) per row, with ``return_convergence_delta``).

        Args:
            inputs: the batch (N, ...).
            baselines: the reference b: None (zeros), a number, one example or a batch.
            target: the class explained (one index, or one per row).
            n_steps: quadrature points along the path (default: 50).
            method: "gausslegendre" (default), "riemann_trapezoid", "riemann_middle",
                "riemann_left" or "riemann_right".
            internal_batch_size: at most this many path points per forward pass (default:
                None, all N·n_steps at once).
            return_convergence_delta: also return the completeness error (default: False).
        """
        x = as_batch(inputs, self.name)
        b = baselines_like(baselines, x, self.name)
        t = target_indices(target, len(x), self.name)
        alphas, weights = approximation_parameters(method, n_steps)
        if internal_batch_size is not None and internal_batch_size < 1:
            raise ValueError(
                f"{self.name}: internal_batch_size must be ≥ 1, got {internal_batch_size}"
            )
        n = len(x)
        # Every path point of every row in one batch: row k·N + j is b_j + α_k (x_j − b_j).
        shape = (n_steps, 1) + (1,) * (x.ndim - 1)
        path = (b[None] + alphas.reshape(shape).astype(x.dtype) * (x - b)[None]).reshape(
            (n_steps * n,) + x.shape[1:]
        )
        path_targets = None if t is None else np.tile(t, n_steps)
        chunk = internal_batch_size or len(path)
        gradients = np.concatenate([
            input_gradient(
                self.forward_func, path[i : i + chunk],
                None if path_targets is None else path_targets[i : i + chunk], self.name,
            )[0]
            for i in range(0, len(path), chunk)
        ]).reshape((n_steps,) + x.shape)  # fmt: skip
        averaged = np.tensordot(weights, gradients, axes=1).astype(x.dtype)
        attributions = averaged * (x - b) if self.multiply_by_inputs else averaged
        if not return_convergence_delta:
            return attributions
        delta = self.compute_convergence_delta(attributions, b, x, t)
        return attributions, delta

    def compute_convergence_delta(
        self, attributions: np.ndarray, start_point: np.ndarray, end_point: np.ndarray,
        target: np.ndarray | None,
    ) -> np.ndarray:  # fmt: skip
        """Σ_i attributions_i − (f_t(end) − f_t(start)) per row (N,): zero for exact IG."""
        f_end = evaluate_scores(self.forward_func, end_point, target, self.name)
        f_start = evaluate_scores(self.forward_func, start_point, target, self.name)
        total = attributions.reshape(len(attributions), -1).astype(np.float64).sum(1)
        return total - (f_end.astype(np.float64) - f_start.astype(np.float64))
