"""The training loop: nnlab's one implementation of "for each epoch, for each batch".

Each optimizer step is the textbook recipe::

    outputs = model(x)                 # forward
    loss = loss_fn(outputs, y)         # how wrong
    loss.backward()                    # backpropagation: d(loss)/d(every parameter)
    optimizer.step()                   # move each parameter against its gradient
    optimizer.zero_grad()              # gradients accumulate, so clear them

around which the loop owns everything that must not be re-implemented elsewhere:
gradient accumulation, clipping, the NaN/Inf guard, learning-rate schedules, metrics,
callbacks, and checkpoints that let a resumed run end with exactly the weights of an
uninterrupted one.

When the model is a :class:`~nnlab.nn.parallel.DistributedDataParallel` (K ranks of an
``mpirun -n K`` launch), each rank reads its shard of every global batch. The loop keeps
every rank's decisions identical (the loss it checks and logs, validation numbers,
stopping) and scales each rank's loss by ``K·n_r / n`` (``n_r`` its samples, ``n`` the
global batch's), so that the averaged gradient is the gradient of the mean loss over the
global batch, also when the last batch splits unevenly; this assumes a loss that is a
mean over the batch, the loop's convention. Only rank 0 writes files and shows progress
(:attr:`Trainer.writes_files`).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnlab import distributed as dist
from nnlab import nn
from nnlab import random as nnrandom
from nnlab.autograd.anomaly import detect_anomaly as _detect_anomaly
from nnlab.autograd.grad_mode import no_grad
from nnlab.data import DataLoader, TensorDataset
from nnlab.nn.parallel import DistributedDataParallel
from nnlab.nn.utils.clip_grad import clip_grad_norm_
from nnlab.tensor import Tensor
from nnlab.train.callbacks import Callback, CallbackList, LRSchedulerCallback, ProgressBar
from nnlab.train.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_model_state,
    save_checkpoint,
    state_without_frozen,
)
from nnlab.train.history import History
from nnlab.train.metrics import resolve_metrics

__all__ = ["Trainer", "fit", "NonFiniteLossError"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or Inf; the message names the epoch and step."""


def _split_batch(batch: Any) -> tuple[Any, Any]:
    """(inputs, targets) of a batch. A batch of three or more, ``(a, b, ..., y)``, is a
    model with several inputs (a sequence-to-sequence model's source and shifted target,
    the two branches of a Siamese network): the inputs come back as a tuple, and the model
    is called as ``model(a, b, ...)``."""
    if isinstance(batch, (tuple, list)) and len(batch) >= 2:
        inputs = batch[0] if len(batch) == 2 else tuple(batch[:-1])
        return inputs, batch[-1]
    if isinstance(batch, dict) and {"x", "y"} <= set(batch):
        return batch["x"], batch["y"]
    raise TypeError(
        "each batch must be (inputs, targets), (input_1, ..., input_k, targets) or a dict "
        f"with 'x' and 'y'; got {type(batch).__name__}"
    )


def _call(model: Any, x: Any) -> Any:
    """``model(x)``, or ``model(*x)`` for the tuple of inputs of a multi-input batch."""
    return model(*x) if isinstance(x, tuple) else model(x)


_LOSSES = {
    "cross_entropy": "CrossEntropyLoss", "nll": "NLLLoss", "mse": "MSELoss", "l1": "L1Loss",
    "huber": "HuberLoss", "smooth_l1": "SmoothL1Loss", "bce": "BCELoss",
    "bce_with_logits": "BCEWithLogitsLoss", "kl_div": "KLDivLoss",
}  # fmt: skip


def _resolve_loss(loss_fn: Any) -> Any:
    """Accept a loss by name, as Keras does (``"cross_entropy"``, ``"mse"``...)."""
    if not isinstance(loss_fn, str):
        return loss_fn
    if loss_fn not in _LOSSES:
        raise ValueError(f"unknown loss {loss_fn!r}; allowed: {', '.join(_LOSSES)}")
    return getattr(nn, _LOSSES[loss_fn])()


def _as_loader(data: Any, batch_size: int, shuffle: bool) -> Any:
    """A Keras-style ``(x, y)`` pair of arrays or tensors becomes a DataLoader; so do
    ``((x1, x2), y)`` and ``(x1, x2, y)`` for a model with several inputs."""
    if not (isinstance(data, tuple) and len(data) >= 2):
        return data
    if len(data) == 2 and isinstance(data[0], (tuple, list)):
        data = (*data[0], data[1])
    if not all(isinstance(a, (np.ndarray, Tensor)) for a in data):
        return data
    tensors = [a if isinstance(a, Tensor) else Tensor(a) for a in data]
    return DataLoader(TensorDataset(*tensors), batch_size=batch_size, shuffle=shuffle)


def _grad_norm(params: Sequence[Tensor]) -> float:
    total = 0.0
    for p in params:
        if p.grad is not None:
            g = p.grad.array.reshape(-1)
            total += float(np.dot(g, g))
    return math.sqrt(total)


def _global_mean(value: float, n: int) -> tuple[float, int]:
    """The mean over all ranks' samples of a per-rank mean ``value`` over ``n`` samples,
    and the number of samples, by one allreduce of ``(value·n, n)``."""
    totals = Tensor(np.array([value * n, n], dtype=np.float64))
    dist.all_reduce(totals)
    total, count = totals.array.tolist()
    return total / count, int(count)


def _gathered(parts: list[np.ndarray], ranks: int) -> np.ndarray:
    """This rank's arrays concatenated, and in data-parallel training every rank's, in
    rank order (the training outputs for the epoch's metrics)."""
    mine = np.concatenate(parts)
    if ranks == 1:
        return mine
    everyone: list[Any] = [None] * ranks
    dist.all_gather_object(everyone, mine)
    return np.concatenate(everyone)


def _rank_zeros(logs: dict[str, Any], ranks: int) -> dict[str, Any]:
    """Rank 0's ``logs`` on every rank, so all ranks take the same decisions (early
    stopping, the best epoch) even where their buffers differ (BatchNorm statistics)."""
    if ranks == 1:
        return logs
    box = [logs]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class Trainer:
    """Train and evaluate a model (the engine behind :func:`fit`).

    Args:
        model: the ``nnlab.nn.Module`` to train.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``.
        optimizer: an ``nnlab.optim`` optimizer over the model's parameters.
        scheduler: optional learning-rate scheduler, stepped per ``scheduler_interval``
            (``"epoch"`` or ``"step"``); ``ReduceLROnPlateau`` gets ``scheduler_monitor``.
        callbacks: extra :class:`Callback` objects.
        metrics: names (``"accuracy"``, ``"f1"``, ``"roc_auc"``, ``"r2"``...) or
            ``fn(outputs, targets)`` callables, logged for train and validation data.
        grad_clip: clip the total gradient L2 norm to this value before each step.
        accumulate_steps: sum gradients over k batches per optimizer step (for a model
            without batch norm, the same as one k-times larger batch).
        penalty: optional ``penalty(model) -> Tensor`` added to the loss (L1/L2...).
        constraints: functions ``f(model)`` applied after each step (e.g. max-norm).
        verbose: show a progress bar / per-epoch lines.
        save_frozen: put frozen parameters in checkpoints (default: True). False for a
            model whose frozen part its constructor rebuilds (a pretrained encoder): the
            checkpoints then hold the trained part only.
        detect_anomaly: run :meth:`fit` inside ``nnlab.autograd.detect_anomaly()``, so the
            first op whose forward or backward produces NaN/Inf raises an ``AnomalyError``
            naming it (and, for backward, where the op was created) instead of a NaN loss
            steps later. Every array is scanned: for debugging only.
    """

    def __init__(
        self,
        model: Any,
        loss_fn: Callable[[Any, Any], Tensor],
        optimizer: Any,
        *,
        scheduler: Any = None,
        scheduler_interval: str = "epoch",
        scheduler_monitor: str = "val_loss",
        callbacks: Iterable[Callback] = (),
        metrics: Iterable[Any] = (),
        grad_clip: float | None = None,
        accumulate_steps: int = 1,
        penalty: Callable[[Any], Tensor] | None = None,
        constraints: Iterable[Callable[[Any], None]] = (),
        verbose: bool = True,
        save_frozen: bool = True,
        detect_anomaly: bool = False,
    ) -> None:
        if accumulate_steps < 1:
            raise ValueError(f"accumulate_steps must be ≥ 1, got {accumulate_steps}")
        self.model = model
        self.loss_fn = _resolve_loss(loss_fn)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.metrics = resolve_metrics(metrics)
        self.grad_clip = grad_clip
        self.accumulate_steps = accumulate_steps
        self.penalty = penalty
        self.constraints = list(constraints)
        self.save_frozen = save_frozen
        self.detect_anomaly = bool(detect_anomaly)
        # The scheduler steps before any user callback sees the epoch, so a checkpoint
        # written at epoch end already holds the next epoch's learning rate.
        internal: list[Callback] = []
        if scheduler is not None:
            internal.append(LRSchedulerCallback(scheduler, scheduler_interval, scheduler_monitor))
        self.user_callbacks = list(callbacks)
        extra = [ProgressBar()] if verbose and self.writes_files else []
        self.callbacks = CallbackList(internal + self.user_callbacks + extra)
        self.callbacks.set_trainer(self)
        self.history = History()
        self.epoch = 0
        self.global_step = 0
        self.epochs = 0
        self.steps_per_epoch: int | None = None
        self.stop_training = False
        self.stop_reason: str | None = None
        self.train_loader: Any = None
        self.has_validation = False

    @property
    def world_size(self) -> int:
        """K, the ranks that train this model together (1 unless it is a
        DistributedDataParallel)."""
        model = self.model
        return model.world_size if isinstance(model, DistributedDataParallel) else 1

    @property
    def writes_files(self) -> bool:
        """False on ranks other than 0 of data-parallel training: one rank writes the
        checkpoints and logs, and shows progress."""
        return self.world_size == 1 or dist.get_rank() == 0

    # -- the loop ---------------------------------------------------------------------------

    def fit(
        self,
        train_loader: Any,
        val_loader: Any = None,
        epochs: int = 1,
        batch_size: int = 32,
    ) -> History:
        """Train until ``epochs`` epochs *in total* have run, so a resumed trainer continues
        from the epoch it reached (call ``fit(..., epochs=20)`` again after 10 to train 10
        more). Returns the :class:`History`.

        ``train_loader``/``val_loader`` are iterables of (inputs, targets) batches, or
        Keras-style ``(x, y)`` pairs of arrays, batched here with ``batch_size``
        (shuffled for training).
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a whole number ≥ 0, got {epochs!r}")
        train_loader = _as_loader(train_loader, batch_size, shuffle=True)
        val_loader = _as_loader(val_loader, batch_size, shuffle=False)
        if self.epoch >= epochs:
            warnings.warn(
                f"fit(epochs={epochs}): this trainer has already run {self.epoch} epochs and "
                "epochs counts the total, so nothing was trained; pass a larger number",
                stacklevel=2,
            )
        self.has_validation = val_loader is not None
        self.train_loader = train_loader
        self.epochs = epochs
        try:
            self.steps_per_epoch = math.ceil(len(train_loader) / self.accumulate_steps)  # type: ignore[arg-type]
        except TypeError:
            self.steps_per_epoch = None
        self.stop_training = False
        logs: dict[str, Any] = {}
        self.callbacks.on_train_begin()
        try:
            # Off: leave anomaly mode as the caller set it (a surrounding detect_anomaly()).
            with _detect_anomaly() if self.detect_anomaly else contextlib.nullcontext():
                while self.epoch < epochs and not self.stop_training:
                    logs = self._run_epoch(train_loader, val_loader)
        except NonFiniteLossError as exc:
            self.stop_reason = str(exc)
            raise
        finally:
            self.history.stop_reason = self.stop_reason
            self.callbacks.on_train_end(logs)
        return self.history

    def logged_keys(self) -> set[str]:
        """The names every epoch's logs will hold (for checking a monitor before training)."""
        base = {"loss", *self.metrics}
        keys = base | {"lr", "grad_norm", "time"}
        return keys | {f"val_{k}" for k in base} if self.has_validation else keys

    def _run_epoch(self, train_loader: Iterable[Any], val_loader: Iterable[Any] | None) -> dict:
        epoch = self.epoch
        set_epoch = getattr(getattr(train_loader, "sampler", None), "set_epoch", None)
        if callable(set_epoch):  # a DistributedSampler draws its order from the epoch
            set_epoch(epoch)
        self.callbacks.on_epoch_begin(epoch)
        self.model.train()
        start = time.perf_counter()
        params = [p for p in self.model.parameters() if p.requires_grad]
        total_loss, seen, norms, step_loss = 0.0, 0, [], 0.0
        outputs_seen, targets_seen = [], []
        k, ranks = self.accumulate_steps, self.world_size
        batches = list(train_loader) if k > 1 else train_loader
        n_batches = len(batches) if k > 1 else None  # type: ignore[arg-type]
        lr_used = self.optimizer.param_groups[0]["lr"]
        self.optimizer.zero_grad()
        for i, batch in enumerate(batches):
            x, y = _split_batch(batch)
            if i % k == 0:
                self.callbacks.on_batch_begin(self.global_step)
            out = _call(self.model, x)
            loss = self.loss_fn(out, y)
            if self.penalty is not None:
                loss = loss + self.penalty(self.model)
            n = len(y)
            value, weight, n_global = float(loss.array), 1.0, n
            if ranks > 1:  # the global batch's mean loss and size, the same on every rank
                value, n_global = _global_mean(value, n)
                weight = ranks * n / n_global
            if not math.isfinite(value):
                raise NonFiniteLossError(
                    f"loss is {value} at epoch {epoch + 1}, step {self.global_step + 1} "
                    f"(batch {i + 1}); lower the learning rate, clip gradients (grad_clip) "
                    "or look for NaN/Inf in the data"
                )
            last = n_batches is not None and i + 1 == n_batches
            steps = (i + 1) % k == 0 or last
            scaled = loss * weight if weight != 1.0 else loss
            # Accumulating micro-batches skip the allreduce; the step's last one averages.
            local_only = ranks > 1 and not steps
            with self.model.no_sync() if local_only else contextlib.nullcontext():
                (scaled / k if k > 1 else scaled).backward()
            total_loss += value * n_global
            seen += n_global
            if self.metrics:
                outputs_seen.append(out.array.copy())
                targets_seen.append(np.asarray(getattr(y, "array", y)))
            step_loss += value / k
            if steps:
                norms.append(self._step(params, step_loss))
                step_loss = 0.0
                self.callbacks.on_batch_end(
                    self.global_step - 1, {"loss": value, "grad_norm": norms[-1]}
                )
        logs: dict[str, Any] = {"loss": total_loss / max(seen, 1)}
        if self.metrics and outputs_seen:
            outs, targets = _gathered(outputs_seen, ranks), _gathered(targets_seen, ranks)
            for name, fn in self.metrics.items():
                logs[name] = fn(outs, targets)
        if val_loader is not None:
            logs.update(
                {f"val_{k_}": v for k_, v in _rank_zeros(self.evaluate(val_loader), ranks).items()}
            )
        logs["lr"] = float(lr_used)
        logs["grad_norm"] = float(np.mean(norms)) if norms else 0.0
        logs["time"] = time.perf_counter() - start
        self.epoch += 1
        self.history.log_epoch(logs)
        self.callbacks.on_epoch_end(epoch, logs)
        return logs

    def _step(self, params: Sequence[Tensor], loss: float) -> float:
        """Clip, step, clear gradients, apply constraints; returns the gradient norm."""
        if self.grad_clip is not None:
            norm = float(clip_grad_norm_(params, self.grad_clip))
        else:
            norm = _grad_norm(params)
        self.optimizer.step()
        self.optimizer.zero_grad()
        for constrain in self.constraints:
            constrain(self.model)
        lr = float(self.optimizer.param_groups[0]["lr"])
        self.history.log_step({"step": self.global_step, "loss": loss, "lr": lr, "grad_norm": norm})
        self.global_step += 1
        return norm

    # -- evaluation -------------------------------------------------------------------------

    def evaluate(self, loader: Iterable[Any]) -> dict[str, float]:
        """Mean loss and metrics over ``loader`` in eval mode, without recording a graph."""
        outputs, targets = self._collect(loader)
        with no_grad():
            loss = float(self.loss_fn(Tensor(outputs), Tensor(targets)).array)
        logs = {"loss": loss}
        for name, fn in self.metrics.items():
            logs[name] = fn(outputs, targets)
        return logs

    def _collect(self, loader: Iterable[Any]) -> tuple[np.ndarray, np.ndarray]:
        was_training = self.model.training
        self.model.eval()
        outs, ys = [], []
        try:
            with no_grad():
                for batch in loader:
                    x, y = _split_batch(batch)
                    outs.append(_call(self.model, x).array)
                    ys.append(np.asarray(getattr(y, "array", y)))
        finally:
            self.model.train(was_training)
        return np.concatenate(outs), np.concatenate(ys)

    def predict(self, inputs: Any, batch_size: int = 256) -> np.ndarray:
        """Model outputs for an array/Tensor of inputs, or a tuple of them for a model with
        several inputs (in batches, eval mode)."""
        several = isinstance(inputs, tuple)
        arrays = [np.asarray(getattr(a, "array", a)) for a in (inputs if several else (inputs,))]
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                parts = []
                for i in range(0, len(arrays[0]), batch_size):
                    batch = tuple(Tensor(a[i : i + batch_size]) for a in arrays)
                    parts.append(_call(self.model, batch if several else batch[0]).array)
        finally:
            self.model.train(was_training)
        return np.concatenate(parts)

    # -- checkpoints ------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs to continue exactly where this one is."""
        state: dict[str, Any] = {
            "model": self.model_state(),
            "optimizer": self.optimizer.state_dict(),
            "rng": nnrandom.get_rng_state(),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "history": self.history.state_dict(),
            "callbacks": self.callbacks.state_dict(),
            "world_size": self.world_size,
        }
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        loader_state = getattr(self.train_loader, "state_dict", None)
        if callable(loader_state):
            state["train_loader"] = loader_state()
        return state

    def model_state(self) -> dict[str, Any]:
        """The model's ``state_dict`` as checkpoints hold it (without frozen parameters
        unless ``save_frozen``)."""
        model = self._bare_model()
        return model.state_dict() if self.save_frozen else state_without_frozen(model)

    def _bare_model(self) -> Any:
        """The model without its DistributedDataParallel wrapper: checkpoints and weight
        files hold its keys, so a K-rank run's files load into a one-process model."""
        return self.model.module if isinstance(self.model, DistributedDataParallel) else self.model

    def load_model_state(self, state: dict[str, Any], source: str = "the checkpoint") -> None:
        """Load a :meth:`model_state` into the model; a state that does not fit raises one
        :class:`CheckpointError` naming ``source`` and every missing, unexpected and
        mis-shaped tensor."""
        load_model_state(self._bare_model(), state, source, skip_frozen=not self.save_frozen)

    def load_state_dict(self, state: dict[str, Any], source: str = "the checkpoint") -> None:
        saved, ranks = int(state.get("world_size", 1)), self.world_size
        if saved != ranks:
            raise CheckpointError(
                f"{source} was written by a run on {saved} process(es), and this one runs on "
                f"{ranks}; resume with the same number (mpirun -n {saved}), since the "
                "batches each process reads depend on it"
            )
        self.load_model_state(state["model"], source)
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            if "scheduler" not in state:
                raise CheckpointError(
                    f"{source} has no scheduler state but this trainer has a scheduler"
                )
            self.scheduler.load_state_dict(state["scheduler"])
        nnrandom.set_rng_state(state["rng"])
        self.epoch = int(state["epoch"])
        self.global_step = int(state["global_step"])
        self.history.load_state_dict(state["history"])
        self.callbacks.load_state_dict(state.get("callbacks", {}))
        self._pending_loader_state = state.get("train_loader")

    def save(self, path: str | Path) -> Path:
        """Write a full checkpoint (atomic, safetensors + JSON metadata, no pickle)."""
        return save_checkpoint(path, self.state_dict())

    def load(self, path: str | Path, train_loader: Any = None) -> Trainer:
        """Restore a checkpoint written by :meth:`save`; give the train loader to restore
        its shuffling state too. Then call :meth:`fit` with the total epoch count."""
        self.load_state_dict(load_checkpoint(path), source=f"checkpoint {path}")
        loader_state = getattr(self, "_pending_loader_state", None)
        if train_loader is not None and loader_state is not None:
            train_loader.load_state_dict(loader_state)
        return self


def fit(
    model: Any,
    loss_fn: Any,
    optimizer: Any,
    train_loader: Any,
    val_loader: Any = None,
    epochs: int = 1,
    batch_size: int = 32,
    **options: Any,
) -> History:
    """Train ``model`` for ``epochs`` epochs in one call, Keras-style.

    ``loss_fn`` may be a name (``"cross_entropy"``, ``"mse"``...); the data may be loaders
    or ``(x, y)`` pairs of arrays (batched with ``batch_size``). ``options`` go to
    :class:`Trainer` (callbacks, metrics, scheduler, grad_clip, accumulate_steps...).

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn, optim
        >>> x = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
        >>> y = (x[:, 0] > 0).astype(np.int64)
        >>> model = nn.Linear(2, 2)
        >>> history = fit(model, "cross_entropy", optim.SGD(model.parameters(), lr=0.5),
        ...               (x, y), epochs=20, metrics=["accuracy"], verbose=False)
        >>> history["accuracy"][-1] > 0.9
        True
    """
    trainer = Trainer(model, loss_fn, optimizer, **options)
    return trainer.fit(train_loader, val_loader, epochs, batch_size=batch_size)
