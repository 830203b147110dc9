"""Reverse-mode automatic differentiation (backpropagation).

Backpropagation applies the chain rule from the output back to the inputs. The
engine (1) sorts the graph's nodes so that every node comes after all the nodes that
use its outputs (an iterative depth-first search: no recursion limit, so a chain of
10,000 ops is fine), then (2) visits them in that order, calling each node's
``backward`` with the summed gradient of its outputs, and hands the results on to the
nodes (or leaf tensors) that produced its inputs. A tensor used twice receives the
sum of both gradients, which is the multivariate chain rule.

After backward the saved arrays are freed unless ``retain_graph=True``. Gradients
are accumulated into the ``.grad`` of leaf tensors (never written in place, so a
gradient array may be shared between tensors and stays valid).
"""

from __future__ import annotations

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
        if root.data.size != 1:
            raise RuntimeError(
                f"backward() on a tensor of shape {root.shape} needs a gradient argument: "
                "grad can be created implicitly only for scalar outputs. Reduce it first "
                "(e.g. loss.sum() or loss.mean()) or pass gradient=nnlab.ones_like(output)."
            )
        g = np.ones(root.shape, dtype=root.dtype)
    if isinstance(g, Tensor):
        g = g if create_graph else g.data
    elif create_graph:
        g = Tensor(np.asarray(g, dtype=root.dtype))
    else:
        g = np.asarray(g, dtype=root.dtype)
    if tuple(g.shape) != tuple(root.shape):
        raise RuntimeError(
            f"backward(): gradient has shape {tuple(g.shape)} but the output has shape "
            f"{tuple(root.shape)}; they must match."
        )
    return g


def _conform(node: Any, index: int, t: Tensor, g: Any, create_graph: bool) -> Any:
    """Check that a gradient has its input's shape; cast it to the input's dtype."""
    if create_graph and not isinstance(g, Tensor):
        g = Tensor(np.asarray(g))
    elif not create_graph:
        if isinstance(g, Tensor):
            g = g.data
        elif type(g) is not np.ndarray:
            g = np.asarray(g)
    if g.shape != t.data.shape:
        raise RuntimeError(
            f"{type(node).__name__}.backward returned a gradient of shape {tuple(g.shape)} "
            f"for input {index}, whose shape is {tuple(t.data.shape)}."
        )
    if g.dtype != t.data.dtype:
        g = g.to(t.data.dtype) if isinstance(g, Tensor) else g.astype(t.data.dtype)
    if anomaly._state.enabled:
        anomaly.check_backward(type(node).__name__, index, g, node._trace)
    return g


def _run_hooks(hooks: list[Any] | None, g: Any) -> Any:
    for hook in hooks or ():
        wrapped = g if isinstance(g, Tensor) else Tensor(g)
        result = hook(wrapped)
        if result is not None:
            g = result if isinstance(g, Tensor) else np.asarray(result.data)
    return g


def _accumulate_leaf(t: Tensor, g: Any) -> None:
    g = _run_hooks(t._hooks, g)
    if isinstance(g, Tensor):
        t.grad = g if t.grad is None else t.grad + g
    else:
        t.grad = Tensor(g) if t.grad is None else Tensor(t.grad.data + g)


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
    captured: dict[int, Any] = {}
    leaf_slots: dict[int, int] = {}
    node_slots: dict[tuple[int, int], int] = {}
    for k, t in enumerate(capture or ()):
        if t._node is None:
            leaf_slots[id(t)] = k
        else:
            node_slots[(id(t._node), t._out_idx)] = k

    def deliver(t: Tensor, g: Any) -> None:
        if t._node is None:
            if capture is None:
                _accumulate_leaf(t, g)
            elif id(t) in leaf_slots:
                k = leaf_slots[id(t)]
                captured[k] = g if k not in captured else captured[k] + g
            return
        slots = pending.get(id(t._node))
        if slots is None:
            slots = pending[id(t._node)] = [None] * t._node._n_out
        i = t._out_idx
        slots[i] = g if slots[i] is None else slots[i] + g

    for root, g in zip(roots, grad_roots):
        deliver(root, _seed_gradient(root, g, create_graph))

    previous_mode = _grad_state.enabled
    _grad_state.enabled = create_graph
    try:
        for node in order:
            grads = pending.pop(id(node), None)
            if grads is None:
                continue
            _prepare_output_grads(node, grads, create_graph, capture, node_slots, captured)
            if create_graph:
                if not node.double_backward:
                    raise RuntimeError(
                        f"{type(node).__name__} does not support higher-order gradients "
                        "(its backward is a fused NumPy kernel); create_graph=True cannot "
                        "differentiate through it."
                    )
                node._tensor_mode = True
            try:
                in_grads = type(node).backward(node, *grads)
            finally:
                node._tensor_mode = False
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
                node.saved = None
                node.inputs = None
    finally:
        _grad_state.enabled = previous_mode
    return captured


def _prepare_output_grads(
    node: Any,
    grads: list[Any],
    create_graph: bool,
    capture: Sequence[Tensor] | None,
    node_slots: dict[tuple[int, int], int],
    captured: dict[int, Any],
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
        if node._retained and i in node._retained:
            t = node._retained[i]()
            if t is not None:
                t.grad = g if isinstance(g, Tensor) else Tensor(g)
        if capture is not None and (id(node), i) in node_slots:
            captured[node_slots[(id(node), i)]] = g


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(tensors)/d(leaf) into every leaf's ``.grad`` (``torch.autograd.backward``)."""
    roots = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None or isinstance(grad_tensors, (Tensor, np.ndarray)):
        grad_tensors = [grad_tensors] * len(roots) if grad_tensors is None else [grad_tensors]
    for r in roots:
        if not r.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
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

    With ``create_graph=True`` the returned gradients are themselves differentiable,
    which gives Hessian-vector products: ``grad(grad(f, x, create_graph=True)[0] @ v, x)``.
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError("grad(): one of the inputs does not require grad.")
    for o in outs:
        if not o.requires_grad:
            raise RuntimeError("grad(): one of the outputs does not require grad.")
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
            result.append(g if isinstance(g, Tensor) else Tensor(g))
    return tuple(result)
