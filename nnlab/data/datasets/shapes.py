"""Synthetic semantic segmentation: images of random shapes and their per-pixel labels.

Segmentation asks for a class at every pixel rather than one per image, so a model must
say *where* things are. This toy task has everything of the real one at a size that
trains in seconds on a CPU: several object classes (circle, square, triangle) of random
positions, sizes and brightness, overlapping one another, on a background that is most of
every image (class imbalance: pixel accuracy flatters a model that predicts "background"
everywhere, which is why segmentation is scored by IoU and Dice, see
:mod:`nnlab.metrics.segmentation`), plus sensor noise.
"""

from __future__ import annotations

import numpy as np

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = ["SHAPE_CLASSES", "make_shapes_segmentation"]

SHAPE_CLASSES = ("background", "circle", "square", "triangle")


def _check_int(name: str, value: int, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"make_shapes_segmentation: {name} must be an int, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bound = f"in [{minimum}, {maximum}]" if maximum is not None else f">= {minimum}"
        raise ValueError(f"make_shapes_segmentation: {name} must be {bound}, got {value}")
    return int(value)


def _inside_triangle(yy, xx, vy, vx) -> np.ndarray:
    """Whether grid points lie in triangles with vertices (vy[..., k], vx[..., k]): the
    point is on the same side of all three edges (the signs of the edge functions agree)."""
    sides = []
    for k in range(3):
        y0, x0 = vy[..., k, None, None], vx[..., k, None, None]
        y1, x1 = vy[..., (k + 1) % 3, None, None], vx[..., (k + 1) % 3, None, None]
        sides.append((x1 - x0) * (yy - y0) - (y1 - y0) * (xx - x0))
    s = np.stack(sides)
    return (s >= 0).all(axis=0) | (s <= 0).all(axis=0)


def make_shapes_segmentation(
    n_samples: int = 256,
    size: int = 32,
    n_classes: int = 4,
    noise: float = 0.05,
    max_shapes: int = 3,
    channels: int = 1,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Images with 1 to ``max_shapes`` random shapes each, and masks labelling every pixel
    with the class of the shape on top (0 for the background).

    Class c ≥ 1 is ``SHAPE_CLASSES[c]``: 1 circle, 2 square (axis-aligned), 3 triangle
    (equilateral, randomly turned); ``n_classes`` = 2 or 3 uses only the first ones. Each
    shape has a random centre, a radius between size/10 and size/5 (at least 2 pixels) and
    an intensity in [0.45, 1] per channel, over a background in [0, 0.2]; shapes drawn
    later cover earlier ones, in the image and in the mask alike. Gaussian noise of
    standard deviation ``noise`` is added last and the images clipped to [0, 1], so with
    ``noise=0`` the mask's foreground is exactly ``image > 0.3``. Draw the training and the
    test set with different seeds.

    Args:
        n_samples: number of images (default: 256).
        size: the images' height and width in pixels, >= 8 (default: 32).
        n_classes: classes including the background, 2 to 4 (default: 4).
        noise: standard deviation of the pixel noise (default: 0.05).
        max_shapes: the most shapes in one image (default: 3).
        channels: 1 (grayscale) or 3 (each shape its own colour) (default: 1).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        ``(images, masks)``: images float32 (N, channels, size, size) in [0, 1], masks int64
        (N, size, size) in [0, n_classes).

    Example:
        >>> x_train, m_train = make_shapes_segmentation(64, size=16, seed=0)
        >>> x_test, m_test = make_shapes_segmentation(16, size=16, seed=1)
        >>> x_train.shape, x_train.dtype, m_train.shape, m_train.dtype
        ((64, 1, 16, 16), dtype('float32'), (64, 16, 16), dtype('int64'))
        >>> sorted(np.unique(m_train).tolist())
        [0, 1, 2, 3]
    """
    n = _check_int("n_samples", n_samples, 1)
    size = _check_int("size", size, 8)
    n_classes = _check_int("n_classes", n_classes, 2, len(SHAPE_CLASSES))
    slots = _check_int("max_shapes", max_shapes, 1)
    channels = _check_int("channels", channels, 1)
    if channels not in (1, 3):
        raise ValueError(f"make_shapes_segmentation: channels must be 1 or 3, got {channels}")
    if not noise >= 0:
        raise ValueError(f"make_shapes_segmentation: noise must be >= 0, got {noise}")
    rng = _seeded_rng("make_shapes_segmentation", seed, generator)

    # one row of parameters per shape slot; slots past an image's count stay unused
    count = rng.integers(1, slots + 1, size=n)
    active = np.arange(slots)[None, :] < count[:, None]  # (N, S)
    cls = rng.integers(1, n_classes, size=(n, slots))
    r = rng.uniform(max(2.0, size / 10), max(2.0, size / 5), size=(n, slots))
    cy = rng.uniform(r, size - 1 - r)
    cx = rng.uniform(r, size - 1 - r)
    turn = rng.uniform(0, 2 * np.pi, size=(n, slots))
    colour = rng.uniform(0.45, 1.0, size=(n, slots, channels))
    background = rng.uniform(0.0, 0.2, size=(n, channels))

    yy = np.arange(size, dtype=np.float64)[:, None]
    xx = np.arange(size, dtype=np.float64)[None, :]
    dy, dx = yy - cy[..., None, None], xx - cx[..., None, None]  # (N, S, H, W)
    radius = r[..., None, None]
    circle = dy**2 + dx**2 <= radius**2
    square = np.maximum(np.abs(dy), np.abs(dx)) <= 0.9 * radius  # about the circle's area
    corners = turn[..., None] + 2 * np.pi / 3 * np.arange(3)  # (N, S, 3)
    vy = cy[..., None] + 1.5 * r[..., None] * np.sin(corners)
    vx = cx[..., None] + 1.5 * r[..., None] * np.cos(corners)
    triangle = _inside_triangle(yy, xx, vy, vx)
    kind = cls[..., None, None]
    inside = np.where(kind == 1, circle, np.where(kind == 2, square, triangle))
    inside &= active[..., None, None]

    masks = np.zeros((n, size, size), dtype=np.int64)
    images = np.broadcast_to(background[:, :, None, None], (n, channels, size, size))
    for s in range(slots):  # painter's algorithm: later shapes on top
        here = inside[:, s]
        masks = np.where(here, cls[:, s, None, None], masks)
        images = np.where(here[:, None], colour[:, s, :, None, None], images)
    images = images + noise * rng.standard_normal(images.shape)
    return np.clip(images, 0.0, 1.0).astype(np.float32), masks
