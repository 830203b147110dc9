"""Use a finished run: re-evaluate its kept model, or predict for new feature rows (or new
texts, for a run on a text dataset)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import nnlab
import nnlab.io
from nnlab import nn
from nnlab.config import PRETRAINED_MODELS, RunConfig, parse_config
from nnlab.runner import builders as B
from nnlab.train.checkpoint import load_state_without_frozen

__all__ = ["evaluate_run", "predict_run"]


def _load_run(run_dir: str | Path) -> tuple[RunConfig, nn.Module, dict[str, Any]]:
    run_dir = Path(run_dir)
    for name in ("config.json", "preprocessing.json", "model.safetensors"):
        if not (run_dir / name).is_file():
            raise FileNotFoundError(
                f"{run_dir} is not a finished run folder (no {name}); train it with "
                "`nnlab train CONFIG` or resume it with `nnlab train --resume RUN_DIR`"
            )
    cfg = parse_config(json.loads((run_dir / "config.json").read_text()), str(run_dir))
    prep = json.loads((run_dir / "preprocessing.json").read_text())
    shape = tuple(prep["input_shape"])
    model = B.build_model(
        cfg, shape, B.output_size(cfg, prep["n_classes"]), prep.get("vocab_size", 0)
    )
    weights = run_dir / "model.safetensors"
    if cfg.model.type in PRETRAINED_MODELS:  # frozen pretrained weights were left out
        load_state_without_frozen(model, nnlab.io.load_weights(weights), str(weights))
    else:
        nnlab.io.load_into(model, weights)
    model.eval()
    return cfg, model, prep


def evaluate_run(run_dir: str | Path) -> dict[str, float]:
    """Loss and metrics of a finished run's kept model on its test split."""
    from nnlab import optim
    from nnlab.train import Trainer

    cfg, model, _ = _load_run(run_dir)
    s = B.make_splits(cfg)
    if cfg.model.type == "perceptron":
        return {"accuracy": float((model.predict(s.x_test).data == s.y_test).mean())}
    loss_fn = B.build_loss(cfg, s.y_train, s.n_classes)
    trainer = Trainer(model, loss_fn, optim.SGD(model.parameters(), lr=0.0),
                      metrics=cfg.training.metrics, verbose=False)  # fmt: skip
    return trainer.evaluate(B.make_loader(cfg, s.x_test, s.y_test, False))


def _scale(prep: dict[str, Any], x: np.ndarray) -> np.ndarray:
    stats = prep.get("statistics")
    if not stats:
        return x
    if prep["scaler"] == "StandardScaler":
        return (x - np.asarray(stats["mean_"])) / np.asarray(stats["scale_"])
    return x * np.asarray(stats["scale_"]) + np.asarray(stats["min_"])


def _prepare_inputs(prep: dict[str, Any], inputs: np.ndarray) -> np.ndarray:
    """Raw inputs as the model saw them in training: feature rows are scaled with the
    training statistics and shaped by the run's layout; images (N, C, H, W) pass as is."""
    shape = tuple(prep["input_shape"])
    x = np.asarray(inputs, dtype=np.float64)
    if x.ndim <= 2:
        x = np.atleast_2d(x)
        layout, width = prep.get("layout", "flat"), prep["n_features"]
        if x.size == 0 or x.shape[1] != width:
            got = 0 if x.size == 0 else x.shape[1]
            raise ValueError(f"inputs have {got} features per row; the model expects {width}")
        x = B.to_layout(_scale(prep, x).astype(np.float32), layout, prep.get("image_size"))
    if tuple(x.shape[1:]) != shape:
        raise ValueError(
            f"inputs have shape {tuple(x.shape[1:])} per sample; the model expects {shape}"
        )
    return np.asarray(x, dtype=np.float32)


def _texts(inputs: Any) -> list[str]:
    if isinstance(inputs, str) or not all(isinstance(t, str) for t in inputs):
        raise TypeError("this run reads texts: pass a list of strings")
    return list(inputs)


def predict_run(run_dir: str | Path, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Predictions of a finished run for raw (unscaled) feature rows, or a list of texts
    for a text run: the predicted class and the model's confidence in it
    (classification), or the predicted value."""
    cfg, model, prep = _load_run(run_dir)
    if cfg.task == "seq2seq":  # date strings in, ISO strings out
        from nnlab.data.datasets import DATE_TARGET_VOCAB, decode_dates, encode_date_sources

        texts = _texts(inputs)
        ids, _ = model.greedy_decode(nnlab.tensor(encode_date_sources(texts)), max_len=12)
        return {"prediction": np.array(decode_dates(ids.numpy(), DATE_TARGET_VOCAB))}
    if "tokenizer" in prep:  # a pretrained encoder's run: its own tokenizer
        xt = nnlab.tensor(B.pretrained_token_ids(_texts(inputs), prep["max_len"]))
    elif "vocab_size" in prep:  # a text run: strings in, token ids through its vocabulary
        from nnlab.text import Vocab

        vocab = Vocab.load(Path(run_dir) / "vocab.json")
        xt = nnlab.tensor(B.encode_texts(vocab, _texts(inputs), prep["max_len"]))
    else:
        xt = nnlab.tensor(_prepare_inputs(prep, inputs))
    if cfg.model.type == "perceptron":
        return {"prediction": model.predict(xt).data}
    with nnlab.no_grad():
        out = model(xt).data.astype(np.float64)
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
