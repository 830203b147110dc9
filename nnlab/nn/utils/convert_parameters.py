"""All parameters as one flat vector and back (``torch.nn.utils.parameters_to_vector``),
for optimizers and analyses that see a model as a point in R^n."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from nnlab import ops
from nnlab.autograd.grad_mode import no_grad
from nnlab.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate every parameter, flattened in row-major order, into one vector. The
    result is differentiable: its gradient flows back to each parameter.

    Example:
        >>> from nnlab import nn
        >>> from nnlab.nn.utils import parameters_to_vector
        >>> parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        nnlab.Size([8])
    """
    params = list(parameters)
    if not params:
        raise ValueError("parameters_to_vector: got no parameters")
    for i, p in enumerate(params):
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: parameter {i} is a {type(p).__name__}, "
                            "not a Tensor")  # fmt: skip
    return ops.cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec: Any, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters, in order, without recording
    a graph: the inverse of :func:`parameters_to_vector`."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, got {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(
            f"vector_to_parameters: expected a 1-D vector, got shape {tuple(vec.shape)}"
        )
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: the vector has {vec.numel()} elements but the parameters "
            f"hold {total}"
        )
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.array[...] = np.asarray(vec.array[offset : offset + n]).reshape(p.array.shape)
            offset += n
