"""Training callbacks (Keras-style hooks around nnlab's one training loop)."""

from nnlab.train.callbacks.base import Callback, CallbackList, LambdaCallback, MonitorCallback
from nnlab.train.callbacks.early_stopping import EarlyStopping
from nnlab.train.callbacks.loggers import CSVLogger, JSONLogger
from nnlab.train.callbacks.model_checkpoint import ModelCheckpoint
from nnlab.train.callbacks.progress import ProgressBar
from nnlab.train.callbacks.scheduler import LRSchedulerCallback

__all__ = [
    "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "JSONLogger", "LRSchedulerCallback",
    "LambdaCallback", "ModelCheckpoint", "MonitorCallback", "ProgressBar",
]  # fmt: skip
