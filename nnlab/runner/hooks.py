"""What some runs do beyond the general path (data → model → training loop → metrics and
plots), each behind a flag of the model's registry entry or behind its task:

- **models that fit themselves** (entry ``own_fit``: Rosenblatt's perceptron rule) need
  no loss, optimizer or gradients: ``model.fit(x, y, epochs=, lr=)`` trains, its
  ``errors_`` (mistakes per epoch) are the history, ``model.predict(x)`` the labels;
- **seq2seq** (the dates task): after teacher-forced training, the real test is the
  model writing each answer on its own (greedy exact match); its plots show where the
  decoder looked, and it predicts ISO dates from date strings;
- **metric_learning**: the model's outputs are embeddings, trained with batch-hard
  triplets; what counts is how well distances in them tell classes apart (the pair AUC,
  leave-one-out nearest-neighbour accuracy), shown as a 2-D projection and the distance
  histograms of same-class and different-class pairs.

The reconstruction and generation tasks train with loops of their own
(:mod:`nnlab.runner.generative`).

Pretrained encoders (entry ``pretrained``) change only where their token ids come from
(:func:`nnlab.runner.data.pretrained_token_ids`) and that their frozen weights stay out of
checkpoints (``save_frozen``/``skip_frozen``, set by the training and inference modules).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import nnlab
import nnlab.io
from nnlab import analysis
from nnlab import metrics as M
from nnlab.analysis import plots as P
from nnlab.config import RunConfig
from nnlab.data.datasets import (
    DATE_SOURCE_VOCAB,
    DATE_TARGET_VOCAB,
    decode_dates,
    encode_date_sources,
)
from nnlab.models.seq2seq import exact_match
from nnlab.runner import run_files as F
from nnlab.runner.data import Splits, as_texts

__all__ = ["TaskHooks", "task_hooks", "fit_own", "own_fit_metrics", "own_fit_predict"]


# -- models that fit themselves (the perceptron rule) -------------------------------------


def own_fit_metrics(model: Any, x: Any, y: Any) -> dict[str, float]:
    """Accuracy of the labels ``model.predict(x)``."""
    return {"accuracy": float((model.predict(x).array == np.asarray(y)).mean())}


def own_fit_predict(model: Any, x: Any) -> dict[str, np.ndarray]:
    return {"prediction": model.predict(x).array}


def fit_own(
    model: Any, cfg: RunConfig, s: Splits, run_dir: Path, verbose: bool
) -> tuple[dict[str, dict[str, float]], dict[str, list[int]], dict[str, Any]]:
    """Train with the model's own ``fit`` (the perceptron's takes milliseconds; its
    per-epoch lines, mistakes made, are printed after it) and write the run's files.
    Returns (metrics per split, history, run info)."""
    model.fit(s.x_train, s.y_train, epochs=cfg.training.epochs, lr=cfg.optimizer.lr)
    errors = [int(e) for e in model.errors_]
    if verbose:
        for i, e in enumerate(errors):
            print(f"epoch {i + 1}/{cfg.training.epochs}  errors {e}", flush=True)
        if errors and errors[-1] == 0 and len(errors) < cfg.training.epochs:
            print(f"converged: no mistakes in epoch {len(errors)}, stopped", flush=True)
    splits = {"train": (s.x_train, s.y_train), "test": (s.x_test, s.y_test)}
    if s.x_val is not None:
        splits["validation"] = (s.x_val, s.y_val)
    metrics = {name: own_fit_metrics(model, x, y) for name, (x, y) in splits.items()}
    nnlab.io.save_weights(model, run_dir / "model.safetensors")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    rows = [{"epoch": i + 1, "errors": e} for i, e in enumerate(errors)]
    (run_dir / "history.json").write_text(json.dumps({"epochs": rows}, indent=1))
    (run_dir / "history.csv").write_text(
        "epoch,errors\n" + "".join(f"{r['epoch']},{r['errors']}\n" for r in rows)
    )
    info = {"epochs_trained": len(errors), "converged": bool(errors and errors[-1] == 0)}
    (run_dir / "run.json").write_text(json.dumps(info, indent=1))
    analysis.plot_perceptron_errors(errors, run_dir / "plots" / "errors.png")
    F.write_digests(run_dir)
    return metrics, {"errors_per_epoch": errors}, info


# -- tasks --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskHooks:
    """What a task adds to the general path; None: nothing.

    ``split_metrics(model, x, y)``: metrics added to each split's final ones.
    ``plots(model, x_test, y_test, folder)``: the task's figures, instead of the general
    ones.
    ``predict(model, inputs)``: predictions from raw inputs, instead of the general ones.
    """

    split_metrics: Callable[[Any, Any, np.ndarray], dict[str, float]] | None = None
    plots: Callable[[Any, Any, np.ndarray, Path], None] | None = None
    predict: Callable[[Any, Any], dict[str, np.ndarray]] | None = None


def _greedy_exact_match(model: Any, x: Any, target_out: np.ndarray) -> dict[str, float]:
    """The share of sources whose greedy decoding equals the target exactly."""
    source = x[0]  # x is (source, target_in): the model decodes without target_in
    model.eval()
    hits = 0.0
    for i in range(0, len(source), 500):
        ids, _ = model.greedy_decode(nnlab.tensor(source[i : i + 500]),
                                     max_len=target_out.shape[1] + 1)  # fmt: skip
        rows = target_out[i : i + 500]
        hits += exact_match(ids.numpy(), rows, model.eos_idx, model.pad_idx) * len(rows)
    return {"exact_match": hits / len(source)}


def _attention_plots(model: Any, x_test: Any, y_test: np.ndarray, plots: Path) -> None:
    """Where the decoder looked while writing each output character, for a few inputs."""
    source = x_test[0][:3]
    model.eval()
    ids, weights = model.greedy_decode(nnlab.tensor(source), max_len=12)
    outputs = decode_dates(ids.numpy(), DATE_TARGET_VOCAB)
    for k, (row, text) in enumerate(zip(source, outputs)):
        src = [DATE_SOURCE_VOCAB[i] for i in row if i != 0]
        title = f"{''.join(src)} → {text}"
        analysis.plot_attention(weights.numpy()[k], src, list(text) + ["<eos>"],
                                plots / f"attention_{k}.png", title=title)  # fmt: skip


def _predict_dates(model: Any, inputs: Any) -> dict[str, np.ndarray]:
    """Date strings in, ISO dates out."""
    ids, _ = model.greedy_decode(nnlab.tensor(encode_date_sources(as_texts(inputs))), max_len=12)
    return {"prediction": np.array(decode_dates(ids.numpy(), DATE_TARGET_VOCAB))}


def _embed(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's embeddings of ``x`` (float64), eval mode, without gradients."""
    model.eval()
    with nnlab.no_grad():
        parts = [model(nnlab.from_numpy(x[i : i + 512])).numpy() for i in range(0, len(x), 512)]
    return np.concatenate(parts).reshape(len(x), -1).astype(np.float64)


def _pair_distances(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Euclidean distances of all pairs i < j, and whether each pair shares a class."""
    sq = (z * z).sum(1)
    d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0))
    i, j = np.triu_indices(len(z), k=1)
    return d[i, j], y[i] == y[j]


def _embedding_metrics(model: Any, x: Any, y: np.ndarray) -> dict[str, float]:
    """How well embedding distances tell classes apart, within one split:

    - ``pair_auc``: ROC-AUC of −distance for "same class" over all pairs (verification);
    - ``knn_accuracy``: leave-one-out 1-nearest-neighbour accuracy (each sample takes the
      class of its nearest other sample)."""
    z, y = _embed(model, np.asarray(x)), np.asarray(y)
    distances, same = _pair_distances(z, y)
    sq = (z * z).sum(1)
    d = sq[:, None] + sq[None, :] - 2 * z @ z.T
    np.fill_diagonal(d, np.inf)
    return {
        "pair_auc": float(M.roc_auc_score(same.astype(np.int64), -distances)),
        "knn_accuracy": float((y[d.argmin(1)] == y).mean()),
    }


def _embedding_plots(model: Any, x_test: Any, y_test: np.ndarray, plots: Path) -> None:
    """The test embeddings projected on their first two principal components, coloured by
    class, and the distances of same-class and different-class pairs."""
    z = _embed(model, np.asarray(x_test))
    centred = z - z.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    points = centred @ vt[:2].T if len(vt) >= 2 else np.column_stack([centred[:, 0], 0 * z[:, 0]])
    P.plot_embedding(points, y_test, plots / "embedding_pca.png",
                     title="test embeddings (first two principal components)")  # fmt: skip
    distances, same = _pair_distances(z, np.asarray(y_test))
    P.plot_distance_histogram(distances[same], distances[~same], plots / "distances.png")


def _no_predictions(task: str, why: str) -> Callable[[Any, Any], dict[str, np.ndarray]]:
    def refuse(model: Any, inputs: Any) -> dict[str, np.ndarray]:
        raise ValueError(f"a {task} run {why}")

    return refuse


_TASK_HOOKS = {
    "seq2seq": TaskHooks(_greedy_exact_match, _attention_plots, _predict_dates),
    "metric_learning": TaskHooks(
        _embedding_metrics, _embedding_plots,
        _no_predictions("metric_learning", "maps inputs to embeddings, not to predictions; "
                        "`nnlab evaluate RUN` measures them (pair AUC, nearest-neighbour "
                        "accuracy)"),
    ),
    "generation": TaskHooks(
        predict=_no_predictions("generation", "draws new samples and predicts nothing for "
                                "inputs; its samples are in the run folder's plots/"),
    ),
}  # fmt: skip
_NONE = TaskHooks()


def task_hooks(task: str) -> TaskHooks:
    """The hooks of ``task`` (all None for a task without any)."""
    return _TASK_HOOKS.get(task, _NONE)
