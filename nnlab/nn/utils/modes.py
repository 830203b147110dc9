"""Keeping every submodule's train/eval flag across a block that changes them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from nnlab.nn.module import Module

__all__ = ["training_modes_kept"]


@contextmanager
def training_modes_kept(module: Module) -> Iterator[Module]:
    """Run the block, then give every submodule of ``module`` back its own train/eval flag.

    ``module.train(mode)`` after the block would not do: it sets one flag on all of them,
    and a model may mix modes (a frozen BatchNorm in eval inside a model that trains).

    >>> import nnlab.nn as nn
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2).eval())
    >>> with training_modes_kept(model):
    ...     _ = model.eval()
    >>> [m.training for m in model.modules()]
    [True, True, False]
    """
    modes = [(m, m.training) for m in module.modules()]
    try:
        yield module
    finally:
        for m, mode in modes:
            m.training = mode
