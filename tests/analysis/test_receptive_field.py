"""Receptive fields: the analytical walk against hand-computed values for known stacks, and
against the field measured from gradients (nonzero ∂unit/∂input) for several chains."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.analysis.receptive_field import (
    ReceptiveFieldRow,
    empirical_receptive_field,
    receptive_field,
)
from nnlab.models import VGG, CNN1d, CNN3d, LeNet5, UNet, resnet


def _rf(model: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    return receptive_field(model, shape, verbose=False).rf


# -- analytical values -----------------------------------------------------------------------


def test_two_3x3_convs_see_5x5() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3))
    r = receptive_field(net, (1, 1, 16, 16), verbose=False)
    assert [row.rf for row in r.rows] == [(1, 1), (3, 3), (3, 3), (5, 5)]
    assert r.jump == (1, 1) and r.rows[-1].output_size == (12, 12)
    assert isinstance(r.rows[1], ReceptiveFieldRow) and r.rows[1].kernel == (3, 3)


def test_conv3_pool2_conv3_sees_8() -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.Conv2d(2, 2, 3))
    r = receptive_field(net, (1, 1, 20, 20), verbose=False)
    assert [(row.rf[0], row.jump[0]) for row in r.rows] == [(1, 1), (3, 1), (4, 2), (8, 2)]
    assert r.rows[-1].start == (3.5, 3.5)  # unit 0 is centred between pixels 3 and 4


@pytest.mark.parametrize(
    "dilations,expected",
    [((2,), 5), ((1, 2), 7), ((1, 2, 4), 15), ((1, 2, 4, 8), 31)],
)
def test_dilated_convs_grow_exponentially(dilations, expected) -> None:
    """Yu & Koltun (2016): 3×3 convolutions with dilations 1, 2, 4, ... see 2^(L+1) − 1."""
    layers = [nn.Conv2d(1, 1, 3, dilation=d, padding=d) for d in dilations]
    assert _rf(nn.Sequential(*layers), (1, 1, 40, 40)) == (expected, expected)


def test_strides_multiply_the_jump() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3, stride=2))
    r = receptive_field(net, (1, 1, 33, 33), verbose=False)
    assert r.rf == (7, 7) and r.jump == (4, 4)


def test_rectangular_and_1d_and_3d() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, (3, 1)), nn.Conv2d(1, 1, (1, 5)))
    assert _rf(net, (1, 1, 10, 10)) == (3, 5)
    r = receptive_field(CNN1d(), (1, 1, 40), verbose=False)  # k5 s2 three times
    convs = [row for row in r.rows if row.type == "Conv1d"]
    assert [(row.rf[0], row.jump[0]) for row in convs] == [(5, 2), (13, 4), (29, 8)]
    r3 = receptive_field(CNN3d(widths=(2, 2)), (1, 1, 8, 8, 8), verbose=False)
    pools = [row for row in r3.rows if row.type == "MaxPool3d"]
    assert [row.rf for row in pools] == [(4, 4, 4), (10, 10, 10)]


def test_lenet5_fields() -> None:
    r = receptive_field(LeNet5(), (1, 1, 32, 32), verbose=False)
    fields = {row.path: (row.rf[0], row.jump and row.jump[0]) for row in r.rows}
    assert fields["conv1"] == (5, 1) and fields["pool1"] == (6, 2)
    assert fields["conv2"] == (14, 2) and fields["pool2"] == (16, 4)
    assert fields["fc1"] == (32, None)  # fully connected: the whole 5×5 map, 16 + 4·4
    assert r.rf == (32, 32)


def test_vgg_stack() -> None:
    r = receptive_field(VGG(cfg=[2, 2, "M", 2, 2, "M"], in_channels=1), (1, 1, 16, 16), False)
    convs = [row.rf[0] for row in r.rows if row.type in ("Conv2d", "MaxPool2d")]
    assert convs == [3, 5, 6, 10, 14, 16]


def test_resnet_walks_the_main_path() -> None:
    model = resnet(blocks=[1, 1], widths=[2, 4], in_channels=1)
    r = receptive_field(model, (1, 1, 16, 16), verbose=False)
    assert not any("downsample" in row.path for row in r.rows)
    # stem 3, block 1: 5, 7; block 2 (stride 2 on its first conv): 9, 13
    convs = [row.rf[0] for row in r.rows if row.type == "Conv2d"]
    assert convs == [3, 5, 7, 9, 13]
    assert r.row("layer2.0.conv2").jump == (2, 2)
    assert r.row("avgpool").rf == (13 + 7 * 2,) * 2  # the whole 8×8 map of jump 2
    plain = receptive_field(resnet(blocks=[1, 1], widths=[2, 4], in_channels=1, plain=True),
                            (1, 1, 16, 16), verbose=False)  # fmt: skip
    assert [row.rf for row in plain.rows] == [row.rf for row in r.rows]


def test_transposed_conv_and_upsample_divide_the_jump() -> None:
    net = nn.Sequential(nn.Conv2d(1, 1, 2, stride=2), nn.ConvTranspose2d(1, 1, 2, stride=2))
    r = receptive_field(net, (1, 1, 8, 8), verbose=False)
    assert r.rows[-1].jump == (1, 1) and r.rf == (2, 2)  # each output: one input window
    up = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.Upsample(scale_factor=2))
    r = receptive_field(up, (1, 1, 9, 9), verbose=False)
    assert r.rows[-1].jump == (1, 1) and r.rf == (3, 3)
    bilinear = nn.Sequential(
        nn.Conv2d(1, 1, 3, stride=2), nn.Upsample(scale_factor=2, mode="bilinear")
    )
    assert _rf(bilinear, (1, 1, 9, 9)) == (5, 5)  # two neighbours, 2 apart


def test_padding_layer_moves_start_only() -> None:
    net = nn.Sequential(nn.ZeroPad2d((1, 1, 2, 2)), nn.Conv2d(1, 1, 3))
    r = receptive_field(net, (1, 1, 8, 8), verbose=False)
    assert r.rows[1].start == (-2.0, -1.0) and r.rows[1].rf == (1, 1)
    assert r.rows[-1].start == (-1.0, 0.0) and r.rf == (3, 3)


# -- analytical == empirical -----------------------------------------------------------------

CHAINS = {
    "two-convs": (lambda: nn.Sequential(nn.Conv2d(1, 3, 3), nn.Tanh(), nn.Conv2d(3, 3, 3)),
                  (4, 1, 15, 15)),
    "conv-pool-conv": (lambda: nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2),
                                             nn.Conv2d(4, 4, 3)), (16, 1, 24, 24)),
    "dilated": (lambda: nn.Sequential(*[nn.Conv2d(2, 2, 3, dilation=d, padding=d)
                                        for d in (1, 2, 4)]), (4, 2, 33, 33)),
    "strided-avgpool": (lambda: nn.Sequential(nn.Conv2d(1, 2, 5, stride=2), nn.Tanh(),
                                              nn.AvgPool2d(3, stride=2), nn.Conv2d(2, 2, 3)),
                        (4, 1, 41, 41)),
    "lenet5-features": (lambda: LeNet5()[:6], (8, 1, 32, 32)),
    "vgg-features": (lambda: VGG(cfg=[8, 8, "M", 8, 8, "M", 8], in_channels=1).features[:-1],
                     (32, 1, 40, 40)),  # up to the last BN: a dead ReLU would hide the unit
    "resnet-body": (lambda: nn.Sequential(*list(resnet(blocks=[1, 1], widths=[4, 4],
                                                       in_channels=1).children())[:5]),
                    (16, 1, 41, 41)),
    "cnn1d-features": (lambda: CNN1d(widths=(4, 4, 4)).features, (16, 1, 80)),
    "cnn3d-features": (lambda: CNN3d(widths=(4, 4)).features, (64, 1, 18, 18, 18)),
    "unet": (lambda: UNet(depth=2, base_width=4), (8, 1, 64, 64)),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CHAINS))
def test_analytical_equals_empirical(name: str) -> None:
    build, shape = CHAINS[name]
    nnlab.manual_seed(0)
    model = build()
    analytical = receptive_field(model, shape, verbose=False)
    measured = empirical_receptive_field(model, shape)
    assert measured.size == analytical.rf, f"{name}: measured {measured}"
    if name == "unet":
        # A U-Net unit mixes paths with fields of different sizes (not a full box), and
        # after a transposed convolution the fields' centres are not evenly spaced (the
        # start is their average), so only the size is compared.
        return
    assert measured.count == int(np.prod(measured.size))
    # the field sits where the walk says: centre = start + index·jump
    last = analytical.rows[-1]
    for (lo, hi), idx, start, jump in zip(measured.bounds, measured.output_index, last.start,
                                          last.jump):  # fmt: skip
        assert (lo + hi) / 2 == start + idx * jump


def test_empirical_for_a_classifier_sees_everything() -> None:
    measured = empirical_receptive_field(LeNet5(), (4, 1, 32, 32))
    assert measured.size == (32, 32) and measured.count == 1024 and measured.output_index == ()


def test_empirical_is_clipped_by_the_border() -> None:
    net = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(6)])  # field 13
    measured = empirical_receptive_field(net, (2, 1, 9, 9))
    assert _rf(net, (2, 1, 9, 9)) == (13, 13) and measured.size == (9, 9)


def test_empirical_output_index_and_untouched_state() -> None:
    nnlab.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.Conv2d(2, 1, 3))
    net.train()
    before = {k: v.array.copy() for k, v in net.state_dict().items()}
    measured = empirical_receptive_field(net, (8, 1, 12, 12), output_index=(0, 0))
    assert measured.bounds == ((0, 4), (0, 4))
    assert net.training and all(m.training for m in net.modules())
    assert all(p.grad is None for p in net.parameters())
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    r = receptive_field(net, (1, 1, 12, 12), verbose=False)
    assert net.training
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v.array, before[k])
    assert r.rf == (5, 5)


# -- errors and display ----------------------------------------------------------------------


def test_errors() -> None:
    with pytest.raises(ValueError, match="spatial"):
        receptive_field(nn.Linear(4, 2), (1, 4), verbose=False)

    class SpaceToDepth(nn.Module):
        def forward(self, x):
            n, c, h, w = x.shape
            return x.reshape(n, c * 4, h // 2, w // 2)

    with pytest.raises(ValueError, match="SpaceToDepth"):
        receptive_field(nn.Sequential(nn.Conv2d(1, 1, 3), SpaceToDepth()), (1, 1, 8, 8), False)
    with pytest.raises(ValueError, match="output_index"):
        empirical_receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 8, 8), output_index=(1,))


def test_table_prints(capsys) -> None:
    r = receptive_field(LeNet5(), (1, 1, 32, 32))
    printed = capsys.readouterr().out
    assert "LeNet5 receptive field" in printed and "pool2" in printed
    text = str(r)
    for header in ("Layer", "Jump", "RF", "Start"):
        assert header in text
    assert "16 × 5×5" in text  # pool2: 16 channels of 5×5
    assert repr(r) == text.rstrip("\n")
    with pytest.raises(KeyError, match="no layer"):
        r.row("conv9")
