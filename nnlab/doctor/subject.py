"""What the doctor examines: a model, its loss, its optimizer and its data splits, with the
few operations every check needs (seeded batches, an evaluation, and a guard that puts the
model and optimizer back as they were)."""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import nnlab
from nnlab import nn
from nnlab.nn.utils.modes import training_modes_kept
from nnlab.optim.optimizer import Optimizer
from nnlab.tensor import Tensor

__all__ = ["LOSS_KINDS", "Subject", "balanced_accuracy", "loss_kind"]

#: The losses whose expected values the checks know: cross-entropy on logits, binary
#: cross-entropy on logits, mean squared error; anything else is ``"other"``.
LOSS_KINDS = ("cross_entropy", "bce_with_logits", "mse", "other")

_EVAL_ROWS = 512  # rows used to measure a split's loss: enough for 2-3 significant digits


def loss_kind(loss_fn: Any) -> str:
    """The kind of ``loss_fn`` (see :data:`LOSS_KINDS`): the first of CrossEntropyLoss,
    BCEWithLogitsLoss or MSELoss found among its modules, so wrappers that hold one (a
    run's loss that flattens targets) count as the loss they wrap."""
    modules = loss_fn.modules() if isinstance(loss_fn, nn.Module) else []
    for m in modules:
        if isinstance(m, nn.CrossEntropyLoss):
            return "cross_entropy"
        if isinstance(m, nn.BCEWithLogitsLoss):
            return "bce_with_logits"
        if isinstance(m, nn.MSELoss):
            return "mse"
    return "other"


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The mean over the classes present in ``y_true`` of the fraction of their rows
    predicted correctly (recall): 1/C for any predictor that ignores the inputs, however
    imbalanced the classes."""
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]))


@dataclass
class Subject:
    """A model under examination with its loss, optimizer and data (NumPy arrays).

    ``lr`` is the configured learning rate: the largest of the optimizer's groups.
    ``x_test``/``y_test`` are optional and only searched for leaked rows.
    """

    model: nn.Module
    loss_fn: Any
    optimizer: Optimizer
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    batch_size: int = 32
    seed: int = 0
    kind: str = "other"
    lr: float = field(init=False)

    def __post_init__(self) -> None:
        self.lr = max(float(g["lr"]) for g in self.optimizer.param_groups)

    @property
    def classes(self) -> int:
        """Classes a classifier separates: the model's output width for cross-entropy,
        2 for a binary classifier, 0 for anything else."""
        if self.kind == "cross_entropy":
            with nnlab.no_grad(), self.preserved():
                self.model.eval()
                return int(self.model(nnlab.tensor(self.x_train[:2])).shape[1])
        return 2 if self.kind == "bce_with_logits" else 0

    def targets(self, y: np.ndarray) -> Tensor:
        """Targets as the loss expects them: class indices (int64) for cross-entropy,
        float32 values otherwise."""
        if self.kind == "cross_entropy":
            return nnlab.tensor(np.asarray(y, dtype=np.int64))
        if self.kind in ("bce_with_logits", "mse"):
            return nnlab.tensor(np.asarray(y, dtype=np.float32))
        return nnlab.tensor(np.asarray(y))

    def batches(self, n: int, stream: int = 0) -> list[tuple[Tensor, Tensor]]:
        """``n`` training batches of ``batch_size`` rows drawn without replacement within
        a batch, the same for a given seed and ``stream``."""
        rng = np.random.default_rng([self.seed, stream])
        size = min(self.batch_size, len(self.x_train))
        out = []
        for _ in range(n):
            rows = rng.choice(len(self.x_train), size=size, replace=False)
            out.append((nnlab.tensor(self.x_train[rows]), self.targets(self.y_train[rows])))
        return out

    def predictions(self, outputs: np.ndarray) -> np.ndarray | None:
        """Predicted classes from the model's outputs (None when it is not a classifier)."""
        if self.kind == "cross_entropy":
            return outputs.argmax(1)
        if self.kind == "bce_with_logits":
            return (outputs.reshape(-1) > 0).astype(np.int64)
        return None

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
        """(loss, accuracy, balanced accuracy) of the model in eval mode on the first 512
        rows of (x, y); the accuracies are nan for a model that is not a classifier."""
        x, y = x[:_EVAL_ROWS], y[:_EVAL_ROWS]
        with nnlab.no_grad(), self.preserved():
            self.model.eval()
            out = self.model(nnlab.tensor(x))
            loss = float(self.loss_fn(out, self.targets(y)).item())
            pred = self.predictions(out.numpy())
        if pred is None:
            return loss, math.nan, math.nan
        y = np.asarray(y).reshape(-1)
        return loss, float((pred == y).mean()), balanced_accuracy(y, pred)

    @contextlib.contextmanager
    def preserved(self) -> Iterator[None]:
        """Run the block, then put back the model's parameters, buffers and mode and the
        optimizer's state and learning rates, and clear the gradients: a check changes
        nothing it examines."""
        params = [p for g in self.optimizer.param_groups for p in g["params"]]
        params += [p for p in self.model.parameters() if all(p is not q for q in params)]
        saved_params = [p.array.copy() for p in params]
        saved_model = copy.deepcopy(self.model.state_dict())
        saved_optimizer = copy.deepcopy(self.optimizer.state_dict())
        try:
            with training_modes_kept(self.model):
                yield
        finally:
            for p, data in zip(params, saved_params):
                p.array[...] = data
                p.grad = None
            self.model.load_state_dict(saved_model)
            self.optimizer.load_state_dict(saved_optimizer)
