"""What a convolution is and does: its shapes, its receptive field, weight sharing, pooling.

Four experiments on the mechanics of convolutional layers, each small enough to measure
exactly:

* ``conv-dimensions``: Conv1d, Conv2d and Conv3d output shapes and parameter counts, by
  formula and as nnlab's layers report them;
* ``receptive-field``: the input window one unit sees, found from the input gradient of
  that unit, against the layer-by-layer recurrence, for plain, strided, dilated and
  pooled stacks;
* ``parameter-sharing``: the same 3x3 feature layer on 8x8 digits as a dense layer, as a
  locally connected layer (3x3 windows, own weights per position) and as a convolution
  (one 3x3 kernel shared by every position): parameters, accuracy, shift tolerance;
* ``pooling``: a digit CNN with max pooling, average pooling and none: accuracy, and how
  often its prediction survives a one-pixel shift of the image.

The helpers for digits (loading, shifting, training on pre-drawn batches) are shared with
:mod:`experiments.cnn_architectures`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.data.datasets import load_digits

#: The four one-pixel shifts (down, up, right, left) used to test translation tolerance.
ONE_PIXEL_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))


# --- digits: data, shifts, training -------------------------------------------------------


def digit_split(
    rng: np.random.Generator, n_train: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The 8x8 digits as (N, 1, 8, 8) images in [0, 1], randomly split into ``n_train``
    training images and the rest for testing: ``(x_train, y_train, x_test, y_test)``."""
    x, y = load_digits()
    images = (x / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    perm = rng.permutation(len(y))
    train, test = perm[:n_train], perm[n_train:]
    return images[train], y[train].astype(np.int64), images[test], y[test].astype(np.int64)


def shift_images(x: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Images (N, C, H, W) moved ``dy`` pixels down and ``dx`` right; what leaves the frame
    is lost and the uncovered border is zero (the digits' background)."""
    out = np.zeros_like(x)
    h, w = x.shape[-2:]
    src_y, dst_y = slice(max(-dy, 0), h - max(dy, 0)), slice(max(dy, 0), h - max(-dy, 0))
    src_x, dst_x = slice(max(-dx, 0), w - max(dx, 0)), slice(max(dx, 0), w - max(-dx, 0))
    out[..., dst_y, dst_x] = x[..., src_y, src_x]
    return out


def batch_order(rng: np.random.Generator, n: int, steps: int, batch: int) -> np.ndarray:
    """Indices of ``steps`` mini-batches of ``batch`` training examples, drawn once so that
    every compared network sees the same batches in the same order."""
    return rng.integers(0, n, size=(steps, batch))


def train_classifier(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    lr: float = 0.01,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Adam with cross-entropy on the mini-batches whose indices are the rows of ``order``;
    ``on_step(step, loss)`` is called after every step. Returns the loss of every step."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for step, idx in enumerate(order):
        model.train()  # on_step may have evaluated the model
        loss = F.cross_entropy(model(nnlab.tensor(x[idx])), nnlab.tensor(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(step, losses[-1])
    return losses


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The predicted class of every row of ``x`` (evaluation mode, no gradients)."""
    model.eval()
    with nnlab.no_grad():
        return model(nnlab.tensor(x)).numpy().argmax(axis=1)


def shift_scores(model: nn.Module, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """``(clean accuracy, accuracy on one-pixel shifts, agreement)``: the last two averaged
    over the four one-pixel shifts; agreement is the share of images whose predicted class
    stays the same when the image is shifted."""
    clean = predict(model, x)
    shifted = [predict(model, shift_images(x, dy, dx)) for dy, dx in ONE_PIXEL_SHIFTS]
    accuracy = float(np.mean([np.mean(p == y) for p in shifted]))
    agreement = float(np.mean([np.mean(p == clean) for p in shifted]))
    return float(np.mean(clean == y)), accuracy, agreement


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def spread(values: Sequence[float]) -> str:
    """``mean ± std`` of a list of measurements, for tables and answers."""
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


# --- conv-dimensions ----------------------------------------------------------------------


def conv_output_size(n: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    """Positions a convolution's window takes along one axis of length ``n``."""
    return (n + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


#: (layer, what it slides along, input shape without the batch, kernel, stride, padding).
_CONV_CASES = (
    ("Conv1d", "time", (3, 64), 3, 1, 1),
    ("Conv1d", "time", (3, 64), 5, 2, 0),
    ("Conv2d", "height, width", (3, 32, 32), 3, 1, 1),
    ("Conv2d", "height, width", (3, 32, 32), 5, 2, 0),
    ("Conv3d", "frames, height, width", (3, 8, 32, 32), 3, 1, 1),
    ("Conv3d", "frames, height, width", (3, 8, 32, 32), 3, 2, 0),
)


@experiment(
    "conv-dimensions",
    answers=["convolution-dimensions"],
    quick=dict(out_channels=8, batch=2),
    full=dict(out_channels=16, batch=4),
)
def conv_dimensions(run: Run, out_channels: int, batch: int) -> None:
    """How do the shapes and costs of 1-, 2- and 3-D convolutions differ?"""
    layers = {"Conv1d": nn.Conv1d, "Conv2d": nn.Conv2d, "Conv3d": nn.Conv3d}
    rows, shapes_match, params_match = [], [], []
    cost = {}  # (layer, stride) -> (parameters, multiply-adds)
    for name, axes, shape, k, stride, pad in _CONV_CASES:
        d = len(shape) - 1
        c_in = shape[0]
        layer = layers[name](c_in, out_channels, k, stride=stride, padding=pad)
        x = nnlab.tensor(run.rng(d).standard_normal((batch, *shape)).astype(np.float32))
        measured_shape = tuple(layer(x).shape)
        formula_shape = (batch, out_channels) + tuple(
            conv_output_size(n, k, stride, pad) for n in shape[1:]
        )
        per_filter = c_in * k**d  # one output channel sees all input channels in a k^d window
        formula_params = out_channels * per_filter + out_channels
        measured_params = n_parameters(layer)
        mult_adds = math.prod(formula_shape[1:]) * per_filter
        shapes_match.append(measured_shape == formula_shape)
        params_match.append(measured_params == formula_params)
        cost[name, stride] = (measured_params, mult_adds)
        rows.append(
            (name, axes, str(tuple(shape)), f"{k}^{d}", stride, pad, str(measured_shape),
             str(formula_shape), measured_params, formula_params, mult_adds)
        )  # fmt: skip
    run.table(
        "Convolutions of 1, 2 and 3 spatial dimensions (input without batch; kernel k^d)",
        ("layer", "slides along", "input", "kernel", "stride", "padding", "output (measured)",
         "output (formula)", "parameters (measured)", "parameters (formula)", "multiply-adds"),
        rows,
    )  # fmt: skip
    for (name, stride), (params, mult_adds) in cost.items():
        run.number(f"{name}_stride{stride}_parameters", params)
        run.number(f"{name}_stride{stride}_multiply_adds", mult_adds)

    fig = run.figure(
        "costs", "Parameters and multiply-adds per sample of the stride-1 layers, log scale"
    )
    ax = fig.subplots()
    names = list(layers)
    positions = np.arange(len(names))
    ax.bar(positions - 0.2, [cost[n, 1][0] for n in names], 0.4, label="parameters")
    ax.bar(positions + 0.2, [cost[n, 1][1] for n in names], 0.4, label="multiply-adds")
    ax.set_xticks(positions, [f"{n}\n{_CONV_CASES[2 * i][2]}" for i, n in enumerate(names)])
    ax.set_yscale("log")
    ax.legend()

    weights_per_filter = [(cost[n, 1][0] - out_channels) // out_channels for n in layers]
    run.claim(
        "The output shape of every layer equals floor((n + 2p - k) / s) + 1 per spatial axis",
        all(shapes_match),
        f"{sum(shapes_match)} of {len(shapes_match)} shapes agree",
    )
    run.claim(
        "Every layer has out_channels x (in_channels x k^d) weights plus out_channels biases",
        all(params_match),
        f"{sum(params_match)} of {len(params_match)} parameter counts agree",
    )
    c1, c2, c3 = (cost[n, 1] for n in names)
    run.answer(
        "The three layers are one operation: a window slides along one axis (Conv1d: time, "
        "a signal of shape channels x length), two (Conv2d: an image) or three (Conv3d: a "
        "video or a volume), and every output value is a weighted sum over all input "
        "channels in that window. The output size per axis followed floor((n + 2p - k)/s) + 1 "
        f"in {sum(shapes_match)} of {len(shapes_match)} cases, and parameters were "
        f"out x in x k^d + out in {sum(params_match)} of {len(params_match)}. With "
        f"{out_channels} filters of size 3 on 3 input channels the stride-1 layers "
        f"have {c1[0]}, {c2[0]} and {c3[0]} parameters and cost {c1[1]:,}, {c2[1]:,} and "
        f"{c3[1]:,} multiply-adds per sample: each added dimension multiplies the weights "
        f"per filter by k = 3 ({weights_per_filter[0]}, {weights_per_filter[1]}, "
        f"{weights_per_filter[2]}), and the cost is output positions x weights per filter x "
        f"filters, so adding 8 frames to the 32x32 image multiplied it by {c3[1] / c2[1]:.0f} "
        "(3 x 8)."
    )


# --- receptive-field ----------------------------------------------------------------------

#: Stacks of 3x3 layers, per layer (kernel, stride, dilation, followed by 2x2 pooling).
_STACKS: dict[str, Callable[[int], list[tuple[int, int, int, bool]]]] = {
    "plain 3x3": lambda depth: [(3, 1, 1, False)] * depth,
    "stride 2": lambda depth: [(3, 2, 1, False)] * depth,
    "dilation 2^l": lambda depth: [(3, 1, 2**i, False) for i in range(depth)],
    "3x3 + 2x2 pool": lambda depth: [(3, 1, 1, True)] * depth,
}
_STACK_KEYS = {"plain 3x3": "plain", "stride 2": "strided", "dilation 2^l": "dilated",
               "3x3 + 2x2 pool": "pooled"}  # fmt: skip


def receptive_field_formula(layers: Sequence[tuple[int, int, int, bool]]) -> int:
    """The receptive field's width by the recurrence r <- r + (k - 1) d j, j <- j s, where j
    is the distance in input pixels between neighbouring units (a 2x2 pooling of stride 2
    is a layer with k = 2, s = 2)."""
    r, jump = 1, 1
    for k, stride, dilation, pool in layers:
        r += (k - 1) * dilation * jump
        jump *= stride
        if pool:
            r += jump
            jump *= 2
    return r


def conv_stack(layers: Sequence[tuple[int, int, int, bool]], channels: int) -> nn.Sequential:
    """Unpadded convolutions with tanh (whose gradient is never zero), average pooling
    where asked (max pooling would route the gradient to one pixel per window)."""
    modules: list[nn.Module] = []
    c_in = 1
    for k, stride, dilation, pool in layers:
        modules += [nn.Conv2d(c_in, channels, k, stride=stride, dilation=dilation), nn.Tanh()]
        if pool:
            modules.append(nn.AvgPool2d(2))
        c_in = channels
    return nn.Sequential(*modules)


def centre_unit_gradient(model: nn.Module, size: int, rng: np.random.Generator) -> np.ndarray:
    """|d output / d input| (size x size) of the first channel of the output map's
    central unit, for one random input image."""
    x = nnlab.tensor(rng.standard_normal((1, 1, size, size)).astype(np.float32))
    x.requires_grad_(True)
    out = model(x)
    h, w = out.shape[-2:]
    out[0, 0, h // 2, w // 2].backward()
    return np.abs(x.grad.numpy()[0, 0])


def field_width(gradient: np.ndarray) -> int:
    """The width of the bounding box of the input pixels with a nonzero gradient."""
    cols = np.flatnonzero(gradient.max(axis=0) > 0)
    return int(cols[-1] - cols[0] + 1)


def central_mass(gradient: np.ndarray, width: int) -> float:
    """The share of the total |gradient| inside the central square of half the field's
    width (a flat field would put a quarter there)."""
    ys, xs = np.nonzero(gradient)
    cy, cx = (ys.min() + ys.max()) / 2, (xs.min() + xs.max()) / 2
    yy, xx = np.mgrid[: gradient.shape[0], : gradient.shape[1]]
    inside = (np.abs(yy - cy) <= width / 4) & (np.abs(xx - cx) <= width / 4)
    return float(gradient[inside].sum() / gradient.sum())


@experiment(
    "receptive-field",
    answers=["receptive-field"],
    quick=dict(max_depth=4, channels=4, n_nets=4),
    full=dict(max_depth=6, channels=8, n_nets=16),
)
def receptive_field(run: Run, max_depth: int, channels: int, n_nets: int) -> None:
    """How large is the input window one unit sees, and how does it grow with depth?"""
    rng = run.rng(1)
    widths: dict[str, list[tuple[int, int, int]]] = {}  # stack -> (depth, formula, measured)
    for name, make in _STACKS.items():
        widths[name] = []
        for depth in range(1, max_depth + 1):
            layers = make(depth)
            formula = receptive_field_formula(layers)
            size = formula + 8 + (formula % 2 == 0)  # room around the field, odd for a centre
            model = conv_stack(layers, channels)
            gradient = centre_unit_gradient(model, size, rng)
            widths[name].append((depth, formula, field_width(gradient)))
    rows = [(name, d, f, m) for name, ws in widths.items() for d, f, m in ws]
    run.table("Receptive-field width in pixels", ("stack", "depth", "formula", "measured"), rows)
    for name, ws in widths.items():
        run.number(f"width_{_STACK_KEYS[name]}_depth{max_depth}", ws[-1][2])

    # The effective field: average |gradient| of the deepest plain stack over random nets.
    plain = _STACKS["plain 3x3"](max_depth)
    width = receptive_field_formula(plain)
    mean_gradient = np.mean(
        [centre_unit_gradient(conv_stack(plain, channels), width + 8, rng) for _ in range(n_nets)],
        axis=0,
    )
    mass = run.number("plain_central_half_mass", round(central_mass(mean_gradient, width), 4))

    fig = run.figure(
        "field",
        "Left: receptive-field width against depth (lines: formula, dots: measured from "
        "gradients; stride 2 and dilation 2^l coincide). Right: mean |input gradient| of the "
        "deepest plain stack's centre unit.",
        width=10,
    )
    ax, ax_map = fig.subplots(1, 2, width_ratios=[3, 2])
    for i, (name, ws) in enumerate(widths.items()):
        depths, formula, measured = zip(*ws)
        ax.plot(depths, formula, color=f"C{i}", label=name)
        ax.scatter(depths, measured, color=f"C{i}")
    ax.set_xlabel("depth (layers)")
    ax.set_ylabel("receptive-field width (pixels)")
    ax.set_yscale("log", base=2)
    ax.legend()
    ax_map.imshow(mean_gradient, cmap="magma")
    ax_map.set_title(f"plain, depth {max_depth}: effective field")

    agree = sum(f == m for ws in widths.values() for _, f, m in ws)
    total = sum(len(ws) for ws in widths.values())
    plain_w = widths["plain 3x3"][-1][2]
    dilated_w = widths["dilation 2^l"][-1][2]
    strided_w = widths["stride 2"][-1][2]
    run.claim(
        "The width found from input gradients equals the recurrence r <- r + (k-1) d j for "
        "every stack and depth",
        agree == total,
        f"{agree} of {total} agree",
    )
    run.claim(
        f"Doubling the dilation per layer gives {max_depth} layers a field at least 4x wider "
        "than plain 3x3 layers",
        dilated_w >= 4 * plain_w,
        f"dilated {dilated_w} px, plain {plain_w} px",
        quick=False,
    )
    run.claim(
        "The effective field is concentrated: the central square of half the width carries "
        "at least half of the mean |gradient| (a flat field: a quarter)",
        mass >= 0.5,
        f"central share {mass:.3f}",
    )
    run.answer(
        "A unit's receptive field is the window of input pixels it can depend on. Measured "
        "as the pixels with a nonzero input gradient, it matched the recurrence "
        f"r <- r + (k-1)·dilation·jump in {agree} of {total} stacks. Plain 3x3 layers add "
        f"2 pixels per layer ({plain_w} px after {max_depth} layers); stride 2 doubles the "
        f"growth each layer ({strided_w} px), as does dilation 2^l ({dilated_w} px) while "
        "keeping the full resolution; pooling also multiplies the jump. The field is not "
        f"used evenly: {mass:.0%} of the mean gradient fell in the central square of half "
        f"the width of the {max_depth}-layer plain stack, against 25% for a flat field."
    )


# --- parameter-sharing --------------------------------------------------------------------


def window_mask(size: int, kernel: int) -> np.ndarray:
    """(size², size²) 0/1 matrix: output pixel i is connected to input pixel j when j lies in
    the kernel x kernel window centred on i (zero padding: border windows are cut)."""
    yy, xx = np.divmod(np.arange(size * size), size)
    near_y = np.abs(yy[:, None] - yy[None, :]) <= kernel // 2
    near_x = np.abs(xx[:, None] - xx[None, :]) <= kernel // 2
    return (near_y & near_x).astype(np.float32)


class PixelMapLayer(nn.Module):
    """A map from a 1 x size x size image to channels x size x size features with its own
    weight for every (output pixel, input pixel, channel) allowed by ``mask``: all of them
    (a dense layer) or a window around each output pixel (a locally connected layer: a
    convolution without the sharing). Weights outside the mask stay zero and do not count
    as parameters."""

    def __init__(self, size: int, channels: int, mask: np.ndarray) -> None:
        super().__init__()
        self.size, self.channels = size, channels
        fan_in = float(mask.sum(axis=1).mean())
        bound = 1 / math.sqrt(fan_in)
        self.mask = nnlab.tensor(mask[None])
        uniform = nnlab.rand(channels, *mask.shape) * (2 * bound) - bound  # as nn.Conv2d's
        self.weight = nn.Parameter(uniform * self.mask)
        self.bias = nn.Parameter(nnlab.zeros(channels, size * size))
        self.free_parameters = int(channels * mask.sum() + channels * size * size)

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        weight = (self.weight * self.mask).reshape(-1, self.size * self.size)
        out = x.reshape(x.shape[0], -1) @ weight.transpose(0, 1)  # (N, channels x out pixels)
        out = out + self.bias.reshape(1, -1)
        return out.reshape(x.shape[0], self.channels, self.size, self.size)


def shift_mismatch(layer: nn.Module, x: np.ndarray) -> float:
    """How far ``layer`` is from translation equivariance: the relative difference between
    its output on images moved one pixel down and its own output moved one pixel down,
    on the interior pixels (away from the padded and the cut-off border)."""
    with nnlab.no_grad():
        of_shifted = layer(nnlab.tensor(shift_images(x, 1, 0))).numpy()
        shifted_out = shift_images(layer(nnlab.tensor(x)).numpy(), 1, 0)
    inner = (slice(None), slice(None), slice(2, -2), slice(2, -2))
    diff = of_shifted[inner] - shifted_out[inner]
    return float(np.linalg.norm(diff) / np.linalg.norm(shifted_out[inner]))


def sharing_net(feature: nn.Module, channels: int) -> nn.Sequential:
    """The same network after each kind of first layer: ReLU, 2x2 max pooling, a linear
    classifier on the pooled 4x4 maps."""
    return nn.Sequential(
        feature, nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(channels * 16, 10)
    )


def first_layer(kind: str, channels: int) -> tuple[nn.Module, int]:
    """The first layer of kind dense, local or shared, and its number of free parameters."""
    if kind == "shared (conv)":
        conv = nn.Conv2d(1, channels, 3, padding=1)
        return conv, n_parameters(conv)
    mask = window_mask(8, 3) if kind == "local (unshared)" else np.ones((64, 64), np.float32)
    layer = PixelMapLayer(8, channels, mask)
    return layer, layer.free_parameters


@experiment(
    "parameter-sharing",
    answers=["parameter-sharing"],
    quick=dict(n_train=200, channels=8, steps=150, n_seeds=2),
    full=dict(n_train=200, channels=16, steps=600, n_seeds=5),
)
def parameter_sharing(run: Run, n_train: int, channels: int, steps: int, n_seeds: int) -> None:
    """What does sharing one kernel across all positions buy a convolutional layer?"""
    kinds = ("dense", "local (unshared)", "shared (conv)")
    params: dict[str, int] = {}
    scores: dict[str, list[tuple[float, float, float]]] = {k: [] for k in kinds}
    mismatch: dict[str, list[float]] = {k: [] for k in kinds}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = digit_split(rng, n_train)
        order = batch_order(rng, n_train, steps, 32)
        for kind in kinds:
            nnlab.manual_seed(seed)  # the classifiers on top start from the same weights
            layer, params[kind] = first_layer(kind, channels)
            model = sharing_net(layer, channels)
            train_classifier(model, x_train, y_train, order)
            scores[kind].append(shift_scores(model, x_test, y_test))
            mismatch[kind].append(shift_mismatch(layer, x_test))

    rows = []
    for kind in kinds:
        clean, shifted, agree = (list(v) for v in zip(*scores[kind]))
        key = kind.split()[0]
        run.number(f"{key}_first_layer_parameters", params[kind])
        run.number(f"{key}_test_accuracy", round(float(np.mean(clean)), 4))
        run.number(f"{key}_shifted_accuracy", round(float(np.mean(shifted)), 4))
        run.number(f"{key}_shift_mismatch", float(np.max(mismatch[kind])))
        rows.append(
            (kind, params[kind], f"{np.max(mismatch[kind]):.2g}", spread(clean),
             spread(shifted), spread(agree))
        )  # fmt: skip
    run.table(
        f"First layer 1x8x8 -> {channels}x8x8, trained on {n_train} digits "
        f"(mean ± std over {n_seeds} seeds)",
        ("first layer", "parameters", "shift mismatch (max)", "test accuracy",
         "accuracy, 1-px shifts", "same prediction after shift"),
        rows,
    )  # fmt: skip

    fig = run.figure(
        "sharing", "Test accuracy per seed against the first layer's parameters (log scale)"
    )
    ax = fig.subplots()
    for i, kind in enumerate(kinds):
        clean, shifted, _ = zip(*scores[kind])
        ax.scatter([params[kind]] * len(clean), clean, color=f"C{i}", label=f"{kind}: clean")
        ax.scatter([params[kind]] * len(shifted), shifted, color=f"C{i}", marker="x",
                   label=f"{kind}: 1-px shift")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xlabel("first-layer parameters")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize="small")

    mean = {k: np.mean(scores[k], axis=0) for k in kinds}
    conv, local, dense = mean["shared (conv)"], mean["local (unshared)"], mean["dense"]
    ratio = params["local (unshared)"] / params["shared (conv)"]
    conv_mismatch = float(np.max(mismatch["shared (conv)"]))
    local_mismatch = float(np.min(mismatch["local (unshared)"]))
    run.claim(
        "Sharing cuts the first layer's parameters at least 20-fold against the locally "
        "connected layer on 8x8 inputs",
        ratio >= 20,
        f"{params['local (unshared)']} against {params['shared (conv)']} ({ratio:.1f}x)",
    )
    run.claim(
        "The trained convolution is translation equivariant (its output on a shifted digit is "
        "its shifted output, relative difference < 1e-5 inside the border), the trained "
        "locally connected layer is not (difference > 10%)",
        conv_mismatch < 1e-5 and local_mismatch > 0.1,
        f"largest conv difference {conv_mismatch:.2g}, smallest local {local_mismatch:.2g}",
    )
    run.claim(
        f"Trained on {n_train} digits, the shared layer's test accuracy is at least 2 points "
        "above the locally connected one's (mean over seeds)",
        conv[0] >= local[0] + 0.02,
        f"shared {conv[0]:.3f}, local {local[0]:.3f}",
        quick=False,
    )
    run.claim(
        "On one-pixel-shifted test digits the shared layer's accuracy is at least 5 points "
        "above the dense layer's (mean over seeds)",
        conv[1] >= dense[1] + 0.05,
        f"shared {conv[1]:.3f}, dense {dense[1]:.3f}",
        quick=False,
    )
    run.answer(
        f"Mapping an 8x8 digit to {channels} feature maps took {params['dense']:,} "
        f"parameters as a dense layer, {params['local (unshared)']:,} as a locally "
        f"connected one (3x3 windows, own weights per position) and "
        f"{params['shared (conv)']:,} as a convolution, which uses one 3x3 kernel per "
        f"channel at every position. Trained on {n_train} digits the three reached "
        f"{dense[0]:.1%}, {local[0]:.1%} and {conv[0]:.1%} test accuracy and "
        f"{dense[1]:.1%}, {local[1]:.1%} and {conv[1]:.1%} on images shifted by one pixel. "
        "Sharing buys far fewer parameters to fit and a detector that works the same "
        "wherever the pattern appears: moving a digit one pixel moved the convolution's "
        f"output with it (relative difference at most {conv_mismatch:.1e} inside the "
        f"border), while the locally connected layer's output changed by at least "
        f"{local_mismatch:.0%}."
    )


# --- pooling ------------------------------------------------------------------------------


def pooling_cnn(pool: str) -> nn.Sequential:
    """Two 3x3 conv + ReLU stages on 8x8 digits, each followed by a 2x2 max or average
    pooling, or by nothing (then the classifier sees the full 32x8x8 map)."""
    pools = {"max": lambda: nn.MaxPool2d(2), "average": lambda: nn.AvgPool2d(2)}
    stage = (lambda: [pools[pool]()]) if pool in pools else (lambda: [])
    side = 2 if pool in pools else 8
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), *stage(),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), *stage(),
        nn.Flatten(), nn.Linear(32 * side * side, 10),
    )  # fmt: skip


@experiment(
    "pooling",
    answers=["pooling"],
    quick=dict(n_train=1000, steps=150, n_seeds=2),
    full=dict(n_train=1000, steps=600, n_seeds=5),
)
def pooling(run: Run, n_train: int, steps: int, n_seeds: int) -> None:
    """What does pooling add to a convolutional net: size, accuracy, shift tolerance?"""
    arms = ("max", "average", "none")
    params = {arm: n_parameters(pooling_cnn(arm)) for arm in arms}
    scores: dict[str, list[tuple[float, float, float]]] = {arm: [] for arm in arms}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = digit_split(rng, n_train)
        order = batch_order(rng, n_train, steps, 64)
        for arm in arms:
            nnlab.manual_seed(seed)  # the same convolution weights in every arm
            model = pooling_cnn(arm)
            train_classifier(model, x_train, y_train, order)
            scores[arm].append(shift_scores(model, x_test, y_test))

    rows = []
    for arm in arms:
        clean, shifted, agree = (list(v) for v in zip(*scores[arm]))
        run.number(f"{arm}_parameters", params[arm])
        run.number(f"{arm}_test_accuracy", round(float(np.mean(clean)), 4))
        run.number(f"{arm}_shift_agreement", round(float(np.mean(agree)), 4))
        rows.append((arm, params[arm], spread(clean), spread(shifted), spread(agree)))
    run.table(
        f"Digit CNNs with and without pooling (mean ± std over {n_seeds} seeds)",
        ("pooling", "parameters", "test accuracy", "accuracy, 1-px shifts",
         "same prediction after shift"),
        rows,
    )  # fmt: skip

    fig = run.figure("pooling", "Per seed: clean accuracy and prediction agreement under shifts")
    ax = fig.subplots()
    for i, arm in enumerate(arms):
        clean, _, agree = zip(*scores[arm])
        ax.scatter(clean, agree, color=f"C{i}", label=f"{arm} ({params[arm]:,} parameters)")
    ax.set_xlabel("test accuracy")
    ax.set_ylabel("same prediction after a 1-pixel shift")
    ax.legend()

    mean = {arm: np.mean(scores[arm], axis=0) for arm in arms}
    run.claim(
        "Max pooling keeps the prediction of at least 2 points more shifted images than no "
        "pooling (mean agreement over seeds)",
        mean["max"][2] >= mean["none"][2] + 0.02,
        f"max {mean['max'][2]:.3f}, none {mean['none'][2]:.3f}",
        quick=False,
    )
    run.claim(
        "Pooling costs no clean accuracy: the max-pooling net is within 1 point of the "
        "unpooled net or above it (mean over seeds)",
        mean["max"][0] >= mean["none"][0] - 0.01,
        f"max {mean['max'][0]:.3f}, none {mean['none'][0]:.3f}",
        quick=False,
    )
    run.claim(
        "Pooling shrinks the classifier's input 16-fold, so the pooled net has at least 3x "
        "fewer parameters",
        params["none"] >= 3 * params["max"],
        f"{params['none']:,} against {params['max']:,}",
    )
    run.answer(
        "Pooling summarises each small window of a feature map by its maximum or mean. Two "
        "2x2 poolings shrank the 32x8x8 map to 32x2x2, so the CNN had "
        f"{params['max']:,} parameters instead of {params['none']:,} without pooling, "
        "and each unit after it sees a wider part of the image. Over "
        f"{n_seeds} seeds the test accuracy was {mean['max'][0]:.1%} (max), "
        f"{mean['average'][0]:.1%} (average) and {mean['none'][0]:.1%} (none); shifting the "
        "test digits by one pixel left the prediction unchanged for "
        f"{mean['max'][2]:.1%}, {mean['average'][2]:.1%} and {mean['none'][2]:.1%} of them. "
        "So pooling's job is to cut size and computation and to add some tolerance to "
        "small shifts."
    )
