"""Where neural networks are used: one small worked problem per field, each against the
baseline a practitioner would try first.

* vision: reading handwritten digits with a small CNN (8x8 images, ten classes);
* language: the sentiment of generated social-media posts from their word counts;
* medicine (tabular data): diagnosing breast tumours from 30 measured cell features;
* time series: forecasting the next twelve steps of a seasonal series with a trend.

Classifiers are compared with always answering the most frequent class, the forecaster
with repeating the last value and with repeating the last season. Every field is run on
several seeds (data split and initial weights); the spread is reported. Larger worked
applications are separate experiments: ``digits-transfer`` (vision),
``sentiment-transfer`` (language), ``siamese-digits`` (verification).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

import nnlab
from experiments.lab.core import Run, experiment
from experiments.text_transfer import bag_of_words_counts
from experiments.vision_transfer import digits_cnn
from nnlab import nn, optim
from nnlab.data.datasets import (
    load_breast_cancer,
    load_digits,
    load_sentiment,
    make_seasonal_series,
    make_windows,
    naive_forecast,
    standardized_split,
)
from nnlab.train import fit


def train_classifier(
    model: nn.Module, x: np.ndarray, y: np.ndarray, epochs: int, seed: int
) -> nn.Module:
    """Adam with cross-entropy through :func:`nnlab.train.fit`; the model in eval mode."""
    nnlab.manual_seed(seed)  # the batch order
    fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2), (x, y),
        epochs=epochs, batch_size=32, verbose=False)  # fmt: skip
    return model.eval()


def accuracy_of(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with nnlab.no_grad():
        return float((model(nnlab.tensor(x)).numpy().argmax(axis=1) == y).mean())


def majority_accuracy(y_train: np.ndarray, y_test: np.ndarray) -> float:
    """Accuracy of always answering the training set's most frequent class."""
    return float((y_test == np.bincount(y_train).argmax()).mean())


def mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def digits_field(seed: int, epochs: int) -> tuple[float, float]:
    """Vision: a CNN on 8x8 digit images; (network accuracy, majority accuracy)."""
    images, labels = load_digits()
    x = (images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    order = np.random.default_rng(seed).permutation(len(labels))
    train, test = order[: int(0.8 * len(order))], order[int(0.8 * len(order)) :]
    nnlab.manual_seed(seed)
    model = train_classifier(digits_cnn(10), x[train], labels[train], epochs, seed)
    return (accuracy_of(model, x[test], labels[test]),
            majority_accuracy(labels[train], labels[test]))  # fmt: skip


def sentiment_field(seed: int, epochs: int) -> tuple[float, float]:
    """Language: an MLP on the word counts of generated posts, scored on new generated posts."""
    data = load_sentiment(seed=seed, n_train=1000, n_val=500)
    train, test = data["train"], data["val"]
    counts = bag_of_words_counts(train.texts, train.texts + test.texts)
    nnlab.manual_seed(seed)
    model = mlp(counts.shape[1], 32, 2)
    model = train_classifier(model, counts[: len(train)], train.labels, epochs, seed)
    return (accuracy_of(model, counts[len(train) :], test.labels),
            majority_accuracy(train.labels, test.labels))  # fmt: skip


def diagnosis_field(seed: int, epochs: int) -> tuple[float, float]:
    """Medicine: an MLP on standardised cell measurements (malignant or benign)."""
    (x_train, x_test, y_train, y_test), _ = standardized_split(*load_breast_cancer(), seed=seed)
    y_train, y_test = y_train.astype(np.int64), y_test.astype(np.int64)
    nnlab.manual_seed(seed)
    model = train_classifier(mlp(x_train.shape[1], 32, 2), x_train, y_train, epochs, seed)
    return accuracy_of(model, x_test, y_test), majority_accuracy(y_train, y_test)


def forecasting_field(seed: int, epochs: int) -> tuple[float, float, float]:
    """Time series: an MLP reads 48 steps and forecasts the next 12, predicting changes from
    the last value; (network MAE, last-value MAE, last-season MAE) on the final 20%."""
    period, input_len, horizon = 24, 48, 12
    series = make_seasonal_series(1200, period=period, seed=seed)
    x, y = make_windows(series, input_len, horizon)
    cut = int(0.8 * len(x))
    last = x[:, -1:]
    nnlab.manual_seed(seed)
    model = mlp(input_len, 64, horizon)
    fit(model, "mse", optim.Adam(model.parameters(), lr=1e-3),
        (x[:cut] - last[:cut], y[:cut] - last[:cut]), epochs=epochs, batch_size=32,
        verbose=False)  # fmt: skip
    model.eval()
    with nnlab.no_grad():
        forecast = model(nnlab.tensor(x[cut:] - last[cut:])).numpy() + last[cut:]
    test = y[cut:]
    return (
        float(np.abs(forecast - test).mean()),
        float(np.abs(naive_forecast(x[cut:], horizon) - test).mean()),
        float(np.abs(naive_forecast(x[cut:], horizon, period) - test).mean()),
    )


#: field -> (task, how the network is scored, the function measuring it)
CLASSIFICATION: dict[str, tuple[str, Callable[[int, int], tuple[float, float]]]] = {
    "vision": ("handwritten digits, ten classes, with a CNN", digits_field),
    "language": ("sentiment of posts, with an MLP on word counts", sentiment_field),
    "medicine": ("breast tumour diagnosis, with an MLP", diagnosis_field),
}


@experiment(
    "application-tour",
    answers=["applications"],
    quick=dict(n_seeds=2, epochs=4, forecast_epochs=10),
    full=dict(n_seeds=5, epochs=15, forecast_epochs=40),
)
def application_tour(run: Run, n_seeds: int, epochs: int, forecast_epochs: int) -> None:
    """In which fields do neural networks work, and how much better than a simple baseline?"""
    seeds = run.seeds(n_seeds)
    acc = {f: np.array([fn(s, epochs) for s in seeds]) for f, (_, fn) in CLASSIFICATION.items()}
    mae = np.array([forecasting_field(s, forecast_epochs) for s in seeds])

    rows = []
    for field, (task, _) in CLASSIFICATION.items():
        net, base = acc[field][:, 0], acc[field][:, 1]
        run.number(f"{field}_accuracy_mean", round(float(net.mean()), 4))
        run.number(f"{field}_accuracy_std", round(float(net.std()), 4))
        run.number(f"{field}_majority_accuracy", round(float(base.mean()), 4))
        rows.append((field, task, "accuracy", round(float(net.mean()), 4),
                     round(float(net.std()), 4), "most frequent class",
                     round(float(base.mean()), 4)))  # fmt: skip
    names = ("network", "last value", "last season")
    for j, name in enumerate(names):
        run.number(f"forecast_mae_{name.replace(' ', '_')}", round(float(mae[:, j].mean()), 4))
    for j in (1, 2):
        rows.append(("time series", "seasonal series, 12 steps ahead (MLP)", "MAE",
                     round(float(mae[:, 0].mean()), 4), round(float(mae[:, 0].std()), 4),
                     names[j], round(float(mae[:, j].mean()), 4)))  # fmt: skip
    run.table(
        f"One worked problem per field, network against a simple baseline ({n_seeds} seeds)",
        ("field", "task", "metric", "network mean", "network std", "baseline", "baseline mean"),
        rows,
    )
    _plot(run, acc, mae, names)

    margin = min(float((acc[f][:, 0] - acc[f][:, 1]).min()) for f in CLASSIFICATION)
    run.claim(
        "In vision, language and medicine the network's accuracy beats always answering the "
        "most frequent class by at least 0.2, for every seed",
        margin >= 0.2,
        f"smallest margin {margin:.3f}",
        quick=False,
    )
    ratio = float((mae[:, 0] / mae[:, 1]).max())
    run.claim(
        "The forecasting network's mean absolute error is at most 0.8 times that of repeating "
        "the last value, for every seed",
        ratio <= 0.8,
        f"largest ratio {ratio:.3f}",
    )
    run.claim(
        "The forecasting network also beats repeating the last season (mean MAE over seeds)",
        mae[:, 0].mean() < mae[:, 2].mean(),
        f"network {mae[:, 0].mean():.3f}, last season {mae[:, 2].mean():.3f}",
        quick=False,
    )
    parts = [
        f"{field} ({task}): {acc[field][:, 0].mean():.3f} accuracy against "
        f"{acc[field][:, 1].mean():.3f} for the most frequent class"
        for field, (task, _) in CLASSIFICATION.items()
    ]
    run.answer(
        "Neural networks are used wherever a mapping from raw inputs to answers can be learned "
        "from examples: images, text, measurements, sequences over time. One small problem per "
        f"field, mean over {n_seeds} seeds: {'; '.join(parts)}; time series (a 12-step "
        f"forecast, with an MLP): mean absolute error {mae[:, 0].mean():.3f} against "
        f"{mae[:, 1].mean():.3f} for repeating the last value and {mae[:, 2].mean():.3f} for "
        "repeating the last season. Worked applications in more depth: digits-transfer "
        "(reading digits, reusing a trained CNN), sentiment-transfer (judging posts with a "
        "pretrained text encoder), siamese-digits (verifying whether two images show the same "
        "thing)."
    )


def _plot(run: Run, acc: dict[str, np.ndarray], mae: np.ndarray, names: tuple[str, ...]) -> None:
    """Network against baseline per field: accuracies (left), forecast errors (right)."""
    fig = run.figure(
        "fields", "Left: test accuracy of the network and of the most frequent class per "
        "field. Right: forecast MAE of the network and the naive forecasts. Dots are seeds.",
        width=9.0, height=3.6,
    )  # fmt: skip
    ax_acc, ax_mae = fig.subplots(1, 2, width_ratios=(3, 2))
    for i, values in enumerate(acc.values()):
        for j, label in enumerate(("network", "most frequent class")):
            x = i + 0.2 * (2 * j - 1)
            ax_acc.bar(x, values[:, j].mean(), width=0.4, color=f"C{j}",
                       label=label if i == 0 else None)  # fmt: skip
            ax_acc.scatter([x] * len(values), values[:, j], color="k", s=8)
    ax_acc.set_xticks(range(len(acc)), list(acc))
    ax_acc.set_ylabel("test accuracy")
    ax_acc.legend(fontsize=8)
    for j in range(len(names)):
        ax_mae.bar(j, mae[:, j].mean(), color=f"C{j}")
        ax_mae.scatter([j] * len(mae), mae[:, j], color="k", s=8)
    ax_mae.set_xticks(range(len(names)), list(names))
    ax_mae.set_ylabel("forecast MAE (time series)")
