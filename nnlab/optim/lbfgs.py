"""L-BFGS: a quasi-Newton method that builds a curvature model from its last few steps
(Nocedal, 1980; Liu & Nocedal, 1989), with an optional strong-Wolfe line search, as
``torch.optim.LBFGS`` (itself a port of minFunc and torch7's ``optim.lbfgs``).

Unlike the other optimizers, one ``step(closure)`` runs up to ``max_iter`` iterations,
each of which may re-evaluate the loss and its gradient by calling ``closure`` (several
times inside a line search). All parameters are seen as one flat vector x, so there is a
single parameter group.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.autograd.grad_mode import enable_grad, no_grad
from nnlab.optim.optimizer import Optimizer
from nnlab.tensor import Tensor

__all__ = ["LBFGS"]

# Objective along the search direction: (x0, t, d) -> (loss, flat gradient) at x0 + t·d.
Objective = Callable[[list[np.ndarray], Any, np.ndarray], tuple[float, np.ndarray]]


def _cubic_interpolate(
    x1: Any, f1: Any, g1: Any, x2: Any, f2: Any, g2: Any, bounds: tuple[Any, Any] | None = None
) -> Any:
    """The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2,
    clamped to ``bounds`` (default: the interval between x1 and x2)::

        d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2)
        d2 = sqrt(d1² - g1 g2)
        x* = x2 - (x2 - x1) (g2 + d2 - d1) / (g2 - g1 + 2 d2)      (x2 the farther point)

    When d1² < g1 g2 the cubic has no minimum: the midpoint of the bounds is returned.
    """
    if bounds is not None:
        lo, hi = bounds
    else:
        lo, hi = (x1, x2) if x1 <= x2 else (x2, x1)
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    d2_square = d1**2 - g1 * g2
    if not d2_square >= 0:  # (written so that a nan also takes the midpoint)
        return (lo + hi) / 2.0
    d2 = np.sqrt(d2_square)
    if x1 <= x2:
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
    else:
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
    return min(max(min_pos, lo), hi)


def _strong_wolfe(
    obj_func: Objective,
    x: list[np.ndarray],
    t: Any,
    d: np.ndarray,
    f: float,
    g: np.ndarray,
    gtd: Any,
    c1: float = 1e-4,
    c2: float = 0.9,
    tolerance_change: float = 1e-9,
    max_ls: int = 25,
) -> tuple[float, np.ndarray, Any, int]:
    """A step length t along ``d`` satisfying the strong Wolfe conditions::

        f(x + t d) <= f(x) + c1 t gᵀd                   (sufficient decrease, Armijo)
        |∇f(x + t d)ᵀ d| <= c2 |gᵀd|                    (curvature)

    Phase 1 (bracketing) tries t, extrapolating by cubic interpolation within
    [t + 0.01 (t - t_prev), 10 t], until a trial point satisfies both conditions or an
    interval [lo, hi] is known to contain one (the loss went up, or the slope turned
    non-negative). Phase 2 (zoom) shrinks that interval by cubic interpolation, moving a
    trial point that lands within 10 % of an end back to 10 % of the interval away from it
    when progress stalls. At most ``max_ls`` evaluations (beyond the first).

    Returns:
        (loss, flat gradient, t, number of evaluations) at the best point found.
    """
    d_norm = np.abs(d).max()
    f_new, g_new = obj_func(x, t, d)
    ls_func_evals = 1
    gtd_new = g_new.dot(d)

    # Phase 1: bracket. Each list holds (step, loss, gradient, slope) at the ends.
    t_prev, f_prev, g_prev, gtd_prev = 0, f, g, gtd
    done = False
    ls_iter = 0
    while ls_iter < max_ls:
        if f_new > (f + c1 * t * gtd) or (ls_iter > 1 and f_new >= f_prev):
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket, bracket_f, bracket_g = [t], [f_new], [g_new]
            done = True
            break
        if gtd_new >= 0:
            bracket, bracket_f = [t_prev, t], [f_prev, f_new]
            bracket_g, bracket_gtd = [g_prev, g_new], [gtd_prev, gtd_new]
            break
        # Still descending: extrapolate.
        min_step = t + 0.01 * (t - t_prev)
        max_step = t * 10
        t_next = _cubic_interpolate(
            t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds=(min_step, max_step)
        )
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1
    if ls_iter == max_ls:  # out of evaluations: choose between the start and the last trial
        bracket, bracket_f, bracket_g = [0, t], [f, f_new], [g, g_new]

    # Phase 2: zoom into the bracket until a point satisfies both conditions.
    insuf_progress = False
    low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[-1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1] - bracket[0]) * d_norm < tolerance_change:
            break  # the bracket is too small to matter
        t = _cubic_interpolate(
            bracket[0], bracket_f[0], bracket_gtd[0], bracket[1], bracket_f[1], bracket_gtd[1]
        )
        # A trial point within 10 % of an end of the bracket makes little progress: after
        # two such in a row, or if it is at (or past) an end, move it 10 % inside.
        hi, lo = max(bracket), min(bracket)
        eps = 0.1 * (hi - lo)
        if min(hi - t, t - lo) < eps:
            if insuf_progress or t >= hi or t <= lo:
                t = hi - eps if abs(t - hi) < abs(t - lo) else lo + eps
                insuf_progress = False
            else:
                insuf_progress = True
        else:
            insuf_progress = False

        f_new, g_new = obj_func(x, t, d)
        ls_func_evals += 1
        gtd_new = g_new.dot(d)
        ls_iter += 1

        if f_new > (f + c1 * t * gtd) or f_new >= bracket_f[low_pos]:
            # No sufficient decrease, or not below the low end: t becomes the high end.
            bracket[high_pos], bracket_f[high_pos] = t, f_new
            bracket_g[high_pos], bracket_gtd[high_pos] = g_new, gtd_new
            low_pos, high_pos = (0, 1) if bracket_f[0] <= bracket_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True  # both Wolfe conditions hold
            elif gtd_new * (bracket[high_pos] - bracket[low_pos]) >= 0:
                # The minimum lies on the other side of t: the old low end becomes high.
                bracket[high_pos], bracket_f[high_pos] = bracket[low_pos], bracket_f[low_pos]
                bracket_g[high_pos] = bracket_g[low_pos]
                bracket_gtd[high_pos] = bracket_gtd[low_pos]
            bracket[low_pos], bracket_f[low_pos] = t, f_new
            bracket_g[low_pos], bracket_gtd[low_pos] = g_new, gtd_new

    return bracket_f[low_pos], bracket_g[low_pos], bracket[low_pos], ls_func_evals


def _to_state(value: Any) -> Any:
    """Arrays and NumPy scalars as Tensors (PyTorch keeps them as tensors), the rest as is."""
    if isinstance(value, (np.ndarray, np.generic)):
        return Tensor(np.asarray(value))
    if isinstance(value, list):
        return [_to_state(v) for v in value]
    return value


def _from_state(value: Any) -> Any:
    """Inverse of :func:`_to_state`: Tensors back to arrays (0-d ones to NumPy scalars)."""
    if isinstance(value, Tensor):
        return value.array if value.ndim else value.array[()]
    if isinstance(value, list):
        return [_from_state(v) for v in value]
    return value


class LBFGS(Optimizer):
    r"""L-BFGS, as ``torch.optim.LBFGS``: all parameters form one vector x, and each
    ``step(closure)`` runs up to ``max_iter`` iterations of::

        g = ∇f(x)                                     (closure() fills the .grad)
        stop if max|g| <= tolerance_grad
        if not the first iteration:
            y = g - g_prev,  s = t·d                  (change of gradient, last step)
            if yᵀs > 1e-10:                           (keep only positive curvature)
                remember (y, s, ρ = 1/yᵀs), dropping the oldest beyond history_size
                H_diag = yᵀs / yᵀy                    (scale of the initial inverse Hessian)
            d = -H g by the two-loop recursion:
                q = -g
                for i = newest…oldest:  α_i = ρ_i s_iᵀq;  q = q - α_i y_i
                r = H_diag · q
                for i = oldest…newest:  β_i = ρ_i y_iᵀr;  r = r + (α_i - β_i) s_i
                d = r
        else:  d = -g
        t = lr · min(1, 1/Σ|g|) on the very first iteration, lr afterwards
        stop if gᵀd > -tolerance_change               (not a descent direction)
        line_search_fn=None:       x = x + t·d, then re-evaluate f and g
        line_search_fn="strong_wolfe":  t from a strong-Wolfe line search, x = x + t·d

    and stops early when ``max_eval`` evaluations are spent, max|g| <= tolerance_grad,
    max|t·d| <= tolerance_change or the loss changed by less than tolerance_change. The
    curvature pairs (y, s) survive between steps, so successive ``step`` calls continue
    the same optimisation.

    Args:
        params: the parameters to optimize (a single group: per-parameter options are
            not supported, as in PyTorch).
        lr: learning rate, the step length before any line search (default: 1).
        max_iter: maximal number of iterations per ``step`` (default: 20).
        max_eval: maximal number of closure evaluations per ``step``
            (default: ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is this small (default: 1e-7).
        tolerance_change: stop when the loss or the parameters change less than this
            (default: 1e-9).
        history_size: number of curvature pairs kept (default: 100).
        line_search_fn: ``"strong_wolfe"`` or None (default: None).

    State (PyTorch's names, all held under the first parameter): ``func_evals``,
    ``n_iter`` (totals over all steps), ``d`` (last direction), ``t`` (last step length),
    ``old_dirs`` (the y's), ``old_stps`` (the s's), ``ro``, ``H_diag``, ``prev_flat_grad``,
    ``prev_loss`` and ``al`` (the α's of the last two-loop recursion).

    Memory: ``history_size + 1`` extra copies of the parameters, at most.

    Example:
        >>> import nnlab
        >>> from nnlab.optim import LBFGS
        >>> x = nnlab.tensor([1.5, -0.5], dtype=nnlab.float64, requires_grad=True)
        >>> opt = LBFGS([x], line_search_fn="strong_wolfe")
        >>> def closure():
        ...     opt.zero_grad()
        ...     loss = ((x - nnlab.tensor([2.0, 1.0], dtype=nnlab.float64)) ** 2).sum()
        ...     loss.backward()
        ...     return loss
        >>> first_loss = opt.step(closure)
        >>> [round(v, 6) for v in x.tolist()]
        [2.0, 1.0]
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1,
        max_iter: int = 20,
        max_eval: int | None = None,
        tolerance_grad: float = 1e-7,
        tolerance_change: float = 1e-9,
        history_size: int = 100,
        line_search_fn: str | None = None,
    ) -> None:
        if isinstance(lr, Tensor) and lr.array.size != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(
                f"LBFGS: line_search_fn={line_search_fn!r} is not supported; use "
                "'strong_wolfe' or None"
            )
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = {
            "lr": lr,
            "max_iter": max_iter,
            "max_eval": max_eval,
            "tolerance_grad": tolerance_grad,
            "tolerance_change": tolerance_change,
            "history_size": history_size,
            "line_search_fn": line_search_fn,
        }
        super().__init__(params, defaults)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        if self.param_groups:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    # -- the flat vector x ----------------------------------------------------------------

    @property
    def _params(self) -> list[Tensor]:
        return self.param_groups[0]["params"]

    def _gather_flat_grad(self) -> np.ndarray:
        """All gradients as one vector (zeros for a parameter without a gradient)."""
        return np.concatenate(
            [
                np.zeros(p.array.size, p.array.dtype) if p.grad is None else p.grad.array.ravel()
                for p in self._params
            ]
        )

    def _add_grad(self, step_size: Any, update: np.ndarray) -> None:
        """x = x + step_size · update, in place, parameter by parameter."""
        offset = 0
        for p in self._params:
            n = p.array.size
            p.array += step_size * update[offset : offset + n].reshape(p.array.shape)
            offset += n

    def _directional_evaluate(
        self, closure: Callable[[], Any], x: list[np.ndarray], t: Any, d: np.ndarray
    ) -> tuple[float, np.ndarray]:
        """(f, ∇f) at x + t·d; the parameters are put back to x afterwards."""
        self._add_grad(t, d)
        with enable_grad():
            loss = float(closure())
        flat_grad = self._gather_flat_grad()
        for p, saved in zip(self._params, x):
            p.array[...] = saved
        return loss, flat_grad

    # -- the step -------------------------------------------------------------------------

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run up to ``max_iter`` L-BFGS iterations (class docstring).

        Args:
            closure: a callable that clears the gradients, computes the loss, calls
                ``backward()`` and returns the loss. Required.

        Returns:
            The loss of the first evaluation (before any update).
        """
        if closure is None or not callable(closure):
            raise TypeError(
                "LBFGS.step() needs a closure that re-evaluates the model: def closure(): "
                "optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); "
                "return loss; then optimizer.step(closure)"
            )
        if len(self.param_groups) != 1:
            raise RuntimeError(f"LBFGS expects one parameter group, got {len(self.param_groups)}")
        group = self.param_groups[0]
        if group["line_search_fn"] not in (None, "strong_wolfe"):
            raise RuntimeError("only 'strong_wolfe' is supported")
        with no_grad():
            loss = self._step(closure, group)
        self._step_calls += 1
        return loss

    def _step(self, closure: Callable[[], Any], group: dict[str, Any]) -> Any:
        lr = float(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]

        # L-BFGS has only global state; PyTorch files it under the first parameter.
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        with enable_grad():
            orig_loss = closure()
        loss = float(orig_loss)
        current_evals = 1
        state["func_evals"] += 1
        flat_grad = self._gather_flat_grad()
        if np.abs(flat_grad).max() <= tolerance_grad:
            return orig_loss  # already optimal

        d, t = _from_state(state.get("d")), _from_state(state.get("t"))
        old_dirs, old_stps = _from_state(state.get("old_dirs")), _from_state(state.get("old_stps"))
        ro, H_diag = _from_state(state.get("ro")), _from_state(state.get("H_diag"))
        prev_flat_grad = _from_state(state.get("prev_flat_grad"))
        prev_loss = state.get("prev_loss")
        al = _from_state(state.get("al"))

        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1

            # -- direction ------------------------------------------------------------
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro = [], [], []
                H_diag = 1
            else:
                y = flat_grad - prev_flat_grad
                s = d * t
                ys = y.dot(s)
                if ys > 1e-10:
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / y.dot(y)
                if al is None:
                    al = [None] * history_size
                num_old = len(old_dirs)
                q = -flat_grad
                for i in range(num_old - 1, -1, -1):
                    al[i] = old_stps[i].dot(q) * ro[i]
                    q += -al[i] * old_dirs[i]
                d = r = q * H_diag
                for i in range(num_old):
                    be_i = old_dirs[i].dot(r) * ro[i]
                    r += (al[i] - be_i) * old_stps[i]

            if prev_flat_grad is None:
                prev_flat_grad = flat_grad.copy()
            else:
                prev_flat_grad[...] = flat_grad
            prev_loss = loss

            # -- step length ----------------------------------------------------------
            t = min(1.0, 1.0 / np.abs(flat_grad).sum()) * lr if state["n_iter"] == 1 else lr
            gtd = flat_grad.dot(d)
            if gtd > -tolerance_change:
                break  # not a descent direction (to working precision)

            ls_func_evals = 0
            if group["line_search_fn"] == "strong_wolfe":
                x_init = [p.array.copy() for p in self._params]

                def obj_func(x: list[np.ndarray], t: Any, d: np.ndarray) -> Any:
                    return self._directional_evaluate(closure, x, t, d)

                loss, flat_grad, t, ls_func_evals = _strong_wolfe(
                    obj_func, x_init, t, d, loss, flat_grad, gtd, max_ls=max_eval - current_evals
                )
                self._add_grad(t, d)
                opt_cond = np.abs(flat_grad).max() <= tolerance_grad
            else:
                self._add_grad(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    # Re-evaluate, except after the last iteration: with stochastic
                    # mini-batches, that loss would be of no use.
                    with enable_grad():
                        loss = float(closure())
                    flat_grad = self._gather_flat_grad()
                    opt_cond = np.abs(flat_grad).max() <= tolerance_grad
                    ls_func_evals = 1
            current_evals += ls_func_evals
            state["func_evals"] += ls_func_evals

            # -- stopping rules -------------------------------------------------------
            if n_iter == max_iter or current_evals >= max_eval or opt_cond:
                break
            if np.abs(d * t).max() <= tolerance_change:
                break  # the parameters no longer move
            if abs(loss - prev_loss) < tolerance_change:
                break  # the loss no longer moves

        state["d"], state["t"] = _to_state(d), _to_state(t)
        state["old_dirs"], state["old_stps"] = _to_state(old_dirs), _to_state(old_stps)
        state["ro"], state["H_diag"] = _to_state(ro), _to_state(H_diag)
        state["prev_flat_grad"] = _to_state(prev_flat_grad)
        state["prev_loss"] = prev_loss
        if al is not None:
            state["al"] = _to_state(al)
        return orig_loss
