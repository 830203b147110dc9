"""Reverse-mode automatic differentiation: the ``Function`` base class, the backward
engine, gradient modes, gradient checking and anomaly detection."""

from nnlab.autograd.anomaly import AnomalyError, detect_anomaly, set_detect_anomaly
from nnlab.autograd.engine import backward, grad
from nnlab.autograd.function import Function
from nnlab.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from nnlab.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "AnomalyError", "Function", "GradcheckError", "backward", "detect_anomaly", "enable_grad",
    "grad", "gradcheck", "gradgradcheck", "is_grad_enabled", "no_grad", "set_detect_anomaly",
    "set_grad_enabled",
]  # fmt: skip
