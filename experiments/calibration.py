"""Can a network's confidence be trusted? Calibration, uncertainty and out-of-distribution
inputs, measured on the standardised digits.

- ``temperature-scaling``: an MLP trained long past zero training error on a small
  training set is over-confident; one temperature fitted on validation data
  (:class:`nnlab.uncertainty.TemperatureScaling`) is measured on the test digits.
- ``ensemble-uncertainty``: a single network against a deep ensemble (the same network
  from several seeds) and against MC dropout (one network trained with dropout and kept
  dropping at test time), by accuracy, negative log-likelihood (NLL) and expected
  calibration error (ECE, 15 equal-width bins of the top-class confidence).
- ``ood-detection``: networks that only ever saw the digits 0-4 meet the digits 5-9 and
  Gaussian noise; how well does the uncertainty of their predictions (max-softmax,
  predictive entropy, mutual information) tell those inputs apart (ROC-AUC)?

Every network is the MLP 64 → width → width → classes with ReLU (and dropout where named),
trained with Adam (lr 1e-3) on batches of 32 drawn with replacement. Each seed draws a new
split and new networks; the arms of one seed share the split, and a member's initial
weights and batch order come from its own seed.
"""

from __future__ import annotations

import numpy as np

import nnlab
from experiments.common import digits, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.analysis.reliability import draw_reliability_diagram
from nnlab.metrics.calibration import expected_calibration_error, reliability_bins
from nnlab.uncertainty import (
    TemperatureScaling,
    ensemble_predict,
    mc_dropout_predict,
    ood_roc_auc,
    ood_score,
)

BATCH = 32
N_BINS = 15


def mlp(n_classes: int, width: int, dropout: float = 0.0) -> nn.Sequential:
    """64 → width → width → n_classes with ReLU, and dropout after each hidden layer when
    ``dropout`` > 0."""
    layers: list[nn.Module] = []
    for fan_in in (64, width):
        layers += [nn.Linear(fan_in, width), nn.ReLU()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(width, n_classes))
    return nn.Sequential(*layers)


def trained(
    seed: int,
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    width: int,
    steps: int,
    dropout: float = 0.0,
) -> nn.Sequential:
    """An MLP whose initial weights and batch order come from ``seed``, after ``steps``
    Adam steps on (x, y); returned in evaluation mode."""
    nnlab.manual_seed(seed)
    model = mlp(n_classes, width, dropout)
    order = np.random.default_rng([seed, 1]).integers(0, len(x), size=(steps, BATCH))
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-3)
    train_steps(model, opt, x, y, order, log_every=steps)
    return model.eval()


def logits_of(model: nn.Module, x: np.ndarray) -> np.ndarray:
    with nnlab.no_grad():
        return model.eval()(nnlab.tensor(x)).numpy().astype(np.float64)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    """−(1/N) Σ log p(y_i | x_i), with probabilities floored at 1e-12 (a confident mistake
    costs at most 27.6 nats)."""
    return float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-12)).mean())


def scores(probs: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Accuracy, NLL and ECE of class probabilities on labels ``y``."""
    return {
        "accuracy": float((probs.argmax(1) == y).mean()),
        "nll": nll(probs, y),
        "ece": expected_calibration_error(probs, y, N_BINS),
    }


def mean_std(values: list[float]) -> tuple[float, float]:
    return round(float(np.mean(values)), 4), round(float(np.std(values)), 4)


@experiment(
    "temperature-scaling",
    answers=["deployment-challenges"],
    quick=dict(n_train=300, n_val=300, width=128, steps=400, n_seeds=2),
    full=dict(n_train=300, n_val=300, width=256, steps=4000, n_seeds=5),
)
def temperature_scaling(
    run: Run, n_train: int, n_val: int, width: int, steps: int, n_seeds: int
) -> None:
    """Is an over-trained network over-confident, and does one temperature fix it?"""
    x, y = digits()
    per_seed = {k: [] for k in ("T", "acc", "acc_ts", "nll", "nll_ts", "ece", "ece_ts")}
    pooled = {"before": [], "after": [], "labels": []}
    for seed in run.seeds(n_seeds):
        perm = np.random.default_rng(seed).permutation(len(x))
        tr, va, te = np.split(perm, [n_train, n_train + n_val])
        model = trained(seed, x[tr], y[tr], 10, width, steps)
        scaler = TemperatureScaling().fit(logits_of(model, x[va]), y[va])
        test_logits = logits_of(model, x[te])
        with nnlab.no_grad():
            scaled = scaler(nnlab.tensor(test_logits)).numpy()
        before, after = softmax(test_logits), softmax(scaled)
        raw, cal = scores(before, y[te]), scores(after, y[te])
        measured = {"T": scaler.temperature.item(), "acc": raw["accuracy"]}
        measured |= {"acc_ts": cal["accuracy"], "nll": raw["nll"], "nll_ts": cal["nll"]}
        measured |= {"ece": raw["ece"], "ece_ts": cal["ece"]}
        for key, value in measured.items():
            per_seed[key].append(value)
        pooled["before"].append(before)
        pooled["after"].append(after)
        pooled["labels"].append(y[te])

    for key, values in per_seed.items():
        mean, std = mean_std(values)
        run.number(f"{key}_mean", mean)
        run.number(f"{key}_std", std)
    run.table(
        "Test digits per seed, before and after temperature scaling (fitted on validation)",
        ("seed", "T", "accuracy", "NLL", "NLL (scaled)", "ECE", "ECE (scaled)"),
        [
            (i, round(t, 3), round(a, 4), round(n0, 4), round(n1, 4), round(e0, 4), round(e1, 4))
            for i, (t, a, n0, n1, e0, e1) in enumerate(
                zip(*(per_seed[k] for k in ("T", "acc", "nll", "nll_ts", "ece", "ece_ts")))
            )
        ],
    )

    labels = np.concatenate(pooled["labels"])
    fig = run.figure(
        "reliability",
        f"Reliability of the test predictions of all {n_seeds} seeds, before and after "
        "temperature scaling: bars below the diagonal are over-confident bins",
        width=9.0,
        height=4.2,
    )
    for ax, key in zip(fig.subplots(1, 2), ("before", "after")):
        probs = np.concatenate(pooled[key])
        ece = expected_calibration_error(probs, labels, N_BINS)
        draw_reliability_diagram(
            ax, reliability_bins(probs, labels, N_BINS), f"{key} scaling: ECE {ece:.3f}"
        )

    ece, ece_ts = np.mean(per_seed["ece"]), np.mean(per_seed["ece_ts"])
    gains = np.array(per_seed["nll"]) - np.array(per_seed["nll_ts"])
    run.claim(
        "A network trained far past zero training error is over-confident: the fitted "
        "temperature exceeds 1 on every seed",
        min(per_seed["T"]) > 1.0,
        f"temperatures {min(per_seed['T']):.2f} to {max(per_seed['T']):.2f}",
        quick=False,
    )
    run.claim(
        "Temperature scaling at least halves the test ECE (mean over seeds)",
        ece_ts <= ece / 2,
        f"ECE {ece:.4f} before, {ece_ts:.4f} after",
        quick=False,
    )
    run.claim(
        "Temperature scaling lowers the test NLL on every seed",
        gains.min() > 0,
        f"NLL reductions {gains.min():.4f} to {gains.max():.4f}",
        quick=False,
    )
    run.claim(
        "Temperature scaling leaves the test accuracy unchanged on every seed",
        per_seed["acc"] == per_seed["acc_ts"],
        "largest change in accuracy "
        f"{np.abs(np.subtract(per_seed['acc'], per_seed['acc_ts'])).max():.4f}",
    )
    run.answer(
        f"Trained for {steps} steps on {n_train} digits, the MLP reached a mean test accuracy "
        f"of {np.mean(per_seed['acc']):.1%} with a test ECE of {ece:.3f} and NLL of "
        f"{np.mean(per_seed['nll']):.3f}. Dividing its logits by one temperature, fitted on "
        f"{n_val} validation digits (mean T = {np.mean(per_seed['T']):.2f}), kept the accuracy "
        f"at {np.mean(per_seed['acc_ts']):.1%} and brought the test ECE to {ece_ts:.3f} and "
        f"the NLL to {np.mean(per_seed['nll_ts']):.3f}. A deployed model's probabilities feed "
        "decisions (thresholds, deferral to a person), so their calibration needs measuring "
        "on held-out data, and a temperature is one scalar to fit there."
    )


@experiment(
    "ensemble-uncertainty",
    answers=["ensembles", "dropout"],
    quick=dict(n_train=500, width=64, steps=400, n_members=3, n_samples=10, n_seeds=2),
    full=dict(n_train=500, width=128, steps=2500, n_members=5, n_samples=50, n_seeds=5),
)
def ensemble_uncertainty(
    run: Run, n_train: int, width: int, steps: int, n_members: int, n_samples: int, n_seeds: int
) -> None:
    """Do a deep ensemble and MC dropout give better probabilities than one network?"""
    x, y = digits()
    # arm: the name its numbers are recorded under
    arms = {
        "single": "single",
        "ensemble": "ensemble",
        "dropout (eval)": "dropout_eval",
        "MC dropout": "mc_dropout",
    }
    results = {(arm, key): [] for arm in arms for key in ("accuracy", "nll", "ece")}
    best_member_nll, agreement = [], []
    for seed in run.seeds(n_seeds):
        perm = np.random.default_rng(seed).permutation(len(x))
        tr, te = perm[:n_train], perm[n_train:]
        members = [
            trained(seed * 100 + k, x[tr], y[tr], 10, width, steps) for k in range(n_members)
        ]
        member_probs = ensemble_predict(members, x[te])
        single = [scores(p, y[te]) for p in member_probs]
        dropout_net = trained(seed * 100 + 99, x[tr], y[tr], 10, width, steps, dropout=0.5)
        eval_probs = softmax(logits_of(dropout_net, x[te]))
        nnlab.manual_seed(seed)
        mc_probs = mc_dropout_predict(dropout_net, x[te], n_samples).mean
        measured = {
            "ensemble": scores(member_probs.mean(0), y[te]),
            "dropout (eval)": scores(eval_probs, y[te]),
            "MC dropout": scores(mc_probs, y[te]),
        }
        for key in ("accuracy", "nll", "ece"):
            results["single", key].append(float(np.mean([s[key] for s in single])))
            for arm, values in measured.items():
                results[arm, key].append(values[key])
        best_member_nll.append(min(s["nll"] for s in single))
        agreement.append(float((mc_probs.argmax(1) == eval_probs.argmax(1)).mean()))

    rows = []
    for arm, number_name in arms.items():
        cells = [arm]
        for key in ("accuracy", "nll", "ece"):
            mean, std = mean_std(results[arm, key])
            run.number(f"{number_name}_{key}", mean)
            cells += [mean, std]
        rows.append(cells)
    run.table(
        f"Test digits, mean and std over {n_seeds} seeds (single: the members' mean)",
        ("arm", "accuracy", "std", "NLL", "std", "ECE", "std"),
        rows,
    )
    run.number("mc_eval_agreement_min", round(min(agreement), 4))

    fig = run.figure(
        "arms",
        "Test NLL and ECE per seed: one network (members' mean), the deep ensemble, a "
        "dropout network in eval mode and by MC dropout",
        width=8.0,
        height=3.4,
    )
    for ax, key in zip(fig.subplots(1, 2), ("nll", "ece")):
        for i, arm in enumerate(arms):
            ax.scatter([i] * n_seeds, results[arm, key], color=f"C{i}")
        ax.set_xticks(range(len(arms)), [a.replace(" (", "\n(") for a in arms], fontsize=8)
        ax.set_ylabel(f"test {key.upper()}")
        ax.grid(alpha=0.3)

    ens_nll, best_nll = np.array(results["ensemble", "nll"]), np.array(best_member_nll)
    ens_acc, single_acc = results["ensemble", "accuracy"], results["single", "accuracy"]
    ens_ece, single_ece = np.mean(results["ensemble", "ece"]), np.mean(results["single", "ece"])
    mc_nll, eval_nll = (
        np.mean(results["MC dropout", "nll"]),
        np.mean(results["dropout (eval)", "nll"]),
    )
    run.claim(
        f"A deep ensemble of {n_members} has a lower test NLL than its best member on every seed",
        bool((ens_nll < best_nll).all()),
        f"ensemble minus best member: {(ens_nll - best_nll).max():+.4f} at worst",
        quick=False,
    )
    run.claim(
        "The deep ensemble is at least as accurate as its members' mean on every seed",
        all(e >= s for e, s in zip(ens_acc, single_acc)),
        f"smallest gain {min(e - s for e, s in zip(ens_acc, single_acc)):+.4f}",
        quick=False,
    )
    run.claim(
        "The deep ensemble's ECE is below its members' mean ECE (mean over seeds)",
        ens_ece < single_ece,
        f"ECE {ens_ece:.4f} (ensemble) against {single_ece:.4f} (members)",
        quick=False,
    )
    run.claim(
        "Evaluation mode approximates the average of the dropout sub-networks: MC dropout "
        "and eval mode predict the same class for at least 97% of test digits on every seed",
        min(agreement) >= 0.97,
        f"agreement {min(agreement):.4f} at worst",
        quick=False,
    )
    run.claim(
        "MC dropout's test NLL is no higher than the same network's in eval mode (mean over seeds)",
        mc_nll <= eval_nll,
        f"NLL {mc_nll:.4f} (MC, {n_samples} samples) against {eval_nll:.4f} (eval)",
        quick=False,
    )
    run.answer(
        f"On {n_train} training digits, one network scored a test accuracy of "
        f"{np.mean(single_acc):.1%}, NLL {np.mean(results['single', 'nll']):.3f} and ECE "
        f"{single_ece:.3f}; averaging the probabilities of {n_members} such networks from "
        f"different seeds gave {np.mean(ens_acc):.1%}, NLL {np.mean(ens_nll):.3f} and ECE "
        f"{ens_ece:.3f}. Dropout trains an implicit ensemble "
        "of sub-networks sharing weights; eval mode's single pass agreed with the average "
        f"of {n_samples} sampled sub-networks on at least {min(agreement):.1%} of the test "
        f"digits, with NLL {eval_nll:.3f} in eval mode against {mc_nll:.3f} by MC dropout."
    )


@experiment(
    "ood-detection",
    answers=["deployment-challenges"],
    quick=dict(width=64, steps=400, n_members=3, n_samples=10, n_seeds=2),
    full=dict(width=128, steps=2500, n_members=5, n_samples=50, n_seeds=5),
)
def ood_detection(
    run: Run, width: int, steps: int, n_members: int, n_samples: int, n_seeds: int
) -> None:
    """Does a network's uncertainty reveal inputs unlike its training data?"""
    x, y = digits()
    known = np.flatnonzero(y < 5)
    unknown = np.flatnonzero(y >= 5)
    detectors = (
        ("single: max-softmax", "single", "max_softmax"),
        ("single: entropy", "single", "entropy"),
        ("ensemble: max-softmax", "ensemble", "max_softmax"),
        ("ensemble: entropy", "ensemble", "entropy"),
        ("ensemble: mutual information", "ensemble", "mutual_information"),
        ("MC dropout: entropy", "mc", "entropy"),
        ("MC dropout: mutual information", "mc", "mutual_information"),
    )
    auc = {(name, ood): [] for name, _, _ in detectors for ood in ("digits 5-9", "noise")}
    histograms = {}
    seeds = run.seeds(n_seeds)
    for seed in seeds:
        perm = np.random.default_rng(seed).permutation(known)
        tr, te = perm[: len(perm) // 2], perm[len(perm) // 2 :]
        noise = np.random.default_rng([seed, 2]).standard_normal((len(te), 64))
        inputs = {
            "in": x[te],
            "digits 5-9": x[unknown],
            "noise": noise.astype(np.float32),
        }
        members = [trained(seed * 100 + k, x[tr], y[tr], 5, width, steps) for k in range(n_members)]
        dropout_net = trained(seed * 100 + 99, x[tr], y[tr], 5, width, steps, dropout=0.5)
        probs = {}
        for part, data in inputs.items():
            ensemble_probs = ensemble_predict(members, data)
            probs["single", part] = ensemble_probs[0]
            probs["ensemble", part] = ensemble_probs
            nnlab.manual_seed(seed)  # the dropout masks
            probs["mc", part] = mc_dropout_predict(dropout_net, data, n_samples).samples
        for name, model, method in detectors:
            s_in = ood_score(probs[model, "in"], method)
            for ood in ("digits 5-9", "noise"):
                s_out = ood_score(probs[model, ood], method)
                auc[name, ood].append(ood_roc_auc(s_in, s_out))
                if seed == seeds[0] and method != "entropy" and model != "mc":
                    histograms[name, "in"], histograms[name, ood] = s_in, s_out

    rows = []
    for name, _, _ in detectors:
        cells = [name]
        for ood in ("digits 5-9", "noise"):
            mean, std = mean_std(auc[name, ood])
            key = name.lower().replace(": ", "_").replace(" ", "_").replace("-", "_")
            run.number(f"auroc_{ood.split()[0]}_{key}", mean)
            cells += [mean, std]
        rows.append(cells)
    run.table(
        f"ROC-AUC of telling OOD inputs from test digits 0-4, mean and std over {n_seeds} seeds",
        ("score", "digits 5-9", "std", "noise", "std"),
        rows,
    )

    fig = run.figure(
        "scores",
        "OOD scores of the first seed: test digits 0-4 (seen classes) against digits 5-9 "
        "and Gaussian noise; higher means more uncertain",
        width=9.0,
        height=3.6,
    )
    panels = ("single: max-softmax", "ensemble: max-softmax", "ensemble: mutual information")
    for ax, name in zip(fig.subplots(1, 3), panels):
        top = max(float(np.max(histograms[name, part])) for part in ("in", "digits 5-9", "noise"))
        edges = np.linspace(0, max(top, 1e-6), 31)
        for part, color in (("in", "C0"), ("digits 5-9", "C3"), ("noise", "C2")):
            label = "digits 0-4 (seen)" if part == "in" else part
            ax.hist(
                histograms[name, part],
                bins=edges,
                alpha=0.5,
                color=color,
                label=label,
                density=True,
            )
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("1 − max p" if "max" in name else "mutual information (nats)")
        ax.legend(fontsize=7)

    msp = np.mean(auc["single: max-softmax", "digits 5-9"])
    ens_entropy = np.mean(auc["ensemble: entropy", "digits 5-9"])
    noise_worst = min(np.mean(auc[name, "noise"]) for name, _, _ in detectors)
    run.claim(
        "A single network's max-softmax tells held-out digit classes from seen ones with "
        "ROC-AUC at least 0.8 (mean over seeds)",
        msp >= 0.8,
        f"ROC-AUC {msp:.3f}",
        quick=False,
    )
    run.claim(
        "A deep ensemble's predictive entropy detects held-out digit classes better than a "
        "single network's max-softmax (mean ROC-AUC over seeds)",
        ens_entropy > msp,
        f"ROC-AUC {ens_entropy:.3f} (ensemble entropy) against {msp:.3f} (single max-softmax)",
        quick=False,
    )
    run.claim(
        "Every score detects Gaussian-noise images with ROC-AUC at least 0.9 (mean over seeds)",
        noise_worst >= 0.9,
        f"lowest mean ROC-AUC {noise_worst:.3f}",
        quick=False,
    )
    best = max(detectors, key=lambda d: np.mean(auc[d[0], "digits 5-9"]))[0]
    run.answer(
        f"Networks trained on the digits 0-4 still assign one of those classes to every "
        f"digit 5-9 and to noise. Their uncertainty flags many such inputs: a single "
        f"network's max-softmax separated the unseen digits from seen test digits with "
        f"ROC-AUC {msp:.3f}, a {n_members}-member ensemble's predictive entropy with "
        f"{ens_entropy:.3f}, and the best score was {best} "
        f"({np.mean(auc[best, 'digits 5-9']):.3f}); for Gaussian noise the weakest score "
        f"reached {noise_worst:.3f}. A model does not announce that an input is unlike its "
        "training data; these ROC-AUCs say how much of that its own uncertainty reveals."
    )
