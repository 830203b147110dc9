"""Optimizers and learning-rate schedules: ``nnlab.optim`` mirrors ``torch.optim``.

One optimizer per file, each with its algorithm in the class docstring; the base class in
:mod:`nnlab.optim.optimizer` owns parameter groups, per-parameter state and ``state_dict``.
Schedules live in :mod:`nnlab.optim.lr_scheduler`, the learning-rate range test in
:mod:`nnlab.optim.lr_finder`.

Example:
    >>> import nnlab
    >>> from nnlab import optim
    >>> w = nnlab.tensor([3.0], requires_grad=True)
    >>> opt = optim.SGD([w], lr=0.1)
    >>> sched = optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    >>> for _ in range(4):
    ...     opt.zero_grad()
    ...     (w * w).sum().backward()
    ...     opt.step()
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.025]
"""

from nnlab.optim import lr_scheduler
from nnlab.optim.adadelta import Adadelta
from nnlab.optim.adagrad import Adagrad
from nnlab.optim.adam import Adam
from nnlab.optim.adamw import AdamW
from nnlab.optim.lbfgs import LBFGS
from nnlab.optim.lr_finder import LRFinderResult, lr_range_test
from nnlab.optim.nadam import NAdam
from nnlab.optim.optimizer import Optimizer
from nnlab.optim.rmsprop import RMSprop
from nnlab.optim.sgd import SGD

__all__ = [
    "Adadelta",
    "Adagrad",
    "Adam",
    "AdamW",
    "LBFGS",
    "LRFinderResult",
    "NAdam",
    "Optimizer",
    "RMSprop",
    "SGD",
    "lr_range_test",
    "lr_scheduler",
]
