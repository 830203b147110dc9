"""Synthetic medical images: lesions of varying size and contrast on textured tissue.

Real lesion segmentation (tumours in MRI, nodules in CT, lesions in dermoscopy) is hard
for reasons this generator reproduces, at a size that trains on a CPU in seconds:

* **texture**: the background is not flat but tissue-like *fractal noise* (a 1/f^β power
  spectrum, the statistics of natural images), so a lesion must be told from blobs of
  texture, not from a constant;
* **faint lesions**: each lesion's contrast is drawn on a log scale, so some stand well
  out of the texture and some barely do;
* **imbalance**: lesions are small (a few percent of the pixels) and some images have none;
* **acquisition**: a smooth intensity drift across the image (like the bias field of MRI),
  a per-image brightness, optional blur (the point-spread function) and sensor noise.

Each image comes with its lesion mask and an image-level label (lesion present or not),
so the same data serves segmentation and classification.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter

from nnlab.data.preprocessing import _seeded_rng
from nnlab.random import Generator

__all__ = ["LesionImages", "fractal_texture", "make_lesions"]

_FN = "make_lesions"


class LesionImages(NamedTuple):
    """Images, their lesion masks and image-level labels (unpacks as a tuple).

    Attributes:
        images: float32 (N, 1, size, size) intensities in [0, 1].
        masks: int64 (N, size, size), 1 on lesion pixels, 0 elsewhere.
        labels: int64 (N,), 1 when the image holds a lesion (``masks.any((1, 2))``).
        contrast: float32 (N,), the contrast of the image's faintest lesion (0 without a
            lesion): how hard the image is.
    """

    images: np.ndarray
    masks: np.ndarray
    labels: np.ndarray
    contrast: np.ndarray


def _check_int(name: str, value: int, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{_FN}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{_FN}: {name} must be >= {minimum}, got {value}")
    return int(value)


def _check_range(name: str, bounds: tuple[float, float], low: float) -> tuple[float, float]:
    lo, hi = bounds
    if not low < lo <= hi:
        raise ValueError(f"{_FN}: {name} must be a pair ({low} <) lo <= hi, got {bounds!r}")
    return float(lo), float(hi)


def fractal_texture(rng: np.random.Generator, n: int, size: int, beta: float) -> np.ndarray:
    """(n, size, size) noise with power spectrum 1/f^β, each image scaled to mean 0 and
    standard deviation 1: white noise filtered by an amplitude f^(-β/2) in Fourier space.
    β = 0 is white noise; β ≈ 2 to 3 looks like soft tissue or clouds."""
    f = np.fft.fftfreq(size)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    radius[0, 0] = 1.0  # the mean (f = 0) is removed below anyway
    spectrum = np.fft.fft2(rng.standard_normal((n, size, size))) * radius ** (-beta / 2)
    texture = np.fft.ifft2(spectrum).real
    texture -= texture.mean(axis=(1, 2), keepdims=True)
    return texture / texture.std(axis=(1, 2), keepdims=True)


def make_lesions(
    n_samples: int = 128,
    size: int = 32,
    lesion_rate: float = 0.6,
    max_lesions: int = 2,
    radius: tuple[float, float] = (0.06, 0.16),
    contrast: tuple[float, float] = (0.06, 0.4),
    texture: float = 0.08,
    noise: float = 0.03,
    blur: float = 0.6,
    drift: float = 0.1,
    *,
    seed: int | None = None,
    generator: Generator | None = None,
) -> LesionImages:
    """Grey-level images of tissue, a ``lesion_rate`` share of them with 1 to
    ``max_lesions`` bright elliptical lesions, and their masks.

    The generator, per image (all draws uniform unless said otherwise):

    1. tissue: brightness b ∈ [0.3, 0.5], plus ``texture`` × fractal noise
       (:func:`fractal_texture`, β ∈ [2, 3]), plus a linear drift of amplitude ``drift``
       across the image in a random direction;
    2. lesions: exactly ``round(lesion_rate · n_samples)`` images get lesions, 1 to
       ``max_lesions`` each; a lesion is an ellipse with semi-axes ``radius`` × size
       (each drawn in the range, the shorter at least 1.5 pixels), a random turn, and a
       contrast c drawn log-uniformly in ``contrast``. Its intensity profile adds
       c·(1 - r²/2) at elliptic radius r ≤ 1 (brightest in the middle, c/2 at the rim),
       overlapping lesions taking the larger; the mask is r ≤ 1;
    3. acquisition: Gaussian blur of standard deviation ``blur`` pixels, then Gaussian
       noise of standard deviation ``noise``, then clipping to [0, 1].

    The mask is drawn before blur and noise: it is the truth, not what is visible. With
    ``texture = drift = blur = noise = 0`` the mask is exactly the pixels brighter than the
    image's tissue. For comparison, a contrast below ``texture`` hides the lesion in the
    texture's own spread. Draw the training and the test set with different seeds.

    Args:
        n_samples: number of images (default: 128).
        size: height and width in pixels, >= 8 (default: 32).
        lesion_rate: share of images with lesions, in [0, 1] (default: 0.6).
        max_lesions: the most lesions in one image, >= 1 (default: 2).
        radius: range of the semi-axes as fractions of ``size`` (default: (0.06, 0.16)).
        contrast: range of the lesions' contrast, > 0 (default: (0.06, 0.4)).
        texture: standard deviation of the tissue texture (default: 0.08).
        noise: standard deviation of the sensor noise (default: 0.03).
        blur: standard deviation of the blur in pixels, 0 for none (default: 0.6).
        drift: amplitude of the intensity drift across the image (default: 0.1).
        seed, generator: an int seed, or a Generator to draw from (default: the global
            generator, so ``nnlab.manual_seed`` fixes the data).

    Returns:
        :class:`LesionImages` ``(images, masks, labels, contrast)``.

    Example:
        >>> data = make_lesions(40, size=16, lesion_rate=0.5, seed=0)
        >>> data.images.shape, data.masks.shape, int(data.labels.sum())
        ((40, 1, 16, 16), (40, 16, 16), 20)
        >>> bool((data.labels == data.masks.any(axis=(1, 2))).all())
        True
    """
    n = _check_int("n_samples", n_samples, 1)
    size = _check_int("size", size, 8)
    slots = _check_int("max_lesions", max_lesions, 1)
    if not 0 <= lesion_rate <= 1:
        raise ValueError(f"{_FN}: lesion_rate must be in [0, 1], got {lesion_rate}")
    r_lo, r_hi = _check_range("radius", radius, 0.0)
    c_lo, c_hi = _check_range("contrast", contrast, 0.0)
    for name, value in (("texture", texture), ("noise", noise), ("blur", blur), ("drift", drift)):
        if not value >= 0:
            raise ValueError(f"{_FN}: {name} must be >= 0, got {value}")
    rng = _seeded_rng(_FN, seed, generator)

    # 1. tissue
    yy = np.arange(size, dtype=np.float64)[:, None]
    xx = np.arange(size, dtype=np.float64)[None, :]
    brightness = rng.uniform(0.3, 0.5, size=n)
    beta = rng.uniform(2.0, 3.0, size=(n, 1, 1))
    tissue = np.stack([fractal_texture(rng, 1, size, b)[0] for b in beta[:, 0, 0]])
    angle = rng.uniform(0, 2 * np.pi, size=(n, 1, 1))
    ramp = np.cos(angle) * (xx / (size - 1) - 0.5) + np.sin(angle) * (yy / (size - 1) - 0.5)
    background = brightness[:, None, None] + texture * tissue + drift * ramp

    # 2. lesions: one row of parameters per slot; slots past an image's count stay unused
    has_lesion = np.zeros(n, dtype=bool)
    has_lesion[: round(lesion_rate * n)] = True
    rng.shuffle(has_lesion)
    count = np.where(has_lesion, rng.integers(1, slots + 1, size=n), 0)
    active = np.arange(slots)[None, :] < count[:, None]  # (N, S)
    axes = rng.uniform(r_lo, r_hi, size=(n, slots, 2)) * size
    axes = np.maximum(axes, 1.5)
    cy = rng.uniform(axes.max(-1), size - 1 - axes.max(-1))
    cx = rng.uniform(axes.max(-1), size - 1 - axes.max(-1))
    turn = rng.uniform(0, np.pi, size=(n, slots))
    lesion_contrast = np.exp(rng.uniform(np.log(c_lo), np.log(c_hi), size=(n, slots)))

    dy, dx = yy - cy[..., None, None], xx - cx[..., None, None]  # (N, S, H, W)
    cos, sin = np.cos(turn)[..., None, None], np.sin(turn)[..., None, None]
    u = (cos * dx + sin * dy) / axes[..., 0, None, None]
    v = (-sin * dx + cos * dy) / axes[..., 1, None, None]
    r2 = u**2 + v**2
    inside = (r2 <= 1) & active[..., None, None]
    profile = np.where(inside, lesion_contrast[..., None, None] * (1 - r2 / 2), 0.0)
    masks = inside.any(axis=1).astype(np.int64)
    images = background + profile.max(axis=1)

    # 3. acquisition
    if blur > 0:
        images = gaussian_filter(images, sigma=(0, blur, blur), mode="reflect")
    images = images + noise * rng.standard_normal(images.shape)
    images = np.clip(images, 0.0, 1.0)

    # semi-axes of at least 1.5 pixels always cover the pixel nearest the centre, so every
    # drawn lesion shows in its mask and the labels are exactly the images given lesions
    labels = masks.any(axis=(1, 2)).astype(np.int64)
    faintest = np.where(active, lesion_contrast, np.inf).min(axis=1)
    faintest = np.where(has_lesion, faintest, 0.0)
    return LesionImages(
        images[:, None].astype(np.float32), masks, labels, faintest.astype(np.float32)
    )
