"""The synthetic lesion images: seeded determinism, masks that agree with the labels and
with the image, the stated balance of lesion images, the texture's spectrum, and errors."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab.data.datasets.lesions import fractal_texture, make_lesions


def test_seeded_and_deterministic() -> None:
    a, b, c = make_lesions(20, seed=3), make_lesions(20, seed=3), make_lesions(20, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.images, c.images)
    nnlab.manual_seed(5)
    d = make_lesions(20)
    nnlab.manual_seed(5)
    np.testing.assert_array_equal(d.images, make_lesions(20).images)


def test_shapes_types_and_ranges() -> None:
    data = make_lesions(12, size=24, seed=0)
    assert data.images.shape == (12, 1, 24, 24) and data.images.dtype == np.float32
    assert data.masks.shape == (12, 24, 24) and data.masks.dtype == np.int64
    assert data.labels.shape == (12,) and data.labels.dtype == np.int64
    assert data.images.min() >= 0 and data.images.max() <= 1
    assert set(np.unique(data.masks)) <= {0, 1}


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.6, 1.0])
def test_labels_agree_with_masks_and_the_stated_rate(rate: float) -> None:
    data = make_lesions(40, lesion_rate=rate, seed=1)
    np.testing.assert_array_equal(data.labels, data.masks.any(axis=(1, 2)))
    assert data.labels.sum() == round(rate * 40)
    assert ((data.contrast > 0) == (data.labels == 1)).all()


def test_lesions_are_small_and_within_the_contrast_range() -> None:
    data = make_lesions(200, seed=2)
    lesion_share = data.masks[data.labels == 1].mean()
    assert 0.005 < lesion_share < 0.15  # few lesion pixels: the segmentation imbalance
    faintest = data.contrast[data.labels == 1]
    assert faintest.min() >= 0.06 - 1e-6 and faintest.max() <= 0.4 + 1e-6


def test_clean_images_show_the_mask_exactly() -> None:
    # without texture, drift, blur and noise the tissue is flat and only lesions are brighter
    data = make_lesions(30, texture=0, noise=0, blur=0, drift=0, seed=6)
    tissue = data.images.min(axis=(1, 2, 3), keepdims=True)
    np.testing.assert_array_equal(data.images[:, 0] > tissue[:, 0] + 1e-6, data.masks == 1)


def test_fractal_texture_has_the_power_law() -> None:
    rng = np.random.default_rng(0)
    texture = fractal_texture(rng, 64, 32, beta=2.0)
    np.testing.assert_allclose(texture.mean(axis=(1, 2)), 0, atol=1e-12)
    np.testing.assert_allclose(texture.std(axis=(1, 2)), 1, rtol=1e-12)
    power = (np.abs(np.fft.fft2(texture)) ** 2).mean(axis=0)
    f = np.fft.fftfreq(32)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    low = power[(radius > 0.05) & (radius < 0.1)].mean()
    high = power[(radius > 0.2) & (radius < 0.4)].mean()
    # 1/f^2: a frequency 4x higher has about 16x less power (the bands average 0.075, 0.3)
    assert 8 < low / high < 32


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="make_lesions: lesion_rate"):
        make_lesions(4, lesion_rate=1.5)
    with pytest.raises(ValueError, match="make_lesions: contrast"):
        make_lesions(4, contrast=(0.3, 0.1))
    with pytest.raises(ValueError, match="make_lesions: size must be >= 8"):
        make_lesions(4, size=4)
    with pytest.raises(TypeError, match="make_lesions: n_samples must be an int"):
        make_lesions(4.0)
    with pytest.raises(ValueError, match="make_lesions: noise"):
        make_lesions(4, noise=-1)
