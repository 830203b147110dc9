"""From a :class:`RunConfig` to the objects of a run: data splits (scaled with statistics
of the training split only), model, loss, optimizer, schedule and regularizers.

Everything here raises :class:`~nnlab.config.ConfigError` naming the key at fault, and
runs before a run folder is created, so a bad config never leaves a half-written run.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from fnmatch import fnmatchcase as fnmatch
from typing import Any

import numpy as np

import nnlab
from nnlab import nn, optim
from nnlab.config import RECURRENT_MODELS, TEXT_DATASETS, TEXT_MODELS, ConfigError, RunConfig
from nnlab.tensor import Tensor

__all__ = [
    "Splits", "make_splits", "make_loader", "build_model", "build_loss", "build_optimizer",
    "build_scheduler", "build_regularizers", "build_augmentation", "output_size", "to_layout",
]  # fmt: skip


@dataclass
class Splits:
    """Features (float32, scaled) and targets of the train, validation and test splits."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray
    scaler: Any = None
    n_classes: int = 0
    n_features: int = 0  # width of a raw feature row (0 for datasets of images)
    vocab: Any = None  # texts: the vocabulary fitted on the training split
    pretrained_tokens: bool = False  # texts: token ids of the pretrained encoder instead


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
    makers = {
        "xor": datasets.make_xor, "moons": datasets.make_moons, "circles": datasets.make_circles,
        "spirals": datasets.make_spirals, "linearly_separable": datasets.make_linearly_separable,
        "noisy_sine": datasets.make_noisy_sine, "imbalanced": datasets.make_imbalanced,
        "mnist1d": datasets.load_mnist1d, "shapes": datasets.make_shapes_segmentation,
    }  # fmt: skip
    fn = tabular.get(name) or makers[name]
    _check_options("data.params", name, fn, params, skip=("seed", "generator"))
    try:
        if name in tabular:
            x, y = fn(**params)
            return x, y, None
        if name == "mnist1d":
            d = fn(seed=cfg.seed, **params)
            return d["x"], d["y"], (d["x_test"], d["y_test"])
        x, y = fn(seed=cfg.seed, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"data.params for {name}: {exc}") from None
    return x, y, None


def _check_options(
    kind: str, name: str, fn: Any, options: dict[str, Any], skip: tuple[str, ...] = ()
) -> None:
    """Raise ConfigError for an option ``fn`` does not take, listing the ones it does."""
    accepted = set(inspect.signature(fn).parameters) - {"self", "params", "optimizer"}
    accepted -= set(skip)
    for key in options:
        if key not in accepted:
            allowed = ", ".join(sorted(accepted)) or "none"
            raise ConfigError(f"{kind}.{key} is not an option of {name}; allowed: {allowed}")


def make_splits(cfg: RunConfig) -> Splits:
    """Split (stratified for classes), scale with training statistics, then give the
    features their layout (flat rows, images or sequences)."""
    from nnlab.data import MinMaxScaler, StandardScaler, train_test_split

    if cfg.data.dataset in TEXT_DATASETS:
        return _text_splits(cfg)
    if cfg.task == "seq2seq":
        return _seq2seq_splits(cfg)
    x, y, given_test = load_arrays(cfg)
    labels = cfg.task in ("classification", "binary")
    if given_test is None:
        x, x_test, y, y_test = train_test_split(
            x, y, test_size=cfg.data.test_size, seed=cfg.seed, stratify=y if labels else None
        )
    else:
        x_test, y_test = given_test
    x_val = y_val = None
    if cfg.data.val_size > 0:
        x, x_val, y, y_val = train_test_split(
            x, y, test_size=cfg.data.val_size, seed=cfg.seed + 1, stratify=y if labels else None
        )
    scaler = {"standard": StandardScaler, "minmax": MinMaxScaler}.get(cfg.data.scale)
    if scaler is not None and np.ndim(x) == 2:
        scaler = scaler().fit(x)  # statistics from the training split only
        x, x_test = scaler.transform(x), scaler.transform(x_test)
        x_val = scaler.transform(x_val) if x_val is not None else None
    else:
        scaler = None
    n_classes = int(np.max(y)) + 1 if cfg.task != "regression" else 0

    def shaped(a: Any) -> Any:
        if a is None:
            return None
        return to_layout(np.asarray(a, dtype=np.float32), cfg.data.layout, cfg.data.image_size)

    width = int(np.shape(x)[1]) if np.ndim(x) == 2 else 0
    return Splits(
        shaped(x), y, shaped(x_val), y_val, shaped(x_test), y_test, scaler, n_classes, width
    )


def _text_splits(cfg: RunConfig) -> Splits:
    """Texts as padded token ids: the vocabulary is fitted on the training texts only, so
    words first seen in validation or test become ``<unk>``, as they would in use."""
    from nnlab.data import datasets
    from nnlab.text import Vocab

    params = dict(cfg.data.params)
    _check_options("data.params", cfg.data.dataset, datasets.load_sentiment, params, ("seed",))
    try:
        parts = datasets.load_sentiment(seed=cfg.seed, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"data.params for {cfg.data.dataset}: {exc}") from None
    t = cfg.data.text
    pretrained = cfg.model.type == "sentence_encoder"
    vocab = None
    if not pretrained:
        vocab = Vocab.build(parts["train"].texts, level=t.level, min_freq=t.min_freq,
                            max_size=t.max_size)  # fmt: skip

    def ids(split: Any) -> np.ndarray:
        if pretrained:  # the encoder's own WordPiece vocabulary, fixed by pretraining
            return pretrained_token_ids(split.texts, t.max_len)
        return encode_texts(vocab, split.texts, t.max_len)

    val = parts["val"] if cfg.data.val_size > 0 else None
    return Splits(
        ids(parts["train"]), parts["train"].labels,
        ids(val) if val is not None else None, val.labels if val is not None else None,
        ids(parts["test"]), parts["test"].labels,
        n_classes=int(parts["train"].labels.max()) + 1, vocab=vocab,
        pretrained_tokens=pretrained,
    )  # fmt: skip


def _seq2seq_splits(cfg: RunConfig) -> Splits:
    """Date pairs as character ids for teacher forcing: inputs ``(source, target_in)``,
    targets ``target_out``; the test split holds what training never saw (see
    :func:`~nnlab.data.datasets.load_dates`)."""
    from nnlab.data import datasets

    params = dict(cfg.data.params)
    _check_options("data.params", "dates", datasets.load_dates, params, ("seed",))
    try:
        data = datasets.load_dates(seed=cfg.seed, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"data.params for dates: {exc}") from None
    train, val = data["train"], None
    if cfg.data.val_size > 0:
        n_val = max(1, int(round(cfg.data.val_size * len(train))))
        train, val = train[n_val:], train[:n_val]  # the pairs come in random order

    def arrays(pairs: Any) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
        enc = datasets.encode_dates(pairs)
        return (enc.source, enc.target_in), enc.target_out

    (x_train, y_train), (x_test, y_test) = arrays(train), arrays(data["test"])
    x_val, y_val = arrays(val) if val is not None else (None, None)
    return Splits(x_train, y_train, x_val, y_val, x_test, y_test,
                  n_classes=len(datasets.DATE_TARGET_VOCAB))  # fmt: skip


def pretrained_token_ids(texts: Any, max_len: int) -> np.ndarray:
    """Token ids (N, max_len) from all-MiniLM-L6-v2's tokenizer (``[CLS] … [SEP]``, cut at
    ``max_len`` tokens, ``[PAD]`` = 0 after). Reads only ``tokenizer.json``, not the
    weights."""
    from tokenizers import Tokenizer

    from nnlab.models.bert import minilm_path

    tokenizer = Tokenizer.from_file(str(minilm_path() / "tokenizer.json"))
    tokenizer.no_padding()  # the file turns on padding to 128
    tokenizer.enable_truncation(max_len)
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    for row, encoding in enumerate(tokenizer.encode_batch(list(texts))):
        out[row, : len(encoding.ids)] = encoding.ids
    return out


def encode_texts(vocab: Any, texts: Any, max_len: int) -> np.ndarray:
    """Token ids (N, max_len), int64, cut or right-padded with ``<pad>`` (id 0)."""
    from nnlab.text import pad_batch

    ids, _ = pad_batch(vocab.encode(list(texts)), max_len=max_len, pad_id=vocab.pad_id)
    return ids


def to_layout(x: np.ndarray, layout: str, image_size: int | None = None) -> np.ndarray:
    """Feature rows (N, F) as images (N, 1, √F, √F), resized to ``image_size`` by bilinear
    interpolation, or as one-channel sequences (N, 1, F); arrays that already have a
    channel axis (N, C, H, W) pass unchanged."""
    if x.ndim > 2 or layout == "flat":
        return x
    if layout == "sequence":
        return x[:, None, :]
    side = int(round(np.sqrt(x.shape[1])))
    if side * side != x.shape[1]:
        raise ConfigError(
            f'data.layout: "image" needs square images, but rows have {x.shape[1]} features'
        )
    images = x.reshape(-1, 1, side, side)
    if image_size is not None and image_size != side:
        import scipy.ndimage

        zoom = image_size / side
        images = scipy.ndimage.zoom(images, (1, 1, zoom, zoom), order=1, grid_mode=True,
                                    mode="nearest").astype(np.float32)  # fmt: skip
    return images


def _targets(cfg: RunConfig, y: np.ndarray) -> np.ndarray:
    """Class indices (int64, masks keep their shape) or float values of shape (N,)."""
    if cfg.task in ("classification", "segmentation", "seq2seq"):
        return np.asarray(y, dtype=np.int64)
    return np.asarray(y, dtype=np.float32).reshape(-1)


_TRANSFORMS = {
    "horizontal_flip": "RandomHorizontalFlip", "vertical_flip": "RandomVerticalFlip",
    "rotation": "RandomRotation", "translation": "RandomTranslation", "scale": "RandomScale",
    "crop": "RandomCrop", "resized_crop": "RandomResizedCrop", "noise": "GaussianNoise",
    "erasing": "RandomErasing", "color_jitter": "ColorJitter",
}  # fmt: skip


def build_augmentation(cfg: RunConfig) -> Any:
    """The configured training-time augmentations as one ``Compose`` (None if none)."""
    from nnlab.data import transforms as T

    steps = []
    for k, aug in enumerate(cfg.data.augment):
        cls = getattr(T, _TRANSFORMS[aug.name])
        steps.append(_construct(f"data.augment.{k}", aug.name, cls, (), dict(aug.params)))
    return T.Compose(steps) if steps else None


def make_loader(
    cfg: RunConfig, x: np.ndarray, y: np.ndarray, shuffle: bool, augment: Any = None
) -> Any:
    """Training loaders shuffle (seeded by the run's seed) and augment; evaluation ones
    use big batches and never augment."""
    from nnlab.data import DataLoader, TensorDataset, TransformDataset

    inputs = x if isinstance(x, tuple) else (x,)  # several inputs: (source, target_in)
    ds: Any = TensorDataset(*map(nnlab.from_numpy, inputs), nnlab.from_numpy(_targets(cfg, y)))
    if augment is not None:
        ds = TransformDataset(ds, augment)
    batch = cfg.data.batch_size if shuffle else max(cfg.data.batch_size, 256)
    return DataLoader(ds, batch_size=batch, shuffle=shuffle)


# -- model, loss, optimizer, schedule ----------------------------------------------------------


def output_size(cfg: RunConfig, n_classes: int) -> int:
    return n_classes if cfg.task in ("classification", "segmentation") else 1


def build_model(
    cfg: RunConfig, input_shape: tuple[int, ...], out_features: int, vocab_size: int = 0
) -> nn.Module:
    """The configured network for inputs of ``input_shape`` (without the batch axis), or
    for token ids of a ``vocab_size`` vocabulary (text datasets)."""
    m = cfg.model
    if m.type in MLP_LIKE:
        (in_features,) = input_shape
        if m.type == "linear" or (m.type == "mlp" and not m.hidden_sizes):
            return nn.Linear(in_features, out_features)
        if m.type == "perceptron":
            return nn.Perceptron(in_features)
        return nn.MLP(
            in_features, list(m.hidden_sizes), out_features, activation=m.activation,
            dropout=m.dropout, norm=None if m.norm == "none" else m.norm,
        )  # fmt: skip
    from nnlab import models

    if m.type in RECURRENT_MODELS + TEXT_MODELS:
        builder, options = _sequence_model(cfg, input_shape, out_features, vocab_size)
    elif m.type == "seq2seq":
        from nnlab.data.datasets import DATE_SOURCE_VOCAB, DATE_TARGET_VOCAB

        builder = models.Seq2Seq
        options = {"src_vocab_size": len(DATE_SOURCE_VOCAB),
                   "tgt_vocab_size": len(DATE_TARGET_VOCAB), **m.params}  # fmt: skip
    else:
        cls, in_key, out_key = _CONV_MODELS[m.type]
        builder = getattr(models, cls)
        options = {in_key: input_shape[0], out_key: out_features, **m.params}
    _check_options("model.params", m.type, builder, m.params)
    try:
        return builder(**options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"model.params for {m.type}: {exc}") from None


def _sequence_model(
    cfg: RunConfig, input_shape: tuple[int, ...], out_features: int, vocab_size: int
) -> tuple[Any, dict[str, Any]]:
    """The builder and its arguments for a recurrent or text model: token ids need the
    vocabulary's size, signals (N, C, L) their channels."""
    from nnlab import models

    kind = cfg.model.type
    if kind in RECURRENT_MODELS:
        options: dict[str, Any] = {"num_classes": out_features, "cell": kind}
        if vocab_size:
            options["vocab_size"] = vocab_size
        else:
            options["input_size"] = input_shape[0]
        return models.RecurrentClassifier, {**options, **cfg.model.params}
    if kind == "sentence_encoder":
        return models.SentenceClassifier, {"num_classes": out_features, **cfg.model.params}
    builder = (
        models.BagOfEmbeddings if kind == "bag_of_embeddings" else models.TransformerClassifier
    )
    options = {"vocab_size": vocab_size, "num_classes": out_features, **cfg.model.params}
    if kind == "transformer":
        options.setdefault("max_len", cfg.data.text.max_len)
    return builder, options


MLP_LIKE = ("mlp", "linear", "perceptron")
#: model.type -> (nnlab.models name, its input-channels argument, its output argument)
_CONV_MODELS = {
    "lenet5": ("LeNet5", "in_channels", "num_classes"),
    "vgg": ("VGG", "in_channels", "num_classes"),
    "resnet": ("resnet", "in_channels", "num_classes"),
    "unet": ("UNet", "in_channels", "n_classes"),
    "cnn1d": ("CNN1d", "in_channels", "num_classes"),
}


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


def build_loss(cfg: RunConfig, y_train: np.ndarray, n_classes: int) -> nn.Module:
    """The configured loss; ``class_weight="balanced"`` weighs classes by inverse frequency."""
    c = cfg.loss
    y_train = np.asarray(y_train)
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


def _options(section: Any, skip: tuple[str, ...]) -> dict[str, Any]:
    """The options the config actually gives (None means "the class's default")."""
    values = {k: getattr(section, k) for k in section.model_fields_set if k not in skip}
    return {k: v for k, v in values.items() if v is not None}


def _construct(kind: str, name: str, cls: Any, args: tuple, options: dict[str, Any]) -> Any:
    _check_options(kind, name, cls, options)
    try:
        return cls(*args, **options)
    except ValueError as exc:  # e.g. "Invalid momentum value: -1"
        raise ConfigError(f"{kind} ({name}): {exc}") from None


def build_optimizer(cfg: RunConfig, model: nn.Module) -> Any:
    """The optimizer over ``model.parameters()``, or over the parameter groups of
    ``optimizer.param_groups`` plus one group of every parameter they do not name."""
    options = _options(cfg.optimizer, ("name", "param_groups"))
    options["lr"] = cfg.optimizer.lr
    name = cfg.optimizer.name
    cls = getattr(optim, _OPTIMIZERS[name])
    if not cfg.optimizer.param_groups:
        return _construct("optimizer", name, cls, (model.parameters(),), options)
    return _construct("optimizer", name, cls, (_param_groups(cfg, model, cls),), options)


def _param_groups(cfg: RunConfig, model: nn.Module, cls: Any) -> list[dict[str, Any]]:
    """``optimizer.param_groups`` as torch-style groups: each takes the not yet taken
    parameters whose names match one of its patterns; the rest form the first group."""
    named = list(model.named_parameters())
    taken: set[str] = set()
    groups = []
    for i, group in enumerate(cfg.optimizer.param_groups):
        where = f"optimizer.param_groups[{i}]"
        patterns = [group.params] if isinstance(group.params, str) else group.params
        members = [
            (n, p) for n, p in named if n not in taken and any(fnmatch(n, pat) for pat in patterns)
        ]
        if not members:
            examples = ", ".join(n for n, _ in named[:4])
            raise ConfigError(
                f"{where}.params: {patterns} match no parameter not already in an earlier "
                f"group; parameter names look like: {examples}, ..."
            )
        taken.update(n for n, _ in members)
        group_options = _options(group, ("params",))
        _check_options(where, cfg.optimizer.name, cls, group_options)
        groups.append({"params": [p for _, p in members], **group_options})
    rest = [p for n, p in named if n not in taken]
    return ([{"params": rest}] if rest else []) + groups


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


def build_regularizers(cfg: RunConfig) -> tuple[Any, list[Any]]:
    """(penalty(model) added to the loss or None, constraints applied after each step)."""
    from nnlab.nn.utils import regularization as R

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
