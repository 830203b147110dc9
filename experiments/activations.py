"""Activation functions in deep networks: the gradients they pass back, the units they
kill, the training they allow, and softmax at the output.

The deep networks are MLPs on scikit-learn's 8x8 handwritten digits (64 inputs, 10
classes), standardised per pixel. Arms compared within a seed share the data, the
batches and, where the experiment says so, the initial weights.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits, evaluate, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn

#: The activations compared, each with the weight initialisation usually paired with it:
#: Glorot/Xavier for the saturating and linear ones, He/Kaiming for the rectifiers.
ACTIVATIONS: dict[str, tuple[type[nn.Module], str]] = {
    "sigmoid": (nn.Sigmoid, "xavier"),
    "tanh": (nn.Tanh, "xavier"),
    "relu": (nn.ReLU, "he"),
    "leaky_relu": (nn.LeakyReLU, "he"),
    "gelu": (nn.GELU, "he"),
    "identity": (nn.Identity, "xavier"),
}


def deep_mlp(depth: int, width: int, activation: type[nn.Module]) -> nn.Sequential:
    """``depth`` hidden layers of ``width`` units, each Linear followed by ``activation``,
    then a Linear to the 10 classes. Weights keep nnlab's default initialisation."""
    layers: list[nn.Module] = []
    sizes = [64] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def initialise(model: nn.Module, scheme: str) -> None:
    """Redraw every Linear weight with ``scheme`` ("xavier" or "he", normal), biases 0."""
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            if scheme == "xavier":
                nn.init.xavier_normal_(layer.weight)
            else:
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)


def linears(model: nn.Sequential) -> list[nn.Linear]:
    """The Linear layers of ``model``, input side first."""
    return [m for m in model if isinstance(m, nn.Linear)]


def mean_slope(activation: nn.Module, z: np.ndarray) -> float:
    """The mean of |f'(z)| over a batch of pre-activations: the factor by which the
    activation scales the gradient passing back through it, on average."""
    zt = nnlab.tensor(z, requires_grad=True)
    activation(zt).sum().backward()
    return float(np.abs(zt.grad.numpy()).mean())


def probe(model: nn.Sequential, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """One forward and backward pass of the cross-entropy on (x, y). Per hidden layer:
    the gradient norm of its weight matrix, the standard deviation of its outputs, and
    the mean slope of its activation."""
    h = nnlab.tensor(x)
    stds, slopes = [], []
    modules = list(model)
    for linear, activation in zip(modules[:-1:2], modules[1::2]):
        z = linear(h)
        slopes.append(mean_slope(activation, z.detach().numpy()))
        h = activation(z)
        stds.append(float(h.detach().numpy().std()))
    F.cross_entropy(modules[-1](h), nnlab.tensor(y)).backward()
    grads = [float(np.linalg.norm(layer.weight.grad.numpy())) for layer in linears(model)[:-1]]
    return {"grad": np.array(grads), "std": np.array(stds), "slope": np.array(slopes)}


@experiment(
    "activation-gradients",
    answers=["vanishing-gradients", "activation-functions"],
    quick=dict(depth=20, width=64, batch=256, n_seeds=3),
    full=dict(depth=20, width=128, batch=512, n_seeds=10),
)
def activation_gradients(run: Run, depth: int, width: int, batch: int, n_seeds: int) -> None:
    """How does the gradient's size change from the last to the first layer of a deep net,
    for each activation function?"""
    x, y = digits()
    rows = run.rng(0).integers(0, len(x), size=batch)  # one batch shared by every arm
    stats = {name: [] for name in ACTIVATIONS}
    for seed in run.seeds(n_seeds):
        for name, (activation, scheme) in ACTIVATIONS.items():
            nnlab.manual_seed(seed)
            model = deep_mlp(depth, width, activation)
            initialise(model, scheme)
            stats[name].append(probe(model, x[rows], y[rows]))

    # ratio = |dL/dW| of the first hidden layer over that of the last hidden layer
    ratio = {n: np.array([s["grad"][0] / s["grad"][-1] for s in v]) for n, v in stats.items()}
    geo = {n: float(np.exp(np.log(r).mean())) for n, r in ratio.items()}
    table = []
    for name, (_, scheme) in ACTIVATIONS.items():
        slope = float(np.mean([s["slope"].mean() for s in stats[name]]))
        last_std = float(np.mean([s["std"][-1] for s in stats[name]]))
        run.number(f"{name}_first_over_last_grad", geo[name])
        run.number(f"{name}_mean_slope", round(slope, 4))
        table.append(
            (name, scheme, f"{geo[name]:.3g}", f"{ratio[name].min():.3g}",
             f"{ratio[name].max():.3g}", round(slope, 3), round(last_std, 4))
        )  # fmt: skip
    run.table(
        f"First over last hidden layer's weight-gradient norm, {depth}-layer MLP, {n_seeds} seeds",
        ("activation", "init", "geometric mean", "min", "max", "mean |f'|", "last-layer std"),
        table,
    )

    fig = run.figure("gradients", "Weight-gradient norm and output spread per layer", height=4.5)
    ax_grad, ax_std = fig.subplots(1, 2)
    layers = np.arange(1, depth + 1)
    for name in ACTIVATIONS:
        grads = np.exp(np.mean([np.log(s["grad"]) for s in stats[name]], axis=0))
        stds = np.mean([s["std"] for s in stats[name]], axis=0)
        ax_grad.semilogy(layers, grads, marker=".", label=name)
        ax_std.semilogy(layers, stds, marker=".", label=name)
    ax_grad.set_xlabel("hidden layer")
    ax_grad.set_ylabel("|dL/dW| (geometric mean over seeds)")
    ax_std.set_xlabel("hidden layer")
    ax_std.set_ylabel("std of the layer's outputs")
    ax_grad.legend(fontsize="small")

    worst_sigmoid = float(ratio["sigmoid"].max())
    run.claim(
        f"In a {depth}-layer sigmoid MLP the first layer's gradient norm is at least 100x "
        "smaller than the last layer's, in every seed",
        worst_sigmoid <= 1e-2,
        f"largest first/last ratio {worst_sigmoid:.3g}",
    )
    run.claim(
        "With ReLU and He initialisation the first and last layers' gradient norms are "
        "within 10x of each other (geometric mean over seeds)",
        0.1 <= geo["relu"] <= 10,
        f"first/last ratio {geo['relu']:.3g}",
    )
    run.claim(
        "Leaky ReLU and GELU with He initialisation also stay within 10x",
        all(0.1 <= geo[n] <= 10 for n in ("leaky_relu", "gelu")),
        f"leaky ReLU {geo['leaky_relu']:.3g}, GELU {geo['gelu']:.3g}",
        quick=False,
    )
    run.claim(
        "tanh loses far less gradient than sigmoid: its first/last ratio is at least 100x larger",
        geo["tanh"] >= 100 * geo["sigmoid"],
        f"tanh {geo['tanh']:.3g}, sigmoid {geo['sigmoid']:.3g}",
    )
    sigmoid_slope = max(float(s["slope"].max()) for s in stats["sigmoid"])
    run.claim(
        "The sigmoid's mean slope is at most 0.25 in every layer, so each layer shrinks "
        "the gradient it passes back",
        sigmoid_slope <= 0.25,
        f"largest mean sigmoid slope {sigmoid_slope:.3f}",
    )
    run.answer(
        f"Backpropagation multiplies the gradient by each layer's weights and by the slope "
        f"of its activation. The sigmoid's slope averaged {run.numbers['sigmoid_mean_slope']} "
        f"over the layers, so in a {depth}-layer sigmoid MLP the first layer's weight gradient "
        f"was {geo['sigmoid']:.2g} times the last layer's (geometric mean of {n_seeds} seeds): "
        f"the early layers barely learn. tanh (slope {run.numbers['tanh_mean_slope']}) kept a "
        f"ratio of {geo['tanh']:.2g}; ReLU with He initialisation {geo['relu']:.2g}, leaky ReLU "
        f"{geo['leaky_relu']:.2g} and GELU {geo['gelu']:.2g}, because their slope is 1 on the "
        "active half and He's weights double the variance to make up for the inactive half. "
        f"The identity kept {geo['identity']:.2g}, but a stack of identities is one linear map. "
        "The cure is an activation that does not saturate, an initialisation matched to it, "
        "and paths that skip layers (residual or highway connections)."
    )


def split(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, n_test: int) -> tuple:
    """A random train/test split: (x_train, y_train, x_test, y_test)."""
    order = rng.permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


@experiment(
    "activation-training",
    answers=["relu-sigmoid-tanh", "activation-functions"],
    quick=dict(depth=5, width=64, steps=300, n_seeds=2),
    full=dict(depth=5, width=64, steps=1500, n_seeds=5),
)
def activation_training(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """How fast do ReLU, tanh and sigmoid networks of the same shape learn?"""
    arms = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    x, y = digits()
    x_train, y_train, x_test, y_test = split(x, y, run.rng(0), n_test=500)
    log_every = steps // 30
    curves = {a: [] for a in arms}
    accuracy = {a: [] for a in arms}
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x_train), size=(steps, 64))
        for arm, activation in arms.items():
            nnlab.manual_seed(seed)  # every arm starts from the same weights
            model = deep_mlp(depth, width, activation)
            opt = nnlab.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
            curves[arm].append(train_steps(model, opt, x_train, y_train, order, log_every))
            accuracy[arm].append(evaluate(model, x_test, y_test)[1])

    final = {a: np.array([c[-1] for c in curves[a]]) for a in arms}
    rows = []
    for arm in arms:
        run.number(f"{arm}_final_train_loss", round(float(final[arm].mean()), 4))
        run.number(f"{arm}_test_accuracy", round(float(np.mean(accuracy[arm])), 4))
        rows.append(
            (arm, round(float(final[arm].mean()), 4), round(float(final[arm].std()), 4),
             round(float(np.mean(accuracy[arm])), 4), round(float(np.min(accuracy[arm])), 4))
        )  # fmt: skip
    run.table(
        f"After {steps} SGD steps ({depth} hidden layers of {width}, {n_seeds} seeds)",
        ("activation", "train loss mean", "train loss std", "test accuracy mean",
         "test accuracy min"),
        rows,
    )  # fmt: skip

    fig = run.figure("curves", "Training loss (mean over seeds, band: min to max)")
    ax = fig.subplots()
    steps_axis = np.arange(len(curves["relu"][0])) * log_every
    for arm in arms:
        c = np.array(curves[arm])
        ax.plot(steps_axis, c.mean(0), label=arm)
        ax.fill_between(steps_axis, c.min(0), c.max(0), alpha=0.2)
    ax.set_yscale("log")
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training cross-entropy")
    ax.legend()

    relu_wins = bool((final["relu"] < final["sigmoid"]).all())
    tanh_wins = bool((final["tanh"] < final["sigmoid"]).all())
    gap = float(final["sigmoid"].mean() / final["relu"].mean())
    run.claim(
        "ReLU and tanh both end with a lower training loss than sigmoid, in every seed",
        relu_wins and tanh_wins,
        f"final losses: ReLU {final['relu'].round(3).tolist()}, tanh "
        f"{final['tanh'].round(3).tolist()}, sigmoid {final['sigmoid'].round(3).tolist()}",
    )
    run.claim(
        "The sigmoid network's final training loss is at least twice the ReLU network's",
        gap >= 2,
        f"sigmoid/ReLU final loss ratio {gap:.3g}",
        quick=False,
    )
    relu_acc = float(np.min(accuracy["relu"]))
    run.claim(
        "The ReLU network reaches at least 90% test accuracy in every seed",
        relu_acc >= 0.9,
        f"lowest ReLU test accuracy {relu_acc:.3f}",
        quick=False,
    )
    run.answer(
        f"With the same {depth}-hidden-layer shape, the same initial weights and the same "
        f"batches, {steps} steps of SGD brought the training loss to {final['relu'].mean():.3g} "
        f"with ReLU, {final['tanh'].mean():.3g} with tanh and {final['sigmoid'].mean():.3g} "
        f"with sigmoid (means of {n_seeds} seeds); test accuracies were "
        f"{np.mean(accuracy['relu']):.1%}, {np.mean(accuracy['tanh']):.1%} and "
        f"{np.mean(accuracy['sigmoid']):.1%}. ReLU is the default for hidden layers: cheap, "
        "slope 1 where active, no saturation. tanh is zero-centred and saturates less than "
        "the sigmoid, and suits recurrent nets and bounded outputs. The sigmoid belongs at "
        "the output when a probability is wanted (binary labels, gates), not in deep hidden "
        "stacks where its small slope slows learning."
    )


def dead_fraction(model: nn.Sequential, x: np.ndarray) -> float:
    """The fraction of hidden ReLU units whose output is 0 for every row of ``x``."""
    dead, total = 0, 0
    h = nnlab.tensor(x)
    with nnlab.no_grad():
        for module in list(model)[:-1]:
            h = module(h)
            if isinstance(module, nn.ReLU):
                active = (h.numpy() > 0).any(axis=0)
                dead += int((~active).sum())
                total += active.size
    return dead / total


@experiment(
    "dead-relus",
    answers=["relu-sigmoid-tanh"],
    quick=dict(depth=3, width=128, steps=200, n_seeds=2),
    full=dict(depth=3, width=128, steps=1000, n_seeds=5),
)
def dead_relus(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """How many ReLU units die, never to fire again, when the learning rate is too large?"""
    rates = (0.01, 0.1, 1.0)
    x, y = digits()
    dead = {lr: [] for lr in rates}
    accuracy = {lr: [] for lr in rates}
    diverged = dict.fromkeys(rates, 0)
    dead_at_start = []
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x), size=(steps, 64))
        for lr in rates:
            nnlab.manual_seed(seed)  # every learning rate starts from the same weights
            model = deep_mlp(depth, width, nn.ReLU)
            if lr == rates[0]:
                dead_at_start.append(dead_fraction(model, x))
            opt = nnlab.optim.SGD(model.parameters(), lr=lr)
            with np.errstate(all="ignore"):  # a run may overflow: that is one outcome
                train_steps(model, opt, x, y, order, log_every=steps)
                loss, acc = evaluate(model, x, y)
            if not np.isfinite(loss):
                diverged[lr] += 1  # NaN weights are not dead units; count them apart
                continue
            dead[lr].append(dead_fraction(model, x))
            accuracy[lr].append(acc)

    run.number("dead_at_start", round(float(np.mean(dead_at_start)), 4))
    rows = [("before training", round(float(np.mean(dead_at_start)), 4),
             round(float(np.max(dead_at_start)), 4), "", 0)]  # fmt: skip
    mean_dead = {lr: float(np.mean(dead[lr])) if dead[lr] else float("nan") for lr in rates}
    for lr in rates:
        run.number(f"dead_lr_{lr:g}", round(mean_dead[lr], 4))
        run.number(f"diverged_lr_{lr:g}", diverged[lr])
        rows.append(
            (f"lr {lr:g}", round(mean_dead[lr], 4), round(float(np.max(dead[lr], initial=0)), 4),
             round(float(np.mean(accuracy[lr])), 4) if accuracy[lr] else "", diverged[lr])
        )  # fmt: skip
    run.table(
        f"Dead hidden units ({depth} ReLU layers of {width}, {steps} SGD steps, {n_seeds} "
        "seeds; diverged runs counted apart)",
        ("learning rate", "dead fraction mean", "dead fraction max", "train accuracy",
         "diverged runs"),
        rows,
    )  # fmt: skip

    fig = run.figure("dead", "Fraction of hidden ReLU units never active on the data")
    ax = fig.subplots()
    for i, lr in enumerate(rates):
        ax.scatter([i] * len(dead[lr]), dead[lr], color="C3")
    ax.scatter([-1] * n_seeds, dead_at_start, color="grey")
    ax.set_xticks(range(-1, len(rates)), ["at start"] + [f"lr {lr:g}" for lr in rates])
    ax.set_ylabel("dead fraction (runs that stayed finite)")

    low, high = float(np.max(dead[rates[0]], initial=0)), mean_dead[rates[-1]]
    run.claim(
        f"At learning rate {rates[-1]:g} at least 10% of the hidden ReLU units end up dead "
        "(mean over the seeds whose training stayed finite)",
        high >= 0.1,
        f"dead fraction {high:.3f}, {diverged[rates[-1]]} of {n_seeds} runs diverged",
        quick=False,
    )
    run.claim(
        f"At learning rate {rates[0]:g} at most 1% of them are dead after training, in every seed",
        low <= 0.01,
        f"largest dead fraction {low:.3f}",
        quick=False,
    )
    run.answer(
        f"A ReLU unit whose pre-activation is negative for every input outputs 0 and gets "
        f"no gradient, so it never recovers. Before training {np.mean(dead_at_start):.1%} of "
        f"the units were dead on the data; after {steps} SGD steps the dead fraction was "
        + ", ".join(f"{mean_dead[lr]:.1%} at lr {lr:g}" for lr in rates)
        + f" (means over runs that stayed finite; {diverged[rates[-1]]} of {n_seeds} runs "
        f"at lr {rates[-1]:g} overflowed to NaN). Large updates can push a unit's weights and "
        "bias to where it is off for all data; a smaller learning rate, or an activation "
        "with a slope on the negative side (leaky ReLU, GELU), avoids it."
    )


def naive_softmax(scores: np.ndarray) -> np.ndarray:
    """exp(s) / sum(exp(s)) in float32, exactly as the formula reads."""
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow is what we measure
        e = np.exp(scores.astype(np.float32))
        return e / e.sum(axis=-1, keepdims=True)


def stable_softmax(scores: np.ndarray) -> np.ndarray:
    """The same after subtracting each row's maximum: the largest exponent is exp(0) = 1,
    so nothing overflows and the sum is at least 1."""
    s = scores.astype(np.float32)
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def entropy(p: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of each row of probabilities."""
    return -(p * np.log(np.clip(p, 1e-300, None))).sum(axis=-1)


@experiment(
    "softmax-temperature",
    answers=["softmax"],
    quick=dict(n_vectors=200, classes=10),
    full=dict(n_vectors=5000, classes=10),
)
def softmax_temperature(run: Run, n_vectors: int, classes: int) -> None:
    """What does softmax make of a score vector, at different temperatures and scales?"""
    scores = 2 * run.rng(0).standard_normal((n_vectors, classes))
    temperatures = np.logspace(-2, 2, 41)
    probs = np.stack(
        [F.softmax(nnlab.tensor(scores / t), dim=-1).numpy() for t in temperatures]
    )  # (temperature, vector, class)
    top = probs.max(axis=-1)
    ent = entropy(probs) / np.log(classes)
    argmax_kept = bool((probs.argmax(-1) == scores.argmax(-1)).all())
    sums = float(np.abs(probs.sum(-1) - 1).max())
    shift = float(
        np.abs(
            F.softmax(nnlab.tensor(scores + 100.0), dim=-1).numpy()
            - F.softmax(nnlab.tensor(scores), dim=-1).numpy()
        ).max()
    )  # float64 scores, so adding 100 loses no precision
    run.number("max_sum_error", sums)
    run.number("max_shift_difference", shift)
    i_low, i_one, i_high = 0, 20, 40  # T = 0.01, 1, 100
    for i in (i_low, i_one, i_high):
        t = f"{temperatures[i]:g}"
        run.number(f"median_top_probability_T{t}", round(float(np.median(top[i])), 4))
        run.number(f"mean_relative_entropy_T{t}", round(float(ent[i].mean()), 4))

    # Scale the scores up until exp overflows float32 (its largest value is about e^88.7).
    scales = np.array([1.0, 10.0, 30.0, 100.0, 1000.0, 10000.0])
    rows, finite = [], {}
    overflow_predicted, naive_broken = [], []
    for scale in scales:
        s = (scale * scores).astype(np.float32)
        naive, stable = naive_softmax(s), stable_softmax(s)
        lib = F.softmax(nnlab.tensor(s), dim=-1).numpy()
        overflow_predicted.append(s.max(-1) > np.log(np.finfo(np.float32).max))
        naive_broken.append(~np.isfinite(naive).all(-1))
        finite[scale] = (
            float(np.isfinite(naive).all(-1).mean()),
            float(np.isfinite(lib).all(-1).mean()),
            float(np.abs(lib - stable).max()),
        )
        rows.append((f"{scale:g}", f"{np.abs(s).max():.3g}", *finite[scale]))
    run.table(
        "Float32 softmax as the scores grow: share of vectors with a finite result",
        ("score scale", "largest |score|", "naive exp finite", "nnlab finite",
         "nnlab vs max-subtracted"),
        rows,
    )  # fmt: skip
    predicted, broken = np.concatenate(overflow_predicted), np.concatenate(naive_broken)
    exact = bool((predicted == broken).all())
    largest_scores = np.concatenate([(scale * scores).max(-1) for scale in scales])
    unexplained = broken & ~predicted  # failures without a score above 88.7
    highest_unexplained = float(largest_scores[unexplained].max()) if unexplained.any() else None
    lib_ok = all(finite[s][1] == 1 and finite[s][2] <= 1e-6 for s in scales)
    lib_error = max(finite[s][2] for s in scales)
    largest = float(scales[-1] * np.abs(scores).max())
    run.number("naive_broken_share", round(float(broken.mean()), 4))
    run.number("naive_failures_without_overflow", int(unexplained.sum()))
    run.number("nnlab_largest_difference", lib_error)

    fig = run.figure("softmax", "Softmax of one score vector at three temperatures, and the "
                     "entropy against the temperature", width=9.0)  # fmt: skip
    ax_bar, ax_ent = fig.subplots(1, 2)
    for k, i in enumerate((10, 20, 30)):
        ax_bar.bar(np.arange(classes) + (k - 1) * 0.27, probs[i, 0], width=0.27,
                   label=f"T = {temperatures[i]:g}")  # fmt: skip
    ax_bar.set_xlabel("class")
    ax_bar.set_ylabel("probability")
    ax_bar.legend()
    ax_ent.semilogx(temperatures, ent.mean(1), label="entropy / log K")
    ax_ent.semilogx(temperatures, top.mean(1), label="top probability")
    ax_ent.set_xlabel("temperature T")
    ax_ent.legend()

    monotone = bool((np.diff(ent, axis=0) >= -1e-6).all())
    run.claim(
        "Softmax gives probabilities (sum 1 within 1e-5) that keep the scores' order: "
        "the top score gets the top probability at every temperature",
        sums <= 1e-5 and argmax_kept,
        f"largest |sum - 1| {sums:.2g}, argmax kept: {argmax_kept}",
    )
    run.claim(
        "Adding a constant to every score changes no probability by more than 1e-12",
        shift <= 1e-12,
        f"largest change {shift:.2g}",
    )
    run.claim(
        "Raising the temperature never lowers the entropy; at T = 0.01 the median top "
        "probability is at least 0.99 and at T = 100 the entropy is at least 99% of log K",
        monotone and np.median(top[i_low]) >= 0.99 and ent[i_high].min() >= 0.99,
        f"monotone: {monotone}, median top at T=0.01 {np.median(top[i_low]):.4f}, "
        f"least entropy at T=100 {ent[i_high].min():.4f} of log K",
    )
    run.claim(
        "Exponentiating float32 scores as written gives inf or NaN for exactly the vectors "
        "whose largest score exceeds ln(float32 max) = 88.7, while nnlab's softmax stays "
        "finite and matches the max-subtracted version within 1e-6 for scores up to 10^4",
        exact and lib_ok,
        f"naive failures match the prediction: {exact} ({broken.sum()} of {broken.size} "
        f"vectors), nnlab finite and close: {lib_ok} (largest difference {lib_error:.2g})",
    )
    run.answer(
        f"Softmax turns scores into probabilities: exp of each score over the sum of exps. "
        f"Over {n_vectors} random score vectors the outputs summed to 1 within {sums:.1g} "
        f"and the top score always got the top probability. Adding 100 to every score "
        f"changed nothing (largest difference {shift:.1g}), which is why implementations "
        f"subtract the maximum first. Computed as written in float32, exp overflows to inf "
        f"and the ratio becomes NaN: {broken.sum()} of {broken.size} scaled vectors failed, "
        f"{(broken & predicted).sum()} of them with a score above 88.7"
        + (
            f" and {unexplained.sum()} whose largest score was at most "
            f"{highest_unexplained:.3g}, where every exp underflows to 0 and 0/0 is NaN"
            if highest_unexplained is not None
            else ""
        )
        + f"; nnlab's softmax (max subtracted) stayed "
        f"finite for scores up to {largest:.3g}, within {lib_error:.1g} of the reference. "
        f"Dividing the scores "
        f"by a temperature T sharpens or flattens the output: the median top probability "
        f"was {np.median(top[i_low]):.3f} at T = 0.01, {np.median(top[i_one]):.3f} at T = 1 "
        f"and {np.median(top[i_high]):.3f} at T = 100, where the entropy reached "
        f"{ent[i_high].mean():.1%} of its maximum log K."
    )
