"""A small 3-D convolutional network for volumes (N, C, D, H, W): CT and MRI scans, video
clips (time as depth), voxelised shapes.

A 3-D convolution is the 2-D one with one more axis: a k×k×k kernel slides along depth,
height and width, so a feature can be a pattern *in space* (a vessel crossing slices)
or *in time* (a motion) that no single 2-D slice shows. The cost grows with k³ and with
the volume, so 3-D networks stay narrow and pool early::

    widths (8, 16), input (N, 1, 16, 16, 16)
    block 1  conv3d 3×3×3 - BN - ReLU - maxpool 2   (N, 8, 8, 8, 8)
    block 2  conv3d 3×3×3 - BN - ReLU - maxpool 2   (N, 16, 4, 4, 4)
    global average pooling, flatten                 (N, 16)
    fc                                              (N, num_classes)
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.conv import Conv3d
from nnlab.nn.modules.linear import Flatten, Linear
from nnlab.nn.modules.normalization import BatchNorm3d
from nnlab.nn.modules.pooling import AdaptiveAvgPool3d, MaxPool3d

__all__ = ["CNN3d"]


class CNN3d(Sequential):
    """Conv3d-[BN]-ReLU-MaxPool3d blocks, global average pooling, a linear head.

    Children (``state_dict`` prefixes): ``features``, ``pool``, ``flatten``, ``fc``.

    Args:
        in_channels: channels of the input volumes (default: 1).
        num_classes: outputs of ``fc`` (default: 2).
        widths: output channels of each block (default: (8, 16)).
        kernel_size: cube side of every convolution, odd (default: 3; padding keeps the
            size).
        batch_norm: BatchNorm3d after each convolution (default: True).
        pool: pool by 2 after each block (default: True); each pooling halves D, H and W
            (rounding down), so the volume needs 2^len(widths) voxels per side.

    Shape:
        - Input: (N, in_channels, D, H, W).
        - Output: (N, num_classes).

    Example:
        >>> import nnlab
        >>> model = CNN3d(widths=(4, 8))
        >>> model.features(nnlab.randn(2, 1, 8, 8, 8)).shape
        nnlab.Size([2, 8, 2, 2, 2])
        >>> model(nnlab.randn(2, 1, 8, 8, 8)).shape
        nnlab.Size([2, 2])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 2,
        widths: Sequence[int] = (8, 16),
        kernel_size: int = 3,
        batch_norm: bool = True,
        pool: bool = True,
    ) -> None:
        if kernel_size % 2 == 0:
            raise ValueError(f"CNN3d: kernel_size must be odd, got {kernel_size}")
        if not widths:
            raise ValueError("CNN3d: widths must name at least one block")
        blocks: list[Module] = []
        channels = in_channels
        for width in widths:
            blocks.append(
                Conv3d(channels, width, kernel_size, padding=kernel_size // 2, bias=not batch_norm)
            )
            if batch_norm:
                blocks.append(BatchNorm3d(width))
            blocks.append(ReLU())
            if pool:
                blocks.append(MaxPool3d(2))
            channels = width
        super().__init__(
            OrderedDict(
                features=Sequential(*blocks),
                pool=AdaptiveAvgPool3d(1),
                flatten=Flatten(),
                fc=Linear(channels, num_classes),
            )
        )
