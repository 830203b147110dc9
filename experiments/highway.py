"""Highway networks: a learned gate decides, unit by unit, how much of each layer's input
is transformed and how much is carried through unchanged.

A highway layer computes y = H(x)·T(x) + x·(1 - T(x)), with H a ReLU layer and T a
sigmoid gate whose bias starts negative, so at first every layer mostly carries its input
and a deep stack behaves like a shallow one. It is compared with plain MLPs of the same
depth on scikit-learn's 8x8 digits; within a seed every arm sees the same batches and
the same initial weights where the layers match.
"""

from __future__ import annotations

import copy

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits, evaluate, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn


class Highway(nn.Module):
    """y = H(x)·T(x) + x·(1 - T(x)) with H(x) = relu(transform(x)), T(x) = sigmoid(gate(x)).

    ``gate_bias`` starts every gate's bias there: a negative value closes the gates
    (T near 0), so the layer begins close to the identity.
    """

    def __init__(self, transform: nn.Linear, gate_bias: float) -> None:
        super().__init__()
        width = transform.in_features
        self.transform = transform
        self.gate = nn.Linear(width, width)
        nn.init.constant_(self.gate.bias, gate_bias)
        self.last_gate = None  # T(x) of the latest forward pass, for inspection

    def forward(self, x):
        h = F.relu(self.transform(x))
        t = F.sigmoid(self.gate(x))
        self.last_gate = t.detach()
        return h * t + x * (1 - t)


def plain_net(depth: int, width: int) -> nn.Sequential:
    """A Linear(64, width) and ReLU, ``depth`` more Linear(width, width) and ReLU, and a
    Linear to the 10 classes, with nnlab's default initialisation."""
    layers: list[nn.Module] = [nn.Linear(64, width), nn.ReLU()]
    for _ in range(depth):
        layers += [nn.Linear(width, width), nn.ReLU()]
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)


def he_initialised(model: nn.Sequential) -> nn.Sequential:
    """``model`` with every Linear weight redrawn N(0, 2 / fan_in) and biases 0."""
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return model


def highway_net(plain: nn.Sequential, gate_bias: float) -> nn.Sequential:
    """The plain net with each hidden Linear(width, width) and its ReLU replaced by a
    highway layer whose H starts as a copy of that Linear."""
    modules = list(plain)
    inner = modules[2:-1:2]  # the Linear(width, width) layers
    layers = [copy.deepcopy(modules[0]), nn.ReLU()]
    layers += [Highway(copy.deepcopy(linear), gate_bias) for linear in inner]
    layers.append(copy.deepcopy(modules[-1]))
    return nn.Sequential(*layers)


def train(
    model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, log_every: int
) -> list[float]:
    """SGD (lr 0.01, momentum 0.9), one step per row of ``order`` (mini-batch indices);
    the training loss on all of (x, y) at the start and every ``log_every`` steps."""
    opt = nnlab.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    return train_steps(model, opt, x, y, order, log_every)


def gate_means(model: nn.Sequential, x: np.ndarray) -> np.ndarray:
    """The mean transform gate T(x) of each highway layer over the rows of ``x``."""
    with nnlab.no_grad():
        model(nnlab.tensor(x))
    return np.array([float(m.last_gate.numpy().mean()) for m in model if isinstance(m, Highway)])


def signal_kept(model: nn.Sequential, x: np.ndarray) -> float:
    """How much of the signal crosses the hidden layers: the spread over the examples
    (per unit, averaged over units) of the last hidden representation over that of the
    first. The spread across examples is what carries information; biases alone would
    give a spread across units."""
    modules = list(model)
    with nnlab.no_grad():
        first = modules[1](modules[0](nnlab.tensor(x)))
        last = first
        for module in modules[2:-1]:
            last = module(last)
    return float(last.numpy().std(axis=0).mean() / first.numpy().std(axis=0).mean())


@experiment(
    "highway-vs-plain",
    answers=["highway-networks", "deep-training-challenges"],
    quick=dict(depth=30, width=16, steps=40, n_seeds=2),
    full=dict(depth=30, width=64, steps=400, n_seeds=3),
)
def highway_vs_plain(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """Does a gated highway network train where a plain network of the same depth does not?"""
    gate_bias = -2.0
    x, y = digits()
    order_rng = run.rng(0)
    split = order_rng.permutation(len(x))
    test, train_rows = split[:500], split[500:]
    x_train, y_train, x_test, y_test = x[train_rows], y[train_rows], x[test], y[test]
    highways = ("highway, default init", "highway, He init")
    arms = ("plain, default init", highways[0], "plain, He init", highways[1])
    log_every = max(steps // 8, 1)
    curves = {a: [] for a in arms}
    train_acc = {a: [] for a in arms}
    test_acc = {a: [] for a in arms}
    kept = {a: [] for a in arms}
    gates_before = {a: [] for a in highways}
    gates_after = {a: [] for a in highways}
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(x_train), size=(steps, 64))
        nnlab.manual_seed(seed)
        plain = plain_net(depth, width)
        plain_he = he_initialised(copy.deepcopy(plain))
        models = {"plain, default init": plain, "plain, He init": plain_he}
        for arm, base in zip(highways, (plain, plain_he)):
            nnlab.manual_seed(seed)  # the same gate weights in both highway nets
            models[arm] = highway_net(base, gate_bias)  # H starts as the plain net's layers
            gates_before[arm].append(gate_means(models[arm], x_train))
        for arm in arms:
            kept[arm].append(signal_kept(models[arm], x_train))
            with np.errstate(all="ignore"):  # a run may diverge: that is one outcome
                curves[arm].append(train(models[arm], x_train, y_train, order, log_every))
            train_acc[arm].append(evaluate(models[arm], x_train, y_train)[1])
            test_acc[arm].append(evaluate(models[arm], x_test, y_test)[1])
        for arm in highways:
            gates_after[arm].append(gate_means(models[arm], x_train))

    final = {a: np.array([c[-1] for c in curves[a]]) for a in arms}
    broke = {a: int((~np.isfinite(final[a])).sum()) for a in arms}
    signal = {a: float(np.median(kept[a])) for a in arms}
    rows = []
    for arm in arms:
        key = arm.replace(", ", "_").replace(" init", "").replace(" ", "_").lower()
        run.number(f"{key}_train_accuracy", round(float(np.mean(train_acc[arm])), 4))
        run.number(f"{key}_test_accuracy", round(float(np.mean(test_acc[arm])), 4))
        run.number(f"{key}_final_loss", float(np.median(final[arm])))
        run.number(f"{key}_non_finite_runs", broke[arm])
        run.number(f"{key}_signal_kept_at_start", signal[arm])
        rows.append(
            (arm, f"{signal[arm]:.3g}", f"{np.median(final[arm]):.3g}",
             round(float(np.mean(train_acc[arm])), 4), round(float(np.min(train_acc[arm])), 4),
             round(float(np.mean(test_acc[arm])), 4), broke[arm])
        )  # fmt: skip
    run.table(
        f"{depth} hidden layers of {width}, SGD lr 0.01 momentum 0.9, {steps} steps, "
        f"{n_seeds} seeds",
        ("network", "signal kept at start", "final train loss (median)", "train accuracy mean",
         "train accuracy min", "test accuracy mean", "non-finite runs"),
        rows,
    )  # fmt: skip
    before = {a: np.mean(gates_before[a], axis=0) for a in highways}
    after = {a: np.mean(gates_after[a], axis=0) for a in highways}
    for arm, key in zip(highways, ("default", "he")):
        run.number(f"gate_mean_before_{key}", round(float(before[arm].mean()), 4))
        run.number(f"gate_mean_after_{key}", round(float(after[arm].mean()), 4))
        run.number(f"gate_max_layer_after_{key}", round(float(after[arm].max()), 4))

    fig = run.figure("highway", "Training loss (median over seeds) and the highway nets' "
                     "mean transform gate per layer", width=9.0)  # fmt: skip
    ax_loss, ax_gate = fig.subplots(1, 2)
    steps_axis = np.arange(len(curves[arms[0]][0])) * log_every
    for arm in arms:
        ax_loss.semilogy(steps_axis, np.median(np.array(curves[arm]), axis=0), label=arm)
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("training cross-entropy")
    ax_loss.legend(fontsize="small")
    layers = np.arange(1, depth + 1)
    for i, arm in enumerate(highways):
        ax_gate.plot(layers, before[arm], color=f"C{2 * i + 1}", linestyle=":",
                     label=f"{arm}, before")  # fmt: skip
        ax_gate.plot(layers, after[arm], color=f"C{2 * i + 1}", marker=".",
                     label=f"{arm}, after")  # fmt: skip
    ax_gate.set_xlabel("highway layer")
    ax_gate.set_ylabel("mean T(x): share transformed")
    ax_gate.set_ylim(0, 1)
    ax_gate.legend(fontsize="small")

    run.claim(
        f"With {depth} hidden layers the highway net (default init) reaches at least 90% "
        "training accuracy in every seed",
        min(train_acc[highways[0]]) >= 0.9,
        f"lowest {min(train_acc[highways[0]]):.3f}",
        quick=False,
    )
    run.claim(
        "The plain net with the default initialisation stays near chance: at most 20% "
        "training accuracy in every seed",
        max(train_acc["plain, default init"]) <= 0.2,
        f"highest {max(train_acc['plain, default init']):.3f}",
    )
    run.claim(
        "The highway net (default init) ends with a lower training loss than the plain net "
        "with He initialisation, in every seed",
        bool(np.all(final[highways[0]] < final["plain, He init"])),
        f"highway {final[highways[0]].round(4).tolist()}, plain He "
        f"{final['plain, He init'].round(4).tolist()}",
        quick=False,
    )
    run.claim(
        "With H starting from the He plain net's weights, the highway net reaches at least "
        "90% training accuracy and a lower training loss than that plain net, in every seed",
        min(train_acc[highways[1]]) >= 0.9
        and bool(np.all(final[highways[1]] < final["plain, He init"])),
        f"lowest accuracy {min(train_acc[highways[1]]):.3f}; losses highway "
        f"{final[highways[1]].round(4).tolist()}, plain He "
        f"{final['plain, He init'].round(4).tolist()}",
        quick=False,
    )
    closed = all(np.isfinite(after[a]).all() and after[a].mean() < 0.5 for a in highways)
    run.claim(
        "After training the gates stay mostly closed: in both highway nets the mean "
        "transform gate over all layers is below 0.5",
        closed,
        "; ".join(
            f"{a}: {after[a].mean():.3f} (from {before[a].mean():.3f}), largest layer "
            f"{after[a].max():.3f}"
            for a in highways
        ),  # fmt: skip
    )
    acc = {a: np.mean(train_acc[a]) for a in arms}
    best_highway = float(np.nanmin([np.median(final[a]) for a in highways]))
    run.answer(
        f"A highway layer mixes a transformation H(x) and its unchanged input x with a "
        f"learned gate T(x) in (0, 1): y = H·T + x·(1 - T). With the gate bias at "
        f"{gate_bias:g} the gates started at a mean of {before[highways[0]].mean():.2f}, so "
        f"each of the {depth} layers mostly carried its input. At the start the last hidden "
        f"layer kept {signal['plain, default init']:.2g} of the first one's spread in the "
        f"plain net with nnlab's default weights and {signal[highways[0]]:.2g} in the "
        f"highway net with the same H weights; with He weights {signal['plain, He init']:.2g} "
        f"(plain) and {signal[highways[1]]:.2g} (highway). After {steps} SGD steps on the "
        f"digits ({n_seeds} seeds) the training accuracies were "
        f"{acc['plain, default init']:.1%} (plain, default), {acc[highways[0]]:.1%} "
        f"(highway, default), {acc['plain, He init']:.1%} (plain, He) and "
        f"{acc[highways[1]]:.1%} (highway, He; {broke[highways[1]]} of {n_seeds} runs went "
        f"non-finite). The gates moved little in this budget: the default highway net's "
        f"mean gate ended at {after[highways[0]].mean():.2f}. The gate lets the signal skip "
        f"layers, but each closed gate still scales the carried input by 1 - T. With this "
        f"depth, learning rate and number of steps the better highway net ended at a median "
        f"training loss of {best_highway:.3g}, the He-initialised plain net at "
        f"{np.median(final['plain, He init']):.3g}."
    )
