"""Does a model exported to ONNX compute the same thing in another runtime?

Four families trained briefly on the digits (an MLP, a small CNN, a GRU that reads the
image row by row, a transformer encoder over the rows) are exported with
:func:`nnlab.onnx.export` and run by onnxruntime on the held-out rows: the logits, the
predicted classes and the accuracy of the two runtimes side by side, and the time per
batch of each (reported as numbers, not claimed: they depend on the machine).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort

import nnlab
from experiments.common import digits, train_steps
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.models.text_classifiers import RecurrentClassifier
from nnlab.onnx import export

BATCH_SIZES = (1, 64)


def mlp() -> nn.Module:
    return nn.MLP(64, [64], 10)


def cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 10),
    )  # fmt: skip


def gru() -> nn.Module:
    return RecurrentClassifier(10, cell="gru", hidden_size=32, input_size=8)


def transformer() -> nn.Module:
    layer = nn.TransformerEncoderLayer(16, 2, 32, dropout=0.0, batch_first=True)
    return nn.Sequential(
        nn.Linear(8, 16), nn.TransformerEncoder(layer, 1), nn.Flatten(), nn.Linear(8 * 16, 10)
    )


# Each family's builder and the layout it reads the 8x8 image in.
FAMILIES: dict[str, tuple[Callable[[], nn.Module], Callable[[np.ndarray], np.ndarray]]] = {
    "mlp": (mlp, lambda x: x),
    "cnn": (cnn, lambda x: x.reshape(-1, 1, 8, 8)),
    "gru": (gru, lambda x: x.reshape(-1, 8, 8).transpose(0, 2, 1).copy()),  # (N, C=8, L=8 rows)
    "transformer": (transformer, lambda x: x.reshape(-1, 8, 8)),  # 8 row tokens of 8 pixels
}


def seconds_per_batch(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, reps: int):
    """Median wall-clock seconds of one call on a batch (the first call, a warm-up, aside)."""
    predict(x)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        predict(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def export_and_compare(model: nn.Module, x_test: np.ndarray, reps: int) -> dict[str, object]:
    """Export ``model``, run both runtimes on ``x_test``; their logits and batch times."""
    buffer = io.BytesIO()
    export(model, nnlab.tensor(x_test[:2]), buffer)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    model.eval()

    def with_nnlab(x: np.ndarray) -> np.ndarray:
        with nnlab.no_grad():
            return model(nnlab.tensor(x)).numpy()

    def with_onnxruntime(x: np.ndarray) -> np.ndarray:
        return session.run(None, {"input": x})[0]

    times = {
        (runtime, b): seconds_per_batch(fn, x_test[:b], reps)
        for runtime, fn in (("nnlab", with_nnlab), ("onnxruntime", with_onnxruntime))
        for b in BATCH_SIZES
    }
    return {"nnlab": with_nnlab(x_test), "onnxruntime": with_onnxruntime(x_test), "times": times}


@experiment(
    "onnx-export",
    answers=["deployment-challenges"],
    quick=dict(steps=40, n_seeds=2, reps=3),
    full=dict(steps=400, n_seeds=3, reps=30),
)
def onnx_export(run: Run, steps: int, n_seeds: int, reps: int) -> None:
    """Does a network exported to ONNX give the same predictions in onnxruntime?"""
    x, y = digits()
    split = run.rng(0).permutation(len(x))
    train, test = split[:1400], split[1400:]
    records = {name: [] for name in FAMILIES}
    for seed in run.seeds(n_seeds):
        order = np.random.default_rng(seed).integers(0, len(train), size=(steps, 32))
        for name, (build, layout) in FAMILIES.items():
            nnlab.manual_seed(seed)
            model = build()
            opt = nnlab.optim.Adam(model.parameters(), lr=0.003)
            train_steps(model, opt, layout(x[train]), y[train], order, log_every=steps)
            records[name].append(export_and_compare(model, layout(x[test]), reps))

    rows, worst_rel, agreement, acc_gap = [], {}, {}, {}
    for name, recs in records.items():
        rel = [np.abs(r["onnxruntime"] - r["nnlab"]).max() / (1 + np.abs(r["nnlab"]).max())
               for r in recs]  # fmt: skip
        agree = [np.mean(r["onnxruntime"].argmax(1) == r["nnlab"].argmax(1)) for r in recs]
        acc = {rt: [np.mean(r[rt].argmax(1) == y[test]) for r in recs]
               for rt in ("nnlab", "onnxruntime")}  # fmt: skip
        gap = max(abs(a - b) for a, b in zip(acc["nnlab"], acc["onnxruntime"], strict=True))
        worst_rel[name], agreement[name], acc_gap[name] = max(rel), min(agree), gap
        ms = {key: 1e3 * np.mean([r["times"][key] for r in recs]) for key in recs[0]["times"]}
        for key, value in ms.items():
            run.number(f"{name}_{key[0]}_ms_batch{key[1]}", round(value, 4))
        run.number(f"{name}_max_relative_logit_difference", float(f"{max(rel):.3g}"))
        run.number(f"{name}_class_agreement_min", round(min(agree), 4))
        rows.append((name, f"{max(rel):.2e}", round(min(agree), 4),
                     round(float(np.mean(acc["nnlab"])), 4),
                     round(float(np.mean(acc["onnxruntime"])), 4),
                     *(round(ms[rt, b], 3) for rt in ("nnlab", "onnxruntime")
                       for b in BATCH_SIZES)))  # fmt: skip
    timing_columns = [
        f"{rt} ms/batch of {b}" for rt in ("nnlab", "onnxruntime") for b in BATCH_SIZES
    ]
    run.table(
        f"nnlab against onnxruntime on {len(test)} held-out digits ({n_seeds} seeds)",
        ("model", "max |Δlogit| / (1 + max|logit|)", "class agreement (min)",
         "nnlab accuracy", "onnxruntime accuracy", *timing_columns),
        rows,
    )  # fmt: skip

    fig = run.figure("agreement", "Largest logit difference between the runtimes, per model")
    ax = fig.subplots()
    names = list(FAMILIES)
    ax.bar(names, [max(worst_rel[n], 1e-12) for n in names], color="C0")
    ax.axhline(1e-4, color="C3", linestyle=":", label="claim threshold 1e-4")
    ax.set_yscale("log")
    ax.set_ylabel("max |Δlogit| / (1 + max|logit|)")
    ax.legend()

    worst = max(worst_rel.values())
    run.claim(
        "For every family and seed, onnxruntime's logits equal nnlab's within 1e-4 relative "
        "to the largest logit (float32 rounding, no semantic difference)",
        worst <= 1e-4,
        f"worst relative difference {worst:.2e}",
    )
    lowest = min(agreement.values())
    run.claim(
        "Both runtimes predict the same class on at least 99.5% of the held-out digits for "
        "every family and seed",
        lowest >= 0.995,
        f"lowest agreement {lowest:.4f}",
    )
    gap = max(acc_gap.values())
    run.claim(
        "The accuracy of the exported model differs from nnlab's by at most 0.5 points",
        gap <= 0.005,
        f"largest accuracy gap {gap:.4f}",
    )
    speed = ", ".join(
        f"{n}: {1e3 * np.mean([r['times']['nnlab', 64] for r in records[n]]):.2f} ms in nnlab "
        f"against {1e3 * np.mean([r['times']['onnxruntime', 64] for r in records[n]]):.2f} ms "
        "in onnxruntime"
        for n in names
    )
    run.answer(
        f"One of the problems of deployment is that the serving runtime is not the training "
        f"one. Exported to ONNX and run by onnxruntime, the four models' logits differed from "
        f"nnlab's by at most {worst:.1e} relative to the largest logit, the predicted class "
        f"agreed on at least {lowest:.2%} of the held-out digits and the accuracy by at most "
        f"{gap:.2%}. A batch of 64 took {speed} on this machine."
    )
