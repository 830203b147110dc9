"""VGG-style networks (Simonyan and Zisserman, "Very Deep Convolutional Networks for
Large-Scale Image Recognition", ICLR 2015), sized for small images.

VGG's idea is uniformity: only 3×3 convolutions (stride 1, padding 1, so they keep the
size) and 2×2 max poolings (which halve it), with the width doubling after each pooling.
Two stacked 3×3 convolutions see a 5×5 window and three see 7×7, with fewer weights
(2·9C² and 3·9C² against 25C² and 49C²) and more non-linearities than one large kernel,
so depth is bought cheaply. Batch norm after each convolution (added later, the
"vgg11_bn" of torchvision) makes the deeper stacks train from scratch::

    widths (16, 32, 64), 2 convs per stage, input (N, 3, 32, 32)
    stage 1  [conv3×3-BN-ReLU] ×2, maxpool   (N, 16, 16, 16)
    stage 2  [conv3×3-BN-ReLU] ×2, maxpool   (N, 32, 8, 8)
    stage 3  [conv3×3-BN-ReLU] ×2, maxpool   (N, 64, 4, 4)
    avgpool, flatten                         (N, 64)
    classifier                               (N, num_classes)

The children are named as torchvision's VGG (``features.0.weight``, ``features.1.running_mean``,
``classifier.0.weight``), so its ``features`` load from a torchvision ``vgg11_bn`` built
from the same configuration. The head differs: a global average pooling and a small
classifier replace torchvision's 7×7 pooling and two 4096-wide layers, which only make
sense for 224×224 images.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.conv import Conv2d
from nnlab.nn.modules.dropout import Dropout
from nnlab.nn.modules.linear import Flatten, Linear
from nnlab.nn.modules.normalization import BatchNorm2d
from nnlab.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d

__all__ = ["VGG", "VGG_CONFIGS", "vgg_config"]

#: The paper's configurations (A, B, D, E) as torchvision writes them: a width per 3×3
#: convolution, "M" for a 2×2 max pooling.
VGG_CONFIGS: dict[str, list[int | str]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}  # fmt: skip


def vgg_config(widths: Sequence[int], convs_per_stage: int | Sequence[int] = 2) -> list[int | str]:
    """A configuration list from stage widths: each stage is ``convs_per_stage`` 3×3
    convolutions of its width, then a max pooling.

    Example:
        >>> vgg_config([16, 32], convs_per_stage=[1, 2])
        [16, 'M', 32, 32, 'M']
    """
    counts = (
        [convs_per_stage] * len(widths)
        if isinstance(convs_per_stage, int)
        else list(convs_per_stage)
    )
    if len(counts) != len(widths) or any(c < 1 for c in counts):
        raise ValueError(
            f"vgg_config: convs_per_stage must be a positive int or one per stage "
            f"({len(widths)} stages), got {convs_per_stage!r}"
        )
    cfg: list[int | str] = []
    for width, count in zip(widths, counts):
        cfg += [int(width)] * count + ["M"]
    return cfg


@register_model(
    "vgg",
    reads="image",
    args=lambda d: {"in_channels": d.input_shape[0], "num_classes": d.outputs},
)
class VGG(Sequential):
    """A VGG-style classifier: stacks of 3×3 conv-BN-ReLU, max poolings, a small head.

    Args:
        widths: the width of each stage (default: (16, 32, 64)); ignored if ``cfg`` is
            given.
        convs_per_stage: 3×3 convolutions per stage, an int or one per stage (default: 2).
        in_channels: channels of the input images (default: 3).
        num_classes: outputs of the classifier (default: 10).
        batch_norm: BatchNorm2d after each convolution (default: True).
        hidden_features: widths of hidden Linear layers in the classifier, each followed by
            ReLU and Dropout (default: (), a single Linear).
        dropout: dropout probability in the classifier's hidden layers (default: 0.5).
        cfg: a torchvision-style configuration (a list of widths and "M") or the name of
            one of :data:`VGG_CONFIGS` (default: None, built from ``widths``).

    Each pooling halves the size (rounding down), so an input needs at least
    2^(number of poolings) pixels per side.

    Shape:
        - Input: (N, in_channels, H, W).
        - Output: (N, num_classes).

    Example:
        >>> import nnlab
        >>> model = VGG(widths=(8, 16), in_channels=1, num_classes=10)
        >>> model(nnlab.randn(2, 1, 8, 8)).shape
        nnlab.Size([2, 10])
        >>> [type(m).__name__ for m in model.features][:4]
        ['Conv2d', 'BatchNorm2d', 'ReLU', 'Conv2d']
        >>> VGG(cfg="vgg11", hidden_features=(64,))(nnlab.randn(1, 3, 32, 32)).shape
        nnlab.Size([1, 10])
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 64),
        convs_per_stage: int | Sequence[int] = 2,
        in_channels: int = 3,
        num_classes: int = 10,
        batch_norm: bool = True,
        hidden_features: Sequence[int] = (),
        dropout: float = 0.5,
        cfg: str | Sequence[int | str] | None = None,
    ) -> None:
        if isinstance(cfg, str):
            if cfg not in VGG_CONFIGS:
                raise ValueError(f"VGG: unknown cfg {cfg!r}; choose one of {list(VGG_CONFIGS)}")
            cfg = VGG_CONFIGS[cfg]
        elif cfg is None:
            cfg = vgg_config(widths, convs_per_stage)
        features: list[Module] = []
        channels = in_channels
        for v in cfg:
            if v == "M":
                features.append(MaxPool2d(2, stride=2))
                continue
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"VGG: cfg entries are positive widths or 'M', got {v!r}")
            features.append(Conv2d(channels, v, 3, padding=1))
            if batch_norm:
                features.append(BatchNorm2d(v))
            features.append(ReLU())
            channels = v
        head: list[Module] = []
        for hidden in hidden_features:
            head += [Linear(channels, hidden), ReLU(), Dropout(dropout)]
            channels = hidden
        head.append(Linear(channels, num_classes))
        super().__init__(
            OrderedDict(
                features=Sequential(*features),
                avgpool=AdaptiveAvgPool2d(1),
                flatten=Flatten(),
                classifier=Sequential(*head),
            )
        )
        self.cfg = list(cfg)
        self.batch_norm = batch_norm
