"""Data types, named as PyTorch names them. nnlab computes in float32 unless asked for float64.

Each dtype is a small :class:`dtype` object (``nnlab.float32``, alias ``nnlab.float``) that
wraps NumPy's ``np.dtype``. NumPy accepts it wherever it takes a dtype (it reads the
``.dtype`` attribute), and it compares equal to NumPy's own, so both spellings work:

    >>> import numpy as np, nnlab
    >>> nnlab.float32, nnlab.float is nnlab.float32, nnlab.long
    (nnlab.float32, True, nnlab.int64)
    >>> nnlab.tensor([1.0]).dtype == np.float32, np.zeros(2, dtype=nnlab.double).dtype
    (True, dtype('float64'))
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "dtype",
    "float16",
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "bool",
    "bool_",
    "half",
    "float",
    "double",
    "short",
    "int",
    "long",
    "complex64",
    "complex128",
    "cfloat",
    "cdouble",
    "finfo",
    "iinfo",
    "from_numpy_dtype",
    "get_default_dtype",
    "set_default_dtype",
    "to_dtype",
]

_bool, _float, _int = bool, float, int  # the builtins, before this module's names shadow them


class dtype:
    """A tensor's element type, as ``torch.dtype``: ``is_floating_point``, ``is_complex``,
    ``is_signed`` and ``itemsize``, with the repr ``nnlab.float32``.

    ``.dtype`` is the NumPy dtype behind it; any other attribute (``kind``, ``char``,
    ``type``) is read from there, so code written for NumPy dtypes keeps working.
    """

    __slots__ = ("dtype", "name")

    def __init__(self, numpy_dtype: np.dtype, name: str) -> None:
        self.dtype = np.dtype(numpy_dtype)
        self.name = name

    @property
    def is_floating_point(self) -> _bool:
        return self.dtype.kind == "f"

    @property
    def is_complex(self) -> _bool:
        return self.dtype.kind == "c"

    @property
    def is_signed(self) -> _bool:
        return self.dtype.kind in "ifc"

    @property
    def itemsize(self) -> _int:
        return self.dtype.itemsize

    def to_complex(self) -> dtype:
        return from_numpy_dtype(np.result_type(self.dtype, np.complex64))

    def to_real(self) -> dtype:
        return from_numpy_dtype(np.finfo(self.dtype).dtype) if self.is_complex else self

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.dtype, name)

    def __repr__(self) -> str:
        return f"nnlab.{self.name}"

    def __eq__(self, other: object) -> _bool:
        if type(other) is np.dtype:  # the common case inside the library: no conversion
            return self.dtype == other
        if isinstance(other, dtype):
            return self.dtype == other.dtype
        if isinstance(other, (np.dtype, type)) and not isinstance(other, str):
            try:
                return self.dtype == np.dtype(other)
            except TypeError:
                return False
        return NotImplemented

    def __hash__(self) -> _int:
        # Equal to np.dtype(...) so either can look the other up in a dict.
        return hash(self.dtype)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return from_numpy_dtype, (self.dtype.str,)  # copies are the same singleton


float16 = half = dtype(np.float16, "float16")
float32 = float = dtype(np.float32, "float32")
float64 = double = dtype(np.float64, "float64")
complex64 = cfloat = dtype(np.complex64, "complex64")
complex128 = cdouble = dtype(np.complex128, "complex128")
int8 = dtype(np.int8, "int8")
int16 = short = dtype(np.int16, "int16")
int32 = int = dtype(np.int32, "int32")
int64 = long = dtype(np.int64, "int64")
uint8 = dtype(np.uint8, "uint8")
bool = bool_ = dtype(np.bool_, "bool")

_BY_NUMPY = {
    d.dtype: d
    for d in (float16, float32, float64, complex64, complex128, int8, int16, int32, int64,
              uint8, bool)
}  # fmt: skip
_ALIASES = {
    "float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
    "short": int16, "bool": bool, "cfloat": complex64, "cdouble": complex128,
}  # fmt: skip
_default = np.dtype(np.float32)


def from_numpy_dtype(numpy_dtype: Any) -> dtype:
    """The nnlab dtype of a NumPy dtype (``np.float32`` → ``nnlab.float32``)."""
    found = _BY_NUMPY.get(numpy_dtype)  # a NumPy dtype hashes as itself: no conversion
    if found is not None:
        return found
    d = np.dtype(numpy_dtype)
    found = _BY_NUMPY.get(d)
    if found is None:
        found = _BY_NUMPY[d] = dtype(d, d.name)
    return found


def get_default_dtype() -> dtype:
    """The floating dtype given to tensors made from Python floats (float32 at start)."""
    return _BY_NUMPY[_default]


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype; only float32 and float64 are allowed, as in PyTorch."""
    global _default
    new = to_dtype(d)
    if new not in (np.float32, np.float64):
        raise TypeError(f"set_default_dtype: only float32 or float64 are allowed, got {new}")
    _default = new


def to_dtype(d: Any) -> np.dtype:
    """Turn a dtype-like (``nnlab.float64``, ``np.float64``, ``"float64"``, ``"double"``) into
    a NumPy dtype, which is what the ops compute with."""
    if isinstance(d, dtype):
        return d.dtype
    if isinstance(d, str) and d in _ALIASES:
        return _ALIASES[d].dtype
    try:
        return np.dtype(d)
    except TypeError as exc:
        raise TypeError(f"not a dtype: {d!r}") from exc


class finfo:
    """Limits of a floating dtype as Python floats, as ``torch.finfo``: ``bits``, ``eps``
    (the gap between 1 and the next number), ``max``, ``min``, ``tiny`` (alias
    ``smallest_normal``) and ``resolution``; the default dtype when none is given.

    Example:
        >>> import nnlab
        >>> nnlab.finfo(nnlab.float32).eps
        1.1920928955078125e-07
    """

    def __init__(self, type: Any = None) -> None:
        d = to_dtype(get_default_dtype() if type is None else type)
        if d.kind not in "fc":
            raise TypeError(
                f"finfo: {from_numpy_dtype(d)!r} is not a floating point dtype (use iinfo)"
            )
        info = np.finfo(d)
        self.dtype = info.dtype.name
        self.bits = _int(info.bits)
        self.eps, self.max, self.min = _float(info.eps), _float(info.max), _float(info.min)
        self.tiny = self.smallest_normal = _float(info.smallest_normal)
        self.resolution = 10.0 ** -_int(info.precision)

    def __repr__(self) -> str:
        return (
            f"finfo(resolution={self.resolution}, min={self.min:g}, max={self.max:g}, "
            f"eps={self.eps:g}, smallest_normal={self.tiny:g}, tiny={self.tiny:g}, "
            f"dtype={self.dtype})"
        )


class iinfo:
    """Limits of an integer dtype as Python ints (``bits``, ``min``, ``max``), as
    ``torch.iinfo``."""

    def __init__(self, type: Any) -> None:
        d = to_dtype(type)
        if d.kind not in "iu":
            raise TypeError(f"iinfo: {from_numpy_dtype(d)!r} is not an integer dtype (use finfo)")
        info = np.iinfo(d)
        self.dtype, self.bits = d.name, _int(info.bits)
        self.min, self.max = _int(info.min), _int(info.max)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"
