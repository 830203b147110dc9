"""The bookkeeping of training: how epochs, batches and iterations relate, and what
changes when a model is switched from training to inference with ``train()``/``eval()``.
"""

from __future__ import annotations

import math

import numpy as np
from sklearn.datasets import load_digits

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.utils.data import DataLoader, TensorDataset

# -- epochs, batches, iterations -------------------------------------------------------------


def count_epochs(n: int, batch_size: int, drop_last: bool, seed: int, epochs: int = 2) -> dict:
    """Iterate a shuffled DataLoader over ``n`` indexed samples for ``epochs`` epochs;
    ``len(loader)`` and, per epoch, the batches, the samples served, whether each sample
    was served at most once, and which samples were left out."""
    generator = nnlab.Generator()
    generator.manual_seed(seed)
    dataset = TensorDataset(nnlab.zeros(n, 1), nnlab.arange(n))
    loader = DataLoader(
        dataset, batch_size=batch_size, shuffle=True, drop_last=drop_last, generator=generator
    )
    batches, served, once, left_out = [], [], [], []
    for _ in range(epochs):
        ids = [index.tolist() for _, index in loader]
        seen = [i for batch in ids for i in batch]
        batches.append(len(ids))
        served.append(len(seen))
        once.append(len(set(seen)) == len(seen))
        left_out.append(frozenset(range(n)) - frozenset(seen))
    return {
        "len": len(loader),
        "batches": batches,
        "served": served,
        "once": once,
        "left_out": left_out,
    }


def train_epochs(
    x: np.ndarray, y: np.ndarray, batch_size: int, epochs: int, seed: int
) -> tuple[list[float], int, int]:
    """Adam on a small MLP for ``epochs`` epochs of shuffled mini-batches; the training
    loss after each epoch, the iterations counted in the loop, and the step count the
    optimizer kept itself."""
    nnlab.manual_seed(seed)  # same initial weights for every batch size
    model = nn.Sequential(
        nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)
    )
    opt = nnlab.optim.Adam(model.parameters(), lr=0.005)
    generator = nnlab.Generator()
    generator.manual_seed(seed)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    loader = DataLoader(
        TensorDataset(xs, ys), batch_size=batch_size, shuffle=True, generator=generator
    )
    losses, iterations = [], 0
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            iterations += 1
        with nnlab.no_grad():
            losses.append(F.mse_loss(model(xs), ys).item())
    optimizer_steps = int(opt.state_dict()["state"][0]["step"].item())
    return losses, iterations, optimizer_steps


@experiment(
    "batches-per-epoch",
    answers=["epoch-batch-iteration"],
    quick=dict(n=500, epochs=5, train_batches=(8, 32, 128, 500), n_seeds=2),
    full=dict(n=1000, epochs=20, train_batches=(8, 32, 128, 1000), n_seeds=3),
)
def batches_per_epoch(
    run: Run, n: int, epochs: int, train_batches: tuple[int, ...], n_seeds: int
) -> None:
    """How many iterations make an epoch, for a given batch size?"""
    sizes = (1, 7, 32, 100, 128, n - 1, n, n + 24)
    rows, formula_ok, coverage_ok, left_out_ok = [], True, True, True
    for batch_size in sizes:
        for drop_last in (False, True):
            c = count_epochs(n, batch_size, drop_last, run.seed)
            expected = n // batch_size if drop_last else math.ceil(n / batch_size)
            formula_ok &= c["len"] == expected and all(b == expected for b in c["batches"])
            coverage_ok &= all(c["once"])
            left = n - (n // batch_size) * batch_size if drop_last else 0
            left_out_ok &= all(len(s) == left for s in c["left_out"])
            rows.append(
                (
                    batch_size,
                    drop_last,
                    c["batches"][0],
                    expected,
                    c["served"][0],
                    len(c["left_out"][0]),
                    c["left_out"][0] != c["left_out"][1],
                )
            )
    run.table(
        f"DataLoader over n = {n} shuffled samples: batches per epoch against the formula "
        "(ceil(n/B), or floor(n/B) with drop_last)",
        (
            "batch size B",
            "drop_last",
            "batches counted",
            "formula",
            "samples served",
            "left out",
            "left-out set changes",
        ),
        rows,
    )

    x = np.linspace(-1, 1, n, dtype=np.float32)[:, None]
    y = np.sin(2 * np.pi * x).astype(np.float32)
    curves = {b: [] for b in train_batches}
    steps_ok = True
    for seed in run.seeds(n_seeds):
        for batch_size in train_batches:
            losses, iterations, optimizer_steps = train_epochs(x, y, batch_size, epochs, seed)
            steps_ok &= iterations == optimizer_steps == epochs * math.ceil(n / batch_size)
            curves[batch_size].append(losses)
    final = {b: [c[-1] for c in curves[b]] for b in train_batches}
    run.table(
        f"Training for {epochs} epochs: iterations (optimizer steps) and final loss",
        ("batch size", "iterations per epoch", "iterations", "final loss mean", "min", "max"),
        [
            (
                b,
                math.ceil(n / b),
                epochs * math.ceil(n / b),
                float(np.mean(final[b])),
                float(np.min(final[b])),
                float(np.max(final[b])),
            )
            for b in train_batches
        ],
    )
    for b in train_batches:
        run.number(f"batch{b}_final_loss", float(np.mean(final[b])))

    fig = run.figure(
        "epochs",
        "Left: batches per epoch by batch size. Middle and right: training loss "
        "(mean over seeds) against epochs and against iterations.",
        width=12,
        height=3.8,
    )
    ax_n, ax_e, ax_i = fig.subplots(1, 3)
    b_grid = np.arange(1, n + 25)
    ax_n.plot(b_grid, np.ceil(n / b_grid), label="ceil(n/B)")
    ax_n.plot(b_grid, np.floor(n / b_grid), linestyle="--", label="floor(n/B)")
    for drop_last, marker in ((False, "o"), (True, "x")):
        pts = [(r[0], r[2]) for r in rows if r[1] == drop_last]
        ax_n.scatter(
            *zip(*pts),
            marker=marker,
            color="black",
            zorder=3,
            label=f"counted, drop_last={drop_last}",
        )
    ax_n.set_xscale("log")
    ax_n.set_yscale("symlog", linthresh=1)  # symlog: drop_last can leave 0 batches
    ax_n.set_ylim(bottom=0)
    ax_n.set_xlabel("batch size B")
    ax_n.set_ylabel("batches (iterations) per epoch")
    ax_n.legend(fontsize=7)
    for b in train_batches:
        mean_curve = np.mean(curves[b], axis=0)
        epochs_axis = np.arange(1, epochs + 1)
        ax_e.plot(epochs_axis, mean_curve, marker="o", markersize=3, label=f"B = {b}")
        ax_i.plot(
            epochs_axis * math.ceil(n / b), mean_curve, marker="o", markersize=3, label=f"B = {b}"
        )
    for ax, label in ((ax_e, "epoch"), (ax_i, "iteration (optimizer step)")):
        ax.set_yscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel("training MSE")
        ax.legend(fontsize=7)
    ax_i.set_xscale("log")

    run.claim(
        "For every batch size, with and without drop_last, the loader yields ceil(n/B) "
        "batches per epoch, or floor(n/B) with drop_last",
        formula_ok,
        f"{len(rows)} cases agree: {formula_ok}",
    )
    run.claim(
        "An epoch serves each sample at most once; without drop_last it serves all n, with "
        "it exactly n mod B are left out",
        coverage_ok and left_out_ok,
        f"at most once: {coverage_ok}; left-out counts match n mod B: {left_out_ok}",
    )
    run.claim(
        "Iterations counted in the loop, the optimizer's own step count and "
        "epochs x ceil(n/B) agree for every batch size and seed",
        steps_ok,
        f"all agree: {steps_ok}",
    )
    small, whole = min(train_batches), max(train_batches)
    small_worst, whole_best = max(final[small]), min(final[whole])
    run.claim(
        f"After the same {epochs} epochs, batches of {small} (more iterations) reach a lower "
        "training loss than the full batch (one iteration per epoch) on every seed",
        small_worst < whole_best,
        f"B={small} worst {small_worst:.4f}, B={whole} best {whole_best:.4f}",
    )
    run.answer(
        "An epoch is one pass over the whole training set; it is cut into batches, and each "
        "batch gives one iteration, one optimizer step. With n samples and batch size B an "
        "epoch has ceil(n/B) iterations (the last batch smaller) or floor(n/B) with drop_last, "
        f"which leaves n mod B samples out of that epoch: nnlab's DataLoader agreed with this "
        f"in all {len(rows)} cases tested for n = {n} ({formula_ok}), and the optimizer's "
        f"step count matched epochs x ceil(n/B) ({steps_ok}). So the same {epochs} epochs "
        f"are {epochs * math.ceil(n / small)} iterations at B = {small} but {epochs} at "
        f"B = {whole}: the training loss ended at {np.mean(final[small]):.4f} against "
        f"{np.mean(final[whole]):.4f}."
    )


# -- training versus inference ---------------------------------------------------------------


def dropout_modes(p: float, shape: tuple[int, int]) -> dict:
    """A Dropout layer applied twice to a tensor of ones in each mode."""
    layer = nn.Dropout(p)
    x = nnlab.ones(*shape)
    layer.train()
    train = [layer(x).numpy() for _ in range(2)]
    layer.eval()
    evaluated = [layer(x).numpy() for _ in range(2)]
    kept = train[0][train[0] != 0]
    return {
        "differ": float(np.mean(train[0] != train[1])),
        "zeroed": float(np.mean(train[0] == 0)),
        "scale_error": float(np.max(np.abs(kept - 1 / (1 - p)))),
        "train_mean": float(train[0].mean()),
        "eval_is_identity": all(np.array_equal(e, x.numpy()) for e in evaluated),
        "train_values": train[0].ravel(),
    }


def batchnorm_modes(rng: np.random.Generator, features: int, batch: int, n_batches: int) -> dict:
    """A BatchNorm1d layer fed ``n_batches`` training batches of shifted, scaled Gaussian
    data, then one fixed sample normalised inside 20 different batches in each mode, then
    eval mode checked against the formula with the running statistics."""
    mean = rng.uniform(-3, 3, size=features)
    std = rng.uniform(0.5, 3, size=features)

    def draw(k: int) -> np.ndarray:
        return (mean + std * rng.standard_normal((k, features))).astype(np.float32)

    layer = nn.BatchNorm1d(features)
    layer.train()
    with nnlab.no_grad():
        for _ in range(n_batches):
            out = layer(nnlab.tensor(draw(batch))).numpy()
        # the last training batch, normalised by its own statistics
        batch_mean_error = float(np.max(np.abs(out.mean(0))))
        batch_std_error = float(np.max(np.abs(out.std(0) - 1)))
        running_mean_error = float(np.max(np.abs(layer.running_mean.numpy() - mean) / std))
        sample = draw(1)
        outputs = {"train": [], "eval": []}
        for mode in outputs:
            layer.train(mode == "train")
            for _ in range(20):
                companions = nnlab.tensor(np.vstack([sample, draw(batch - 1)]))
                outputs[mode].append(layer(companions).numpy()[0])
        layer.eval()  # from here on the running statistics stay fixed
        probe = draw(batch)
        by_layer = layer(nnlab.tensor(probe)).numpy()
    running_mean, running_var = layer.running_mean.numpy(), layer.running_var.numpy()
    by_hand = (probe - running_mean) / np.sqrt(running_var + layer.eps)
    by_hand = by_hand * layer.weight.detach().numpy() + layer.bias.detach().numpy()
    return {
        "batch_mean_error": batch_mean_error,
        "batch_std_error": batch_std_error,
        "running_mean_error": running_mean_error,
        "eval_formula_error": float(np.max(np.abs(by_layer - by_hand))),
        # spread: the largest range (max - min) of any feature over the 20 batches
        "train_spread": float(np.ptp(outputs["train"], axis=0).max()),
        "eval_spread": float(np.ptp(outputs["eval"], axis=0).max()),
        "sample_outputs": {m: np.array(v)[:, 0] for m, v in outputs.items()},
    }


def dropout_digits(seed: int, steps: int, passes: int) -> dict:
    """An MLP with dropout trained on digits; its test accuracy in eval mode and over
    ``passes`` stochastic train-mode passes."""
    digits = load_digits()
    x, y = (digits.data / 16).astype(np.float32), digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(x))
    train, test = perm[: len(x) // 2], perm[len(x) // 2 :]
    nnlab.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    opt = nnlab.optim.Adam(model.parameters(), lr=0.003)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    model.train()
    for batch in rng.choice(train, size=(steps, 64)):
        idx = nnlab.tensor(batch)
        loss = F.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    graph_in_training = loss.requires_grad
    x_test = xs[nnlab.tensor(test)]
    with nnlab.no_grad():
        model.eval()
        eval_preds = [model(x_test).argmax(1).numpy() for _ in range(2)]
        graph_in_inference = model(x_test).requires_grad
        model.train()
        train_preds = [model(x_test).argmax(1).numpy() for _ in range(passes)]
    return {
        "eval_accuracy": float(np.mean(eval_preds[0] == y[test])),
        "eval_deterministic": np.array_equal(*eval_preds),
        "train_accuracies": [float(np.mean(p == y[test])) for p in train_preds],
        "train_disagreement": float(np.mean(train_preds[0] != train_preds[1])),
        "graph": (graph_in_training, graph_in_inference),
    }


@experiment(
    "train-vs-eval-mode",
    answers=["training-versus-inference"],
    quick=dict(rows=1000, n_batches=200, steps=300, passes=10, n_seeds=2),
    full=dict(rows=20000, n_batches=500, steps=1500, passes=30, n_seeds=5),
)
def train_vs_eval_mode(
    run: Run, rows: int, n_batches: int, steps: int, passes: int, n_seeds: int
) -> None:
    """What changes when a model switches from training to inference?"""
    p = 0.5
    drop = dropout_modes(p, (rows, 64))
    norm = batchnorm_modes(run.rng(0), features=8, batch=64, n_batches=n_batches)
    trials = [dropout_digits(seed, steps, passes) for seed in run.seeds(n_seeds)]
    eval_acc = np.array([t["eval_accuracy"] for t in trials])
    train_acc = np.array([np.mean(t["train_accuracies"]) for t in trials])
    disagreement = np.array([t["train_disagreement"] for t in trials])

    for key in ("differ", "zeroed", "scale_error", "train_mean"):
        run.number(f"dropout_{key}", drop[key])
    for key in (
        "batch_mean_error",
        "batch_std_error",
        "running_mean_error",
        "eval_formula_error",
        "train_spread",
        "eval_spread",
    ):
        run.number(f"batchnorm_{key}", norm[key])
    run.number("digits_eval_accuracy_mean", float(eval_acc.mean()))
    run.number("digits_train_mode_accuracy_mean", float(train_acc.mean()))
    run.table(
        "The same layer or model in the two modes",
        ("what", "train()", "eval()"),
        [
            (f"Dropout(p={p}) on ones: entries zeroed", drop["zeroed"], 0.0),
            (
                "Dropout: entries that differ between two passes",
                drop["differ"],
                0.0 if drop["eval_is_identity"] else "nonzero",
            ),
            ("Dropout: mean output (input mean 1)", drop["train_mean"], 1.0),
            (
                "BatchNorm1d: largest std of one sample's output over 20 batches",
                norm["train_spread"],
                norm["eval_spread"],
            ),
            (
                "digits MLP with dropout: test accuracy (mean over seeds)",
                float(train_acc.mean()),
                float(eval_acc.mean()),
            ),
            (
                "digits MLP: test predictions that differ between two passes",
                float(disagreement.mean()),
                0.0 if all(t["eval_deterministic"] for t in trials) else "nonzero",
            ),
        ],
    )

    fig = run.figure(
        "modes",
        "Left: Dropout outputs on ones in train mode. Middle: one sample's "
        "BatchNorm output (feature 0) inside 20 different batches. Right: digits test "
        "accuracy, stochastic train-mode passes against eval mode.",
        width=12,
        height=3.6,
    )
    ax_d, ax_b, ax_a = fig.subplots(1, 3)
    ax_d.hist(drop["train_values"], bins=20, color="C0", label="train()")
    ax_d.axvline(1.0, color="C1", linewidth=3, label="eval(): all 1")
    ax_d.set_xlabel("output value")
    ax_d.legend()
    for i, (mode, values) in enumerate(norm["sample_outputs"].items()):
        ax_b.scatter(np.full(len(values), i), values, s=12, label=mode)
    ax_b.set_xticks([0, 1], ["train()", "eval()"])
    ax_b.set_ylabel("normalised output of the fixed sample")
    for i, t in enumerate(trials):
        ax_a.scatter(
            np.full(passes, i),
            t["train_accuracies"],
            s=8,
            color="C0",
            label="train() passes" if i == 0 else None,
        )
        ax_a.scatter(
            [i],
            [t["eval_accuracy"]],
            marker="*",
            s=80,
            color="C3",
            label="eval()" if i == 0 else None,
        )
    ax_a.set_xlabel("seed")
    ax_a.set_ylabel("test accuracy")
    ax_a.legend()

    run.claim(
        f"Dropout(p={p}) in train mode is random but unbiased: two passes differ in at least "
        "40% of entries, kept entries are scaled by exactly 1/(1-p), and the mean stays "
        "within 5% of the input's",
        drop["differ"] >= 0.4 and drop["scale_error"] < 1e-6 and abs(drop["train_mean"] - 1) < 0.05,
        f"differ {drop['differ']:.3f}, scale error {drop['scale_error']:.1e}, "
        f"mean {drop['train_mean']:.4f}",
    )
    run.claim(
        "Dropout in eval mode is the identity, the same on every pass",
        drop["eval_is_identity"],
        f"eval output equals the input: {drop['eval_is_identity']}",
    )
    run.claim(
        "BatchNorm in train mode normalises each batch by its own statistics (feature means "
        "within 1e-4 of 0, stds within 1e-2 of 1)",
        norm["batch_mean_error"] < 1e-4 and norm["batch_std_error"] < 1e-2,
        f"largest |mean| {norm['batch_mean_error']:.1e}, largest |std - 1| "
        f"{norm['batch_std_error']:.1e}",
    )
    run.claim(
        "BatchNorm in eval mode uses the running statistics: it matches (x - running_mean) / "
        "sqrt(running_var + eps) to within 1e-5, and the running mean is within 0.1 std of the "
        "data's true mean",
        norm["eval_formula_error"] < 1e-5 and norm["running_mean_error"] < 0.1,
        f"formula error {norm['eval_formula_error']:.1e}, running-mean error "
        f"{norm['running_mean_error']:.3f} std",
    )
    run.claim(
        "A sample's BatchNorm output depends on its batch-mates in train mode (spread over "
        "0.01) and not at all in eval mode (spread 0)",
        norm["train_spread"] > 0.01 and norm["eval_spread"] == 0,
        f"train spread {norm['train_spread']:.3f}, eval spread {norm['eval_spread']:.3g}",
    )
    run.claim(
        "For a trained dropout network, eval mode is deterministic and at least as accurate on "
        "test digits as the average stochastic train-mode pass, on every seed",
        all(t["eval_deterministic"] for t in trials) and bool(np.all(eval_acc >= train_acc)),
        f"eval {np.round(eval_acc, 3).tolist()}, train-mode means "
        f"{np.round(train_acc, 3).tolist()}",
    )
    graph_train, graph_infer = trials[0]["graph"]
    run.claim(
        "Training builds a graph for backpropagation; inference under no_grad does not",
        graph_train and not graph_infer,
        f"loss.requires_grad in training: {graph_train}; output.requires_grad under "
        f"no_grad: {graph_infer}",
    )
    run.answer(
        "Training runs the forward pass, a loss, the backward pass and an update, and some "
        "layers behave on purpose differently while doing it; inference is the forward pass "
        "alone, under no_grad (no graph is kept) and in eval() mode. Dropout with p = "
        f"{p} zeroed {drop['zeroed']:.1%} of its inputs in train mode and scaled the rest by "
        f"1/(1-p), so two passes differed in {drop['differ']:.1%} of entries; in eval mode it "
        "passed its input through unchanged. BatchNorm in train mode normalised each batch "
        "with that batch's statistics, so one sample's output moved by up to "
        f"{norm['train_spread']:.3f} with its batch-mates; in eval mode it used the running "
        f"averages (spread {norm['eval_spread']:.3g}). A digits classifier with dropout scored "
        f"{eval_acc.mean():.1%} on test data in eval mode against {train_acc.mean():.1%} for "
        f"noisy train-mode passes, whose predictions changed for {disagreement.mean():.1%} of "
        "the digits from one pass to the next."
    )
