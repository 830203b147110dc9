"""From a :class:`RunConfig` to the objects a run trains with: the model (from its
registry entry), the loss, the optimizer (with parameter groups), the learning-rate
schedule and the regularizers.

Everything here raises :class:`~nnlab.config.ConfigError` naming the key at fault, and
runs before a run folder is created, so a bad config never leaves a half-written run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import nnlab
from nnlab import nn, optim
from nnlab.config import ConfigError, RunConfig
from nnlab.models.registry import ModelInputs, model_entry
from nnlab.nn.utils import param_groups_by_name
from nnlab.nn.utils import regularization as R
from nnlab.nn.utils.mining import batch_hard_triplets
from nnlab.optim import lr_scheduler as S
from nnlab.runner.options import check_options, construct, given_options
from nnlab.tensor import Tensor

__all__ = [
    "output_size", "build_model", "build_loss", "build_optimizer", "build_scheduler",
    "build_regularizers",
]  # fmt: skip


def output_size(cfg: RunConfig, n_classes: int) -> int:
    """Scores per output position: the classes (per sample, pixel or output token), 1
    for a binary or regression output, or the embedding's size for metric learning."""
    if cfg.task == "metric_learning":
        return cfg.model.embedding_dim
    return n_classes if cfg.task in ("classification", "segmentation", "seq2seq") else 1


def build_model(
    cfg: RunConfig, input_shape: tuple[int, ...], out_features: int, vocab_size: int = 0
) -> nn.Module:
    """The configured model type (see :mod:`nnlab.models.registry`) for inputs of
    ``input_shape`` (without the batch axis) and ``out_features`` outputs, or for token ids
    of a ``vocab_size`` vocabulary: its entry's arguments, then ``model.params``."""
    m = cfg.model
    entry = model_entry(m.type)
    inputs = ModelInputs(
        name=m.type,
        input_shape=tuple(input_shape),
        outputs=out_features,
        vocab_size=vocab_size,
        max_len=cfg.data.text.max_len,
        config=m,
    )
    check_options("model.params", m.type, entry.factory, m.params)
    try:
        return entry.build(inputs, m.params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.params for {m.type}: {exc}") from None


class _SequenceLoss(nn.Module):
    """A per-token loss for sequence outputs (N, T, V) and targets (N, T): the class axis
    goes second, as cross-entropy expects (N, V, T)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        return self.loss(logits.transpose(1, 2), target)


class _SumLoss(nn.Module):
    """The sum of two losses (cross-entropy + Dice is common for segmentation)."""

    def __init__(self, first: nn.Module, second: nn.Module) -> None:
        super().__init__()
        self.first, self.second = first, second

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.first(outputs, targets) + self.second(outputs, targets)


class _FlatTargetLoss(nn.Module):
    """Binary and regression models output (N, 1); their losses compare with (N,)."""

    def __init__(self, loss: nn.Module) -> None:
        super().__init__()
        self.loss = loss

    def forward(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return self.loss(outputs.reshape(-1), targets)


class _BatchHardTripletLoss(nn.Module):
    """The triplet loss over the batch-hard triplets of a batch of embeddings (N, D) and
    their labels (N,): each anchor with its farthest positive and nearest negative
    (Hermans et al., 2017), ``mean max(0, d(a, p) − d(a, n) + margin)``."""

    def __init__(self, margin: float) -> None:
        super().__init__()
        self.triplet = nn.TripletMarginLoss(margin=margin)

    def forward(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        a, p, n = batch_hard_triplets(embeddings, labels)
        if len(a) == 0:  # no anchor has both a positive and a negative in this batch
            return (embeddings * 0.0).sum()
        return self.triplet(embeddings[a], embeddings[p], embeddings[n])


def build_loss(cfg: RunConfig, y_train: np.ndarray, n_classes: int) -> nn.Module:
    """The configured loss; ``class_weight="balanced"`` weighs classes by inverse frequency."""
    c = cfg.loss
    y_train = np.asarray(y_train)
    if c.name == "triplet":
        return _BatchHardTripletLoss(c.margin)
    if cfg.task == "seq2seq":
        return _SequenceLoss(nn.CrossEntropyLoss(ignore_index=0, label_smoothing=c.label_smoothing))
    if c.name == "cross_entropy":
        weight = None
        if c.class_weight == "balanced":
            counts = np.bincount(y_train, minlength=n_classes).astype(np.float32)
            weight = nnlab.tensor(len(y_train) / (n_classes * np.maximum(counts, 1)))
        return nn.CrossEntropyLoss(weight=weight, label_smoothing=c.label_smoothing)
    if c.name == "multi_margin":
        return nn.MultiMarginLoss()
    if c.name == "dice":
        return nn.DiceLoss()
    if c.name == "cross_entropy+dice":
        return _SumLoss(nn.CrossEntropyLoss(label_smoothing=c.label_smoothing), nn.DiceLoss())
    if c.name == "bce_with_logits":
        pos_weight = c.pos_weight
        if c.class_weight == "balanced":
            pos_weight = float((y_train == 0).sum() / max((y_train == 1).sum(), 1))
        pw = nnlab.tensor([pos_weight]) if pos_weight is not None else None
        return _FlatTargetLoss(nn.BCEWithLogitsLoss(pos_weight=pw))
    return _FlatTargetLoss({"mse": nn.MSELoss, "l1": nn.L1Loss, "huber": nn.HuberLoss}[c.name]())


_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
               "adagrad": "Adagrad", "adadelta": "Adadelta", "nadam": "NAdam"}  # fmt: skip


def build_optimizer(cfg: RunConfig, model: nn.Module) -> Any:
    """The optimizer over ``model.parameters()``, or over the parameter groups of
    ``optimizer.param_groups`` plus one group of every parameter they do not name."""
    options = given_options(cfg.optimizer, ("name", "param_groups"))
    options["lr"] = cfg.optimizer.lr
    name = cfg.optimizer.name
    cls = getattr(optim, _OPTIMIZERS[name])
    if not cfg.optimizer.param_groups:
        return construct("optimizer", name, cls, (model.parameters(),), options)
    return construct("optimizer", name, cls, (_param_groups(cfg, model, cls),), options)


def _param_groups(cfg: RunConfig, model: nn.Module, cls: Any) -> list[dict[str, Any]]:
    """``optimizer.param_groups`` as torch-style groups (see
    :func:`nnlab.nn.utils.param_groups_by_name`), each option checked against the optimizer."""
    specs = []
    for i, group in enumerate(cfg.optimizer.param_groups):
        options = given_options(group, ("params",))
        check_options(f"optimizer.param_groups[{i}]", cfg.optimizer.name, cls, options)
        specs.append({"params": group.params, **options})
    try:
        return param_groups_by_name(model, specs)
    except ValueError as exc:
        raise ConfigError(f"optimizer.{exc}") from None


def build_scheduler(cfg: RunConfig, optimizer: Any, steps_per_epoch: int) -> tuple[Any, str]:
    """The configured schedule and when it steps ("step": every batch, "epoch"); its
    options default to values scaled to ``training.epochs``."""
    s = cfg.scheduler
    if s.name == "none":
        return None, "epoch"
    options = given_options(s, ("name",))
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
    sched = construct("scheduler", s.name, classes[s.name], (optimizer,), kwargs)
    return sched, "step" if s.name == "onecycle" else "epoch"


def build_regularizers(cfg: RunConfig) -> tuple[Any, list[Any]]:
    """(penalty(model) added to the loss or None, constraints applied after each step)."""
    r = cfg.regularization
    penalty = None
    if r.l1 or r.l2:

        def penalty(model: nn.Module) -> Tensor:
            """λ₁·Σ|w| + λ₂·Σw² over the weights (biases and norm parameters excluded)."""
            terms = []
            if r.l1:
                terms.append(r.l1 * R.l1_penalty(model))
            if r.l2:
                terms.append(r.l2 * R.l2_penalty(model))
            return terms[0] if len(terms) == 1 else terms[0] + terms[1]

    constraints = []
    if r.max_norm is not None:
        constraints.append(lambda model: R.max_norm_(model, r.max_norm))
    return penalty, constraints
