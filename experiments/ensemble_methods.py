"""Three ways of building an ensemble, against one model: deep ensembles (members trained
from different seeds), bagging (members trained on bootstrap samples) and snapshot
ensembles (the weights at the end of each cycle of one run under a cyclic cosine learning
rate); and three ways of combining the members: averaging logits, averaging probabilities,
majority vote.

Task: the standardised digits, a fixed random split with a small training set (so that
single models overfit and are overconfident) and every other digit for testing. Every
network is the same MLP, 64 → width → width → 10 with ReLU, trained with SGD and momentum
on batches of 32.

- *Single model*: each deep-ensemble member on its own (the spread over seeds).
- *Deep ensemble*: M members, each with its own seed for the initial weights and the batch
  order.
- *Bagging*: member k has deep member k's seed, initial weights and batch positions, but
  the batches are taken from its own bootstrap sample of the training set, so the two
  ensembles differ only in the data each member saw.
- *Snapshot ensemble*: one run as long as one member's, with the learning rate restarted
  at twice the constant rate and annealed to 0 along a cosine M times (SGDR); the weights
  at the end of each cycle are the members. It costs one training run; the other two
  ensembles cost M.

Measured on the test digits: accuracy, negative log-likelihood (NLL) and expected
calibration error (ECE, Guo et al. 2017): the top-class confidences are sorted into 15
equal-width bins and ECE = Σ_b (n_b / n)·|accuracy_b − confidence_b|. Each repeat uses new
seeds for every network on the same split.
"""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.models.ensemble import (
    COMBINE_RULES,
    Ensemble,
    SnapshotCollector,
    bootstrap_indices,
    combine_predictions,
)

BATCH, LR, MOMENTUM, SNAPSHOT_LR, ECE_BINS = 32, 0.05, 0.9, 0.1, 15
METHODS = ("single model", "deep ensemble", "bagging", "snapshot ensemble")


def mlp(width: int) -> nn.Sequential:
    """64 pixels → width → width → 10 classes, ReLU."""
    return nn.Sequential(
        nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
    )


def batch_order(rng: np.random.Generator, n: int, steps: int) -> np.ndarray:
    """Positions 0..n−1, one row of ``BATCH`` per step, walking through shuffled epochs."""
    epochs = -(-steps * BATCH // n)
    walk = np.concatenate([rng.permutation(n) for _ in range(epochs)])
    return walk[: steps * BATCH].reshape(steps, BATCH)


def sgd(model: nn.Module, lr: float) -> nnlab.optim.SGD:
    """The optimiser of every network: SGD with momentum."""
    return nnlab.optim.SGD(model.parameters(), lr=lr, momentum=MOMENTUM)


def fit(
    model: nn.Module,
    opt: nnlab.optim.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    collector: SnapshotCollector | None = None,
) -> None:
    """One ``opt`` step on the cross-entropy per row of ``order`` (indices into x), then
    ``collector.step()`` when one is given."""
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for rows in order:
        idx = nnlab.tensor(rows)
        loss = nnlab.nn.functional.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if collector is not None:
            collector.step()


def logits(model: nn.Module, x: np.ndarray) -> nnlab.Tensor:
    """``model``'s output on ``x``, without gradient."""
    with nnlab.no_grad():
        return model(nnlab.tensor(x))


def probabilities(scores: nnlab.Tensor, combine: str) -> np.ndarray:
    """Class probabilities from the output of :func:`combine_predictions`: the softmax of
    mean logits, exp of the log mean probability, or the vote fractions."""
    if combine == "mean_logits":
        return nnlab.nn.functional.softmax(scores, dim=1).numpy()
    if combine == "mean_probs":
        return scores.exp().numpy()
    return scores.numpy()


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Σ_b (n_b / n)·|accuracy_b − confidence_b| over equal-width bins of the top-class
    confidence (a confidence of exactly 1 falls in the last bin)."""
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == y
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            total += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(total)


def scores(p: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, NLL (infinite where the true class has probability 0) and ECE."""
    with np.errstate(divide="ignore"):
        nll = float(-np.mean(np.log(p[np.arange(len(y)), y])))
    return {
        "accuracy": float(np.mean(p.argmax(axis=1) == y)),
        "nll": nll,
        "ece": expected_calibration_error(p, y),
    }


def combined(outputs: list[nnlab.Tensor], rule: str) -> np.ndarray:
    """The ensemble's class probabilities when ``outputs`` are combined by ``rule``."""
    return probabilities(combine_predictions(outputs, rule), rule)


def train_members(
    x: np.ndarray,
    y: np.ndarray,
    x_test: np.ndarray,
    seeds: list[int],
    width: int,
    steps: int,
    bags: np.ndarray,
) -> dict[str, list[nnlab.Tensor]]:
    """Test logits of every member: the deep ensemble's and bagging's (one per seed) and
    the snapshot ensemble's (one run, seeded like the first member). Member k's training
    rows are ``bags[k]`` for bagging, all of x otherwise."""
    members: dict[str, list[nnlab.Tensor]] = {"deep ensemble": [], "bagging": []}
    for seed, bag in zip(seeds, bags):
        order = batch_order(np.random.default_rng(seed), len(x), steps)
        for method, rows in (("deep ensemble", order), ("bagging", bag[order])):
            nnlab.manual_seed(seed)  # a deep member and its bagged twin start alike
            model = mlp(width)
            fit(model, sgd(model, LR), x, y, rows)
            members[method].append(logits(model, x_test))
    nnlab.manual_seed(seeds[0])
    model = mlp(width)
    opt = sgd(model, SNAPSHOT_LR)
    collector = SnapshotCollector(model, opt, cycle_length=steps // len(seeds))
    order = batch_order(np.random.default_rng(seeds[0]), len(x), steps)
    fit(model, opt, x, y, order, collector)
    snapshots = Ensemble.from_state_dicts(lambda: mlp(width), collector.snapshots)
    members["snapshot ensemble"] = [logits(m, x_test) for m in snapshots.members]
    return members


@experiment(
    "ensemble-methods",
    answers=["ensembles"],
    quick=dict(n_train=300, width=32, steps=300, n_members=3, n_repeats=2),
    full=dict(n_train=300, width=64, steps=1500, n_members=5, n_repeats=5),
)
def ensemble_methods(
    run: Run, n_train: int, width: int, steps: int, n_members: int, n_repeats: int
) -> None:
    """Bagging, snapshots or seeds: which ensemble helps most, and how to combine it?"""
    x_all, y_all = digits()
    split = run.rng(0).permutation(len(x_all))
    x, y = x_all[split[:n_train]], y_all[split[:n_train]]
    x_test, y_test = x_all[split[n_train:]], y_all[split[n_train:]]
    seeds = run.seeds(n_repeats * n_members)
    # results[method][rule] : one score dict per repeat; single models: one per member
    results = {m: {r: [] for r in COMBINE_RULES} for m in METHODS[1:]}
    single, member_nll, by_size = [], {m: [] for m in METHODS[1:]}, {m: [] for m in METHODS[1:]}
    pooled = {"single model": [], "deep ensemble": []}  # probabilities for the reliability plot
    for r in range(n_repeats):
        repeat_seeds = seeds[r * n_members : (r + 1) * n_members]
        bags = bootstrap_indices(n_train, n_members, run.rng(1 + r))
        members = train_members(x, y, x_test, repeat_seeds, width, steps, bags)
        for method, outputs in members.items():
            probs = [combined([z], "mean_logits") for z in outputs]  # each member's softmax
            member_scores = [scores(p, y_test) for p in probs]
            member_nll[method].append(np.mean([s["nll"] for s in member_scores]))
            if method == "deep ensemble":
                single += member_scores
            for rule in COMBINE_RULES:
                results[method][rule].append(scores(combined(outputs, rule), y_test))
            by_size[method].append(
                [
                    scores(combined(outputs[:k], "mean_probs"), y_test)
                    for k in range(1, n_members + 1)
                ]
            )
        pooled["single model"].append(combined(members["deep ensemble"][:1], "mean_logits"))
        pooled["deep ensemble"].append(combined(members["deep ensemble"], "mean_probs"))

    def mean(values: list[dict[str, float]], key: str) -> float:
        return float(np.mean([v[key] for v in values]))

    def std(values: list[dict[str, float]], key: str) -> float:
        return float(np.std([v[key] for v in values]))

    def cells(values: list[dict[str, float]]) -> list[str]:
        """Mean ± std of each score; "-" where a run's value is infinite (a vote's NLL is,
        once a test digit's true class got no vote)."""
        out = []
        for key in ("accuracy", "nll", "ece"):
            v = [x[key] for x in values]
            out.append(f"{np.mean(v):.4f} ± {np.std(v):.4f}" if np.all(np.isfinite(v)) else "-")
        return out

    rows = [("single model", "-", len(single), *cells(single))]
    for method in METHODS[1:]:
        for rule in COMBINE_RULES:
            rows.append((method, rule, len(results[method][rule]), *cells(results[method][rule])))
    run.table(
        f"Test scores, mean ± std over {n_repeats} repeats ({n_members} members, "
        f"{n_train} training digits, {len(y_test)} test digits); the single-model row is "
        f"every deep-ensemble member",
        ("method", "combined by", "runs", "accuracy", "NLL", "ECE"),
        rows,
    )
    run.number("single_accuracy", round(mean(single, "accuracy"), 4))
    run.number("single_nll", round(mean(single, "nll"), 4))
    run.number("single_ece", round(mean(single, "ece"), 4))
    for method in METHODS[1:]:
        key = method.split()[0]
        for rule in COMBINE_RULES:
            run.number(f"{key}_{rule}_accuracy", round(mean(results[method][rule], "accuracy"), 4))
            run.number(f"{key}_{rule}_ece", round(mean(results[method][rule], "ece"), 4))
            if rule != "vote":
                run.number(f"{key}_{rule}_nll", round(mean(results[method][rule], "nll"), 4))
    _plot_sizes(run, by_size, single)
    _plot_reliability(run, pooled, np.tile(y_test, n_repeats))

    deep = results["deep ensemble"]
    deep_p = deep["mean_probs"]
    jensen = all(
        ens["nll"] <= m + 1e-9
        for method in METHODS[1:]
        for ens, m in zip(results[method]["mean_probs"], member_nll[method])
    )
    run.claim(
        "Averaging probabilities never gives a higher test NLL than the members' mean NLL "
        "(the log is concave), for every ensemble of every repeat",
        jensen,
        "; ".join(
            f"{method}: " + ", ".join(
                f"{e['nll']:.3f}≤{m:.3f}"
                for e, m in zip(results[method]["mean_probs"], member_nll[method])
            )
            for method in METHODS[1:]
        ),
    )  # fmt: skip
    gain = mean(deep_p, "accuracy") - mean(single, "accuracy")
    run.claim(
        "A deep ensemble is at least 1 point more accurate than a single model (means)",
        gain >= 0.01,
        f"deep ensemble {mean(deep_p, 'accuracy'):.4f}, single {mean(single, 'accuracy'):.4f}",
        quick=False,
    )
    run.claim(
        "A deep ensemble's test NLL is at least 10% below a single model's (means)",
        mean(deep_p, "nll") <= 0.9 * mean(single, "nll"),
        f"deep ensemble {mean(deep_p, 'nll'):.4f}, single {mean(single, 'nll'):.4f}",
        quick=False,
    )
    ece_by_repeat = [
        (e["ece"], np.mean([s["ece"] for s in single[r * n_members : (r + 1) * n_members]]))
        for r, e in enumerate(deep_p)
    ]
    run.claim(
        "A deep ensemble is better calibrated than its members: its ECE is below their mean "
        "ECE in every repeat",
        all(e < s for e, s in ece_by_repeat),
        ", ".join(f"{e:.4f} vs {s:.4f}" for e, s in ece_by_repeat),
        quick=False,
    )
    bag = results["bagging"]["mean_probs"]
    run.claim(
        "Bagging does not beat a deep ensemble of the same size (each bootstrap sample "
        "holds only ~63% of the distinct digits): deep accuracy ≥ bagging accuracy and deep "
        "NLL ≤ bagging NLL (means)",
        mean(deep_p, "accuracy") >= mean(bag, "accuracy")
        and mean(deep_p, "nll") <= mean(bag, "nll"),
        f"accuracy {mean(deep_p, 'accuracy'):.4f} vs {mean(bag, 'accuracy'):.4f}, "
        f"NLL {mean(deep_p, 'nll'):.4f} vs {mean(bag, 'nll'):.4f}",
        quick=False,
    )
    snap = results["snapshot ensemble"]["mean_probs"]
    run.claim(
        "A snapshot ensemble, at the cost of one training run, has a lower test NLL than a "
        "single model trained for as many steps (means)",
        mean(snap, "nll") < mean(single, "nll"),
        f"snapshot {mean(snap, 'nll'):.4f}, single {mean(single, 'nll'):.4f}",
        quick=False,
    )
    run.claim(
        "A snapshot ensemble is less accurate than a deep ensemble of as many members (its "
        "members come from one run and are correlated) (means)",
        mean(snap, "accuracy") < mean(deep_p, "accuracy"),
        f"snapshot {mean(snap, 'accuracy'):.4f}, deep {mean(deep_p, 'accuracy'):.4f}",
        quick=False,
    )
    run.claim(
        "For the deep ensemble, averaging probabilities gives a lower NLL than averaging "
        "logits (means)",
        mean(deep_p, "nll") < mean(deep["mean_logits"], "nll"),
        f"probabilities {mean(deep_p, 'nll'):.4f}, logits {mean(deep['mean_logits'], 'nll'):.4f}",
        quick=False,
    )
    run.claim(
        "For the deep ensemble, averaging probabilities (soft voting) is at least as "
        "accurate as majority voting (means)",
        mean(deep_p, "accuracy") >= mean(deep["vote"], "accuracy"),
        f"probabilities {mean(deep_p, 'accuracy'):.4f}, vote {mean(deep['vote'], 'accuracy'):.4f}",
        quick=False,
    )
    run.claim(
        "An ensemble's accuracy varies less from seed to seed than one model's: the std of "
        "the deep ensemble's accuracy over repeats is below the std over single models",
        std(deep_p, "accuracy") < std(single, "accuracy"),
        f"deep ensemble {std(deep_p, 'accuracy'):.4f}, single {std(single, 'accuracy'):.4f}",
        quick=False,
    )

    def summary(values: list[dict[str, float]]) -> str:
        return (
            f"accuracy {mean(values, 'accuracy'):.1%}, NLL {mean(values, 'nll'):.3f}, "
            f"ECE {mean(values, 'ece'):.3f}"
        )

    run.answer(
        "Several networks do better together when their errors differ: averaging their "
        "predictions cancels part of each one's mistakes and overconfidence. On "
        f"{len(y_test)} test digits (networks trained on {n_train}), one model scored "
        f"{summary(single)} (accuracy std {std(single, 'accuracy'):.3f} over "
        f"{len(single)} seeds). Ensembles of {n_members}, averaging probabilities: deep "
        f"ensemble (different seeds) {summary(deep_p)}, accuracy std "
        f"{std(deep_p, 'accuracy'):.3f} over {n_repeats} repeats; bagging (bootstrap "
        f"samples) {summary(bag)}; snapshot ensemble (one run, cyclic learning rate) "
        f"{summary(snap)}. Combining the deep ensemble by averaging logits gave "
        f"{summary(deep['mean_logits'])}; by majority vote, accuracy "
        f"{mean(deep['vote'], 'accuracy'):.1%}."
    )


def _plot_sizes(
    run: Run, by_size: dict[str, list[list[dict[str, float]]]], single: list[dict[str, float]]
) -> None:
    """Test accuracy and NLL of the first k members averaged, per method."""
    fig = run.figure(
        "ensemble-size",
        "Test accuracy and NLL of the first k members (probabilities averaged), mean over "
        "repeats; the dotted line is the mean single model.",
        width=9.0,
    )
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, ("accuracy", "nll")):
        for i, (method, repeats) in enumerate(by_size.items()):
            curve = np.mean([[s[key] for s in rep] for rep in repeats], axis=0)
            ax.plot(range(1, len(curve) + 1), curve, marker="o", color=f"C{i}", label=method)
        ax.axhline(np.mean([s[key] for s in single]), color="grey", linestyle=":")
        ax.set_xticks(range(1, len(curve) + 1))
        ax.set_xlabel("members averaged")
        ax.set_ylabel(f"test {key if key == 'accuracy' else 'NLL'}")
    axes[0].legend()


def _plot_reliability(run: Run, pooled: dict[str, list[np.ndarray]], y: np.ndarray) -> None:
    """Accuracy against confidence in the ECE bins, single model against deep ensemble."""
    fig = run.figure(
        "reliability",
        f"Reliability diagram on the test digits of every repeat ({ECE_BINS} confidence "
        "bins): a calibrated model lies on the diagonal; below it, overconfident.",
    )
    ax = fig.subplots()
    edges = np.linspace(0, 1, ECE_BINS + 1)
    for i, (name, probs) in enumerate(pooled.items()):
        p = np.concatenate(probs)
        confidence, correct = p.max(axis=1), p.argmax(axis=1) == y
        which = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
        used = [b for b in range(ECE_BINS) if np.any(which == b)]
        ax.plot(
            [confidence[which == b].mean() for b in used],
            [correct[which == b].mean() for b in used],
            marker="o", color=f"C{i}", label=f"{name} (ECE {expected_calibration_error(p, y):.3f})",
        )  # fmt: skip
    ax.plot(edges, edges, color="grey", linestyle=":")
    ax.set_xlabel("confidence (top class)")
    ax.set_ylabel("accuracy")
    ax.legend()
