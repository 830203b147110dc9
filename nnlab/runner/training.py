"""Train (or resume) a configured run with the one training loop and write its run folder.

A run folder holds::

    config.toml         the configuration as given      config.json   as validated
    preprocessing.json  scaler statistics (fitted on the training split only)
    vocab.json          texts: the vocabulary (fitted on the training split only)
    history.json/.csv   per-epoch and per-step logs     metrics.json  final metrics
    run.json            epochs trained, which epoch's weights were kept, why training stopped
    checkpoints/        best.safetensors, last.safetensors (full training state)
    model.safetensors   the kept weights                plots/        PNG figures
    digests.json        SHA-256 of the files above, checked on every load (written last)

The kept weights are those of the best epoch by ``training.monitor`` (validation loss by
default), as early stopping would keep; ``run.json`` says which epoch that was.

Everything a command line can get wrong (the config, ``--epochs``, ``--output-dir``) is
checked before the run folder is created; a resume checks its config and checkpoint
before it writes anything (see :mod:`nnlab.runner.run_files` for what may change).

Data-parallel runs: ``mpirun -n K nnlab train CONFIG`` starts K processes that each
detect the launch (its environment variables), join the process group, wrap the model in
:class:`~nnlab.nn.parallel.DistributedDataParallel` and read their shard of every global
batch of ``data.batch_size`` (a multiple of K). Every rank validates the config and
builds the same data and model; rank 0 alone creates and writes the run folder (its
name is broadcast) and the other ranks write nothing. The final weights equal a
one-process run's to float rounding for models without BatchNorm, dropout or random
augmentation (see ``docs/distributed.md``); ``--resume`` needs the same K.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import nnlab
import nnlab.io
from nnlab import analysis
from nnlab import distributed as dist
from nnlab import metrics as M
from nnlab.config import ConfigError, RunConfig, load_config, parse_config
from nnlab.models.registry import model_entry
from nnlab.nn.parallel import DistributedDataParallel
from nnlab.runner import builders as B
from nnlab.runner import data as D
from nnlab.runner import generative as G
from nnlab.runner import hooks as H
from nnlab.runner import run_files as F
from nnlab.train import EarlyStopping, ModelCheckpoint, Trainer, load_checkpoint

__all__ = ["RunResult", "train_from_config", "resume_from_run"]


@dataclass
class RunResult:
    """What a run produced: its folder, final metrics per split, and its history."""

    run_dir: Path
    metrics: dict[str, dict[str, float]]
    history: Any = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Parts:
    """Everything a run trains with, built (and so validated) before any file is written."""

    cfg: RunConfig
    splits: D.Splits
    model: Any
    train_loader: Any = None
    val_loader: Any = None
    loss_fn: Any = None
    optimizer: Any = None
    scheduler: Any = None
    interval: str = "epoch"
    penalty: Any = None
    constraints: list[Any] = field(default_factory=list)
    optimizers: dict[str, Any] = field(default_factory=dict)  # the own loops' (a GAN's two)


def _logged_keys(cfg: RunConfig, has_val: bool) -> set[str]:
    base = {"loss", *cfg.training.metrics}
    keys = base | {"lr", "grad_norm", "time"}
    return keys | {f"val_{k}" for k in base} if has_val else keys


def _prepare(cfg: RunConfig, ranks: int = 1) -> _Parts:
    nnlab.manual_seed(cfg.seed)
    splits = D.make_splits(cfg)
    model = B.build_model(
        cfg, _sample_shape(splits.x_train), B.output_size(cfg, splits.n_classes),
        splits.vocab_size,
    )  # fmt: skip
    parts = _Parts(cfg, splits, model)
    if model_entry(cfg.model.type).own_fit:
        if model_entry(cfg.model.type).loop is not None:
            parts.optimizers = G.build_optimizers(cfg, model)
        return parts
    augment = D.build_augmentation(cfg)
    parts.train_loader = D.make_loader(
        cfg, splits.x_train, splits.y_train, True, augment, data_parallel=ranks > 1
    )
    if splits.x_val is not None:
        parts.val_loader = D.make_loader(cfg, splits.x_val, splits.y_val, shuffle=False)
    parts.loss_fn = B.build_loss(cfg, splits.y_train, splits.n_classes)
    parts.optimizer = B.build_optimizer(cfg, model)
    parts.scheduler, parts.interval = B.build_scheduler(
        cfg, parts.optimizer, len(parts.train_loader)
    )
    parts.penalty, parts.constraints = B.build_regularizers(cfg)
    logged = _logged_keys(cfg, parts.val_loader is not None)
    monitors = {"training.monitor": _monitor(cfg.training.monitor, parts)}
    if cfg.training.early_stopping is not None:
        monitors["training.early_stopping.monitor"] = _monitor(
            cfg.training.early_stopping.monitor, parts
        )
    for key, name in monitors.items():
        if name not in logged:
            raise ConfigError(
                f"{key}: {name!r} is never logged; logged: {', '.join(sorted(logged))}"
            )
    return parts


def _sample_shape(x: Any) -> tuple[int, ...]:
    """One sample's shape; for a model with several inputs, the first input's."""
    return tuple((x[0] if isinstance(x, tuple) else x).shape[1:])


def _monitor(name: str, parts: _Parts) -> str:
    """Without a validation split, ``val_x`` falls back to the training ``x``."""
    if parts.val_loader is None and name.startswith("val_"):
        return name[4:]
    return name


def _check_output_dir(root: Path, given_as: str) -> None:
    """The folder for run folders must be a folder (or creatable as one) and writable."""
    existing = root
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        what = "is" if existing == root else f"would be inside {existing}, which is"
        raise ConfigError(f"{given_as} {root} {what} a file, not a folder; give a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{given_as} {root}: {existing} is not writable")


def _output_root(cfg: RunConfig, output_dir: str | None) -> tuple[Path, str]:
    """Where run folders go, and how the user gave it (for error messages)."""
    if output_dir:
        return Path(output_dir), "--output-dir"
    return Path(cfg.output_dir), "output_dir (in the config)"


def _new_run_dir(cfg: RunConfig, output_dir: str | None) -> Path:
    root, given_as = _output_root(cfg, output_dir)
    _check_output_dir(root, given_as)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_dir = root / f"{cfg.name}-{stamp}"
    k = 1
    while run_dir.exists():
        k += 1
        run_dir = root / f"{cfg.name}-{stamp}-{k}"
    try:
        run_dir.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(f"{given_as} {root}: cannot create {run_dir} ({exc.strerror})") from None
    return run_dir


def _save_preprocessing(run_dir: Path, splits: D.Splits, cfg: RunConfig) -> None:
    state: dict[str, Any] = {
        "n_classes": splits.n_classes,
        "input_shape": list(_sample_shape(splits.x_train)),
        "n_features": splits.n_features,
        "layout": cfg.data.layout,
        "image_size": cfg.data.image_size,
    }
    if splits.vocab is not None:
        state["vocab_size"] = len(splits.vocab)
        state["max_len"] = cfg.data.text.max_len
        splits.vocab.save(run_dir / "vocab.json")
    if splits.tokenizer is not None:
        state["tokenizer"] = splits.tokenizer
        state["max_len"] = cfg.data.text.max_len
    if splits.scaler is not None:
        state["scaler"] = type(splits.scaler).__name__
        state["statistics"] = {
            k: np.asarray(v).tolist()
            for k, v in vars(splits.scaler).items()
            if isinstance(v, np.ndarray)
        }
    (run_dir / "preprocessing.json").write_text(json.dumps(state, indent=1))


def _join_mpi_launch(cfg: RunConfig, data_parallel: bool | None) -> int:
    """K for a process started by ``mpirun -n K`` (K > 1), after joining its process
    group; else 1 (also with ``data_parallel=False``: this process trains alone). A model
    that trains in its own loop cannot run data-parallel."""
    if data_parallel is False or dist.launch_world_size() <= 1:
        return 1
    if model_entry(cfg.model.type).own_fit:
        raise ConfigError(
            f"a {cfg.model.type} model trains in its own loop, which does not run "
            "data-parallel; start it without mpirun"
        )
    if not dist.is_initialized():
        dist.init_process_group("mpi")
    return dist.get_world_size()


def _from_rank_zero(ranks: int, work: Callable[[], Any]) -> Any:
    """``work()`` run by rank 0 alone (the writing rank), its result on every rank. An
    exception on rank 0 is raised on every rank, so none waits for the others forever."""
    if ranks == 1:
        return work()
    box: list[Any] = [None]
    if dist.get_rank() == 0:
        try:
            box = [("ok", work())]
        except Exception as exc:
            box = [("error", exc)]
    dist.broadcast_object_list(box, src=0)
    status, value = box[0]
    if status == "error":
        raise value
    return value


def _trainer(
    parts: _Parts, run_dir: Path, verbose: bool, extra: Sequence[Any] = (), ranks: int = 1
) -> Any:
    cfg = parts.cfg
    monitor = _monitor(cfg.training.monitor, parts)
    callbacks: list[Any] = [ModelCheckpoint(run_dir / "checkpoints", monitor=monitor)]
    if cfg.training.early_stopping is not None:
        es = cfg.training.early_stopping.model_dump()
        es["monitor"] = _monitor(es["monitor"], parts)
        callbacks.append(EarlyStopping(**es))
    callbacks.extend(extra)
    model = parts.model
    if ranks > 1:
        model = DistributedDataParallel(model)
    return Trainer(
        model, parts.loss_fn, parts.optimizer, scheduler=parts.scheduler,
        scheduler_interval=parts.interval, callbacks=callbacks, metrics=cfg.training.metrics,
        grad_clip=cfg.training.grad_clip, accumulate_steps=cfg.training.accumulate_steps,
        penalty=parts.penalty, constraints=parts.constraints, verbose=verbose,
        save_frozen=model_entry(cfg.model.type).pretrained is None,
        detect_anomaly=cfg.training.detect_anomaly,
    )  # fmt: skip


def _with_epochs(cfg: RunConfig, epochs: int | None, seed: int | None) -> RunConfig:
    """``cfg`` with the command line's ``--epochs``/``--seed``, validated like the config
    (``--epochs 0`` is an error here, before any file is written)."""
    if epochs is None and seed is None:
        return cfg
    data = cfg.model_dump()
    if epochs is not None:
        data["training"]["epochs"] = epochs
    if seed is not None:
        data["seed"] = seed
    given = " and ".join(o for o, v in (("--epochs", epochs), ("--seed", seed)) if v is not None)
    return parse_config(data, given)


def train_from_config(
    config: RunConfig | str | Path,
    output_dir: str | None = None,
    epochs: int | None = None,
    seed: int | None = None,
    verbose: bool = True,
    callbacks: Sequence[Any] = (),
    data_parallel: bool | None = None,
) -> RunResult:
    """Train the run described by ``config`` (a RunConfig or a TOML path) and write its
    run folder. Returns the folder, the final metrics per split and the history.

    ``callbacks`` (:class:`nnlab.train.Callback`) join the run's own (checkpointing, early
    stopping), after them, e.g. to report each epoch's validation metrics to a search; the
    models that train in their own loop (``own_fit``) refuse them.

    ``data_parallel``: None (default) trains data-parallel when this process was started
    by ``mpirun -n K`` with K > 1 (see the module's docstring); False trains in this
    process alone even then (one trial of a search per rank)."""
    source_text, given = None, None
    if not isinstance(config, RunConfig):
        given = load_config(config)
        source_text = Path(config).read_text(encoding="utf-8")
        cfg = given
    else:
        cfg = config
    cfg = _with_epochs(cfg, epochs, seed)
    if callbacks and model_entry(cfg.model.type).own_fit:
        raise ConfigError(
            f"a {cfg.model.type} model trains in its own loop, which takes no callbacks"
        )
    ranks = _join_mpi_launch(cfg, data_parallel)
    _check_output_dir(*_output_root(cfg, output_dir))  # before the slow part
    parts = _prepare(cfg, ranks)

    def start_run_folder() -> Path:
        run_dir = _new_run_dir(cfg, output_dir)
        (run_dir / "config.json").write_text(cfg.model_dump_json(indent=1))
        if source_text is not None:
            (run_dir / "config.toml").write_text(source_text, encoding="utf-8")
        _save_preprocessing(run_dir, parts.splits, cfg)
        overrides = F.config_changes(given, cfg) if given is not None else {}
        F.write_digests(run_dir, overrides)
        return run_dir

    run_dir = _from_rank_zero(ranks, start_run_folder)
    if model_entry(cfg.model.type).own_fit:
        if model_entry(cfg.model.type).loop is not None:
            metrics, history, info = G.fit_generative(
                parts.model, parts.optimizers, cfg, parts.splits, run_dir, verbose
            )
        else:
            metrics, history, info = H.fit_own(parts.model, cfg, parts.splits, run_dir, verbose)
        return RunResult(run_dir, metrics, history, info)
    trainer = _trainer(parts, run_dir, verbose, callbacks, ranks)
    trainer.fit(parts.train_loader, parts.val_loader, epochs=cfg.training.epochs)
    return _finish_on_rank_zero(parts, trainer, run_dir, ranks)


def resume_from_run(
    run_dir: str | Path,
    epochs: int | None = None,
    verbose: bool = True,
    data_parallel: bool | None = None,
) -> RunResult:
    """Continue an interrupted (or finished) run from its last checkpoint, in place, up to
    ``training.epochs`` (or ``epochs``). The result equals an uninterrupted run's.

    The settings are the run's own (``config.json``); ``training.epochs`` may be raised
    by editing the run's ``config.toml`` or with ``epochs`` (which wins). Any other edit of
    ``config.toml`` is refused, naming the keys (see ``run_files.load_run_config``).
    Config, digests and checkpoint are all checked, and ``epochs`` must exceed the epochs
    already trained, before anything in the folder is rewritten. A data-parallel run
    resumes under ``mpirun`` with the same K (``data_parallel`` as for
    :func:`train_from_config`)."""
    run_dir = Path(run_dir)
    last = run_dir / "checkpoints" / "last.safetensors"
    if not (run_dir / "config.json").is_file():
        raise FileNotFoundError(f"{run_dir} is not a run folder (no config.json)")
    manifest = F.read_manifest(run_dir)
    cfg, edits = F.load_run_config(run_dir, manifest)
    if model_entry(cfg.model.type).own_fit:
        raise ConfigError(
            f"a {cfg.model.type} run trains in one go and cannot be resumed; train a new run "
            "for longer instead (nnlab train CONFIG --epochs N)"
        )
    if not last.is_file():
        raise FileNotFoundError(f"{run_dir} has no checkpoint to resume from ({last})")
    ranks = _join_mpi_launch(cfg, data_parallel)
    if epochs is None and "training.epochs" in edits:
        epochs = edits["training.epochs"]
        if verbose and dist.is_main_process():
            print(f"config.toml sets training.epochs = {epochs} (was {cfg.training.epochs})")
    cfg = _with_epochs(cfg, epochs, None)
    parts = _prepare(cfg, ranks)
    trainer = _trainer(parts, run_dir, verbose, ranks=ranks)
    trainer.load(last, train_loader=parts.train_loader)
    if trainer.epoch >= cfg.training.epochs and not F.is_finished(run_dir, manifest):
        # interrupted while writing its files
        return _finish_on_rank_zero(parts, trainer, run_dir, ranks)
    if trainer.epoch >= cfg.training.epochs:
        raise ConfigError(
            f"{run_dir} has already trained {trainer.epoch} epochs and training.epochs is "
            f"{cfg.training.epochs}: nothing to do. Give --epochs N (N > {trainer.epoch}) or "
            "raise training.epochs in the run's config.toml to train more"
        )

    def record_epochs() -> None:
        # The record changes before training, so an interrupted resume resumes to the same
        # count.
        (run_dir / "config.json").write_text(cfg.model_dump_json(indent=1))
        toml = run_dir / "config.toml"
        changes = F.config_changes(load_config(toml), cfg) if toml.is_file() else {}
        F.write_digests(run_dir, changes)

    _from_rank_zero(ranks, record_epochs)
    trainer.fit(parts.train_loader, parts.val_loader, epochs=cfg.training.epochs)
    return _finish_on_rank_zero(parts, trainer, run_dir, ranks)


def _finish_on_rank_zero(parts: _Parts, trainer: Any, run_dir: Path, ranks: int) -> RunResult:
    """:func:`_finish` on rank 0; the other ranks get its metrics and info."""
    if ranks == 1:
        return _finish(parts, trainer, run_dir)

    def finish() -> tuple[dict, dict]:
        result = _finish(parts, trainer, run_dir)
        return result.metrics, result.info

    metrics, info = _from_rank_zero(ranks, finish)
    return RunResult(run_dir, metrics, trainer.history, info)


def _finish(parts: _Parts, trainer: Any, run_dir: Path) -> RunResult:
    """Keep the best epoch's weights, evaluate every split, write files and plots."""
    best = run_dir / "checkpoints" / "best.safetensors"
    info: dict[str, Any] = {
        "epochs_trained": trainer.epoch,
        "stop_reason": trainer.history.stop_reason,
        "selected_epoch": trainer.epoch,
        "selected_by": "last epoch",
    }
    if best.is_file():
        state = load_checkpoint(best)
        trainer.load_model_state(state["model"])
        info["selected_epoch"] = int(state["epoch"])
        info["selected_by"] = f"best {_monitor(parts.cfg.training.monitor, parts)}"
    nnlab.io.save_weights(trainer.model_state(), run_dir / "model.safetensors")
    metrics = _final_metrics(parts, trainer)
    _write_outputs(parts, run_dir, trainer, metrics, info)
    F.write_digests(run_dir)
    return RunResult(run_dir, metrics, trainer.history, info)


def _final_metrics(parts: _Parts, trainer: Any) -> dict[str, dict[str, float]]:
    cfg, s = parts.cfg, parts.splits
    splits = [("train", s.x_train, s.y_train)]
    if s.x_val is not None:
        splits.append(("validation", s.x_val, s.y_val))
    splits.append(("test", s.x_test, s.y_test))
    extra = H.task_hooks(cfg.task).split_metrics
    out = {}
    for name, x, y in splits:
        out[name] = trainer.evaluate(D.make_loader(cfg, x, y, False))
        if extra is not None:
            out[name].update(extra(parts.model, x, y))
    return out


def _write_outputs(parts: _Parts, run_dir: Path, trainer: Any,
                   metrics: dict[str, dict[str, float]], info: dict[str, Any]) -> None:  # fmt: skip
    cfg, s = parts.cfg, parts.splits
    trainer.history.to_json(run_dir / "history.json")
    trainer.history.to_csv(run_dir / "history.csv")
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (run_dir / "run.json").write_text(json.dumps(info, indent=1))
    plots = run_dir / "plots"
    analysis.plot_history(trainer.history.epochs, plots / "history.png", title=cfg.name)
    analysis.plot_lr(trainer.history.steps, plots / "lr.png")
    task_plots = H.task_hooks(cfg.task).plots
    if task_plots is not None:
        task_plots(parts.model, s.x_test, s.y_test, plots)
        return
    outputs = trainer.predict(s.x_test)
    if cfg.task == "classification":
        cm = M.confusion_matrix(s.y_test, outputs.argmax(1), num_classes=s.n_classes)
        analysis.plot_confusion_matrix(cm, plots / "confusion_matrix.png")
    elif cfg.task == "binary":
        scores = 1 / (1 + np.exp(-outputs.reshape(-1).astype(np.float64)))
        fpr, tpr, _ = M.roc_curve(s.y_test, scores)
        analysis.plot_roc(fpr, tpr, M.roc_auc_score(s.y_test, scores), plots / "roc.png")
        cm = M.confusion_matrix(s.y_test, (scores >= 0.5).astype(np.int64), num_classes=2)
        analysis.plot_confusion_matrix(cm, plots / "confusion_matrix.png")
    elif cfg.task == "segmentation":
        predicted = outputs[:6].argmax(1)
        analysis.plot_segmentation(s.x_test[:6], s.y_test[:6], predicted, plots / "predictions.png")
    else:
        x_raw = _unscale(s.scaler, s.x_test)
        curve = None
        if s.x_test.shape[1] == 1:  # the fitted function itself, on a fine grid
            grid = np.linspace(s.x_test.min(), s.x_test.max(), 400, dtype=np.float32)[:, None]
            curve = (_unscale(s.scaler, grid), trainer.predict(grid))
        analysis.plot_regression(x_raw, s.y_test, outputs, plots / "predictions.png", curve=curve)


def _unscale(scaler: Any, x: np.ndarray) -> np.ndarray:
    return x if scaler is None else np.asarray(scaler.inverse_transform(x))
