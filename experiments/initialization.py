"""Initial weights: why all-equal weights never break symmetry, why the scale must match
the depth and the activation, and what Xavier and He initialisation get right.

The networks are MLPs on scikit-learn's 8x8 handwritten digits (64 inputs, 10 classes),
standardised per pixel. Within a seed every scheme sees the same data and batches.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits, evaluate, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn


def mlp(depth: int, width: int, activation: type[nn.Module]) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units (Linear then ``activation``), then a
    Linear to the 10 classes."""
    layers: list[nn.Module] = []
    sizes = [64] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def initialise(model: nn.Module, scheme: str) -> None:
    """Set every Linear weight by ``scheme``; biases start at 0.

    zero: all 0. constant: all 0.1. std 0.01 and std 1: N(0, std²) whatever the layer's
    size. xavier: N(0, 2 / (fan_in + fan_out)). he: N(0, 2 / fan_in).
    """
    for layer in model.modules():
        if not isinstance(layer, nn.Linear):
            continue
        w = layer.weight
        if scheme == "zero":
            nn.init.zeros_(w)
        elif scheme == "constant":
            nn.init.constant_(w, 0.1)
        elif scheme.startswith("std "):
            nn.init.normal_(w, 0.0, float(scheme.removeprefix("std ")))
        elif scheme == "xavier":
            nn.init.xavier_normal_(w)
        elif scheme == "he":
            nn.init.kaiming_normal_(w, nonlinearity="relu")
        else:
            raise ValueError(f"unknown scheme {scheme!r}")
        nn.init.zeros_(layer.bias)


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, log_every: int
) -> list[float]:
    """SGD with momentum 0.9 and lr 0.05, one step per row of ``order`` (mini-batch
    indices); the training loss on all of (x, y) at the start and every ``log_every``
    steps."""
    opt = nnlab.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return train_steps(model, opt, x, y, order, log_every)


def hidden_outputs(model: nn.Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The output of every hidden activation on ``x``, one (rows, units) array per layer."""
    outputs = []
    h = nnlab.tensor(x)
    with nnlab.no_grad():
        for module in list(model)[:-1]:
            h = module(h)
            if not isinstance(module, nn.Linear):
                outputs.append(h.numpy())
    return outputs


def unit_spread(h: np.ndarray) -> float:
    """The largest difference, over the data, between any hidden unit's output and the
    first unit's: 0 when every unit of the layer computes the same function."""
    return float(np.abs(h - h[:, :1]).max())


@experiment(
    "init-symmetry",
    answers=["weight-initialization"],
    quick=dict(depth=2, width=32, steps=300, n_seeds=2),
    full=dict(depth=2, width=64, steps=1500, n_seeds=5),
)
def init_symmetry(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """Why can't every weight start at the same value?"""
    schemes = ("zero", "constant", "xavier")
    x, y = digits()
    spread = {s: [] for s in schemes}
    accuracy = {s: [] for s in schemes}
    zero_weight_norm = []  # the hidden weights of the zero-init network, after training
    examples = {}  # the last hidden layer's first units on 40 images, first seed
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x), size=(steps, 64))
        for scheme in schemes:
            nnlab.manual_seed(seed)
            model = mlp(depth, width, nn.Tanh)
            initialise(model, scheme)
            train(model, x, y, order, log_every=steps)
            spread[scheme].append(max(unit_spread(h) for h in hidden_outputs(model, x)))
            accuracy[scheme].append(evaluate(model, x, y)[1])
            examples.setdefault(scheme, hidden_outputs(model, x[:40])[-1][:, :8])
            if scheme == "zero":
                zero_weight_norm.append(
                    max(float(np.abs(m.weight.detach().numpy()).max()) for m in list(model)[:-1:2])
                )

    run.number("zero_hidden_weight_max_after_training", max(zero_weight_norm))
    rows = []
    for s in schemes:
        run.number(f"{s}_unit_spread", float(np.max(spread[s])))
        run.number(f"{s}_train_accuracy", round(float(np.mean(accuracy[s])), 4))
        rows.append(
            (s, f"{np.max(spread[s]):.3g}", round(float(np.mean(accuracy[s])), 4),
             round(float(np.min(accuracy[s])), 4))
        )  # fmt: skip
    run.table(
        f"After {steps} SGD steps ({depth} tanh layers of {width} units, {n_seeds} seeds)",
        ("init", "largest output difference between units", "train accuracy mean",
         "train accuracy min"),
        rows,
    )  # fmt: skip

    fig = run.figure("symmetry", "Outputs of the first eight units of the last hidden layer "
                     "after training, on the first 40 images", width=9.0)  # fmt: skip
    axes = fig.subplots(1, len(schemes), sharey=True)
    for ax, scheme in zip(axes, schemes):
        ax.plot(examples[scheme], marker=".", linewidth=0.8)
        ax.set_title(scheme)
        ax.set_xlabel("image")
    axes[0].set_ylabel("unit output")

    symmetric = max(max(spread["zero"]), max(spread["constant"]))
    run.claim(
        "After training from all-zero or all-equal weights, every hidden unit of a layer "
        "still computes the same function (outputs within 1e-4 of each other on all data)",
        symmetric <= 1e-4,
        f"largest difference {symmetric:.2g}",
        quick=False,  # any difference comes from float32 rounding, which differs by CPU
    )
    run.claim(
        "From random (Xavier) weights the units differ (outputs at least 0.1 apart)",
        min(spread["xavier"]) >= 0.1,
        f"smallest spread over seeds {min(spread['xavier']):.3g}",
    )
    run.claim(
        "Zero init stays near chance (at most 20% training accuracy), constant init at most "
        "50%, Xavier at least 95%, in every seed",
        max(accuracy["zero"]) <= 0.2
        and max(accuracy["constant"]) <= 0.5
        and min(accuracy["xavier"]) >= 0.95,
        f"zero {max(accuracy['zero']):.3f} (best), constant {max(accuracy['constant']):.3f} "
        f"(best), Xavier {min(accuracy['xavier']):.3f} (worst)",
        quick=False,
    )
    run.answer(
        f"Units that start with equal weights compute the same output and receive the same "
        f"gradient, so in exact arithmetic they stay copies of each other. From all-zero "
        f"weights the hidden units of a {depth}-layer tanh MLP still differed by at most "
        f"{max(spread['zero']):.2g} after {steps} SGD steps: the hidden weights never moved "
        f"(largest {max(zero_weight_norm):.2g}), because the weights after them are 0 too, "
        f"and the training accuracy stayed at {np.mean(accuracy['zero']):.1%}. From all-0.1 "
        f"weights the units differed by up to {max(spread['constant']):.2g}, a difference "
        f"that can only come from float32 rounding, which training amplified; accuracy "
        f"{np.mean(accuracy['constant']):.1%} (worst seed {min(accuracy['constant']):.1%}). "
        f"From random Xavier weights the units ended at least "
        f"{min(spread['xavier']):.2g} apart and reached {np.mean(accuracy['xavier']):.1%}. "
        "Random initial weights break the symmetry by design rather than by accident; their "
        "scale is the other half of the story."
    )


def signal_and_gradient(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> tuple:
    """One forward and backward pass of the cross-entropy. Per hidden layer: the standard
    deviation of its outputs, of the loss gradient with respect to those outputs, and
    the fraction of outputs within 0.01 of ±1 (saturated, for tanh)."""
    modules = list(model)
    h = nnlab.tensor(x)
    outputs = []
    for linear, activation in zip(modules[:-1:2], modules[1::2]):
        h = activation(linear(h))
        h.retain_grad()
        outputs.append(h)
    F.cross_entropy(modules[-1](h), nnlab.tensor(y)).backward()
    # float64 for the statistics: squares of 1e-25 underflow float32
    forward = np.array([h.detach().numpy().astype(np.float64).std() for h in outputs])
    backward = np.array([h.grad.numpy().astype(np.float64).std() for h in outputs])
    saturated = np.array([float((np.abs(h.detach().numpy()) > 0.99).mean()) for h in outputs])
    return forward, backward, saturated


@experiment(
    "init-scale-depth",
    answers=["weight-initialization", "initialization-schemes"],
    quick=dict(depth=20, width=64, batch=256, n_seeds=3),
    full=dict(depth=20, width=128, batch=512, n_seeds=10),
)
def init_scale_depth(run: Run, depth: int, width: int, batch: int, n_seeds: int) -> None:
    """How does the initial weight scale decide whether signals and gradients survive
    twenty layers?"""
    schemes = ("std 0.01", "xavier", "he", "std 1")
    activations = {"relu": nn.ReLU, "tanh": nn.Tanh}
    x, y = digits()
    rows_batch = run.rng(0).integers(0, len(x), size=batch)
    fwd, bwd, sat = {}, {}, {}
    for act, activation in activations.items():
        for scheme in schemes:
            runs = []
            for seed in run.seeds(n_seeds):
                nnlab.manual_seed(seed)
                model = mlp(depth, width, activation)
                initialise(model, scheme)
                with np.errstate(all="ignore"):  # std 1 makes ReLU logits enormous
                    runs.append(signal_and_gradient(model, x[rows_batch], y[rows_batch]))
            fwd[act, scheme], bwd[act, scheme], sat[act, scheme] = (np.array(r) for r in zip(*runs))

    def geo(a: np.ndarray) -> np.ndarray:
        """Geometric mean over seeds (axis 0); 0 if any seed's value underflowed to 0."""
        with np.errstate(divide="ignore"):
            return np.exp(np.log(a).mean(axis=0))

    # How much the forward signal grows from the first to the last hidden layer, and how
    # much the backward gradient grows from the last to the first.
    f_ratio = {k: float(geo(v[:, -1] / v[:, 0])) for k, v in fwd.items()}
    b_ratio = {k: float(geo(v[:, 0] / v[:, -1])) for k, v in bwd.items()}
    rows = []
    for act, scheme in fwd:
        key = f"{act}_{scheme.replace(' ', '')}"
        run.number(f"{key}_forward_last_over_first", f_ratio[act, scheme])
        run.number(f"{key}_backward_first_over_last", b_ratio[act, scheme])
        rows.append(
            (act, scheme, f"{geo(fwd[act, scheme])[0]:.3g}", f"{geo(fwd[act, scheme])[-1]:.3g}",
             f"{f_ratio[act, scheme]:.3g}", f"{b_ratio[act, scheme]:.3g}",
             round(float(sat[act, scheme][:, -1].mean()), 3))
        )  # fmt: skip
    run.table(
        f"Signal and gradient through {depth} layers of {width} (geometric means, "
        f"{n_seeds} seeds)",
        ("activation", "init", "output std layer 1", f"output std layer {depth}",
         "forward growth", "backward growth", "saturated share last layer"),
        rows,
    )  # fmt: skip

    fig = run.figure("variance", "Standard deviation of each hidden layer's output "
                     "(forward) and of the loss gradient at it (backward)",
                     width=9.0, height=7.0)  # fmt: skip
    axes = fig.subplots(2, 2, sharex=True)
    layers = np.arange(1, depth + 1)
    for row, act in enumerate(activations):
        for scheme in schemes:
            axes[row, 0].semilogy(layers, geo(fwd[act, scheme]), marker=".", label=scheme)
            axes[row, 1].semilogy(layers, geo(bwd[act, scheme]), marker=".", label=scheme)
        axes[row, 0].set_ylabel(f"{act}: output std")
        axes[row, 1].set_ylabel(f"{act}: gradient std")
    axes[1, 0].set_xlabel("hidden layer")
    axes[1, 1].set_xlabel("hidden layer")
    axes[0, 0].legend(fontsize="small")

    he_f, he_b = f_ratio["relu", "he"], b_ratio["relu", "he"]
    run.claim(
        f"With ReLU and He initialisation the output spread and the gradient spread each "
        f"change by less than 2x across {depth} layers",
        0.5 <= he_f <= 2 and 0.5 <= he_b <= 2,
        f"forward {he_f:.3g}, backward {he_b:.3g}",
    )
    xa_f, xa_b = f_ratio["relu", "xavier"], b_ratio["relu", "xavier"]
    run.claim(
        "With ReLU and Xavier initialisation both shrink at least 100x (each layer halves "
        "the variance)",
        xa_f <= 1e-2 and xa_b <= 1e-2,
        f"forward {xa_f:.3g}, backward {xa_b:.3g}",
    )
    small = min(f_ratio["relu", "std 0.01"], b_ratio["relu", "std 0.01"])
    large = max(f_ratio["relu", "std 1"], b_ratio["relu", "std 1"])
    run.claim(
        "With ReLU, weights of std 0.01 shrink the signal or the gradient at least a "
        "million-fold, and weights of std 1 make one of them grow at least a million-fold",
        small <= 1e-6 and large >= 1e6,
        f"std 0.01: {small:.3g}, std 1: {large:.3g}",
    )
    tanh_sat = float(sat["tanh", "std 1"][:, -1].mean())
    tanh_xavier_sat = float(sat["tanh", "xavier"][:, -1].mean())
    run.claim(
        "With tanh and weights of std 1 at least half of the last layer's outputs are "
        "saturated (within 0.01 of ±1); with Xavier at most 5%",
        tanh_sat >= 0.5 and tanh_xavier_sat <= 0.05,
        f"std 1: {tanh_sat:.3f}, Xavier: {tanh_xavier_sat:.3f}",
    )
    run.answer(
        f"Each layer multiplies the variance of its input by fan_in x Var(w) x (the "
        f"activation's share of it). Across {depth} ReLU layers of {width}, He's Var(w) = "
        f"2/fan_in kept the output spread within a factor {he_f:.2g} and the gradient spread "
        f"within {he_b:.2g}; Xavier's 2/(fan_in + fan_out), made for activations that pass "
        f"the whole variance, lost half of it per ReLU layer: {xa_f:.2g} forward, {xa_b:.2g} "
        f"backward. Weights of std 0.01 shrank the signal or gradient by {small:.2g}, std 1 "
        f"grew one by {large:.2g}. With tanh, std-1 weights saturated {tanh_sat:.0%} of the "
        f"last layer's outputs (Xavier: {tanh_xavier_sat:.0%}), where the slope is near 0. "
        "Choose He for ReLU-like activations and Xavier for tanh, sigmoid and linear layers."
    )


@experiment(
    "init-training",
    answers=["initialization-schemes", "weight-initialization"],
    quick=dict(depth=10, width=64, steps=200, n_seeds=2),
    full=dict(depth=10, width=64, steps=1500, n_seeds=5),
)
def init_training(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """Does a deep ReLU network train from each initial weight scale?"""
    schemes = ("std 0.01", "xavier", "he", "std 1")
    x, y = digits()
    log_every = steps // 15
    curves = {s: [] for s in schemes}
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x), size=(steps, 64))
        for scheme in schemes:
            nnlab.manual_seed(seed)
            model = mlp(depth, width, nn.ReLU)
            initialise(model, scheme)
            with np.errstate(all="ignore"):  # std 1 may overflow; that is measured
                curves[scheme].append(train(model, x, y, order, log_every))

    final = {s: np.array([c[-1] for c in curves[s]]) for s in schemes}
    # A run that overflowed has no loss to average; medians are over the finite runs.
    finite = {s: final[s][np.isfinite(final[s])] for s in schemes}
    median = {s: float(np.median(finite[s])) if finite[s].size else float("nan") for s in schemes}
    diverged = {s: int((~np.isfinite(final[s])).sum()) for s in schemes}
    rows = []
    for s in schemes:
        key = s.replace(" ", "")
        start = np.array([c[0] for c in curves[s]])
        run.number(f"{key}_final_loss", median[s])
        run.number(f"{key}_diverged_runs", diverged[s])
        rows.append(
            (s, f"{np.median(start):.3g}", f"{median[s]:.3g}", f"{np.max(final[s]):.3g}",
             diverged[s])
        )  # fmt: skip
    run.table(
        f"Training loss, {depth} ReLU layers of {width}, {steps} SGD steps, {n_seeds} seeds",
        ("init", "start (median)", "end (median of finite)", "end (worst)", "non-finite runs"),
        rows,
    )

    fig = run.figure("curves", "Training loss (median over seeds; non-finite values not drawn)")
    ax = fig.subplots()
    steps_axis = np.arange(len(curves["he"][0])) * log_every
    for s in schemes:
        ax.plot(steps_axis, np.median(np.array(curves[s]), axis=0), label=s)
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training cross-entropy")
    ax.legend()

    run.claim(
        "From He initialisation every seed gets the training loss below 0.1",
        bool((final["he"] < 0.1).all()),
        f"worst final loss {final['he'].max():.3g}",
        quick=False,
    )
    run.claim(
        "From std 0.01 weights the network barely moves: the training loss stays above "
        "2.0 (chance is ln 10 = 2.3) in every seed",
        bool((final["std 0.01"] > 2.0).all()),
        f"lowest final loss {final['std 0.01'].min():.3g}",
    )
    run.claim(
        "He ends with a lower training loss than Xavier in every seed",
        bool((final["he"] < final["xavier"]).all()),
        f"He {final['he'].round(4).tolist()}, Xavier {final['xavier'].round(4).tolist()}",
        quick=False,
    )
    run.claim(
        "From std 1 weights no seed gets the training loss below 1.0 (or it turns non-finite)",
        bool(((final["std 1"] >= 1.0) | ~np.isfinite(final["std 1"])).all()),
        f"final losses {final['std 1'].round(3).tolist()}",
    )
    run.answer(
        f"The same {depth}-layer ReLU MLP, same batches, {steps} steps of SGD (lr 0.05, "
        f"momentum 0.9): from He weights the training loss ended at {median['he']:.3g} (median "
        f"of the finite runs; {diverged['he']} of {n_seeds} overflowed), from Xavier to "
        f"{median['xavier']:.3g} ({diverged['xavier']} overflowed), while weights of std 0.01 "
        f"left it at {median['std 0.01']:.3g}, where it started (the signal and the gradient "
        f"vanish, see init-scale-depth), and weights of std 1 started it at "
        f"{np.median([c[0] for c in curves['std 1']]):.3g} and ended at "
        f"{median['std 1']:.3g} ({diverged['std 1']} of {n_seeds} overflowed). A scale matched "
        "to the layer's fan-in and activation is what lets a deep net start learning; the "
        "larger He weights also take larger steps, so the learning rate must suit them."
    )
