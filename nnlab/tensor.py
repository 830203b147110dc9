"""The :class:`Tensor`: a NumPy array that remembers how it was computed.

A tensor holds its values in ``.array`` (an ``np.ndarray``, float32 unless asked
otherwise); ``.data`` is, as in PyTorch, another tensor sharing that array but cut off from
the graph. When ``requires_grad`` is True, every op applied to it records a node
(``grad_fn``) in a graph, and ``loss.backward()`` walks that graph backwards to fill
``.grad`` of every leaf tensor with d(loss)/d(leaf).

Methods and operators are thin: each one calls an op of :mod:`nnlab.ops`, where the
forward and backward formulas live.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from nnlab import dtypes as _dtypes
from nnlab import random as _random
from nnlab.autograd.grad_mode import is_grad_enabled as _is_grad_enabled
from nnlab.autograd.grad_mode import no_grad as _no_grad
from nnlab.size import Size

__all__ = [
    "Tensor", "RemovableHandle", "device", "is_tensor", "numel", "set_default_device",
    "get_default_device",
]  # fmt: skip

# Device types PyTorch knows; only "cpu" can hold an nnlab tensor.
_DEVICE_TYPES = (
    "cpu", "cuda", "mps", "xpu", "xla", "meta", "hip", "hpu", "ipu", "mtia", "vulkan",
    "privateuseone",
)  # fmt: skip


class device:
    """Where a tensor's memory lives. nnlab computes with NumPy, on the CPU only; the class
    exists so code written for PyTorch (``x.device``, ``x.to(device)``) runs unchanged.

    Any device PyTorch names can be described (``device("cuda")``), but moving a tensor or
    a module to anything other than the CPU raises a RuntimeError. Unlike torch, a device
    also compares equal to its string (``x.device == "cpu"``).

    Example:
        >>> import nnlab
        >>> nnlab.tensor([1.0]).device
        device(type='cpu')
        >>> print(nnlab.tensor([1.0]).device)
        cpu
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any = "cpu", index: int | None = None) -> None:
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu', got {type!r}")
        name, _, number = type.partition(":")
        if name not in _DEVICE_TYPES or (number and not number.isdigit()):
            raise RuntimeError(
                f"Expected one of {', '.join(_DEVICE_TYPES)} device type at start of device "
                f"string: {type}"
            )
        if number:
            if index is not None:
                raise RuntimeError(f"device: index given twice, in {type!r} and as {index}")
            index = int(number)
        self.type: str = name
        self.index: int | None = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


_CPU = device("cpu")


def _is_device(value: Any) -> bool:
    if isinstance(value, device):
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return True  # torch reads a bare int as a CUDA device index
    return isinstance(value, str) and value.partition(":")[0] in _DEVICE_TYPES


def _check_cpu(value: Any, what: str) -> None:
    """Refuse any device but the CPU, clearly."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"cuda:{value}"
    target = device(value)
    if target.type != "cpu":
        raise RuntimeError(
            f"{what}: nnlab runs on the CPU only (it computes with NumPy), so it cannot move "
            f"to device '{target}'. Use 'cpu' or drop the .to(device) call."
        )


def set_default_device(device: Any) -> None:
    """Accept the CPU (or None) as the default device, as ``torch.set_default_device``;
    any other device raises, since nnlab computes on the CPU only."""
    if device is not None:
        _check_cpu(device, "set_default_device")


def get_default_device() -> device:
    """Always ``device(type='cpu')``."""
    return _CPU


def _to_args(what: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, bool]:
    """Read torch's three spellings of ``to``: ``to(dtype)``, ``to(device=None, dtype=None)``
    and ``to(other_tensor)``, each followed by ``non_blocking`` and ``copy``. Returns
    (dtype or None, copy) after checking that any device named is the CPU."""
    kwargs = dict(kwargs)
    target = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    flags = [kwargs.pop("non_blocking", False), kwargs.pop("copy", False)]
    kwargs.pop("memory_format", None)
    if kwargs:
        raise TypeError(f"{what}() got unexpected keyword arguments {sorted(kwargs)}")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        dtype = rest.pop(0).dtype
    else:
        if rest and (rest[0] is None or _is_device(rest[0])):
            target = rest.pop(0)
        if rest and not isinstance(rest[0], bool) and rest[0] is not None:
            dtype = rest.pop(0)
    if len(rest) > 2:
        raise TypeError(f"{what}() takes at most (device, dtype, non_blocking, copy)")
    flags[: len(rest)] = rest
    if target is not None:
        _check_cpu(target, what)
    return (None if dtype is None else _dtypes.to_dtype(dtype)), bool(flags[1])


def is_tensor(obj: Any) -> bool:
    """True when ``obj`` is an nnlab Tensor (``torch.is_tensor``)."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input`` (``torch.numel``)."""
    return input.numel()


def _as_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """Convert ``data`` to an ndarray with PyTorch's dtype inference: Python floats become
    the default dtype (float32), Python ints int64, arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.array
    if dtype is not None:
        dtype = _dtypes.to_dtype(dtype)
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    else:
        arr = np.array(data)
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        elif arr.dtype == np.float64:
            arr = arr.astype(_dtypes.get_default_dtype(), copy=False)
        elif arr.dtype.kind == "i":
            arr = arr.astype(np.int64, copy=False)
        elif arr.dtype.kind not in "biufc":
            raise TypeError(f"cannot make a tensor from {type(data).__name__} (dtype {arr.dtype})")
    return arr


def _unwrap_index(index: Any) -> Any:
    """Replace tensors inside an index by their arrays (an index is never differentiated)."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        return np.asarray([i.item() if isinstance(i, Tensor) else i for i in index])
    return index


class Tensor:
    """An n-dimensional array with reverse-mode automatic differentiation.

    Args:
        data: array-like (nested lists, scalars, an ndarray, another Tensor). An ndarray is
            wrapped without copying when its dtype already matches.
        dtype: the dtype to convert to (default: inferred as PyTorch does).
        requires_grad: record ops on this tensor so ``backward`` can compute its gradient.

    Example:
        >>> import nnlab
        >>> w = nnlab.tensor([2.0, -1.0], requires_grad=True)
        >>> loss = (w * w).sum()
        >>> loss.backward()
        >>> w.grad
        tensor([ 4., -2.])
    """

    __slots__ = ("array", "requires_grad", "grad", "_node", "_out_idx", "_hooks", "__weakref__")
    # NumPy hands mixed expressions (ndarray * Tensor) to Tensor.__array_ufunc__.
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.array = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self._node: Any = None
        self._out_idx = 0
        self._hooks: dict[int, Callable[[Tensor], Any]] | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: np.ndarray, requires_grad: bool, node: Any, out_idx: int) -> Tensor:
        """Wrap an op's output without any conversion (the hot path of every op)."""
        t = Tensor.__new__(Tensor)
        t.array = data
        t.requires_grad = requires_grad
        t.grad = None
        t._node = node
        t._out_idx = out_idx
        t._hooks = None
        return t

    # -- properties ---------------------------------------------------------------------

    @property
    def data(self) -> Tensor:
        """The same values as a tensor outside the graph (``requires_grad=False``) that
        shares this tensor's memory, as ``torch.Tensor.data``: in-place changes through it
        (``p.data.add_(g, alpha=-lr)``) change this tensor and are not recorded. Assigning
        ``t.data = other`` swaps in ``other``'s values (shape and dtype may change)."""
        return Tensor._make(self.array, False, None, 0)

    @data.setter
    def data(self, value: Any) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(
                f"Tensor.data: expected a Tensor to assign, got {type(value).__name__} "
                "(use t.data = nnlab.tensor(...) or t.copy_(...))"
            )
        self.array = value.array

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> _dtypes.dtype:
        d = self.array.dtype
        return _dtypes._BY_NUMPY.get(d) or _dtypes.from_numpy_dtype(d)

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def is_complex(self) -> bool:
        return self.array.dtype.kind == "c"

    def element_size(self) -> int:
        return self.array.itemsize

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """True when the values are laid out row-major without gaps (C order)."""
        return bool(self.array.flags.c_contiguous)

    @property
    def device(self) -> device:
        """Always the CPU: nnlab computes with NumPy (``device(type='cpu')``)."""
        return _CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_cpu(self) -> bool:
        return True

    @property
    def grad_fn(self) -> Any:
        """The node that produced this tensor (None for leaves)."""
        return self._node

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the transpose of a matrix)."""
        return _ops.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped (a batch of transposed matrices)."""
        return _ops.transpose(self, -2, -1)

    def size(self, dim: int | None = None) -> Any:
        return Size(self.array.shape) if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # -- conversion ---------------------------------------------------------------------

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise RuntimeError(
                f"item(): a tensor with {self.array.size} elements (shape {self.shape}) cannot "
                "be converted to a Python scalar; only one-element tensors can."
            )
        return self.array.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, as ``torch.Tensor.numpy``)."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy()."
            )
        return self.array

    def tolist(self) -> Any:
        return self.array.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.array.dtype:
            return self.array.astype(dtype)
        return self.array.copy() if copy else self.array

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iub" or self.array.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(
                f"Boolean value of a Tensor with {self.array.size} values is ambiguous; "
                "use .any() or .all()."
            )
        return bool(self.array.item())

    def __repr__(self) -> str:
        body = np.array2string(
            self.array, separator=", ", prefix="tensor(", precision=4, threshold=200
        )
        extras = []
        if self.array.dtype not in (_dtypes.get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.dtype!r}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    def __format__(self, format_spec: str) -> str:
        """``f"{loss:.4f}"`` formats a 0-d tensor's value, as torch does; other tensors
        accept only an empty format spec."""
        if self.array.ndim == 0:
            return self.array.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    __hash__ = object.__hash__

    # -- autograd -----------------------------------------------------------------------

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Backpropagate from this tensor: add d(self)/d(leaf) to every leaf's ``.grad``.

        Args:
            gradient: d(loss)/d(self); may be omitted when ``self`` has one element.
            retain_graph: keep the graph's saved arrays for another backward
                (default: ``create_graph``).
            create_graph: record the backward pass itself, for higher-order gradients.
        """
        from nnlab.autograd.engine import backward  # cycle: engine imports Tensor

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing the same values, cut off from the graph."""
        return Tensor._make(self.array, False, None, 0)

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.array.dtype.kind not in "fc":
            raise RuntimeError(
                f"only tensors of floating point dtype can require gradients (got {self.dtype})"
            )
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "requires_grad_(False) is only allowed on leaf tensors; use detach() instead."
            )
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        """Fill ``.grad`` of this non-leaf tensor during backward (useful to look inside).
        As torch, gradients accumulate there across backward calls."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a Tensor that has requires_grad=False")
        if self._node is None:
            return
        node = self._node
        if node._retained is None:
            node._retained = {}
        node._retained[self._out_idx] = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        """True for a non-leaf tensor on which ``retain_grad()`` was called."""
        retained = self._node._retained if self._node is not None else None
        return bool(retained) and self._out_idx in retained and retained[self._out_idx]() is self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call ``hook(grad)`` each time this tensor's gradient is computed; a returned tensor
        replaces the gradient. For a leaf the hook sees the total gradient of one backward,
        before it is added to ``.grad``. Returns a handle whose ``remove()`` unregisters it.

        Example:
            >>> import nnlab
            >>> x = nnlab.tensor([1.0, 2.0], requires_grad=True)
            >>> handle = x.register_hook(lambda g: g * 10)
            >>> (x * x).sum().backward()
            >>> x.grad
            tensor([20., 40.])
            >>> handle.remove()
        """
        if not self.requires_grad:
            raise RuntimeError(
                "cannot register a hook on a tensor that doesn't require grad "
                "(no gradient will ever be computed for it)"
            )
        if self._node is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            node = self._node
            if node._hooks is None:
                node._hooks = {}
            hooks = node._hooks.setdefault(self._out_idx, {})
        return RemovableHandle(hooks, hook)

    # -- copies and dtypes --------------------------------------------------------------

    def clone(self) -> Tensor:
        return _ops.clone(self)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """Convert to a dtype (differentiable between floating dtypes), with torch's
        signatures: ``to(dtype)``, ``to(device, dtype)``, ``to(device=..., dtype=...)``,
        ``to(other)`` (other's dtype), each with ``non_blocking`` and ``copy``. The device
        must be the CPU (anything else raises); without a new dtype or ``copy=True`` the
        tensor itself is returned, as in torch.

        Example:
            >>> import nnlab
            >>> nnlab.tensor([1.0, 2.0]).to("cpu", nnlab.float64).dtype
            nnlab.float64
        """
        dtype, copy = _to_args("Tensor.to", args, kwargs)
        out = self if dtype is None else _ops.cast(self, dtype)
        return _ops.clone(out) if copy and out is self else out

    def cpu(self) -> Tensor:
        """The tensor itself: it already lives on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        _check_cpu("cuda", "Tensor.cuda")
        return self

    def type(self, dtype: Any) -> Tensor:
        return _ops.cast(self, _dtypes.to_dtype(dtype))

    def type_as(self, other: Tensor) -> Tensor:
        return self.type(other.dtype)

    def float(self) -> Tensor:
        return self.type(np.float32)

    def double(self) -> Tensor:
        return self.type(np.float64)

    def long(self) -> Tensor:
        return self.type(np.int64)

    def int(self) -> Tensor:
        return self.type(np.int32)

    def bool(self) -> Tensor:
        return self.type(np.bool_)

    def contiguous(self, memory_format: Any = None) -> Tensor:
        """This tensor if its values are laid out row-major, else a row-major copy."""
        return self if self.array.flags.c_contiguous else _ops.clone(self)

    # -- new tensors like this one ------------------------------------------------------

    def _new_like(self, values: np.ndarray, device: Any, requires_grad: bool) -> Tensor:
        if device is not None:
            _check_cpu(device, "Tensor.new_*")
        out = Tensor._make(values, False, None, 0)
        return out.requires_grad_(True) if requires_grad else out

    def _new_dtype(self, dtype: Any) -> np.dtype:
        return self.array.dtype if dtype is None else _dtypes.to_dtype(dtype)

    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:  # fmt: skip
        """A copy of ``data`` with this tensor's dtype unless ``dtype`` is given."""
        values = np.array(_raw(data), dtype=self._new_dtype(dtype), copy=True)
        return self._new_like(values, device, requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:  # fmt: skip
        values = np.zeros(_shape_arg(size), dtype=self._new_dtype(dtype))
        return self._new_like(values, device, requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:  # fmt: skip
        values = np.ones(_shape_arg(size), dtype=self._new_dtype(dtype))
        return self._new_like(values, device, requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:  # fmt: skip
        values = np.empty(_shape_arg(size), dtype=self._new_dtype(dtype))
        return self._new_like(values, device, requires_grad)

    def new_full(self, size: Sequence[int], fill_value: Any, dtype: Any = None,
                 device: Any = None, requires_grad: bool = False) -> Tensor:  # fmt: skip
        values = np.full(tuple(size), _raw(fill_value), dtype=self._new_dtype(dtype))
        return self._new_like(values, device, requires_grad)

    # -- in-place (allowed only where no gradient is recorded) ----------------------------

    def _check_inplace(self, what: str, other: Any = None) -> None:
        if not _is_grad_enabled():
            return
        if self.requires_grad:
            raise RuntimeError(
                f"{what}: a tensor that requires grad cannot be modified in place while "
                "gradients are recorded (backward would use the old values). Wrap the "
                "update in `with nnlab.no_grad():` or build a new tensor instead."
            )
        if isinstance(other, Tensor) and other.requires_grad:
            raise RuntimeError(
                f"{what}: the value requires grad but this tensor does not, so the in-place "
                "update would silently drop its gradient. Build a new tensor out of place "
                "(e.g. with nnlab.where, nnlab.cat or nnlab.stack), or detach() the value."
            )

    def __setitem__(self, index: Any, value: Any) -> None:
        self._check_inplace("__setitem__", value)
        self.array[_unwrap_index(index)] = value.array if isinstance(value, Tensor) else value

    def _inplace(self, what: str, value: np.ndarray, other: Any = None) -> Tensor:
        self._check_inplace(what, other)
        if value.shape != self.array.shape:
            raise RuntimeError(
                f"{what}: result of shape {value.shape} cannot be stored in place in a tensor "
                f"of shape {self.array.shape}"
            )
        if not np.can_cast(value.dtype, self.array.dtype, casting="same_kind"):
            raise RuntimeError(
                f"{what}: result type {value.dtype} can't be cast to the dtype of this "
                f"tensor, {self.array.dtype} (in place, the dtype cannot change)"
            )
        self.array[...] = value
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("__iadd__", self.array + _raw(other), other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("__isub__", self.array - _raw(other), other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("__imul__", self.array * _raw(other), other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("__itruediv__", self.array / _raw(other), other)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        scaled = _raw(other) if alpha == 1.0 else alpha * _raw(other)
        return self._inplace("add_", self.array + scaled, other)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        scaled = _raw(other) if alpha == 1.0 else alpha * _raw(other)
        return self._inplace("sub_", self.array - scaled, other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", self.array * _raw(other), other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", self.array / _raw(other), other)

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        self.array[...] = 0
        return self

    def fill_(self, value: Any) -> Tensor:
        self._check_inplace("fill_")
        self.array[...] = _raw(value)
        return self

    def copy_(self, src: Any) -> Tensor:
        self._check_inplace("copy_", src)
        self.array[...] = _raw(src)
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace("clamp_", np.clip(self.array, _raw(min), _raw(max)))

    clip_ = clamp_

    def addcmul_(self, tensor1: Any, tensor2: Any, value: float = 1.0) -> Tensor:
        """self += value · tensor1 · tensor2, in place."""
        product = _raw(tensor1) * _raw(tensor2)
        return self._inplace("addcmul_", self.array + value * product, tensor1)

    def addcdiv_(self, tensor1: Any, tensor2: Any, value: float = 1.0) -> Tensor:
        """self += value · tensor1 / tensor2, in place."""
        quotient = _raw(tensor1) / _raw(tensor2)
        return self._inplace("addcdiv_", self.array + value * quotient, tensor1)

    def lerp_(self, end: Any, weight: Any) -> Tensor:
        """self += weight · (end − self), in place."""
        return self._inplace("lerp_", self.array + _raw(weight) * (_raw(end) - self.array), end)

    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        """Write ``value`` where ``mask`` (broadcast to this shape) is True."""
        self._check_inplace("masked_fill_", value)
        m = np.broadcast_to(_raw(mask), self.array.shape)
        if m.dtype != np.bool_:
            raise RuntimeError(
                f"masked_fill_ only supports boolean masks, but got mask with dtype {m.dtype}"
            )
        self.array[m] = _raw(value)
        return self

    def index_add_(self, dim: int, index: Any, source: Any, alpha: float = 1.0) -> Tensor:
        """Add ``alpha · source`` into the rows ``index`` along ``dim``; repeated indices
        accumulate."""
        self._check_inplace("index_add_", source)
        idx = np.asarray(_raw(index))
        if idx.ndim > 1 or idx.dtype.kind not in "iu":
            raise IndexError("index_add_(): index must be a 1-D tensor of integers")
        src = _raw(source) if alpha == 1.0 else alpha * _raw(source)
        np.add.at(np.moveaxis(self.array, dim, 0), idx, np.moveaxis(np.asarray(src), dim, 0))
        return self

    # Unary ops in place: the op computed on this tensor's values, without recording,
    # then stored back (the rules of _check_inplace apply).
    def _apply_(self, what: str, op: Callable[..., Tensor], *args: Any) -> Tensor:
        with _no_grad():
            value = op(Tensor._make(self.array, False, None, 0), *args).array
        return self._inplace(what, value, args[0] if args else None)

    def pow_(self, exponent: Any) -> Tensor:
        return self._apply_("pow_", _ops.pow, exponent)

    def exp_(self) -> Tensor:
        return self._apply_("exp_", _ops.exp)

    def log_(self) -> Tensor:
        return self._apply_("log_", _ops.log)

    def sqrt_(self) -> Tensor:
        return self._apply_("sqrt_", _ops.sqrt)

    def abs_(self) -> Tensor:
        return self._apply_("abs_", _ops.abs)

    def neg_(self) -> Tensor:
        return self._apply_("neg_", _ops.neg)

    def sign_(self) -> Tensor:
        return self._apply_("sign_", _ops.sign)

    def sin_(self) -> Tensor:
        return self._apply_("sin_", _ops.sin)

    def cos_(self) -> Tensor:
        return self._apply_("cos_", _ops.cos)

    def tanh_(self) -> Tensor:
        return self._apply_("tanh_", _ops.tanh)

    def sigmoid_(self) -> Tensor:
        return self._apply_("sigmoid_", _ops.sigmoid)

    def relu_(self) -> Tensor:
        return self._apply_("relu_", _ops.relu)

    def floor_(self) -> Tensor:
        return self._apply_("floor_", _ops.floor)

    def ceil_(self) -> Tensor:
        return self._apply_("ceil_", _ops.ceil)

    def round_(self, decimals: int = 0) -> Tensor:
        return self._apply_("round_", _ops.round, decimals)

    def clamp_min_(self, min: Any) -> Tensor:
        return self.clamp_(min=min)

    def clamp_max_(self, max: Any) -> Tensor:
        return self.clamp_(max=max)

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        """Fill with samples of N(mean, std²) from the default or a given generator."""
        self._check_inplace("normal_")
        self.array[...] = _random._rng(generator).normal(mean, std, self.array.shape)
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        """Fill with samples of U(a, b) from the default or a given generator."""
        self._check_inplace("uniform_")
        self.array[...] = _random._rng(generator).uniform(a, b, self.array.shape)
        return self

    def bernoulli_(self, p: float = 0.5, generator: Any = None) -> Tensor:
        """Fill with 1 with probability ``p``, else 0."""
        self._check_inplace("bernoulli_")
        self.array[...] = _random._rng(generator).random(self.array.shape) < _raw(p)
        return self

    def exponential_(self, lambd: float = 1.0, generator: Any = None) -> Tensor:
        self._check_inplace("exponential_")
        self.array[...] = _random._rng(generator).exponential(1.0 / lambd, self.array.shape)
        return self

    # -- arithmetic ---------------------------------------------------------------------

    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)

    def __floordiv__(self, other: Any) -> Tensor:
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _ops.floor_divide(other, self)

    def __mod__(self, other: Any) -> Tensor:
        return _ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops.remainder(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    # comparisons give boolean tensors and are not differentiable
    def __lt__(self, other: Any) -> Tensor:
        return _ops.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.ge(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.ne(self, other)

    def __invert__(self) -> Tensor:
        return _ops.logical_not(self)

    def __and__(self, other: Any) -> Tensor:
        return Tensor._make(np.asarray(self.array & _raw(other)), False, None, 0)

    def __or__(self, other: Any) -> Tensor:
        return Tensor._make(np.asarray(self.array | _raw(other)), False, None, 0)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """Let NumPy ufuncs (``np.exp(t)``, ``ndarray * t``) run as nnlab ops.

        This is what allows one backward formula, written with NumPy ufuncs, to work both
        on arrays (plain backward) and on tensors (``create_graph=True``).
        """
        op = _ops.UFUNCS.get(ufunc)
        if op is None or method != "__call__" or kwargs:
            raise TypeError(
                f"np.{ufunc.__name__} ({method}) has no nnlab op; use the nnlab function, "
                "or convert first with tensor.detach().numpy()."
            )
        return op(*inputs)

    # -- method forms of the ops (see nnlab.ops for the formulas) -------------------------

    def add(self, other: Any, alpha: float = 1.0) -> Tensor:
        return _ops.add(self, other if alpha == 1.0 else _ops.mul(other, alpha))

    def sub(self, other: Any, alpha: float = 1.0) -> Tensor:
        return _ops.sub(self, other if alpha == 1.0 else _ops.mul(other, alpha))

    def mul(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def div(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def pow(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def matmul(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def square(self) -> Tensor:
        return _ops.mul(self, self)

    def softmax(self, dim: int) -> Tensor:
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return _ops.log_softmax(self, dim)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        return _ops.clamp(self, min, max)

    clip = clamp

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        return _ops.masked_fill(self, mask, value)

    def sum(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _ops.sum(self, dim, keepdim, **kw)

    def mean(self, dim: Any = None, keepdim: bool = False, **kw: Any) -> Tensor:
        return _ops.mean(self, dim, keepdim, **kw)

    def prod(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.prod(self, dim, keepdim)

    def var(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
            **kw: Any) -> Tensor:  # fmt: skip
        return _ops.var(self, dim, unbiased, keepdim, **kw)

    def std(self, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
            **kw: Any) -> Tensor:  # fmt: skip
        return _ops.std(self, dim, unbiased, keepdim, **kw)

    def erf(self) -> Tensor:
        return _ops.erf(self)

    def lt(self, other: Any) -> Tensor:
        return _ops.lt(self, other)

    def le(self, other: Any) -> Tensor:
        return _ops.le(self, other)

    def gt(self, other: Any) -> Tensor:
        return _ops.gt(self, other)

    def ge(self, other: Any) -> Tensor:
        return _ops.ge(self, other)

    def eq(self, other: Any) -> Tensor:
        return _ops.eq(self, other)

    def ne(self, other: Any) -> Tensor:
        return _ops.ne(self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        """``self`` where ``condition`` holds, else ``other`` (``torch.Tensor.where``)."""
        return _ops.where(condition, self, other)

    def mm(self, other: Any) -> Tensor:
        return _ops.mm(self, other)

    def bmm(self, other: Any) -> Tensor:
        return _ops.bmm(self, other)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return _ops.index_select(self, dim, index)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _ops.max(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _ops.min(self, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.amin(self, dim, keepdim)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> Tensor:
        return _ops.logsumexp(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops.argmin(self, dim, keepdim)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.all(self, dim, keepdim)

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.any(self, dim, keepdim)

    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.norm(self, p, dim, keepdim)

    def cumsum(self, dim: int, dtype: Any = None) -> Tensor:
        return _ops.cumsum(self, dim, dtype)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _ops.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        return _ops.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return _ops.topk(self, k, dim, largest, sorted)

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    def round(self, decimals: int = 0) -> Tensor:
        return _ops.round(self, decimals)

    def floor(self) -> Tensor:
        return _ops.floor(self)

    def ceil(self) -> Tensor:
        return _ops.ceil(self)

    def trunc(self) -> Tensor:
        return _ops.trunc(self)

    def floor_divide(self, other: Any) -> Tensor:
        return _ops.floor_divide(self, other)

    def remainder(self, other: Any) -> Tensor:
        return _ops.remainder(self, other)

    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:  # fmt: skip
        return _ops.isclose(self, other, rtol, atol, equal_nan)

    def equal(self, other: Any) -> bool:
        return _ops.equal(self, other)

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Tensor:  # fmt: skip
        from nnlab.creation import multinomial  # cycle: creation imports Tensor

        return multinomial(self, num_samples, replacement, generator=generator)

    def allclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                 equal_nan: bool = False) -> bool:  # fmt: skip
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, _shape_arg(shape))

    def view(self, *shape: Any) -> Tensor:
        return _ops.view(self, _shape_arg(shape))

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.view(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def squeeze(self, dim: Any = None) -> Tensor:
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _ops.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _ops.transpose(self, dim0, dim1)

    swapaxes = transpose

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return self.T

    def permute(self, *dims: Any) -> Tensor:
        return _ops.permute(self, _shape_arg(dims))

    def expand(self, *shape: Any) -> Tensor:
        return _ops.expand(self, _shape_arg(shape))

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, other.shape)

    def split(self, split_size: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)

    def gather(self, dim: int, index: Any) -> Tensor:
        return _ops.gather(self, dim, index)

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        return _ops.scatter_add(self, dim, index, src)

    def repeat(self, *sizes: Any) -> Tensor:
        return _ops.repeat(self, _shape_arg(sizes))

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        return _ops.narrow(self, dim, start, length)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _ops.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _ops.triu(self, diagonal)


class RemovableHandle:
    """Returned by ``register_hook``: ``handle.remove()`` unregisters the hook."""

    _ids = itertools.count()

    def __init__(self, hooks: dict[int, Any], hook: Callable[..., Any]) -> None:
        self.id = next(RemovableHandle._ids)
        self._hooks = hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _raw(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else value


def _shape_arg(args: Sequence[Any]) -> tuple[int, ...]:
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


from nnlab import ops as _ops  # noqa: E402  (ops import Tensor; bind after the class exists)
