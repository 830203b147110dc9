"""How much of a network can be pruned, and when does pruning make it smaller or faster?

An MLP on the standardised digits is trained, then pruned four ways:

* magnitude pruning to a range of sparsities, per layer (every layer loses the same
  fraction) or global (the smallest weights of the whole network), with and without
  fine-tuning afterwards;
* iterative pruning (half the remaining weights per round), either fine-tuning the trained
  weights after each round or rewinding the kept weights to their initial values and
  retraining (the lottery-ticket procedure), against the same masks with a fresh random
  initialisation;
* structured pruning of half the hidden units, shrunk into a smaller dense MLP;
* a large Linear layer at growing sparsity, timed dense against a scipy CSR kernel.

Within a seed every arm starts from the same trained network (or initialisation) and sees
the same pre-drawn mini-batches; the spread is over seeds.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

import nnlab
from experiments.common import digits, evaluate, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.nn.utils import prune

N_TRAIN = 1200  # of the 1797 digits; the rest is the test set
BATCH = 64


def mlp(hidden: int) -> nn.Sequential:
    """64 pixels -> hidden -> hidden -> 10 classes, ReLU between."""
    return nn.Sequential(
        nn.Linear(64, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, 10),
    )


def linears(model: nn.Sequential) -> list[nn.Linear]:
    return [m for m in model if isinstance(m, nn.Linear)]


def fit(model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float) -> None:
    """Adam on the mini-batches whose indices are the rows of ``order``."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    train_steps(model, opt, x, y, order, log_every=len(order))


def copy_of(model: nn.Sequential, hidden: int) -> nn.Sequential:
    """A fresh, unpruned MLP holding ``model``'s current (effective) weights."""
    clone = mlp(hidden)
    for src, dst in zip(linears(model), linears(clone)):
        dst.weight.array[...] = src.weight.detach().numpy()
        dst.bias.array[...] = src.bias.detach().numpy()
    return clone


def magnitude_prune(model: nn.Sequential, sparsity: float, scope: str) -> None:
    """Zero the smallest-magnitude weights (biases are kept): ``sparsity`` of each layer
    (``scope="layer"``) or of all layers pooled (``scope="global"``)."""
    if scope == "layer":
        for layer in linears(model):
            prune.l1_unstructured(layer, "weight", amount=sparsity)
    else:
        pairs = [(layer, "weight") for layer in linears(model)]
        prune.global_unstructured(pairs, prune.L1Unstructured, amount=sparsity)


def weight_sparsity(model: nn.Sequential) -> float:
    """Fraction of the Linear weights that are zero."""
    weights = [layer.weight.detach().numpy() for layer in linears(model)]
    return float(sum((w == 0).sum() for w in weights) / sum(w.size for w in weights))


def saved_bytes(model: nn.Module) -> int:
    """Size of ``nnlab.save(model.state_dict())`` on disk."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        nnlab.save(model.state_dict(), path)
        return path.stat().st_size


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    return evaluate(model, x, y)[1]


def rewind(model: nn.Sequential, init: list[tuple[np.ndarray, np.ndarray]]) -> None:
    """Put the initial values back into every weight and bias; the masks stay."""
    for layer, (w, b) in zip(linears(model), init):
        layer.weight_orig.array[...] = w
        layer.bias.array[...] = b


def with_masks(model: nn.Sequential, masks: list[np.ndarray]) -> nn.Sequential:
    for layer, mask in zip(linears(model), masks):
        prune.custom_from_mask(layer, "weight", mask)
    return model


def masks_of(model: nn.Sequential) -> list[np.ndarray]:
    return [layer.weight_mask.numpy().copy() for layer in linears(model)]


def shrink_mlp(model: nn.Sequential) -> nn.Sequential:
    """The MLP without the hidden units whose incoming weights are all pruned."""
    first, middle, last = linears(model)
    small_first, middle = prune.shrink_linear_pair(first, middle)
    small_middle, small_last = prune.shrink_linear_pair(middle, last)
    return nn.Sequential(small_first, nn.ReLU(), small_middle, nn.ReLU(), small_last)


def time_forward(layer: nn.Module, x: nnlab.Tensor, repeats: int) -> float:
    """Median wall-clock seconds of one forward pass of ``layer`` on ``x``."""
    times = []
    with nnlab.no_grad():
        layer(x)  # warm-up (first-call allocations)
        for _ in range(repeats):
            start = time.perf_counter()
            layer(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def copy_of_linear(layer: nn.Linear) -> nn.Linear:
    clone = nn.Linear(layer.in_features, layer.out_features)
    clone.load_state_dict(layer.state_dict())
    return clone


Data = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # x_train, y_train, x_test, y_test


def one_shot(
    dense: nn.Sequential, hidden: int, sparsities: tuple[float, ...], data: Data, ft_order
) -> dict[tuple[float, str, int], float]:
    """Test accuracy after pruning the trained ``dense`` once, keyed by (sparsity, scope,
    fine-tuned 0/1)."""
    xtr, ytr, xte, yte = data
    acc = {}
    for s in sparsities:
        for scope in ("layer", "global"):
            model = copy_of(dense, hidden)
            magnitude_prune(model, s, scope)
            acc[s, scope, 0] = accuracy(model, xte, yte)
            fit(model, xtr, ytr, ft_order, lr=3e-4)
            acc[s, scope, 1] = accuracy(model, xte, yte)
    return acc


def iterative(
    dense: nn.Sequential, init, hidden: int, rounds: int, data: Data, order, ft_order, seed: int
) -> tuple[dict[tuple[int, str], float], list[float]]:
    """Test accuracy after each round of globally pruning half the remaining weights, keyed
    by (round, arm): "rewind" retrains the kept weights from their initial values (the
    lottery ticket), "random" trains the same mask from a fresh initialisation, "ft"
    fine-tunes the trained weights. Also the weight sparsity after each round."""
    xtr, ytr, xte, yte = data
    acc, sparsity = {}, []
    ticket, tuned = copy_of(dense, hidden), copy_of(dense, hidden)
    for r in range(1, rounds + 1):
        magnitude_prune(ticket, 0.5, "global")
        rewind(ticket, init)
        fit(ticket, xtr, ytr, order, lr=1e-3)
        acc[r, "rewind"] = accuracy(ticket, xte, yte)
        sparsity.append(weight_sparsity(ticket))
        nnlab.manual_seed(seed + 7919)  # a different initialisation, the same masks
        random = with_masks(mlp(hidden), masks_of(ticket))
        fit(random, xtr, ytr, order, lr=1e-3)
        acc[r, "random"] = accuracy(random, xte, yte)
        magnitude_prune(tuned, 0.5, "global")
        fit(tuned, xtr, ytr, ft_order, lr=3e-4)
        acc[r, "ft"] = accuracy(tuned, xte, yte)
    return acc, sparsity


def structured(dense: nn.Sequential, hidden: int, data: Data, ft_order) -> dict[str, float]:
    """Remove half of each hidden layer's units (lowest L2 norm of incoming weights, with
    their biases) and shrink the MLP; accuracies, the largest logit difference between the
    masked and the shrunk model, parameter counts and saved sizes (also of a 90 %
    unstructured-pruned copy, made permanent with ``prune.remove``)."""
    xtr, ytr, xte, yte = data
    model = copy_of(dense, hidden)
    for layer in linears(model)[:2]:
        prune.ln_structured(layer, "weight", amount=0.5, n=2, dim=0)
        prune.custom_from_mask(layer, "bias", layer.weight_mask.numpy().any(axis=1))
    small = shrink_mlp(model)
    with nnlab.no_grad():
        diff = np.abs(small(nnlab.tensor(xte)).numpy() - model(nnlab.tensor(xte)).numpy())
    out = {
        "max_diff": float(diff.max()),
        "masked": accuracy(model, xte, yte),
        "shrunk": accuracy(small, xte, yte),
    }
    fit(small, xtr, ytr, ft_order, lr=3e-4)
    out["shrunk_ft"] = accuracy(small, xte, yte)
    unstructured = copy_of(dense, hidden)
    magnitude_prune(unstructured, 0.9, "layer")
    for layer in linears(unstructured):
        prune.remove(layer, "weight")
    out |= {
        "dense_params": n_parameters(dense),
        "shrunk_params": n_parameters(small),
        "dense_bytes": saved_bytes(dense),
        "shrunk_bytes": saved_bytes(small),
        "unstructured_bytes": saved_bytes(unstructured),
    }
    return out


def dense_vs_csr(
    width: int, sparsities: tuple[float, ...], repeats: int, rng: np.random.Generator
) -> list[tuple[float, float, float]]:
    """(sparsity, dense seconds, CSR seconds) of one width x width Linear's forward pass on
    a batch of 64, the weight magnitude-pruned to each sparsity."""
    big = nn.Linear(width, width)
    batch = nnlab.tensor(rng.standard_normal((BATCH, width)).astype(np.float32))
    rows = []
    for s in sparsities:
        layer = copy_of_linear(big)
        prune.l1_unstructured(layer, "weight", amount=s)
        prune.remove(layer, "weight")
        dense_seconds = time_forward(layer, batch, repeats)
        csr_seconds = time_forward(prune.SparseLinear.from_dense(layer), batch, repeats)
        rows.append((s, dense_seconds, csr_seconds))
    return rows


def crossover(timing: list[tuple[float, float, float]]) -> float:
    """The lowest measured sparsity from which on CSR is faster at every measured point
    (NaN if it never is at the highest)."""
    for i, (s, _, _) in enumerate(timing):
        if all(csr < dense for _, dense, csr in timing[i:]):
            return s
    return float("nan")


def spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


@experiment(
    "pruning",
    answers=["pruning"],
    quick=dict(
        hidden=32, steps=150, ft_steps=40, sparsities=(0.5, 0.9), rounds=2, n_seeds=2,
        width=256, timing_sparsities=(0.5, 0.99), repeats=3,
    ),
    full=dict(
        hidden=128, steps=600, ft_steps=200, sparsities=(0.5, 0.7, 0.8, 0.9, 0.95, 0.98),
        rounds=5, n_seeds=3, width=1024,
        timing_sparsities=(0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999),
        repeats=15,
    ),
)  # fmt: skip
def pruning(
    run: Run,
    hidden: int,
    steps: int,
    ft_steps: int,
    sparsities: tuple[float, ...],
    rounds: int,
    n_seeds: int,
    width: int,
    timing_sparsities: tuple[float, ...],
    repeats: int,
) -> None:
    """How is a network pruned, and how much can be removed?"""
    x, y = digits()
    split = run.rng(0).permutation(len(y))
    train, test = split[:N_TRAIN], split[N_TRAIN:]
    data = (x[train], y[train], x[test], y[test])
    dense_acc, shots, tickets, shrinks, sparsity_per_round = [], [], [], [], []
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        order = rng.integers(0, N_TRAIN, size=(steps, BATCH))
        ft_order = rng.integers(0, N_TRAIN, size=(ft_steps, BATCH))
        nnlab.manual_seed(seed)
        dense = mlp(hidden)
        init = [
            (m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in linears(dense)
        ]
        fit(dense, data[0], data[1], order, lr=1e-3)
        dense_acc.append(accuracy(dense, data[2], data[3]))
        shots.append(one_shot(dense, hidden, sparsities, data, ft_order))
        acc, sparsity_per_round = iterative(
            dense, init, hidden, rounds, data, order, ft_order, seed
        )
        tickets.append(acc)
        shrinks.append(structured(dense, hidden, data, ft_order))
    timing = dense_vs_csr(width, timing_sparsities, repeats, run.rng(1))

    # -- numbers and tables ------------------------------------------------------------
    def over_seeds(results: list[dict], key) -> list[float]:
        return [r[key] for r in results]

    run.number("dense_accuracy", round(float(np.mean(dense_acc)), 4))
    rows = []
    for s in sparsities:
        for scope in ("layer", "global"):
            plain, tuned = over_seeds(shots, (s, scope, 0)), over_seeds(shots, (s, scope, 1))
            run.number(f"{scope}_{s}_accuracy", round(float(np.mean(plain)), 4))
            run.number(f"{scope}_{s}_finetuned_accuracy", round(float(np.mean(tuned)), 4))
            rows.append((s, scope, spread(plain), spread(tuned)))
    run.table(
        f"Test accuracy after one-shot magnitude pruning (dense: {spread(dense_acc)})",
        ("sparsity", "scope", "pruned", "pruned + fine-tuned"),
        rows,
    )
    rows = []
    for r, s in enumerate(sparsity_per_round, start=1):
        arms = {arm: over_seeds(tickets, (r, arm)) for arm in ("rewind", "random", "ft")}
        for arm, values in arms.items():
            run.number(f"round{r}_{arm}_accuracy", round(float(np.mean(values)), 4))
        rows.append((r, round(s, 4), *(spread(v) for v in arms.values())))
    run.table(
        "Iterative global pruning (half the remaining weights per round)",
        ("round", "sparsity", "rewound ticket", "random re-init", "fine-tuned"),
        rows,
    )
    sizes = shrinks[-1]  # identical for every seed: the shapes do not depend on it
    for key in ("dense_params", "shrunk_params", "dense_bytes", "shrunk_bytes"):
        run.number(key, sizes[key])
    run.number("unstructured_90_bytes", sizes["unstructured_bytes"])
    shrink_acc = {k: over_seeds(shrinks, k) for k in ("masked", "shrunk", "shrunk_ft")}
    max_diff = max(over_seeds(shrinks, "max_diff"))
    run.number("shrunk_max_logit_diff", max_diff)
    run.number("shrunk_finetuned_accuracy", round(float(np.mean(shrink_acc["shrunk_ft"])), 4))
    run.table(
        "Structured pruning: half of each hidden layer's units removed",
        ("model", "parameters", "file bytes", "test accuracy"),
        [
            ("dense", sizes["dense_params"], sizes["dense_bytes"], spread(dense_acc)),
            ("units masked", sizes["dense_params"], "", spread(shrink_acc["masked"])),
            ("shrunk", sizes["shrunk_params"], sizes["shrunk_bytes"], spread(shrink_acc["shrunk"])),
            ("shrunk + fine-tuned", sizes["shrunk_params"], sizes["shrunk_bytes"],
             spread(shrink_acc["shrunk_ft"])),
            ("90% unstructured, removed", sizes["dense_params"], sizes["unstructured_bytes"], ""),
        ],
    )  # fmt: skip
    for s, dense_s, csr_s in timing:
        run.number(f"csr_speedup_{s}", round(dense_s / csr_s, 3))
    cross = crossover(timing)
    run.number("csr_crossover_sparsity", cross if np.isfinite(cross) else "never")
    run.table(
        f"Forward pass of a {width}x{width} Linear on a batch of {BATCH}, median of {repeats}",
        ("sparsity", "dense ms", "CSR ms", "speed-up"),
        [(s, round(1e3 * d, 3), round(1e3 * c, 3), round(d / c, 2)) for s, d, c in timing],
    )

    # -- figure ----------------------------------------------------------------------
    fig = run.figure(
        "pruning",
        "Left: accuracy against sparsity (mean ± std over seeds). Middle: iterative pruning. "
        "Right: dense against CSR forward time.",
        width=15,
        height=4.2,
    )
    left, middle, right = fig.subplots(1, 3)
    for (scope, ft), style in {
        ("layer", 0): "C0--",
        ("layer", 1): "C0-",
        ("global", 0): "C1--",
        ("global", 1): "C1-",
    }.items():
        values = np.array([over_seeds(shots, (s, scope, ft)) for s in sparsities])
        label = f"{scope}{' + fine-tune' if ft else ''}"
        left.errorbar(sparsities, values.mean(1), values.std(1), fmt=style, label=label)
    left.axhline(np.mean(dense_acc), color="grey", linestyle=":", label="dense")
    left.set(xlabel="weight sparsity", ylabel="test accuracy")
    left.legend()
    for arm, label in {
        "rewind": "rewound ticket",
        "random": "random re-init",
        "ft": "fine-tuned",
    }.items():
        values = np.array([over_seeds(tickets, (r, arm)) for r in range(1, rounds + 1)])
        middle.errorbar(sparsity_per_round, values.mean(1), values.std(1), marker="o", label=label)
    middle.set(xlabel="weight sparsity", ylabel="test accuracy")
    middle.legend()
    density = [1 - s for s, _, _ in timing]
    right.loglog(density, [1e3 * d for _, d, _ in timing], "o-", label="dense matmul")
    right.loglog(density, [1e3 * c for _, _, c in timing], "s-", label="CSR (scipy.sparse)")
    right.invert_xaxis()
    right.set(xlabel="density (1 - sparsity)", ylabel="forward ms")
    right.legend()

    # -- claims and answer ------------------------------------------------------------
    top, dense_mean = max(sparsities), float(np.mean(dense_acc))

    def mean(key) -> float:
        return float(np.mean(over_seeds(shots, key)))

    run.claim(
        "Per-layer magnitude pruning to 90% sparsity, then fine-tuning, stays within 2 points "
        "of the dense network's test accuracy (mean over seeds)",
        0.9 in sparsities and mean((0.9, "layer", 1)) >= dense_mean - 0.02,
        f"dense {dense_mean:.3f}, pruned 90% + fine-tuned {mean((0.9, 'layer', 1)):.3f}",
        quick=False,
    )
    run.claim(
        f"Without fine-tuning, global pruning keeps more accuracy than per-layer pruning at "
        f"the highest sparsity ({top:.0%})",
        mean((top, "global", 0)) > mean((top, "layer", 0)),
        f"global {mean((top, 'global', 0)):.3f}, per layer {mean((top, 'layer', 0)):.3f}",
        quick=False,
    )
    run.claim(
        f"Fine-tuning after per-layer pruning to {top:.0%} recovers at least 5 points",
        mean((top, "layer", 1)) >= mean((top, "layer", 0)) + 0.05,
        f"{mean((top, 'layer', 0)):.3f} before, {mean((top, 'layer', 1)):.3f} after",
        quick=False,
    )
    rewound = float(np.mean(over_seeds(tickets, (rounds, "rewind"))))
    reinit = float(np.mean(over_seeds(tickets, (rounds, "random"))))
    run.claim(
        f"After {rounds} rounds of iterative pruning ({sparsity_per_round[-1]:.1%} sparse), "
        "the rewound ticket beats the same mask with a random initialisation by at least "
        "1 point",
        rewound >= reinit + 0.01,
        f"rewound {rewound:.3f}, random re-init {reinit:.3f}",
        quick=False,
    )
    run.claim(
        "The shrunk dense MLP computes the same logits as the MLP with those units masked "
        "(largest difference at most 1e-4)",
        max_diff <= 1e-4,
        f"largest logit difference {max_diff:.2e}",
    )
    param_cut = 1 - sizes["shrunk_params"] / sizes["dense_params"]
    byte_cut = 1 - sizes["shrunk_bytes"] / sizes["dense_bytes"]
    run.claim(
        "Removing half the hidden units cuts both the parameter count and the saved file "
        "size by at least 50%",
        param_cut >= 0.5 and byte_cut >= 0.5,
        f"parameters -{param_cut:.1%}, file -{byte_cut:.1%}",
    )
    unstructured_cut = 1 - sizes["unstructured_bytes"] / sizes["dense_bytes"]
    run.claim(
        "Unstructured pruning to 90% does not shrink the saved dense file (less than 1% smaller)",
        unstructured_cut < 0.01,
        f"file -{unstructured_cut:.1%}",
    )
    shrunk_ft = float(np.mean(shrink_acc["shrunk_ft"]))
    run.claim(
        "The half-width shrunk MLP, fine-tuned, is within 2 points of the dense one",
        shrunk_ft >= dense_mean - 0.02,
        f"dense {dense_mean:.3f}, shrunk + fine-tuned {shrunk_ft:.3f}",
        quick=False,
    )
    speed = {s: d / c for s, d, c in timing}
    run.claim(
        "At 50% sparsity the CSR kernel is slower than the dense matmul",
        speed.get(0.5, np.inf) < 1,
        f"speed-up at 50%: {speed.get(0.5, float('nan')):.2f}x",
        quick=False,
    )
    run.claim(
        "At 99% sparsity the CSR kernel is faster than the dense matmul",
        speed.get(0.99, 0) > 1,
        f"speed-up at 99%: {speed.get(0.99, float('nan')):.2f}x",
        quick=False,
    )
    where = f"from {cross:.1%} sparsity on" if np.isfinite(cross) else "at no measured sparsity"
    run.answer(
        "Pruning zeroes weights through a mask: magnitude pruning drops the smallest |w|, "
        "either the same fraction in every layer or across the whole network at once. "
        f"The dense MLP scored {dense_mean:.1%}; at {top:.0%} sparsity per-layer pruning "
        f"left {mean((top, 'layer', 0)):.1%} and global {mean((top, 'global', 0)):.1%} "
        f"before fine-tuning, {mean((top, 'layer', 1)):.1%} and "
        f"{mean((top, 'global', 1)):.1%} after. Iterative pruning to "
        f"{sparsity_per_round[-1]:.1%} with rewinding to the initial weights reached "
        f"{rewound:.1%}, the same masks from a random initialisation {reinit:.1%}, and "
        f"fine-tuning instead of rewinding "
        f"{np.mean(over_seeds(tickets, (rounds, 'ft'))):.1%}. Zeros alone save nothing: the "
        f"90%-pruned model's file was {sizes['unstructured_bytes']} bytes against "
        f"{sizes['dense_bytes']} dense. Removing half the hidden units gives a smaller dense "
        f"model ({sizes['shrunk_params']} instead of {sizes['dense_params']} parameters, "
        f"{sizes['shrunk_bytes']} bytes) that reached {shrunk_ft:.1%} after fine-tuning. "
        f"For speed, a scipy CSR kernel beat the dense matmul of a {width}x{width} layer "
        f"{where} (speed-up {speed[max(speed)]:.1f}x at {max(speed):.1%})."
    )
