"""``Parameter``: a tensor that a :class:`~nnlab.nn.Module` owns and an optimizer updates."""

from __future__ import annotations

from typing import Any

from nnlab.tensor import Tensor

__all__ = ["Parameter", "Buffer"]


class Parameter(Tensor):
    """A leaf tensor that requires grad and is registered by a Module when assigned as an
    attribute (``self.weight = Parameter(...)``), so it appears in ``parameters()`` and in
    ``state_dict()``.

    Example:
        >>> import nnlab
        >>> p = Parameter(nnlab.zeros(2, 3))
        >>> p.requires_grad, p.shape
        (True, nnlab.Size([2, 3]))
    """

    __slots__ = ()

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        if data is None:
            data = []
        source = data.array if isinstance(data, Tensor) else data
        super().__init__(source, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class Buffer(Tensor):
    """A tensor of state that is not trained (e.g. running means): registered on
    assignment like a parameter, saved in ``state_dict`` unless ``persistent=False``."""

    __slots__ = ("persistent",)

    def __init__(self, data: Any, persistent: bool = True) -> None:
        super().__init__(data.array if isinstance(data, Tensor) else data)
        self.persistent = persistent
