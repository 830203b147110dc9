"""A Siamese network: one embedding network applied to both images of a pair, trained
with a contrastive loss so that images of the same digit land close together.

The network sees pairs of the digits 0-6 only, labelled "same digit" or "different
digits"; it never sees a class label. It is then asked about the digits 7-9, which it
never saw: are two images of the same digit (pair verification, ROC AUC of the distance),
and which of three digits is this image, given one example of each (one-shot
classification)? The yardsticks are the distance between raw pixels and the same network
before training (the same initial weights).
"""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.data.datasets import load_digits
from nnlab.metrics import roc_auc_score

SEEN, UNSEEN = tuple(range(7)), (7, 8, 9)


def embedding_net(dim: int) -> nn.Sequential:
    """64 pixels → 128 → ReLU → 64 → ReLU → ``dim``: the twin applied to both images."""
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, dim)
    )


def draw_pairs(
    rng: np.random.Generator, y: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` index pairs into ``y``, half of the same class and half of different classes,
    with the label 1 for same and 0 for different."""
    by_class = {c: np.flatnonzero(y == c) for c in np.unique(y)}
    classes = np.array(list(by_class))
    first, second = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    same = np.arange(n) % 2 == 0
    for k in range(n):
        if same[k]:
            c = rng.choice(classes)
            first[k], second[k] = rng.choice(by_class[c], size=2, replace=False)
        else:
            c, d = rng.choice(classes, size=2, replace=False)
            first[k], second[k] = rng.choice(by_class[c]), rng.choice(by_class[d])
    return first, second, same.astype(np.int64)


def train_siamese(
    net: nn.Module, x: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    steps: int, batch: int,
) -> list[float]:  # fmt: skip
    """Adam on the contrastive loss of consecutive batches of ``pairs``; the loss per step."""
    loss_fn = nn.ContrastiveLoss(margin=1.0)
    opt = nnlab.optim.Adam(net.parameters(), lr=1e-3)
    first, second, same = pairs
    losses = []
    for step in range(steps):
        s = slice(step * batch, (step + 1) * batch)
        # the same weights embed both images: that is what makes the network Siamese
        loss = loss_fn(
            net(nnlab.tensor(x[first[s]])), net(nnlab.tensor(x[second[s]])),
            nnlab.tensor(same[s]),
        )  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def embed(net: nn.Module | None, x: np.ndarray) -> np.ndarray:
    """The network's embeddings of ``x``, or the raw pixels when ``net`` is None."""
    if net is None:
        return x
    with nnlab.no_grad():
        return net(nnlab.tensor(x)).numpy()


def verification_auc(z: np.ndarray, pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> float:
    """ROC AUC of "same digit" scored by minus the Euclidean distance of the pair."""
    first, second, same = pairs
    distance = np.linalg.norm(z[first] - z[second], axis=1)
    return float(roc_auc_score(same, -distance))


def one_shot_accuracy(
    z: np.ndarray, y: np.ndarray, rng: np.random.Generator, episodes: int
) -> float:
    """Accuracy of nearest-support classification with one random support image per class,
    over ``episodes`` draws; every other image is a query."""
    classes = np.unique(y)
    correct = total = 0
    for _ in range(episodes):
        support = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
        query = np.setdiff1d(np.arange(len(y)), support)
        d = np.linalg.norm(z[query, None, :] - z[None, support, :], axis=2)
        correct += int((classes[d.argmin(axis=1)] == y[query]).sum())
        total += len(query)
    return correct / total


@experiment(
    "siamese-digits",
    answers=["siamese-networks"],
    quick=dict(steps=300, batch=64, dim=16, n_seeds=3, eval_pairs=2000, episodes=20),
    full=dict(steps=2000, batch=64, dim=16, n_seeds=5, eval_pairs=6000, episodes=100),
)
def siamese_digits(
    run: Run, steps: int, batch: int, dim: int, n_seeds: int, eval_pairs: int, episodes: int
) -> None:
    """Can a Siamese network trained on pairs of some digits tell apart digits it never saw?"""
    images, labels = load_digits()
    x = (images / 16.0).astype(np.float32)
    seen = np.flatnonzero(np.isin(labels, SEEN))
    held_out = np.zeros(len(labels), dtype=bool)
    held_out[run.rng(2).permutation(seen)[: int(0.3 * len(seen))]] = True
    train = np.isin(labels, SEEN) & ~held_out
    unseen = np.isin(labels, UNSEEN)
    x_train, y_train = x[train], labels[train]
    # two test sets: new images of the training digits, and images of digits never seen
    tests = {
        "held-out images, digits 0-6": (x[held_out], labels[held_out]),
        "unseen digits 7-9": (x[unseen], labels[unseen]),
    }
    test_pairs = {t: draw_pairs(run.rng(1), y, eval_pairs) for t, (_, y) in tests.items()}

    arms = ("pixels", "untrained", "siamese")
    auc = {(t, a): [] for t in tests for a in arms}
    one_shot = {(t, a): [] for t in tests for a in arms}
    curves = []
    for seed in run.seeds(n_seeds):
        nnlab.manual_seed(seed)
        net = embedding_net(dim)
        untrained = embedding_net(dim)
        untrained.load_state_dict(net.state_dict())  # the control: same weights, no training
        pairs = draw_pairs(np.random.default_rng(seed), y_train, steps * batch)
        curves.append(train_siamese(net, x_train, pairs, steps, batch))
        for t, (x_test, y_test) in tests.items():
            for arm, model in (("pixels", None), ("untrained", untrained), ("siamese", net)):
                z = embed(model, x_test)
                auc[t, arm].append(verification_auc(z, test_pairs[t]))
                # the same support draws for every arm of a seed
                support_rng = np.random.default_rng(seed)
                one_shot[t, arm].append(one_shot_accuracy(z, y_test, support_rng, episodes))

    rows = []
    for t in tests:
        for arm in arms:
            key = f"{'seen' if t.startswith('held') else 'unseen'}_{arm}"
            for name, values in (("auc", auc[t, arm]), ("one_shot", one_shot[t, arm])):
                run.number(f"{key}_{name}_mean", round(float(np.mean(values)), 4))
                run.number(f"{key}_{name}_std", round(float(np.std(values)), 4))
            a, o = auc[t, arm], one_shot[t, arm]
            row = (np.mean(a), min(a), max(a), np.mean(o), min(o), max(o))
            rows.append((t, arm, *(round(float(v), 4) for v in row)))
    run.table(
        f"Pair verification and one-shot classification over {n_seeds} seeds "
        f"({eval_pairs} test pairs, {episodes} one-shot episodes per seed)",
        ("test images", "representation", "pair AUC mean", "pair AUC min", "pair AUC max",
         "one-shot acc mean", "one-shot acc min", "one-shot acc max"),
        rows,
    )  # fmt: skip
    _plot(run, curves, auc, tests)

    old, new = tests
    mean = {k: float(np.mean(v)) for k, v in auc.items()}
    shot = {k: float(np.mean(v)) for k, v in one_shot.items()}
    run.claim(
        "On new images of the training digits the Siamese distance separates same from "
        "different pairs: AUC at least 0.95 for every seed, and at least 0.03 above raw pixels "
        "(mean)",
        min(auc[old, "siamese"]) >= 0.95 and mean[old, "siamese"] >= mean[old, "pixels"] + 0.03,
        f"lowest AUC {min(auc[old, 'siamese']):.3f}, mean {mean[old, 'siamese']:.3f}, "
        f"pixels {mean[old, 'pixels']:.3f}",
    )
    run.claim(
        "Pairs of digits never seen in training are told apart: distance AUC at least 0.85 for "
        "every seed",
        min(auc[new, "siamese"]) >= 0.85,
        f"lowest AUC {min(auc[new, 'siamese']):.3f}",
        quick=False,
    )
    run.claim(
        "The Siamese embedding separates unseen-digit pairs better than raw pixels: AUC higher "
        "by at least 0.03 (mean over seeds)",
        mean[new, "siamese"] >= mean[new, "pixels"] + 0.03,
        f"Siamese {mean[new, 'siamese']:.3f}, pixels {mean[new, 'pixels']:.3f}",
        quick=False,
    )
    run.claim(
        "On unseen digits the training, not the architecture, does it: AUC at least 0.05 above "
        "the same network with its initial weights (mean over seeds)",
        mean[new, "siamese"] >= mean[new, "untrained"] + 0.05,
        f"trained {mean[new, 'siamese']:.3f}, untrained {mean[new, 'untrained']:.3f}",
        quick=False,
    )
    run.claim(
        "One-shot classification of the unseen digits is more accurate in the Siamese "
        "embedding than with raw pixels (mean over seeds)",
        shot[new, "siamese"] > shot[new, "pixels"],
        f"Siamese {shot[new, 'siamese']:.3f}, pixels {shot[new, 'pixels']:.3f}",
        quick=False,
    )
    verdict = "better than" if mean[new, "siamese"] > mean[new, "pixels"] else "worse than"
    run.answer(
        "A Siamese network runs two inputs through the same network (shared weights) and "
        "compares the two outputs; a contrastive loss pulls pairs of the same kind together "
        "and pushes other pairs at least a margin apart, so it learns a similarity rather "
        f"than a fixed set of classes. Trained on pairs of the digits 0-6, it judged new images "
        f"of those digits with a pair AUC of {mean[old, 'siamese']:.3f} (raw pixels "
        f"{mean[old, 'pixels']:.3f}) and classified them from one example per class with "
        f"{shot[old, 'siamese']:.3f} accuracy (pixels {shot[old, 'pixels']:.3f}, chance "
        f"{1 / len(SEEN):.3f}): useful for verification and one-shot lookup. On the digits "
        f"7-9, never seen, its AUC was {mean[new, 'siamese']:.3f}, {verdict} raw pixels "
        f"({mean[new, 'pixels']:.3f}; untrained network {mean[new, 'untrained']:.3f}), "
        f"one-shot accuracy {shot[new, 'siamese']:.3f} against {shot[new, 'pixels']:.3f} "
        f"(means over {n_seeds} seeds). What carries over to new classes depends on what the "
        f"training pairs covered: here {len(SEEN)} digit classes; face verification, which must "
        "work on people never seen, trains on pairs of thousands of people."
    )


def _plot(
    run: Run,
    curves: list[list[float]],
    auc: dict[tuple[str, str], list[float]],
    tests: dict[str, object],
) -> None:
    """Training loss per seed, and each representation's pair AUC on the two test sets."""
    fig = run.figure(
        "siamese", "Left: contrastive loss during training (every seed, smoothed over 50 "
        "steps). Right: pair ROC AUC on each test set, one dot per seed.",
        width=9.0, height=3.6,
    )  # fmt: skip
    ax_loss, ax_auc = fig.subplots(1, 2)
    window = np.ones(50) / 50
    for curve in curves:
        ax_loss.plot(np.convolve(curve, window, mode="valid"))
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("contrastive loss")
    arms = ("pixels", "untrained", "siamese")
    for j, t in enumerate(tests):
        for i, arm in enumerate(arms):
            values = auc[t, arm]
            ax_auc.scatter([j + 0.2 * (i - 1)] * len(values), values, color=f"C{i}",
                           label=arm if j == 0 else None)  # fmt: skip
    ax_auc.set_xticks(range(len(tests)), list(tests), fontsize=8)
    ax_auc.axhline(0.5, color="grey", linestyle=":", label="chance")
    ax_auc.set_ylabel("pair ROC AUC")
    ax_auc.legend(fontsize=8)
