"""Going back up: transposed convolutions, and networks that label every pixel.

* ``transposed-convolution``: ConvTranspose2d output sizes by formula and as measured; the
  check that it is the transpose (adjoint) of the convolution with the same weights; and a
  single transposed convolution learning 2x upsampling of smooth images, against
  nearest-neighbour and bilinear upsampling.
* ``semantic-segmentation``: an encoder-decoder (convolutions and pooling down,
  transposed convolutions up) with and without U-Net skip connections, and a per-pixel
  network that sees no context, labelling the pixels of synthetic 16x16 images as
  background, circle or square. (The shapes of
  :func:`nnlab.data.datasets.make_shapes_segmentation` are 2-3 pixels across at 16x16,
  too small for these nets to tell apart in the time budget; larger images cost too much.)
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.convolution import n_parameters, spread
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.metrics import mean_iou, pixel_accuracy

# --- transposed-convolution ---------------------------------------------------------------


def transposed_output_size(n: int, kernel: int, stride: int, padding: int, extra: int) -> int:
    """Length of a transposed convolution's output along an axis of input length ``n``
    (``extra`` is ``output_padding``): the input size of the convolution it transposes."""
    return (n - 1) * stride - 2 * padding + kernel + extra


#: (input side, kernel, stride, padding, output_padding)
_TRANSPOSED_CASES = (
    (8, 2, 2, 0, 0),
    (8, 4, 2, 1, 0),
    (8, 3, 2, 1, 1),
    (7, 3, 1, 1, 0),
    (5, 5, 3, 0, 2),
)


def adjoint_gap(rng: np.random.Generator, stride: int, padding: int) -> float:
    """For random x, y and one weight W: the relative gap between <conv(x; W), y> and
    <x, conv_transpose(y; W)>; zero when the transposed convolution is the adjoint."""
    weight = nnlab.tensor(rng.standard_normal((6, 3, 3, 3)).astype(np.float64))
    x = nnlab.tensor(rng.standard_normal((2, 3, 9, 9)).astype(np.float64))
    y_shape = F.conv2d(x, weight, stride=stride, padding=padding).shape
    y = nnlab.tensor(rng.standard_normal(tuple(y_shape)).astype(np.float64))
    # output_padding restores the input rows a strided convolution never reached
    extra = 9 - transposed_output_size(y_shape[-1], 3, stride, padding, 0)
    left = float((F.conv2d(x, weight, stride=stride, padding=padding) * y).sum())
    back = F.conv_transpose2d(y, weight, stride=stride, padding=padding, output_padding=extra)
    right = float((x * back).sum())
    return abs(left - right) / abs(left)


def smooth_images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """(n, 1, size, size) images, each a sum of three Gaussian bumps of random place,
    width (1.5 to 4 pixels) and sign."""
    yy, xx = np.mgrid[:size, :size]
    centres = rng.uniform(0, size, size=(n, 3, 2))
    widths = rng.uniform(1.5, 4.0, size=(n, 3))
    heights = rng.uniform(-1, 1, size=(n, 3))
    d2 = (yy - centres[..., 0, None, None]) ** 2 + (xx - centres[..., 1, None, None]) ** 2
    bumps = heights[..., None, None] * np.exp(-d2 / (2 * widths[..., None, None] ** 2))
    return bumps.sum(axis=1, keepdims=True).astype(np.float32)


def learn_upsampler(
    low: np.ndarray, high: np.ndarray, order: np.ndarray, lr: float = 0.02
) -> nn.ConvTranspose2d:
    """One ConvTranspose2d(1, 1, 4, stride 2, padding 1) trained with Adam on the mean
    squared error of its 2x upsampling of ``low`` against ``high``."""
    layer = nn.ConvTranspose2d(1, 1, 4, stride=2, padding=1)
    opt = nnlab.optim.Adam(layer.parameters(), lr=lr)
    for idx in order:
        loss = F.mse_loss(layer(nnlab.tensor(low[idx])), nnlab.tensor(high[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return layer


def upsample_errors(
    layer: nn.Module, low: np.ndarray, high: np.ndarray
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Test mean squared error of each 2x upsampling of ``low`` against ``high``, and the
    upsampled images."""
    x = nnlab.tensor(low)
    with nnlab.no_grad():
        images = {
            "nearest": F.interpolate(x, scale_factor=2, mode="nearest").numpy(),
            "bilinear": F.interpolate(x, scale_factor=2, mode="bilinear").numpy(),
            "learned transposed conv": layer(x).numpy(),
        }
    return {k: float(np.mean((v - high) ** 2)) for k, v in images.items()}, images


@experiment(
    "transposed-convolution",
    answers=["transposed-convolution"],
    quick=dict(n_images=256, steps=150, n_seeds=2),
    full=dict(n_images=1024, steps=600, n_seeds=5),
)
def transposed_convolution(run: Run, n_images: int, steps: int, n_seeds: int) -> None:
    """What does a transposed convolution compute, and can it learn to upsample?"""
    rows, sizes_match = [], []
    for side, k, stride, pad, extra in _TRANSPOSED_CASES:
        layer = nn.ConvTranspose2d(2, 3, k, stride=stride, padding=pad, output_padding=extra)
        measured = layer(nnlab.zeros(1, 2, side, side)).shape[-1]
        formula = transposed_output_size(side, k, stride, pad, extra)
        sizes_match.append(measured == formula)
        rows.append((f"{side}x{side}", k, stride, pad, extra, measured, formula))
    run.table(
        "ConvTranspose2d output side: (n - 1) s - 2p + k + output_padding",
        ("input", "kernel", "stride", "padding", "output_padding", "measured", "formula"),
        rows,
    )
    gaps = [adjoint_gap(run.rng(1), s, p) for s, p in ((1, 1), (2, 1), (2, 0), (3, 1))]
    gap = run.number("largest_adjoint_gap", max(gaps))

    # A fixed transposed convolution: a 2x2 kernel of ones with stride 2 copies each pixel
    # into a 2x2 block, which is nearest-neighbour upsampling.
    probe = nnlab.tensor(smooth_images(run.rng(2), 4, 8))
    copied = F.conv_transpose2d(probe, nnlab.ones(1, 1, 2, 2), stride=2)
    nearest_gap = run.number(
        "nearest_as_transposed_conv_gap",
        float(np.abs(copied.numpy() - F.interpolate(probe, scale_factor=2).numpy()).max()),
    )

    errors: dict[str, list[float]] = {}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        high = smooth_images(rng, 2 * n_images, 16)
        low = F.avg_pool2d(nnlab.tensor(high), 2).numpy()  # what a 2x downsampling keeps
        order = rng.integers(0, n_images, size=(steps, 32))
        nnlab.manual_seed(seed)
        layer = learn_upsampler(low[:n_images], high[:n_images], order)
        mse, images = upsample_errors(layer, low[n_images:], high[n_images:])
        for method, value in mse.items():
            errors.setdefault(method, []).append(value)
    run.table(
        f"2x upsampling of 8x8 to 16x16 smooth images: test MSE (mean ± std, {n_seeds} seeds)",
        ("method", "test MSE"),
        [(method, f"{np.mean(v):.2e} ± {np.std(v):.1e}") for method, v in errors.items()],
    )
    mean = {method: float(np.mean(values)) for method, values in errors.items()}
    for method, value in mean.items():
        run.number(f"{method.replace(' ', '_')}_mse", round(value, 6))

    fig = run.figure(
        "upsampling",
        "A test image (last seed): its 8x8 version, three 2x upsamplings, the 16x16 truth; "
        "right: the learned 4x4 kernel",
        width=10,
        height=2.6,
    )
    axes = fig.subplots(1, 6)
    panels = {"8x8 input": low[n_images][0], **{m: v[0, 0] for m, v in images.items()},
              "16x16 truth": high[n_images][0]}  # fmt: skip
    limit = np.abs(high[n_images]).max()
    for ax, (title, img) in zip(axes, panels.items()):
        ax.imshow(img, cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize="small")
    axes[-1].imshow(layer.weight.detach().numpy()[0, 0], cmap="viridis")
    axes[-1].set_title("learned kernel", fontsize="small")
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])

    learned = mean["learned transposed conv"]
    run.claim(
        "Every output side equals (n - 1) s - 2p + k + output_padding",
        all(sizes_match),
        f"{sum(sizes_match)} of {len(sizes_match)} agree",
    )
    run.claim(
        "conv_transpose2d with a convolution's weights is that convolution's transpose: "
        "<conv(x), y> = <x, conv_transpose(y)> to a relative 1e-10 in float64",
        gap <= 1e-10,
        f"largest relative gap {gap:.1e}",
    )
    run.claim(
        "A single learned transposed convolution upsamples with at most 70% of the "
        "nearest-neighbour test error",
        learned <= 0.7 * mean["nearest"],
        f"learned {learned:.5f}, nearest {mean['nearest']:.5f}",
    )
    run.claim(
        "The learned transposed convolution is at least as good as bilinear upsampling",
        learned <= mean["bilinear"],
        f"learned {learned:.5f}, bilinear {mean['bilinear']:.5f}",
        quick=False,
    )
    run.answer(
        "A transposed convolution (often called deconvolution, though it does not invert "
        "a convolution) maps each input pixel to a kernel-sized patch of the output, placed "
        "stride pixels apart, and sums the overlaps: it runs a convolution's gradient "
        "forward, so it upsamples. Its output side was (n - 1)s - 2p + k + output_padding in "
        f"{sum(sizes_match)} of {len(sizes_match)} cases, and with a convolution's weights "
        f"it is that convolution's transpose (<conv x, y> = <x, convT y> to {gap:.0e}). "
        "Nearest-neighbour upsampling is the transposed convolution with a fixed 2x2 kernel "
        f"of ones (largest difference {nearest_gap:.0e}); letting the 4x4 kernel be learned "
        f"from {n_images} images brought the test error of 2x upsampling smooth images to "
        f"{learned:.5f}, against {mean['nearest']:.5f} for nearest and "
        f"{mean['bilinear']:.5f} for bilinear. Decoders of segmentation nets, generators "
        "and autoencoders use it to go from coarse feature maps back to full resolution."
    )


# --- semantic-segmentation ----------------------------------------------------------------


SHAPES = ("background", "circle", "square")


def shape_images(
    rng: np.random.Generator, n: int, size: int, noise: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    """``(images, masks)``: (n, 1, size, size) images holding one or two shapes, each a
    circle or an axis-aligned square of random place, radius (half-side) 3 to 5 pixels and
    brightness 0.5 to 1, the later on top, plus Gaussian noise; masks (n, size, size) label
    each pixel 0 background, 1 circle, 2 square. Circle and square pixels look alike: only
    the outline around a pixel tells its class."""
    yy, xx = np.mgrid[:size, :size]
    images = np.zeros((n, 1, size, size), np.float32)
    masks = np.zeros((n, size, size), np.int64)
    for image, mask in zip(images, masks):
        for _ in range(rng.integers(1, 3)):
            kind = rng.integers(1, 3)
            cy, cx = rng.uniform(2, size - 2, size=2)
            r = rng.uniform(3, 5)
            if kind == 1:
                inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
            else:
                inside = (np.abs(yy - cy) <= r) & (np.abs(xx - cx) <= r)
            image[0][inside] = rng.uniform(0.5, 1.0)
            mask[inside] = kind
    images += noise * rng.standard_normal(images.shape).astype(np.float32)
    return images, masks


def conv_relu(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())


class EncoderDecoder(nn.Module):
    """A two-level encoder-decoder for 16x16 images, optionally with U-Net skips::

        16x16: conv 16 ─────────────────────────────(skip)─── up 16 ─ conv 16 ─ 1x1 → classes
          pool ─ 8x8: conv 32 ─────────(skip)── up 32 ─ conv 32 ─┘
                 pool ─ 4x4: conv 32 ──┘

    Pooling halves the maps, so the units deep down see most of the image; each
    ConvTranspose2d(2, stride 2) doubles them back. A skip concatenates the encoder's map
    of the same size (fine detail) to the upsampled one (context)."""

    def __init__(self, n_classes: int, skips: bool, width: int = 8) -> None:
        super().__init__()
        w1, w2 = width, 2 * width
        self.skips = skips
        self.enc1, self.enc2, self.bottom = conv_relu(1, w1), conv_relu(w1, w2), conv_relu(w2, w2)
        self.up2 = nn.ConvTranspose2d(w2, w2, 2, stride=2)
        self.dec2 = conv_relu(2 * w2 if skips else w2, w2)
        self.up1 = nn.ConvTranspose2d(w2, w1, 2, stride=2)
        self.dec1 = conv_relu(2 * w1 if skips else w1, w1)
        self.head = nn.Conv2d(w1, n_classes, 1)

    def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        b = self.bottom(F.max_pool2d(e2, 2))
        u2 = self.up2(b)
        d2 = self.dec2(nnlab.cat([u2, e2], dim=1) if self.skips else u2)
        u1 = self.up1(d2)
        d1 = self.dec1(nnlab.cat([u1, e1], dim=1) if self.skips else u1)
        return self.head(d1)


def pixelwise_net(n_classes: int, width: int = 8) -> nn.Sequential:
    """1x1 convolutions only: each pixel is labelled from its own value, without context."""
    return nn.Sequential(
        nn.Conv2d(1, width, 1), nn.ReLU(), nn.Conv2d(width, width, 1), nn.ReLU(),
        nn.Conv2d(width, n_classes, 1),
    )  # fmt: skip


SEGMENTERS = {
    "per-pixel (1x1 convs)": pixelwise_net,
    "encoder-decoder": lambda c: EncoderDecoder(c, skips=False),
    "encoder-decoder + skips": lambda c: EncoderDecoder(c, skips=True),
}


def train_segmenter(model: nn.Module, x: np.ndarray, masks: np.ndarray, order: np.ndarray) -> None:
    """Adam on the per-pixel cross-entropy over the batches whose indices are ``order``."""
    opt = nnlab.optim.Adam(model.parameters(), lr=0.01)
    for idx in order:
        loss = F.cross_entropy(model(nnlab.tensor(x[idx])), nnlab.tensor(masks[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()


def segment(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """The predicted class of every pixel, (N, H, W)."""
    with nnlab.no_grad():
        return model(nnlab.tensor(x)).numpy().argmax(axis=1)


@experiment(
    "semantic-segmentation",
    answers=["semantic-segmentation"],
    quick=dict(n_train=256, n_test=128, steps=60, n_seeds=2),
    full=dict(n_train=1024, n_test=256, steps=600, n_seeds=3),
)
def semantic_segmentation(run: Run, n_train: int, n_test: int, steps: int, n_seeds: int) -> None:
    """How does a convolutional net label every pixel of an image?"""
    n_classes = len(SHAPES)
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in SEGMENTERS}
    baseline: list[tuple[float, float]] = []
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x, masks = shape_images(rng, n_train, 16)
        x_test, masks_test = shape_images(rng, n_test, 16)
        order = rng.integers(0, n_train, size=(steps, 16))
        background = np.zeros_like(masks_test)
        baseline.append(
            (pixel_accuracy(masks_test, background), mean_iou(masks_test, background, n_classes))
        )
        predictions = {}
        for name, make in SEGMENTERS.items():
            nnlab.manual_seed(seed)
            model = make(n_classes)
            train_segmenter(model, x, masks, order)
            predictions[name] = segment(model, x_test)
            scores[name].append(
                (pixel_accuracy(masks_test, predictions[name]),
                 mean_iou(masks_test, predictions[name], n_classes))
            )  # fmt: skip

    params = {name: n_parameters(make(n_classes)) for name, make in SEGMENTERS.items()}
    rows = [("all background", 0, spread([b[0] for b in baseline]),
             spread([b[1] for b in baseline]))]  # fmt: skip
    for name in SEGMENTERS:
        acc, iou = zip(*scores[name])
        rows.append((name, params[name], spread(acc), spread(iou)))
        key = name.split(" (")[0].replace(" + ", "_").replace(" ", "_").replace("-", "_")
        run.number(f"{key}_pixel_accuracy", round(float(np.mean(acc)), 4))
        run.number(f"{key}_mean_iou", round(float(np.mean(iou)), 4))
    run.number("background_pixel_accuracy", round(float(np.mean([b[0] for b in baseline])), 4))
    run.table(
        f"16x16 shape images, {n_train} for training, {n_test} for testing "
        f"(mean ± std over {n_seeds} seeds)",
        ("model", "parameters", "pixel accuracy", "mean IoU"),
        rows,
    )
    draw_segmentations(run, x_test[:4], masks_test[:4], {k: v[:4] for k, v in predictions.items()})

    mean = {name: np.mean(values, axis=0) for name, values in scores.items()}
    pixel, plain, skips = (mean[n] for n in SEGMENTERS)
    floor = float(np.mean([b[0] for b in baseline]))
    run.claim(
        "The encoder-decoder with skips labels at least 10 points more pixels correctly than "
        "predicting background everywhere",
        skips[0] >= floor + 0.10,
        f"{skips[0]:.3f} against {floor:.3f}",
        quick=False,
    )
    run.claim(
        "Context is needed to tell shapes apart: the encoder-decoder's mean IoU is at least "
        "0.1 above the per-pixel network's",
        plain[1] >= pixel[1] + 0.1,
        f"encoder-decoder {plain[1]:.3f}, per-pixel {pixel[1]:.3f}",
        quick=False,
    )
    run.claim(
        "Skip connections sharpen the masks: mean IoU at least 0.02 higher with them than without",
        skips[1] >= plain[1] + 0.02,
        f"with {skips[1]:.3f}, without {plain[1]:.3f}",
        quick=False,
    )
    run.answer(
        "Semantic segmentation asks for a class at every pixel, so the network must keep "
        "the image's resolution: an encoder of convolutions and pooling gathers context at "
        "coarse resolution, a decoder of transposed convolutions brings the maps back to "
        "full size, and a 1x1 convolution scores the classes at every pixel, trained with "
        "a cross-entropy per pixel. On 16x16 noisy images of circles and squares, "
        f"predicting background everywhere is right for {floor:.1%} of pixels (mean IoU "
        f"{np.mean([b[1] for b in baseline]):.3f}); a per-pixel net, which sees one pixel "
        f"at a time, reached {pixel[0]:.1%} and mean IoU {pixel[1]:.3f}; the "
        f"encoder-decoder {plain[0]:.1%} and {plain[1]:.3f}; with U-Net skip connections "
        f"(encoder maps concatenated to the decoder's) {skips[0]:.1%} and {skips[1]:.3f}."
    )


def draw_segmentations(
    run: Run, images: np.ndarray, masks: np.ndarray, predictions: dict[str, np.ndarray]
) -> None:
    """A grid: one row per test image; the image, its true mask, each model's mask."""
    fig = run.figure(
        "masks",
        "Test images (last seed): true and predicted masks (blue background, orange circle, "
        "green square)",
        width=8,
        height=7,
    )
    columns = {"image": None, "true mask": masks, **predictions}
    axes = fig.subplots(len(images), len(columns), squeeze=False)
    for i, image in enumerate(images):
        for ax, (title, data) in zip(axes[i], columns.items()):
            if data is None:
                ax.imshow(image[0], cmap="gray", vmin=0, vmax=1)
            else:
                ax.imshow(data[i], cmap="tab10", vmin=0, vmax=9, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize="x-small")
