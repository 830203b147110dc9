"""Activation checkpointing (``torch.utils.checkpoint``): trade compute for memory.

Backpropagation keeps every intermediate activation of the forward pass until backward
uses it, so a network of depth ``L`` holds ``O(L)`` activations at the loss. A checkpointed
segment runs its forward without recording a graph and keeps only its *inputs*; when
backward reaches it, the segment is run again with the graph on (the recomputation) and
backpropagated at once. Peak memory falls to the segment inputs plus one segment's
activations, at the price of a second forward pass of the segment. With ``√L`` segments of
``√L`` layers the activations held fall from ``O(L)`` to ``O(√L)`` (Chen et al., 2016).

The recomputation must see the same random numbers as the first pass (a dropout mask that
changed would give wrong gradients), so the default generator's state is saved before the
forward and restored around the recomputation (``preserve_rng_state=True``, as torch).

Example:
    >>> import nnlab
    >>> from nnlab import nn
    >>> from nnlab.utils.checkpoint import checkpoint
    >>> block = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    >>> x = nnlab.ones(2, 3, requires_grad=True)
    >>> checkpoint(block, x, use_reentrant=False).sum().backward()
    >>> x.grad.shape, block[0].weight.grad.shape
    (nnlab.Size([2, 3]), nnlab.Size([3, 3]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.autograd.engine import backward as autograd_backward
from nnlab.autograd.function import Function
from nnlab.autograd.grad_mode import enable_grad, is_grad_enabled
from nnlab.random import get_rng_state, set_rng_state
from nnlab.tensor import Tensor

__all__ = ["checkpoint", "checkpoint_sequential"]


class CheckpointFunction(Function):
    """One checkpointed segment as a graph node: forward keeps the inputs only, backward
    recomputes the segment with the graph on and backpropagates through it.

    The gradients of parameters used inside the segment are accumulated by that nested
    backward, directly into their ``.grad``; the node returns the gradients of its inputs.
    """

    tensor_io = True
    double_backward = False  # the nested backward does not record a graph

    @staticmethod
    def forward(
        ctx: Any,
        run_function: Callable[..., Any],
        preserve_rng_state: bool,
        kwargs: dict[str, Any],
        anchor: Tensor | None,
        *args: Any,
    ) -> Any:
        ctx.run_function, ctx.kwargs = run_function, kwargs
        ctx.rng_state = get_rng_state() if preserve_rng_state else None
        ctx.inputs_kept = args
        return run_function(*args, **kwargs)  # the wrapper runs it under no_grad

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Tensor) -> Any:
        needs = ctx.needs_input_grad[4:]
        inputs = [
            a.detach().requires_grad_(need) if isinstance(a, Tensor) else a
            for a, need in zip(ctx.inputs_kept, needs, strict=True)
        ]
        current = get_rng_state()
        if ctx.rng_state is not None:
            set_rng_state(ctx.rng_state)
        try:
            with enable_grad():
                outputs = ctx.run_function(*inputs, **ctx.kwargs)
        finally:
            set_rng_state(current)
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        pairs = [(o, g) for o, g in zip(outputs, grad_outputs, strict=True) if o.requires_grad]
        if pairs:
            autograd_backward([o for o, _ in pairs], [g for _, g in pairs])
        grads = [
            a.grad if isinstance(a, Tensor) and need else None
            for a, need in zip(inputs, needs, strict=True)
        ]
        return (None, None, None, None, *grads)


def checkpoint(
    function: Callable[..., Any],
    *args: Any,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
    **kwargs: Any,
) -> Any:
    """``function(*args, **kwargs)``, with its activations recomputed in backward instead
    of stored.

    Args:
        function: the segment (a module or any function of tensors) returning a tensor or
            a tuple of tensors.
        *args: its inputs; tensors among them are kept until backward.
        use_reentrant: accepted for torch's signature. Both values give the same gradients:
            the segment is recomputed through a nested backward, and, as torch's
            non-reentrant variant, parameters inside the segment get gradients even when
            no input requires one.
        preserve_rng_state: restore the random state for the recomputation, so dropout
            draws the same mask twice (default True).
        **kwargs: keyword arguments for ``function``.

    Returns:
        What ``function`` returns, the same values as a plain call.
    """
    if not callable(function):
        raise TypeError(f"checkpoint: function must be callable, got {type(function).__name__}")
    if not is_grad_enabled():
        return function(*args, **kwargs)
    # A node is recorded only when an input needs a gradient; when none does, an empty
    # anchor that does keeps the node, so the parameters inside still get their gradients.
    needs = any(isinstance(a, Tensor) and a.requires_grad for a in args)
    anchor = None if needs else Tensor(np.empty(0, np.float32), requires_grad=True)
    return CheckpointFunction.apply(function, preserve_rng_state, kwargs, anchor, *args)


def checkpoint_sequential(
    functions: Any,
    segments: int,
    input: Tensor,
    use_reentrant: bool | None = None,
    preserve_rng_state: bool = True,
) -> Tensor:
    """Run a sequence of modules (an ``nn.Sequential`` or a list) in ``segments`` chunks,
    checkpointing every chunk but the last (whose activations backward needs at once).

    Args:
        functions: the modules, applied in order.
        segments: number of chunks, between 1 and the number of modules.
        input: the input of the first module.
    """
    functions = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if not 1 <= segments <= len(functions):
        raise ValueError(
            f"checkpoint_sequential: segments must be between 1 and the number of modules "
            f"({len(functions)}), got {segments}"
        )

    def run(chunk: list[Any]) -> Callable[[Tensor], Tensor]:
        def forward(x: Tensor) -> Tensor:
            for f in chunk:
                x = f(x)
            return x

        return forward

    size = len(functions) // segments
    bounds = [k * size for k in range(segments)] + [len(functions)]
    for start, end in zip(bounds[:-2], bounds[1:-1], strict=True):
        input = checkpoint(
            run(functions[start:end]),
            input,
            use_reentrant=use_reentrant,
            preserve_rng_state=preserve_rng_state,
        )
    return run(functions[bounds[-2] :])(input)
