"""Reverse-mode automatic differentiation: the ``Function`` base class, the backward
engine, gradient modes, gradient checking and anomaly detection."""

from nnlab.autograd.anomaly import AnomalyError, detect_anomaly, set_detect_anomaly
from nnlab.autograd.engine import backward, grad
from nnlab.autograd.function import Function
from nnlab.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)  # fmt: skip
from nnlab.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad",
    "grad", "gradcheck", "gradgradcheck", "inference_mode", "is_grad_enabled",
    "is_inference_mode_enabled", "no_grad", "set_detect_anomaly", "set_grad_enabled",
]  # fmt: skip

# Jacobians and Hessians of whole functions (torch.autograd.functional); imported last since
# they are built from the ops, which themselves rest on Function.
from nnlab.autograd import functional  # noqa: E402

__all__ += ["functional"]
