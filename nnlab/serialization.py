"""``save`` and ``load``: PyTorch's save and load for nnlab, without pickle.

PyTorch pickles: loading a ``.pt`` file may run any code its author put in it. nnlab
writes ONE safetensors file instead, where nothing is executable:

* the **tensor table** holds every Tensor (and NumPy array) of the saved object, under the
  names ``"0"``, ``"1"``, ... (a tensor met twice is stored once);
* the **metadata** (safetensors' string-to-string header) holds three entries:
  ``"format"`` (``"nnlab-save-1"``, so other files are recognised and refused),
  ``"structure"`` (the object as JSON, each tensor replaced by a placeholder naming its
  entry in the table) and ``"sha256"`` (a digest of the structure and of every tensor's
  name, dtype, shape and bytes, checked on load, so a damaged file is refused instead of
  silently half-loaded).

The structure is strict JSON (no NaN literals) built from tagged nodes, so that every
type comes back as it went in::

    None, True, 3, 0.5, "adam"      as themselves (JSON keeps int 3 apart from float 3.0)
    list                            [node, ...]
    tuple                           {"@tuple": [node, ...]}
    dict / OrderedDict              {"@dict": [[key, value], ...]} / {"@ordered_dict": ...}
                                    (pairs keep int keys ints, and keep the order)
    nan, inf, -inf                  {"@float": "nan"}
    Tensor / Parameter / Buffer     {"@tensor": {"key": "0", "class": "Tensor",
                                                 "requires_grad": false}}
    NumPy array / scalar            {"@ndarray": "1"} / {"@numpy_scalar": ["float32", 0.5]}

Model and optimizer ``state_dict()`` s are made of exactly these. A whole Module or
Optimizer is not: save its ``state_dict()`` and restore with ``load_state_dict``, which
is what PyTorch recommends too (a pickled module breaks when its class changes).

Not restored: memory shared between *different* tensors (a view and its base come back
as two independent tensors), and the identity of a container met twice (two copies).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as safetensors_arrays
from safetensors.numpy import save as safetensors_bytes

from nnlab.io.files import atomic_write_bytes
from nnlab.nn.parameter import Buffer, Parameter
from nnlab.tensor import Tensor, device

__all__ = ["save", "load"]

_FORMAT = "nnlab-save-1"
_CHECKPOINT_FORMAT = "nnlab-checkpoint-1"  # nnlab.train.save_checkpoint's files
_TENSOR_CLASSES = {"Tensor": Tensor, "Parameter": Parameter, "Buffer": Buffer}
# The dtypes a safetensors file can hold (bfloat16 has no NumPy dtype).
_DTYPES = frozenset(
    np.dtype(t)
    for t in (
        np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32,
        np.uint64, np.float16, np.float32, np.float64, np.complex64,
    )
)  # fmt: skip
_SUPPORTED = (
    "Tensors, NumPy arrays and scalars, dict, OrderedDict, list, tuple, str, int, float, "
    "bool and None"
)

File = str | os.PathLike[str] | BinaryIO


# -- encoding: object -> (JSON structure, tensor table) ----------------------------------


class _Encoder:
    """Walks the object once, filling ``arrays`` and returning the JSON structure."""

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._names: dict[int, str] = {}  # id(tensor or array) -> its name in the table
        self._open: set[int] = set()  # containers being encoded (to catch cycles)

    def _store(self, obj: Any, array: np.ndarray, where: str) -> str:
        name = self._names.get(id(obj))
        if name is not None:
            return name
        if array.dtype.newbyteorder("=") not in _DTYPES:
            raise TypeError(
                f"nnlab.save: cannot store the array at {where}: dtype {array.dtype} is not "
                "one of bool, (u)int8-64, float16/32/64, complex64"
            )
        if array.dtype.byteorder == ">":  # safetensors is little-endian
            array = array.astype(array.dtype.newbyteorder("<"))
        name = str(len(self.arrays))
        self.arrays[name] = np.asarray(array, order="C")  # (ascontiguousarray makes 0-d 1-d)
        self._names[id(obj)] = name
        return name

    def encode(self, obj: Any, where: str) -> Any:
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, np.generic):
            return self._numpy_scalar(obj, where)
        if isinstance(obj, int):
            return int(obj)
        if isinstance(obj, float):
            return float(obj) if math.isfinite(obj) else {"@float": repr(float(obj))}
        if isinstance(obj, Tensor):
            return self._tensor(obj, where)
        if isinstance(obj, np.ndarray):
            return {"@ndarray": self._store(obj, obj, where)}
        if type(obj) in (list, tuple, dict, OrderedDict):
            if id(obj) in self._open:
                raise ValueError(f"nnlab.save: {where} contains itself; cannot store a cycle")
            self._open.add(id(obj))
            try:
                return self._container(obj, where)
            finally:
                self._open.discard(id(obj))
        raise TypeError(_refusal(obj, where))

    def _numpy_scalar(self, obj: np.generic, where: str) -> Any:
        if obj.dtype not in _DTYPES or obj.dtype.kind == "c":
            raise TypeError(f"nnlab.save: cannot store the NumPy {obj.dtype} scalar at {where}")
        return {"@numpy_scalar": [obj.dtype.name, self.encode(obj.item(), where)]}

    def _tensor(self, t: Tensor, where: str) -> Any:
        kind = type(t).__name__
        if _TENSOR_CLASSES.get(kind) is not type(t):
            raise TypeError(_refusal(t, where))
        node: dict[str, Any] = {
            "key": self._store(t, t.array, where),
            "class": kind,
            "requires_grad": bool(t.requires_grad),
        }
        if isinstance(t, Buffer):
            node["persistent"] = bool(t.persistent)
        return {"@tensor": node}

    def _container(self, obj: Any, where: str) -> Any:
        if isinstance(obj, list):
            return [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        if isinstance(obj, tuple):
            return {"@tuple": [self.encode(v, f"{where}[{i}]") for i, v in enumerate(obj)]}
        pairs = []
        for k, v in obj.items():
            if not _is_plain_key(k):
                raise TypeError(
                    f"nnlab.save: the dict at {where} has a key of type {type(k).__name__} "
                    f"({k!r}); keys must be str, int, float, bool, None or tuples of these"
                )
            pairs.append([self.encode(k, where), self.encode(v, f"{where}[{k!r}]")])
        return {"@ordered_dict" if isinstance(obj, OrderedDict) else "@dict": pairs}


def _is_plain_key(key: Any) -> bool:
    if type(key) is tuple:
        return all(_is_plain_key(k) for k in key)
    return key is None or type(key) in (str, int, float, bool)


def _refusal(obj: Any, where: str) -> str:
    kind = type(obj).__name__
    if callable(getattr(obj, "state_dict", None)):
        return (
            f"nnlab.save: cannot store a {kind} object (at {where}): nnlab saves data, never "
            f"code. Save its state instead, nnlab.save(model.state_dict(), f), and restore "
            f"it into a freshly built {kind} with model.load_state_dict(nnlab.load(f))"
        )
    return f"nnlab.save: cannot store a {kind} object (at {where}); it stores only {_SUPPORTED}"


def _digest(structure: str, arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the structure and of every array's name, dtype, shape and bytes."""
    h = hashlib.sha256(structure.encode())
    for name in sorted(arrays, key=lambda name: (len(name), name)):
        a = arrays[name]
        h.update(f"\n{name} {a.dtype.str} {a.shape}\n".encode())
        h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8))
    return h.hexdigest()


# -- decoding: (JSON structure, tensor table) -> object ----------------------------------


class _Damaged(ValueError):
    """A file that passed the format check but whose contents do not make sense."""


class _Decoder:
    def __init__(self, arrays: Mapping[str, np.ndarray], source: str) -> None:
        self.arrays = arrays
        self.source = source
        self._made: dict[str, Any] = {}  # name -> the object built from it (shared tensors)

    def _array(self, name: Any) -> np.ndarray:
        if not isinstance(name, str) or name not in self.arrays:
            raise self._broken(f"it refers to a tensor {name!r} that the file does not hold")
        a = self.arrays[name]
        return a if a.flags.writeable else a.copy()

    def _broken(self, why: str) -> ValueError:
        return _Damaged(f"nnlab.load: {self.source} is damaged: {why}")

    def decode(self, node: Any) -> Any:
        if node is None or isinstance(node, (bool, int, float, str)):
            return node
        if isinstance(node, list):
            return [self.decode(v) for v in node]
        if not isinstance(node, dict) or len(node) != 1:
            raise self._broken(f"unexpected node {str(node)[:80]}")
        ((tag, value),) = node.items()
        if tag == "@tuple":
            return tuple(self.decode(v) for v in value)
        if tag in ("@dict", "@ordered_dict"):
            items = ((self.decode(k), self.decode(v)) for k, v in value)
            return OrderedDict(items) if tag == "@ordered_dict" else dict(items)
        if tag == "@float":
            return float(value)
        if tag == "@numpy_scalar":
            return np.dtype(value[0]).type(self.decode(value[1]))
        if tag == "@ndarray":
            if value not in self._made:
                self._made[value] = self._array(value)
            return self._made[value]
        if tag == "@tensor":
            key = value["key"]
            if key not in self._made:
                self._made[key] = self._tensor(value)
            return self._made[key]
        raise self._broken(f"unknown tag {tag!r}")

    def _tensor(self, node: dict[str, Any]) -> Tensor:
        array = self._array(node["key"])
        kind = node["class"]
        if kind == "Parameter":
            return Parameter(array, requires_grad=node["requires_grad"])
        if kind == "Buffer":
            return Buffer(array, persistent=node.get("persistent", True))
        if kind != "Tensor":
            raise self._broken(f"unknown tensor class {kind!r}")
        t = Tensor(array)
        if node["requires_grad"]:
            t.requires_grad_(True)
        return t


# -- files ------------------------------------------------------------------------------


def _describe(f: Any) -> str:
    if isinstance(f, (str, os.PathLike)):
        return str(f)
    name = getattr(f, "name", None)
    return str(name) if isinstance(name, (str, bytes)) else f"<{type(f).__name__}>"


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` atomically (:func:`nnlab.io.atomic_write_bytes`): an interrupted
    save leaves the previous file intact. Unlike a run's files, the folder must exist."""
    if path.is_dir():
        raise IsADirectoryError(f"nnlab.save: {path} is a folder; give a file name")
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"nnlab.save: cannot write {path}: the folder {path.parent} does not exist"
        )
    atomic_write_bytes(path, lambda tmp: Path(tmp).write_bytes(payload))


def save(obj: Any, f: File) -> None:
    """Save ``obj`` to ``f`` as ``torch.save`` does, in a safetensors file with no pickle.

    ``obj`` may be a Tensor, a model's or optimizer's ``state_dict()``, or any nesting of
    dicts, OrderedDicts, lists and tuples of Tensors, NumPy arrays, numbers (nan and inf
    included), strings, bools and None; :func:`load` gives back the same types (tuple and
    list, int and str keys, OrderedDict order, dtypes, shapes, ``requires_grad``). The
    file layout is in the module docstring.

    Args:
        obj: what to save. A Module, Optimizer or any other object is refused with a
            TypeError: save its ``state_dict()`` instead.
        f: a path (written atomically: a failed save never damages an existing file) or
            a binary file object open for writing (``io.BytesIO()``, ``open(p, "wb")``).

    Example:
        >>> import io, nnlab
        >>> from nnlab import nn
        >>> model = nn.Linear(3, 2)
        >>> buf = io.BytesIO()
        >>> save(model.state_dict(), buf)
        >>> _ = buf.seek(0)
        >>> state = load(buf)
        >>> list(state), state["bias"].shape
        (['weight', 'bias'], nnlab.Size([2]))
        >>> save(model, io.BytesIO())
        Traceback (most recent call last):
        ...
        TypeError: nnlab.save: cannot store a Linear object (at obj): ...state_dict()...
    """
    encoder = _Encoder()
    structure = json.dumps(encoder.encode(obj, "obj"), allow_nan=False, separators=(",", ":"))
    metadata = {
        "format": _FORMAT,
        "structure": structure,
        "sha256": _digest(structure, encoder.arrays),
    }
    payload = safetensors_bytes(encoder.arrays, metadata=metadata)
    if isinstance(f, (str, os.PathLike)):
        _write_atomically(Path(f), payload)
    elif isinstance(f, io.TextIOBase):
        raise TypeError(f"nnlab.save: {_describe(f)} is open in text mode; open it with 'wb'")
    elif callable(getattr(f, "write", None)):
        f.write(payload)
    else:
        raise TypeError(
            f"nnlab.save: f must be a path or a binary file object, got {type(f).__name__}"
        )


def _check_map_location(map_location: Any) -> None:
    """nnlab tensors live on the CPU: accept None, "cpu" or device("cpu") only."""
    if map_location is None:
        return
    if not isinstance(map_location, (str, device)):
        raise TypeError(
            "nnlab.load: map_location must be None, 'cpu' or nnlab.device('cpu'), got "
            f"{type(map_location).__name__} (every nnlab tensor lives on the CPU, so there "
            "is nothing to remap)"
        )
    try:
        target = device(map_location)
    except RuntimeError:
        target = None
    if target is None or target.type != "cpu":
        raise ValueError(
            f"nnlab.load: map_location={str(map_location)!r} is not possible: nnlab runs on "
            "the CPU only; use map_location='cpu' (or leave it out)"
        )


def _read(f: Any, source: str) -> bytes:
    if isinstance(f, (str, os.PathLike)):
        path = Path(f)
        if path.is_dir():
            raise IsADirectoryError(f"nnlab.load: {path} is a folder, not a saved file")
        if not path.is_file():
            raise FileNotFoundError(f"nnlab.load: {path} does not exist")
        return path.read_bytes()
    if isinstance(f, io.TextIOBase):
        raise TypeError(f"nnlab.load: {source} is open in text mode; open it with 'rb'")
    if not callable(getattr(f, "read", None)):
        raise TypeError(
            f"nnlab.load: f must be a path or a binary file object, got {type(f).__name__}"
        )
    data = f.read()
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"nnlab.load: reading {source} gave {type(data).__name__}, not bytes")
    return bytes(data)


def _safetensors_header(data: bytes) -> dict[str, Any] | None:
    """The JSON header of safetensors bytes (an 8-byte length, then JSON), or None."""
    if len(data) < 8:
        return None
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        return None
    try:
        header = json.loads(data[8 : 8 + n])
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _metadata(data: bytes, source: str) -> dict[str, str]:
    """The metadata of a safetensors file, or a ValueError saying what the bytes are."""
    not_ours = f"nnlab.load: {source} is not a file written by nnlab.save"
    header = _safetensors_header(data)
    if header is None:
        # Only once the bytes are known not to be safetensors: a safetensors header whose
        # length is 640 also starts with 0x80 0x02, the mark of a pickle.
        if data[:4] == b"PK\x03\x04" or data[:2] == b"\x80\x02":
            raise ValueError(
                f"{not_ours}: it looks like a PyTorch pickle (torch.save). nnlab never "
                "unpickles (loading a pickle can run arbitrary code); in PyTorch, re-save the "
                "tensors with safetensors.torch.save_file(state_dict, 'weights.safetensors') "
                "and read them with nnlab.io.load_weights"
            )
        if len(data) < 8:
            raise ValueError(f"{not_ours} ({len(data)} bytes: empty or truncated)")
        (n,) = struct.unpack("<Q", data[:8])
        if n > len(data) - 8:
            raise ValueError(
                f"{not_ours}: it is not a safetensors file, or it is truncated (header of {n} "
                f"bytes announced, {len(data)} bytes in all)"
            )
        raise ValueError(f"{not_ours}: its header is not readable JSON")
    metadata = header.get("__metadata__") or {}
    kind = metadata.get("format") if isinstance(metadata, dict) else None
    if kind == _FORMAT:
        return metadata
    if kind == _CHECKPOINT_FORMAT:
        raise ValueError(
            f"{not_ours}: it is a training checkpoint; read it with nnlab.train.load_checkpoint"
        )
    raise ValueError(
        f"{not_ours}: it is a safetensors file of format {kind!r}; read plain weights with "
        "nnlab.io.load_weights"
    )


def load(f: File, map_location: Any = None, *, weights_only: bool | None = True) -> Any:
    """Load an object saved by :func:`save`, as PyTorch's ``load`` does.

    Loading never runs code: the file holds arrays and JSON, nothing else, so
    ``weights_only`` is accepted for PyTorch compatibility but is always effectively True
    (``weights_only=False`` loads the same thing, safely).

    Args:
        f: a path or a binary file object positioned at the start of the saved bytes.
        map_location: None, ``"cpu"`` or ``nnlab.device("cpu")``; anything else is refused
            (nnlab runs on the CPU).
        weights_only: accepted, see above.

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: naming the file, for a file that is not an nnlab save (a PyTorch
            pickle, another safetensors file, random bytes), is truncated, or fails the
            SHA-256 check (bytes altered).

    Example:
        >>> import io, nnlab
        >>> buf = io.BytesIO()
        >>> save({"step": 3, "betas": (0.9, 0.999), "w": nnlab.zeros(2)}, buf)
        >>> _ = buf.seek(0)
        >>> load(buf, map_location="cpu")
        {'step': 3, 'betas': (0.9, 0.999), 'w': tensor([0., 0.])}
    """
    _check_map_location(map_location)
    if weights_only not in (True, False, None):
        raise TypeError(f"nnlab.load: weights_only must be a bool, got {weights_only!r}")
    source = _describe(f)
    data = _read(f, source)
    metadata = _metadata(data, source)
    try:
        arrays = safetensors_arrays(data)
    except (SafetensorError, ValueError, KeyError) as exc:
        raise ValueError(
            f"nnlab.load: {source} is truncated or damaged (its tensors cannot be read: {exc})"
        ) from None
    structure = metadata.get("structure", "")
    if metadata.get("sha256") != _digest(structure, arrays):
        raise ValueError(
            f"nnlab.load: {source} is damaged: its contents fail the SHA-256 check (the bytes "
            "were altered after saving)"
        )
    decoder = _Decoder(arrays, source)
    try:
        return decoder.decode(json.loads(structure))
    except _Damaged:
        raise
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise decoder._broken(f"its structure cannot be read ({exc})") from None
