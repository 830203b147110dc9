"""``Optimizer``: the base class that owns parameter groups, per-parameter state and
``state_dict``.

The convention, stated once (every optimizer file relies on it):

* ``param_groups`` is a list of dicts. Each holds ``"params"`` (a list of leaf Tensors) and
  every hyper-parameter of the optimizer (``"lr"``, ``"betas"``, ...): a value given in the
  group wins, the rest come from ``defaults``. Schedulers change ``group["lr"]`` between
  steps and the next step reads it.
* ``state[p]`` is a dict of per-parameter state under PyTorch's names (``"step"``,
  ``"exp_avg"``, ``"momentum_buffer"``, ...). Array state is held as nnlab Tensors; the
  step counter is a 0-d float Tensor, float32 unless the default dtype is float64 (PyTorch's
  rule, kept so trajectories match it digit for digit).
* ``step()`` runs under ``no_grad``: for each parameter with a gradient it calls the
  subclass's ``_update(p, grad, group)``, which changes ``p.array`` **in place** (so anything
  holding the parameter or a view of it sees the new values) and never writes into the
  gradient. Temporaries come from a small pool of scratch arrays shared by parameters of
  the same shape and dtype, so a step allocates (almost) nothing.
* A parameter whose ``.grad`` is None is skipped: it gets no update and no state.

``state_dict()`` has PyTorch's layout::

    {"state": {0: {"step": Tensor(5.), "exp_avg": Tensor(...), ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Parameters are replaced by their position in ``param_groups`` (counted across groups). The
values are the live state Tensors (not copies, as in PyTorch); ``copy.deepcopy`` it to keep a
snapshot in memory. Arrays are Tensors, everything else plain Python (numbers, bools, tuples,
lists, None), so :func:`nnlab.train.checkpoint.pack_state` splits it into a flat
``{name: ndarray}`` table (for safetensors) and a JSON-able skeleton, and
:func:`~nnlab.train.checkpoint.unpack_state` reverses it.
``load_state_dict`` accepts Tensors or NumPy arrays, string or int indices, and lists for
tuples, so a dict that went through JSON loads as is; it always copies the arrays.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.autograd.grad_mode import enable_grad, no_grad
from nnlab.kernels.optim import effective_grad, one_call_per_group
from nnlab.tensor import Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyper-parameter that has no default and must be given (per group)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _scalar_dtype() -> np.dtype:
    """The dtype of 0-d state such as ``step``: PyTorch keeps it float32 unless the default
    dtype is float64, and the bias corrections read it back as a Python float."""
    return dtypes.float64 if dtypes.get_default_dtype() == dtypes.float64 else dtypes.float32


def _zero_step() -> Tensor:
    return Tensor(np.zeros((), dtype=_scalar_dtype()))


def _check_non_negative(**values: float) -> None:
    """Raise PyTorch's ``ValueError`` for the first negative hyper-parameter, in the order
    given: "Invalid learning rate: -1", "Invalid epsilon value: ...", "Invalid <name> value:
    ..." for the others."""
    for name, value in values.items():
        if not 0.0 <= value:
            label = {"lr": "learning rate", "eps": "epsilon value"}.get(name, f"{name} value")
            raise ValueError(f"Invalid {label}: {value}")


def _check_adam_args(lr: float, betas: Any, eps: float, weight_decay: float) -> None:
    """The checks Adam, AdamW and NAdam share, in PyTorch's order: ``lr`` and ``eps``
    non-negative, ``betas`` a pair in [0, 1), ``weight_decay`` non-negative."""
    _check_non_negative(lr=lr, eps=eps)
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"betas must be a pair of floats, got {betas!r}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    _check_non_negative(weight_decay=weight_decay)


def _check_fused_foreach(fused: bool | None, foreach: bool | None) -> None:
    """PyTorch's check of the implementation hints: ``fused`` and ``foreach`` exclude each
    other (nnlab accepts both and keeps them in the groups; they never change a result)."""
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def _effective_grad(
    param: np.ndarray,
    grad: np.ndarray,
    group: dict[str, Any],
    g_buf: np.ndarray,
    work: np.ndarray,
    decoupled: bool = False,
) -> np.ndarray:
    """The first lines of every algorithm in this package (maximize, then weight decay:
    see :func:`nnlab.kernels.optim.effective_grad`), with the group's settings;
    ``decoupled`` stands for ``decoupled_weight_decay`` (Adam and NAdam pass the group's;
    the other optimizers only know the L2 form)."""
    return effective_grad(
        param, grad, g_buf, work, maximize=group["maximize"],
        weight_decay=group["weight_decay"], decoupled_lr=group["lr"] if decoupled else None,
    )  # fmt: skip


def launches_together(update: Callable[..., None]) -> Callable[..., None]:
    """Mark an optimizer's ``_update`` whose work on ``p.array`` is a kernel of
    :mod:`nnlab.kernels.optim` and nothing after it: :meth:`Optimizer.step` then runs the
    kernels of a group's updates together, in one call (see
    :func:`nnlab.kernels.optim.one_call_per_group`). A subclass that overrides the marked
    ``_update`` is not marked, so its own code sees each update done as it returns."""
    update.launches_together = True  # type: ignore[attr-defined]
    return update


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors to optimize, or of dicts defining parameter groups
            (each with a ``"params"`` entry and any hyper-parameters to override).
        defaults: the default hyper-parameters of the optimizer, used by every group that
            does not set them.

    Subclasses validate their arguments (``_check_non_negative``, ``_check_adam_args``), call
    ``super().__init__(params, defaults)`` and implement ``_update(p, grad, group)``: the
    update of one parameter, in place, with its state from ``self._lazy_state(p, ...)``.

    Example (a new optimizer in five lines: sign descent):
        >>> import numpy as np, nnlab
        >>> class SignSGD(Optimizer):
        ...     def __init__(self, params, lr=0.01):
        ...         super().__init__(params, {"lr": lr})
        ...     def _update(self, p, grad, group):
        ...         p.array -= group["lr"] * np.sign(grad)
        >>> w = nnlab.tensor([1.0, -2.0], requires_grad=True)
        >>> opt = SignSGD([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w
        tensor([ 0.5, -1.5], requires_grad=True)
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._step_calls = 0
        self._pool: dict[tuple[tuple[int, ...], str], list[np.ndarray]] = {}
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors or "
                f"dicts, but got {type(params).__name__}"
            )
        if isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- parameter groups -----------------------------------------------------------------

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (e.g. to unfreeze layers
        while fine-tuning). Missing hyper-parameters are taken from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("param_group must have a 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but the "
                "ordering of tensors in sets will change between runs. Please use a list instead."
            )
        group["params"] = list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is "
                    f"{type(p).__name__}"
                )
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            group.setdefault(name, default)
        ids = [id(p) for p in group["params"]]
        if len(ids) != len(set(ids)):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen.intersection(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # -- the step -------------------------------------------------------------------------

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all optimized parameters: to None (default, as PyTorch;
        the next ``backward`` allocates fresh ones) or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                elif p.grad.requires_grad or not p.grad.array.flags.writeable:
                    p.grad = Tensor(np.zeros_like(p.grad.array))
                else:
                    p.grad.array[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient, once.

        Args:
            closure: optional callable that re-evaluates the model and returns the loss
                (it runs with gradients enabled, before the update).

        Returns:
            The closure's loss, or None.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # The kernels of a group's updates run together (nnlab.kernels.optim), for the
        # updates marked as leaving p.array to their kernel: an override of _update that
        # reads or changes p.array after super()._update() sees every update done at once.
        together = getattr(type(self)._update, "launches_together", False)
        with no_grad():
            for group in self.param_groups:
                with one_call_per_group() if together else nullcontext():
                    for p in group["params"]:
                        if p.grad is not None:
                            self._update(p, p.grad.array, group)
        self._step_calls += 1
        return loss

    def _update(self, p: Tensor, grad: np.ndarray, group: dict[str, Any]) -> None:
        """Apply one step to ``p.array`` in place, given its gradient array (never modify it)."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update()")

    def _lazy_state(self, p: Tensor, *buffers: str, **scalars: float) -> dict[str, Any]:
        """``self.state[p]``, created at ``p``'s first update (as PyTorch does): ``step``
        (0-d, zero), then each of ``scalars`` as a 0-d value of the same dtype, then one zero
        array shaped like ``p`` per name in ``buffers``. The entries keep this order, which
        is the order of PyTorch's ``state_dict``."""
        state = self.state[p]
        if len(state) == 0:
            state["step"] = _zero_step()
            for name, value in scalars.items():
                state[name] = Tensor(np.full((), value, dtype=_scalar_dtype()))
            for name in buffers:
                state[name] = Tensor(np.zeros_like(p.array))
        return state

    def _scratch(self, p: Tensor, n: int) -> list[np.ndarray]:
        """``n`` temporary arrays shaped like ``p``, reused across steps and across
        parameters of the same shape and dtype (updates run one parameter at a time)."""
        key = (p.array.shape, p.array.dtype.str)
        pool = self._pool.setdefault(key, [])
        while len(pool) < n:
            pool.append(np.empty(p.array.shape, dtype=p.array.dtype))
        return pool[:n]

    # -- state_dict -----------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's format (see the module docstring): per-parameter
        state keyed by the parameter's index, and the groups with indices for ``params``."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: dict(s) for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore state saved by :meth:`state_dict` (from this or a twin optimizer, PyTorch
        included once its tensors are NumPy arrays). Parameters are matched by position.

        Floating arrays are copied and cast to their parameter's dtype, except ``step`` and
        other 0-d counters, which keep their own dtype (PyTorch casts ``mu_product`` too; nnlab
        keeps it so a resumed run continues exactly as an uninterrupted one).
        """
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                "loaded state dict has a different number of parameter groups "
                f"({len(saved_groups)} saved, {len(self.param_groups)} in this optimizer)"
            )
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size "
                    f"of optimizer's group: group {i} has {len(saved['params'])} parameters "
                    f"saved and {len(group['params'])} here"
                )
        by_index: dict[int, Tensor] = {}
        for group, saved in zip(self.param_groups, saved_groups):
            for p, k in zip(group["params"], saved["params"]):
                by_index[int(k)] = p
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for k, values in state_dict["state"].items():
            p = by_index.get(int(k))
            if p is None:
                raise ValueError(f"loaded state dict has state for unknown parameter index {k}")
            state[p] = {key: _cast_state(p, key, v) for key, v in values.items()}
        new_groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            new = {}
            for key, value in saved.items():
                if key == "params":
                    continue
                value = copy.deepcopy(value)
                if isinstance(group.get(key), tuple) and isinstance(value, list):
                    value = tuple(value)
                new[key] = value
            new["params"] = group["params"]
            new_groups.append(new)
        self.state = state
        self.param_groups = new_groups

    # -- printing and pickling ------------------------------------------------------------

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = {}
        return state


#: State entries that are 0-d counters rather than arrays shaped like the parameter.
_SCALAR_STATE = frozenset({"step", "mu_product"})


def _cast_state(p: Tensor, key: str, value: Any) -> Any:
    """Copy one saved state value onto parameter ``p``'s dtype (see ``load_state_dict``)."""
    if isinstance(value, Tensor):
        value = value.array
    if key == "step" and isinstance(value, (int, float)):
        return Tensor(np.array(float(value), dtype=_scalar_dtype()))
    if isinstance(value, (np.ndarray, np.generic)) or hasattr(value, "__array__"):
        arr = np.asarray(value).copy()  # (asarray: a torch tensor's __array__ takes no copy=)
        if key in _SCALAR_STATE and arr.size == 1:
            arr = arr.reshape(())  # e.g. saved through np.ascontiguousarray, which adds a dim
        if arr.dtype.kind == "f" and arr.ndim > 0 and key != "step":
            arr = arr.astype(p.array.dtype, copy=False)
        return Tensor(arr)
    return copy.deepcopy(value)
