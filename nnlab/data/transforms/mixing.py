"""Augmentations that mix samples of a batch, and their labels with them."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.data.transforms.base import Transform, _array, _check_float, _like
from nnlab.random import Generator, _rng

__all__ = ["MixUp"]


class MixUp(Transform):
    """Blend each sample with a random partner from the same batch, labels included
    (Zhang et al., 2018):

        x̃ᵢ = λᵢ·xᵢ + (1 - λᵢ)·x_π(i),   ỹᵢ = λᵢ·yᵢ + (1 - λᵢ)·y_π(i),   λᵢ ~ Beta(α, α)

    with π a random permutation of the batch and y one-hot. The soft targets ỹ sum to 1 and
    go straight into ``F.cross_entropy`` as class probabilities. Training on straight lines
    between examples discourages sharp, over-confident decision boundaries: better
    calibration, robustness to label noise. Small α (0.1-0.4) keeps most λ near 0 or 1.

    Args:
        alpha: the Beta distribution's parameter, > 0 (default: 0.2).
        num_classes: the number of classes, needed for integer labels.

    Shape:
        images (N, C, H, W), floating; labels (N,) or (N, H, W) class indices, or
        probabilities (N, K) or (N, K, H, W). Returns the mixed images and soft targets
        (N, K) or (N, K, H, W) in the images' dtype.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.random.default_rng(0).random((4, 1, 2, 2), dtype=np.float32)
        >>> mixed, soft = MixUp(0.4, num_classes=3)(x, np.array([0, 1, 2, 1]),
        ...                                          generator=nnlab.Generator(0))
        >>> mixed.shape, soft.shape, np.allclose(soft.sum(axis=1), 1)
        ((4, 1, 2, 2), (4, 3), True)
    """

    def __init__(self, alpha: float = 0.2, num_classes: int | None = None) -> None:
        if not alpha > 0:
            raise ValueError(f"MixUp: alpha must be > 0, got {alpha}")
        if num_classes is not None and (int(num_classes) != num_classes or num_classes < 1):
            raise ValueError(f"MixUp: num_classes must be a positive int, got {num_classes!r}")
        self.alpha, self.num_classes = float(alpha), num_classes

    def _soft(self, y: np.ndarray, n: int, dtype: np.dtype) -> np.ndarray:
        if y.dtype.kind == "f":
            if y.ndim < 2 or y.shape[0] != n:
                raise ValueError(
                    f"MixUp: probability targets must be shaped (N, K, ...) with N = {n}, "
                    f"got {y.shape}"
                )
            return y.astype(dtype, copy=False)
        if y.dtype.kind not in "iu" or y.ndim < 1 or y.shape[0] != n:
            raise ValueError(
                f"MixUp: labels must be class indices (N,) or (N, H, W) with N = {n}, or "
                f"floating probabilities; got shape {y.shape} and dtype {y.dtype}"
            )
        if self.num_classes is None:
            raise ValueError("MixUp: integer labels need num_classes=... to build one-hot targets")
        if y.size and (y.min() < 0 or y.max() >= self.num_classes):
            raise ValueError(
                f"MixUp: labels must lie in [0, {self.num_classes}), got values from "
                f"{y.min()} to {y.max()}"
            )
        one_hot = np.eye(self.num_classes, dtype=dtype)[y]  # (N, ..., K)
        return np.moveaxis(one_hot, -1, 1)

    def __call__(self, images: Any, target: Any = None, *, generator: Generator | None = None):
        x = _array(images, "MixUp", "images")
        if x.ndim != 4:
            raise ValueError(f"MixUp: needs a batch of images (N, C, H, W), got shape {x.shape}")
        _check_float("MixUp", x)
        if target is None:
            raise ValueError("MixUp: mixes labels too; call it as mixup(images, labels)")
        n = x.shape[0]
        soft = self._soft(_array(target, "MixUp", "labels"), n, x.dtype)
        rng = _rng(generator)
        lam = rng.beta(self.alpha, self.alpha, size=n)
        partner = rng.permutation(n)
        lx = lam.reshape(-1, 1, 1, 1).astype(x.dtype)
        mixed = lx * x + (1 - lx) * x[partner]
        ly = lam.reshape((n,) + (1,) * (soft.ndim - 1)).astype(x.dtype)
        soft = ly * soft + (1 - ly) * soft[partner]
        return _like(mixed, images), _like(soft, target)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, num_classes={self.num_classes}"
