"""Mixed precision (``torch.amp``): dynamic loss scaling with :class:`GradScaler`, and a
float16 model trained through float32 master weights (:mod:`nnlab.amp.fp16_utils`)."""

from nnlab.amp.fp16_utils import (
    master_params_to_model_params,
    model_grads_to_master_grads,
    prep_param_lists,
)
from nnlab.amp.grad_scaler import GradScaler

__all__ = [
    "GradScaler",
    "master_params_to_model_params",
    "model_grads_to_master_grads",
    "prep_param_lists",
]
