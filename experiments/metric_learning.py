"""Metric learning with a Siamese (shared-weight) encoder: which training signal gives an
embedding that works on classes it never saw?

One encoder architecture is trained on the digits 0-5 in four ways: the contrastive loss
on pairs (Hadsell et al.), the triplet loss on random triplets, the triplet loss on the
batch-hard triplets (Hermans et al.), and, as the yardstick, a plain softmax classifier
whose penultimate features are then used as the embedding. The digits 6-9 are never seen
in training. On them we measure one-shot verification (are two images the same digit? the
ROC AUC of minus the embedding distance) and 4-way k-shot classification by the nearest
class prototype (the mean embedding of the k support images, Snell et al.'s prototypical
rule). Raw pixels are the floor.

Every arm of a seed starts from the same encoder weights and sees the same P×K batches
(all 6 training classes × K images per step); evaluation pairs and episodes are shared too.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.metrics import roc_auc_score
from nnlab.nn.utils.mining import batch_hard_triplets

TRAIN_CLASSES, HELD_OUT = tuple(range(6)), (6, 7, 8, 9)
ARMS = ("contrastive", "triplet", "triplet batch-hard", "classifier features", "pixels")
SHOTS = (1, 5)


def encoder(dim: int) -> nn.Sequential:
    """64 pixels → 128 → ReLU → 64 → ReLU → ``dim``: the twin that embeds every image."""
    return nn.Sequential(
        nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, dim)
    )


def pk_batches(rng: np.random.Generator, y: np.ndarray, steps: int, per_class: int) -> np.ndarray:
    """``steps`` batches of indices into ``y``: ``per_class`` images of every class, drawn
    without replacement within a batch (the P×K sampling that batch-hard mining needs)."""
    by_class = [np.flatnonzero(y == c) for c in np.unique(y)]
    return np.array(
        [np.concatenate([rng.choice(i, per_class, replace=False) for i in by_class])
         for _ in range(steps)]
    )  # fmt: skip


def contrastive_batch_loss(z: nnlab.Tensor, labels: np.ndarray) -> nnlab.Tensor:
    """The contrastive loss over every pair of the batch, the similar and the dissimilar
    pairs weighted equally (a P×K batch holds K - 1 times fewer similar pairs)."""
    first, second = np.triu_indices(len(labels), k=1)
    same = (labels[first] == labels[second]).astype(np.int64)
    per_pair = nn.ContrastiveLoss(margin=1.0, reduction="none")(
        z[nnlab.tensor(first)], z[nnlab.tensor(second)], nnlab.tensor(same)
    )
    weights = np.where(same == 1, 0.5 / same.sum(), 0.5 / (1 - same).sum())
    return (per_pair * nnlab.tensor(weights.astype(np.float32))).sum()


def random_triplets(
    rng: np.random.Generator, labels: np.ndarray
) -> tuple[nnlab.Tensor, nnlab.Tensor, nnlab.Tensor]:
    """For every anchor of the batch, a random positive and a random negative: no mining."""
    anchors = np.arange(len(labels))
    positives = [
        rng.choice(np.flatnonzero((labels == labels[a]) & (anchors != a))) for a in anchors
    ]
    negatives = [rng.choice(np.flatnonzero(labels != labels[a])) for a in anchors]
    return (
        nnlab.tensor(anchors),
        nnlab.tensor(np.array(positives)),
        nnlab.tensor(np.array(negatives)),
    )


def train_arm(
    arm: str, x: np.ndarray, y: np.ndarray, batches: np.ndarray, dim: int, seed: int
) -> nn.Module:
    """The arm's encoder after one Adam step per batch; for the classifier arm, the
    encoder followed by its ReLU (the penultimate layer of the classifier)."""
    nnlab.manual_seed(seed)
    net = encoder(dim)  # the same initial weights for every arm of this seed
    head = nn.Linear(dim, len(TRAIN_CLASSES))
    params = list(net.parameters()) + (list(head.parameters()) if arm.startswith("class") else [])
    opt = nnlab.optim.Adam(params, lr=1e-3)
    triplet = nn.TripletMarginLoss(margin=1.0)
    rng = np.random.default_rng(seed)  # the random triplets' draws
    for rows in batches:
        z = net(nnlab.tensor(x[rows]))
        labels = y[rows]
        if arm == "contrastive":
            loss = contrastive_batch_loss(z, labels)
        elif arm == "triplet":
            a, p, n = random_triplets(rng, labels)
            loss = triplet(z[a], z[p], z[n])
        elif arm == "triplet batch-hard":
            a, p, n = batch_hard_triplets(z, nnlab.tensor(labels))
            loss = triplet(z[a], z[p], z[n])
        else:
            loss = F.cross_entropy(head(F.relu(z)), nnlab.tensor(labels))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return nn.Sequential(net, nn.ReLU()) if arm.startswith("class") else net


def embed(net: nn.Module | None, x: np.ndarray) -> np.ndarray:
    """The embeddings of ``x`` (the raw pixels when ``net`` is None)."""
    if net is None:
        return x
    with nnlab.no_grad():
        return net(nnlab.tensor(x)).numpy()


def balanced_pairs(rng: np.random.Generator, y: np.ndarray, n: int) -> tuple[np.ndarray, ...]:
    """``n`` index pairs into ``y``, half of the same class and half of different classes,
    and their labels (1 same, 0 different)."""
    first = rng.integers(0, len(y), n)
    same = np.arange(n) % 2 == 0
    second = np.array([
        rng.choice(np.flatnonzero((y == y[f]) & (np.arange(len(y)) != f)) if s
                   else np.flatnonzero(y != y[f]))
        for f, s in zip(first, same)
    ])  # fmt: skip
    return first, second, same.astype(np.int64)


def verification_auc(z: np.ndarray, pairs: tuple[np.ndarray, ...]) -> float:
    """ROC AUC of "same class" scored by minus the Euclidean distance of each pair."""
    first, second, same = pairs
    return float(roc_auc_score(same, -np.linalg.norm(z[first] - z[second], axis=1)))


def draw_episodes(
    rng: np.random.Generator, y: np.ndarray, shots: int, episodes: int
) -> list[np.ndarray]:
    """``episodes`` support sets: ``shots`` random images of every class, class by class."""
    classes = np.unique(y)
    return [
        np.stack([rng.choice(np.flatnonzero(y == c), shots, replace=False) for c in classes])
        for _ in range(episodes)
    ]


def prototype_accuracy(z: np.ndarray, y: np.ndarray, supports: list[np.ndarray]) -> float:
    """Accuracy of nearest-prototype classification: each class's prototype is the mean of
    its support embeddings; every image outside the support is a query."""
    classes = np.unique(y)
    correct = total = 0
    for support in supports:  # (classes, shots)
        prototypes = z[support].mean(axis=1)
        query = np.setdiff1d(np.arange(len(y)), support.ravel())
        d = np.linalg.norm(z[query, None, :] - prototypes[None], axis=2)
        correct += int((classes[d.argmin(axis=1)] == y[query]).sum())
        total += len(query)
    return correct / total


@experiment(
    "metric-learning-digits",
    answers=["siamese-networks"],
    quick=dict(steps=250, per_class=8, dim=32, n_seeds=3, eval_pairs=1500, episodes=20),
    full=dict(steps=1500, per_class=10, dim=32, n_seeds=5, eval_pairs=6000, episodes=100),
)
def metric_learning_digits(
    run: Run, steps: int, per_class: int, dim: int, n_seeds: int, eval_pairs: int,
    episodes: int,
) -> None:  # fmt: skip
    """Does metric learning (contrastive or triplet loss) give embeddings for classes never
    seen in training, and better than a classifier's features?"""
    x, y = digits()
    train = np.isin(y, TRAIN_CLASSES)
    x_train, y_train, x_new, y_new = x[train], y[train], x[~train], y[~train]
    pairs = balanced_pairs(run.rng(1), y_new, eval_pairs)

    auc = {arm: [] for arm in ARMS}
    shot = {(arm, k): [] for arm in ARMS for k in SHOTS}
    for seed in run.seeds(n_seeds):
        batches = pk_batches(np.random.default_rng(seed), y_train, steps, per_class)
        episodes_rng = np.random.default_rng(seed + 1)
        supports = {k: draw_episodes(episodes_rng, y_new, k, episodes) for k in SHOTS}
        for arm in ARMS:
            net = None if arm == "pixels" else train_arm(arm, x_train, y_train, batches, dim, seed)
            z = embed(net, x_new)
            auc[arm].append(verification_auc(z, pairs))
            for k in SHOTS:
                shot[arm, k].append(prototype_accuracy(z, y_new, supports[k]))

    rows = []
    for arm in ARMS:
        key = arm.replace(" ", "_").replace("-", "_")
        cells = [arm]
        for name, values in (("auc", auc[arm]), *((f"{k}shot", shot[arm, k]) for k in SHOTS)):
            mean, std = float(np.mean(values)), float(np.std(values))
            run.number(f"{key}_{name}_mean", round(mean, 4))
            run.number(f"{key}_{name}_std", round(std, 4))
            cells += [round(mean, 4), round(std, 4)]
        rows.append(cells)
    run.table(
        f"Digits 6-9, never seen in training: pair verification ({eval_pairs} pairs) and 4-way "
        f"nearest-prototype accuracy ({episodes} episodes), mean and std over {n_seeds} seeds",
        ("representation", "pair AUC", "± std", "1-shot acc", "± std", "5-shot acc", "± std"),
        rows,
    )
    _plot(run, auc, shot)

    m_auc = {arm: float(np.mean(v)) for arm, v in auc.items()}
    m_shot = {key: float(np.mean(v)) for key, v in shot.items()}
    learned = ARMS[:3]
    run.claim(
        "Every metric-learning embedding separates same-digit from different-digit pairs of "
        "the unseen digits better than raw pixels: pair AUC at least 0.02 higher (mean over "
        "seeds)",
        all(m_auc[a] >= m_auc["pixels"] + 0.02 for a in learned),
        ", ".join(f"{a} {m_auc[a]:.3f}" for a in ARMS),
        quick=False,
    )
    run.claim(
        "Batch-hard mining helps: the batch-hard triplet embedding is more accurate at 1-shot "
        "classification of the unseen digits than random triplets, by at least 0.01 (mean)",
        m_shot["triplet batch-hard", 1] >= m_shot["triplet", 1] + 0.01,
        f"batch-hard {m_shot['triplet batch-hard', 1]:.3f}, random {m_shot['triplet', 1]:.3f}",
        quick=False,
    )
    best = max(learned, key=lambda a: m_shot[a, 1])
    run.claim(
        "An embedding trained for distances transfers to new classes better than a classifier's "
        "penultimate features: the best metric-learning loss beats them at 1-shot accuracy "
        "(mean)",
        m_shot[best, 1] > m_shot["classifier features", 1],
        f"best ({best}) {m_shot[best, 1]:.3f}, classifier features "
        f"{m_shot['classifier features', 1]:.3f}",
        quick=False,
    )
    run.claim(
        "Five examples per class beat one: the 5-shot prototype is more accurate than the "
        "1-shot one for every representation and seed",
        all(b > a for arm in ARMS for a, b in zip(shot[arm, 1], shot[arm, 5])),
        ", ".join(f"{a} {m_shot[a, 1]:.3f}→{m_shot[a, 5]:.3f}" for a in ARMS),
    )
    ranked = sorted(ARMS, key=lambda a: -m_shot[a, 1])
    run.answer(
        "A Siamese network embeds both inputs of a pair with the same weights, so comparing "
        "two images becomes a distance between two embeddings; trained with a contrastive "
        "loss (pairs) or a triplet loss (anchor, positive, negative) it learns what makes "
        "two inputs alike rather than a fixed set of classes, which is what verification and "
        "few-shot recognition need. Trained on the digits 0-5 only and tested on 6-9, the "
        "pair AUCs were "
        + ", ".join(f"{a} {m_auc[a]:.3f}" for a in ARMS)
        + "; 4-way 1-shot nearest-prototype accuracies ranked "
        + ", ".join(f"{a} {m_shot[a, 1]:.3f}" for a in ranked)
        + f" (chance {1 / len(HELD_OUT):.2f}); with 5 shots, "
        + ", ".join(f"{a} {m_shot[a, 5]:.3f}" for a in ARMS)
        + f" (means over {n_seeds} seeds). Batch-hard mining (the farthest positive and "
        f"nearest negative of each anchor in a P×K batch) against random triplets: "
        f"{m_shot['triplet batch-hard', 1]:.3f} against {m_shot['triplet', 1]:.3f} at 1 shot. "
        + (
            f"Here the learned embeddings did not beat raw pixels on the new digits, a sign "
            f"that an embedding trained on only {len(TRAIN_CLASSES)} classes keeps what tells "
            "those apart and drops what new classes need; face verification, which must work "
            "on people never seen, trains on pairs from thousands of people."
            if m_shot[best, 1] <= m_shot["pixels", 1]
            else f"The best learned embedding beat raw pixels at 1 shot ({m_shot[best, 1]:.3f} "
            f"against {m_shot['pixels', 1]:.3f}): what it learned on {len(TRAIN_CLASSES)} "
            "classes carried over to new ones."
        )
    )


def _plot(run: Run, auc: dict[str, list[float]], shot: dict[tuple[str, int], list[float]]) -> None:
    """Pair AUC and k-shot accuracy on the unseen digits, one dot per seed and arm."""
    fig = run.figure(
        "metric_learning",
        "Digits 6-9, never seen in training. Left: pair ROC AUC of the embedding distance. "
        "Right: 4-way nearest-prototype accuracy with 1 and 5 support images per class. One "
        "dot per seed.",
        width=10.0,
        height=3.8,
    )
    ax_auc, ax_shot = fig.subplots(1, 2)
    for i, arm in enumerate(ARMS):
        ax_auc.scatter([i] * len(auc[arm]), auc[arm], color=f"C{i}")
        for j, k in enumerate(SHOTS):
            values = shot[arm, k]
            ax_shot.scatter([i + 0.2 * (2 * j - 1)] * len(values), values, color=f"C{i}",
                            marker="o" if k == 1 else "^",
                            label=f"{k}-shot" if i == 0 else None)  # fmt: skip
    for ax in (ax_auc, ax_shot):
        ax.set_xticks(range(len(ARMS)), [a.replace(" ", "\n") for a in ARMS], fontsize=7)
    ax_auc.set_ylabel("pair ROC AUC")
    ax_shot.set_ylabel("4-way accuracy")
    ax_shot.axhline(1 / len(HELD_OUT), color="grey", linestyle=":", label="chance")
    ax_shot.legend(fontsize=8)
