"""The checks a practitioner runs on a model that does not learn, one function each.

Every check takes a :class:`~nnlab.doctor.subject.Subject`, measures one thing and returns
:class:`~nnlab.doctor.findings.Finding` s: an ``"ok"`` info finding with the measurement
when it looks healthy, otherwise the symptom with its evidence and the likely fix. No
check changes the model or the optimizer (they train inside ``Subject.preserved``).

The thresholds are rules of thumb stated with each check; they are meant to separate a
fault that stops learning from a healthy setup by a wide margin, not to grade a setup
that already learns.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

import nnlab
from nnlab import nn, optim
from nnlab.doctor.findings import Finding
from nnlab.doctor.subject import Subject, balanced_accuracy
from nnlab.optim import lr_range_test

__all__ = [
    "TrainingResult",
    "check_input_scale",
    "check_output_probabilities",
    "check_initial_loss",
    "check_overfit_one_batch",
    "check_lr_range",
    "check_gradients",
    "check_activations",
    "check_leakage",
    "short_training",
    "check_training",
    "check_labels",
]


def _ok(check: str, summary: str, **evidence: Any) -> Finding:
    return Finding(check, "ok", "info", summary, evidence)


def _round(value: float, digits: int = 4) -> float:
    """A measured value with ``digits`` significant digits (for readable evidence)."""
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


# -- the inputs ---------------------------------------------------------------------------


def check_input_scale(s: Subject) -> list[Finding]:
    """Per-feature means and standard deviations of the training inputs (features along
    axis 1 of flat rows or channels of images), summarised by their medians over features
    (constant features excluded): standardised inputs have mean 0 and std 1.

    ``unscaled_inputs``: median std outside [0.1, 10] or median ``|mean|`` above 3
    (warning); beyond [0.01, 100] either way (error, e.g. raw pixels in 0-255).
    """
    x = np.asarray(s.x_train, dtype=np.float64)
    axes = (0, *range(2, x.ndim))  # every axis but the feature (channel) axis
    mean, std = x.mean(axis=axes), x.std(axis=axes)
    varying = std > 0
    if not varying.any():
        return [
            Finding(
                "input_scale",
                "constant_inputs",
                "error",
                "every input feature is constant: the model sees no signal",
                {"features": int(std.size)},
                "check the data loading",
            )
        ]
    med_std = float(np.median(std[varying]))
    med_mean = float(np.median(np.abs(mean[varying])))
    evidence = {
        "median_feature_std": _round(med_std),
        "median_abs_feature_mean": _round(med_mean),
        "max_abs_value": _round(np.abs(x).max()),
    }
    far = med_std > 100 or med_std < 0.01 or med_mean > 100
    if far or not (0.1 <= med_std <= 10) or med_mean > 3:
        return [
            Finding(
                "input_scale",
                "unscaled_inputs",
                "error" if far else "warning",
                f"inputs are not standardised: typical feature std {med_std:.3g}, typical "
                f"|mean| {med_mean:.3g} (standardised: 1 and 0)",
                evidence,
                "standardise the features with training-split statistics (data.scale = "
                '"standard"), or divide raw pixels by their largest value',
            )
        ]
    return [_ok("input_scale", "inputs are on a standard scale", **evidence)]


# -- the outputs and the loss at initialisation -------------------------------------------


def check_output_probabilities(s: Subject) -> list[Finding]:
    """Whether the model's outputs on a batch are already probabilities: every row
    non-negative and summing to 1 (within 1e-4). A loss that takes logits
    (CrossEntropyLoss applies log-softmax itself) then squashes them a second time: the
    loss cannot fall below a floor far above 0 and gradients shrink.

    ``outputs_are_probabilities``: error for cross-entropy, warning otherwise.
    """
    x, _ = s.batches(1)[0]
    with nnlab.no_grad(), s.preserved():
        s.model.eval()
        out = s.model(x).numpy().astype(np.float64)
    if out.ndim < 2 or out.shape[1] < 2:
        return [_ok("output", "one output per sample: not a distribution over classes")]
    rows = np.moveaxis(out, 1, -1).reshape(-1, out.shape[1])
    row_sum_err = float(np.abs(rows.sum(axis=1) - 1).max())
    min_output = float(rows.min())
    evidence = {"max_abs_row_sum_minus_1": _round(row_sum_err), "min_output": _round(min_output)}
    if row_sum_err < 1e-4 and min_output >= 0:
        return [
            Finding(
                "output",
                "outputs_are_probabilities",
                "error" if s.kind == "cross_entropy" else "warning",
                "the model's outputs are already probabilities (rows non-negative, summing to "
                "1) where the loss expects logits: softmax is applied twice",
                evidence,
                "remove the final Softmax from the model: CrossEntropyLoss applies log-softmax "
                "itself (apply softmax only to read probabilities at prediction time)",
            )
        ]
    return [_ok("output", "outputs are unnormalised scores (logits)", **evidence)]


def _expected_initial_loss(
    s: Subject, outputs: nnlab.Tensor, y: nnlab.Tensor
) -> tuple[float, str] | None:
    """The loss of an uninformed model and what it is: the loss itself on all-zero outputs
    (so class weights, ``pos_weight`` and label smoothing count). For cross-entropy that is
    ln C over C classes (uniform predictions), for binary cross-entropy ln 2 per row
    (p = 1/2) before weights, for MSE mean(y²) (predicting 0). None for other losses,
    whose uninformed output is not known."""
    if s.kind not in ("cross_entropy", "bce_with_logits", "mse"):
        return None
    value = float(s.loss_fn(nnlab.zeros(*outputs.shape), y).item())
    if s.kind == "cross_entropy":
        return value, f"all-zero logits: ln C = {value:.4g} for C = {outputs.shape[1]} classes"
    if s.kind == "bce_with_logits":
        return value, "all-zero logits: p = 1/2 for every row"
    return value, "predicting 0 for every row: mean(y²)"


def check_initial_loss(s: Subject) -> list[Finding]:
    """The training loss before any step (eval mode, up to 512 training rows) against the
    loss of an uninformed model on the same rows (see ``_expected_initial_loss``). Far
    above it, the initial outputs are confidently wrong (too large a weight scale or
    unscaled inputs); far below, the loss does not measure what it should (targets that
    leak into the inputs, a loss on the wrong outputs).

    ``initial_loss_off``: ``|L0 - expected| > 0.5 * expected + 0.1`` (warning).
    """
    x, y = nnlab.tensor(s.x_train[:512]), s.targets(s.y_train[:512])
    with nnlab.no_grad(), s.preserved(), np.errstate(all="ignore"):
        s.model.eval()
        outputs = s.model(x)
        loss = float(s.loss_fn(outputs, y).item())
        expected = _expected_initial_loss(s, outputs, y)
    if expected is None:
        return [
            _ok(
                "initial_loss", "no expected initial value for this loss", initial_loss=_round(loss)
            )
        ]
    value, source = expected
    evidence = {"initial_loss": _round(loss), "expected": _round(value)}
    if not math.isfinite(loss) or abs(loss - value) > 0.5 * value + 0.1:
        return [
            Finding(
                "initial_loss",
                "initial_loss_off",
                "warning",
                f"the initial loss {loss:.4g} is far from {value:.4g}, the loss of an "
                f"uninformed model ({source})",
                evidence,
                "check the input scale and the weight initialisation (outputs should start "
                "small), and that the loss gets logits and the right targets",
            )
        ]
    return [
        _ok("initial_loss", f"initial loss {loss:.4g} is near {value:.4g} ({source})", **evidence)
    ]


# -- can it learn at all ------------------------------------------------------------------


def check_overfit_one_batch(s: Subject, steps: int = 200, lr: float = 1e-2) -> list[Finding]:
    """Train on one fixed batch with Adam at ``lr`` (not the configured optimizer: this
    checks the model and the loss, not the learning rate) for ``steps`` steps. Any working
    model memorises one batch.

    ``cannot_overfit``: the final loss (the lowest of the last 10 steps, as dropout makes
    it noisy) is above 10% of the first (error).
    """
    x, y = s.batches(1, stream=1)[0]
    losses: list[float] = []
    with s.preserved(), np.errstate(all="ignore"):
        s.model.train()
        opt = optim.Adam(s.model.parameters(), lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            loss = s.loss_fn(s.model(x), y)
            losses.append(float(loss.item()))
            if not math.isfinite(losses[-1]):
                break
            loss.backward()
            opt.step()
    first, last = losses[0], min(losses[-10:])
    evidence = {
        "steps": len(losses),
        "batch_size": int(x.shape[0]),
        "first_loss": _round(first),
        "final_loss": _round(last),
    }
    if not (math.isfinite(last) and last <= 0.1 * first):
        return [
            Finding(
                "overfit_one_batch",
                "cannot_overfit",
                "error",
                f"{steps} Adam steps (lr {lr:g}) on one batch of {x.shape[0]} took the loss "
                f"from {first:.4g} only to {last:.4g}: the model cannot memorise a batch",
                evidence,
                "a bug between model and loss: look at the other findings (no gradient, "
                "softmax twice, vanishing gradients), targets of the wrong kind or shape",
            )
        ]
    return [
        _ok("overfit_one_batch", f"one batch memorised: loss {first:.4g} to {last:.3g}", **evidence)
    ]


def check_lr_range(s: Subject, num_iter: int = 100) -> list[Finding]:
    """The learning-rate range test (:func:`nnlab.optim.lr_range_test`, 1e-7 to 10 with
    the configured optimizer) and the configured learning rate against its suggestion,
    the learning rate of steepest descent, and against the rate of lowest loss, past which
    the loss climbs. Healthy learning rates lie between about a hundredth of the
    suggestion and a few times it, and well below the rate of lowest loss.

    ``lr_too_high``: configured lr above both 3x the suggestion and a third of the rate of
    lowest loss (error).
    ``lr_too_low``: configured lr below 1/100 of the suggestion (error).
    ``range_test_flat``: no rate lowered the smoothed loss by 5%, so no rate is judged
    (info: inconclusive; a model that learns slowly looks the same as a broken one here).
    """
    with s.preserved(), np.errstate(all="ignore"):
        result = lr_range_test(
            s.model,
            s.loss_fn,
            s.optimizer,
            s.batches(num_iter, stream=2),
            start_lr=1e-7,
            end_lr=10.0,
            num_iter=num_iter,
        )
    suggested = result.suggested_lr
    finite = [(v, lr) for v, lr in zip(result.losses, result.lrs) if math.isfinite(v)]
    if suggested is None or not finite:
        return [_ok("lr_range", "the range test gave too few points to suggest a rate")]
    lowest, lr_at_min = min(finite)
    first = result.losses[0]
    if lowest > 0.95 * first:  # no rate helped: the suggestion would be noise
        return [
            Finding(
                "lr_range",
                "range_test_flat",
                "info",
                f"no learning rate from 1e-7 to 10 lowered the loss by 5% in {len(finite)} "
                f"steps (from {first:.4g} to at best {lowest:.4g}): the fault is not the rate",
                {"first_loss": _round(first), "lowest_loss": _round(lowest)},
                "look at the gradient, activation and overfit-one-batch findings",
            )
        ]
    ratio = s.lr / suggested
    evidence = {
        "configured_lr": s.lr,
        "suggested_lr": _round(suggested),
        "lr_at_lowest_loss": _round(lr_at_min),
        "ratio": _round(ratio),
    }
    if s.lr > max(3 * suggested, lr_at_min / 3):
        return [
            Finding(
                "lr_range",
                "lr_too_high",
                "error",
                f"the learning rate {s.lr:g} is {ratio:.3g}x the range test's suggestion "
                f"{suggested:.3g} and near or past {lr_at_min:.3g}, where the loss stopped "
                "falling: steps overshoot",
                evidence,
                f"lower the learning rate to about {suggested / 10:.2g}-{suggested:.2g}",
            )
        ]
    if ratio < 1 / 100:
        return [
            Finding(
                "lr_range",
                "lr_too_low",
                "error",
                f"the learning rate {s.lr:g} is {1 / ratio:.3g}x below the range test's "
                f"suggestion {suggested:.3g}: the loss barely moves per step",
                evidence,
                f"raise the learning rate to about {suggested / 10:.2g}-{suggested:.2g}",
            )
        ]
    return [
        _ok(
            "lr_range",
            f"learning rate {s.lr:g} is {ratio:.3g}x the suggestion {suggested:.3g}",
            **evidence,
        )
    ]


# -- inside the network -------------------------------------------------------------------


def _weight_gradients(s: Subject, n_batches: int) -> tuple[list[str], dict[str, float]]:
    """Backward on ``n_batches`` training batches (train mode, gradients accumulated):
    the names of the trainable parameters that got no gradient (None or all zero), and,
    per weight matrix/kernel (ndim >= 2) in definition order, ``||grad|| / ||weight||``."""
    params = [(n, p) for n, p in s.model.named_parameters() if p.requires_grad]
    with s.preserved(), np.errstate(all="ignore"):
        s.model.train()
        for p in s.model.parameters():
            p.grad = None
        for x, y in s.batches(n_batches, stream=3):
            s.loss_fn(s.model(x), y).backward()
        grads = {
            n: (None if p.grad is None else p.grad.array.astype(np.float64)) for n, p in params
        }
    dead = [n for n, g in grads.items() if g is None or not np.any(g)]
    relative = {}
    for n, p in params:
        g = grads[n]
        if p.ndim >= 2 and g is not None and np.any(g):
            w = float(np.linalg.norm(p.array.astype(np.float64)))
            relative[n] = float(np.linalg.norm(g)) / n_batches / max(w, 1e-12)
    return dead, relative


def check_gradients(s: Subject, n_batches: int = 3) -> list[Finding]:
    """Per-layer gradients from a few batches (the ``.grad`` of every parameter).

    ``no_gradient``: a trainable parameter whose gradient is None or zero everywhere: it
    is cut from the loss (a ``.detach()``, a branch not used) (error).
    ``vanishing_gradients`` / ``exploding_gradients``: the relative gradient
    ``||grad|| / ||weight||`` of the first weight layer over the last's, below 1e-3 or
    above 1e3 (error beyond 1e-5 or 1e5, else warning).
    """
    dead, relative = _weight_gradients(s, n_batches)
    found: list[Finding] = []
    if dead:
        found.append(
            Finding(
                "gradients",
                "no_gradient",
                "error",
                f"{len(dead)} trainable parameter(s) receive no gradient: {', '.join(dead[:6])}"
                + (" ..." if len(dead) > 6 else ""),
                {"parameters_without_gradient": dead},
                "find where the graph is cut for them: a .detach(), .numpy()/.item() round "
                "trip, no_grad block or a layer not used in forward",
            )
        )
    if len(relative) < 2:
        return found or [_ok("gradients", "every parameter receives a gradient")]
    names = list(relative)
    ratio = relative[names[0]] / max(relative[names[-1]], 1e-300)
    evidence = {
        "first_layer": names[0],
        "last_layer": names[-1],
        "first_relative_grad": _round(relative[names[0]]),
        "last_relative_grad": _round(relative[names[-1]]),
        "first_over_last": _round(ratio),
    }
    if ratio < 1e-3:
        found.append(
            Finding(
                "gradients",
                "vanishing_gradients",
                "error" if ratio < 1e-5 else "warning",
                f"the first weight layer's relative gradient is {ratio:.2g}x the last's: "
                f"gradients vanish over the {len(names)} layers",
                evidence,
                "use ReLU-family activations instead of sigmoid/tanh in deep stacks, He "
                "initialisation, normalisation layers or residual connections",
            )
        )
    elif ratio > 1e3:
        found.append(
            Finding(
                "gradients",
                "exploding_gradients",
                "error" if ratio > 1e5 else "warning",
                f"the first weight layer's relative gradient is {ratio:.2g}x the last's: "
                f"gradients explode over the {len(names)} layers",
                evidence,
                "use a smaller weight initialisation, normalisation layers or gradient clipping",
            )
        )
    return found or [
        _ok("gradients", f"relative gradients first/last layer {ratio:.3g}", **evidence)
    ]


def _activation_fractions(s: Subject, n_batches: int) -> dict[str, tuple[str, float]]:
    """Per activation module, by name: ("dead", fraction of ReLU units (features or
    channels) that are zero for every sample of ``n_batches`` batches) or ("saturated",
    fraction of sigmoid outputs outside [0.01, 0.99] / tanh outputs beyond ±0.99)."""
    outputs: dict[str, list[np.ndarray]] = {}
    removers = []
    for name, m in s.model.named_modules():
        if isinstance(m, nn.ReLU | nn.Sigmoid | nn.Tanh):

            def hook(module: Any, inputs: Any, output: Any, name: str = name) -> None:
                outputs.setdefault(name, []).append(np.array(output.array))

            removers.append(m.register_forward_hook(hook))
    try:
        with nnlab.no_grad(), s.preserved():
            s.model.train()
            for x, _ in s.batches(n_batches, stream=4):
                s.model(x)
    finally:
        for remove in removers:
            remove()
    modules = dict(s.model.named_modules())
    result = {}
    for name, outs in outputs.items():
        a = np.concatenate(
            [o.reshape(o.shape[0], o.shape[1] if o.ndim > 1 else 1, -1) for o in outs]
        )
        m = modules[name]
        if isinstance(m, nn.ReLU):
            result[name] = ("dead", float(np.mean(~np.any(a > 0, axis=(0, 2)))))
        elif isinstance(m, nn.Sigmoid):
            result[name] = ("saturated", float(np.mean((a < 0.01) | (a > 0.99))))
        else:
            result[name] = ("saturated", float(np.mean(np.abs(a) > 0.99)))
    return result


def check_activations(s: Subject, n_batches: int = 3) -> list[Finding]:
    """Activation statistics from forward hooks on every ReLU, Sigmoid and Tanh module.

    ``dead_relu``: a ReLU layer with more than half its units zero on every sample of a few
    batches: they pass no gradient and never recover (warning).
    ``saturated_activations``: a sigmoid/tanh layer with more than half its outputs in the
    flat tails (|derivative| < 1% of its peak) (warning).
    """
    fractions = _activation_fractions(s, n_batches)
    if not fractions:
        return [_ok("activations", "no ReLU, Sigmoid or Tanh modules to inspect")]
    found = []
    dead = {n: f for n, (kind, f) in fractions.items() if kind == "dead" and f > 0.5}
    if dead:
        found.append(
            Finding(
                "activations",
                "dead_relu",
                "warning",
                f"{len(dead)} ReLU layer(s) have most units dead (zero for every sample): "
                + ", ".join(f"{n} {f:.0%}" for n, f in dead.items()),
                {"dead_fraction": {n: _round(f) for n, f in dead.items()}},
                "lower the learning rate, use He initialisation, LeakyReLU/GELU, or "
                "normalise the inputs",
            )
        )
    sat = {n: f for n, (kind, f) in fractions.items() if kind == "saturated" and f > 0.5}
    if sat:
        found.append(
            Finding(
                "activations",
                "saturated_activations",
                "warning",
                f"{len(sat)} sigmoid/tanh layer(s) are saturated: "
                + ", ".join(f"{n} {f:.0%}" for n, f in sat.items()),
                {"saturated_fraction": {n: _round(f) for n, f in sat.items()}},
                "standardise the inputs, use a smaller initialisation (Xavier/Glorot), "
                "normalisation layers or ReLU-family activations",
            )
        )
    worst = max(f for _, f in fractions.values())
    return found or [
        _ok(
            "activations",
            f"at most {worst:.0%} of a layer dead or saturated",
            layers=len(fractions),
            worst_fraction=_round(worst),
        )
    ]


# -- the data splits and the labels -------------------------------------------------------


def _row_hashes(x: np.ndarray) -> list[bytes]:
    """A digest per row of its float32 bytes (rows equal as float32 share a digest)."""
    rows = np.ascontiguousarray(np.asarray(x, dtype=np.float32).reshape(len(x), -1))
    rows = rows + np.float32(0)  # -0.0 + 0 is +0.0: the two zeros hash alike
    return [hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in rows]


def check_leakage(s: Subject) -> list[Finding]:
    """Rows of the validation and test splits that also occur in the training split
    (identical float32 values; found by hashing each row).

    ``split_leakage``: more than 1% of a split's rows are training rows (error); fewer but
    at least one (warning): the split's scores overstate generalisation.
    """
    train = set(_row_hashes(s.x_train))
    found, evidence = [], {}
    for split, x in (("validation", s.x_val), ("test", s.x_test)):
        if x is None or len(x) == 0:
            continue
        shared = sum(h in train for h in _row_hashes(x))
        evidence[f"{split}_rows_in_train"] = shared
        evidence[f"{split}_rows"] = len(x)
        if shared:
            frac = shared / len(x)
            found.append(
                Finding(
                    "leakage",
                    "split_leakage",
                    "error" if frac > 0.01 else "warning",
                    f"{shared} of {len(x)} {split} rows ({frac:.1%}) are identical to training "
                    "rows: its scores measure memory, not generalisation",
                    {
                        "split": split,
                        "shared_rows": shared,
                        "rows": len(x),
                        "fraction": _round(frac),
                    },
                    "deduplicate before splitting, and split by the unit that repeats (patient, "
                    "user, image) so no sample lands in two splits",
                )
            )
    if not evidence:
        return [_ok("leakage", "no validation or test split to compare")]
    return found or [_ok("leakage", "no validation or test row occurs in training", **evidence)]


@dataclass
class TrainingResult:
    """A short training run with the configured optimizer and learning rate: the training
    loss before, and losses and accuracies (nan where not a classifier) after, on up to
    512 rows of each split."""

    steps: int
    initial_train_loss: float
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    val_balanced_accuracy: float
    diverged: bool


def short_training(s: Subject, steps: int = 200) -> TrainingResult:
    """Train ``steps`` steps with the configured optimizer and learning rate on seeded
    batches, measure the training and validation loss and accuracy, then restore."""
    x_val, y_val = (s.x_val, s.y_val) if s.x_val is not None else (s.x_test, s.y_test)
    diverged = False
    with s.preserved(), np.errstate(all="ignore"):
        initial = s.evaluate(s.x_train, s.y_train)[0]
        s.model.train()
        for x, y in s.batches(steps, stream=5):
            s.optimizer.zero_grad()
            loss = s.loss_fn(s.model(x), y)
            if not math.isfinite(float(loss.item())):
                diverged = True
                break
            loss.backward()
            s.optimizer.step()
        train_loss, train_acc, _ = s.evaluate(s.x_train, s.y_train)
        nan = (math.nan, math.nan, math.nan)
        val = s.evaluate(x_val, y_val) if x_val is not None else nan
    diverged = diverged or not math.isfinite(train_loss)
    return TrainingResult(steps, initial, train_loss, train_acc, *val, diverged)


def check_training(s: Subject, t: TrainingResult) -> list[Finding]:
    """What a short training shows (see :func:`short_training`).

    ``training_diverged``: the loss became NaN/Inf (error).
    ``training_stalled``: the training loss fell by less than 10% (warning).
    ``generalisation_gap``: training accuracy more than 0.2 above validation accuracy, or
    for a non-classifier a validation loss more than twice the training loss (warning).
    """
    evidence = {
        "steps": t.steps,
        "initial_train_loss": _round(t.initial_train_loss),
        "train_loss": _round(t.train_loss),
        "val_loss": _round(t.val_loss),
        "train_accuracy": _round(t.train_accuracy),
        "val_accuracy": _round(t.val_accuracy),
    }
    if t.diverged:
        return [
            Finding(
                "training",
                "training_diverged",
                "error",
                f"the loss became NaN/Inf within {t.steps} training steps at lr {s.lr:g}",
                evidence,
                "lower the learning rate, standardise the inputs, clip gradients",
            )
        ]
    found = []
    if t.train_loss > 0.9 * t.initial_train_loss:
        found.append(
            Finding(
                "training",
                "training_stalled",
                "warning",
                f"{t.steps} steps moved the training loss only from {t.initial_train_loss:.4g} "
                f"to {t.train_loss:.4g}",
                evidence,
                "see the learning-rate and gradient findings; train longer if none",
            )
        )
    if math.isnan(t.train_accuracy):
        gap = t.val_loss > 2 * t.train_loss + 1e-12
    else:
        gap = t.train_accuracy - t.val_accuracy > 0.2
    if gap:
        found.append(
            Finding(
                "training",
                "generalisation_gap",
                "warning",
                f"after {t.steps} steps training accuracy {t.train_accuracy:.3f} / loss "
                f"{t.train_loss:.4g} against validation {t.val_accuracy:.3f} / {t.val_loss:.4g}: "
                "the model memorises",
                evidence,
                "more data or augmentation, regularisation (weight decay, dropout), a "
                "smaller model, early stopping",
            )
        )
    return found or [
        _ok(
            "training",
            f"{t.steps} steps took the training loss from "
            f"{t.initial_train_loss:.4g} to {t.train_loss:.4g}",
            **evidence,
        )
    ]


def _chance_bound(y_val: np.ndarray) -> tuple[float, float]:
    """(chance, bound): the balanced accuracy 1/C of any predictor that ignores the inputs
    (C classes in ``y_val``), and 3 standard errors above it,
    ``1/C + 3 sqrt(sum_k (1/C)(1 - 1/C) / n_k) / C`` for ``n_k`` rows of class k."""
    _, counts = np.unique(np.asarray(y_val).reshape(-1), return_counts=True)
    p = 1 / len(counts)
    return p, p + 3 * math.sqrt(np.sum(p * (1 - p) / counts)) / len(counts)


def _probe_accuracy(s: Subject, x_val: np.ndarray, y_val: np.ndarray, k: int = 5) -> float:
    """Balanced validation accuracy of a k-nearest-neighbour classifier (k = 5, Euclidean
    distance on training-standardised features, up to 2000 training rows): a model-free
    probe of whether the labels can be read from the inputs at all."""
    xt = np.asarray(s.x_train, dtype=np.float64).reshape(len(s.x_train), -1)[:2000]
    yt = np.asarray(s.y_train).reshape(-1)[:2000].astype(np.int64)
    xv = np.asarray(x_val, dtype=np.float64).reshape(len(x_val), -1)
    mu, sd = xt.mean(0), xt.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    xt, xv = (xt - mu) / sd, (xv - mu) / sd
    d2 = (xv**2).sum(1)[:, None] - 2 * xv @ xt.T + (xt**2).sum(1)[None, :]
    nearest = np.argsort(d2, axis=1)[:, : min(k, len(xt))]
    pred = np.array([np.bincount(votes).argmax() for votes in yt[nearest]])
    return balanced_accuracy(np.asarray(y_val).astype(np.int64), pred)


def check_labels(s: Subject, t: TrainingResult) -> list[Finding]:
    """Whether the labels carry a learnable signal: a model-free k-NN probe and the short
    training's model, both scored by balanced accuracy on (up to 512 rows of) the
    validation split, against chance 1/C.

    ``no_label_signal``: both at or below chance plus 3 standard errors (error): the labels
    are unrelated to the inputs (shuffled, misaligned with their rows). When that bound
    is above halfway from chance to perfect (too few rows of some class), the check is
    inconclusive and says so (``inconclusive``, info).
    """
    x_val, y_val = (s.x_val, s.y_val) if s.x_val is not None else (s.x_test, s.y_test)
    if not s.classes or x_val is None:
        return [_ok("labels", "not a classifier with a validation split: not probed")]
    x_val, y_val = x_val[:512], y_val[:512]
    chance, bound = _chance_bound(y_val)
    probe = _probe_accuracy(s, x_val, y_val)
    trained = t.val_balanced_accuracy if math.isfinite(t.val_balanced_accuracy) else 0.0
    evidence = {
        "chance_balanced_accuracy": _round(chance),
        "chance_bound": _round(bound),
        "knn_probe_balanced_accuracy": _round(probe),
        "short_training_balanced_accuracy": _round(trained),
    }
    if bound >= (1 + chance) / 2:
        return [
            Finding(
                "labels",
                "inconclusive",
                "info",
                f"too few validation rows of some class to tell signal from chance (a "
                f"chance score could reach {bound:.3f}): not judged",
                evidence,
            )
        ]
    if probe <= bound and trained <= bound:
        return [
            Finding(
                "labels",
                "no_label_signal",
                "error",
                f"neither a k-NN probe ({probe:.3f}) nor the briefly trained model "
                f"({trained:.3f}) beats chance ({chance:.3f}, balanced accuracy) on "
                "validation: the labels carry no signal about the inputs",
                evidence,
                "check that labels stay aligned with their rows (a shuffle or sort applied to "
                "one array only, a join on the wrong key)",
            )
        ]
    return [
        _ok(
            "labels",
            f"labels are predictable: k-NN probe {probe:.3f} against chance {chance:.3f} "
            "(balanced accuracy)",
            **evidence,
        )
    ]
