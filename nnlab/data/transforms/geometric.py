"""Geometric augmentations: the pixels move, their values do not (or are interpolated).

Flips and crops copy pixels exactly; rotations, whole-pixel shifts and zooms resample the
image through one vectorised sampler (:func:`_sample`, bilinear or nearest neighbour, the
idea of torch's ``grid_sample``), with per-sample parameters drawn all at once. A mask
target gets the very same geometry with nearest-neighbour sampling, so it stays aligned
with its image and never gains new class values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nnlab.data.transforms.base import (
    Transform,
    _check_p,
    _check_scale_ratio,
    _random_boxes,
    _range,
)

__all__ = [
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomCrop",
    "RandomRotation",
    "RandomTranslation",
    "RandomScale",
    "RandomResizedCrop",
]


# -- flips and crops (exact, no interpolation) ------------------------------------------------


class _RandomFlip(Transform):
    axis = -1

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_p(type(self).__name__, p)

    def apply(self, images, masks, rng):
        chosen = rng.random(images.shape[0]) < self.p
        out = images.copy()
        out[chosen] = np.flip(images[chosen], axis=self.axis)
        if masks is not None:
            masks = masks.copy()
            masks[chosen] = np.flip(masks[chosen], axis=self.axis)
        return out, masks

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left-right with probability ``p``: a scene seen from the other
    side. Right for most photos and shapes; wrong where handedness is the label (digits,
    text, "turn left" road signs).

    Args:
        p: the probability that a sample is flipped (default: 0.5).

    Shape:
        images (N, C, H, W) or (C, H, W); a mask target (N, H, W) or (N, K, H, W) is flipped
        with its image.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.arange(3.0).reshape(1, 1, 3)
        >>> RandomHorizontalFlip(p=1.0)(x).tolist()
        [[[2.0, 1.0, 0.0]]]
    """

    axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Mirror each image top-bottom with probability ``p``. Natural where there is no "up":
    microscopy, satellite and aerial images; harmful for street scenes or faces.

    Args:
        p: the probability that a sample is flipped (default: 0.5).

    Shape:
        images (N, C, H, W) or (C, H, W); a mask target is flipped with its image.

    Example:
        >>> import numpy as np
        >>> x = np.arange(3.0).reshape(1, 3, 1)
        >>> RandomVerticalFlip(p=1.0)(x)[0, :, 0].tolist()
        [2.0, 1.0, 0.0]
    """

    axis = -2


def _pad_amounts(who: str, padding: int | Sequence[int]) -> tuple[int, int]:
    pads = (padding, padding) if isinstance(padding, (int, np.integer)) else tuple(padding)
    if len(pads) != 2 or any(int(p) != p or p < 0 for p in pads):
        raise ValueError(
            f"{who}: padding must be a non-negative int or a pair (vertical, horizontal), "
            f"got {padding!r}"
        )
    return int(pads[0]), int(pads[1])


def _size_pair(who: str, size: int | Sequence[int]) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(hw) != 2 or any(int(s) != s or s <= 0 for s in hw):
        raise ValueError(f"{who}: size must be a positive int or a pair (H, W), got {size!r}")
    return int(hw[0]), int(hw[1])


def _crop_windows(a: np.ndarray, tops: np.ndarray, lefts: np.ndarray, h: int, w: int):
    """a[n, :, tops[n]:tops[n]+h, lefts[n]:lefts[n]+w] for every n, in one gather: the
    window view costs nothing, the fancy index copies only the crops."""
    windows = np.lib.stride_tricks.sliding_window_view(a, (h, w), axis=(2, 3))
    return windows[np.arange(a.shape[0]), :, tops, lefts]


class RandomCrop(Transform):
    """Cut a random ``size`` window from each image, after padding its border: the object
    shifts by up to ``padding`` pixels (the classic CIFAR-10 recipe is
    ``RandomCrop(32, padding=4)`` with a horizontal flip). Teaches translation invariance
    without interpolating a single pixel.

    Args:
        size: output height and width, an int or a pair (H, W).
        padding: pixels added on each side before cropping, an int or a pair
            (vertical, horizontal) (default: 0).
        padding_mode: ``'constant'`` (``fill``), ``'edge'``, ``'reflect'`` or
            ``'symmetric'``, as ``np.pad`` (default: ``'constant'``).
        fill: the image padding value for ``'constant'`` (default: 0).
        mask_fill: the mask padding value for ``'constant'`` (default: 0).

    Shape:
        images (N, C, H, W) -> (N, C, size_h, size_w); masks likewise.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.ones((2, 1, 4, 4), dtype=np.float32)
        >>> out = RandomCrop(4, padding=2)(x, generator=nnlab.Generator(1))
        >>> out.shape, bool(out.min() >= 0 and out.max() <= 1)
        ((2, 1, 4, 4), True)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] = 0,
        padding_mode: str = "constant",
        fill: float = 0.0,
        mask_fill: int = 0,
    ) -> None:
        self.size = _size_pair("RandomCrop", size)
        self.padding = _pad_amounts("RandomCrop", padding)
        if padding_mode not in ("constant", "edge", "reflect", "symmetric"):
            raise ValueError(
                f"RandomCrop: padding_mode must be 'constant', 'edge', 'reflect' or "
                f"'symmetric', got {padding_mode!r}"
            )
        self.padding_mode, self.fill, self.mask_fill = padding_mode, fill, mask_fill

    def _pad(self, a: np.ndarray, fill: float) -> np.ndarray:
        py, px = self.padding
        if py == px == 0:
            return a
        widths = ((0, 0), (0, 0), (py, py), (px, px))
        if self.padding_mode == "constant":
            return np.pad(a, widths, constant_values=fill)
        return np.pad(a, widths, mode=self.padding_mode)

    def apply(self, images, masks, rng):
        (h, w), n = self.size, images.shape[0]
        padded = self._pad(images, self.fill)
        hp, wp = padded.shape[-2:]
        if h > hp or w > wp:
            raise ValueError(
                f"RandomCrop: crop size {(h, w)} is larger than the padded image {(hp, wp)}; "
                "lower size or raise padding"
            )
        tops = rng.integers(0, hp - h + 1, size=n)
        lefts = rng.integers(0, wp - w + 1, size=n)
        out = _crop_windows(padded, tops, lefts, h, w)
        if masks is not None:
            masks = _crop_windows(self._pad(masks, self.mask_fill), tops, lefts, h, w)
        return out, masks

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}, padding_mode={self.padding_mode!r}"


# -- resampling: rotations, shifts, zooms ----------------------------------------------------


def _sample(
    a: np.ndarray, src_y: np.ndarray, src_x: np.ndarray, order: int, fill: float
) -> np.ndarray:
    """Resample each image of ``a`` (N, C, H, W) at source points (N, H', W'):
    ``out[n, :, i, j] = a[n, :, src_y[n, i, j], src_x[n, i, j]]``, read between pixels by
    nearest neighbour (``order=0``) or bilinear interpolation (``order=1``, a weighted mean
    of the four surrounding pixels). Pixels outside the image count as ``fill``, so an
    edge blends into it (scipy's ``mode='grid-constant'``, torch's ``grid_sample``)."""
    n, c, h, w = a.shape
    flat = a.reshape(n, c, h * w)
    out_shape = (n, c) + src_y.shape[1:]

    def read(iy: np.ndarray, ix: np.ndarray) -> np.ndarray:
        inside = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
        index = (np.clip(iy, 0, h - 1) * w + np.clip(ix, 0, w - 1)).reshape(n, 1, -1)
        values = np.take_along_axis(flat, index, axis=2).reshape(out_shape)
        return np.where(inside[:, None], values, fill)

    if order == 0:
        iy = np.floor(src_y + 0.5).astype(np.intp)
        ix = np.floor(src_x + 0.5).astype(np.intp)
        return read(iy, ix).astype(a.dtype, copy=False)
    y0, x0 = np.floor(src_y), np.floor(src_x)
    # float32 images blend in float32 (half the memory traffic); others in float64
    work = a.dtype if a.dtype == np.float32 else np.float64
    wy, wx = (src_y - y0)[:, None].astype(work), (src_x - x0)[:, None].astype(work)
    y0, x0 = y0.astype(np.intp), x0.astype(np.intp)
    out = (1 - wy) * ((1 - wx) * read(y0, x0) + wx * read(y0, x0 + 1))
    out += wy * ((1 - wx) * read(y0 + 1, x0) + wx * read(y0 + 1, x0 + 1))
    # weights that sum to 1 up to rounding can overshoot the inputs' range by an ulp
    np.clip(out, a.min(initial=fill), a.max(initial=fill), out=out)
    if a.dtype.kind in "iu":
        np.rint(out, out=out)
    return out.astype(a.dtype, copy=False)


def _affine_sources(
    shape: tuple[int, int], angle: np.ndarray, scale: np.ndarray, ty: np.ndarray, tx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each sample, where each output pixel comes from when the image is rotated by
    ``angle`` degrees counter-clockwise about its centre, zoomed by ``scale`` and then moved
    ``ty`` pixels down and ``tx`` right. Resampling inverts that map: output pixel (y, x),
    with d = (y - c_y - t_y, x - c_x - t_x), reads the source point

        (c_y + (d_x sin θ + d_y cos θ) / s,   c_x + (d_x cos θ - d_y sin θ) / s)

    (the rotation by -θ, in row/column coordinates where rows grow downwards). θ = 90° is
    exactly ``np.rot90``."""
    h, w = shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    theta = np.deg2rad(angle)[:, None, None]
    cos, sin, s = np.cos(theta), np.sin(theta), scale[:, None, None]
    dy = np.arange(h)[None, :, None] - cy - ty[:, None, None]
    dx = np.arange(w)[None, None, :] - cx - tx[:, None, None]
    src_y = cy + (dx * sin + dy * cos) / s
    src_x = cx + (dx * cos - dy * sin) / s
    return src_y, src_x


def _check_order(who: str, order: int) -> int:
    if order not in (0, 1):
        raise ValueError(f"{who}: order must be 0 (nearest) or 1 (bilinear), got {order}")
    return order


class _RandomAffine(Transform):
    """Shared by the resampling transforms: draw per-sample parameters, warp the images with
    ``order`` and the masks with nearest neighbour."""

    order: int
    fill: float
    mask_fill: int

    def params(self, rng: np.random.Generator, n: int, shape: tuple[int, int]):
        raise NotImplementedError

    def apply(self, images, masks, rng):
        angle, scale, ty, tx = self.params(rng, images.shape[0], images.shape[-2:])
        src_y, src_x = _affine_sources(images.shape[-2:], angle, scale, ty, tx)
        out = _sample(images, src_y, src_x, self.order, self.fill)
        if masks is not None:
            masks = _sample(masks, src_y, src_x, 0, self.mask_fill)
        return out, masks


class RandomRotation(_RandomAffine):
    """Rotate each image about its centre by an angle drawn uniformly from ``degrees``
    (counter-clockwise for positive angles): objects photographed at a tilt, cells or
    galaxies with no preferred orientation. Corners that come from outside the image get
    ``fill``; masks rotate with nearest neighbour.

    Args:
        degrees: d for the range (-d, d), or a pair (low, high).
        fill: the value of pixels coming from outside the image (default: 0).
        order: image interpolation, 0 (nearest) or 1 (bilinear, default).
        mask_fill: the value of mask pixels coming from outside (default: 0).

    Shape:
        images (N, C, H, W) or (C, H, W), unchanged; a mask target rotates with its image.

    Example:
        >>> import numpy as np
        >>> x = np.arange(9.0).reshape(1, 3, 3)
        >>> bool(np.allclose(RandomRotation((90, 90))(x), np.rot90(x, axes=(1, 2))))
        True
    """

    def __init__(
        self,
        degrees: float | Sequence[float],
        fill: float = 0.0,
        order: int = 1,
        mask_fill: int = 0,
    ) -> None:
        self.degrees = _range("RandomRotation", "degrees", degrees)
        self.fill, self.mask_fill = fill, mask_fill
        self.order = _check_order("RandomRotation", order)

    def params(self, rng, n, shape):
        angle = rng.uniform(*self.degrees, size=n)
        zero = np.zeros(n)
        return angle, np.ones(n), zero, zero

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}, fill={self.fill}, order={self.order}"


class RandomTranslation(_RandomAffine):
    """Shift each image by a whole number of pixels, up to ``max_shift`` in each direction:
    the object need not sit in the centre. Whole-pixel shifts copy pixels exactly (no
    interpolation); the uncovered border gets ``fill``.

    Args:
        max_shift: the largest shift, in pixels (an int) or as a fraction of the size (a
            float below 1); or a pair (vertical, horizontal) of either.
        fill: the value of the uncovered pixels (default: 0).
        mask_fill: the value of uncovered mask pixels (default: 0).

    Shape:
        images (N, C, H, W) or (C, H, W), unchanged; a mask target moves with its image.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.ones((1, 1, 5, 5), dtype=np.float32)
        >>> out = RandomTranslation(2)(x, generator=nnlab.Generator(0))
        >>> out.shape, float(out.sum()) <= 25
        ((1, 1, 5, 5), True)
    """

    order = 0

    def __init__(
        self, max_shift: float | Sequence[float], fill: float = 0.0, mask_fill: int = 0
    ) -> None:
        pair = (max_shift, max_shift) if np.ndim(max_shift) == 0 else tuple(max_shift)
        if len(pair) != 2 or any(not v >= 0 for v in pair):
            raise ValueError(
                f"RandomTranslation: max_shift must be >= 0, or a pair of such, got {max_shift!r}"
            )
        self.max_shift = pair
        self.fill, self.mask_fill = fill, mask_fill

    def _pixels(self, shape: tuple[int, int]) -> tuple[int, int]:
        return tuple(
            int(round(m * size)) if isinstance(m, float) and m < 1 else int(m)
            for m, size in zip(self.max_shift, shape)
        )

    def params(self, rng, n, shape):
        my, mx = self._pixels(shape)
        ty = rng.integers(-my, my + 1, size=n).astype(np.float64)
        tx = rng.integers(-mx, mx + 1, size=n).astype(np.float64)
        return np.zeros(n), np.ones(n), ty, tx

    def extra_repr(self) -> str:
        return f"max_shift={self.max_shift}, fill={self.fill}"


class RandomScale(_RandomAffine):
    """Zoom each image about its centre by a factor drawn uniformly from ``scale``, keeping
    its size: objects nearer (s > 1, the borders are cut) or farther (s < 1, the border gets
    ``fill``) than in the training photos.

    Args:
        scale: the (low, high) range of zoom factors (default: (0.8, 1.2)).
        fill: the value of pixels coming from outside the image (default: 0).
        order: image interpolation, 0 (nearest) or 1 (bilinear, default).
        mask_fill: the value of mask pixels coming from outside (default: 0).

    Shape:
        images (N, C, H, W) or (C, H, W), unchanged; a mask target zooms with its image.

    Example:
        >>> import numpy as np
        >>> x = np.ones((1, 4, 4))
        >>> RandomScale((0.5, 0.5), order=0)(x)[0].astype(int).tolist()
        [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    """

    def __init__(
        self,
        scale: Sequence[float] = (0.8, 1.2),
        fill: float = 0.0,
        order: int = 1,
        mask_fill: int = 0,
    ) -> None:
        self.scale = _range("RandomScale", "scale", scale)
        if self.scale[0] <= 0:
            raise ValueError(f"RandomScale: zoom factors must be > 0, got {scale!r}")
        self.fill, self.mask_fill = fill, mask_fill
        self.order = _check_order("RandomScale", order)

    def params(self, rng, n, shape):
        zero = np.zeros(n)
        return zero, rng.uniform(*self.scale, size=n), zero, zero

    def extra_repr(self) -> str:
        return f"scale={self.scale}, fill={self.fill}, order={self.order}"


class RandomResizedCrop(Transform):
    """Crop a random box (a ``scale`` fraction of the area, aspect ratio in ``ratio``) and
    resize it to ``size``: the "Inception" augmentation that trains ImageNet models. It
    simulates zoom, framing and mild stretching at once. Boxes that never fit after 10
    tries fall back to the whole image. Resizing samples pixel centres
    (``align_corners=False``) bilinearly, masks with nearest neighbour.

    Args:
        size: output height and width, an int or a pair (H, W).
        scale: the range of the box's area as a fraction of the image's (default: (0.08, 1)).
        ratio: the range of the box's width / height (default: (3/4, 4/3)).
        order: image interpolation, 0 (nearest) or 1 (bilinear, default).

    Shape:
        images (N, C, H, W) -> (N, C, size_h, size_w); masks likewise.

    Example:
        >>> import nnlab, numpy as np
        >>> x = np.random.default_rng(0).random((4, 3, 8, 8))
        >>> RandomResizedCrop(6, scale=(0.5, 1.0))(x, generator=nnlab.Generator(0)).shape
        (4, 3, 6, 6)
    """

    def __init__(
        self,
        size: int | Sequence[int],
        scale: Sequence[float] = (0.08, 1.0),
        ratio: Sequence[float] = (3 / 4, 4 / 3),
        order: int = 1,
    ) -> None:
        self.size = _size_pair("RandomResizedCrop", size)
        self.scale, self.ratio = _check_scale_ratio("RandomResizedCrop", scale, ratio)
        self.order = _check_order("RandomResizedCrop", order)

    def apply(self, images, masks, rng):
        n, (h, w), (oh, ow) = images.shape[0], images.shape[-2:], self.size
        tops, lefts, bh, bw, _ = _random_boxes(rng, n, (h, w), self.scale, self.ratio)
        # output pixel i covers source rows top + (i + ½)·bh/oh - ½, clamped as torch does
        ys = tops[:, None] + (np.arange(oh) + 0.5) * (bh[:, None] / oh) - 0.5
        xs = lefts[:, None] + (np.arange(ow) + 0.5) * (bw[:, None] / ow) - 0.5
        ys, xs = np.clip(ys, 0, h - 1), np.clip(xs, 0, w - 1)
        src_y = np.broadcast_to(ys[:, :, None], (n, oh, ow))
        src_x = np.broadcast_to(xs[:, None, :], (n, oh, ow))
        out = _sample(images, src_y, src_x, self.order, 0.0)
        if masks is not None:
            masks = _sample(masks, src_y, src_x, 0, 0)
        return out, masks

    def extra_repr(self) -> str:
        return f"size={self.size}, scale={self.scale}, ratio={self.ratio}"
