"""The data of a run: the configured dataset split into train, validation and test (scaled
with statistics of the training split only), texts as token ids, feature rows in the
layout the model reads, training augmentations and the loaders.

Everything here raises :class:`~nnlab.config.ConfigError` naming the key at fault, and
runs before a run folder is created, so a bad config never leaves a half-written run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.ndimage
from tokenizers import Tokenizer

import nnlab
from nnlab import distributed as dist
from nnlab.config import TEXT_DATASETS, ConfigError, RunConfig
from nnlab.data import (
    DataLoader,
    MinMaxScaler,
    StandardScaler,
    TensorDataset,
    TransformDataset,
    datasets,
    train_test_split,
)
from nnlab.data import transforms as T
from nnlab.data.distributed import GlobalBatchShardSampler
from nnlab.models.bert import minilm_path
from nnlab.models.registry import model_entry
from nnlab.runner.options import check_options, construct
from nnlab.text import Vocab, pad_batch

__all__ = [
    "Splits", "make_splits", "load_arrays", "fixed_vocab_size", "encode_texts",
    "pretrained_token_ids", "as_texts", "to_layout", "build_augmentation", "make_loader",
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
    tokenizer: str | None = None  # texts: the pretrained encoder whose token ids these are
    vocab_size: int = 0  # token ids: how many ids the inputs use (0 for numbers)


# -- splits -------------------------------------------------------------------------------

_TABULAR = {
    "digits": datasets.load_digits, "iris": datasets.load_iris, "wine": datasets.load_wine,
    "breast_cancer": datasets.load_breast_cancer,
}  # fmt: skip
_GENERATED = {
    "xor": datasets.make_xor, "moons": datasets.make_moons, "circles": datasets.make_circles,
    "spirals": datasets.make_spirals, "linearly_separable": datasets.make_linearly_separable,
    "noisy_sine": datasets.make_noisy_sine, "imbalanced": datasets.make_imbalanced,
    "mnist1d": datasets.load_mnist1d, "shapes": datasets.make_shapes_segmentation,
}  # fmt: skip


def load_arrays(cfg: RunConfig) -> tuple[np.ndarray, np.ndarray, tuple | None]:
    """(X, y, given_test) for the configured dataset; given_test is a fixed test split
    when the dataset defines one (MNIST-1D), else None."""
    name, params = cfg.data.dataset, dict(cfg.data.params)
    fn = _TABULAR.get(name) or _GENERATED[name]
    check_options("data.params", name, fn, params, skip=("seed", "generator"))
    try:
        if name in _TABULAR:
            x, y = fn(**params)
            return x, y, None
        if name == "mnist1d":
            d = fn(seed=cfg.seed, **params)
            return d["x"], d["y"], (d["x_test"], d["y_test"])
        x, y = fn(seed=cfg.seed, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"data.params for {name}: {exc}") from None
    return x, y, None


def make_splits(cfg: RunConfig) -> Splits:
    """Split (stratified for classes), scale with training statistics, then give the
    features their layout (flat rows, images or sequences). Texts and date pairs have
    splits of their own."""
    special = _DATASET_SPLITS.get(cfg.data.dataset)
    if special is not None:
        return special(cfg)
    x, y, given_test = load_arrays(cfg)
    labels = cfg.task in ("classification", "binary", "metric_learning")
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
    words first seen in validation or test become ``<unk>``, as they would in use. A
    pretrained encoder reads the ids of its own tokenizer instead."""
    params = dict(cfg.data.params)
    check_options("data.params", cfg.data.dataset, datasets.load_sentiment, params, ("seed",))
    try:
        parts = datasets.load_sentiment(seed=cfg.seed, **params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"data.params for {cfg.data.dataset}: {exc}") from None
    t = cfg.data.text
    tokenizer = model_entry(cfg.model.type).pretrained
    vocab = None
    if tokenizer is None:
        vocab = Vocab.build(parts["train"].texts, level=t.level, min_freq=t.min_freq,
                            max_size=t.max_size)  # fmt: skip

    def ids(split: Any) -> np.ndarray:
        if tokenizer is not None:  # the encoder's own vocabulary, fixed by pretraining
            return pretrained_token_ids(tokenizer, split.texts, t.max_len)
        return encode_texts(vocab, split.texts, t.max_len)

    val = parts["val"] if cfg.data.val_size > 0 else None
    return Splits(
        ids(parts["train"]), parts["train"].labels,
        ids(val) if val is not None else None, val.labels if val is not None else None,
        ids(parts["test"]), parts["test"].labels,
        n_classes=int(parts["train"].labels.max()) + 1, vocab=vocab, tokenizer=tokenizer,
        vocab_size=len(vocab) if vocab is not None else 0,
    )  # fmt: skip


def _date_splits(cfg: RunConfig) -> Splits:
    """Date pairs as character ids for teacher forcing: inputs ``(source, target_in)``,
    targets ``target_out``; the test split holds what training never saw (see
    :func:`~nnlab.data.datasets.load_dates`)."""
    params = dict(cfg.data.params)
    check_options("data.params", "dates", datasets.load_dates, params, ("seed",))
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
                  n_classes=len(datasets.DATE_TARGET_VOCAB),
                  vocab_size=fixed_vocab_size(cfg))  # fmt: skip


_DATASET_SPLITS: dict[str, Callable[[RunConfig], Splits]] = {
    **dict.fromkeys(TEXT_DATASETS, _text_splits), "dates": _date_splits,
}  # fmt: skip


def fixed_vocab_size(cfg: RunConfig) -> int:
    """The size of the dataset's own fixed alphabet of input ids (the characters of date
    strings), or 0; unlike a text vocabulary it is not fitted, so a run need not save it."""
    return len(datasets.DATE_SOURCE_VOCAB) if cfg.data.dataset == "dates" else 0


# -- texts as token ids -------------------------------------------------------------------


def encode_texts(vocab: Any, texts: Any, max_len: int) -> np.ndarray:
    """Token ids (N, max_len), int64, cut or right-padded with ``<pad>`` (id 0)."""
    ids, _ = pad_batch(vocab.encode(list(texts)), max_len=max_len, pad_id=vocab.pad_id)
    return ids


#: The pretrained encoders' tokenizers (``tokenizer.json``), by the name a model
#: type's registry entry gives as ``pretrained``.
_TOKENIZERS: dict[str, Callable[[], Path]] = {
    "all-MiniLM-L6-v2": lambda: minilm_path() / "tokenizer.json",
}


def pretrained_token_ids(encoder: str, texts: Any, max_len: int) -> np.ndarray:
    """Token ids (N, max_len) from a pretrained encoder's tokenizer (all-MiniLM-L6-v2:
    ``[CLS] … [SEP]``, cut at ``max_len`` tokens, ``[PAD]`` = 0 after). Reads only
    ``tokenizer.json``, not the weights."""
    if encoder not in _TOKENIZERS:
        raise ValueError(
            f"no tokenizer for the pretrained encoder {encoder!r}; known: " + ", ".join(_TOKENIZERS)
        )
    tokenizer = Tokenizer.from_file(str(_TOKENIZERS[encoder]()))
    tokenizer.no_padding()  # the file turns on padding to 128
    tokenizer.enable_truncation(max_len)
    out = np.zeros((len(texts), max_len), dtype=np.int64)
    for row, encoding in enumerate(tokenizer.encode_batch(list(texts))):
        out[row, : len(encoding.ids)] = encoding.ids
    return out


def as_texts(inputs: Any) -> list[str]:
    """``inputs`` as a list of strings, for a run that reads texts."""
    if isinstance(inputs, str) or not all(isinstance(t, str) for t in inputs):
        raise TypeError("this run reads texts: pass a list of strings")
    return list(inputs)


# -- layouts, augmentation, loaders -------------------------------------------------------


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
        zoom = image_size / side
        images = scipy.ndimage.zoom(images, (1, 1, zoom, zoom), order=1, grid_mode=True,
                                    mode="nearest").astype(np.float32)  # fmt: skip
    return images


_TRANSFORMS = {
    "horizontal_flip": "RandomHorizontalFlip", "vertical_flip": "RandomVerticalFlip",
    "rotation": "RandomRotation", "translation": "RandomTranslation", "scale": "RandomScale",
    "crop": "RandomCrop", "resized_crop": "RandomResizedCrop", "noise": "GaussianNoise",
    "erasing": "RandomErasing", "color_jitter": "ColorJitter",
}  # fmt: skip


def build_augmentation(cfg: RunConfig) -> Any:
    """The configured training-time augmentations as one ``Compose`` (None if none)."""
    steps = []
    for k, aug in enumerate(cfg.data.augment):
        cls = getattr(T, _TRANSFORMS[aug.name])
        steps.append(construct(f"data.augment.{k}", aug.name, cls, (), dict(aug.params)))
    return T.Compose(steps) if steps else None


def _targets(cfg: RunConfig, y: np.ndarray) -> np.ndarray:
    """Class indices (int64, masks and token rows keep their shape) or float values (N,)."""
    if cfg.task in ("classification", "segmentation", "seq2seq", "metric_learning"):
        return np.asarray(y, dtype=np.int64)
    return np.asarray(y, dtype=np.float32).reshape(-1)


def make_loader(
    cfg: RunConfig,
    x: np.ndarray,
    y: np.ndarray,
    shuffle: bool,
    augment: Any = None,
    data_parallel: bool = False,
) -> Any:
    """Training loaders shuffle (seeded by the run's seed) and augment; evaluation ones
    use big batches and never augment.

    With ``data_parallel`` (a process group of K ranks) a training loader reads this rank's
    ``batch_size / K`` samples of every global batch of the one-process order (see
    :class:`~nnlab.data.distributed.GlobalBatchShardSampler`); evaluation loaders read
    everything on every rank."""
    inputs = x if isinstance(x, tuple) else (x,)  # several inputs: (source, target_in)
    ds: Any = TensorDataset(*map(nnlab.from_numpy, inputs), nnlab.from_numpy(_targets(cfg, y)))
    if augment is not None:
        ds = TransformDataset(ds, augment)
    if shuffle and data_parallel:
        try:
            sampler = GlobalBatchShardSampler(ds, cfg.data.batch_size)
        except ValueError as exc:
            why = str(exc).removeprefix("GlobalBatchShardSampler: ")
            k = dist.get_world_size()
            raise ConfigError(f"data.batch_size with mpirun -n {k}: {why}") from None
        return DataLoader(ds, batch_size=sampler.local_batch_size, sampler=sampler)
    batch = cfg.data.batch_size if shuffle else max(cfg.data.batch_size, 256)
    return DataLoader(ds, batch_size=batch, shuffle=shuffle)
