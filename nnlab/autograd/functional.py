"""Derivatives of whole functions, as ``torch.autograd.functional``: Jacobians, Hessians and
their products with vectors.

Everything here is reverse mode built on :func:`nnlab.autograd.grad`:

- ``vjp(f, x, v)`` = vᵀ J, one backward pass with ``v`` as the output gradient;
- ``jacobian(f, x)`` = J, one backward pass per output element (row k of J is eₖᵀ J);
- ``jvp(f, x, v)`` = J v, by the double-backward trick: u ↦ uᵀJ is linear in u, so
  J v = d(uᵀ J v)/du, a second backward pass through the first;
- ``hessian(f, x)`` = the Jacobian of ∇f, ``hvp``/``vhp`` = H v and vᵀ H.

The inputs are detached copies that require grad, so the caller's tensors and their
``.grad`` are never touched. With ``create_graph=True`` the results are differentiable.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from nnlab import ops
from nnlab.autograd.engine import grad
from nnlab.autograd.grad_mode import enable_grad
from nnlab.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(what: str, name: str, value: Any) -> tuple[tuple[Tensor, ...], bool]:
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for k, v in enumerate(values):
        if not isinstance(v, Tensor):
            raise TypeError(
                f"{what}: {name}[{k}] must be a Tensor, got {type(v).__name__}"
                if is_tuple
                else f"{what}: {name} must be a Tensor or a tuple of Tensors, "
                f"got {type(v).__name__}"
            )
    return values, is_tuple


def _prepare(what: str, inputs: Any, create_graph: bool) -> tuple[tuple[Tensor, ...], bool]:
    xs, is_tuple = _as_tuple(what, "inputs", inputs)
    # Fresh leaves: differentiating must not accumulate into the caller's .grad. With
    # create_graph the caller's graph stays connected, so higher derivatives reach it.
    if create_graph:
        xs = tuple(x.view_as(x) if x.requires_grad else x.detach().requires_grad_() for x in xs)
    else:
        xs = tuple(x.detach().requires_grad_() for x in xs)
    return xs, is_tuple


def _call(
    what: str, func: Callable[..., Any], xs: tuple[Tensor, ...]
) -> tuple[tuple[Tensor, ...], bool]:
    with enable_grad():
        out = func(*xs)
    return _as_tuple(what, "the function's output", out)


def _grads(
    outputs: tuple[Tensor, ...],
    xs: tuple[Tensor, ...],
    v: tuple[Any, ...],
    create_graph: bool,
    strict: bool,
    what: str,
) -> tuple[Tensor, ...]:
    used = [(o, g) for o, g in zip(outputs, v) if o.requires_grad]
    if not used:
        found: tuple[Any, ...] = (None,) * len(xs)
    else:
        found = grad(
            [o for o, _ in used],
            xs,
            [g for _, g in used],
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
    result = []
    for k, (g, x) in enumerate(zip(found, xs)):
        if g is None:
            if strict:
                raise RuntimeError(f"{what}: the output does not depend on input {k} (strict=True)")
            g = ops.mul(x, 0.0) if create_graph else _zeros_like(x)
        result.append(g)
    return tuple(result)


def _zeros_like(t: Tensor) -> Tensor:
    """Zeros of ``t``'s shape and dtype, outside any graph."""
    return Tensor._make(np.zeros_like(t.array), False, None, 0)


def _unpack(values: tuple[Any, ...], is_tuple: bool) -> Any:
    return values if is_tuple else values[0]


def vjp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(f(x), vᵀ J): the function's value and the vector-Jacobian product. ``v`` has the
    output's shape; it may be omitted when the output has one element.

    Example:
        >>> import nnlab
        >>> from nnlab.autograd.functional import vjp
        >>> vjp(lambda x: x ** 2, nnlab.tensor([1.0, 2.0]), nnlab.tensor([1.0, 1.0]))[1]
        tensor([2., 4.])
    """
    xs, in_tuple = _prepare("vjp", inputs, create_graph)
    outs, out_tuple = _call("vjp", func, xs)
    vs = (None,) * len(outs) if v is None else _as_tuple("vjp", "v", v)[0]
    if len(vs) != len(outs):
        raise RuntimeError(f"vjp: v has {len(vs)} tensors but the function returned {len(outs)}")
    for o, g in zip(outs, vs):
        if g is None and o.numel() != 1:
            raise RuntimeError(
                f"vjp: v may be omitted only for a one-element output; got shape {tuple(o.shape)}"
            )
        if g is not None and tuple(g.shape) != tuple(o.shape):
            raise RuntimeError(
                f"vjp: v has shape {tuple(g.shape)} but the output has shape {tuple(o.shape)}"
            )
    result = _grads(outs, xs, vs, create_graph, strict, "vjp")
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    return _unpack(outs, out_tuple), _unpack(result, in_tuple)


def jvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(f(x), J v): the Jacobian-vector product, computed by two reverse passes. ``v`` has
    the inputs' shapes; it may be omitted when the input has one element.

    Example:
        >>> import nnlab
        >>> from nnlab.autograd.functional import jvp
        >>> jvp(lambda x: x ** 2, nnlab.tensor([1.0, 2.0]), nnlab.tensor([1.0, 0.0]))[1]
        tensor([2., 0.])
    """
    xs, in_tuple = _prepare("jvp", inputs, create_graph)
    outs, out_tuple = _call("jvp", func, xs)
    vs = (None,) * len(xs) if v is None else _as_tuple("jvp", "v", v)[0]
    if len(vs) != len(xs):
        raise RuntimeError(f"jvp: v has {len(vs)} tensors but there are {len(xs)} inputs")
    vs = tuple(
        _zeros_like(x) + 1.0 if g is None else g for x, g in zip(xs, vs)
    )  # omitted: x has one element, so v = 1
    # uᵀJ as a function of a dummy u; its gradient with respect to u is J v.
    us = tuple(_zeros_like(o).requires_grad_() for o in outs)
    ujs = _grads(outs, xs, us, True, strict, "jvp")
    inner = sum(((uj * g).sum() for uj, g in zip(ujs, vs) if uj.requires_grad), Tensor(0.0))
    if inner.requires_grad:
        jv = grad(inner, us, retain_graph=True, create_graph=create_graph, allow_unused=True)
    else:
        jv = (None,) * len(us)
    result = tuple(_zeros_like(o) if g is None else g for o, g in zip(outs, jv))
    outs = outs if create_graph else tuple(o.detach() for o in outs)
    if not create_graph:
        result = tuple(r.detach() for r in result)
    return _unpack(outs, out_tuple), _unpack(result, out_tuple)


def jacobian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    strategy: str = "reverse-mode",
) -> Any:
    """J[i][j] = d outputᵢ / d inputⱼ, shaped ``outputᵢ.shape + inputⱼ.shape``: a Tensor
    for one input and one output, else tuples indexed as torch's.

    Example:
        >>> import nnlab
        >>> from nnlab.autograd.functional import jacobian
        >>> jacobian(lambda x: x ** 2, nnlab.tensor([1.0, 3.0]))
        tensor([[2., 0.],
                [0., 6.]])
    """
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(
            f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got {strategy!r}"
        )
    xs, in_tuple = _prepare("jacobian", inputs, create_graph)
    outs, out_tuple = _call("jacobian", func, xs)
    table = []
    for out in outs:
        rows: list[list[Tensor]] = [[] for _ in xs]
        for k in range(out.numel()):
            basis = _zeros_like(out)
            basis.array.reshape(-1)[k] = 1.0
            grads = _grads((out,), xs, (basis,), create_graph, strict, "jacobian")
            for j, g in enumerate(grads):
                rows[j].append(g)
        table.append(
            tuple(
                _stack_rows(rows[j], tuple(out.shape) + tuple(x.shape), x, create_graph)
                for j, x in enumerate(xs)
            )
        )
    if not out_tuple and not in_tuple:
        return table[0][0]
    if not out_tuple:
        return table[0]
    if not in_tuple:
        return tuple(row[0] for row in table)
    return tuple(table)


def _stack_rows(
    rows: list[Tensor], shape: tuple[int, ...], x: Tensor, create_graph: bool
) -> Tensor:
    if not rows:  # an output with no elements
        return _zeros_like(x).reshape(-1)[:0].reshape(shape)
    stacked = ops.reshape(ops.stack(rows), shape)
    return stacked if create_graph else stacked.detach()


def hessian(
    func: Callable[..., Any],
    inputs: Any,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
) -> Any:
    """H = the Jacobian of ∇f for a function with one scalar output.

    Example:
        >>> import nnlab
        >>> from nnlab.autograd.functional import hessian
        >>> hessian(lambda x: (x ** 3).sum(), nnlab.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    xs, in_tuple = _as_tuple("hessian", "inputs", inputs)

    def gradient(*args: Tensor) -> Any:
        out = func(*args)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise RuntimeError("hessian: the function must return a single-element Tensor")
        return _unpack(_grads((out,), args, (None,), True, strict, "hessian"), in_tuple)

    return jacobian(gradient, _unpack(xs, in_tuple), create_graph, strict)


def vhp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(f(x), vᵀ H) for a scalar function: the gradient of ∇f · v."""
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(
    func: Callable[..., Any],
    inputs: Any,
    v: Any = None,
    create_graph: bool = False,
    strict: bool = False,
) -> tuple[Any, Any]:
    """(f(x), H v) for a scalar function; H is symmetric, so this equals vᵀ H."""
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(
    what: str, func: Callable[..., Any], inputs: Any, v: Any, create_graph: bool, strict: bool
) -> tuple[Any, Any]:
    xs, in_tuple = _prepare(what, inputs, create_graph)
    outs, _ = _call(what, func, xs)
    if len(outs) != 1 or outs[0].numel() != 1:
        raise RuntimeError(f"{what}: the function must return a single-element Tensor")
    vs = (None,) * len(xs) if v is None else _as_tuple(what, "v", v)[0]
    if len(vs) != len(xs):
        raise RuntimeError(f"{what}: v has {len(vs)} tensors but there are {len(xs)} inputs")
    gs = _grads(outs, xs, (None,), True, strict, what)
    inner = sum(
        ((g * (1.0 if u is None else u)).sum() for g, u in zip(gs, vs) if g.requires_grad),
        Tensor(0.0),
    )
    result = _grads((inner,), xs, (None,), create_graph, strict, what)
    out = outs[0] if create_graph else outs[0].detach()
    return out, _unpack(result, in_tuple)
