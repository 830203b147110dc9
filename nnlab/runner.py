"""Config-driven runs: build data, model, loss and optimizer from a :class:`RunConfig`,
train with the one training loop, evaluate on held-out data, and write a run folder.

A run folder holds::

    config.toml         the configuration as given      config.json   as validated
    preprocessing.json  scaler statistics (fitted on the training split only)
    history.json/.csv   per-epoch and per-step logs     metrics.json  final metrics
    checkpoints/        best.safetensors, last.safetensors (full training state)
    model.safetensors   final weights                   plots/        PNG figures
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nnlab
import nnlab.io
from nnlab import nn, optim
from nnlab.config import ConfigError, RunConfig, load_config, parse_config
from nnlab.tensor import Tensor

__all__ = ["RunResult", "train_from_config", "evaluate_run", "predict_run", "build_model"]


@dataclass
class Splits:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    scaler: Any = None
    n_classes: int = 0


@dataclass
class RunResult:
    run_dir: Path
    metrics: dict[str, dict[str, float]]
    history: Any = None
    extras: dict[str, Any] = field(default_factory=dict)


# -- data ---------------------------------------------------------------------------------


def load_arrays(cfg: RunConfig) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """(X, y, given_test) for the configured dataset; given_test is a fixed test split
    when the dataset defines one (MNIST-1D), else None."""
    from nnlab.data import datasets

    name, params = cfg.data.dataset, dict(cfg.data.params)
    tabular = {
        "digits": datasets.load_digits,
        "iris": datasets.load_iris,
        "wine": datasets.load_wine,
        "breast_cancer": datasets.load_breast_cancer,
    }
    if name in tabular:
        x, y = tabular[name](**params)
        return x, y, None
    if name == "mnist1d":
        d = datasets.load_mnist1d(seed=cfg.seed, **params)
        return d["x"], d["y"], (d["x_test"], d["y_test"])
    makers = {
        "xor": datasets.make_xor, "moons": datasets.make_moons, "circles": datasets.make_circles,
        "spirals": datasets.make_spirals, "linearly_separable": datasets.make_linearly_separable,
        "noisy_sine": datasets.make_noisy_sine, "imbalanced": datasets.make_imbalanced,
    }  # fmt: skip
    x, y = makers[name](seed=cfg.seed, **params)
    return x, y, None


def make_splits(cfg: RunConfig) -> Splits:
    from nnlab.data import MinMaxScaler, StandardScaler, train_test_split

    x, y, given_test = load_arrays(cfg)
    classify = cfg.task != "regression"
    if given_test is None:
        x, x_test, y, y_test = train_test_split(
            x, y, test_size=cfg.data.test_size, seed=cfg.seed, stratify=y if classify else None
        )
    else:
        x_test, y_test = given_test
    x_val = y_val = None
    if cfg.data.val_size > 0:
        x, x_val, y, y_val = train_test_split(
            x, y, test_size=cfg.data.val_size, seed=cfg.seed + 1, stratify=y if classify else None
        )
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}.get(cfg.data.scale)
    if scaler is not None:
        scaler = scaler().fit(x)  # statistics from the training split only
        x, x_test = scaler.transform(x), scaler.transform(x_test)
        x_val = scaler.transform(x_val) if x_val is not None else None
    n_classes = int(np.max(y)) + 1 if classify else 0
    f32 = lambda a: None if a is None else np.asarray(a, dtype=np.float32)  # noqa: E731
    return Splits(f32(x), y, f32(x_val), y_val, f32(x_test), y_test, scaler, n_classes)


def _targets(cfg: RunConfig, y: np.ndarray) -> np.ndarray:
    if cfg.task == "classification":
        return np.asarray(y, dtype=np.int64)
    return np.asarray(y, dtype=np.float32).reshape(-1)


def _loader(cfg: RunConfig, x: np.ndarray, y: np.ndarray, shuffle: bool) -> Any:
    from nnlab.data import DataLoader, TensorDataset

    ds = TensorDataset(nnlab.from_numpy(x), nnlab.from_numpy(_targets(cfg, y)))
    batch = cfg.data.batch_size if shuffle else max(cfg.data.batch_size, 512)
    return DataLoader(ds, batch_size=batch, shuffle=shuffle)


# -- model, loss, optimizer, schedule ----------------------------------------------------------


def output_size(cfg: RunConfig, n_classes: int) -> int:
    return n_classes if cfg.task == "classification" else 1


def build_model(cfg: RunConfig, in_features: int, out_features: int) -> nn.Module:
    m = cfg.model
    if m.type == "linear" or (m.type == "mlp" and not m.hidden_sizes):
        return nn.Linear(in_features, out_features)
    if m.type == "perceptron":
        return nn.Perceptron(in_features)
    return nn.MLP(
        in_features, list(m.hidden_sizes), out_features, activation=m.activation,
        dropout=m.dropout, norm=None if m.norm == "none" else m.norm,
    )  # fmt: skip


class _FlatTargetLoss(nn.Module):
    """Binary and regression models output (N, 1); their losses compare with (N,)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.loss(outputs.reshape(-1), targets)


def build_loss(cfg: RunConfig, y_train: np.ndarray, n_classes: int) -> nn.Module:
    """The configured loss; ``class_weight="balanced"`` weighs classes by inverse frequency."""
    c = cfg.loss
    y_train = np.asarray(y_train)
    allowed = {"classification": ("cross_entropy", "multi_margin"),
               "binary": ("bce_with_logits",), "regression": ("mse", "l1", "huber")}  # fmt: skip
    if c.name not in allowed[cfg.task]:
        raise ConfigError(
            f"loss.name: {c.name!r} does not fit task {cfg.task!r}; allowed: "
            + ", ".join(allowed[cfg.task])
        )
    if c.name == "cross_entropy":
        weight = None
        if c.class_weight == "balanced":
            counts = np.bincount(y_train, minlength=n_classes).astype(np.float32)
            weight = nnlab.tensor(len(y_train) / (n_classes * np.maximum(counts, 1)))
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=c.label_smoothing)
    if c.name == "multi_margin":
        return nn.MultiMarginLoss()
    if c.name == "bce_with_logits":
        pos_weight = c.pos_weight
        if c.class_weight == "balanced":
            pos_weight = float((y_train == 0).sum() / max((y_train == 1).sum(), 1))
        pw = nnlab.tensor([pos_weight]) if pos_weight is not None else None
        return _FlatTargetLoss(nn.BCEWithLogitsLoss(pos_weight=pw))
    return _FlatTargetLoss({"mse": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss}[c.name]())


_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
               "adagrad": "Adagrad", "adadelta": "Adadelta", "nadam": "NAdam"}  # fmt: skip


def _options(section: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    return {k: getattr(section, k) for k in section.model_fields_set if k not in skip}


def _construct(kind: str, name: str, cls: Any, args: tuple, options: dict[str, Any]) -> Any:
    import inspect

    accepted = set(inspect.signature(cls).parameters)
    for key in options:
        if key not in accepted:
            allowed = ", ".join(sorted(accepted - {"params", "optimizer", "self"}))
            raise ConfigError(f"{kind}.{key} is not an option of {name}; allowed: {allowed}")
    return cls(*args, **options)


def build_optimizer(cfg: RunConfig, model: nn.Module) -> Any:
    options = _options(cfg.optimizer, ("name",))
    options["lr"] = cfg.optimizer.lr
    cls = getattr(optim, _OPTIMIZERS[cfg.optimizer.name])
    return _construct("optimizer", cfg.optimizer.name, cls, (model.parameters(),), options)


def build_scheduler(cfg: RunConfig, optimizer: Any, steps_per_epoch: int) -> tuple[Any, str]:
    from nnlab.optim import lr_scheduler as S

    s = cfg.scheduler
    if s.name == "none":
        return None, "epoch"
    options = _options(s, ("name",))
    epochs = cfg.training.epochs
    classes = {
        "step": S.StepLR,
        "multistep": S.MultiStepLR,
        "exponential": S.ExponentialLR,
        "cosine": S.CosineAnnealingLR,
        "cosine_warm_restarts": S.CosineAnnealingWarmRestarts,
        "onecycle": S.OneCycleLR,
        "linear": S.LinearLR,
        "plateau": S.ReduceLROnPlateau,
    }
    defaults: dict[str, dict[str, Any]] = {
        "step": {"step_size": max(epochs // 3, 1)},
        "multistep": {"milestones": [epochs // 2, 3 * epochs // 4]},
        "exponential": {"gamma": 0.95},
        "cosine": {"T_max": epochs},
        "cosine_warm_restarts": {"T_0": max(epochs // 4, 1)},
        "onecycle": {"max_lr": cfg.optimizer.lr * 10, "total_steps": epochs * steps_per_epoch},
        "linear": {"start_factor": 0.1, "total_iters": max(epochs // 10, 1)},
        "plateau": {},
    }
    kwargs = {**defaults[s.name], **options}
    sched = _construct("scheduler", s.name, classes[s.name], (optimizer,), kwargs)
    return sched, "step" if s.name == "onecycle" else "epoch"


# -- the run --------------------------------------------------------------------------------


def _new_run_dir(cfg: RunConfig, output_dir: str | None) -> Path:
    root = Path(output_dir or cfg.output_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = root / f"{cfg.name}-{stamp}"
    k = 1
    while run_dir.exists():
        k += 1
        run_dir = root / f"{cfg.name}-{stamp}-{k}"
    (run_dir / "checkpoints").mkdir(parents=True)
    (run_dir / "plots").mkdir()
    return run_dir


def _save_preprocessing(run_dir: Path, splits: Splits, cfg: RunConfig) -> None:
    state: dict[str, Any] = {"scale": cfg.data.scale, "n_classes": splits.n_classes,
                             "n_features": int(splits.x_train.shape[1])}  # fmt: skip
    if splits.scaler is not None:
        state["scaler"] = {k: np.asarray(v).tolist() for k, v in vars(splits.scaler).items()
                           if isinstance(v, np.ndarray)}  # fmt: skip
    (run_dir / "preprocessing.json").write_text(json.dumps(state, indent=1))


def _regularizers(cfg: RunConfig) -> tuple[Any, list[Any]]:
    from nnlab.nn.utils import regularization as R

    r = cfg.regularization
    penalty = None
    if r.l1 or r.l2:

        def penalty(model: nn.Module) -> Tensor:  # noqa: E306
            return R.elastic_net_penalty(model, l1=r.l1, l2=r.l2)

    constraints = []
    if r.max_norm is not None:
        constraints.append(lambda model: R.max_norm_(model, r.max_norm))
    return penalty, constraints


def train_from_config(
    config: RunConfig | str | Path,
    output_dir: str | None = None,
    epochs: int | None = None,
    verbose: bool = True,
) -> RunResult:
    """Train the run described by ``config`` (a RunConfig or a TOML path) and write its
    run folder. Returns the folder and the final train/validation/test metrics."""
    from nnlab.train import EarlyStopping, ModelCheckpoint, Trainer

    source_text = None
    if not isinstance(config, RunConfig):
        source_text = Path(config).read_text()
        config = load_config(config)
    cfg = config
    if epochs is not None:
        cfg = cfg.model_copy(
            update={"training": cfg.training.model_copy(update={"epochs": epochs})}
        )
    nnlab.manual_seed(cfg.seed)
    splits = make_splits(cfg)
    run_dir = _new_run_dir(cfg, output_dir)
    (run_dir / "config.json").write_text(cfg.model_dump_json(indent=1))
    if source_text is not None:
        (run_dir / "config.toml").write_text(source_text)
    _save_preprocessing(run_dir, splits, cfg)

    model = build_model(cfg, splits.x_train.shape[1], output_size(cfg, splits.n_classes))
    if cfg.model.type == "perceptron":
        return _train_perceptron(cfg, model, splits, run_dir)

    train_loader = _loader(cfg, splits.x_train, splits.y_train, shuffle=True)
    val_loader = (_loader(cfg, splits.x_val, splits.y_val, shuffle=False)
                  if splits.x_val is not None else None)  # fmt: skip
    loss_fn = build_loss(cfg, splits.y_train, splits.n_classes)
    optimizer = build_optimizer(cfg, model)
    scheduler, interval = build_scheduler(cfg, optimizer, len(train_loader))
    penalty, constraints = _regularizers(cfg)
    monitor = cfg.training.monitor if val_loader is not None else "loss"
    callbacks: list[Any] = [ModelCheckpoint(run_dir / "checkpoints", monitor=monitor)]
    if cfg.training.early_stopping is not None:
        es = cfg.training.early_stopping
        callbacks.append(
            EarlyStopping(**{**es.model_dump(), "monitor": es.monitor if val_loader else "loss"})
        )
    trainer = Trainer(
        model, loss_fn, optimizer, scheduler=scheduler, scheduler_interval=interval,
        callbacks=callbacks, metrics=cfg.training.metrics, grad_clip=cfg.training.grad_clip,
        accumulate_steps=cfg.training.accumulate_steps, penalty=penalty,
        constraints=constraints, verbose=verbose,
    )  # fmt: skip
    history = trainer.fit(train_loader, val_loader, epochs=cfg.training.epochs)
    nnlab.io.save_weights(model, run_dir / "model.safetensors")
    metrics = _final_metrics(cfg, trainer, splits)
    _write_outputs(cfg, run_dir, trainer, splits, metrics)
    return RunResult(run_dir, metrics, history)


def _final_metrics(cfg: RunConfig, trainer: Any, splits: Splits) -> dict[str, dict[str, float]]:
    out = {"train": trainer.evaluate(_loader(cfg, splits.x_train, splits.y_train, False))}
    if splits.x_val is not None:
        out["validation"] = trainer.evaluate(_loader(cfg, splits.x_val, splits.y_val, False))
    out["test"] = trainer.evaluate(_loader(cfg, splits.x_test, splits.y_test, False))
    return out


def _write_outputs(cfg: RunConfig, run_dir: Path, trainer: Any, splits: Splits,
                   metrics: dict[str, dict[str, float]]) -> None:  # fmt: skip
    from nnlab import analysis
    from nnlab import metrics as M

    trainer.history.to_json(run_dir / "history.json")
    trainer.history.to_csv(run_dir / "history.csv")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    plots = run_dir / "plots"
    analysis.plot_history(trainer.history.epochs, plots / "history.png", title=cfg.name)
    analysis.plot_lr(trainer.history.steps, plots / "lr.png")
    outputs = trainer.predict(splits.x_test)
    if cfg.task == "classification":
        cm = M.confusion_matrix(splits.y_test, outputs.argmax(1), num_classes=splits.n_classes)
        analysis.plot_confusion_matrix(cm, plots / "confusion_matrix.png")
    elif cfg.task == "binary":
        scores = 1 / (1 + np.exp(-outputs.reshape(-1).astype(np.float64)))
        fpr, tpr, _ = M.roc_curve(splits.y_test, scores)
        analysis.plot_roc(fpr, tpr, M.roc_auc_score(splits.y_test, scores), plots / "roc.png")
        cm = M.confusion_matrix(splits.y_test, (scores >= 0.5).astype(np.int64), num_classes=2)
        analysis.plot_confusion_matrix(cm, plots / "confusion_matrix.png")
    else:
        x_plot = splits.x_test
        analysis.plot_regression(x_plot, splits.y_test, outputs, plots / "predictions.png")


def _train_perceptron(cfg: RunConfig, model: Any, splits: Splits, run_dir: Path) -> RunResult:
    """Rosenblatt's rule needs no gradients: it runs its own loop (``Perceptron.fit``)."""
    model.fit(splits.x_train, splits.y_train, epochs=cfg.training.epochs, lr=cfg.optimizer.lr)
    history = {"errors_per_epoch": [int(e) for e in model.errors_]}
    parts = {"train": (splits.x_train, splits.y_train), "test": (splits.x_test, splits.y_test)}
    metrics = {
        name: {"accuracy": float((model.predict(x).data == np.asarray(y)).mean())}
        for name, (x, y) in parts.items()
    }
    nnlab.io.save_weights(model, run_dir / "model.safetensors")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (run_dir / "history.json").write_text(json.dumps(history))
    return RunResult(run_dir, metrics, history)


# -- using a finished run ---------------------------------------------------------------------


def _load_run(run_dir: str | Path) -> tuple[RunConfig, nn.Module, dict[str, Any]]:
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    cfg = parse_config(json.loads((run_dir / "config.json").read_text()), str(run_dir))
    prep = json.loads((run_dir / "preprocessing.json").read_text())
    model = build_model(cfg, prep["n_features"], output_size(cfg, prep["n_classes"]))
    nnlab.io.load_into(model, run_dir / "model.safetensors")
    return cfg, model, prep


def _scale(prep: dict[str, Any], x: np.ndarray) -> np.ndarray:
    s = prep.get("scaler")
    if not s:
        return x
    if prep["scale"] == "standard":
        return (x - np.asarray(s["mean_"])) / np.asarray(s["scale_"])
    return x * np.asarray(s["scale_"]) + np.asarray(s["min_"])


def evaluate_run(run_dir: str | Path) -> dict[str, float]:
    """Re-evaluate a finished run's saved model on its test split."""
    cfg, model, prep = _load_run(run_dir)
    splits = make_splits(cfg)
    from nnlab.train import Trainer

    loss_fn = build_loss(cfg, splits.y_train, splits.n_classes)
    trainer = Trainer(model, loss_fn, optim.SGD(model.parameters(), lr=0.0),
                      metrics=cfg.training.metrics, verbose=False)  # fmt: skip
    return trainer.evaluate(_loader(cfg, splits.x_test, splits.y_test, False))


def predict_run(run_dir: str | Path, inputs: np.ndarray) -> dict[str, np.ndarray]:
    """Predictions of a finished run for raw (unscaled) feature rows."""
    cfg, model, prep = _load_run(run_dir)
    x = np.atleast_2d(np.asarray(inputs, dtype=np.float64))
    if x.shape[1] != prep["n_features"]:
        raise ValueError(
            f"inputs have {x.shape[1]} features; the model expects {prep['n_features']}"
        )
    model.eval()
    with nnlab.no_grad():
        out = model(nnlab.tensor(_scale(prep, x).astype(np.float32))).data
    if cfg.task == "classification":
        e = np.exp(out - out.max(1, keepdims=True))
        return {"prediction": out.argmax(1), "probabilities": e / e.sum(1, keepdims=True)}
    if cfg.task == "binary":
        p = 1 / (1 + np.exp(-out.reshape(-1)))
        return {"prediction": (p >= 0.5).astype(np.int64), "probability": p}
    return {"prediction": out.reshape(-1)}
