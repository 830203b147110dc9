"""Judging a classifier: the confusion matrix, precision/recall/F1, ROC and PR curves.

Every metric is computed with ``nnlab.metrics`` and checked against ``sklearn.metrics`` on
the same predictions. Four experiments: a digit classifier's confusion matrix, accuracy
against F1 on an imbalanced task, the ROC curve and what its area means, and a fraud-like
task with one positive in a hundred, trained with and without class weights.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm
from sklearn.datasets import load_digits, make_classification

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import metrics, nn


def mlp(n_in: int, width: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(n_in, width),
        nn.ReLU(),
        nn.Linear(width, width),
        nn.ReLU(),
        nn.Linear(width, n_out),
    )


def train(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
    class_weight: np.ndarray | None = None,
) -> None:
    """Adam (lr 1e-3) with cross-entropy, optionally weighted per class, on the
    mini-batches whose indices are the rows of ``order``."""
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-3)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    weight = None if class_weight is None else nnlab.tensor(class_weight.astype(np.float32))
    for idx in order:
        batch = nnlab.tensor(idx)
        loss = F.cross_entropy(model(xs[batch]), ys[batch], weight=weight)
        opt.zero_grad()
        loss.backward()
        opt.step()


def probabilities(model: nn.Module, x: np.ndarray) -> np.ndarray:
    """softmax of the model's outputs, one row per example."""
    with nnlab.no_grad():
        return F.softmax(model(nnlab.tensor(x)), dim=1).numpy()


def standardised_halves(
    x: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """A random half for training and the other for testing, z-scored with the training
    half's statistics: (x_train, y_train, x_test, y_test)."""
    perm = rng.permutation(len(x))
    train_idx, test_idx = perm[: len(x) // 2], perm[len(x) // 2 :]
    # Constant pixels in the digits have std 0; the small floor keeps them at 0.
    mean, std = x[train_idx].mean(0), x[train_idx].std(0) + 1e-6
    z = ((x - mean) / std).astype(np.float32)
    return z[train_idx], y[train_idx], z[test_idx], y[test_idx]


@experiment(
    "confusion-matrix",
    answers=["confusion-matrix"],
    quick=dict(width=32, steps=400, n_seeds=2),
    full=dict(width=64, steps=1500, n_seeds=5),
)
def confusion(run: Run, width: int, steps: int, n_seeds: int) -> None:
    """What does a digit classifier's confusion matrix show that its accuracy hides?"""
    digits = load_digits()
    total = np.zeros((10, 10), dtype=np.int64)
    accuracies, mismatches = [], 0
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = standardised_halves(
            digits.data, digits.target.astype(np.int64), rng
        )
        nnlab.manual_seed(seed)
        model = mlp(64, width, 10)
        train(model, x_train, y_train, rng.integers(0, len(x_train), size=(steps, 32)))
        predicted = probabilities(model, x_test).argmax(1)
        matrix = metrics.confusion_matrix(y_test, predicted, num_classes=10)
        mismatches += int(np.sum(matrix != skm.confusion_matrix(y_test, predicted)))
        total += matrix
        accuracies.append(metrics.accuracy(y_test, predicted))

    errors = total - np.diag(np.diag(total))
    recall_per_class = np.diag(total) / total.sum(1)
    precision_per_class = np.diag(total) / total.sum(0)
    worst = np.unravel_index(np.argmax(errors), errors.shape)
    top5 = np.sort(errors.ravel())[::-1][:5].sum() / max(errors.sum(), 1)
    run.number("mean_accuracy", round(float(np.mean(accuracies)), 4))
    run.number("std_accuracy", round(float(np.std(accuracies)), 4))
    run.number("cells_differing_from_sklearn", mismatches)
    run.number("most_confused_true", int(worst[0]))
    run.number("most_confused_predicted", int(worst[1]))
    run.number("top5_cells_share_of_errors", round(float(top5), 4))
    run.table(
        f"Confusion matrix summed over {n_seeds} seeds (rows: true digit, columns: predicted)",
        ("true", *(str(d) for d in range(10))),
        [(str(d), *total[d].tolist()) for d in range(10)],
    )
    run.table(
        "Per-digit recall (row-wise) and precision (column-wise), all seeds",
        ("digit", "recall", "precision", "errors as true class"),
        [
            (
                d,
                round(float(recall_per_class[d]), 4),
                round(float(precision_per_class[d]), 4),
                int(errors[d].sum()),
            )
            for d in range(10)
        ],
    )

    fig = run.figure("confusion", "Confusion matrix, rows normalised to the true class, all seeds")
    ax = fig.subplots()
    shown = total / total.sum(1, keepdims=True)
    image = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1)
    for i in range(10):
        for j in range(10):
            if total[i, j]:
                ax.text(
                    j,
                    i,
                    str(total[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if shown[i, j] > 0.5 else "black",
                )
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    fig.colorbar(image, ax=ax, label="fraction of the true class")

    run.claim(
        "nnlab's confusion matrix equals scikit-learn's on every seed",
        mismatches == 0,
        f"{mismatches} differing cells",
    )
    trace_acc = np.trace(total) / total.sum()
    pooled_acc = float(np.mean(accuracies))
    run.claim(
        "The diagonal's share of the matrix is the accuracy (equal seed sizes: within 1e-9 of "
        "the mean accuracy)",
        abs(trace_acc - pooled_acc) < 1e-9,
        f"trace share {trace_acc:.6f}, mean accuracy {pooled_acc:.6f}",
    )
    run.claim(
        "Errors are not spread evenly: the five largest off-diagonal cells (of 90) hold at "
        "least 30% of all errors",
        top5 >= 0.30,
        f"share {top5:.3f}",
        quick=False,
    )
    run.answer(
        f"A small MLP classified held-out 8x8 digits with mean accuracy {pooled_acc:.1%} "
        f"(std {np.std(accuracies):.1%}, {n_seeds} seeds). The confusion matrix counts, for "
        "every true class (row), how often each class was predicted (column): the diagonal "
        "is what was right, and its share is the accuracy. Off the diagonal, the single "
        f"largest cell was true {worst[0]} read as {worst[1]} ({errors[worst]} of "
        f"{errors.sum()} errors) and the five largest cells held {top5:.0%} of the errors. "
        f"Per-class recall ranged from {recall_per_class.min():.1%} (digit "
        f"{recall_per_class.argmin()}) to {recall_per_class.max():.1%}, which the single "
        "accuracy number hides."
    )


def imbalanced_task(
    rng: np.random.Generator, n: int, positive_rate: float, class_sep: float
) -> tuple[np.ndarray, ...]:
    """A binary task with 20 features (6 informative) and the given share of positives,
    split and standardised (x_train, y_train, x_test, y_test)."""
    x, y = make_classification(
        n_samples=n,
        n_features=20,
        n_informative=6,
        n_redundant=2,
        weights=[1 - positive_rate, positive_rate],
        class_sep=class_sep,
        flip_y=0.0,
        random_state=int(rng.integers(2**31)),
    )
    return standardised_halves(x, y.astype(np.int64), rng)


def binary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy, precision, recall and F1 of the positive class from nnlab.metrics (an
    undefined precision, with no positive prediction, counts as 0)."""
    p, r, f1, _ = metrics.precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )
    return {
        "accuracy": metrics.accuracy(y_true, y_pred),
        "precision": float(p),
        "recall": float(r),
        "f1": float(f1),
    }


def sklearn_binary_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """The same four numbers from scikit-learn, to cross-check nnlab's."""
    return {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(y_true, y_pred, zero_division=0),
        "recall": skm.recall_score(y_true, y_pred, zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, zero_division=0),
    }


@experiment(
    "accuracy-vs-f1",
    answers=["precision-recall-f1"],
    quick=dict(n=4000, width=32, steps=800, n_seeds=3),
    full=dict(n=20000, width=64, steps=2000, n_seeds=5),
)
def accuracy_vs_f1(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """On a task with 5% positives, what do accuracy and F1 say about a useless and a
    trained classifier?"""
    rate = 0.05
    arms = ["majority class", "random at base rate", "trained MLP"]
    scores = {arm: [] for arm in arms}
    largest_gap = 0.0
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = imbalanced_task(rng, n, rate, class_sep=1.0)
        nnlab.manual_seed(seed)
        model = mlp(20, width, 2)
        train(model, x_train, y_train, rng.integers(0, len(x_train), size=(steps, 64)))
        predictions = {
            "majority class": np.zeros_like(y_test),
            "random at base rate": (rng.random(len(y_test)) < rate).astype(np.int64),
            "trained MLP": probabilities(model, x_test).argmax(1),
        }
        for arm, y_pred in predictions.items():
            ours, theirs = binary_scores(y_test, y_pred), sklearn_binary_scores(y_test, y_pred)
            largest_gap = max(largest_gap, *(abs(ours[k] - theirs[k]) for k in ours))
            scores[arm].append(ours)

    mean = {
        arm: {k: float(np.mean([s[k] for s in scores[arm]])) for k in scores[arm][0]}
        for arm in arms
    }
    rows = []
    for arm in arms:
        for k in ("accuracy", "precision", "recall", "f1"):
            values = [s[k] for s in scores[arm]]
            rows.append(
                (
                    arm,
                    k,
                    round(float(np.mean(values)), 4),
                    round(float(np.min(values)), 4),
                    round(float(np.max(values)), 4),
                )
            )
            run.number(f"{arm.split()[0]}_{k}", round(mean[arm][k], 4))
    run.number("largest_difference_from_sklearn", largest_gap)
    run.table(
        f"Test scores of the positive class, {rate:.0%} positives ({n_seeds} seeds)",
        ("classifier", "metric", "mean", "min", "max"),
        rows,
    )

    fig = run.figure("accuracy-f1", "Accuracy and F1 of three classifiers; dots are seeds")
    ax = fig.subplots()
    for j, k in enumerate(("accuracy", "f1")):
        for i, arm in enumerate(arms):
            values = [s[k] for s in scores[arm]]
            ax.scatter(
                [i + 0.15 * (2 * j - 1)] * len(values),
                values,
                color=f"C{j}",
                label=k if i == 0 else None,
            )
    ax.set_xticks(range(len(arms)), arms)
    ax.set_ylabel("score on the test half")
    ax.set_ylim(-0.05, 1.05)
    ax.legend()

    majority, trained = mean["majority class"], mean["trained MLP"]
    run.claim(
        "nnlab's accuracy, precision, recall and F1 agree with scikit-learn's within 1e-9",
        largest_gap < 1e-9,
        f"largest difference {largest_gap:.1e}",
    )
    run.claim(
        "Always predicting the majority class scores at least 90% accuracy and F1 exactly 0",
        min(s["accuracy"] for s in scores["majority class"]) >= 0.9
        and max(s["f1"] for s in scores["majority class"]) == 0.0,
        f"accuracy {majority['accuracy']:.3f}, F1 {majority['f1']:.3f}",
    )
    acc_gap = trained["accuracy"] - majority["accuracy"]
    f1_gap = trained["f1"] - majority["f1"]
    run.claim(
        "F1 separates the trained and the majority classifier at least 5 times more than "
        "accuracy does",
        f1_gap >= 5 * acc_gap,
        f"F1 gap {f1_gap:.3f}, accuracy gap {acc_gap:.3f}",
    )
    run.answer(
        "Precision is the share of predicted positives that are positive, recall the share "
        "of positives that are found, and F1 their harmonic mean. On a test set with "
        f"{rate:.0%} positives, always answering 'negative' scored {majority['accuracy']:.1%} "
        f"accuracy and F1 {majority['f1']:.2f}; guessing positive at the base rate scored "
        f"{mean['random at base rate']['accuracy']:.1%} accuracy and F1 "
        f"{mean['random at base rate']['f1']:.2f}; a trained MLP scored "
        f"{trained['accuracy']:.1%} accuracy and F1 {trained['f1']:.2f} (precision "
        f"{trained['precision']:.2f}, recall {trained['recall']:.2f}; means over {n_seeds} "
        f"seeds). Accuracy moved by {acc_gap:.3f} between the useless and the trained "
        f"classifier, F1 by {f1_gap:.3f}: when one class is rare, accuracy is dominated by "
        "the common one and F1, which ignores true negatives, is the more telling number."
    )


def pair_ranking_fraction(y_true: np.ndarray, score: np.ndarray) -> float:
    """The share of (positive, negative) pairs in which the positive scores higher, ties
    counting one half: the Mann-Whitney statistic, computed by brute force."""
    pos, neg = score[y_true == 1], score[y_true == 0]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(wins / (len(pos) * len(neg)))


def log_odds(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) in float64, with p kept inside (0, 1) so that saturated
    probabilities stay finite (and tied, as they were)."""
    p = np.clip(p.astype(np.float64), 1e-300, np.nextafter(1.0, 0.0))
    return np.log(p) - np.log1p(-p)


@experiment(
    "roc-auc",
    answers=["roc-auc"],
    quick=dict(n=2000, width=32, steps=400, n_seeds=3),
    full=dict(n=6000, width=64, steps=2000, n_seeds=5),
)
def roc_auc(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """What does the area under a classifier's ROC curve measure?"""
    stages = {"untrained": 0, "early": steps // 20, "trained": steps}
    auc = {stage: [] for stage in stages}
    checks = {"sklearn": 0.0, "pairs": 0.0, "monotone": 0.0, "trapezoid": 0.0}
    curves = {}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = imbalanced_task(rng, n, 0.3, class_sep=0.8)
        order = rng.integers(0, len(x_train), size=(steps, 64))
        nnlab.manual_seed(seed)
        model = mlp(20, width, 2)
        done = 0
        for stage, step in stages.items():
            train(model, x_train, y_train, order[done:step])
            done = step
            score = probabilities(model, x_test)[:, 1]
            area = float(metrics.roc_auc_score(y_test, score))
            auc[stage].append(area)
            fpr, tpr, _ = metrics.roc_curve(y_test, score)
            logit = log_odds(score)
            checks["sklearn"] = max(checks["sklearn"], abs(area - skm.roc_auc_score(y_test, score)))
            checks["pairs"] = max(checks["pairs"], abs(area - pair_ranking_fraction(y_test, score)))
            checks["monotone"] = max(
                checks["monotone"], abs(area - metrics.roc_auc_score(y_test, logit))
            )
            checks["trapezoid"] = max(checks["trapezoid"], abs(area - metrics.auc(fpr, tpr)))
            if seed == run.seeds(1)[0]:
                curves[stage] = (fpr, tpr, area)
    random_auc = [
        float(metrics.roc_auc_score(y_test, run.rng(1 + i).random(len(y_test))))
        for i in range(n_seeds)
    ]
    for name, value in checks.items():
        run.number(f"largest_difference_{name}", value)
    for stage in stages:
        run.number(f"{stage}_auc_mean", round(float(np.mean(auc[stage])), 4))
    run.number("random_scores_auc_mean", round(float(np.mean(random_auc)), 4))
    run.table(
        f"Test ROC AUC at three points of training ({n_seeds} seeds, 30% positives)",
        ("stage", "steps", "mean", "min", "max"),
        [
            (s, stages[s], *(round(float(f(auc[s])), 4) for f in (np.mean, np.min, np.max)))
            for s in stages
        ]
        + [
            (
                "random scores",
                0,
                *(round(float(f(random_auc)), 4) for f in (np.mean, np.min, np.max)),
            )
        ],
    )
    run.table(
        "Largest difference between nnlab's roc_auc_score and other ways to compute it",
        ("compared with", "largest |difference|"),
        [
            ("sklearn.metrics.roc_auc_score", checks["sklearn"]),
            ("share of positive-negative pairs ranked right", checks["pairs"]),
            ("AUC of the logit instead of the probability", checks["monotone"]),
            ("trapezoid area under nnlab's roc_curve", checks["trapezoid"]),
        ],
    )

    fig = run.figure("roc", "ROC curves of one seed at three points of training")
    ax = fig.subplots()
    for i, (stage, (fpr, tpr, area)) in enumerate(curves.items()):
        ax.plot(fpr, tpr, color=f"C{i}", label=f"{stage} (AUC {area:.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="chance")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.legend()

    run.claim(
        "nnlab's AUC equals scikit-learn's within 1e-9",
        checks["sklearn"] < 1e-9,
        f"largest difference {checks['sklearn']:.1e}",
    )
    run.claim(
        "The AUC is the probability that a random positive outscores a random negative: "
        "equal to the pair count within 1e-9",
        checks["pairs"] < 1e-9,
        f"largest difference {checks['pairs']:.1e}",
    )
    run.claim(
        "The AUC depends only on the ranking: the logit of the score gives the same AUC "
        "within 1e-9",
        checks["monotone"] < 1e-9,
        f"largest difference {checks['monotone']:.1e}",
    )
    run.claim(
        "Random scores give an AUC within 0.05 of 0.5 in every seed",
        max(abs(a - 0.5) for a in random_auc) <= 0.05,
        f"random-score AUCs {', '.join(f'{a:.3f}' for a in random_auc)}",
    )
    run.claim(
        "Training lifts the AUC above 0.85 in every seed",
        min(auc["trained"]) >= 0.85,
        f"smallest trained AUC {min(auc['trained']):.3f}",
        quick=False,
    )
    run.answer(
        "The ROC curve plots the true positive rate against the false positive rate as the "
        "decision threshold sweeps from high to low; its area is the probability that a "
        "randomly drawn positive gets a higher score than a randomly drawn negative. "
        f"Measured: nnlab's AUC and the brute-force share of correctly ranked pairs differed "
        f"by at most {checks['pairs']:.1e}, and replacing the probability by its logit moved "
        f"the AUC by at most {checks['monotone']:.1e}, because only the ranking counts. The "
        f"test AUC rose from {np.mean(auc['untrained']):.3f} untrained to "
        f"{np.mean(auc['early']):.3f} after {stages['early']} steps and "
        f"{np.mean(auc['trained']):.3f} after {steps} (means over {n_seeds} seeds); random "
        f"scores gave {np.mean(random_auc):.3f}. The AUC judges the ranking over every "
        "threshold at once, not the decisions at any one threshold."
    )


@experiment(
    "fraud-detection",
    answers=["finance"],
    quick=dict(n=20000, width=32, steps=600, n_seeds=2),
    full=dict(n=60000, width=64, steps=3000, n_seeds=5),
)
def fraud_detection(run: Run, n: int, width: int, steps: int, n_seeds: int) -> None:
    """How well does a network flag fraud that is 1% of transactions, with and without
    class weights?"""
    rate = 0.01
    arms = ["unweighted", "class-weighted"]
    scores = {arm: [] for arm in arms}
    pr_curves = {}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x_train, y_train, x_test, y_test = imbalanced_task(rng, n, rate, class_sep=1.0)
        # Weights inversely proportional to class frequency: both classes weigh the same.
        counts = np.bincount(y_train, minlength=2)
        weights = {"unweighted": None, "class-weighted": counts.sum() / (2 * counts)}
        order = rng.integers(0, len(x_train), size=(steps, 256))
        for arm in arms:
            nnlab.manual_seed(seed)  # both arms start from the same weights
            model = mlp(20, width, 2)
            train(model, x_train, y_train, order, class_weight=weights[arm])
            prob = probabilities(model, x_test)[:, 1]
            s = binary_scores(y_test, (prob >= 0.5).astype(np.int64))
            s["roc_auc"] = float(metrics.roc_auc_score(y_test, prob))
            s["pr_auc"] = float(metrics.average_precision_score(y_test, prob))
            s["pr_auc_sklearn_gap"] = abs(s["pr_auc"] - skm.average_precision_score(y_test, prob))
            scores[arm].append(s)
            if seed == run.seeds(1)[0]:
                pr_curves[arm] = metrics.precision_recall_curve(y_test, prob)[:2]
    positives_in_test = int(y_test.sum())

    keys = ("accuracy", "precision", "recall", "f1", "roc_auc", "pr_auc")
    mean = {arm: {k: float(np.mean([s[k] for s in scores[arm]])) for k in keys} for arm in arms}
    rows = []
    for arm in arms:
        for k in keys:
            values = [s[k] for s in scores[arm]]
            rows.append((arm, k, round(float(np.mean(values)), 4), round(float(np.std(values)), 4)))
            run.number(f"{arm.replace('-', '_')}_{k}", round(mean[arm][k], 4))
    run.table(
        f"Test scores, {rate:.0%} positives, threshold 0.5 for the decisions ({n_seeds} seeds)",
        ("training", "metric", "mean", "std"),
        rows,
    )
    sk_gap = max(s["pr_auc_sklearn_gap"] for arm in arms for s in scores[arm])
    run.number("largest_pr_auc_difference_from_sklearn", sk_gap)

    fig = run.figure("precision-recall", "Precision-recall curves of one seed; dotted: base rate")
    ax = fig.subplots()
    for i, (arm, (precision, recall)) in enumerate(pr_curves.items()):
        ax.plot(
            recall, precision, color=f"C{i}", label=f"{arm} (PR-AUC {scores[arm][0]['pr_auc']:.3f})"
        )
    ax.axhline(rate, color="grey", linestyle=":", label="a random ranking")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.legend()

    plain, weighted = mean["unweighted"], mean["class-weighted"]
    recall_gain = min(
        w["recall"] - p["recall"] for w, p in zip(scores["class-weighted"], scores["unweighted"])
    )
    run.claim(
        "nnlab's average precision (PR-AUC) equals scikit-learn's within 1e-9",
        sk_gap < 1e-9,
        f"largest difference {sk_gap:.1e}",
    )
    run.claim(
        "Class weights raise the recall at threshold 0.5 by at least 20 points in every seed",
        recall_gain >= 0.20,
        f"smallest per-seed gain {recall_gain:.3f}",
    )
    run.claim(
        "Class weights lower the precision at threshold 0.5 (mean over seeds)",
        weighted["precision"] < plain["precision"],
        f"precision {plain['precision']:.3f} unweighted, {weighted['precision']:.3f} weighted",
        quick=False,  # in a short run the unweighted model flags nothing: precision undefined
    )
    run.claim(
        "With 1% positives the ROC AUC flatters the model: it is at least 0.2 above the "
        "PR-AUC for both trainings",
        all(mean[a]["roc_auc"] - mean[a]["pr_auc"] >= 0.2 for a in arms),
        "; ".join(f"{a}: ROC {mean[a]['roc_auc']:.3f}, PR {mean[a]['pr_auc']:.3f}" for a in arms),
    )
    run.claim(
        "Class weights mostly move the threshold, not the ranking: PR-AUCs within 0.05",
        abs(weighted["pr_auc"] - plain["pr_auc"]) <= 0.05,
        f"PR-AUC {plain['pr_auc']:.3f} unweighted, {weighted['pr_auc']:.3f} weighted",
        quick=False,
    )
    run.answer(
        f"On a synthetic fraud-like set with {rate:.0%} positives ({positives_in_test} in a "
        f"test half of {n // 2}), an MLP trained with plain cross-entropy reached "
        f"{plain['accuracy']:.2%} accuracy but caught {plain['recall']:.1%} of the fraud at "
        f"threshold 0.5 (precision {plain['precision']:.1%}). Weighting each class inversely "
        f"to its frequency caught {weighted['recall']:.1%} at precision "
        f"{weighted['precision']:.1%} (accuracy {weighted['accuracy']:.2%}). Over all "
        f"thresholds, the PR-AUC was {plain['pr_auc']:.3f} unweighted against "
        f"{weighted['pr_auc']:.3f} weighted, while the ROC AUC was "
        f"{plain['roc_auc']:.3f} and {weighted['roc_auc']:.3f}; a random ranking has PR-AUC "
        f"about {rate}. A fraud or credit model is therefore judged by precision and recall "
        "at the operating threshold (what share of alerts is fraud, what share of fraud is "
        f"caught) and by the PR curve, not by accuracy ({n_seeds} seeds)."
    )
