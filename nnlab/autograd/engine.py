"""Reverse-mode automatic differentiation (backpropagation).

Backpropagation applies the chain rule from the output back to the inputs. The
engine (1) sorts the graph's nodes so that every node comes after all the nodes that
use its outputs (an iterative depth-first search: no recursion limit, so a chain of
10,000 ops is fine), then (2) visits them in that order, calling each node's
``backward`` with the summed gradient of its outputs, and hands the results on to the
nodes (or leaf tensors) that produced its inputs. A tensor used twice receives the
sum of both gradients, which is the multivariate chain rule.

After backward each node's saved arrays are freed unless ``retain_graph=True``. A leaf
receives the sum of its gradients once per pass (its hooks see that sum), added into its
``.grad`` in place as torch does. A new ``.grad`` never shares memory with another
tensor: ops return views and give one array to several inputs, so such a gradient is
copied first and ``x.grad.zero_()`` can never touch anything else.
"""

from __future__ import annotations

import sys
from typing import Any, Sequence

import numpy as np

from nnlab.autograd import anomaly
from nnlab.autograd.grad_mode import _state as _grad_state
from nnlab.tensor import Tensor

__all__ = ["backward", "grad"]

_FREED = (
    "Trying to backward through the graph a second time (or to read values it has freed). "
    "Its saved arrays were freed by the first backward; pass retain_graph=True to the first "
    "backward() if you need to backpropagate through the same graph twice."
)


def _topological_order(roots: Sequence[Tensor]) -> list[Any]:
    """Nodes reachable from ``roots``, each after every node that consumes its outputs."""
    order: list[Any] = []
    visited: set[int] = set()
    stack: list[tuple[Any, bool]] = [(r._node, False) for r in roots if r._node is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node.inputs is None:
            raise RuntimeError(f"{type(node).__name__}: {_FREED}")
        stack.append((node, True))
        for t in node.inputs:
            if isinstance(t, Tensor) and t._node is not None and id(t._node) not in visited:
                stack.append((t._node, False))
    order.reverse()
    return order


def _seed_gradient(root: Tensor, g: Any, create_graph: bool) -> Any:
    if g is None:
        if root.array.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs a gradient argument: "
                "grad can be created implicitly only for scalar outputs. Reduce it first "
                "(e.g. loss.sum() or loss.mean()) or pass gradient=nnlab.ones_like(output)."
            )
        g = np.ones(root.array.shape, dtype=root.array.dtype)
    if isinstance(g, Tensor):
        g = g if create_graph else g.array
    elif create_graph:
        g = Tensor(np.asarray(g, dtype=root.array.dtype))
    else:
        g = np.asarray(g, dtype=root.array.dtype)
    if tuple(g.shape) != root.array.shape:
        raise RuntimeError(
            f"backward(): gradient has shape {tuple(g.shape)} but the output has shape "
            f"{tuple(root.shape)}; they must match."
        )
    return g


def _conform(node: Any, index: int, t: Tensor, g: Any, create_graph: bool) -> Any:
    """Check that a gradient has its input's shape; cast it to the input's dtype."""
    data = t.array
    if (
        type(g) is np.ndarray
        and not create_graph
        and g.shape == data.shape
        and g.dtype == data.dtype
        and not anomaly._state.enabled
    ):
        return g
    if create_graph and not isinstance(g, Tensor):
        g = Tensor(np.asarray(g))
    elif not create_graph:
        if isinstance(g, Tensor):
            g = g.array
        elif type(g) is not np.ndarray:
            g = np.asarray(g)
    if g.shape != t.array.shape:
        raise RuntimeError(
            f"{type(node).__name__}.backward returned a gradient of shape {tuple(g.shape)} "
            f"for input {index}, whose shape is {tuple(t.array.shape)}."
        )
    if g.dtype != t.array.dtype:
        g = g.to(t.array.dtype) if isinstance(g, Tensor) else g.astype(t.array.dtype)
    if anomaly._state.enabled:
        anomaly.check_backward(type(node).__name__, index, g, node._trace)
    return g


def _run_hooks(hooks: dict[int, Any] | None, g: Any) -> Any:
    """Call each hook on the gradient; a returned tensor replaces it (same shape only)."""
    for hook in list(hooks.values()) if hooks else ():
        wrapped = g if isinstance(g, Tensor) else Tensor._make(g, False, None, 0)
        result = hook(wrapped)
        if result is None:
            continue
        if tuple(np.shape(result)) != tuple(g.shape):
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                f"{tuple(np.shape(result))}, but the gradient has shape {tuple(g.shape)}; a "
                "hook must return None or a tensor of the same shape."
            )
        if isinstance(g, Tensor):
            g = result if isinstance(result, Tensor) else Tensor(np.asarray(result, g.dtype))
        else:
            g = np.asarray(result.array if isinstance(result, Tensor) else result, g.dtype)
    return g


def _owned(g: Any, shared: set[int]) -> Any:
    """A gradient that no one else holds, so it can become a ``.grad`` the user may modify in
    place. Ops return views (``broadcast_to``, ``reshape``) and hand the same array to several
    inputs (``add``); torch likewise copies a gradient unless it can steal it."""
    if isinstance(g, Tensor):
        if id(g) in shared:
            g = g.clone()
    elif (
        id(g) in shared
        or not g.flags.writeable
        or (g.base is not None and sys.getrefcount(g.base) > 2)
    ):
        # A view is kept only when nothing but this view holds its base (refcount 2: the
        # view's own reference and the call's argument), e.g. the transpose of a fresh dW.
        g = g.copy()
    shared.add(id(g))
    return g


def _accumulate_leaf(t: Tensor, g: Any) -> None:
    """``t.grad += g``, in place when possible (as torch does outside ``create_graph``)."""
    current = t.grad
    if current is None:
        t.grad = g if isinstance(g, Tensor) else Tensor._make(g, False, None, 0)
    elif isinstance(g, Tensor) or current.requires_grad:
        t.grad = current + g
    elif (
        current.array.flags.writeable
        and current.array.shape == g.shape
        and current.array.dtype == g.dtype
    ):
        current.array += g
    else:
        t.grad = Tensor._make(current.array + g, False, None, 0)


def _needed_nodes(
    order: list[Any], leaf_slots: dict[int, list[int]], node_slots: dict[Any, list[int]]
) -> set[int]:
    """For ``grad()``: the nodes whose backward leads to a requested input. Others are not
    run at all (no wasted work, no error from an op below the inputs)."""
    needed: set[int] = set()
    for node in reversed(order):  # inputs before the nodes that consume them
        for t in node.inputs:
            if not isinstance(t, Tensor):
                continue
            if t._node is None:
                hit = id(t) in leaf_slots
            else:
                hit = id(t._node) in needed or (id(t._node), t._out_idx) in node_slots
            if hit:
                needed.add(id(node))
                break
    return needed


def _execute(
    roots: Sequence[Tensor],
    grad_roots: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    capture: Sequence[Tensor] | None = None,
) -> dict[int, Any]:
    """The backward pass. With ``capture`` the gradients of those tensors are returned
    (keyed by position) instead of being accumulated into leaves' ``.grad``."""
    order = _topological_order(roots)
    pending: dict[int, list[Any]] = {}
    leaves: dict[int, list[Any]] = {}  # id(leaf) -> [leaf, summed gradient]
    captured: dict[int, Any] = {}
    leaf_slots: dict[int, list[int]] = {}
    node_slots: dict[Any, list[int]] = {}
    for k, t in enumerate(capture or ()):
        if t._node is None:
            leaf_slots.setdefault(id(t), []).append(k)
        else:
            node_slots.setdefault((id(t._node), t._out_idx), []).append(k)
    if capture is not None:
        needed = _needed_nodes(order, leaf_slots, node_slots)
        outputs = {key[0] for key in node_slots}
        order = [n for n in order if id(n) in needed or id(n) in outputs]
    else:
        needed = None
    # Arrays someone else may hold (seeds, hooked gradients): copied before becoming a .grad.
    shared: set[int] = set()

    def deliver(t: Tensor, g: Any) -> None:
        if t._node is None:
            if capture is not None and id(t) not in leaf_slots:
                return
            entry = leaves.get(id(t))
            if entry is None:
                leaves[id(t)] = [t, g]
            else:
                entry[1] = entry[1] + g
            return
        slots = pending.get(id(t._node))
        if slots is None:
            slots = pending[id(t._node)] = [None] * t._node._n_out
        i = t._out_idx
        slots[i] = g if slots[i] is None else slots[i] + g

    for root, g in zip(roots, grad_roots):
        g = _seed_gradient(root, g, create_graph)
        shared.add(id(g))
        deliver(root, g)

    previous_mode, previous_backward = _grad_state.enabled, anomaly._state.in_backward
    _grad_state.enabled = create_graph
    anomaly._state.in_backward = True
    try:
        for node in order:
            grads = pending.pop(id(node), None)
            if grads is None:
                continue
            if node._n_out > 1 or node._hooks or node._retained or node_slots:
                _prepare_output_grads(node, grads, create_graph, node_slots, captured, shared)
            if needed is not None and id(node) not in needed:
                continue
            if create_graph:
                in_grads = _tensor_backward(node, grads)
            else:
                in_grads = type(node).backward(node, *grads)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(node.inputs):
                raise RuntimeError(
                    f"{type(node).__name__}.backward returned {len(in_grads)} gradients, "
                    f"expected {len(node.inputs)} (one per forward argument, None allowed)."
                )
            for index, (t, g, need) in enumerate(zip(node.inputs, in_grads, node.needs_input_grad)):
                if need and g is not None:
                    deliver(t, _conform(node, index, t, g, create_graph))
            if not retain_graph:
                node.release()
        # A leaf receives the sum of all its gradients at once: its hooks run once on the
        # total, as in torch, and only then is it accumulated (or captured).
        for t, g in leaves.values():
            if t._hooks:
                g = _run_hooks(t._hooks, g)
                shared.add(id(g))
            g = _owned(g, shared)
            if capture is None:
                _accumulate_leaf(t, g)
            else:
                for n, k in enumerate(leaf_slots[id(t)]):  # an input listed twice: a copy each
                    captured[k] = _owned(g, shared) if n else g
    finally:
        _grad_state.enabled = previous_mode
        anomaly._state.in_backward = previous_backward
    return captured


def _tensor_backward(node: Any, grads: list[Any]) -> Any:
    """Run a node's backward on tensors, recording it (``create_graph=True``)."""
    if not node.double_backward:
        raise RuntimeError(
            f"{type(node).__name__} does not support higher-order gradients (its backward "
            "is a fused NumPy kernel); create_graph=True cannot differentiate through it."
        )
    node._tensor_mode = True
    try:
        return type(node).backward(node, *grads)
    finally:
        node._tensor_mode = False


def _prepare_output_grads(
    node: Any,
    grads: list[Any],
    create_graph: bool,
    node_slots: dict[Any, list[int]],
    captured: dict[int, Any],
    shared: set[int],
) -> None:
    """Fill in zeros for unused outputs, run hooks, keep retained and captured gradients."""
    for i, g in enumerate(grads):
        if g is None:
            shape, dtype = node._out_meta[i]
            g = np.zeros(shape, dtype=dtype)
            grads[i] = Tensor(g) if create_graph else g
            continue
        if node._hooks and i in node._hooks:
            grads[i] = g = _run_hooks(node._hooks[i], g)
            shared.add(id(g))
        if node._retained and i in node._retained:
            t = node._retained[i]()
            if t is not None:
                kept = g if isinstance(g, Tensor) else Tensor._make(g.copy(), False, None, 0)
                t.grad = kept if t.grad is None else t.grad + kept
        for k in node_slots.get((id(node), i), ()):
            captured[k] = _owned(g, shared)


def _grads_list(grads: Any, roots: list[Tensor], what: str) -> list[Any]:
    """One seed gradient per root: None (implicit ones), a tensor, or a sequence of them."""
    if not isinstance(grads, (list, tuple)):
        return [grads] * len(roots) if grads is None else [grads]
    if len(grads) != len(roots):
        raise RuntimeError(
            f"{what}: got {len(grads)} gradients for {len(roots)} outputs; pass one per output."
        )
    return list(grads)


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    grad_tensors = _grads_list(grad_tensors, roots, "backward()")
    for k, r in enumerate(roots):
        if not r.requires_grad:
            raise RuntimeError(
                f"element {k} of tensors does not require grad and does not have a grad_fn: "
                "nothing in its computation needs a gradient. Create the inputs with "
                "requires_grad=True, and do not compute the output inside nnlab.no_grad()."
            )
    if retain_graph is None:
        retain_graph = create_graph
    _execute(roots, grad_tensors, retain_graph, create_graph)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Return d(outputs)/d(inputs) without touching any ``.grad`` (``torch.autograd.grad``).

    Only the part of the graph between the outputs and the inputs is run. With
    ``create_graph=True`` the returned gradients are themselves differentiable, which gives
    Hessian-vector products: ``grad(grad(f, x, create_graph=True)[0] @ v, x)``.

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([1.0, 2.0], requires_grad=True)
        >>> nnlab.autograd.grad((x ** 3).sum(), x)
        (tensor([ 3., 12.]),)
        >>> x.grad is None
        True
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    grad_outputs = _grads_list(grad_outputs, outs, "grad()")
    for k, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"grad(): input {k} does not require grad.")
    for k, o in enumerate(outs):
        if not o.requires_grad:
            raise RuntimeError(
                f"grad(): output {k} does not require grad and does not have a grad_fn."
            )
    if retain_graph is None:
        retain_graph = create_graph
    captured = _execute(outs, grad_outputs, retain_graph, create_graph, capture=ins)
    result: list[Tensor | None] = []
    for k in range(len(ins)):
        g = captured.get(k)
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad(): input {k} was not used to compute the outputs; pass "
                    "allow_unused=True to get None for it."
                )
            result.append(None)
        else:
            result.append(g if isinstance(g, Tensor) else Tensor._make(g, False, None, 0))
    return tuple(result)
