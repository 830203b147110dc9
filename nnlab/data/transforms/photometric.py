"""Photometric augmentations: the pixel values change, the geometry does not, so every
target (mask or label) passes unchanged. They need floating-point images."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnlab.data.transforms.base import (
    Transform,
    _check_float,
    _check_p,
    _check_scale_ratio,
    _random_boxes,
    _range,
)

__all__ = ["GaussianNoise", "RandomErasing", "ColorJitter", "Normalize"]


class GaussianNoise(Transform):
    """Add independent Gaussian noise ``std · ε``, ε ~ N(0, 1), to every pixel: sensor
    noise, compression, grain. The model learns not to hang on single pixel values (the
    same idea as noise-injection regularisation).

    Args:
        std: the noise's standard deviation (default: 0.05).
        clip: an optional (low, high) range to clip the result to, e.g. (0, 1) to keep
            images valid (default: None).

    Shape:
        images (N, C, H, W) or (C, H, W), floating, unchanged.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.full((2, 1, 4, 4), 0.5, dtype=np.float32)
        >>> out = GaussianNoise(0.1, clip=(0, 1))(x, generator=nnlab.Generator(0))
        >>> out.dtype, bool(0 <= out.min() and out.max() <= 1)
        (dtype('float32'), True)
    """

    def __init__(self, std: float = 0.05, clip: Sequence[float] | None = None) -> None:
        if not std >= 0:
            raise ValueError(f"GaussianNoise: std must be >= 0, got {std}")
        self.std = float(std)
        self.clip = None if clip is None else _range("GaussianNoise", "clip", tuple(clip))

    def apply(self, images, masks, rng):
        _check_float("GaussianNoise", images)
        noise = rng.standard_normal(images.shape, dtype=np.float64) * self.std
        out = (images + noise).astype(images.dtype, copy=False)
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        return out, masks

    def extra_repr(self) -> str:
        return f"std={self.std}, clip={self.clip}"


class RandomErasing(Transform):
    """With probability ``p``, blank out a random rectangle of each image (Zhong et al.,
    2017; "Cutout" with a fixed square is the same idea): occlusion. The model cannot
    rely on one discriminative patch and must use the whole object. Masks are left as they
    were: the object is still there, only hidden.

    Args:
        p: the probability that a sample gets a rectangle (default: 0.5).
        scale: the range of the rectangle's area as a fraction of the image (default:
            (0.02, 0.33)).
        ratio: the range of its aspect ratio (default: (0.3, 3.3)).
        value: the value written, a number or ``'random'`` for standard normal noise
            (default: 0).

    Shape:
        images (N, C, H, W) or (C, H, W), floating, unchanged.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.ones((3, 1, 8, 8), dtype=np.float32)
        >>> out = RandomErasing(p=1.0, value=0.0)(x, generator=nnlab.Generator(0))
        >>> bool((out.reshape(3, -1).min(axis=1) == 0).all())
        True
    """

    def __init__(
        self,
        p: float = 0.5,
        scale: Sequence[float] = (0.02, 0.33),
        ratio: Sequence[float] = (0.3, 3.3),
        value: float | str = 0.0,
    ) -> None:
        self.p = _check_p("RandomErasing", p)
        self.scale, self.ratio = _check_scale_ratio("RandomErasing", scale, ratio)
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: value must be a number or 'random', got {value!r}")
        self.value = value

    def apply(self, images, masks, rng):
        _check_float("RandomErasing", images)
        n, (h, w) = images.shape[0], images.shape[-2:]
        chosen = rng.random(n) < self.p
        tops, lefts, bh, bw, found = _random_boxes(rng, n, (h, w), self.scale, self.ratio)
        rows = np.arange(h)[None, :, None]
        cols = np.arange(w)[None, None, :]
        in_rows = (rows >= tops[:, None, None]) & (rows < (tops + bh)[:, None, None])
        in_cols = (cols >= lefts[:, None, None]) & (cols < (lefts + bw)[:, None, None])
        box = in_rows & in_cols & (chosen & found)[:, None, None]
        if self.value == "random":
            fill = rng.standard_normal(images.shape).astype(images.dtype)
        else:
            fill = np.asarray(self.value, dtype=images.dtype)
        return np.where(box[:, None], fill, images), masks

    def extra_repr(self) -> str:
        return f"p={self.p}, scale={self.scale}, ratio={self.ratio}, value={self.value!r}"


# ITU-R 601 luma: the grey level of an RGB pixel, as torchvision's rgb_to_grayscale
_LUMA = np.array([0.299, 0.587, 0.114])


class ColorJitter(Transform):
    """Randomly change brightness and contrast, one factor of each per sample: lighting,
    exposure and camera differences.

    * brightness: ``x · b``, b drawn from the brightness range;
    * contrast: ``c · x + (1 - c) · m``, with m the image's mean grey level (luma weights
      for 3 channels, the plain mean otherwise), c from the contrast range: c < 1 pulls
      every pixel towards grey, c > 1 pushes it away.

    Brightness is applied first, then contrast; the result is clipped to ``clip``.

    Args:
        brightness: b for the factor range [max(0, 1 - b), 1 + b], or a pair (low, high)
            (default: 0, no change).
        contrast: the same for the contrast factor (default: 0).
        clip: the (low, high) range of valid pixel values, or None (default: (0, 1)).

    Shape:
        images (N, C, H, W) or (C, H, W), floating, unchanged.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.full((2, 3, 2, 2), 0.5, dtype=np.float32)
        >>> out = ColorJitter(brightness=(2.0, 2.0))(x)
        >>> float(out.max())
        1.0
    """

    def __init__(
        self,
        brightness: float | Sequence[float] = 0.0,
        contrast: float | Sequence[float] = 0.0,
        clip: Sequence[float] | None = (0.0, 1.0),
    ) -> None:
        self.brightness = self._factors("brightness", brightness)
        self.contrast = self._factors("contrast", contrast)
        self.clip = None if clip is None else _range("ColorJitter", "clip", tuple(clip))

    @staticmethod
    def _factors(name: str, value: float | Sequence[float]) -> tuple[float, float]:
        low, high = _range("ColorJitter", name, value, center=1.0)
        if np.ndim(value) == 0:
            low = max(0.0, low)
        if low < 0:
            raise ValueError(f"ColorJitter: {name} factors must be >= 0, got {value!r}")
        return low, high

    def apply(self, images, masks, rng):
        _check_float("ColorJitter", images)
        n, c = images.shape[:2]
        shape = (n, 1, 1, 1)
        b = rng.uniform(*self.brightness, size=n).reshape(shape)
        k = rng.uniform(*self.contrast, size=n).reshape(shape)
        out = images * b
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        weights = _LUMA if c == 3 else np.full(c, 1.0 / c)
        grey = np.einsum("nchw,c->n", out, weights) / (images.shape[2] * images.shape[3])
        out = k * out + (1 - k) * grey.reshape(shape)
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        return out.astype(images.dtype, copy=False), masks

    def extra_repr(self) -> str:
        return f"brightness={self.brightness}, contrast={self.contrast}, clip={self.clip}"


class Normalize(Transform):
    """Standardise each channel: ``(x - mean[c]) / std[c]``, with the training set's
    statistics. Not random: inputs centred near 0 with unit spread keep early activations
    and gradients well scaled. Put it last, after the augmentations that assume [0, 1].

    Args:
        mean: one mean per channel (or one number for all).
        std: one standard deviation per channel (or one number for all).

    Shape:
        images (N, C, H, W) or (C, H, W), floating, unchanged.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 2, 1, 1), dtype=np.float32)
        >>> Normalize([0.5, 0.0], [0.5, 2.0])(x).ravel().tolist()
        [1.0, 0.5]
    """

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]) -> None:
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float64))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        if self.mean.ndim != 1 or self.std.ndim != 1 or (self.std <= 0).any():
            raise ValueError(
                "Normalize: mean and std must be numbers or 1-D sequences, std all > 0; "
                f"got mean {mean!r}, std {std!r}"
            )

    def apply(self, images, masks, rng):
        _check_float("Normalize", images)
        c = images.shape[1]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(
                    f"Normalize: {name} has {v.size} values for images with {c} channels"
                )
        mean = self.mean.astype(images.dtype).reshape(1, -1, 1, 1)
        std = self.std.astype(images.dtype).reshape(1, -1, 1, 1)
        return (images - mean) / std, masks

    def extra_repr(self) -> str:
        return f"mean={self.mean.tolist()}, std={self.std.tolist()}"
