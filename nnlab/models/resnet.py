"""Residual networks (He, Zhang, Ren and Sun, "Deep Residual Learning for Image Recognition",
CVPR 2016) and their plain twins.

A residual block does not learn the map it computes, H(x), but the *residual*
F(x) = H(x) − x, and adds its input back through a shortcut:

    y = relu(F(x) + x)                         identity shortcut (same shape)
    y = relu(F(x) + BN(W_s x))                 projection shortcut (1×1 conv, stride s)

so a block that has nothing to add can output its input by driving F to zero, which is
easier for SGD than fitting an identity with a stack of non-linear layers. In the
backward pass the shortcut adds ∂L/∂y straight to ∂L/∂x, so the gradient reaches the
first layers of a deep network undamped. He et al. found that a *plain* network (the
same layers without shortcuts) trains to a *higher* training error as it gets deeper (the
degradation problem), while its residual twin keeps improving with depth;
``plain=True`` builds that twin so the experiment can be repeated.

Names, shapes and initialisation follow torchvision (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.0``, ``fc``; the stride sits on the 3×3 convolution as in its
"ResNet v1.5"), so a torchvision ``state_dict`` of the same architecture loads as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnlab.models.registry import register_model
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.conv import Conv2d
from nnlab.nn.modules.linear import Linear
from nnlab.nn.modules.normalization import BatchNorm2d
from nnlab.nn.modules.pooling import AdaptiveAvgPool2d, MaxPool2d
from nnlab.tensor import Tensor

__all__ = [
    "BasicBlock", "BottleneckBlock", "ResNet", "resnet", "resnet18", "resnet34", "resnet50",
    "resnet20",
]  # fmt: skip


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> Conv2d:
    """A 3×3 convolution with padding 1 and no bias (the batch norm after it has one)."""
    return Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> Conv2d:
    """A 1×1 convolution without bias: mixes channels, or projects a shortcut."""
    return Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


def _shortcut(
    in_channels: int, out_channels: int, stride: int, residual: bool, projection: bool | None
) -> Sequential | None:
    """The projection shortcut BN(W_s x), or None for an identity (or for no shortcut)."""
    if not residual:
        return None
    needed = stride != 1 or in_channels != out_channels
    if projection is None:
        projection = needed
    elif needed and not projection:
        raise ValueError(
            f"an identity shortcut needs the block's input and output shapes to agree, but "
            f"stride={stride} and channels {in_channels} → {out_channels}; use "
            "projection=None (automatic) or True"
        )
    if not projection:
        return None
    return Sequential(conv1x1(in_channels, out_channels, stride), BatchNorm2d(out_channels))


class BasicBlock(Module):
    """The residual block of ResNet-18/34: two 3×3 convolutions and a shortcut.

        F(x) = BN(conv3×3(relu(BN(conv3×3_s(x)))))      y = relu(F(x) + shortcut(x))

    The shortcut is the identity when the shapes agree, otherwise a projection
    ``downsample`` = Sequential(1×1 conv with stride s, BatchNorm2d). With
    ``residual=False`` the block is the plain twin: y = relu(F(x)), no shortcut at all.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (``expansion`` = 1).
        stride: stride of the first convolution (2 halves the feature map) (default: 1).
        residual: add the shortcut (default: True).
        projection: None (default) projects only when the shapes differ (option B of the
            paper); True always projects (option C); False insists on an identity.

    Shape:
        - Input: (N, in_channels, H, W).
        - Output: (N, out_channels, ⌈H/stride⌉, ⌈W/stride⌉).

    Example:
        >>> import nnlab
        >>> block = BasicBlock(8, 16, stride=2)
        >>> block(nnlab.randn(2, 8, 9, 9)).shape
        nnlab.Size([2, 16, 5, 5])
        >>> sorted({k.rsplit(".", 1)[0] for k in block.state_dict()})
        ['bn1', 'bn2', 'conv1', 'conv2', 'downsample.0', 'downsample.1']
    """

    expansion = 1
    # receptive_field() follows the main path F and skips the shortcut
    receptive_field_skip = ("downsample",)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        residual: bool = True,
        projection: bool | None = None,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = conv3x3(in_channels, out_channels, stride)
        self.bn1 = BatchNorm2d(out_channels)
        self.relu = ReLU()
        self.conv2 = conv3x3(out_channels, out_channels)
        self.bn2 = BatchNorm2d(out_channels)
        self.downsample = _shortcut(in_channels, out_channels, stride, residual, projection)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def extra_repr(self) -> str:
        return "" if self.residual else "residual=False"


class BottleneckBlock(Module):
    """The residual block of ResNet-50/101/152: 1×1 (reduce) → 3×3 → 1×1 (expand ×4).

        F(x) = BN(conv1×1(relu(BN(conv3×3_s(relu(BN(conv1×1(x))))))))
        y = relu(F(x) + shortcut(x))

    The 3×3 convolution works on ``width`` channels, four times fewer than the block's
    output (``expansion`` = 4), so a deep network stays affordable. The stride sits on the
    3×3 convolution (torchvision's "v1.5"). Shortcut and ``residual`` as in
    :class:`BasicBlock`.

    Args:
        in_channels: channels of the input.
        width: channels inside the block; the output has ``width * 4``.
        stride: stride of the 3×3 convolution (default: 1).
        residual: add the shortcut (default: True).
        projection: None (default: project only when shapes differ), True or False.

    Shape:
        - Input: (N, in_channels, H, W).
        - Output: (N, 4·width, ⌈H/stride⌉, ⌈W/stride⌉).

    Example:
        >>> import nnlab
        >>> block = BottleneckBlock(16, 4)      # 16 → 4 → 4 → 16: an identity shortcut
        >>> block(nnlab.randn(1, 16, 6, 6)).shape, block.downsample is None
        (nnlab.Size([1, 16, 6, 6]), True)
    """

    expansion = 4
    receptive_field_skip = ("downsample",)

    def __init__(
        self,
        in_channels: int,
        width: int,
        stride: int = 1,
        residual: bool = True,
        projection: bool | None = None,
    ) -> None:
        super().__init__()
        out_channels = width * self.expansion
        self.residual = residual
        self.conv1 = conv1x1(in_channels, width)
        self.bn1 = BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = BatchNorm2d(width)
        self.conv3 = conv1x1(width, out_channels)
        self.bn3 = BatchNorm2d(out_channels)
        self.relu = ReLU()
        self.downsample = _shortcut(in_channels, out_channels, stride, residual, projection)
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.residual:
            out = out + (x if self.downsample is None else self.downsample(x))
        return self.relu(out)

    def extra_repr(self) -> str:
        return "" if self.residual else "residual=False"


_BLOCKS: dict[str, type[Module]] = {"basic": BasicBlock, "bottleneck": BottleneckBlock}


class ResNet(Module):
    """A residual network: a stem, stages of residual blocks, global pooling, a classifier.

    ============  =========================================  ============================
    stage         layers                                     output (small_input, 32×32)
    ============  =========================================  ============================
    stem          conv1, bn1, relu (+ maxpool)               (N, w₀, 32, 32)
    layer1        blocks[0] blocks of width w₀, stride 1     (N, w₀·e, 32, 32)
    layer k       blocks[k-1] blocks of width w_{k-1},       halves H and W
                  the first with stride 2
    avgpool, fc   global average, Linear                     (N, num_classes)
    ============  =========================================  ============================

    (e = the block's ``expansion``: 1 for BasicBlock, 4 for BottleneckBlock.) The ImageNet
    stem (``small_input=False``) is a 7×7 convolution with stride 2 followed by a 3×3 max
    pooling with stride 2 (4× smaller maps); for small images (CIFAR, 8×8 digits) the
    stem is a single 3×3 convolution with stride 1 and no pooling.

    Initialisation (torchvision's): convolutions ``kaiming_normal_(mode="fan_out",
    nonlinearity="relu")``, batch norms γ = 1, β = 0, ``fc`` PyTorch's Linear default.

    Args:
        block: BasicBlock, BottleneckBlock, or "basic" / "bottleneck".
        blocks: the number of blocks per stage, e.g. [2, 2, 2, 2] (ResNet-18).
        widths: the width of each stage (default: 64·2^k for four stages, 16·2^k for
            three, as in the paper's CIFAR networks).
        in_channels: channels of the input images (default: 3).
        num_classes: outputs of ``fc`` (default: 10).
        small_input: 3×3 stem without max pooling (default: True).
        plain: the plain twin: the same layers without any shortcut (default: False).
        zero_init_residual: start each block's last BN with γ = 0, so every residual
            block starts as the identity (Goyal et al. 2017) (default: False).

    Shape:
        - Input: (N, in_channels, H, W).
        - Output: (N, num_classes).

    Example:
        >>> import nnlab
        >>> model = ResNet("basic", [1, 1], widths=[8, 16], in_channels=1, num_classes=10)
        >>> model(nnlab.randn(2, 1, 8, 8)).shape
        nnlab.Size([2, 10])
        >>> model.depth       # stem + 2 convolutions per block + fc
        6
    """

    def __init__(
        self,
        block: str | type[Module],
        blocks: Sequence[int],
        widths: Sequence[int] | None = None,
        in_channels: int = 3,
        num_classes: int = 10,
        small_input: bool = True,
        plain: bool = False,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        block_cls = _block_class(block)
        blocks = [int(n) for n in blocks]
        if not blocks or any(n < 1 for n in blocks):
            raise ValueError(f"ResNet: blocks must be positive counts per stage, got {blocks}")
        if widths is None:
            base = 16 if len(blocks) == 3 else 64
            widths = [base * 2**k for k in range(len(blocks))]
        widths = [int(w) for w in widths]
        if len(widths) != len(blocks):
            raise ValueError(
                f"ResNet: one width per stage is needed, got {len(blocks)} stages "
                f"(blocks={blocks}) and {len(widths)} widths ({widths})"
            )
        self.block_type = block_cls.__name__
        self.blocks = tuple(blocks)
        self.widths = tuple(widths)
        self.small_input = small_input
        self.plain = plain
        stem = widths[0]
        if small_input:
            self.conv1 = Conv2d(in_channels, stem, 3, stride=1, padding=1, bias=False)
        else:
            self.conv1 = Conv2d(in_channels, stem, 7, stride=2, padding=3, bias=False)
        self.bn1 = BatchNorm2d(stem)
        self.relu = ReLU()
        if not small_input:
            self.maxpool = MaxPool2d(3, stride=2, padding=1)
        channels = stem
        for k, (count, width) in enumerate(zip(blocks, widths)):
            stage = Sequential()
            for i in range(count):
                stride = 2 if k > 0 and i == 0 else 1
                stage.append(block_cls(channels, width, stride, residual=not plain))
                channels = width * block_cls.expansion
            self.add_module(f"layer{k + 1}", stage)
        self.avgpool = AdaptiveAvgPool2d(1)
        self.fc = Linear(channels, num_classes)
        per_block = 2 if block_cls is BasicBlock else 3
        self.depth = 2 + per_block * sum(blocks)
        self.reset_parameters(zero_init_residual)

    def reset_parameters(self, zero_init_residual: bool = False) -> None:
        for m in self.modules():
            if isinstance(m, Conv2d):
                init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, BatchNorm2d):
                init.ones_(m.weight)
                init.zeros_(m.bias)
        if zero_init_residual and not self.plain:
            for m in self.modules():
                if isinstance(m, BottleneckBlock):
                    init.zeros_(m.bn3.weight)
                elif isinstance(m, BasicBlock):
                    init.zeros_(m.bn2.weight)

    def forward(self, x: Tensor) -> Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        if not self.small_input:
            x = self.maxpool(x)
        for k in range(len(self.blocks)):
            x = getattr(self, f"layer{k + 1}")(x)
        x = self.avgpool(x)
        return self.fc(x.flatten(1))

    def extra_repr(self) -> str:
        return (
            f"block={self.block_type}, blocks={list(self.blocks)}, widths={list(self.widths)}, "
            f"depth={self.depth}, small_input={self.small_input}, plain={self.plain}"
        )


def _block_class(block: str | type[Module]) -> type[Module]:
    if isinstance(block, str):
        if block not in _BLOCKS:
            raise ValueError(
                f"ResNet: unknown block {block!r}; choose 'basic' or 'bottleneck', or pass "
                "BasicBlock / BottleneckBlock"
            )
        return _BLOCKS[block]
    if block not in (BasicBlock, BottleneckBlock):
        raise TypeError(
            f"ResNet: block must be BasicBlock, BottleneckBlock or their names, got {block!r}"
        )
    return block


# ImageNet depths of the paper (Table 1): block type and blocks per stage.
_IMAGENET = {
    18: ("basic", [2, 2, 2, 2]),
    34: ("basic", [3, 4, 6, 3]),
    50: ("bottleneck", [3, 4, 6, 3]),
    101: ("bottleneck", [3, 4, 23, 3]),
    152: ("bottleneck", [3, 8, 36, 3]),
}


@register_model(
    "resnet",
    reads="image",
    args=lambda d: {"in_channels": d.input_shape[0], "num_classes": d.outputs},
)
def resnet(
    depth: int | None = None,
    blocks: Sequence[int] | None = None,
    block: str | type[Module] | None = None,
    widths: Sequence[int] | None = None,
    in_channels: int = 3,
    num_classes: int = 10,
    small_input: bool = True,
    plain: bool = False,
    **kwargs: Any,
) -> ResNet:
    """Build a ResNet from a depth or from the blocks per stage.

    - ``depth`` 18, 34, 50, 101 or 152: the paper's ImageNet layouts (four stages);
    - another ``depth`` = 6n + 2 (BasicBlock) or 9n + 2 (BottleneckBlock): the paper's
      CIFAR layout, three stages of n blocks with widths 16, 32, 64 (ResNet-20, -32,
      -44, -56, -110);
    - or ``blocks`` directly (default: [2, 2, 2, 2] with BasicBlock).

    ``plain=True`` gives the same depth without skip connections (the paper's plain
    networks); the layer names and shapes are otherwise identical.

    Example:
        >>> import nnlab
        >>> net = resnet(20, in_channels=1, widths=[8, 8, 8])       # CIFAR-style
        >>> net.blocks, net.depth
        ((3, 3, 3), 20)
        >>> resnet(20, in_channels=1, widths=[8, 8, 8], plain=True)(nnlab.randn(1, 1, 8, 8)).shape
        nnlab.Size([1, 10])
    """
    if depth is not None and blocks is not None:
        raise ValueError("resnet: give depth or blocks, not both")
    if depth is not None:
        if depth in _IMAGENET:
            table_block, blocks = _IMAGENET[depth]
            if block is not None and _block_class(block) is not _block_class(table_block):
                raise ValueError(f"resnet: depth {depth} uses {table_block!r} blocks")
            block = table_block
        else:
            block = "basic" if block is None else block
            per_block = 2 if _block_class(block) is BasicBlock else 3
            n, rest = divmod(depth - 2, 3 * per_block)
            if rest or n < 1:
                raise ValueError(
                    f"resnet: depth {depth} is not one of {sorted(_IMAGENET)} nor "
                    f"{3 * per_block}n + 2 (three stages of n {_block_class(block).__name__}s)"
                )
            blocks = [n, n, n]
    if blocks is None:
        blocks = [2, 2, 2, 2]
    return ResNet(
        "basic" if block is None else block, blocks, widths, in_channels, num_classes,
        small_input, plain, **kwargs,
    )  # fmt: skip


def resnet18(**kwargs: Any) -> ResNet:
    """ResNet-18: BasicBlock, [2, 2, 2, 2]; keyword arguments as :func:`resnet`.

    Example:
        >>> sum(p.numel() for p in resnet18(num_classes=1000, small_input=False).parameters())
        11689512
    """
    return resnet(18, **kwargs)


def resnet34(**kwargs: Any) -> ResNet:
    """ResNet-34: BasicBlock, [3, 4, 6, 3]; keyword arguments as :func:`resnet`."""
    return resnet(34, **kwargs)


def resnet50(**kwargs: Any) -> ResNet:
    """ResNet-50: BottleneckBlock, [3, 4, 6, 3]; keyword arguments as :func:`resnet`."""
    return resnet(50, **kwargs)


def resnet20(**kwargs: Any) -> ResNet:
    """ResNet-20 of the paper's CIFAR-10 experiments: 3 stages of 3 BasicBlocks, widths
    16, 32, 64 (about 0.27M parameters); keyword arguments as :func:`resnet`."""
    return resnet(20, **kwargs)
