"""Fully connected layers and the shape adapters around them: Identity, Linear, Bilinear,
Flatten, Unflatten.

Each layer is a thin shell over :mod:`nnlab.nn.functional`: ``__init__`` stores the
configuration and creates parameters with PyTorch's names, shapes and default
initialisation (in ``reset_parameters``), ``forward`` checks the input's shape and calls
the op, ``extra_repr`` prints the configuration as PyTorch does.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from nnlab import dtypes
from nnlab.nn import functional as F
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = ["Identity", "Linear", "Bilinear", "Flatten", "Unflatten"]


def _param(*shape: int, dtype: Any) -> Parameter:
    """An uninitialised parameter; ``reset_parameters`` fills it."""
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Parameter(np.empty(shape, dtype=d))


def _comes_first(module: Module) -> bool:
    """True when no layer runs before ``module`` as far as the model's structure tells: it
    has no parent, or it and each of its ancestors is the first child of its parent."""
    node = module
    while node._parent is not None:
        parent = node._parent()
        if parent is None:
            break
        if next(iter(parent._modules.values()), None) is not node:
            return False
        node = parent
    return True


def _features_hint(x: Tensor, in_features: int, layer: str, first: bool = False) -> str:
    """Explain the usual cause of a feature-size mismatch in front of a dense layer;
    ``first``: the layer is the model's first, so the features come from the data."""
    if x.ndim >= 3:
        flat = math.prod(x.shape[1:])
        verdict = ", which matches" if flat == in_features else ""
        match = f" (Flatten would give {flat} features{verdict})"
        return (
            f"missing Flatten? a {x.ndim}-D batch such as images (N, C, H, W) must be flattened "
            f"to (N, features) before a {layer}{match}."
        )
    features = x.shape[-1] if x.ndim else 1
    if first:
        return (
            f"the input has {features} features but this {layer} expects "
            f"in_features={in_features}; change in_features or the input so they agree."
        )
    return (
        f"the previous layer produces {features} features but this {layer} "
        f"expects in_features={in_features}; change one of them so they agree."
    )


class Identity(Module):
    """y = x: a placeholder that ignores its constructor arguments (e.g. to remove a
    layer from a model without changing its structure).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Identity(54, unused="argument")(nnlab.ones(2)).shape
        nnlab.Size([2])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """Fully connected layer: y = x Wᵀ + b.

    Each of the ``out_features`` units computes a weighted sum of all ``in_features``
    inputs plus a bias. W is stored (out_features, in_features), as in PyTorch.

    Default initialisation (PyTorch's): W ~ U(-1/√in_features, 1/√in_features), which is
    ``kaiming_uniform_(a=√5)``, and b ~ U(-1/√in_features, 1/√in_features).

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default: True).
        dtype: parameter dtype (default: the default dtype, float32).

    Shape:
        - Input: (*, in_features), any number of leading dimensions.
        - Output: (*, out_features).

    Attributes:
        weight: (out_features, in_features).
        bias: (out_features,), or None.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> fc = nn.Linear(20, 30)
        >>> fc(nnlab.randn(128, 20)).shape
        nnlab.Size([128, 30])
        >>> fc
        Linear(in_features=20, out_features=30, bias=True)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = _param(out_features, in_features, dtype=dtype)
        if bias:
            self.bias = _param(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a=√5 gives U(-1/√fan_in, 1/√fan_in) (PyTorch's default).
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise self.shape_error(
                f"(*, {self.in_features})", input.shape,
                _features_hint(input, self.in_features, "Linear", _comes_first(self)),
            )  # fmt: skip
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Bilinear(Module):
    """Bilinear layer: yₖ = x₁ᵀ Aₖ x₂ + bₖ, one (in1, in2) matrix Aₖ per output unit.

    Default initialisation (PyTorch's): A and b ~ U(-1/√in1_features, 1/√in1_features).

    Args:
        in1_features: size of each first input sample.
        in2_features: size of each second input sample.
        out_features: size of each output sample.
        bias: learn an additive bias (default: True).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - Input1: (*, in1_features), Input2: (*, in2_features) with the same leading dims.
        - Output: (*, out_features).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Bilinear(3, 4, 5)(nnlab.randn(2, 3), nnlab.randn(2, 4)).shape
        nnlab.Size([2, 5])
    """

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = _param(out_features, in1_features, in2_features, dtype=dtype)
        if bias:
            self.bias = _param(out_features, dtype=dtype)
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        for x, n, name in ((input1, self.in1_features, "input1"),
                           (input2, self.in2_features, "input2")):  # fmt: skip
            if x.ndim == 0 or x.shape[-1] != n:
                raise self.shape_error(
                    f"(*, {n})", x.shape,
                    f"the last dim of {name} must be in{name[-1]}_features={n}.",
                )  # fmt: skip
        if input1.shape[:-1] != input2.shape[:-1]:
            raise self.shape_error(
                f"input2 with leading dims {input1.shape[:-1]}", input2.shape,
                "both inputs need the same leading (batch) dimensions.",
            )  # fmt: skip
        lead = input1.shape[:-1]
        x1 = input1.reshape(-1, self.in1_features)
        x2 = input2.reshape(-1, self.in2_features)
        # x₁ᵀ Aₖ x₂ for all k at once: (x₁ A) as one GEMM, then a row-wise dot with x₂.
        a = self.weight.permute(1, 0, 2).reshape(self.in1_features, -1)
        t = (x1 @ a).reshape(-1, self.out_features, self.in2_features)
        y = (t * x2.unsqueeze(1)).sum(-1)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(lead + (self.out_features,))

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class Flatten(Module):
    """Merge dims ``start_dim`` to ``end_dim`` into one, e.g. images (N, C, H, W) into
    vectors (N, C·H·W) before a Linear layer.

    Args:
        start_dim: first dim to flatten (default: 1, keeping the batch dim).
        end_dim: last dim to flatten (default: -1).

    Shape:
        - Input: (*, S_start, ..., S_end, *).
        - Output: (*, S_start·...·S_end, *).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Flatten()(nnlab.zeros(32, 1, 5, 5)).shape
        nnlab.Size([32, 25])
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        n = max(input.ndim, 1)
        for d in (self.start_dim, self.end_dim):
            if not -n <= d < n:
                raise self.shape_error(
                    f"at least {max(d, -d - 1) + 1} dims", input.shape,
                    f"dim {d} does not exist in a {input.ndim}-D input.",
                )  # fmt: skip
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``, the inverse of :class:`Flatten`.

    Args:
        dim: the dim to split.
        unflattened_size: the new shape of that dim (one entry may be -1).

    Shape:
        - Input: (*, S_dim, *) with S_dim = prod(unflattened_size).
        - Output: (*, U₁, ..., Uₙ, *).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.Unflatten(1, (2, 5, 5))(nnlab.zeros(2, 50)).shape
        nnlab.Size([2, 2, 5, 5])
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(
                f"unflattened_size must be a tuple of ints, got {type(unflattened_size).__name__}"
            )
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        if not -input.ndim <= self.dim < input.ndim:
            raise self.shape_error(
                f"at least {max(self.dim, -self.dim - 1) + 1} dims", input.shape,
                f"dim {self.dim} does not exist in a {input.ndim}-D input.",
            )  # fmt: skip
        d = self.dim % input.ndim
        n = input.shape[d]
        known = math.prod(s for s in self.unflattened_size if s != -1)
        inferred = -1 in self.unflattened_size
        if (n % known != 0) if inferred else (n != known):
            raise self.shape_error(
                f"dim {self.dim} of size {'a multiple of ' if inferred else ''}{known}",
                input.shape,
                f"unflattened_size {self.unflattened_size} must multiply to the size of dim "
                f"{self.dim}, which is {n}.",
            )  # fmt: skip
        return input.reshape(input.shape[:d] + self.unflattened_size + input.shape[d + 1 :])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
