"""Weight penalties and norm constraints: ways to keep weights small.

Adding λ·Ω(w) to the loss pulls the weights towards zero at every step:

    L1:          Ω(w) = Σ |wᵢ|              sparse weights (the gradient λ·sign(w) is
                                             constant, so small weights reach exactly 0)
    L2:          Ω(w) = Σ wᵢ²               small weights (the gradient 2λw shrinks large
                                             weights most: "weight decay")
    elastic net: Ω(w) = ρ Σ |wᵢ| + (1 - ρ)/2 · Σ wᵢ²   (scikit-learn's form, ρ = l1_ratio)

By default biases and normalization parameters (γ, β) are left out: they do not make a
model more complex, and shrinking γ would fight the normalization itself.

A max-norm constraint instead *projects* after each optimizer step: each unit's incoming
weight vector (a row of a Linear weight) is rescaled to norm ≤ c (Srivastava et al., 2014,
used with dropout).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = [
    "regularized_parameters", "l1_penalty", "l2_penalty", "elastic_net_penalty", "max_norm_",
]  # fmt: skip

Params = Module | Iterable[Parameter]


def _is_norm(module: Module) -> bool:
    """BatchNorm1d, LayerNorm, GroupNorm, RMSNorm, ...: the normalization layers."""
    return "Norm" in type(module).__name__


def regularized_parameters(
    module: Params, exclude_bias: bool = True, exclude_norm: bool = True
) -> Iterator[Parameter]:
    """The parameters a weight penalty should act on.

    Args:
        module: a module, or an iterable of parameters (then all of them are used).
        exclude_bias: skip parameters whose name starts with "bias" (default: True).
        exclude_norm: skip the parameters of normalization layers (default: True).

    Example:
        >>> from nnlab import nn
        >>> model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 1))
        >>> [tuple(p.shape) for p in regularized_parameters(model)]
        [(4, 3), (1, 4)]
    """
    if not isinstance(module, Module):
        yield from module
        return
    seen: set[int] = set()
    for _, sub in module.named_modules():
        if exclude_norm and _is_norm(sub):
            continue
        for name, p in sub.named_parameters(recurse=False):
            if id(p) in seen or (exclude_bias and name.startswith("bias")):
                continue
            seen.add(id(p))
            yield p


def _total(terms: Iterable[Tensor]) -> Tensor:
    total = None
    for t in terms:
        total = t if total is None else total + t
    return total if total is not None else Tensor(np.float32(0.0))


def l1_penalty(module: Params, exclude_bias: bool = True, exclude_norm: bool = True) -> Tensor:
    """Σ |w| over the regularized parameters, a differentiable scalar; add λ times it to
    the loss.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> fc = nn.Linear(2, 1)
        >>> _ = nn.init.constant_(fc.weight, -0.5)
        >>> l1_penalty(fc)
        tensor(1., grad_fn=<SumBackward>)
    """
    params = regularized_parameters(module, exclude_bias, exclude_norm)
    return _total(p.abs().sum() for p in params)


def l2_penalty(module: Params, exclude_bias: bool = True, exclude_norm: bool = True) -> Tensor:
    """Σ w² over the regularized parameters (no ½: λ·Σ w² has gradient 2λw).

    Example:
        >>> from nnlab import nn
        >>> fc = nn.Linear(2, 1)
        >>> _ = nn.init.constant_(fc.weight, 3.0)
        >>> float(l2_penalty(fc))
        18.0
    """
    params = regularized_parameters(module, exclude_bias, exclude_norm)
    return _total((p * p).sum() for p in params)


def elastic_net_penalty(
    module: Params,
    l1_ratio: float = 0.5,
    exclude_bias: bool = True,
    exclude_norm: bool = True,
) -> Tensor:
    """ρ·Σ|w| + (1 - ρ)/2·Σ w², with ρ = ``l1_ratio`` (scikit-learn's elastic net).

    Args:
        module: a module, or an iterable of parameters.
        l1_ratio: ρ in [0, 1]; 1 is pure L1, 0 is pure (halved) L2 (default: 0.5).

    Example:
        >>> from nnlab import nn
        >>> fc = nn.Linear(2, 1)
        >>> _ = nn.init.constant_(fc.weight, 2.0)
        >>> float(elastic_net_penalty(fc, l1_ratio=0.5))
        4.0
    """
    if not 0.0 <= l1_ratio <= 1.0:
        raise ValueError(f"elastic_net_penalty: l1_ratio must be in [0, 1], got {l1_ratio}")
    params = list(regularized_parameters(module, exclude_bias, exclude_norm))
    return _total(l1_ratio * p.abs().sum() + (1 - l1_ratio) / 2 * (p * p).sum() for p in params)


def max_norm_(
    module: Params,
    max_norm: float,
    norm_type: float = 2.0,
    dim: int = 0,
    exclude_bias: bool = True,
    exclude_norm: bool = True,
    eps: float = 1e-7,
) -> float:
    """Rescale, in place, each slice along ``dim`` of every weight (for a Linear weight:
    each row, one unit's incoming weights) whose norm exceeds ``max_norm`` to norm
    ``max_norm``, as ``torch.renorm``. Call it after ``optimizer.step()``.

    Parameters with fewer than 2 dims are left alone.

    Args:
        module: a module, or an iterable of parameters.
        max_norm: c, the largest norm allowed.
        norm_type: p of the p-norm (default: 2.0).
        dim: the dim that indexes units (default: 0, the output units of Linear/Conv).
        eps: added to the norm before dividing, as torch.renorm (default: 1e-7).

    Returns:
        The largest unit norm found before rescaling (useful to log).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> fc = nn.Linear(2, 2)
        >>> _ = nn.init.constant_(fc.weight, 3.0)  # row norms 3·√2 ≈ 4.24
        >>> round(max_norm_(fc, 1.0), 2)
        4.24
        >>> round(float(fc.weight.array[0] @ fc.weight.array[0]), 4)
        1.0
    """
    if max_norm < 0:
        raise ValueError(f"max_norm_: max_norm must be non-negative, got {max_norm}")
    largest = 0.0
    with no_grad():
        for p in regularized_parameters(module, exclude_bias, exclude_norm):
            if p.ndim < 2:
                continue
            w = np.moveaxis(p.array, dim, 0)  # a view: writing into it writes p
            rows = w.reshape(w.shape[0], -1)
            norms = np.linalg.norm(rows, ord=norm_type, axis=1)
            if norms.size:
                largest = max(largest, float(norms.max()))
            scale = np.where(norms > max_norm, max_norm / (norms + eps), 1.0)
            w *= scale.reshape((-1,) + (1,) * (w.ndim - 1)).astype(p.dtype)
    return largest
