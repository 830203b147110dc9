"""Weight initialisation, with PyTorch's names, formulas and defaults (``torch.nn.init``).

Every function fills a tensor in place (its ``.data``, so optimizers holding it keep
working, and without recording a graph) and returns it. Random ones draw from the
default generator, seeded by ``nnlab.manual_seed``, unless handed a ``generator``.

Why the scale matters: a layer y = W x with fan_in inputs of variance 1 gives outputs of
variance fan_in·Var(W). Keeping activations (and gradients) at a constant scale through
depth needs Var(W) ≈ 1/fan_in, corrected by a *gain* for what the non-linearity does to
the variance (ReLU halves it, hence He/Kaiming's gain √2). Xavier/Glorot averages the
forward (fan_in) and backward (fan_out) conditions: Var(W) = 2/(fan_in + fan_out).
A uniform U(-a, a) has variance a²/3, so a = √3·std.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import scipy.special

from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = [
    "calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
    "eye_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
    "orthogonal_",
]  # fmt: skip

_LINEAR_FNS = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid",
)  # fmt: skip


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a non-linearity: the factor by which to scale the standard
    deviation of the weights feeding it so activations keep their scale.

    ================= ==========================
    nonlinearity      gain
    ================= ==========================
    linear, conv*     1
    sigmoid           1
    tanh              5/3
    relu              √2
    leaky_relu        √(2 / (1 + negative_slope²)), negative_slope = param (default 0.01)
    selu              3/4
    ================= ==========================

    Args:
        nonlinearity: the function's name as in ``nnlab.nn.functional``.
        param: the negative slope of ``leaky_relu`` (default: 0.01).

    Example:
        >>> round(calculate_gain("relu"), 4), round(calculate_gain("leaky_relu", 0.2), 4)
        (1.4142, 1.3868)
    """
    if nonlinearity in _LINEAR_FNS:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4  # PyTorch's choice, for self-normalising networks
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight: (out, in, *kernel) gives in·k and out·k, with k the
    number of kernel elements (1 for a Linear weight)."""
    if tensor.ndim < 2:
        raise ValueError(
            "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
        )
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` into the tensor's own array (no graph, same memory)."""
    tensor.array[...] = values
    return tensor


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with samples of U(a, b).

    Example:
        >>> import nnlab
        >>> w = uniform_(nnlab.empty(1000), -0.5, 0.5)
        >>> bool(w.min() >= -0.5) and bool(w.max() <= 0.5)
        True
    """
    return _fill(tensor, _rng(generator).uniform(a, b, tensor.shape))


def normal_(
    tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Fill with samples of N(mean, std²).

    Example:
        >>> import nnlab
        >>> w = normal_(nnlab.empty(10000), 2.0, 0.1)
        >>> round(float(w.mean()), 1)
        2.0
    """
    return _fill(tensor, _rng(generator).normal(mean, std, tensor.shape))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: Generator | None = None,
) -> Tensor:
    """Fill with samples of N(mean, std²) conditioned on lying in [a, b] (absolute bounds,
    as PyTorch: a = -2 means -2, not -2 standard deviations).

    Drawn by inverse-CDF sampling: u ~ U(Φ(α), Φ(β)) with α, β the standardised bounds,
    then x = mean + std·Φ⁻¹(u), with Φ⁻¹(u) = √2·erfinv(2u - 1).

    Example:
        >>> import nnlab
        >>> w = trunc_normal_(nnlab.empty(1000), std=1.0, a=-0.5, b=0.5)
        >>> bool(w.abs().max() <= 0.5)
        True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            "mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
            "The distribution of values may be incorrect.",
            stacklevel=2,
        )

    def cdf(z: float) -> float:
        return (1.0 + math.erf(z / math.sqrt(2.0))) / 2.0

    low, high = cdf((a - mean) / std), cdf((b - mean) / std)
    u = _rng(generator).uniform(2 * low - 1, 2 * high - 1, tensor.shape)
    values = mean + std * math.sqrt(2.0) * scipy.special.erfinv(u)
    return _fill(tensor, np.clip(values, a, b))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with the value ``val``.

    Example:
        >>> import nnlab
        >>> constant_(nnlab.empty(3), 0.5)
        tensor([0.5, 0.5, 0.5])
    """
    return _fill(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity (ones on the diagonal): a Linear layer that
    passes its inputs through."""
    if tensor.ndim != 2:
        raise ValueError(f"Only tensors with 2 dimensions are supported, got {tensor.ndim}")
    return _fill(tensor, np.eye(*tensor.shape))


def _xavier_std(tensor: Tensor, gain: float) -> float:
    """The standard deviation gain·√(2 / (fan_in + fan_out)), whose variance suits both the
    forward and the backward pass (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float | None:
    """gain / √fan (He et al., 2015), or None, with torch's warning, for a zero-element
    tensor (nothing to fill)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, generator: Generator | None = None
) -> Tensor:
    """Glorot/Xavier uniform: U(-a, a) with a = gain·√(6 / (fan_in + fan_out)).

    Example:
        >>> import nnlab
        >>> w = xavier_uniform_(nnlab.empty(300, 300))
        >>> bool(w.abs().max() <= 0.1)
        True
    """
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain)
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """Glorot/Xavier normal: N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    return normal_(tensor, 0.0, _xavier_std(tensor, gain), generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He/Kaiming uniform: U(-bound, bound), bound = gain·√(3 / fan), gain from
    :func:`calculate_gain` (``nonlinearity``, ``a``), fan = fan_in or fan_out (``mode``).

    ``nn.Linear`` uses ``a=√5``, i.e. gain √(1/3) and bound = 1/√fan_in.

    Example:
        >>> import math, nnlab
        >>> w = kaiming_uniform_(nnlab.empty(64, 100), a=math.sqrt(5))
        >>> bool(w.abs().max() <= 0.1)
        True
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: Generator | None = None,
) -> Tensor:
    """He/Kaiming normal: N(0, std²), std = gain / √fan."""
    std = _kaiming_std(tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator: Generator | None = None) -> Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (Saxe et al., 2013): the QR factor of a
    Gaussian matrix, with signs fixed by diag(R) so the result is uniformly distributed.
    Dims after the first are flattened: the result has orthonormal rows or columns.

    Example:
        >>> import numpy as np, nnlab
        >>> w = orthogonal_(nnlab.empty(3, 5)).array
        >>> bool(np.allclose(w @ w.T, np.eye(3), atol=1e-6))
        True
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _rng(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
