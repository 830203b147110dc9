"""The doctor: find why a model does not learn.

- :mod:`nnlab.doctor.diagnose`: :func:`diagnose`, every check on a model, loss, optimizer
  and data, returning :class:`Finding` s;
- :mod:`nnlab.doctor.checks`: the checks, one function each (overfit one batch, initial
  loss, learning-rate range test, gradients, activations, input scale, leakage, labels, a
  short training);
- :mod:`nnlab.doctor.findings`: the :class:`Finding` record and the exit status;
- :mod:`nnlab.doctor.subject`: the model and data under examination;
- :mod:`nnlab.doctor.command`: ``nnlab doctor CONFIG_OR_RUN``.
"""

from nnlab.doctor.diagnose import diagnose
from nnlab.doctor.findings import SEVERITIES, Finding, exit_code

__all__ = ["SEVERITIES", "Finding", "diagnose", "exit_code"]
