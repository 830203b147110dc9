"""Medical image analysis: lesion segmentation and detection under small data, class
imbalance and the need to know when the model is unsure.

The images come from :func:`nnlab.data.datasets.lesions.make_lesions`: bright elliptical
lesions of log-uniform contrast (some barely above the texture) on fractal tissue texture
with intensity drift, blur and noise; lesions are a few percent of the pixels and some
images have none. Two tasks:

* **segmentation**: a U-Net trained on 32 to 128 images with plain cross-entropy, class-
  weighted cross-entropy (weights inversely proportional to the pixel frequencies) or the
  soft Dice loss; Dice and IoU per test case, pixel calibration, and whether a per-case
  uncertainty picks out the cases segmented worst;
* **classification** (is there a lesion?): a small CNN with dropout, predicted by Monte
  Carlo dropout; ROC-AUC, calibration, and whether its uncertainty flags its mistakes.

Within a seed all arms see the same images and batches and start from the same weights.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

import nnlab
from experiments.lab.core import Run, experiment
from nnlab import metrics, nn
from nnlab.data.datasets.lesions import make_lesions
from nnlab.models.unet import UNet
from nnlab.nn import functional as F
from nnlab.ops.segmentation_loss import dice_loss
from nnlab.uncertainty import mc_dropout_predict, predictive_entropy

LOSSES = ("cross-entropy", "weighted CE", "Dice")
FAINT, BRIGHT = 0.08, 0.2  # contrast below the texture's spread (0.08) / well above it


def train_unet(
    loss_name: str, images: np.ndarray, masks: np.ndarray, order: np.ndarray, width: int
) -> nn.Module:
    """A depth-2 U-Net trained by Adam (lr 3e-3) on the batches whose indices are the rows
    of ``order``, with the named loss; returned in evaluation mode."""
    net = UNet(1, 2, depth=2, base_width=width)
    opt = nnlab.optim.Adam(net.parameters(), lr=3e-3)
    x, y = nnlab.tensor(images), nnlab.tensor(masks)
    # sklearn's "balanced" weights: each class's pixels weigh in total the same
    counts = np.bincount(masks.ravel(), minlength=2)
    weight = nnlab.tensor((counts.sum() / (2 * counts)).astype(np.float32))
    for rows in order:
        idx = nnlab.tensor(rows)
        logits, target = net(x[idx]), y[idx]
        if loss_name == "Dice":
            loss = dice_loss(logits, target)
        elif loss_name == "weighted CE":
            loss = F.cross_entropy(logits, target, weight=weight)
        else:
            loss = F.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def lesion_probability(net: nn.Module, images: np.ndarray) -> np.ndarray:
    """(N, H, W) probability of the lesion class at each pixel."""
    with nnlab.no_grad():
        return F.softmax(net(nnlab.tensor(images)), dim=1).numpy()[:, 1].astype(np.float64)


def per_case(masks: np.ndarray, prob: np.ndarray) -> dict[str, np.ndarray]:
    """Per test image: lesion-class Dice and IoU of the 0.5-thresholded prediction (nan on
    images without a lesion), predicted and true lesion area, and the uncertainty
    u = Σ H(p) / (Σ p + 1): the pixel entropy per expected lesion pixel."""
    pred = (prob >= 0.5).astype(np.int64)
    dice, iou = [], []
    for truth, guess in zip(masks, pred):
        has_lesion = truth.any()
        dice.append(metrics.dice_per_class(truth, guess, 2)[1] if has_lesion else np.nan)
        iou.append(metrics.iou_per_class(truth, guess, 2)[1] if has_lesion else np.nan)
    p = np.clip(prob, 1e-12, 1 - 1e-12)
    entropy = -(p * np.log(p) + (1 - p) * np.log(1 - p))
    return {
        "dice": np.array(dice),
        "iou": np.array(iou),
        "area": pred.sum(axis=(1, 2)).astype(np.float64),
        "true_area": masks.sum(axis=(1, 2)).astype(np.float64),
        "uncertainty": entropy.sum(axis=(1, 2)) / (prob.sum(axis=(1, 2)) + 1),
    }


def pixel_ece(masks: np.ndarray, prob: np.ndarray) -> float:
    p = prob.ravel()
    return metrics.expected_calibration_error(np.column_stack([1 - p, p]), masks.ravel())


def classifier() -> nn.Sequential:
    """A small CNN for "lesion present?": three conv blocks, a global max pool (a lesion
    anywhere counts), channel dropout and dropout for Monte Carlo sampling."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout2d(0.1),
        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
        nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(32, 2),
    )  # fmt: skip


def train_classifier(images: np.ndarray, labels: np.ndarray, order: np.ndarray) -> nn.Module:
    net = classifier()
    opt = nnlab.optim.Adam(net.parameters(), lr=3e-3)
    x, y = nnlab.tensor(images), nnlab.tensor(labels)
    for rows in order:
        idx = nnlab.tensor(rows)
        loss = F.cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def segmentation_arms(run, seed, sizes, steps, batch, width, test) -> dict:
    """Every (training size, loss) U-Net of one seed: per-case scores and pixel ECE."""
    rng = np.random.default_rng(seed)
    pool = make_lesions(max(sizes), seed=seed)
    out = {}
    for n_train in sizes:
        order = rng.integers(0, n_train, size=(steps, batch))  # shared by the three losses
        for loss_name in LOSSES:
            nnlab.manual_seed(seed)  # the same initial weights for every loss
            net = train_unet(loss_name, pool.images[:n_train], pool.masks[:n_train], order, width)
            prob = lesion_probability(net, test.images)
            out[n_train, loss_name] = per_case(test.masks, prob) | {
                "ece": pixel_ece(test.masks, prob)
            }
    return out


def classification_arm(seed, n_train, steps, batch, test, mc_samples) -> dict:
    """The MC-dropout classifier of one seed: test probabilities (MC mean and a single
    deterministic pass) and the per-image predictive entropy."""
    train = make_lesions(n_train, seed=10_000 + seed)
    # the CNN has no batch norm (the U-Net's does this itself): standardise its input with
    # the training images' statistics, or it stays at "always lesion"
    mean, std = train.images.mean(), train.images.std()
    x_train, x_test = (train.images - mean) / std, (test.images - mean) / std
    order = np.random.default_rng(seed).integers(0, n_train, size=(steps, batch))
    nnlab.manual_seed(seed)
    net = train_classifier(x_train, train.labels, order)
    with nnlab.no_grad():
        single = F.softmax(net(nnlab.tensor(x_test)), dim=1).numpy()
    mc = mc_dropout_predict(net, x_test, n_samples=mc_samples)
    return {"mc": mc.mean, "single": single, "entropy": predictive_entropy(mc.mean)}


@experiment(
    "lesion-segmentation",
    answers=["medical-imaging"],
    quick=dict(
        sizes=(16, 32), steps=30, batch=8, width=4, n_test=48, cls_train=64, cls_steps=40,
        mc_samples=5, n_seeds=1,
    ),
    full=dict(
        sizes=(32, 64, 128), steps=200, batch=16, width=4, n_test=128, cls_train=256,
        cls_steps=300, mc_samples=20, n_seeds=2,
    ),
)  # fmt: skip
def lesion_segmentation(
    run: Run,
    sizes: tuple[int, ...],
    steps: int,
    batch: int,
    width: int,
    n_test: int,
    cls_train: int,
    cls_steps: int,
    mc_samples: int,
    n_seeds: int,
) -> None:
    """How well does a U-Net segment faint lesions from 32-128 training images, which loss
    copes with the imbalance, and does the model know when it is wrong?"""
    seg_test = make_lesions(n_test, seed=99_999)
    cls_test = make_lesions(4 * n_test, seed=99_998)
    seg, cls = [], []
    for seed in run.seeds(n_seeds):
        seg.append(segmentation_arms(run, seed, sizes, steps, batch, width, seg_test))
        cls.append(classification_arm(seed, cls_train, cls_steps, batch, cls_test, mc_samples))

    lesion = seg_test.labels == 1

    def seg_mean(n_train: int, loss_name: str, key: str) -> float:
        """Mean over seeds of: the pixel ECE, the predicted over the true lesion area of
        the lesion images ('area_ratio'), or a per-case score averaged over the cases
        (nan, the lesion-free images for Dice and IoU, left out)."""
        arms = [s[n_train, loss_name] for s in seg]
        if key == "ece":
            return float(np.mean([a["ece"] for a in arms]))
        if key == "area_ratio":
            ratios = [a["area"][lesion].sum() / a["true_area"][lesion].sum() for a in arms]
            return float(np.mean(ratios))
        return float(np.mean([np.nanmean(a[key]) for a in arms]))

    rows = []
    for n_train in sizes:
        for loss_name in LOSSES:
            dice_seeds = [np.nanmean(s[n_train, loss_name]["dice"]) for s in seg]
            empty_fp = np.mean([s[n_train, loss_name]["area"][~lesion].mean() for s in seg])
            rows.append((
                n_train, loss_name, round(seg_mean(n_train, loss_name, "dice"), 3),
                round(float(np.std(dice_seeds)), 3), round(seg_mean(n_train, loss_name, "iou"), 3),
                round(seg_mean(n_train, loss_name, "area_ratio"), 2), round(float(empty_fp), 1),
                round(seg_mean(n_train, loss_name, "ece"), 4),
            ))  # fmt: skip
            slug = f"n{n_train}_{loss_name.replace(' ', '_').replace('-', '_')}"
            run.number(f"dice_{slug}", round(seg_mean(n_train, loss_name, "dice"), 4))
    run.table(
        f"Segmentation of {int(lesion.sum())} lesion test images ({n_test - int(lesion.sum())} "
        f"without lesion), mean over {n_seeds} seeds",
        ("train images", "loss", "Dice", "Dice std (seeds)", "IoU", "predicted/true area",
         "false lesion pixels per empty image", "pixel ECE"),
        rows,
    )  # fmt: skip

    # uncertainty vs error: plain cross-entropy (its probabilities are the least distorted)
    largest = max(sizes)
    dice = np.concatenate([s[largest, "cross-entropy"]["dice"][lesion] for s in seg])
    u = np.concatenate([s[largest, "cross-entropy"]["uncertainty"][lesion] for s in seg])
    worst = (dice <= np.quantile(dice, 0.25)).astype(np.int64)
    flag_auc = metrics.roc_auc_score(worst, u) if 0 < worst.sum() < len(worst) else float("nan")
    varied = np.ptp(u) > 0 and np.ptp(dice) > 0  # a rank correlation needs two ranks
    rho = float(spearmanr(u, dice).statistic) if varied else float("nan")
    run.number("uncertainty_worst_quarter_auroc", round(flag_auc, 4))
    run.number("uncertainty_dice_spearman", round(rho, 4))

    # classification
    y_cls = cls_test.labels
    faint = (y_cls == 1) & (cls_test.contrast < FAINT)
    bright = cls_test.contrast > BRIGHT
    c_rows, c = [], {}
    for key in ("roc_auc", "ece_mc", "ece_single", "error_auroc", "recall_faint", "recall_bright"):
        c[key] = []
    for r in cls:
        wrong = (r["mc"].argmax(1) != y_cls).astype(np.int64)
        detected = r["mc"].argmax(1) == 1
        c["roc_auc"].append(metrics.roc_auc_score(y_cls, r["mc"][:, 1]))
        c["ece_mc"].append(metrics.expected_calibration_error(r["mc"], y_cls))
        c["ece_single"].append(metrics.expected_calibration_error(r["single"], y_cls))
        both = 0 < wrong.sum() < len(wrong)
        c["error_auroc"].append(metrics.roc_auc_score(wrong, r["entropy"]) if both else np.nan)
        c["recall_faint"].append(float(detected[faint].mean()))
        c["recall_bright"].append(float(detected[bright].mean()))
    for key, values in c.items():
        c_rows.append((key, round(float(np.mean(values)), 4), round(float(np.std(values)), 4)))
        run.number(f"classifier_{key}", round(float(np.mean(values)), 4))
    run.table(
        f"Lesion-present classifier on {len(y_cls)} test images, MC dropout with "
        f"{mc_samples} samples ({n_seeds} seeds); recall on faint (contrast < {FAINT}, "
        f"{int(faint.sum())} images) and bright (> {BRIGHT}, {int(bright.sum())}) lesions",
        ("measure", "mean", "std"),
        c_rows,
    )
    cm = {k: float(np.nanmean(v)) for k, v in c.items()}

    fig = run.figure("dice", "Per-case Dice by training size and loss (seeds pooled)")
    ax = fig.subplots()
    for i, loss_name in enumerate(LOSSES):
        means = [seg_mean(n, loss_name, "dice") for n in sizes]
        ax.plot(sizes, means, "o-", color=f"C{i}", label=loss_name)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("training images")
    ax.set_ylabel("mean Dice on lesion images")
    ax.legend()
    fig = run.figure("uncertainty", "Per-case uncertainty against Dice (cross-entropy U-Net)")
    ax = fig.subplots()
    ax.scatter(u, dice, s=8, c=np.where(worst == 1, "C3", "C0"))
    ax.set_xlabel("uncertainty: pixel entropy per expected lesion pixel")
    ax.set_ylabel("Dice (red: the worst quarter)")

    all_background_accuracy = float((seg_test.masks == 0).mean())
    run.number("all_background_pixel_accuracy", round(all_background_accuracy, 4))
    run.claim(
        "Pixel accuracy flatters: predicting no lesion anywhere is at least 95% pixel-accurate",
        all_background_accuracy >= 0.95,
        f"{all_background_accuracy:.4f}",
    )
    small, big = min(sizes), largest
    growth = {m: seg_mean(big, m, "dice") - seg_mean(small, m, "dice") for m in LOSSES}
    run.claim(
        f"Small data limits segmentation: mean Dice rises by at least 0.05 from {small} to "
        f"{big} training images, for every loss",
        min(growth.values()) >= 0.05,
        "; ".join(f"{m}: {g:+.3f}" for m, g in growth.items()),
        quick=False,
    )
    ratios = {n: seg_mean(n, "cross-entropy", "area_ratio") for n in sizes}
    run.claim(
        "Plain cross-entropy under-segments the rare class: predicted lesion area below the "
        "true area at every training size",
        max(ratios.values()) < 1,
        "; ".join(f"{n}: {r:.2f}" for n, r in ratios.items()),
        quick=False,
    )
    bigger = {
        n: seg_mean(n, "weighted CE", "area_ratio") > seg_mean(n, "cross-entropy", "area_ratio")
        for n in sizes
    }
    run.claim(
        "Class weights enlarge the predicted lesions: weighted CE's predicted area exceeds "
        "plain CE's at every training size",
        all(bigger.values()),
        "; ".join(
            f"{n}: {seg_mean(n, 'weighted CE', 'area_ratio'):.2f} vs {ratios[n]:.2f}" for n in sizes
        ),
        quick=False,
    )
    best_small = max(("weighted CE", "Dice"), key=lambda m: seg_mean(small, m, "dice"))
    run.claim(
        f"With {small} training images an imbalance-aware loss (weighted CE or Dice) beats "
        "plain cross-entropy's mean Dice",
        seg_mean(small, best_small, "dice") > seg_mean(small, "cross-entropy", "dice"),
        f"{best_small} {seg_mean(small, best_small, 'dice'):.3f} vs cross-entropy "
        f"{seg_mean(small, 'cross-entropy', 'dice'):.3f}",
        quick=False,
    )
    ece_plain, ece_weighted = (
        seg_mean(big, "cross-entropy", "ece"),
        seg_mean(big, "weighted CE", "ece"),
    )
    run.claim(
        "Class weights miscalibrate the pixel probabilities: weighted CE's pixel ECE exceeds "
        f"plain cross-entropy's ({big} training images)",
        ece_weighted > ece_plain,
        f"{ece_weighted:.4f} vs {ece_plain:.4f}",
        quick=False,
    )
    run.claim(
        "Per-case uncertainty flags the worst-segmented quarter of the cases with AUROC at "
        "least 0.7",
        flag_auc >= 0.7,
        f"AUROC {flag_auc:.3f}, Spearman(uncertainty, Dice) {rho:.3f}",
        quick=False,
    )
    run.claim(
        "The lesion-present classifier ranks well: MC-dropout ROC-AUC at least 0.8",
        cm["roc_auc"] >= 0.8,
        f"{cm['roc_auc']:.3f}",
        quick=False,
    )
    run.claim(
        "It is calibrated: ECE of the MC-dropout probabilities at most 0.1, and not above the "
        "single deterministic pass's by more than 0.01",
        cm["ece_mc"] <= 0.1 and cm["ece_mc"] <= cm["ece_single"] + 0.01,
        f"MC {cm['ece_mc']:.3f}, single pass {cm['ece_single']:.3f}",
        quick=False,
    )
    run.claim(
        "MC-dropout uncertainty flags the classifier's mistakes: predictive entropy has AUROC "
        "at least 0.7 for telling wrong from right answers",
        cm["error_auroc"] >= 0.7,
        f"{cm['error_auroc']:.3f}",
        quick=False,
    )
    run.claim(
        f"Faint lesions (contrast < {FAINT}) are missed more: their recall is at least 0.2 "
        f"below that of bright ones (> {BRIGHT})",
        cm["recall_bright"] - cm["recall_faint"] >= 0.2,
        f"faint {cm['recall_faint']:.3f}, bright {cm['recall_bright']:.3f}",
        quick=False,
    )
    best_big = max(LOSSES, key=lambda m: seg_mean(big, m, "dice"))
    run.answer(
        "Medical images are segmented and screened by networks such as the U-Net, but the "
        "constraints of the field shape the numbers. Measured on synthetic lesions over "
        f"{n_seeds} seeds: with {small} training images the mean per-case Dice was "
        + ", ".join(f"{seg_mean(small, m, 'dice'):.3f} ({m})" for m in LOSSES)
        + f"; with {big} it was "
        + ", ".join(f"{seg_mean(big, m, 'dice'):.3f} ({m})" for m in LOSSES)
        + f", best {best_big} (IoU {seg_mean(big, best_big, 'iou'):.3f}). Predicting no "
        f"lesion at all is {all_background_accuracy:.1%} pixel-accurate, which is why Dice "
        f"and IoU are the scores. Plain cross-entropy predicted {ratios[big]:.2f} of the "
        f"true lesion area; class weights {seg_mean(big, 'weighted CE', 'area_ratio'):.2f}, "
        f"at a pixel ECE of {ece_weighted:.4f} against {ece_plain:.4f}. The per-case "
        f"uncertainty picked out the worst-segmented quarter with AUROC {flag_auc:.2f} "
        f"(Spearman with Dice {rho:.2f}). The image-level classifier reached ROC-AUC "
        f"{cm['roc_auc']:.3f} with ECE {cm['ece_mc']:.3f} (single pass {cm['ece_single']:.3f}); "
        f"its MC-dropout entropy separated its mistakes with AUROC {cm['error_auroc']:.2f}, "
        f"and it found {cm['recall_faint']:.0%} of the faint lesions against "
        f"{cm['recall_bright']:.0%} of the bright ones."
    )
