"""Explaining a network's decision: attribution maps and attention maps, and how to tell a
faithful explanation from a picture that merely looks plausible.

* ``digit-attributions``: a small CNN on the 8×8 digits, explained by saliency, gradient ×
  input, SmoothGrad, integrated gradients, occlusion and Grad-CAM. Three measurements:
  integrated gradients' completeness error against the number of steps; the sanity check
  of Adebayo et al. (2018), the rank correlation between the maps of the trained model and
  of the same network with random weights; and deletion curves (Petsiuk et al. 2018), how
  fast the target logit falls when the top-attributed pixels are removed, against a random
  order.
* ``attention-rollout``: a transformer classifier learns whether a sentence contains a
  trigger token; its attention maps and attention rollout (Abnar & Zuidema 2020) are
  checked against the token that decides the label and against leave-one-out occlusion.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.attribution import (
    InputXGradient,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    Occlusion,
    Saliency,
    SmoothGrad,
    attention_maps,
    attention_rollout,
    deletion_curve,
    rank_correlation,
)
from nnlab.models.text_classifiers import TransformerClassifier

METHODS = ("saliency", "grad×input", "SmoothGrad", "IG", "occlusion", "Grad-CAM")
GRADIENT_ONLY = ("saliency", "SmoothGrad", "Grad-CAM")  # no multiplication by the input
IG_STEPS = (2, 4, 8, 16, 32, 64, 128)
IG_RULES = ("riemann_trapezoid", "gausslegendre")


def digit_cnn() -> nn.Sequential:
    """Conv(8) → ReLU → max-pool to 4×4 → Conv(16) → ReLU → linear: about 98% on the digits."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )  # fmt: skip


def train(model: nn.Module, x: np.ndarray, y: np.ndarray, order: np.ndarray, lr: float) -> None:
    """Adam on the cross-entropy, one step per row of ``order`` (mini-batch indices)."""
    opt = nnlab.optim.Adam(model.parameters(), lr=lr)
    xs, ys = nnlab.tensor(x), nnlab.tensor(y)
    for rows in order:
        idx = nnlab.tensor(rows)
        loss = F.cross_entropy(model(xs[idx]), ys[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with nnlab.no_grad():
        return float((model(nnlab.tensor(x)).numpy().argmax(1) == y).mean())


def attributions(model: nn.Sequential, x: np.ndarray, target: np.ndarray) -> dict[str, np.ndarray]:
    """Every method's map of ``x`` (N, 1, 8, 8) for the class ``target``, shaped like x.

    The baseline is the zero image, which for standardised pixels is the average digit;
    Grad-CAM explains the second convolution (4×4) and is upsampled bilinearly to 8×8."""
    grad_cam = LayerGradCam(model, model[3]).attribute(x, target=target, relu_attributions=True)
    return {
        "saliency": Saliency(model).attribute(x, target=target),
        "grad×input": InputXGradient(model).attribute(x, target=target),
        "SmoothGrad": SmoothGrad(model).attribute(x, target=target, nt_samples=16, stdevs=0.5),
        "IG": IntegratedGradients(model).attribute(x, target=target, n_steps=32),
        "occlusion": Occlusion(model).attribute(
            x, (1, 2, 2), target=target, perturbations_per_eval=49
        ),
        "Grad-CAM": LayerAttribution.interpolate(grad_cam, (8, 8), "bilinear"),
    }


def completeness_errors(model: nn.Module, x: np.ndarray, target: np.ndarray) -> dict:
    """Mean |Σ IG − (f(x) − f(0))| / mean |f(x) − f(0)| per quadrature rule and step count."""
    ig = IntegratedGradients(model)
    with nnlab.no_grad():
        gap = model(nnlab.tensor(x)).numpy() - model(nnlab.tensor(np.zeros_like(x))).numpy()
    scale = np.abs(gap[np.arange(len(x)), target]).mean()
    errors = {}
    for rule in IG_RULES:
        for n in IG_STEPS:
            _, delta = ig.attribute(
                x, target=target, n_steps=n, method=rule, return_convergence_delta=True
            )
            errors[rule, n] = float(np.abs(delta).mean() / scale)
    return errors


def deletion_auc(model: nn.Module, x: np.ndarray, a: np.ndarray, target: np.ndarray, steps: int):
    """The deletion curve of the target logit, normalised to run from 1 (nothing removed)
    to 0 (everything replaced by the baseline), averaged over examples; and its area."""
    fractions, scores = deletion_curve(model, x, a, target=target, n_steps=steps)
    curve = (scores - scores[:, -1:]).mean(0) / (scores[:, 0] - scores[:, -1]).mean()
    return fractions, curve, float(np.trapezoid(curve, fractions))


def plot_maps(run: Run, name: str, caption: str, x: np.ndarray, maps: dict[str, np.ndarray]):
    """A grid: one digit per row, the image then each method's map (red positive, blue
    negative, each map scaled to its own largest magnitude)."""
    rows = len(x)
    fig = run.figure(name, caption, width=1.2 * (len(maps) + 1), height=1.25 * rows)
    axes = fig.subplots(rows, len(maps) + 1, squeeze=False)
    for r in range(rows):
        axes[r, 0].imshow(x[r, 0], cmap="gray_r")
        for c, (method, a) in enumerate(maps.items(), start=1):
            peak = max(float(np.abs(a[r, 0]).max()), 1e-12)
            axes[r, c].imshow(a[r, 0], cmap="bwr", vmin=-peak, vmax=peak)
            if r == 0:
                axes[r, c].set_title(method, fontsize=8)
        if r == 0:
            axes[r, 0].set_title("input", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])


@experiment(
    "digit-attributions",
    answers=["interpretability"],
    quick=dict(n_seeds=2, steps=200, n_explain=32, n_ig=8, deletion_steps=8),
    full=dict(n_seeds=5, steps=600, n_explain=200, n_ig=48, deletion_steps=16),
)
def digit_attributions(
    run: Run, n_seeds: int, steps: int, n_explain: int, n_ig: int, deletion_steps: int
) -> None:
    """Do attribution maps of a digit classifier explain what it learned, or only the input?"""
    x, y = digits()
    x = x.reshape(-1, 1, 8, 8)
    corr: dict[str, list[float]] = {m: [] for m in METHODS}
    undefined = dict.fromkeys(METHODS, 0)
    auc: dict[str, list[float]] = {m: [] for m in (*METHODS, "random")}
    curves: dict[str, list[np.ndarray]] = {m: [] for m in auc}
    ig_errors: list[dict] = []
    accuracies = []
    for i, seed in enumerate(run.seeds(n_seeds)):
        rng = np.random.default_rng(seed)
        perm = rng.permutation(len(x))
        train_rows, test_rows = perm[:1400], perm[1400:]
        order = train_rows[rng.integers(0, len(train_rows), size=(steps, 64))]
        nnlab.manual_seed(seed)
        model = digit_cnn()
        train(model, x, y, order, lr=0.01)
        accuracies.append(accuracy(model, x[test_rows], y[test_rows]))
        # The same network, freshly initialised from a seed no trained model starts from.
        nnlab.manual_seed(seed + 500)
        random_model = digit_cnn()

        # Explain correctly classified test digits, for their true class.
        with nnlab.no_grad():
            pred = model(nnlab.tensor(x[test_rows])).numpy().argmax(1)
        rows = test_rows[pred == y[test_rows]][:n_explain]
        xe, ye = x[rows], y[rows]
        ig_errors.append(completeness_errors(model, xe[:n_ig], ye[:n_ig]))
        nnlab.manual_seed(seed)  # SmoothGrad's noise: the same draws for both models
        trained_maps = attributions(model, xe, ye)
        nnlab.manual_seed(seed)
        random_maps = attributions(random_model, xe, ye)
        for method in METHODS:
            rho = rank_correlation(trained_maps[method], random_maps[method])
            # A constant map (the ReLU of Grad-CAM can zero a random model's map) ranks
            # nothing: such digits are left out of the mean and counted.
            undefined[method] += int(np.isnan(rho).sum())
            corr[method].append(float(np.nanmean(rho)) if not np.isnan(rho).all() else np.nan)
        trained_maps["random"] = rng.normal(size=xe.shape)
        for method, a in trained_maps.items():
            fractions, curve, area = deletion_auc(model, xe, a, ye, deletion_steps)
            curves[method].append(curve)
            auc[method].append(area)
        if i == 0:
            shown = {m: trained_maps[m] for m in METHODS}
            plot_maps(
                run,
                "maps_trained",
                "Attribution maps of the trained CNN for the true class "
                "(red: evidence for, blue: against)",
                xe[:5],
                {m: a[:5] for m, a in shown.items()},
            )
            plot_maps(
                run,
                "maps_random",
                "The same maps for the same architecture with random weights (sanity check)",
                xe[:5],
                {m: a[:5] for m, a in random_maps.items()},
            )

    # --- completeness of integrated gradients -------------------------------------------
    mean_error = {
        key: float(np.mean([e[key] for e in ig_errors])) for key in ig_errors[0]
    }  # fmt: skip
    run.table(
        "Integrated gradients: relative completeness error |Σ IG − (f(x) − f(0))| / |f(x) − f(0)|",
        ("n_steps", *IG_RULES),
        [(n, *(round(mean_error[rule, n], 5) for rule in IG_RULES)) for n in IG_STEPS],
    )
    for rule in IG_RULES:
        for n in (4, 32, 128):
            run.number(f"ig_error_{rule}_{n}", round(mean_error[rule, n], 6))
    fig = run.figure(
        "ig_completeness",
        "Completeness error of integrated gradients against the number of path points",
    )
    ax = fig.subplots()
    for rule in IG_RULES:
        ax.loglog(IG_STEPS, [mean_error[rule, n] for n in IG_STEPS], "o-", label=rule)
    ax.set_xlabel("n_steps")
    ax.set_ylabel("relative completeness error")
    ax.legend()

    # --- sanity check and deletion ------------------------------------------------------
    run.number("test_accuracy_mean", round(float(np.mean(accuracies)), 4))
    rows_out = []
    for method in (*METHODS, "random"):
        c = corr.get(method)
        rows_out.append((
            method,
            "" if c is None else round(float(np.mean(c)), 3),
            "" if c is None else round(float(np.std(c)), 3),
            round(float(np.mean(auc[method])), 4),
            round(float(np.std(auc[method])), 4),
            "" if c is None else undefined[method],
        ))  # fmt: skip
        if c is not None:
            run.number(f"rank_corr_{method}", round(float(np.mean(c)), 4))
            run.number(f"constant_maps_{method}", undefined[method])
        run.number(f"deletion_auc_{method}", round(float(np.mean(auc[method])), 4))
    run.table(
        f"Sanity check and faithfulness over {n_seeds} seeds ({n_explain} test digits each)",
        ("method", "ρ trained vs random", "ρ std", "deletion AUC", "AUC std", "constant maps"),
        rows_out,
    )
    fig = run.figure(
        "deletion",
        "Deletion curves: normalised target logit as the top-attributed pixels are "
        "replaced by the average digit",
    )
    ax = fig.subplots()
    for k, method in enumerate((*METHODS, "random")):
        style = dict(color="k", linestyle="--") if method == "random" else dict(color=f"C{k}")
        ax.plot(fractions, np.mean(curves[method], axis=0), label=method, **style)
    ax.set_xlabel("fraction of pixels removed (most attributed first)")
    ax.set_ylabel("normalised target logit")
    ax.legend(fontsize=8)
    fig = run.figure(
        "sanity", "Rank correlation of |attribution| between the trained and the randomised CNN"
    )
    ax = fig.subplots()
    for k, method in enumerate(METHODS):
        ax.scatter([k] * len(corr[method]), corr[method], color=f"C{k}")
    ax.set_xticks(range(len(METHODS)), METHODS, fontsize=8)
    ax.set_ylabel("Spearman ρ, trained vs random weights")
    ax.axhline(0, color="grey", linestyle=":")

    # --- claims (thresholds fixed before the first run) ---------------------------------
    trap = {n: mean_error["riemann_trapezoid", n] for n in IG_STEPS}
    run.claim(
        "Integrated gradients' completeness error shrinks with the number of steps: with the "
        "trapezoid rule it is at least 5× smaller at 128 steps than at 4",
        trap[128] * 5 <= trap[4],
        f"relative error {trap[4]:.4f} at 4 steps, {trap[128]:.5f} at 128",
    )
    run.claim(
        "At 128 trapezoid steps the attributions sum to f(x) − f(baseline) within 1% (mean "
        "relative error)",
        trap[128] < 0.01,
        f"{trap[128]:.5f}",
    )
    gradient_corr = {m: float(np.mean(corr[m])) for m in GRADIENT_ONLY}
    run.claim(
        "Randomising the weights changes the pure gradient maps (saliency, SmoothGrad, "
        "Grad-CAM): mean rank correlation with the trained model's maps below 0.5",
        all(v < 0.5 for v in gradient_corr.values()),
        ", ".join(f"{m} {v:.3f}" for m, v in gradient_corr.items()),
    )
    input_corr = min(float(np.mean(corr[m])) for m in ("grad×input", "IG"))
    run.claim(
        "Maps multiplied by the input (gradient × input, IG) stay more alike after "
        "randomisation than saliency's: their rank correlation exceeds saliency's by ≥ 0.1",
        input_corr >= gradient_corr["saliency"] + 0.1,
        f"lower of grad×input/IG {input_corr:.3f}, saliency {gradient_corr['saliency']:.3f}",
    )
    worst_seed_margin = min(
        min(r - a for r, a in zip(auc["random"], auc[m])) for m in METHODS
    )  # fmt: skip
    run.claim(
        "Every method's deletion curve falls faster than a random order's (lower area) in "
        "every seed",
        worst_seed_margin > 0,
        f"smallest margin of random AUC over a method's AUC {worst_seed_margin:.4f}",
        quick=False,
    )
    mean_auc = {m: float(np.mean(v)) for m, v in auc.items()}
    run.claim(
        "Methods that measure contributions to the score (IG, occlusion) are more faithful "
        "by deletion than saliency, which measures sensitivity: lower mean AUC",
        max(mean_auc["IG"], mean_auc["occlusion"]) < mean_auc["saliency"],
        f"AUC IG {mean_auc['IG']:.4f}, occlusion {mean_auc['occlusion']:.4f}, saliency "
        f"{mean_auc['saliency']:.4f}",
    )
    best = min(METHODS, key=mean_auc.get)
    worst = max(METHODS, key=mean_auc.get)
    least_changed = max(METHODS, key=lambda m: float(np.mean(corr[m])))
    run.answer(
        f"A small CNN ({np.mean(accuracies):.1%} test accuracy over {n_seeds} seeds) was "
        f"explained by six methods. Integrated gradients satisfy completeness up to the "
        f"quadrature: the relative error fell from {trap[4]:.3f} at 4 trapezoid steps to "
        f"{trap[128]:.4f} at 128 (Gauss–Legendre: {mean_error['gausslegendre', 128]:.4f}). "
        f"In the randomised-weights sanity check the rank correlation between the trained "
        f"and random model's maps was {gradient_corr['saliency']:.2f} for saliency, "
        f"{gradient_corr['Grad-CAM']:.2f} for Grad-CAM, "
        f"{np.mean(corr['grad×input']):.2f} for gradient × input and "
        f"{np.mean(corr['IG']):.2f} for IG; the map that changed least was {least_changed}'s. "
        f"By deletion (area under the normalised target-logit curve, lower is more "
        f"faithful) the best method was {best} ({mean_auc[best]:.3f}) against "
        f"{mean_auc['random']:.3f} for a random order and {mean_auc['saliency']:.3f} for "
        f"saliency; the worst was {worst} ({mean_auc[worst]:.3f}). Attribution research thus "
        "offers many maps, and they must be checked: by "
        "axioms such as completeness, by randomisation tests, and by perturbing the input."
    )


# --- attention maps on a transformer ---------------------------------------------------

TRIGGER = 1  # the token whose presence makes the label 1
PAD = 0


def trigger_sentences(
    rng: np.random.Generator, n: int, vocab: int, max_len: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sentences of 6..max_len random tokens (ids 2..vocab-1), right-padded with 0; in half
    of them one token is replaced by the trigger. Returns ids, labels and the trigger's
    position (−1 where absent)."""
    ids = np.zeros((n, max_len), dtype=np.int64)
    labels = rng.integers(0, 2, size=n)
    where = np.full(n, -1)
    for i in range(n):
        length = int(rng.integers(6, max_len + 1))
        ids[i, :length] = rng.integers(2, vocab, size=length)
        if labels[i]:
            where[i] = rng.integers(0, length)
            ids[i, where[i]] = TRIGGER
    return ids, labels.astype(np.int64), where


def leave_one_out(model: nn.Module, ids: np.ndarray, filler: int) -> np.ndarray:
    """Drop of the class-1 logit when each real token in turn is replaced by ``filler``:
    (N, T), 0 at padding (occlusion with a one-token window)."""
    with nnlab.no_grad():
        base = model(nnlab.tensor(ids)).numpy()[:, 1]
        drops = np.zeros(ids.shape)
        for t in range(ids.shape[1]):
            changed = ids.copy()
            real = ids[:, t] != PAD
            changed[real, t] = filler
            drops[:, t] = np.where(real, base - model(nnlab.tensor(changed)).numpy()[:, 1], 0)
    return drops


def pooled_rollout(maps: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """How much of each input token reaches the classifier: the classifier averages the
    real tokens' last-layer vectors, so average the rollout rows of the real tokens."""
    rollout = attention_rollout(maps)  # (N, T, T)
    real = (ids[:, : rollout.shape[1]] != PAD).astype(np.float64)
    return np.einsum("nt,nts->ns", real, rollout) / real.sum(1, keepdims=True)


@experiment(
    "attention-rollout",
    answers=["interpretability"],
    quick=dict(n_seeds=2, n_train=512, steps=150, n_test=128),
    full=dict(n_seeds=4, n_train=2048, steps=500, n_test=400),
)
def attention_rollout_experiment(
    run: Run, n_seeds: int, n_train: int, steps: int, n_test: int
) -> None:
    """Do a transformer's attention maps point at the token that decides its output?"""
    vocab, max_len = 16, 10
    accuracies, share, top_rollout, top_last, top_loo, agree = [], [], [], [], [], []
    example: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        ids, labels, _ = trigger_sentences(rng, n_train, vocab, max_len)
        test_ids, test_labels, where = trigger_sentences(rng, n_test, vocab, max_len)
        nnlab.manual_seed(seed)
        model = TransformerClassifier(
            vocab, 2, d_model=16, nhead=2, num_layers=2, dim_feedforward=32, dropout=0.0,
            max_len=max_len,
        )  # fmt: skip
        train(model, ids, labels, rng.integers(0, n_train, size=(steps, 64)), lr=3e-3)
        model.eval()
        accuracies.append(accuracy(model, test_ids, test_labels))

        positive = test_labels == 1
        pos_ids, pos_where = test_ids[positive], where[positive]
        maps = attention_maps(model, nnlab.tensor(pos_ids))  # (layers, N, heads, T, T)
        reach = pooled_rollout(maps, pos_ids)
        rows = np.arange(len(pos_ids))
        lengths = (pos_ids != PAD).sum(1)
        share.append(float(np.mean(reach[rows, pos_where] * lengths)))  # 1 = uniform share
        top_rollout.append(float(np.mean(reach.argmax(1) == pos_where)))
        real = (pos_ids[:, : maps.shape[-1]] != PAD).astype(np.float64)
        last = np.einsum("nt,nts->ns", real, maps[-1].mean(1)) / real.sum(1, keepdims=True)
        top_last.append(float(np.mean(last.argmax(1) == pos_where)))
        loo = leave_one_out(model, pos_ids, filler=2)
        top_loo.append(float(np.mean(loo.argmax(1) == pos_where)))
        agree.append(float(np.mean(loo.argmax(1) == reach.argmax(1))))
        if example is None:
            example = (pos_ids[0], maps[:, 0], reach[0])

    summary = {
        "test accuracy": accuracies,
        "rollout weight on the trigger ÷ uniform share": share,
        "rollout's top token is the trigger": top_rollout,
        "last layer's (head-mean) top token is the trigger": top_last,
        "leave-one-out's top token is the trigger": top_loo,
        "rollout and leave-one-out pick the same token": agree,
    }
    run.table(
        f"Trigger-token task, {n_seeds} seeds, positive test sentences",
        ("measure", "mean", "min", "max"),
        [
            (k, round(float(np.mean(v)), 3), round(min(v), 3), round(max(v), 3))
            for k, v in summary.items()
        ],
    )
    for key, name in zip(
        summary,
        (
            "accuracy",
            "trigger_share",
            "rollout_top1",
            "last_layer_top1",
            "loo_top1",
            "rollout_loo_agreement",
        ),
    ):
        run.number(name, round(float(np.mean(summary[key])), 4))

    tokens, maps, reach = example
    length = int((tokens != PAD).sum())
    labels = ["T" if t == TRIGGER else str(t) for t in tokens[:length]]
    layers, heads = maps.shape[:2]
    fig = run.figure(
        "attention_maps",
        "Attention of every layer and head, and the rollout reaching the classifier, for "
        "one positive sentence (T = trigger)",
        width=2.2 * (heads + 1),
        height=2.2 * layers,
    )
    axes = fig.subplots(layers, heads + 1, squeeze=False)
    for layer in range(layers):
        for head in range(heads):
            axes[layer, head].imshow(maps[layer, head, :length, :length], vmin=0, vmax=1)
            axes[layer, head].set_title(f"layer {layer + 1} head {head + 1}", fontsize=8)
            axes[layer, head].set_xticks(range(length), labels, fontsize=6)
            axes[layer, head].set_yticks(range(length), labels, fontsize=6)
    for layer in range(layers):
        axes[layer, heads].axis("off")
    axes[0, heads].axis("on")
    axes[0, heads].bar(range(length), reach[:length])
    axes[0, heads].set_xticks(range(length), labels, fontsize=6)
    axes[0, heads].set_title("rollout to the output", fontsize=8)

    run.claim(
        "The transformer learns the task: test accuracy at least 95% in every seed",
        min(accuracies) >= 0.95,
        f"accuracy {min(accuracies):.3f} to {max(accuracies):.3f}",
    )
    run.claim(
        "Attention rollout gives the trigger token at least twice the uniform share of what "
        "reaches the classifier (mean over sentences and seeds)",
        float(np.mean(share)) >= 2.0,
        f"{np.mean(share):.2f}× the uniform share",
    )
    run.claim(
        "The token with the largest rollout weight is the trigger in at least 80% of the "
        "positive sentences",
        float(np.mean(top_rollout)) >= 0.8,
        f"{np.mean(top_rollout):.3f}",
        quick=False,
    )
    run.claim(
        "Rollout and leave-one-out occlusion name the same most important token in at least "
        "80% of the positive sentences",
        float(np.mean(agree)) >= 0.8,
        f"{np.mean(agree):.3f}",
        quick=False,
    )
    run.answer(
        f"A 2-layer transformer learned whether a sentence holds a trigger token "
        f"({np.mean(accuracies):.1%} test accuracy over {n_seeds} seeds). Attention rollout "
        f"gave the trigger {np.mean(share):.2f}× the uniform share of what reaches the "
        f"classifier and ranked it first in {np.mean(top_rollout):.1%} of positive "
        f"sentences (the last layer's raw attention: {np.mean(top_last):.1%}); leave-one-out "
        f"occlusion ranked it first in {np.mean(top_loo):.1%}, and the two agreed on the top "
        f"token in {np.mean(agree):.1%}. Attention maps are cheap and readable, but they show "
        "where information flowed, not what mattered: a perturbation test is the check."
    )
