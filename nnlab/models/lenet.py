"""LeNet-5 (LeCun, Bottou, Bengio and Haffner, "Gradient-Based Learning Applied to Document
Recognition", Proc. IEEE 1998): the convolutional network that read cheques.

It introduced the pattern every CNN since has followed: convolutions that share a small
kernel across the image (local features, few weights), subsampling that trades
resolution for invariance to small shifts, and fully connected layers on top::

    input 1×32×32 ─ C1 conv 5×5 → 6×28×28 ─ S2 pool 2 → 6×14×14
                  ─ C3 conv 5×5 → 16×10×10 ─ S4 pool 2 → 16×5×5
                  ─ F5 120 ─ F6 84 ─ output 10

The modern reading implemented here simplifies three details of the paper: C3 connects
to all six S2 maps (the paper wired each C3 map to a subset), subsampling is a plain
average (or max) pooling (the paper's had a trainable scale and bias), and the output is
a Linear layer giving logits for a cross-entropy loss (the paper used Euclidean RBF units).
"""

from __future__ import annotations

from collections import OrderedDict

from nnlab.models.registry import register_model
from nnlab.nn.module import Module
from nnlab.nn.modules.activation import ReLU, Tanh
from nnlab.nn.modules.container import Sequential
from nnlab.nn.modules.conv import Conv2d
from nnlab.nn.modules.linear import Flatten, Linear
from nnlab.nn.modules.pooling import AvgPool2d, MaxPool2d

__all__ = ["LeNet5"]

_ACTIVATIONS = {"tanh": Tanh, "relu": ReLU}
_POOLS = {"avg": AvgPool2d, "max": MaxPool2d}


@register_model(
    "lenet5",
    reads="image",
    args=lambda d: {"in_channels": d.input_shape[0], "num_classes": d.outputs},
)
class LeNet5(Sequential):
    """LeNet-5: conv(6, 5×5) → pool → conv(16, 5×5) → pool → fc 120 → fc 84 → fc classes.

    A :class:`Sequential` with named children, so the ``state_dict`` keys are those of the
    usual PyTorch LeNet: ``conv1``, ``conv2``, ``fc1``, ``fc2``, ``fc3`` (activations and
    pools hold no weights). The original takes 32×32 images; 28×28 images (MNIST) get a
    zero padding of 2 in the first convolution, which gives the same 28×28 C1 maps. Other
    sizes work as long as the maps stay positive: the fc1 input is computed from
    ``input_size``.

    Args:
        in_channels: channels of the input images (default: 1).
        num_classes: outputs of the last layer (default: 10).
        input_size: height = width of the input images (default: 32).
        activation: 'tanh' (the paper's) or 'relu' (default: 'tanh').
        pooling: 'avg' (the paper's subsampling) or 'max' (default: 'avg').
        padding: zero padding of conv1 (default: None, which means 2 for input_size 28
            and 0 otherwise).

    Shape:
        - Input: (N, in_channels, input_size, input_size).
        - Output: (N, num_classes).

    Example:
        >>> import nnlab
        >>> model = LeNet5()
        >>> model(nnlab.randn(2, 1, 32, 32)).shape
        nnlab.Size([2, 10])
        >>> [name for name, _ in model.named_children()]   # doctest: +NORMALIZE_WHITESPACE
        ['conv1', 'act1', 'pool1', 'conv2', 'act2', 'pool2', 'flatten', 'fc1', 'act3', 'fc2',
         'act4', 'fc3']
        >>> model.num_parameters()
        61706
        >>> LeNet5(input_size=28, activation="relu", pooling="max")(nnlab.randn(1, 1, 28, 28)).shape
        nnlab.Size([1, 10])
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        input_size: int = 32,
        activation: str = "tanh",
        pooling: str = "avg",
        padding: int | None = None,
    ) -> None:
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be 'tanh' or 'relu', got {activation!r}")
        if pooling not in _POOLS:
            raise ValueError(f"LeNet5: pooling must be 'avg' or 'max', got {pooling!r}")
        if padding is None:
            padding = 2 if input_size == 28 else 0
        size = ((input_size + 2 * padding - 4) // 2 - 4) // 2
        if size < 1:
            raise ValueError(
                f"LeNet5: input_size={input_size} with padding={padding} is too small: the "
                "two 5×5 convolutions and 2×2 poolings need at least 16 pixels "
                "(input_size + 2·padding ≥ 16); use 32, or 28 (padding 2)"
            )
        act, pool = _ACTIVATIONS[activation], _POOLS[pooling]
        layers: OrderedDict[str, Module] = OrderedDict(
            conv1=Conv2d(in_channels, 6, 5, padding=padding),
            act1=act(),
            pool1=pool(2),
            conv2=Conv2d(6, 16, 5),
            act2=act(),
            pool2=pool(2),
            flatten=Flatten(),
            fc1=Linear(16 * size * size, 120),
            act3=act(),
            fc2=Linear(120, 84),
            act4=act(),
            fc3=Linear(84, num_classes),
        )
        super().__init__(layers)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.input_size = input_size
        self.activation = activation
        self.pooling = pooling
