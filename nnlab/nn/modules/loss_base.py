"""The bases of the loss modules, with torch's names: :class:`_Loss` resolves and checks
``reduction`` (and the deprecated ``size_average`` / ``reduce``) once, at construction;
:class:`_WeightedLoss` adds a per-class ``weight`` buffer, :class:`_MarginLoss` a
``margin``. The losses built on them are in :mod:`nnlab.nn.modules.loss`,
:mod:`nnlab.nn.modules.margin_loss` and :mod:`nnlab.nn.modules.segmentation_loss`.
"""

from __future__ import annotations

from typing import Any

from nnlab.nn.module import Module
from nnlab.ops.loss import resolve_reduction
from nnlab.tensor import Tensor

#: Nothing public: the bases keep torch's private names (``nnlab.nn.modules.loss._Loss``
#: is importable, as in torch, for user-defined losses).
__all__: list[str] = []


class _Loss(Module):
    """Base of the losses: resolves and checks ``reduction`` once, at construction."""

    _extra_reductions: tuple[str, ...] = ()

    def __init__(
        self, size_average: Any = None, reduce: Any = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        self.reduction = resolve_reduction(
            type(self).__name__, size_average, reduce, reduction, self._extra_reductions
        )

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight``, kept as a buffer (torch's layout)."""

    def __init__(
        self,
        weight: Tensor | None = None,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class _MarginLoss(_Loss):
    """A loss with a ``margin`` before the deprecated arguments (torch's order and default
    for the embedding and ranking losses; a subclass with another default overrides
    ``__init__``)."""

    def __init__(
        self,
        margin: float = 0.0,
        size_average: Any = None,
        reduce: Any = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
