"""U-Net (Ronneberger, Fischer and Brox, "U-Net: Convolutional Networks for Biomedical Image
Segmentation", MICCAI 2015): a per-pixel classifier shaped like a U.

The *encoder* (contracting path) alternates two 3×3 convolutions with a 2×2 max pooling:
each level halves the resolution and doubles the channels, so deep features see a wide
context but have lost the exact position. The *decoder* (expanding path) climbs back up:
a 2×2 transposed convolution doubles the resolution, the encoder's feature map of the
same level is concatenated to it (the *skip connection*, which brings back the fine
detail), and two 3×3 convolutions merge the two. A 1×1 convolution maps each pixel's
features to ``n_classes`` logits::

    depth 2, base width w, input (N, C, H, W)
    enc0  DoubleConv(C → w)        (N, w, H, W) ───────────────── skip ──┐
    pool                           (N, w, H/2, W/2)                      │
    enc1  DoubleConv(w → 2w)       (N, 2w, H/2, W/2) ─── skip ──┐        │
    pool                           (N, 2w, H/4, W/4)            │        │
    bottleneck DoubleConv(2w → 4w) (N, 4w, H/4, W/4)            │        │
    up0   ConvTranspose(4w → 2w)   (N, 2w, H/2, W/2) ⊕ skip ←───┘        │
    dec0  DoubleConv(4w → 2w)      (N, 2w, H/2, W/2)                     │
    up1   ConvTranspose(2w → w)    (N, w, H, W) ⊕ skip ←─────────────────┘
    dec1  DoubleConv(2w → w)       (N, w, H, W)
    head  Conv2d(w → n_classes, 1) (N, n_classes, H, W)

Sizes that do not halve evenly: with ``padding="same"`` (the default) the convolutions
keep the size, pooling rounds down (37 → 18), and each transposed convolution is asked
for the skip's exact size (its ``output_size``: 18 → 37), so the output always has the
input's size. With ``padding="valid"`` (the paper's unpadded convolutions) every
DoubleConv loses 4 pixels and the skip is centre-cropped to the upsampled map, as in the
paper; the output is then smaller than the input.
"""

from __future__ import annotations

from collections.abc import Sequence

from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import ModuleList, Sequential
from nnlab.nn.modules.conv import Conv2d, ConvTranspose2d
from nnlab.nn.modules.normalization import BatchNorm2d
from nnlab.nn.modules.pooling import MaxPool2d
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = ["DoubleConv", "UNet"]


class DoubleConv(Sequential):
    """Two 3×3 convolutions, each followed by batch norm (optional) and ReLU: the unit of
    every U-Net level. Keys as a torch ``Sequential``: ``0`` conv, ``1`` BN, ``2`` ReLU,
    ``3`` conv, ``4`` BN, ``5`` ReLU (without BN: ``0``, ``1``, ``2``, ``3``, and the
    convolutions have a bias).

    Args:
        in_channels: input channels.
        out_channels: output channels of both convolutions.
        batch_norm: BatchNorm2d after each convolution (default: True).
        padding: 1 keeps the size (default); 0 loses 2 pixels per convolution.

    Example:
        >>> import nnlab
        >>> DoubleConv(3, 8)(nnlab.randn(1, 3, 7, 7)).shape
        nnlab.Size([1, 8, 7, 7])
    """

    def __init__(
        self, in_channels: int, out_channels: int, batch_norm: bool = True, padding: int = 1
    ) -> None:
        layers: list[Module] = []
        for c_in in (in_channels, out_channels):
            layers.append(Conv2d(c_in, out_channels, 3, padding=padding, bias=not batch_norm))
            if batch_norm:
                layers.append(BatchNorm2d(out_channels))
            layers.append(ReLU())
        super().__init__(*layers)


def _center_crop(x: Tensor, size: Sequence[int]) -> Tensor:
    """The central ``size`` window of the last two dims (the paper's skip cropping)."""
    h, w = x.shape[-2:]
    top, left = (h - size[0]) // 2, (w - size[1]) // 2
    return x[..., top : top + size[0], left : left + size[1]]


@register_model(
    "unet",
    reads="image",
    tasks="segmentation",
    args=lambda d: {"in_channels": d.input_shape[0], "n_classes": d.outputs},
)
class UNet(Module):
    """A small U-Net for semantic segmentation: per-pixel logits (N, n_classes, H, W).

    Level k of the encoder has ``base_width·2^k`` channels (k = 0 … depth − 1), the
    bottleneck ``base_width·2^depth``; the decoder mirrors the encoder. See the module
    docstring for the stages and their shapes.

    Submodules (the ``state_dict`` prefixes): ``encoders.k`` and ``decoders.k``
    (:class:`DoubleConv`), ``pool``, ``bottleneck``, ``upconvs.k`` (ConvTranspose2d,
    kernel 2, stride 2), ``head`` (1×1 Conv2d). Decoder k concatenates
    ``[skip, upsampled]`` along the channels, in that order.

    Args:
        in_channels: channels of the input images (default: 1).
        n_classes: output channels, one logit per class (default: 2).
        depth: number of poolings (default: 3).
        base_width: channels of the first level (default: 16; the paper used 64).
        batch_norm: BatchNorm2d after each 3×3 convolution (default: True; the paper
            predates batch norm).
        padding: "same" (output size = input size, any size) or "valid" (the paper's
            unpadded convolutions with cropped skips) (default: "same").

    Shape:
        - Input: (N, in_channels, H, W); with "same" any H, W ≥ 2^depth.
        - Output: (N, n_classes, H, W) with "same".

    Example:
        >>> import nnlab
        >>> net = UNet(in_channels=3, n_classes=4, depth=2, base_width=8)
        >>> net(nnlab.randn(2, 3, 17, 20)).shape          # odd sizes are fine
        nnlab.Size([2, 4, 17, 20])
        >>> UNet(depth=1, base_width=4, padding="valid")(nnlab.randn(1, 1, 28, 28)).shape
        nnlab.Size([1, 2, 12, 12])
    """

    def __init__(
        self,
        in_channels: int = 1,
        n_classes: int = 2,
        depth: int = 3,
        base_width: int = 16,
        batch_norm: bool = True,
        padding: str = "same",
    ) -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"UNet: depth must be ≥ 1 (the number of poolings), got {depth}")
        if padding not in ("same", "valid"):
            raise ValueError(f"UNet: padding must be 'same' or 'valid', got {padding!r}")
        self.in_channels = in_channels
        self.n_classes = n_classes
        self.depth = depth
        self.base_width = base_width
        self.padding = padding
        pad = 1 if padding == "same" else 0
        widths = [base_width * 2**k for k in range(depth + 1)]
        self.encoders = ModuleList()
        channels = in_channels
        for w in widths[:-1]:
            self.encoders.append(DoubleConv(channels, w, batch_norm, pad))
            channels = w
        self.pool = MaxPool2d(2)
        self.bottleneck = DoubleConv(channels, widths[-1], batch_norm, pad)
        self.upconvs = ModuleList()
        self.decoders = ModuleList()
        for k in reversed(range(depth)):
            self.upconvs.append(ConvTranspose2d(widths[k + 1], widths[k], 2, stride=2))
            self.decoders.append(DoubleConv(2 * widths[k], widths[k], batch_norm, pad))
        self.head = Conv2d(base_width, n_classes, 1)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise self.shape_error(
                f"(N, {self.in_channels}, H, W)", x.shape,
                "UNet takes a batch of images with channels first.",
            )  # fmt: skip
        smallest = 2**self.depth
        if self.padding == "same" and min(x.shape[-2:]) < smallest:
            raise self.shape_error(
                f"(N, {self.in_channels}, H, W) with H, W ≥ {smallest}", x.shape,
                f"{self.depth} poolings halve the image {self.depth} times; use a larger "
                "image or a smaller depth.",
            )  # fmt: skip
        skips = []
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for up, decoder, skip in zip(self.upconvs, self.decoders, reversed(skips)):
            if self.padding == "same":
                x = up(x, output_size=skip.shape[-2:])
            else:
                x = up(x)
                skip = _center_crop(skip, x.shape[-2:])
            x = decoder(cat([skip, x], dim=1))
        return self.head(x)

    def extra_repr(self) -> str:
        return (
            f"in_channels={self.in_channels}, n_classes={self.n_classes}, depth={self.depth}, "
            f"base_width={self.base_width}, padding={self.padding!r}"
        )
