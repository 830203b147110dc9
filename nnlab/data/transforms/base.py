"""The machinery every augmentation shares: arrays or Tensors in and out, one image or a
batch, masks or labels as targets (see :mod:`nnlab.data.transforms` for the conventions),
the :class:`Transform` base class, :class:`Compose`, and the argument checks and random
boxes that several transforms use."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nnlab.random import Generator, _rng
from nnlab.tensor import Tensor

__all__ = ["Transform", "Compose"]


def _array(x: Any, who: str, what: str) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.array
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(
        f"{who}: {what} must be a NumPy array or an nnlab Tensor, got {type(x).__name__}"
    )


def _like(result: np.ndarray, original: Any) -> Any:
    """A Tensor (never carrying gradients) when the input was a Tensor, else the array."""
    return Tensor._make(result, False, None, 0) if isinstance(original, Tensor) else result


def _check_images(who: str, x: np.ndarray) -> None:
    if x.ndim not in (3, 4):
        raise ValueError(
            f"{who}: images must be shaped (N, C, H, W) or (C, H, W), got shape {x.shape}; "
            "add a channel axis to grayscale images, e.g. x[:, None]"
        )
    if x.dtype.kind not in "iuf":
        raise TypeError(f"{who}: images must hold numbers, got dtype {x.dtype}")


def _check_float(who: str, x: np.ndarray) -> None:
    if x.dtype.kind != "f":
        raise TypeError(
            f"{who}: images must be floating point, got dtype {x.dtype}; convert first, "
            "e.g. x.astype(np.float32) / 255"
        )


def _mask_batch(who: str, mask: np.ndarray, x: np.ndarray, single: bool) -> np.ndarray:
    """A mask as (N, K, H, W) next to images (N, C, H, W), after checking its shape."""
    m = mask[None] if single else mask
    if m.ndim == 3:
        m = m[:, None]
    if m.ndim != 4 or m.shape[0] != x.shape[0] or m.shape[-2:] != x.shape[-2:]:
        expected = "(H, W) or (K, H, W)" if single else "(N, H, W) or (N, K, H, W)"
        raise ValueError(
            f"{who}: a mask must be shaped {expected} with the images' N, H and W; got mask "
            f"shape {mask.shape} for images of shape {x.shape[1:] if single else x.shape}"
        )
    return m


class Transform:
    """Base class of the augmentations: handles the conventions of this module (arrays or
    Tensors, one image or a batch, masks or labels) so that a subclass only implements
    ``apply(images, masks, rng)`` on an (N, C, H, W) array, masks (N, K, H, W) or None, and
    a NumPy ``rng``, returning ``(images, masks)``.

    Example:
        >>> import numpy as np
        >>> class Invert(Transform):
        ...     def apply(self, images, masks, rng):
        ...         return 1.0 - images, masks
        >>> Invert()(np.zeros((1, 2, 2), dtype=np.float32)).tolist()
        [[[1.0, 1.0], [1.0, 1.0]]]
    """

    def apply(
        self, images: np.ndarray, masks: np.ndarray | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError(f"{type(self).__name__} must implement apply")

    def __call__(self, images: Any, target: Any = None, *, generator: Generator | None = None):
        who = type(self).__name__
        x = _array(images, who, "images")
        _check_images(who, x)
        single = x.ndim == 3
        xb = x[None] if single else x
        masks = None
        if target is not None:
            t = _array(target, who, "target")
            if t.ndim >= x.ndim - 1:
                masks = _mask_batch(who, t, xb, single)
        out, out_masks = self.apply(xb, masks, _rng(generator))
        out = _like(out[0] if single else out, images)
        if target is None:
            return out
        if masks is None or out_masks is masks:  # labels, or a transform that kept masks
            return out, target
        if t.ndim == x.ndim - 1:  # the caller's mask had no K axis
            out_masks = out_masks[:, 0]
        return out, _like(out_masks[0] if single else out_masks, target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""


class Compose(Transform):
    """Apply transforms one after another, threading the target and the generator through.

    Args:
        transforms: the transforms, applied in order (nnlab transforms, or callables taking
            ``images`` (and ``target``) that ignore randomness).

    Example:
        >>> import nnlab, numpy as np
        >>> from nnlab.data.transforms import RandomCrop, RandomHorizontalFlip
        >>> augment = Compose([RandomHorizontalFlip(), RandomCrop(4, padding=1)])
        >>> x = np.random.default_rng(0).random((8, 3, 4, 4), dtype=np.float32)
        >>> augment(x, generator=nnlab.Generator(0)).shape
        (8, 3, 4, 4)
    """

    def __init__(self, transforms: Sequence[Callable[..., Any]]) -> None:
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transforms[{i}] is not callable: {t!r}")

    def __call__(self, images: Any, target: Any = None, *, generator: Generator | None = None):
        for t in self.transforms:
            kw = {"generator": generator} if isinstance(t, Transform) else {}
            if target is None:
                images = t(images, **kw)
            else:
                images, target = t(images, target, **kw)
        return images if target is None else (images, target)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}," for t in self.transforms)
        return f"Compose([{inner}\n])"


# -- argument checks and random boxes, shared by several transforms ------------------------


def _check_p(who: str, p: float) -> float:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{who}: p must be a probability in [0, 1], got {p}")
    return float(p)


def _range(who: str, name: str, value: float | Sequence[float], center: float = 0.0):
    """A (low, high) pair from ``value``: a number v means (center - v, center + v)."""
    if isinstance(value, (int, float, np.integer, np.floating)):
        if value < 0:
            raise ValueError(f"{who}: {name} must be >= 0 when a single number, got {value}")
        return center - float(value), center + float(value)
    pair = tuple(float(v) for v in value)
    if len(pair) != 2 or pair[0] > pair[1]:
        raise ValueError(f"{who}: {name} must be a number or a pair (low, high), got {value!r}")
    return pair


def _random_boxes(
    rng: np.random.Generator,
    n: int,
    shape: tuple[int, int],
    scale: tuple[float, float],
    ratio: tuple[float, float],
    tries: int = 10,
) -> tuple[np.ndarray, ...]:
    """Per sample, a box of area ``scale`` × the image's and aspect ratio w/h in ``ratio``
    (log-uniform), at a random place: torchvision's search, ``tries`` candidates per sample
    drawn at once, the first that fits kept. Returns tops, lefts, heights, widths and
    whether any candidate fitted."""
    h, w = shape
    area = h * w * rng.uniform(*scale, size=(n, tries))
    aspect = np.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1]), size=(n, tries)))
    bw = np.rint(np.sqrt(area * aspect)).astype(np.int64)
    bh = np.rint(np.sqrt(area / aspect)).astype(np.int64)
    fits = (bw >= 1) & (bw <= w) & (bh >= 1) & (bh <= h)
    first = fits.argmax(axis=1)
    found = fits[np.arange(n), first]
    bh, bw = bh[np.arange(n), first], bw[np.arange(n), first]
    bh, bw = np.where(found, bh, h), np.where(found, bw, w)
    tops = np.floor(rng.random(n) * (h - bh + 1)).astype(np.int64)
    lefts = np.floor(rng.random(n) * (w - bw + 1)).astype(np.int64)
    return tops, lefts, bh, bw, found


def _check_scale_ratio(who: str, scale: Sequence[float], ratio: Sequence[float]):
    scale, ratio = tuple(map(float, scale)), tuple(map(float, ratio))
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"{who}: scale must be a pair 0 < low <= high, got {scale}")
    if len(ratio) != 2 or not 0 < ratio[0] <= ratio[1]:
        raise ValueError(f"{who}: ratio must be a pair 0 < low <= high, got {ratio}")
    return scale, ratio
