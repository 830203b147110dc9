"""Rosenblatt's perceptron (1958): one linear unit with a step activation, trained by the
perceptron learning rule rather than by gradients.

    ŷ = step(w·x + b),  step(z) = 1 if z ≥ 0 else 0

Learning rule, one sample at a time: w ← w + lr·(y - ŷ)·x,  b ← b + lr·(y - ŷ).
A correct prediction changes nothing; a false negative adds x to w, a false positive
subtracts it. The step has zero derivative almost everywhere, so backpropagation cannot
train it: this rule is what the perceptron had instead.

The perceptron convergence theorem: if a hyperplane separates the two classes with a
margin γ and every ‖x‖ ≤ R, the rule makes at most (R/γ)² mistakes and then stops. If
no hyperplane separates them, as for XOR, it never stops: Minsky & Papert's (1969)
objection, answered by networks with a hidden layer trained by backpropagation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["Perceptron"]


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


class Perceptron(Module):
    """A single threshold unit: ŷ = step(x Wᵀ + b) with labels 0 and 1.

    ``weight`` (1, in_features) and ``bias`` (1,) have the layout of ``Linear(in_features,
    1)``, so the learned hyperplane can be copied into one. They start at zero, as in the
    classic algorithm (any start converges on separable data).

    Args:
        in_features: size of each input sample.
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - Input: (N, in_features).
        - Output: (N,) of 0.0 / 1.0 (``forward``), int64 labels (``predict``).

    Attributes:
        errors_: misclassified samples in each epoch of the last :meth:`fit`.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> X = nnlab.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
        >>> y = nnlab.tensor([0, 0, 0, 1])  # AND is linearly separable
        >>> p = nn.Perceptron(2).fit(X, y, epochs=20)
        >>> p.predict(X).tolist(), p.errors_[-1]
        ([0, 0, 0, 1], 0)
    """

    def __init__(self, in_features: int, dtype: Any = None) -> None:
        super().__init__()
        self.in_features = in_features
        d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
        self.weight = Parameter(np.empty((1, in_features), dtype=d))
        self.bias = Parameter(np.empty(1, dtype=d))
        self.errors_: list[int] = []
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.zeros_(self.weight)
        init.zeros_(self.bias)

    def _check_input(self, x: np.ndarray) -> None:
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise self.shape_error(
                f"(N, {self.in_features})", x.shape,
                "pass a 2-D batch of samples (use x.reshape(1, -1) for one sample).",
            )  # fmt: skip

    def decision_function(self, x: Any) -> Tensor:
        """The pre-activation z = x Wᵀ + b, shape (N,): the signed distance to the
        hyperplane times ‖w‖."""
        a = _array(x)
        self._check_input(a)
        return Tensor(a @ self.weight.array[0] + self.bias.array[0])

    def forward(self, input: Tensor) -> Tensor:
        z = self.decision_function(input).array
        return Tensor((z >= 0).astype(self.weight.dtype))

    def predict(self, x: Any) -> Tensor:
        """Class labels (0 or 1) as int64, shape (N,)."""
        return Tensor((self.decision_function(x).array >= 0).astype(np.int64))

    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 100,
        lr: float = 1.0,
        shuffle: bool = True,
        generator: Generator | None = None,
    ) -> Perceptron:
        """Train with the perceptron rule; stops early after an epoch without mistakes.

        Args:
            X: (N, in_features) samples.
            y: (N,) labels, 0 or 1.
            epochs: the most passes over the data (default: 100).
            lr: learning rate (default: 1.0; from a zero start it only scales w and b).
            shuffle: visit the samples in a new random order each epoch (default: True).
            generator: source of the shuffling (default: the default generator).

        Returns:
            self, with ``errors_`` holding the mistakes made in each epoch.
        """
        X = _array(X).astype(self.weight.dtype, copy=False)
        y = _array(y).reshape(-1)
        self._check_input(X)
        if y.shape[0] != X.shape[0]:
            raise ValueError(f"fit: X has {X.shape[0]} samples but y has {y.shape[0]} labels")
        if not np.isin(y, (0, 1)).all():
            raise ValueError(f"fit: labels must be 0 or 1, got {np.unique(y).tolist()}")
        w, b = self.weight.array[0], self.bias.array  # views: updated in place
        rng = _rng(generator)
        self.errors_ = []
        for _ in range(epochs):
            order = rng.permutation(len(X)) if shuffle else range(len(X))
            mistakes = 0
            for i in order:
                error = y[i] - (1 if X[i] @ w + b[0] >= 0 else 0)
                if error:
                    w += lr * error * X[i]
                    b += lr * error
                    mistakes += 1
            self.errors_.append(mistakes)
            if mistakes == 0:
                break
        return self

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"
