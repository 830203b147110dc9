"""Curvature of a network's loss: Hessian-vector products, the top Hessian eigenvalues, the
Hessian's trace, and two sharpness measures.

The Hessian H = ∇²L(θ) of a network with n parameters has n² entries, too many to form, but
its product with a vector costs about two backward passes (Pearlmutter, 1994): with
g(θ) = ∇L(θ) built differentiably (``grad(..., create_graph=True)``),

    H v = ∇_θ (g(θ) · v),

the gradient of the scalar g · v, one more backward pass through the first one. Everything
here is built on that product (as PyHessian, Yao et al. 2020):

- the eigenvalues of largest magnitude, by power iteration v ← Hv / ‖Hv‖ with deflation
  (each new vector kept orthogonal to the eigenvectors already found), or by Lanczos;
- the trace, by Hutchinson's estimator tr(H) = E[vᵀHv] for Rademacher v (entries ±1);
- the sharpness of a minimum: its top eigenvalue, or the ε-sharpness of Keskar et al.
  (2017), the relative loss increase at the worst point of a small box around θ.

The loss must be twice differentiable through nnlab's autograd, as ``F.cross_entropy``,
linear layers and the elementwise activations are; convolutions, pooling and BatchNorm run
fused NumPy backward kernels that cannot be differentiated again.

``model``/``loss_fn``/``data`` follow :mod:`nnlab.analysis.landscape`: the model is
evaluated in eval mode and left exactly as found (parameters, buffers, modes and ``.grad``),
``data`` is an (inputs, targets) pair or an iterable of pairs, ``loss_fn(outputs, targets)``
returns the batch mean, and the loss is the size-weighted mean over batches. Curvature is
taken with respect to the parameters that require grad; vectors (eigenvectors, directions)
are lists of arrays, one per such parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from nnlab.analysis.landscape import LossFn, _batches, _evaluate, _restored, _scalar_loss
from nnlab.autograd.engine import grad
from nnlab.autograd.grad_mode import enable_grad
from nnlab.nn.modules.module import Module
from nnlab.random import Generator, default_generator
from nnlab.tensor import Tensor

__all__ = [
    "HessianEigen", "TraceEstimate", "epsilon_sharpness", "hessian_trace",
    "hessian_vector_product", "top_hessian_eigenvalues",
]  # fmt: skip


class HessianEigen(NamedTuple):
    """Eigenvalues (largest magnitude first) and their unit eigenvectors, one list of arrays
    per eigenvalue, shaped like the parameters."""

    eigenvalues: np.ndarray
    eigenvectors: list[list[np.ndarray]]


class TraceEstimate(NamedTuple):
    """Hutchinson's estimate of tr(H): the mean of vᵀHv over the samples, and the standard
    error of that mean."""

    trace: float
    std_error: float


def hessian_vector_product(
    loss: Tensor | Callable[[], Tensor], params: Sequence[Tensor], v: Sequence[Any]
) -> tuple[Tensor, ...]:
    """H v, H the Hessian of ``loss`` with respect to ``params``, by double backward:
    Hv = ∇(∇L · v).

    Args:
        loss: a one-element Tensor computed from ``params`` (its graph is kept, so it can be
            reused), or a closure with no arguments that computes it.
        params: the Tensors (requiring grad) to differentiate with respect to.
        v: one Tensor or array per parameter, of its shape.

    Returns:
        One Tensor per parameter, of its shape (zeros for a parameter the loss ignores);
        no ``.grad`` is touched.

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([1.0, 2.0], requires_grad=True)
        >>> hessian_vector_product(lambda: (x ** 3).sum(), [x], [nnlab.tensor([1.0, 1.0])])
        (tensor([ 6., 12.]),)
    """
    params = list(params)
    vs = _as_vector("hessian_vector_product", params, v)
    with enable_grad():
        value = loss if isinstance(loss, Tensor) else loss()
    value = _scalar_loss("hessian_vector_product", value)
    return _hvp("hessian_vector_product", value, params, vs)


def top_hessian_eigenvalues(
    model: Module,
    loss_fn: LossFn,
    data: Any,
    k: int = 1,
    iters: int = 100,
    tol: float = 1e-3,
    method: str = "power",
    generator: Generator | None = None,
) -> HessianEigen:
    """The ``k`` eigenvalues of largest magnitude of the loss's Hessian at the model's
    current parameters (near a minimum: the largest, the sharpest directions).

    ``method="power"``: power iteration v ← Hv/‖Hv‖ from a random start, the eigenvalue
    estimate being the Rayleigh quotient λ = vᵀHv, stopped when |Δλ| ≤ tol·|λ| or after
    ``iters`` products; then the next eigenvalue with v kept orthogonal to the vectors found
    (deflation). The error of λ shrinks as (λ₂/λ₁)^(2t), so close eigenvalues need more
    iterations.

    ``method="lanczos"``: ``iters`` Lanczos steps with full reorthogonalisation build a
    tridiagonal matrix T = QᵀHQ; the extreme eigenvalues of T (Ritz values) approach H's
    much faster than power iteration. With ``iters`` ≥ the number of parameters they are
    exact up to rounding. ``tol`` is unused.

    Returns:
        :class:`HessianEigen`, eigenvalues as float64, largest magnitude first.
    """
    if method not in ("power", "lanczos"):
        raise ValueError(
            f"top_hessian_eigenvalues: method must be 'power' or 'lanczos', got {method!r}"
        )
    if k < 1 or iters < 1:
        raise ValueError(
            f"top_hessian_eigenvalues: k and iters must be ≥ 1, got k={k}, iters={iters}"
        )
    rng = (generator or default_generator).numpy
    with _restored(model):
        op = _HessianOperator("top_hessian_eigenvalues", model, loss_fn, data)
        if k > op.size:
            raise ValueError(
                f"top_hessian_eigenvalues: k={k} exceeds the number of parameters ({op.size})"
            )
        search = _power_iteration if method == "power" else _lanczos
        values, vectors = search(op, k, iters, tol, rng)
    return HessianEigen(values, [op.unflatten(u) for u in vectors])


def hessian_trace(
    model: Module,
    loss_fn: LossFn,
    data: Any,
    samples: int = 100,
    generator: Generator | None = None,
) -> TraceEstimate:
    """Hutchinson's estimate of the Hessian's trace: the mean of vᵀHv over ``samples``
    Rademacher vectors v (independent entries ±1 with equal probability), unbiased since
    E[v vᵀ] = I. Its variance per sample is 2 Σ_{i≠j} H_ij², so the error falls as
    1/√samples."""
    if samples < 2:
        raise ValueError(f"hessian_trace: samples must be ≥ 2, got {samples}")
    rng = (generator or default_generator).numpy
    with _restored(model):
        op = _HessianOperator("hessian_trace", model, loss_fn, data)
        quad = []
        for _ in range(samples):
            v = rng.choice(np.array([-1.0, 1.0]), size=op.size)
            quad.append(float(v @ op.matvec(v)))
    quad = np.asarray(quad)
    return TraceEstimate(float(quad.mean()), float(quad.std(ddof=1) / np.sqrt(samples)))


def epsilon_sharpness(
    model: Module,
    loss_fn: LossFn,
    data: Any,
    epsilon: float = 1e-3,
    steps: int = 10,
    generator: Generator | None = None,
) -> float:
    """Keskar et al.'s (2017) ε-sharpness, in percent:

        φ = 100 · (max_{y ∈ C} L(θ + y) − L(θ)) / (1 + L(θ)),
        C = {y : |y_i| ≤ ε (|θ_i| + 1)}   (a box scaled to each weight's size),

    over the parameters that require grad. The maximum is approximated from below (the
    paper ran 10 L-BFGS-B iterations): projected sign-gradient ascent from a random point
    of the box, ``steps`` steps of 2.5/steps of the box's half-width, keeping the highest
    loss visited. Only first derivatives are needed, so any loss works.
    """
    if epsilon <= 0 or steps < 1:
        raise ValueError(
            f"epsilon_sharpness: epsilon must be > 0 and steps ≥ 1, got {epsilon}, {steps}"
        )
    rng = (generator or default_generator).numpy
    batches = _batches("epsilon_sharpness", data)
    with _restored(model):
        params = [p for p in model.parameters() if p.requires_grad]
        theta = [p.array.copy() for p in params]
        base = _evaluate("epsilon_sharpness", model, loss_fn, batches)[0]
        box = [epsilon * (np.abs(w) + 1) for w in theta]
        y = [b * rng.uniform(-1, 1, b.shape) for b in box]
        worst = -np.inf
        for _ in range(steps + 1):
            for p, w, yi in zip(params, theta, y):
                p.array[...] = w + yi
            loss, grads = _loss_and_grad("epsilon_sharpness", model, loss_fn, batches, params)
            worst = max(worst, loss)
            y = [
                np.clip(yi + 2.5 / steps * b * np.sign(g), -b, b) for yi, b, g in zip(y, box, grads)
            ]
    return 100.0 * (worst - base) / (1.0 + base)


# --------------------------------------------------------------------------------- helpers


class _HessianOperator:
    """v ↦ Hv on flat float64 vectors, for the size-weighted mean loss over the batches.
    Each batch's differentiable gradient is built once and its graph kept, so a product
    costs one backward pass per batch."""

    def __init__(self, what: str, model: Module, loss_fn: LossFn, data: Any) -> None:
        self.what = what
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise ValueError(f"{what}: the model has no parameter that requires grad")
        self.size = sum(p.numel() for p in self.params)
        batches = _batches(what, data)
        total = sum(len(y) for _, y in batches)
        self.terms = []
        for x, y in batches:
            with enable_grad():
                loss = _scalar_loss(what, loss_fn(model(x), y))
            grads = _first_grads(what, loss, self.params)
            self.terms.append((grads, len(y) / total))

    def unflatten(self, flat: np.ndarray) -> list[np.ndarray]:
        out, start = [], 0
        for p in self.params:
            out.append(flat[start : start + p.numel()].reshape(p.shape).astype(p.array.dtype))
            start += p.numel()
        return out

    def matvec(self, flat: np.ndarray) -> np.ndarray:
        vs = [Tensor(a) for a in self.unflatten(flat)]
        result = np.zeros(self.size)
        for grads, weight in self.terms:
            hv = _second_grads(self.what, grads, self.params, vs)
            result += weight * np.concatenate([h.array.ravel() for h in hv])
        return result


def _first_grads(what: str, loss: Tensor, params: list[Tensor]) -> list[Tensor | None]:
    """∇L with its graph, None for parameters the loss does not use."""
    try:
        return list(grad(loss, params, create_graph=True, allow_unused=True))
    except RuntimeError as error:
        raise _explained(what, error) from None


def _second_grads(
    what: str, grads: list[Tensor | None], params: list[Tensor], vs: list[Tensor]
) -> list[Tensor]:
    """∇(g · v) through the kept graph of g; a gradient that is constant or missing
    contributes nothing."""
    used = [(g, v) for g, v in zip(grads, vs) if g is not None and g.requires_grad]
    found: Sequence[Tensor | None] = [None] * len(params)
    if used:
        try:
            found = grad(
                [g for g, _ in used],
                params,
                [v for _, v in used],
                retain_graph=True,
                allow_unused=True,
            )
        except RuntimeError as error:
            raise _explained(what, error) from None
    return [
        Tensor(np.zeros(p.shape, p.array.dtype)) if h is None else h for h, p in zip(found, params)
    ]


def _explained(what: str, error: RuntimeError) -> RuntimeError:
    """A failed double backward, with the way around it; other errors unchanged."""
    if "higher-order" not in str(error):
        return error
    return RuntimeError(
        f"{what}: the loss cannot be differentiated twice ({error}) Build the model and loss "
        "from twice-differentiable ops: convolutions, pooling and BatchNorm are not supported."
    )


def _hvp(what: str, loss: Tensor, params: list[Tensor], vs: list[Tensor]) -> tuple[Tensor, ...]:
    grads = _first_grads(what, loss, params)
    return tuple(_second_grads(what, grads, params, vs))


def _as_vector(what: str, params: list[Tensor], v: Sequence[Any]) -> list[Tensor]:
    """``v`` as Tensors of the parameters' dtypes, after checking count and shapes."""
    for k, p in enumerate(params):
        if not isinstance(p, Tensor) or not p.requires_grad:
            raise ValueError(f"{what}: params[{k}] must be a Tensor that requires grad")
    if isinstance(v, (Tensor, np.ndarray)) or len(v) != len(params):
        got = "a single array" if isinstance(v, (Tensor, np.ndarray)) else f"{len(v)} arrays"
        raise ValueError(f"{what}: v must hold one array per parameter ({len(params)}), got {got}")
    out = []
    for k, (p, a) in enumerate(zip(params, v)):
        array = a.array if isinstance(a, Tensor) else np.asarray(a)
        if array.shape != tuple(p.shape):
            raise ValueError(
                f"{what}: v[{k}] has shape {array.shape} but params[{k}] has shape {tuple(p.shape)}"
            )
        out.append(Tensor(array.astype(p.array.dtype)))
    return out


def _loss_and_grad(
    what: str, model: Module, loss_fn: LossFn, batches: list, params: list[Tensor]
) -> tuple[float, list[np.ndarray]]:
    """The size-weighted mean loss over the batches and its gradient (first order)."""
    total = sum(len(y) for _, y in batches)
    loss_sum, grads = 0.0, [np.zeros(p.shape) for p in params]
    for x, y in batches:
        with enable_grad():
            loss = _scalar_loss(what, loss_fn(model(x), y))
        weight = len(y) / total
        found = grad(loss, params, allow_unused=True)
        loss_sum += weight * loss.item()
        for acc, g in zip(grads, found):
            if g is not None:
                acc += weight * g.array
    return loss_sum, grads


def _power_iteration(
    op: _HessianOperator, k: int, iters: int, tol: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    values: list[float] = []
    vectors: list[np.ndarray] = []

    def deflate(u: np.ndarray) -> np.ndarray:
        for q in vectors:  # Gram-Schmidt against the eigenvectors already found
            u = u - (u @ q) * q
        return u / np.linalg.norm(u)

    for _ in range(k):
        v = deflate(rng.standard_normal(op.size))
        value = None
        for _ in range(iters):
            hv = op.matvec(v)
            new = float(v @ hv)
            converged = value is not None and abs(new - value) <= tol * (abs(value) + 1e-12)
            value = new
            if converged or not np.any(hv):
                break
            v = deflate(hv)
        values.append(value)
        vectors.append(v)
    return np.asarray(values), vectors


def _lanczos(
    op: _HessianOperator, k: int, iters: int, tol: float, rng: np.random.Generator
) -> tuple[np.ndarray, list[np.ndarray]]:
    steps = min(iters, op.size)
    q = rng.standard_normal(op.size)
    basis = [q / np.linalg.norm(q)]
    alphas, betas = [], []
    for j in range(steps):
        w = op.matvec(basis[j])
        alphas.append(float(basis[j] @ w))
        for u in basis:  # full reorthogonalisation: keeps the Ritz values free of ghosts
            w = w - (u @ w) * u
        beta = float(np.linalg.norm(w))
        if j == steps - 1 or beta < 1e-10 * max(1.0, abs(alphas[-1])):
            break  # an invariant subspace was found: T's eigenvalues are exact
        betas.append(beta)
        basis.append(w / beta)
    m = len(alphas)
    tri = np.diag(alphas) + np.diag(betas[: m - 1], 1) + np.diag(betas[: m - 1], -1)
    ritz, coeffs = np.linalg.eigh(tri)
    order = np.argsort(-np.abs(ritz))[:k]
    if len(order) < k:
        raise RuntimeError(
            f"top_hessian_eigenvalues: Lanczos found only {len(order)} eigenvalues (the "
            f"Krylov space closed); use method='power' or fewer than k={k}"
        )
    q_mat = np.stack(basis[:m], axis=1)
    return ritz[order], [q_mat @ coeffs[:, i] for i in order]
