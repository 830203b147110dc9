"""Use a finished run: re-evaluate its kept model, or predict for new feature rows (or new
texts, for a run on a text dataset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import nnlab
import nnlab.io
from nnlab import nn, optim
from nnlab.config import RunConfig, parse_config
from nnlab.models.registry import model_entry
from nnlab.runner import builders as B
from nnlab.runner import data as D
from nnlab.runner import generative as G
from nnlab.runner import hooks as H
from nnlab.runner import run_files as F
from nnlab.text import Vocab
from nnlab.train import Trainer
from nnlab.train.checkpoint import load_model_state

__all__ = ["evaluate_run", "predict_run", "run_reads_texts"]


_RETRAIN = "the run's config no longer matches its weights; restore config.json, or train a new run"


def load_run(run_dir: str | Path) -> tuple[RunConfig, nn.Module, dict[str, Any]]:
    """The run's config, its kept model (eval mode) and its preprocessing, every file
    checked against the run's digests (see :mod:`nnlab.runner.run_files`)."""
    run_dir = Path(run_dir)
    for name in ("config.json", "preprocessing.json", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(
                f"{run_dir} is not a finished run folder (no {name}); train it with "
                "`nnlab train CONFIG` or resume it with `nnlab train --resume RUN_DIR`"
            )
    manifest = F.read_manifest(run_dir)
    cfg, _ = F.load_run_config(run_dir, manifest)  # training.epochs edits do not matter here
    prep = _preprocessing(run_dir, manifest)
    if "vocab_size" in prep and "tokenizer" not in prep:
        F.verify_run_file(run_dir, "vocab.json", manifest)
    # A fitted vocabulary's size is saved; a dataset's fixed alphabet is not.
    vocab_size = prep.get("vocab_size", D.fixed_vocab_size(cfg))
    try:
        model = B.build_model(
            cfg, tuple(prep["input_shape"]), B.output_size(cfg, prep["n_classes"]), vocab_size
        )
    except (ValueError, TypeError) as exc:  # a shape the config's model cannot take
        raise F.RunFileError(f"{run_dir}: cannot rebuild the model ({exc}); {_RETRAIN}") from None
    weights = F.verify_run_file(run_dir, "model.safetensors", manifest)
    load_model_state(model, nnlab.io.load_weights(weights), str(weights),
                     skip_frozen=model_entry(cfg.model.type).pretrained is not None,
                     hint=_RETRAIN)  # fmt: skip
    model.eval()
    return cfg, model, prep


def _preprocessing(run_dir: Path, manifest: dict[str, Any] | None) -> dict[str, Any]:
    path = run_dir / "preprocessing.json"
    try:
        prep = json.loads(F.read_run_file(run_dir, "preprocessing.json", manifest))
        missing = [k for k in ("n_classes", "input_shape", "n_features") if k not in prep]
    except (ValueError, UnicodeDecodeError, TypeError) as exc:
        raise F.RunFileError(f"{path} is not valid JSON: {exc}") from None
    if missing:
        raise F.RunFileError(f"{path} lacks the keys {', '.join(missing)}")
    return prep


def run_reads_texts(run_dir: str | Path) -> bool:
    """Whether a run's model reads texts (a text or dates run) rather than numbers; False
    for a folder that is not a readable run (loading it says what is wrong)."""
    try:
        cfg = parse_config(json.loads((Path(run_dir) / "config.json").read_bytes()))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return cfg.data_input() in ("tokens", "token_pairs")


def evaluate_run(run_dir: str | Path) -> dict[str, float]:
    """Loss and metrics of a finished run's kept model on its test split."""
    cfg, model, _ = load_run(run_dir)
    s = D.make_splits(cfg)
    if model_entry(cfg.model.type).loop is not None:
        return G.generative_metrics(cfg, model, G.model_inputs(cfg, s.x_test))
    if model_entry(cfg.model.type).own_fit:
        return H.own_fit_metrics(model, s.x_test, s.y_test)
    loss_fn = B.build_loss(cfg, s.y_train, s.n_classes)
    trainer = Trainer(model, loss_fn, optim.SGD(model.parameters(), lr=0.0),
                      metrics=cfg.training.metrics, verbose=False)  # fmt: skip
    metrics = trainer.evaluate(D.make_loader(cfg, s.x_test, s.y_test, False))
    if cfg.task == "metric_learning":  # the final metrics training added, recomputed
        metrics.update(H.task_hooks(cfg.task).split_metrics(model, s.x_test, s.y_test))
    return metrics


def _scale(prep: dict[str, Any], x: np.ndarray) -> np.ndarray:
    stats = prep.get("statistics")
    if not stats:
        return x
    if prep["scaler"] == "StandardScaler":
        return (x - np.asarray(stats["mean_"])) / np.asarray(stats["scale_"])
    return x * np.asarray(stats["scale_"]) + np.asarray(stats["min_"])


def _first_bad(x: np.ndarray, bad: np.ndarray) -> str:
    index = tuple(int(i) for i in np.argwhere(bad)[0])
    count = int(bad.sum())
    more = f" ({count} values in all)" if count > 1 else ""
    return f"inputs{list(index)} = {float(x[index])!r}{more}"


def _check_finite(x: np.ndarray, after: str = "") -> None:
    """NaN, ±inf and values beyond float32 (the model's dtype) have no prediction."""
    big = np.finfo(np.float32).max
    if not np.isfinite(x).all():
        raise ValueError(
            f"{_first_bad(x, ~np.isfinite(x))} is not a finite number{after}; every input "
            "value must be finite"
        )
    if (np.abs(x) > big).any():
        raise ValueError(
            f"{_first_bad(x, np.abs(x) > big)} overflows float32 (largest {big:.4g}){after}"
        )


def _prepare_inputs(prep: dict[str, Any], inputs: np.ndarray) -> np.ndarray:
    """Raw inputs as the model saw them in training: feature rows are scaled with the
    training statistics and shaped by the run's layout; images (N, C, H, W) pass as is.
    Every value must be a finite float32 number, before and after scaling."""
    shape = tuple(prep["input_shape"])
    try:
        x = np.asarray(inputs, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"inputs must be numbers ({exc})") from None
    if x.size == 0:
        raise ValueError("inputs hold no values: give at least one row")
    _check_finite(x)
    if x.ndim <= 2:
        x = np.atleast_2d(x)
        layout, width = prep.get("layout", "flat"), prep["n_features"]
        if x.shape[1] != width:
            raise ValueError(
                f"inputs have {x.shape[1]} features per row; the model expects {width}"
            )
        x = _scale(prep, x)
        _check_finite(x, " after scaling with the training statistics")
        x = D.to_layout(x.astype(np.float32), layout, prep.get("image_size"))
    if tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"inputs have shape {tuple(x.shape[1:])} per sample; the model expects {shape}"
        )
    return np.asarray(x, dtype=np.float32)


def predict_run(run_dir: str | Path, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Predictions of a finished run for raw (unscaled) feature rows, or a list of texts
    for a text run: the predicted class and the model's confidence in it
    (classification), the predicted value, or (reconstruction) each row's reconstruction
    error, the mean squared difference of the scaled row and its reconstruction. A
    generation or metric-learning run refuses: it has no prediction for an input."""
    cfg, model, prep = load_run(run_dir)
    task_predict = H.task_hooks(cfg.task).predict
    if task_predict is not None:
        return task_predict(model, inputs)
    if cfg.task == "reconstruction":  # the reconstruction error: an anomaly score per row
        return {"prediction": G.reconstruction_errors(cfg, model, _prepare_inputs(prep, inputs))}
    if "tokenizer" in prep:  # a pretrained encoder's run: its own tokenizer
        ids = D.pretrained_token_ids(prep["tokenizer"], D.as_texts(inputs), prep["max_len"])
        xt = nnlab.tensor(ids)
    elif "vocab_size" in prep:  # a text run: strings in, token ids through its vocabulary
        vocab = Vocab.load(Path(run_dir) / "vocab.json")
        xt = nnlab.tensor(D.encode_texts(vocab, D.as_texts(inputs), prep["max_len"]))
    else:
        xt = nnlab.tensor(_prepare_inputs(prep, inputs))
    if model_entry(cfg.model.type).own_fit:
        return H.own_fit_predict(model, xt)
    with nnlab.no_grad():
        out = model(xt).array.astype(np.float64)
    bad = ~np.isfinite(out.reshape(len(out), -1)).all(axis=1)
    if bad.any():
        rows = np.flatnonzero(bad)
        raise ValueError(
            f"the model's output is not finite (NaN or Inf) for input row(s) "
            f"{rows[:10].tolist()}{' ...' if len(rows) > 10 else ''} (counted from 0): inputs "
            "far outside the training data? No prediction is made for any row"
        )
    if cfg.task == "segmentation":
        return {"prediction": out.argmax(1)}
    if cfg.task == "classification":
        e = np.exp(out - out.max(1, keepdims=True))
        probs = e / e.sum(1, keepdims=True)
        return {"prediction": out.argmax(1), "confidence": probs.max(1), "probabilities": probs}
    if cfg.task == "binary":
        p = 1 / (1 + np.exp(-out.reshape(-1)))
        pred = (p >= 0.5).astype(np.int64)
        return {"prediction": pred, "confidence": np.where(pred == 1, p, 1 - p), "probability": p}
    return {"prediction": out.reshape(-1)}
