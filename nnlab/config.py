"""Run configurations: a TOML file, validated with pydantic, that describes one training run.

Every section rejects unknown keys and out-of-range values with a message that names
the key and lists what is allowed, e.g.::

    optimizer.name: 'adma' is not allowed; choose one of 'sgd', 'adam', ...
    training.epoch: unknown key; allowed keys: epochs, grad_clip, ...

Example (``configs/digits_mlp.toml``)::

    name = "digits-mlp"
    seed = 0
    [data]
    dataset = "digits"
    [model]
    hidden_sizes = [128, 64]
    [optimizer]
    name = "adam"
    lr = 0.001
    [training]
    epochs = 40

An optional ``[tune]`` section declares a hyperparameter search for ``nnlab tune`` (see
:class:`TuneConfig`); ``nnlab train`` validates it and otherwise ignores it.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from nnlab.models.registry import ModelEntry, model_entry, model_names

__all__ = [
    "RunConfig", "TuneConfig", "TuneParamConfig", "ConfigError", "load_config", "parse_config",
    "read_toml", "set_key",
]  # fmt: skip


class ConfigError(ValueError):
    """A run configuration is invalid; the message names every offending key."""


class _Section(BaseModel):
    # allow_inf_nan=False: TOML writes ``inf`` and ``nan``, and no setting means either.
    model_config = ConfigDict(extra="forbid", frozen=False, allow_inf_nan=False)


DatasetName = Literal[
    "digits", "iris", "wine", "breast_cancer", "mnist1d", "xor", "moons", "circles", "spirals",
    "linearly_separable", "noisy_sine", "imbalanced", "shapes", "sentiment", "dates",
]  # fmt: skip

#: Datasets of texts: their inputs become token ids through a vocabulary (``data.text``).
TEXT_DATASETS = ("sentiment",)
#: Datasets made for one task (per-pixel masks, date pairs), and only for it.
TASK_DATASETS = {"segmentation": "shapes", "seq2seq": "dates"}
#: What the data gives a model (see ``nnlab.models.registry.INPUT_KINDS``): by dataset
#: where the dataset decides, else by ``data.layout``.
DATASET_INPUTS = {**dict.fromkeys(TEXT_DATASETS, "tokens"), "dates": "token_pairs",
                  "shapes": "image"}  # fmt: skip
LAYOUT_INPUTS = {"flat": "features", "image": "image", "sequence": "signal"}
_INPUT_NAMES = {"features": "feature rows", "image": "images", "signal": "signals",
                "tokens": "token ids", "token_pairs": "source and target token ids"}  # fmt: skip
_INPUT_LAYOUTS = {"features": "flat", "image": "image", "signal": "sequence"}


class AugmentConfig(_Section):
    """One training-time augmentation (``nnlab.data.transforms``) and its options."""

    name: Literal[
        "horizontal_flip", "vertical_flip", "rotation", "translation", "scale", "crop",
        "resized_crop", "noise", "erasing", "color_jitter",
    ]  # fmt: skip
    params: dict[str, Any] = Field(default_factory=dict)


class TextConfig(_Section):
    """How texts become token ids: the tokenizer's level, which tokens get an id (fitted
    on the training split only) and the padded length."""

    level: Literal["word", "char"] = "word"
    min_freq: PositiveInt = 1
    max_size: PositiveInt | None = None
    max_len: PositiveInt = 64


class DataConfig(_Section):
    """Which data, how it is split (test and validation fractions), scaled and shaped.

    ``layout`` gives feature rows their shape for convolutions: ``"image"`` makes the 64
    digits pixels a 1×8×8 image (resized to ``image_size`` if given), ``"sequence"`` makes
    MNIST-1D's 40 values a 1×40 signal. ``augment`` lists training-only augmentations.
    """

    dataset: DatasetName = "digits"
    test_size: float = Field(0.2, gt=0, lt=1)
    val_size: float = Field(0.1, ge=0, lt=1)
    batch_size: int = Field(64, ge=1)
    scale: Literal["standard", "minmax", "none"] = "standard"
    layout: Literal["flat", "image", "sequence"] = "flat"
    image_size: PositiveInt | None = None
    augment: list[AugmentConfig] = Field(default_factory=list)
    text: TextConfig = Field(default_factory=TextConfig)
    params: dict[str, Any] = Field(default_factory=dict)


class ModelConfig(_Section):
    """The network: a model type registered in :mod:`nnlab.models.registry` (an MLP, a
    linear model, a perceptron, a CNN, a sequence model...). The MLP's options are the keys
    below; every model's constructor options go in ``params``."""

    type: str = "mlp"
    embedding_dim: PositiveInt = 16  # metric_learning: the embedding the model outputs
    hidden_sizes: list[PositiveInt] = Field(default_factory=lambda: [128])
    activation: Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu"] = "relu"
    dropout: float = Field(0.0, ge=0, lt=1)
    norm: Literal["none", "batch", "layer"] = "none"
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("type", mode="before")
    @classmethod
    def _registered(cls, value: Any) -> Any:
        """A registered model type; the error lists them, as for any other choice."""
        names = model_names()
        if value not in names:
            expected = ", ".join(map(repr, names[:-1])) + f" or {names[-1]!r}"
            raise PydanticCustomError(
                "literal_error", "Input should be {expected}", {"expected": expected}
            )
        return value


LOSSES_BY_TASK = {
    "classification": ("cross_entropy", "multi_margin"),
    "binary": ("bce_with_logits",),
    "regression": ("mse", "l1", "huber"),
    "segmentation": ("cross_entropy", "dice", "cross_entropy+dice"),
    "seq2seq": ("cross_entropy",),  # per output token, padding ignored
    "reconstruction": ("mse", "l1", "elbo"),
    # GANs: the generator's loss (the discriminator's is always binary cross-entropy);
    # DDPMs: the ε-prediction loss
    "generation": ("non_saturating", "minimax", "diffusion"),
    "metric_learning": ("triplet",),  # batch-hard triplets (Hermans et al., 2017)
}
METRICS_BY_TASK = {
    "classification": ("accuracy", "precision", "recall", "f1", "roc_auc", "top5_accuracy"),
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "average_precision"),
    "regression": ("mse", "rmse", "mae", "r2"),
    "segmentation": ("pixel_accuracy", "mean_iou", "mean_dice"),
    # teacher-forced, during training; greedy exact match is added to the final metrics
    "seq2seq": ("token_accuracy",),
    # The own loops of reconstruction and generation log their loss terms, and metric
    # learning its triplet loss; each adds its final metrics (reconstruction error, ELBO
    # terms, Fréchet distance, pair AUC...) to metrics.json.
    "reconstruction": (),
    "generation": (),
    "metric_learning": (),
}
#: Loss options that only some losses read.
LOSS_OPTIONS = {"beta": ("elbo",), "warmup_steps": ("elbo",), "margin": ("triplet",)}


class LossConfig(_Section):
    """The loss; left out, it is the usual one for the task (cross-entropy, binary
    cross-entropy on logits, or mean squared error) or the model's (a VAE's ELBO).
    ``beta`` and ``warmup_steps`` set the ELBO's KL weight and its warm-up, ``margin``
    the triplet loss's."""

    name: (
        Literal[
            "cross_entropy", "bce_with_logits", "mse", "l1", "huber", "multi_margin", "dice",
            "cross_entropy+dice", "elbo", "non_saturating", "minimax", "diffusion", "triplet",
        ]
        | None
    ) = None  # fmt: skip
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    pos_weight: float | None = Field(None, gt=0)
    class_weight: Literal["none", "balanced"] = "none"
    beta: float = Field(1.0, ge=0)  # elbo: the KL term's weight (β-VAE)
    warmup_steps: int = Field(0, ge=0)  # elbo: steps of the linear KL warm-up to beta
    margin: float = Field(0.2, gt=0)  # triplet: d(a, p) + margin ≤ d(a, n)


class _OptimizerOptions(_Section):
    """Options an optimizer (or one of its parameter groups) may set; None: its default."""

    weight_decay: float | None = Field(None, ge=0)
    momentum: float | None = Field(None, ge=0)
    dampening: float | None = None
    nesterov: bool | None = None
    betas: tuple[float, float] | None = None
    eps: float | None = Field(None, gt=0)
    alpha: float | None = None
    centered: bool | None = None
    amsgrad: bool | None = None
    rho: float | None = None
    lr_decay: float | None = None


class ParamGroupConfig(_OptimizerOptions):
    """One parameter group, as in ``torch.optim``: the parameters whose names (as in
    ``model.named_parameters()``) match ``params`` (shell-style patterns, e.g.
    ``"encoder.*"``), with their own options; the first group that matches a name takes it.
    """

    params: str | list[str]
    lr: float | None = Field(None, gt=0)


class OptimizerConfig(_OptimizerOptions):
    """Optimizer name and its options; an option the chosen optimizer lacks is an error.
    ``param_groups`` give some parameters their own options (a smaller learning rate for a
    pretrained body, say); the parameters no group names keep the options above."""

    name: Literal["sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "nadam"] = "adam"
    lr: float = Field(1e-3, gt=0)
    param_groups: list[ParamGroupConfig] = Field(default_factory=list)


class SchedulerConfig(_Section):
    """Learning-rate schedule; OneCycle steps every batch, the others every epoch."""

    name: Literal[
        "none", "step", "multistep", "exponential", "cosine", "cosine_warm_restarts", "onecycle",
        "linear", "plateau",
    ] = "none"  # fmt: skip
    step_size: int | None = Field(None, ge=1)
    gamma: float | None = Field(None, gt=0)
    milestones: list[int] | None = None
    T_max: int | None = Field(None, ge=1)
    T_0: int | None = Field(None, ge=1)
    T_mult: int | None = Field(None, ge=1)
    eta_min: float | None = Field(None, ge=0)
    max_lr: float | None = Field(None, gt=0)
    pct_start: float | None = Field(None, gt=0, lt=1)
    start_factor: float | None = Field(None, gt=0)
    end_factor: float | None = Field(None, ge=0)
    total_iters: int | None = Field(None, ge=1)
    factor: float | None = Field(None, gt=0, lt=1)
    patience: int | None = Field(None, ge=0)


class RegularizationConfig(_Section):
    """Penalties added to the loss (biases and norm parameters excluded) and a max-norm
    constraint applied after each step."""

    l1: float = Field(0.0, ge=0)
    l2: float = Field(0.0, ge=0)
    max_norm: float | None = Field(None, gt=0)


class EarlyStoppingConfig(_Section):
    monitor: str = "val_loss"
    patience: int = Field(10, ge=1)
    min_delta: float = Field(0.0, ge=0)
    mode: Literal["auto", "min", "max"] = "auto"
    start_from_epoch: int = Field(0, ge=0)
    restore_best_weights: bool = True


class TrainingConfig(_Section):
    """How long and how to train. ``detect_anomaly`` runs the loop inside
    ``nnlab.autograd.detect_anomaly()``: the first op whose forward or backward makes a NaN
    or Inf stops the run with the op's name (slow; for debugging)."""

    epochs: int = Field(20, ge=1)
    grad_clip: float | None = Field(None, gt=0)
    accumulate_steps: int = Field(1, ge=1)
    metrics: list[str] | None = None  # left out: the usual ones for the task
    monitor: str = "val_loss"
    early_stopping: EarlyStoppingConfig | None = None
    detect_anomaly: bool = False


class TuneParamConfig(_Section):
    """One searched setting of ``nnlab tune``: a range or a list of choices.

    A range has ``low`` and ``high`` (both bounds included), optionally ``log = true``
    (sampled uniformly in log space; needs ``low > 0``) or a ``step`` (values ``low + k *
    step``); two integers make an integer range. ``choices`` lists the values instead (any
    TOML value, e.g. lists of layer sizes). ``grid`` lists the values the grid sampler tries
    for a float range without a ``step``. ``when`` makes the setting conditional: it is
    searched only in trials where every named parameter has the given value (e.g. momentum
    only for SGD); otherwise the base config's value stays.
    """

    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    step: int | float | None = Field(None, gt=0)
    choices: list[Any] | None = None
    grid: list[int | float] | None = None
    when: dict[str, Any] = Field(default_factory=dict)

    def is_int(self) -> bool:
        """Whether the range is of integers: integer bounds and an integer (or no) step."""
        numbers = (self.low, self.high, 1 if self.step is None else self.step)
        return self.choices is None and all(type(v) is int for v in numbers)

    def problems(self) -> list[str]:
        """What is wrong with this parameter on its own (the key is added by the caller)."""
        if self.choices is not None:
            extra = [k for k in ("low", "high", "step", "grid") if getattr(self, k) is not None]
            extra += ["log"] * self.log
            if extra:
                return [
                    f"choices cannot be combined with {', '.join(extra)}; give one or the other"
                ]
            return [] if self.choices else ["choices is empty; list at least one value"]
        if self.low is None or self.high is None:
            return ["give low and high (a range) or choices (a list of values)"]
        if self.low >= self.high:
            return [f"empty range: low ({self.low}) must be below high ({self.high})"]
        if self.log and self.low <= 0:
            return [f"log = true needs low > 0 (got low = {self.low})"]
        if self.log and self.step is not None:
            return ["step and log = true cannot be combined; give one"]
        if self.grid is not None:
            outside = [v for v in self.grid if not self.low <= v <= self.high]
            if not self.grid:
                return ["grid is empty; list at least one value"]
            if outside:
                return [
                    f"grid values {outside} lie outside [low, high] = [{self.low}, {self.high}]"
                ]
        return []

    def endpoints(self) -> list[Any]:
        """The values that bound what a trial can get: both ends, or every choice."""
        return list(self.choices) if self.choices is not None else [self.low, self.high]


_PARAM_KEYS = set(TuneParamConfig.model_fields)


class TuneConfig(_Section):
    """The search of ``nnlab tune``: which settings, what to optimize, how many trials.

    The searched settings are dotted keys of the config, each with a
    :class:`TuneParamConfig`::

        [tune]
        metric = "val_loss"        # left out: training.monitor
        n_trials = 20
        "optimizer.lr" = { low = 1e-4, high = 1e-1, log = true }
        "model.hidden_sizes" = { choices = [[64], [128, 64]] }
        "optimizer.momentum" = { low = 0.0, high = 0.99, when = { "optimizer.name" = "sgd" } }

    (TOML's unquoted ``optimizer.lr = {...}`` nests tables; it is read as the same key.)
    ``direction`` left out is "maximize" for accuracy-like metrics (accuracy, f1, auc, r2,
    ...) and "minimize" otherwise, as for ``training.monitor``.
    """

    metric: str | None = None
    direction: Literal["minimize", "maximize"] | None = None
    n_trials: PositiveInt = 20
    params: dict[str, TuneParamConfig] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather_params(cls, data: Any) -> Any:
        """Move the searched keys (tables under a dotted key, quoted or nested from
        unquoted dots) to ``params``; anything else is a key of the section itself (and a
        misspelt one an unknown key)."""
        if not isinstance(data, dict):
            return data
        out = {k: v for k, v in data.items() if k in cls.model_fields or not isinstance(v, dict)}
        params = dict(out.get("params") or {})
        for key, value in data.items():
            if key not in out:
                params.update(_flatten_params(key, value))
        out["params"] = params
        return out

    @model_validator(mode="after")
    def _consistent(self) -> TuneConfig:
        """Each parameter on its own, then the conditions between them."""
        problems = []
        if not self.params:
            problems.append('tune: no parameter to search; add e.g. "optimizer.lr" = '
                            "{ low = 1e-4, high = 1e-1, log = true }")  # fmt: skip
        seen: list[str] = []
        for key, param in self.params.items():
            problems += [f'tune."{key}": {p}' for p in param.problems()]
            for other, value in param.when.items():
                if other not in seen:
                    where = (
                        "a parameter declared before it"
                        if other in self.params
                        else ("a parameter of the search")
                    )
                    problems.append(f'tune."{key}".when: "{other}" is not {where}')
                elif (choices := self.params[other].choices) is not None and value not in choices:
                    problems.append(
                        f'tune."{key}".when: "{other}" = {value!r} is not one of its choices '
                        f"{choices}, so the condition never holds"
                    )
            seen.append(key)
        if problems:
            raise ValueError("\n".join(problems))
        return self


def _flatten_params(key: str, value: Any) -> dict[str, Any]:
    """``{"optimizer": {"lr": {...}}}`` as ``{"optimizer.lr": {...}}``: a table is a
    parameter when it has a parameter key (low, high, choices...), else a level of keys."""
    if isinstance(value, dict) and value and not _PARAM_KEYS & set(value):
        return {
            k: v
            for sub, inner in value.items()
            for k, v in _flatten_params(f"{key}.{sub}", inner).items()
        }
    return {key: value}


class RunConfig(_Section):
    """A whole run: what to train, on what, how, and where to write the results."""

    name: str = "run"
    seed: int = 0
    task: Literal[
        "classification", "binary", "regression", "segmentation", "seq2seq", "reconstruction",
        "generation", "metric_learning",
    ] = "classification"  # fmt: skip
    output_dir: str = "runs"
    data: DataConfig = Field(default_factory=DataConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossConfig = Field(default_factory=LossConfig)
    optimizer: OptimizerConfig = Field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    regularization: RegularizationConfig = Field(default_factory=RegularizationConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    tune: TuneConfig | None = None  # the search of ``nnlab tune``; ``nnlab train`` ignores it

    @model_validator(mode="after")
    def _fits_the_task(self) -> RunConfig:
        """Loss and metrics must suit the task; checked before anything is trained."""
        problems = _non_finite_params(self)
        problems += self._loss_problems()
        allowed = METRICS_BY_TASK[self.task]
        if self.training.metrics is None:
            defaults = {"classification": 1, "binary": 5, "regression": 4, "segmentation": 2,
                        "seq2seq": 1, "reconstruction": 0, "generation": 0,
                        "metric_learning": 0}  # fmt: skip
            self.training.metrics = [m for m in allowed[: defaults[self.task]] if m != "rmse"]
        for metric in self.training.metrics:
            if metric not in allowed:
                problems.append(
                    f"training.metrics: {metric!r} is not a metric for task {self.task!r}; "
                    "allowed: " + ", ".join(allowed)
                )
        problems += self._shape_problems()
        if not problems and self.tune is not None:
            problems += _tune_problems(self, self.tune)
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _loss_problems(self) -> list[str]:
        """The loss must suit the task and the model (a VAE trains with its ELBO, a GAN
        with a generator loss); left out, it is the model's first or the task's first.
        Options of other losses (``loss.beta`` for a triplet loss...) are errors."""
        losses = LOSSES_BY_TASK[self.task]
        entry = model_entry(self.model.type)
        fitting = [n for n in losses if not entry.losses or n in entry.losses]
        if self.loss.name is None:
            self.loss.name = fitting[0] if fitting else losses[0]
        elif self.loss.name not in losses:
            return [
                f"loss.name: {self.loss.name!r} does not fit task {self.task!r}; allowed: "
                + ", ".join(losses)
            ]
        elif self.loss.name not in fitting and fitting:
            return [
                f"loss.name: model.type {self.model.type!r} does not train with "
                f"{self.loss.name!r}; allowed: " + ", ".join(fitting)
            ]
        return [
            f"loss.{key}: applies to loss.name = "
            + " or ".join(map(repr, names))
            + f", not {self.loss.name!r}; remove it"
            for key, names in LOSS_OPTIONS.items()
            if _set(self.loss, key) and self.loss.name not in names
        ]

    def _shape_problems(self) -> list[str]:
        """Task, data and model type must agree: the model must do the task and read what
        the data gives (a CNN needs images...), as its registry entry says."""
        entry = model_entry(self.model.type)
        problems = self._task_problems(entry)
        if not problems:  # the input checks only make sense for a task the model does
            problems += self._input_problems(entry)
        if self.data.augment and self.data_input() != "image":
            problems.append('data.augment: augmentations apply to images (data.layout = "image")')
        if _set(self.model, "embedding_dim") and self.task != "metric_learning":
            problems.append(
                f'model.embedding_dim: applies to task "metric_learning", not {self.task!r}; '
                "remove it"
            )
        if not problems:
            problems += self._own_loop_problems(entry)
        return problems

    def _own_loop_problems(self, entry: ModelEntry) -> list[str]:
        """The own loops of reconstruction and generation: data in the range the model's
        output has, and no setting of the general loop they would silently ignore."""
        problems = []
        if entry.loop is None:
            return problems
        if entry.input_range is not None and self.data.scale != "minmax":
            low, high = entry.input_range
            problems.append(
                f"data.scale: {entry.name!r} reads data in [{low:g}, {high:g}], mapped from the "
                f'training split\'s min and max; set data.scale = "minmax" (got '
                f"{self.data.scale!r})"
            )
        if entry.image_size is not None and self.data.image_size != entry.image_size:
            side = entry.image_size
            problems.append(
                f"data.image_size: {entry.name!r} reads and makes {side}x{side} images; set "
                f"data.image_size = {side} (got {self.data.image_size!r})"
            )
        unused = {
            "scheduler": self.scheduler.name != "none",
            "training.early_stopping": self.training.early_stopping is not None,
            "training.accumulate_steps": self.training.accumulate_steps != 1,
            "training.detect_anomaly": self.training.detect_anomaly,
            "training.monitor": self.training.monitor != "val_loss",
            "regularization": self.regularization.model_dump()
            != RegularizationConfig().model_dump(),
            "data.augment": bool(self.data.augment),
        }
        for key, given in unused.items():
            if given:
                problems.append(
                    f"{key}: the {entry.loop} loop of {entry.name!r} does not use it "
                    "(constant learning rate, every epoch, the last epoch's weights kept, no "
                    "augmentation); remove it"
                )
        return problems

    def data_input(self) -> str:
        """What the data gives the model, one of ``nnlab.models.registry.INPUT_KINDS``."""
        return DATASET_INPUTS.get(self.data.dataset) or LAYOUT_INPUTS[self.data.layout]

    def _task_problems(self, entry: ModelEntry) -> list[str]:
        """A task made for one dataset needs that dataset and a model that does it; any
        other task needs a model that does it."""
        kind, dataset = self.model.type, self.data.dataset
        for task, task_dataset in TASK_DATASETS.items():
            uses = (self.task == task, dataset == task_dataset, entry.tasks == (task,))
            if any(uses) and not (uses[0] and uses[1] and task in entry.tasks):
                models = " or ".join(f'"{m}"' for m in model_names(task=task))
                return [
                    f'task: "{task}" goes with data.dataset = "{task_dataset}" and model.type '
                    f"= {models}, got task {self.task!r}, dataset {dataset!r}, model {kind!r}"
                ]
        if not entry.does(self.task):
            return [
                f"model.type: {kind!r} does not do task {self.task!r}; choose one of "
                + ", ".join(model_names(task=self.task))
            ]
        return []

    def _input_problems(self, entry: ModelEntry) -> list[str]:
        kind, given = self.model.type, self.data_input()
        if given in entry.reads:
            return []
        if given == "tokens":
            return [
                f"model.type: {kind!r} cannot read texts ({self.data.dataset}); choose one of "
                + ", ".join(model_names(reads="tokens"))
            ]
        layouts = [_INPUT_LAYOUTS[r] for r in entry.reads if r in _INPUT_LAYOUTS]
        if not layouts:
            return [f"model.type: {kind!r} reads texts; data.dataset must be a text set"]
        reads = " or ".join(_INPUT_NAMES[r] for r in entry.reads)
        return [
            f"model.type: {kind!r} reads {reads}; set data.layout = "
            + " or ".join(f'"{layout}"' for layout in layouts)
            + f" (got {self.data.layout!r})"
        ]


def _set(section: BaseModel, key: str) -> bool:
    """Whether ``section.key`` differs from its default (a config re-validated from its
    dump sets every key, so "given" cannot be told apart otherwise)."""
    return getattr(section, key) != type(section).model_fields[key].default


def _non_finite(value: Any, key: str) -> list[str]:
    """Dotted keys under ``key`` whose value is a float NaN or ±inf (nested lists/dicts)."""
    if isinstance(value, float) and not math.isfinite(value):
        return [f"{key}: {value} is not a finite number"]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{key}.{k}")]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{key}.{i}")]
    return []


def _non_finite_params(cfg: RunConfig) -> list[str]:
    """The free-form ``params`` tables are passed on untyped, so pydantic's finite-number
    check does not reach them."""
    problems = _non_finite(cfg.data.params, "data.params")
    problems += _non_finite(cfg.model.params, "model.params")
    for k, aug in enumerate(cfg.data.augment):
        problems += _non_finite(aug.params, f"data.augment.{k}.params")
    return problems


def set_key(data: dict[str, Any], key: str, value: Any) -> None:
    """Set the dotted ``key`` of a config dict (``"optimizer.lr"``), making the tables on
    the way where they are missing or None (``training.early_stopping``)."""
    *path, last = key.split(".")
    for part in path:
        if not isinstance(data.get(part), dict):
            data[part] = {}
        data = data[part]
    data[last] = value


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic section an annotation holds (``X``, ``X | None``), if any."""
    candidates = [annotation, *getattr(annotation, "__args__", ())]
    return next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)


def _key_problem(key: str) -> str | None:
    """Why the dotted ``key`` is not a setting of a run config (None when it is): each
    part must be a field of its section; below a free-form ``params`` table any key goes."""
    model: type[BaseModel] = RunConfig
    parts = key.split(".")
    for i, part in enumerate(parts):
        fields = [f for f in model.model_fields if f != "tune"]
        if part not in fields:
            where = ".".join(parts[:i]) or "the config"
            return f"{part!r} is not a key of {where}; allowed keys: {', '.join(fields)}"
        annotation = model.model_fields[part].annotation
        section = _model_in(annotation)
        rest = parts[i + 1 :]
        if section is None:
            if rest and getattr(annotation, "__origin__", None) is not dict:
                return f"{'.'.join(parts[: i + 1])} has no keys below it"
            return (
                None
                if rest or getattr(annotation, "__origin__", None) is not dict
                else (f"{key} is a table; name a key inside it, e.g. {key}.NAME")
            )
        if not rest:
            return f"{key} is a section; name one of its keys: {', '.join(section.model_fields)}"
        model = section
    return None


def _tune_problems(cfg: RunConfig, tune: TuneConfig) -> list[str]:
    """The search must name settings of this config, an objective the runs log, and values
    each of which makes a valid config (checked here, before any trial runs)."""
    from nnlab.train.callbacks.base import MonitorCallback  # lazy: config loads before train

    tune.metric = tune.metric or cfg.training.monitor
    logged = ["loss", *(cfg.training.metrics or [])]
    logged += [f"val_{k}" for k in logged]
    if tune.metric not in logged:
        return [f"tune.metric: {tune.metric!r} is not logged by this run; choose one of "
                + ", ".join(logged)]  # fmt: skip
    if tune.direction is None:
        tune.direction = "maximize" if MonitorCallback(tune.metric).mode == "max" else "minimize"
    problems = []
    for key in tune.params:
        if (problem := _key_problem(key)) is not None:
            problems.append(f'tune."{key}": {problem}')
    if problems:
        return problems
    base = cfg.model_dump(exclude={"tune"})
    for key, param in tune.params.items():
        for value in param.endpoints():
            data = copy.deepcopy(base)
            for other, condition in [*param.when.items(), (key, value)]:
                set_key(data, other, condition)
            try:
                RunConfig.model_validate(data)
            except ValidationError as exc:
                why = "; ".join(_describe(e) for e in exc.errors())
                problems.append(f'tune."{key}": {value!r} makes an invalid config: {why}')
    return problems


def _section_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the field at ``loc`` (for listing allowed keys)."""
    model: Any = RunConfig
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        annotation = field.annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        model = next(
            (c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None
        )
        if model is None:
            return None
    return model


def _describe(error: dict[str, Any]) -> str:
    loc = tuple(error["loc"])
    key = ".".join(str(p) for p in loc)
    if loc in ((), ("tune",)) and error["type"] == "value_error":  # these name their keys
        return error["msg"].removeprefix("Value error, ").replace("\n", "\n  ")
    if loc[:2] == ("tune", "params") and len(loc) > 2:  # a searched key as the user wrote it
        key = ".".join(["tune", f'"{loc[2]}"', *map(str, loc[3:])])
    if error["type"] == "extra_forbidden":
        owner = _section_at(loc)
        allowed = ", ".join(owner.model_fields) if owner else "?"
        return f"{key}: unknown key; allowed keys: {allowed}"
    if error["type"] == "literal_error":
        expected = error.get("ctx", {}).get("expected", "")
        return f"{key}: {error['input']!r} is not allowed; choose one of {expected}"
    return f"{key}: {error['msg']} (got {error.get('input')!r})"


def parse_config(data: dict[str, Any], source: str = "config") -> RunConfig:
    """Validate a config dict; raise :class:`ConfigError` listing every problem."""
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        problems = "\n  ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"invalid {source}:\n  {problems}") from None


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of a TOML file; a missing, binary or malformed file is a ConfigError
    naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a text file (not UTF-8): expected TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run configuration."""
    return parse_config(read_toml(path), str(path))
