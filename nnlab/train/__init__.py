"""Training: the loop (:class:`Trainer`, :func:`fit`), callbacks, history and checkpoints."""

from nnlab.train.callbacks import (
    Callback,
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LambdaCallback,
    LRSchedulerCallback,
    ModelCheckpoint,
    ProgressBar,
)  # fmt: skip
from nnlab.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from nnlab.train.history import History
from nnlab.train.trainer import NonFiniteLossError, Trainer, fit

__all__ = [
    "CSVLogger", "Callback", "CheckpointError", "EarlyStopping", "History", "JSONLogger",
    "LRSchedulerCallback", "LambdaCallback", "ModelCheckpoint", "NonFiniteLossError",
    "ProgressBar", "Trainer", "fit", "load_checkpoint", "save_checkpoint",
]  # fmt: skip
