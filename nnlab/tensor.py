"""The :class:`Tensor`: a NumPy array that remembers how it was computed.

A tensor holds its values in ``.data`` (an ``np.ndarray``, float32 unless asked
otherwise). When ``requires_grad`` is True, every op applied to it records a node
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

__all__ = ["Tensor", "RemovableHandle", "device", "is_tensor", "numel"]

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


def numel(x: Tensor) -> int:
    """The number of elements of ``x`` (``torch.numel``)."""
    return x.numel()


def _as_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """Convert ``data`` to an ndarray with PyTorch's dtype inference: Python floats become
    the default dtype (float32), Python ints int64, arrays keep their dtype."""
    if isinstance(data, Tensor):
        data = data.data
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
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
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

    __slots__ = ("data", "requires_grad", "grad", "_node", "_out_idx", "_hooks", "__weakref__")
    # NumPy hands mixed expressions (ndarray * Tensor) to Tensor.__array_ufunc__.
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.data = _as_array(data, dtype)
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
        t.data = data
        t.requires_grad = requires_grad
        t.grad = None
        t._node = node
        t._out_idx = out_idx
        t._hooks = None
        return t

    # -- properties ---------------------------------------------------------------------

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

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
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    # -- conversion ---------------------------------------------------------------------

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise RuntimeError(
                f"item(): a tensor with {self.data.size} elements (shape {self.shape}) cannot "
                "be converted to a Python scalar; only one-element tensors can."
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying array (shared memory, as ``torch.Tensor.numpy``)."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on a Tensor that requires grad. Use tensor.detach().numpy()."
            )
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of a Tensor with {self.data.size} values is ambiguous; "
                "use .any() or .all()."
            )
        return bool(self.data.item())

    def __repr__(self) -> str:
        body = np.array2string(
            self.data, separator=", ", prefix="tensor(", precision=4, threshold=200
        )
        extras = []
        if self.data.dtype not in (_dtypes.get_default_dtype(), np.int64, np.bool_):
            extras.append(f"dtype={self.data.dtype}")
        if self._node is not None:
            extras.append(f"grad_fn={self._node!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

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
        from nnlab.autograd.engine import backward

        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def detach(self) -> Tensor:
        """A tensor sharing the same values, cut off from the graph."""
        return Tensor._make(self.data, False, None, 0)

    def detach_(self) -> Tensor:
        self._node = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
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
            dtype('float64')
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

    def contiguous(self) -> Tensor:
        return self

    # -- in-place (allowed only where no gradient is recorded) ----------------------------

    def _check_inplace(self, what: str, other: Any = None) -> None:
        from nnlab.autograd.grad_mode import is_grad_enabled

        if not is_grad_enabled():
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
        self.data[_unwrap_index(index)] = value.data if isinstance(value, Tensor) else value

    def _inplace(self, what: str, value: np.ndarray, other: Any = None) -> Tensor:
        self._check_inplace(what, other)
        if value.shape != self.data.shape:
            raise RuntimeError(
                f"{what}: result of shape {value.shape} cannot be stored in place in a tensor "
                f"of shape {self.data.shape}"
            )
        if not np.can_cast(value.dtype, self.data.dtype, casting="same_kind"):
            raise RuntimeError(
                f"{what}: result type {value.dtype} can't be cast to the dtype of this "
                f"tensor, {self.data.dtype} (in place, the dtype cannot change)"
            )
        self.data[...] = value
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("__iadd__", self.data + _raw(other), other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("__isub__", self.data - _raw(other), other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("__imul__", self.data * _raw(other), other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("__itruediv__", self.data / _raw(other), other)

    def add_(self, other: Any, alpha: float = 1.0) -> Tensor:
        scaled = _raw(other) if alpha == 1.0 else alpha * _raw(other)
        return self._inplace("add_", self.data + scaled, other)

    def sub_(self, other: Any, alpha: float = 1.0) -> Tensor:
        scaled = _raw(other) if alpha == 1.0 else alpha * _raw(other)
        return self._inplace("sub_", self.data - scaled, other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", self.data * _raw(other), other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", self.data / _raw(other), other)

    def zero_(self) -> Tensor:
        self._check_inplace("zero_")
        self.data[...] = 0
        return self

    def fill_(self, value: Any) -> Tensor:
        self._check_inplace("fill_")
        self.data[...] = _raw(value)
        return self

    def copy_(self, src: Any) -> Tensor:
        self._check_inplace("copy_", src)
        self.data[...] = _raw(src)
        return self

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace("clamp_", np.clip(self.data, min, max))

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
        return Tensor._make(np.asarray(self.data & _raw(other)), False, None, 0)

    def __or__(self, other: Any) -> Tensor:
        return Tensor._make(np.asarray(self.data | _raw(other)), False, None, 0)

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
    return value.data if isinstance(value, Tensor) else value


def _shape_arg(args: Sequence[Any]) -> tuple[int, ...]:
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


from nnlab import ops as _ops  # noqa: E402  (ops import Tensor; bind after the class exists)
