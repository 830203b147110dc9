"""Mixed-precision training with a float32 master copy of the weights (apex's ``fp16_utils``).

The model runs in float16: its weights, activations and gradients take half the bytes of
float32. The optimizer does not: an update ``lr · g`` is often smaller than half a float16
ulp of the weight (float16 has 10 mantissa bits, so ``1 + 2⁻¹²`` rounds back to ``1``) and
would be lost. So the optimizer holds float32 *master* copies of the weights, and each
iteration is

1. forward and backward in float16 on the model, with the loss multiplied by the scale of a
   :class:`~nnlab.amp.grad_scaler.GradScaler` so that small gradients do not flush to zero;
2. :func:`model_grads_to_master_grads`: the float16 gradients, widened to float32, become
   the master gradients (``scaler.step`` unscales them and skips the step on inf/NaN);
3. :func:`master_params_to_model_params`: the updated master weights, rounded to float16,
   are written back into the model.

Example:
    >>> import nnlab
    >>> from nnlab import nn
    >>> from nnlab.amp.fp16_utils import (
    ...     master_params_to_model_params, model_grads_to_master_grads, prep_param_lists)
    >>> from nnlab.amp.grad_scaler import GradScaler
    >>> model = nn.Linear(3, 2).half()
    >>> model_params, master_params = prep_param_lists(model)
    >>> opt = nnlab.optim.SGD(master_params, lr=0.1)
    >>> scaler = GradScaler(init_scale=256.0)
    >>> x = nnlab.ones(4, 3).to(nnlab.float16)
    >>> loss = model(x).float().pow(2).mean()
    >>> scaler.scale(loss).backward()
    >>> model_grads_to_master_grads(model_params, master_params)
    >>> scaler.step(opt)
    >>> scaler.update()
    >>> master_params_to_model_params(model_params, master_params)
    >>> model.weight.dtype, master_params[0].dtype
    (nnlab.float16, nnlab.float32)
"""

from __future__ import annotations

import numpy as np

from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = ["prep_param_lists", "model_grads_to_master_grads", "master_params_to_model_params"]


def prep_param_lists(model: Module) -> tuple[list[Parameter], list[Parameter]]:
    """The model's trainable parameters and float32 copies of them (the master weights),
    to hand to the optimizer instead of the model's own."""
    model_params = [p for p in model.parameters() if p.requires_grad]
    master_params = [Parameter(p.array.astype(np.float32)) for p in model_params]
    return model_params, master_params


def model_grads_to_master_grads(
    model_params: list[Parameter], master_params: list[Parameter]
) -> None:
    """``master.grad = float32(model.grad)`` for each pair (None stays None)."""
    _check_pairs("model_grads_to_master_grads", model_params, master_params)
    for model, master in zip(model_params, master_params, strict=True):
        master.grad = None if model.grad is None else Tensor(model.grad.array.astype(np.float32))


def master_params_to_model_params(
    model_params: list[Parameter], master_params: list[Parameter]
) -> None:
    """``model = round_to_model_dtype(master)`` for each pair, in place."""
    _check_pairs("master_params_to_model_params", model_params, master_params)
    for model, master in zip(model_params, master_params, strict=True):
        model.array[...] = master.array.astype(model.array.dtype)


def _check_pairs(name: str, model_params: list[Parameter], master_params: list[Parameter]) -> None:
    if len(model_params) != len(master_params):
        raise ValueError(
            f"{name}: expected as many master params as model params, got "
            f"{len(master_params)} and {len(model_params)}"
        )
    for k, (model, master) in enumerate(zip(model_params, master_params, strict=True)):
        if model.shape != master.shape:
            raise ValueError(
                f"{name}: param {k} has shape {tuple(model.shape)} in the model but "
                f"{tuple(master.shape)} in the master copy"
            )
