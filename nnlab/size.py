"""``nnlab.Size``: a tensor's shape, the tuple subclass that ``torch.Size`` is."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Size"]


class Size(tuple):
    """A tensor's shape: a tuple of ints that also knows its element count.

    Unlike ``torch.Size``, a slice of it (``x.shape[1:]``) is a plain tuple: indexing stays
    the tuple's own C code, since every layer reads shapes on every call.

    Example:
        >>> import nnlab
        >>> s = nnlab.zeros(2, 3).shape
        >>> s, s.numel(), s == (2, 3), s[1]
        (nnlab.Size([2, 3]), 6, True, 3)
        >>> print(s)
        (2, 3)
    """

    __slots__ = ()

    def numel(self) -> int:
        """The product of the sizes (1 for a 0-d shape)."""
        return int(np.prod(self, dtype=np.int64))

    def __add__(self, other: Any) -> Size:
        return Size(tuple.__add__(self, tuple(other)))

    def __radd__(self, other: Any) -> Size:
        return Size(tuple(other) + tuple(self))

    def __repr__(self) -> str:
        return f"nnlab.Size({list(self)})"

    def __str__(self) -> str:
        # Error messages put shapes in f-strings: there the plain tuple reads best.
        return tuple.__repr__(self)
