"""The helpers of the convolution experiments: shapes, shifts, windows, receptive fields."""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.convolution import (
    conv_output_size,
    receptive_field_formula,
    shift_images,
    window_mask,
)
from experiments.segmentation import shape_images, transposed_output_size
from nnlab import nn


def test_shift_images_moves_content_and_fills_zeros():
    x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4) + 1
    down = shift_images(x, 1, 0)
    assert (down[0, 0, 0] == 0).all()
    np.testing.assert_array_equal(down[0, 0, 1:], x[0, 0, :3])
    left = shift_images(x, 0, -2)
    np.testing.assert_array_equal(left[0, 0, :, :2], x[0, 0, :, 2:])
    assert (left[0, 0, :, 2:] == 0).all()


def test_conv_and_transposed_sizes_are_inverse():
    for n, k, s, p in [(8, 3, 1, 1), (9, 3, 2, 1), (16, 4, 2, 1), (10, 5, 3, 0)]:
        out = conv_output_size(n, k, s, p)
        layer = nn.Conv2d(1, 1, k, stride=s, padding=p)
        assert layer(nnlab.zeros(1, 1, n, n)).shape[-1] == out
        extra = n - transposed_output_size(out, k, s, p, 0)
        assert 0 <= extra < s
        assert transposed_output_size(out, k, s, p, extra) == n


def test_receptive_field_formula_known_values():
    assert receptive_field_formula([(3, 1, 1, False)] * 3) == 7
    assert receptive_field_formula([(3, 2, 1, False)] * 2) == 7
    assert receptive_field_formula([(3, 1, 1, False), (3, 1, 2, False)]) == 7
    assert receptive_field_formula([(3, 1, 1, True)]) == 4


def test_window_mask_counts_neighbours():
    mask = window_mask(4, 3)
    assert mask.shape == (16, 16)
    per_pixel = mask.sum(axis=1).reshape(4, 4)
    assert per_pixel[0, 0] == 4 and per_pixel[0, 1] == 6 and per_pixel[1, 1] == 9
    np.testing.assert_array_equal(mask, mask.T)


def test_shape_images_masks_label_the_bright_pixels():
    images, masks = shape_images(np.random.default_rng(0), 8, 16, noise=0.0)
    assert images.shape == (8, 1, 16, 16) and masks.shape == (8, 16, 16)
    np.testing.assert_array_equal(images[:, 0] > 0.25, masks > 0)
    assert set(np.unique(masks)) <= {0, 1, 2}
