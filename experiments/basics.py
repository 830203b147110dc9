"""What a network is, part by part: a fitted curve, its parameters, one unit, the bias,
and a forward pass traced layer by layer.

Each experiment opens up a small multi-layer perceptron (MLP) built from ``nn.Linear``
layers and activations: it fits one to a curve, counts its parameters, recomputes a unit
and a whole forward pass by hand in NumPy, and removes its biases to see what they do.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn


def mlp(sizes: list[int], activation: type[nn.Module], bias: bool = True) -> nn.Sequential:
    """Linear layers of the given widths with ``activation`` between them (none after
    the last)."""
    layers: list[nn.Module] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out, bias=bias), activation()]
    return nn.Sequential(*layers[:-1])


def fit_mse(model: nn.Module, x: np.ndarray, y: np.ndarray, steps: int, lr: float) -> list[float]:
    """Full-batch Adam on the mean squared error; the loss before every step."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    losses = []
    for _ in range(steps):
        loss = F.mse_loss(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def predict(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return model(nnlab.tensor(x)).numpy()


def wiggly_curve(x: np.ndarray) -> np.ndarray:
    """The target of ``fit-curve``: one full sine period plus a gentle bend."""
    return np.sin(2 * np.pi * x) + 0.5 * x**2


# -- what a network is --------------------------------------------------------------------


@experiment(
    "fit-curve",
    answers=["what-is-a-neural-network"],
    quick=dict(n=128, width=32, steps=800, n_seeds=2),
    full=dict(n=256, width=32, steps=3000, n_seeds=5),
)
def fit_curve(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """Can a small network learn a wiggly curve from noisy examples alone?"""
    grid = np.linspace(-1, 1, 400, dtype=np.float32)[:, None]
    truth = wiggly_curve(grid)
    arms = {"network": [1, width, width, 1], "linear": [1, 1]}
    r2 = {arm: [] for arm in arms}
    curves, fits, sample = {}, {}, None
    drop = []  # the network's first-step loss over its last-step loss, per seed
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x = rng.uniform(-1, 1, size=(n, 1)).astype(np.float32)
        y = (wiggly_curve(x) + 0.1 * rng.standard_normal((n, 1))).astype(np.float32)
        for arm, sizes in arms.items():
            nnlab.manual_seed(seed)
            model = mlp(sizes, nn.Tanh)
            losses = fit_mse(model, x, y, steps, lr=0.01)
            fitted = predict(model, grid)
            r2[arm].append(1 - np.mean((fitted - truth) ** 2) / np.var(truth))
            if arm == "network":
                drop.append(losses[0] / losses[-1])
            curves.setdefault(arm, losses)  # the first seed's run is the one plotted
            fits.setdefault(arm, fitted)
        sample = sample or (x, y)

    run.number("network_r2_min", round(float(min(r2["network"])), 4))
    run.number("linear_r2_max", round(float(max(r2["linear"])), 4))
    run.number("network_loss_drop_min", round(min(drop), 1))
    run.table(
        "R² of the fitted function against the noise-free curve, over seeds",
        ("model", "hidden layers", "mean", "min", "max", "seeds"),
        [
            (
                arm,
                len(arms[arm]) - 2,
                *(round(float(f(r2[arm])), 4) for f in (np.mean, np.min, np.max)),
                n_seeds,
            )
            for arm in arms
        ],
    )

    fig = run.figure(
        "fit",
        "Left: training loss per step. Right: the fitted functions (first seed).",
        width=9,
        height=3.6,
    )
    ax_loss, ax_fit = fig.subplots(1, 2)
    for arm, losses in curves.items():
        ax_loss.plot(losses, label=arm)
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("Adam step (full batch)")
    ax_loss.set_ylabel("training MSE")
    ax_loss.legend()
    ax_fit.scatter(*sample, s=6, color="grey", alpha=0.5, label="noisy examples")
    ax_fit.plot(grid, truth, color="black", linestyle=":", label="true curve")
    for arm, fitted in fits.items():
        ax_fit.plot(grid, fitted, label=arm)
    ax_fit.set_xlabel("x")
    ax_fit.legend(fontsize=8)

    net_worst, lin_best = min(r2["network"]), max(r2["linear"])
    run.claim(
        f"A network with two hidden layers of {width} tanh units fits the curve with R² of at "
        "least 0.95 on every seed",
        net_worst >= 0.95,
        f"lowest R² {net_worst:.4f}",
    )
    run.claim(
        "A single linear unit (no hidden layer) cannot bend: R² stays below 0.5 on every seed",
        lin_best < 0.5,
        f"highest R² {lin_best:.4f}",
    )
    run.claim(
        "Training lowers the network's loss at least 10-fold from the first step to the last, "
        "on every seed",
        min(drop) >= 10,
        f"smallest drop {min(drop):.1f}-fold",
    )
    run.answer(
        "In one line: a neural network is a function made of layers of weighted sums and "
        "simple non-linearities, whose weights are fitted to examples by gradient descent. The "
        "brain supplied the picture (units that add up their inputs and fire) but not the "
        "mechanism: there are no spikes, and the learning is calculus on a loss. Given only "
        f"{n} noisy samples of a curve, a network with two hidden layers of {width} tanh units "
        f"lowered its training loss at least {min(drop):.0f}-fold and recovered the curve with "
        f"R² of at least {net_worst:.3f} over {n_seeds} seeds, while a single linear unit "
        f"trained the same way reached R² of at most {lin_best:.3f}."
    )


# -- anatomy ---------------------------------------------------------------------------------


def layer_roles(model: nn.Sequential) -> list[str]:
    """'hidden layer k' or 'output layer' for each Linear layer, 'activation' for the
    rest."""
    n_linear = sum(isinstance(m, nn.Linear) for m in model)
    roles, seen = [], 0
    for module in model:
        if isinstance(module, nn.Linear):
            seen += 1
            roles.append("output layer" if seen == n_linear else f"hidden layer {seen}")
        else:
            roles.append("activation")
    return roles


def record_shapes(model: nn.Sequential, x: nnlab.Tensor) -> list[tuple[tuple, tuple]]:
    """The (input shape, output shape) each child module sees in one forward pass, by
    forward hooks."""
    shapes: list[tuple[tuple, tuple]] = []
    removers = [
        m.register_forward_hook(
            lambda mod, inputs, out: shapes.append((tuple(inputs[0].shape), tuple(out.shape)))
        )
        for m in model
    ]
    with nnlab.no_grad():
        model(x)
    for remove in removers:
        remove()
    return shapes


def draw_network(ax, model: nn.Sequential, sizes: list[int]) -> None:
    """Units as dots in columns, connections as lines coloured by the weight's sign and
    drawn thicker for larger magnitudes."""
    weights = [m.weight.detach().numpy() for m in model if isinstance(m, nn.Linear)]
    scale = max(np.abs(w).max() for w in weights)
    ys = [np.linspace(-1, 1, k) if k > 1 else np.zeros(1) for k in sizes]
    for col, w in enumerate(weights):
        for j in range(w.shape[0]):
            for i in range(w.shape[1]):
                ax.plot(
                    [col, col + 1],
                    [ys[col][i], ys[col + 1][j]],
                    color="C3" if w[j, i] < 0 else "C0",
                    linewidth=2.0 * abs(w[j, i]) / scale,
                    alpha=0.6,
                )
    for col, y in enumerate(ys):
        ax.scatter([col] * len(y), y, s=40, color="black", zorder=3)
    names = ["input"] + [f"hidden {i}" for i in range(1, len(sizes) - 1)] + ["output"]
    ax.set_xticks(range(len(sizes)), [f"{name}\n({k} units)" for name, k in zip(names, sizes)])
    ax.set_yticks([])


@experiment(
    "mlp-anatomy",
    answers=["network-anatomy"],
    quick=dict(hidden=(16, 8), steps=200),
    full=dict(hidden=(16, 8), steps=500),
)
def mlp_anatomy(run: Run, hidden: tuple[int, ...], steps: int) -> None:
    """What are the parts of a small classifier network, and how many numbers does each
    hold?"""
    iris = load_iris()
    x = ((iris.data - iris.data.mean(0)) / iris.data.std(0)).astype(np.float32)
    y = iris.target.astype(np.int64)
    sizes = [x.shape[1], *hidden, 3]
    model = mlp(sizes, nn.ReLU)

    params = [(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters()]
    counted = sum(count for *_, count in params)
    # each Linear layer holds a fan_out x fan_in weight matrix and fan_out biases
    formula = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))
    run.table("named_parameters()", ("name", "shape", "numbers"), params)
    run.number("parameters_counted", counted)
    run.number("parameters_by_formula", formula)

    shapes = record_shapes(model, nnlab.tensor(x))
    roles = layer_roles(model)
    run.table(
        "What each module receives and returns for the whole data set (forward hooks)",
        ("module", "role", "input shape", "output shape", "parameters"),
        [
            (
                f"{i}: {type(m).__name__}",
                role,
                str(s_in),
                str(s_out),
                sum(p.numel() for p in m.parameters()),
            )
            for i, (m, role, (s_in, s_out)) in enumerate(zip(model, roles, shapes))
        ],
    )
    chained = all(shapes[i][1] == shapes[i + 1][0] for i in range(len(shapes) - 1))
    weights_out_in = all(
        tuple(m.weight.shape) == (s_out[1], s_in[1])
        for m, (s_in, s_out) in zip(model, shapes)
        if isinstance(m, nn.Linear)
    )
    activations_empty = all(not list(m.parameters()) for m in model if not isinstance(m, nn.Linear))

    opt = nnlab.optim.Adam(model.parameters(), lr=0.01)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for _ in range(steps):
        loss = F.cross_entropy(model(xs), ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with nnlab.no_grad():
        accuracy = float((model(xs).argmax(1) == ys).float().mean())
    run.number("training_accuracy", round(accuracy, 4))

    fig = run.figure(
        "network",
        f"The trained {'-'.join(map(str, sizes))} network: blue positive, red negative "
        "weights; thicker lines are larger weights.",
        width=7,
        height=4.5,
    )
    draw_network(fig.subplots(), model, sizes)

    run.claim(
        "The parameters listed by named_parameters() are exactly the weights and biases of "
        "the Linear layers: sum of fan_in*fan_out + fan_out",
        counted == formula,
        f"counted {counted}, formula {formula}",
    )
    run.claim(
        "Each module's output is the next module's input (shapes chain) and each weight "
        "matrix is (outputs, inputs)",
        chained and weights_out_in,
        f"shapes chain: {chained}; weights (out, in): {weights_out_in}",
    )
    run.claim(
        "Activations hold no parameters",
        activations_empty,
        f"activation modules without parameters: {activations_empty}",
    )
    run.answer(
        f"A {'-'.join(map(str, sizes))} classifier for the iris flowers is an input layer of "
        f"{sizes[0]} measurements (no parameters, just the data), {len(hidden)} hidden layers "
        f"and an output layer of {sizes[-1]} class scores. Each Linear layer holds a weight "
        "matrix of shape (outputs, inputs) and one bias per output; the ReLU activations "
        f"between them hold nothing. Counted, the network has {counted} parameters, the "
        f"formula sum(fan_in*fan_out + fan_out) gives {formula}; after {steps} Adam steps it "
        f"classifies {accuracy:.1%} of the training flowers."
    )


# -- one unit -------------------------------------------------------------------------------


#: The three non-linearities written out, on float64 NumPy arrays.
FORMULAS = {
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def unit_by_hand(x: np.ndarray, w: np.ndarray, b: float, activation: str) -> np.ndarray:
    """One unit in float64: the weighted sum of the inputs plus the bias, written as a loop
    over the inputs, through the formula of ``activation``."""
    z = np.full(len(x), b, dtype=np.float64)
    for i in range(len(w)):
        z += w[i] * x[:, i].astype(np.float64)
    return FORMULAS[activation](z)


UNIT_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}


@experiment(
    "one-unit",
    answers=["artificial-neuron"],
    quick=dict(n_inputs=5, n=1000),
    full=dict(n_inputs=5, n=100_000),
)
def one_unit(run: Run, n_inputs: int, n: int) -> None:
    """Is a unit really just a weighted sum, a bias and a non-linearity?"""
    x = run.rng(0).standard_normal((n, n_inputs)).astype(np.float32)
    layer = nn.Linear(n_inputs, 1)
    w, b = layer.weight.detach().numpy()[0], layer.bias.item()
    run.number("unit_parameters", sum(p.numel() for p in layer.parameters()))

    rows, worst = [], 0.0
    outputs = {}
    for name, activation in UNIT_ACTIVATIONS.items():
        with nnlab.no_grad():
            by_nnlab = activation()(layer(nnlab.tensor(x))).numpy()[:, 0]
        by_hand = unit_by_hand(x, w, b, name)
        diff = float(np.max(np.abs(by_nnlab - by_hand)))
        worst = max(worst, diff)
        run.number(f"{name}_max_abs_difference", diff)
        rows.append((name, n, f"{diff:.2e}"))
        outputs[name] = by_nnlab
    run.table(
        "Largest |nnlab - by hand| over the inputs (nnlab in float32, by hand in float64)",
        ("activation", "inputs", "max abs difference"),
        rows,
    )

    z = x.astype(np.float64) @ w + b
    fig = run.figure(
        "unit",
        "The unit's output against its weighted sum z = w·x + b: nnlab (dots) on top "
        "of the formula (line).",
    )
    ax = fig.subplots()
    order = np.argsort(z)[:: max(1, n // 300)]
    line = np.linspace(z.min(), z.max(), 200)
    for i, (name, out) in enumerate(outputs.items()):
        ax.plot(line, FORMULAS[name](line), color=f"C{i}", label=f"{name}: formula")
        ax.scatter(
            z[order],
            out[order],
            s=8,
            color=f"C{i}",
            edgecolor="black",
            linewidth=0.3,
            label=f"{name}: nnlab",
        )
    ax.set_xlabel("weighted sum z = w·x + b")
    ax.set_ylabel("unit output")
    ax.legend()

    run.claim(
        "nnlab's Linear layer followed by an activation equals the weighted sum plus bias "
        "through the activation computed by hand, to within 1e-5, for sigmoid, tanh and ReLU",
        worst < 1e-5,
        f"largest difference {worst:.2e}",
    )
    run.answer(
        f"A unit with {n_inputs} inputs holds {n_inputs} weights and one bias "
        f"({n_inputs + 1} parameters). It multiplies each input by its weight, adds the "
        "products and the bias into one number z, and passes z through a fixed non-linearity. "
        f"Recomputing this by hand in NumPy for {n} random inputs matched nnlab's Linear "
        f"layer plus activation to within {worst:.1e} for sigmoid, tanh and ReLU alike; "
        "the unit's output depends on the inputs only through z."
    )


# -- the bias -------------------------------------------------------------------------------


def shifted_curve(x: np.ndarray) -> np.ndarray:
    """The target of ``bias-offset``: a bump riding on a constant offset."""
    return 2.0 + np.sin(2 * np.pi * (x - 2.0))


def best_line_through_origin_mse(x: np.ndarray, y: np.ndarray) -> float:
    """The least-squares line y = c·x (no intercept) and its mean squared error."""
    c = float((x * y).sum() / (x * x).sum())
    return float(np.mean((c * x - y) ** 2))


@experiment(
    "bias-offset",
    answers=["weights-and-biases"],
    quick=dict(n=128, width=32, steps=800, n_seeds=2),
    full=dict(n=256, width=32, steps=3000, n_seeds=5),
)
def bias_offset(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """What does a network lose when its layers have no bias?"""
    losses = {"with bias": [], "without bias": []}
    origin_line, fits, sample = [], {}, None
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        # inputs far from the origin, target offset from zero
        x = rng.uniform(1.5, 3.0, size=(n, 1)).astype(np.float32)
        y = (shifted_curve(x) + 0.05 * rng.standard_normal((n, 1))).astype(np.float32)
        origin_line.append(best_line_through_origin_mse(x, y))
        for arm in losses:
            nnlab.manual_seed(seed)  # both arms start from the same seed
            model = mlp([1, width, width, 1], nn.ReLU, bias=arm == "with bias")
            losses[arm].append(fit_mse(model, x, y, steps, lr=0.01)[-1])
            fits.setdefault(arm, model)
        sample = sample or (x, y)

    with_b, without_b, line = (np.array(v) for v in (*losses.values(), origin_line))
    run.number("with_bias_loss_mean", float(with_b.mean()))
    run.number("without_bias_loss_mean", float(without_b.mean()))
    run.number("line_through_origin_loss_mean", float(line.mean()))
    run.table(
        "Final training MSE over seeds",
        ("model", "mean", "min", "max", "seeds"),
        [
            (name, float(v.mean()), float(v.min()), float(v.max()), n_seeds)
            for name, v in (
                ("ReLU network with bias", with_b),
                ("ReLU network without bias", without_b),
                ("best line through the origin (least squares)", line),
            )
        ],
    )

    fig = run.figure(
        "fits",
        "The two networks' fits on the first seed; without biases every unit's kink "
        "sits at x = 0, so for x > 0 the network is a straight line through the origin.",
    )
    ax = fig.subplots()
    grid = np.linspace(0, 3.2, 300, dtype=np.float32)[:, None]
    ax.scatter(*sample, s=6, color="grey", alpha=0.5, label="training data")
    for arm, model in fits.items():
        ax.plot(grid, predict(model, grid), label=f"network {arm}")
    ax.axhline(0, color="black", linewidth=0.5)
    ax.set_xlabel("x")
    ax.legend()

    ratio = float(np.min(without_b / with_b))
    run.claim(
        "Removing the biases raises the network's training loss at least 10-fold on every seed",
        ratio >= 10,
        f"smallest ratio without/with bias {ratio:.1f}",
    )
    vs_line = float(np.min(without_b / line))
    run.claim(
        "A bias-free ReLU network on positive inputs does no better than the best straight "
        "line through the origin (loss at least 0.99 times that line's)",
        vs_line >= 0.99,
        f"smallest ratio network/line {vs_line:.4f}",
    )
    run.answer(
        "The weights decide how strongly each input pushes a unit and in which direction; the "
        "bias shifts the point where the unit's non-linearity kicks in and lets outputs sit "
        "away from zero. A ReLU unit without bias, relu(w·x), has its kink pinned at the "
        "origin, so on positive inputs a whole bias-free network collapses to y = c·x. On data "
        f"between x = 1.5 and 3, its training loss was {without_b.mean():.3f} on average, "
        f"{'no better than' if vs_line >= 0.99 else 'below'} the best line through the origin "
        f"({line.mean():.3f}); with biases the same "
        f"network reached {with_b.mean():.4f} on average, {ratio:.1f} to "
        f"{float(np.max(without_b / with_b)):.0f} times lower depending on the seed."
    )


# -- the forward pass ------------------------------------------------------------------------


def trace(model: nn.Sequential, x: np.ndarray) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(module name, input, output) for every child, in the order the forward hooks fire."""
    records = []

    def hook(name):
        return lambda mod, inputs, out: records.append(
            (name, inputs[0].numpy().copy(), out.numpy().copy())
        )

    removers = [m.register_forward_hook(hook(name)) for name, m in model.named_children()]
    with nnlab.no_grad():
        model(nnlab.tensor(x))
    for remove in removers:
        remove()
    return records


def forward_by_hand(state: dict[str, np.ndarray], kinds: list[str], x: np.ndarray) -> list:
    """Every intermediate of the forward pass in float64 NumPy: matrix product plus bias
    for a Linear layer, the elementwise function for an activation."""
    h, outputs = x.astype(np.float64), []
    for i, kind in enumerate(kinds):
        if kind == "Linear":
            h = h @ state[f"{i}.weight"].T.astype(np.float64) + state[f"{i}.bias"]
        elif kind == "ReLU":
            h = np.maximum(h, 0.0)
        elif kind == "Tanh":
            h = np.tanh(h)
        outputs.append(h)
    return outputs


@experiment(
    "forward-trace",
    answers=["forward-pass", "feedforward-network"],
    quick=dict(sizes=(6, 16, 16, 8, 3), batch=32),
    full=dict(sizes=(6, 16, 16, 8, 3), batch=1024),
)
def forward_trace(run: Run, sizes: tuple[int, ...], batch: int) -> None:
    """What happens, tensor by tensor, when an input flows forward through a network?"""
    layers: list[nn.Module] = []
    activations = [nn.ReLU, nn.Tanh, nn.ReLU]
    for i, (fan_in, fan_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activations[i % len(activations)]())
    model = nn.Sequential(*layers)
    kinds = [type(m).__name__ for m in model]
    x = run.rng(0).standard_normal((batch, sizes[0])).astype(np.float32)
    # copies: load_state_dict writes into the parameters' arrays in place
    state = {k: v.numpy().copy() for k, v in model.state_dict().items()}

    records = trace(model, x)
    by_hand = forward_by_hand(state, kinds, x)
    diffs = [float(np.max(np.abs(out - ref))) for (_, _, out), ref in zip(records, by_hand)]
    run.table(
        "Every intermediate tensor of one forward pass, against NumPy by hand",
        ("step", "module", "input shape", "output shape", "max |nnlab - NumPy|"),
        [
            (name, kind, str(inp.shape), str(out.shape), f"{d:.1e}")
            for (name, inp, out), kind, d in zip(records, kinds, diffs)
        ],
    )
    worst = max(diffs)
    run.number("max_abs_difference", worst)
    in_order = [name for name, *_ in records] == [str(i) for i in range(len(model))]
    handed_on = all(
        np.array_equal(records[i][2], records[i + 1][1]) for i in range(len(records) - 1)
    )

    # Information flows one way: changing layer k's weights can only change what comes
    # after layer k, never what came before it.
    upstream_untouched, downstream_changed = True, True
    linear_ids = [i for i, kind in enumerate(kinds) if kind == "Linear"]
    for k in linear_ids:
        perturbed = dict(state)
        perturbed[f"{k}.weight"] = state[f"{k}.weight"] + 0.1
        model.load_state_dict(perturbed)
        after = trace(model, x)
        upstream_untouched &= all(
            np.array_equal(a[2], b[2]) for a, b in zip(after[:k], records[:k])
        )
        downstream_changed &= all(
            not np.array_equal(a[2], b[2]) for a, b in zip(after[k:], records[k:])
        )
    model.load_state_dict(state)

    fig = run.figure(
        "activations",
        "The first 16 inputs' intermediate tensors, step by step (rows: inputs, columns: units).",
        width=10,
        height=3.2,
    )
    axes = fig.subplots(1, len(records) + 1)
    panels = [("input", x)] + [
        (f"{name}: {kind}", out) for (name, _, out), kind in zip(records, kinds)
    ]
    for ax, (title, values) in zip(axes, panels):
        limit = np.abs(values[:16]).max()  # symmetric colours: white is zero
        ax.imshow(values[:16], aspect="auto", cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.set_title(title, fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])

    run.claim(
        "Every intermediate tensor recorded by forward hooks matches the same pass computed "
        "by hand in NumPy to within 1e-5",
        worst < 1e-5,
        f"largest difference {worst:.1e}",
    )
    run.claim(
        "The modules run once each, in order, and each receives exactly the tensor the "
        "previous one returned",
        in_order and handed_on,
        f"in order: {in_order}; handed on unchanged: {handed_on}",
    )
    run.claim(
        "Feedforward: perturbing a layer's weights leaves every earlier tensor bit-for-bit "
        "unchanged and changes every later one",
        upstream_untouched and downstream_changed,
        f"earlier unchanged: {upstream_untouched}; later changed: {downstream_changed} "
        f"({len(linear_ids)} layers perturbed)",
    )
    run.answer(
        f"In a forward pass through a {'-'.join(map(str, sizes))} MLP, the batch of {batch} "
        f"inputs goes through {len(records)} modules in a fixed order: each Linear layer "
        "multiplies by its weight matrix and adds its bias, each activation applies its "
        "function elementwise, and each output is handed unchanged to the next module "
        f"({'true' if handed_on else 'false'} for every step). Redoing every step in NumPy "
        f"agreed to within {worst:.1e}. Nudging the weights of each of its {len(linear_ids)} "
        f"Linear layers {'left' if upstream_untouched else 'did not leave'} every earlier "
        f"tensor bit-for-bit unchanged and {'changed' if downstream_changed else 'did not change'}"
        " every later one: information moves only from the inputs towards the outputs, no "
        "output is fed back into an earlier layer, and that is what makes it feedforward."
    )
