"""A 1-D convolutional network for sequences and signals (time series, audio, MNIST-1D).

A 1-D convolution slides a kernel along the time (or length) axis only: each output
sample mixes a window of ``kernel_size`` neighbouring samples across all channels, with
the same weights everywhere along the sequence, so a pattern is detected wherever it
occurs (translation equivariance). Striding or pooling shortens the sequence and widens
the window later layers see; a global average over the remaining positions makes the
prediction independent of where the pattern was, and of the sequence's length::

    MNIST-1D, widths (32, 32, 32), kernel 5, stride 2, input (N, 1, 40)
    block 1  conv1d(1 → 32, 5, stride 2) - ReLU   (N, 32, 20)
    block 2  conv1d(32 → 32, 5, stride 2) - ReLU  (N, 32, 10)
    block 3  conv1d(32 → 32, 5, stride 2) - ReLU  (N, 32, 5)
    global average pooling, flatten               (N, 32)
    fc                                            (N, 10)

MNIST-1D (Greydanus 2020) was made for this: 40-sample signals of ten digit templates,
shifted, scaled, sheared and noised, small enough to train on a CPU yet hard for
models without translation invariance (a linear model or an MLP) and easy for a CNN.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.conv import Conv1d
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.linear import Flatten, Linear
from nnlab.nn.modules.normalization import BatchNorm1d
from nnlab.nn.modules.pooling import AdaptiveAvgPool1d, AdaptiveMaxPool1d, MaxPool1d

__all__ = ["CNN1d"]


@register_model(
    "cnn1d",
    reads="signal",
    args=lambda d: {"in_channels": d.input_shape[0], "num_classes": d.outputs},
)
class CNN1d(Sequential):
    """Conv1d-[BN]-ReLU blocks that shorten the sequence, global pooling, a linear head.

    Children (``state_dict`` prefixes): ``features`` (a Sequential of the blocks),
    ``pool`` (global average or max), ``flatten``, ``dropout`` (if any) and ``fc``.

    Args:
        in_channels: channels of the input signals (default: 1).
        num_classes: outputs of ``fc`` (default: 10).
        widths: output channels of each block (default: (32, 32, 32)).
        kernel_size: odd window length of every convolution (default: 5); padding
            ``kernel_size // 2`` keeps the length before striding.
        downsample: 'stride' (each convolution has stride 2), 'pool' (stride 1, then a
            max pooling of 2) or None (default: 'stride').
        batch_norm: BatchNorm1d after each convolution (default: False).
        global_pool: 'avg' or 'max' over the remaining positions (default: 'avg').
        dropout: dropout before ``fc`` (default: 0.0, none).

    Shape:
        - Input: (N, in_channels, L).
        - Output: (N, num_classes).

    Example:
        >>> import nnlab
        >>> model = CNN1d()
        >>> model.features(nnlab.randn(8, 1, 40)).shape
        nnlab.Size([8, 32, 5])
        >>> model(nnlab.randn(8, 1, 40)).shape
        nnlab.Size([8, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        widths: Sequence[int] = (32, 32, 32),
        kernel_size: int = 5,
        downsample: str | None = "stride",
        batch_norm: bool = False,
        global_pool: str = "avg",
        dropout: float = 0.0,
    ) -> None:
        if downsample not in ("stride", "pool", None):
            raise ValueError(
                f"CNN1d: downsample must be 'stride', 'pool' or None, got {downsample!r}"
            )
        if global_pool not in ("avg", "max"):
            raise ValueError(f"CNN1d: global_pool must be 'avg' or 'max', got {global_pool!r}")
        if kernel_size % 2 == 0:
            raise ValueError(f"CNN1d: kernel_size must be odd, got {kernel_size}")
        if not widths:
            raise ValueError("CNN1d: widths must name at least one block")
        blocks: list[Module] = []
        channels = in_channels
        stride = 2 if downsample == "stride" else 1
        for width in widths:
            blocks.append(
                Conv1d(channels, width, kernel_size, stride, kernel_size // 2, bias=not batch_norm)
            )
            if batch_norm:
                blocks.append(BatchNorm1d(width))
            blocks.append(ReLU())
            if downsample == "pool":
                blocks.append(MaxPool1d(2))
            channels = width
        layers: OrderedDict[str, Module] = OrderedDict(
            features=Sequential(*blocks),
            pool=AdaptiveAvgPool1d(1) if global_pool == "avg" else AdaptiveMaxPool1d(1),
            flatten=Flatten(),
        )
        if dropout > 0:
            layers["dropout"] = Dropout(dropout)
        layers["fc"] = Linear(channels, num_classes)
        super().__init__(layers)
