"""Channel dropout (Dropout1d/2d/3d, F.dropout1d/2d/3d): whole channels, statistics, seeding,
gradients, evaluation, and errors and warnings like PyTorch's.

torch cannot reproduce nnlab's masks (different generators), so the masks are checked by
their properties: every channel x[n, c] is either all zeros or all x/(1 - p); the fraction
of dropped channels is p within 5 standard deviations; the gradient is the same mask; the
same seed gives the same mask.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import nnlab
import nnlab.nn.functional as F
from nnlab import nn

T = torch.nn
TF = torch.nn.functional

LAYERS = [(nn.Dropout1d, (40, 50, 3)), (nn.Dropout2d, (40, 50, 2, 3)),
          (nn.Dropout3d, (40, 50, 2, 1, 3))]  # fmt: skip


def _channel_scale(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """y / x per channel, asserting it is the same over each channel's positions."""
    ratio = (y / x).reshape(y.shape[0], y.shape[1], -1)
    np.testing.assert_allclose(ratio, ratio[..., :1] * np.ones_like(ratio), rtol=1e-6)
    return ratio[..., 0]


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("layer, shape", LAYERS, ids=["1d", "2d", "3d"])
def test_whole_channels_are_dropped_with_probability_p(layer, shape, p) -> None:
    nnlab.manual_seed(11)
    x = np.random.default_rng(0).uniform(0.5, 1.5, shape).astype(np.float32)
    y = layer(p)(nnlab.tensor(x)).array
    scale = _channel_scale(y, x)
    kept = scale > 0
    np.testing.assert_allclose(scale[kept], 1 / (1 - p), rtol=1e-6)
    channels = shape[0] * shape[1]
    sigma = np.sqrt(p * (1 - p) / channels)
    assert abs((1 - kept.mean()) - p) < 5 * sigma
    assert 0 < kept.sum() < channels  # both outcomes occur (2000 channels)


@pytest.mark.parametrize("layer, shape", LAYERS, ids=["1d", "2d", "3d"])
def test_gradient_is_the_mask(layer, shape) -> None:
    x = nnlab.tensor(np.random.default_rng(1).uniform(0.5, 1.5, shape), requires_grad=True)
    y = layer(0.4)(x)
    g = np.random.default_rng(2).standard_normal(shape)
    y.backward(g)
    mask = y.array / x.array
    np.testing.assert_allclose(x.grad.array, g * mask, rtol=1e-12)


def test_seeding_reproduces_masks() -> None:
    x = nnlab.ones(8, 16, 3, 3)
    drop = nn.Dropout2d(0.5)
    nnlab.manual_seed(3)
    a = drop(x).array
    b = drop(x).array
    nnlab.manual_seed(3)
    np.testing.assert_array_equal(drop(x).array, a)
    np.testing.assert_array_equal(drop(x).array, b)
    assert not np.array_equal(a, b)  # consecutive calls draw new masks
    g = nnlab.random.Generator(5)
    c = F.dropout2d(x, 0.5, generator=g).array
    np.testing.assert_array_equal(F.dropout2d(x, 0.5, generator=nnlab.random.Generator(5)).array, c)


def test_expected_value_is_preserved() -> None:
    nnlab.manual_seed(0)
    y = nn.Dropout2d(0.3)(nnlab.ones(100, 100, 2, 2)).array
    assert abs(y.mean() - 1.0) < 5 * np.sqrt(0.3 / 0.7 / 10_000)


@pytest.mark.parametrize("layer, shape", LAYERS, ids=["1d", "2d", "3d"])
def test_evaluation_and_extreme_p(layer, shape) -> None:
    x = nnlab.tensor(np.random.default_rng(4).standard_normal(shape))
    np.testing.assert_array_equal(layer(0.5).eval()(x).array, x.array)
    np.testing.assert_array_equal(layer(0.0)(x).array, x.array)
    np.testing.assert_array_equal(layer(1.0)(x).array, np.zeros(shape))


def test_unbatched_inputs_drop_channels() -> None:
    """(C, L) for Dropout1d and (C, D, H, W) for Dropout3d are single samples, as torch."""
    nnlab.manual_seed(1)
    for layer, shape in ((nn.Dropout1d(0.5), (200, 4)), (nn.Dropout3d(0.5), (200, 2, 2, 2))):
        x = np.ones(shape)
        y = layer(nnlab.tensor(x)).array
        assert y.shape == shape
        per_channel = y.reshape(shape[0], -1)
        assert ((per_channel == 0).all(1) | (per_channel == 2).all(1)).all()
        assert 0 < (per_channel[:, 0] == 0).sum() < shape[0]


def test_dropout2d_3d_input_is_read_as_n_c_l_with_a_warning_like_torch() -> None:
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input"):
        TF.dropout2d(torch.ones(4, 5, 6))
    nnlab.manual_seed(2)
    with pytest.warns(UserWarning, match="dropout2d: Received a 3D input"):
        y = F.dropout2d(nnlab.ones(40, 50, 6)).array
    assert ((y == 0).all(-1) | (y == 2).all(-1)).all()
    with pytest.warns(UserWarning, match="dropout3d: Received a 3-D input"):
        F.dropout3d(nnlab.ones(4, 5, 6))


def test_errors_like_torch() -> None:
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        TF.dropout1d(torch.ones(2, 3, 4, 5))
    with pytest.raises(RuntimeError, match=r"dropout1d: Expected 2D or 3D input.*\(2, 3, 4, 5\)"):
        F.dropout1d(nnlab.ones(2, 3, 4, 5))
    for ours, theirs in ((F.dropout1d, TF.dropout1d), (F.dropout2d, TF.dropout2d),
                         (F.dropout3d, TF.dropout3d)):  # fmt: skip
        with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
            theirs(torch.ones(2, 3, 4, 5, 6), p=1.5)
        with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
            ours(nnlab.ones(2, 3, 4, 5, 6), p=1.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(-0.1)


def test_dropout1d_layer_raises_shape_error_with_path() -> None:
    with pytest.raises(nn.ShapeError, match=r"model\.1 \(Dropout1d\).*\(N, C, L\).*Dropout2d"):
        nn.Sequential(nn.Identity(), nn.Dropout1d())(nnlab.zeros(2, 3, 4, 4))


@pytest.mark.parametrize(
    "name, shape, pattern",
    [
        ("Dropout2d", (2, 3), "dropout2d: Received a 2-D input"),
        ("Dropout2d", (2, 3, 4, 4, 4), "dropout2d: Received a 5-D input"),
        ("Dropout3d", (2, 3, 4), "dropout3d: Received a 3-D input"),
    ],
)  # fmt: skip
def test_channel_dropout_layers_warn_on_other_ranks_as_torch(name, shape, pattern) -> None:
    with pytest.warns(UserWarning, match=pattern):
        theirs = getattr(T, name)(0.5)(torch.ones(*shape))
    with pytest.warns(UserWarning, match=pattern):
        ours = getattr(nn, name)(0.5)(nnlab.ones(*shape))
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert set(np.unique(ours.numpy())) <= {0.0, 2.0}


def test_reprs_match_torch() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the layers themselves warn about nothing
        for name in ("Dropout1d", "Dropout2d", "Dropout3d"):
            assert repr(getattr(nn, name)(0.3)) == repr(getattr(T, name)(0.3))
            assert repr(getattr(nn, name)()) == repr(getattr(T, name)())
            # as in torch, channel dropout is not a kind of element-wise Dropout
            assert not isinstance(getattr(nn, name)(), nn.Dropout)
            assert not isinstance(getattr(T, name)(), T.Dropout)
