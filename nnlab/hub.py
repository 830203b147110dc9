"""Pretrained weights from safetensors files: read, rename, convert, load, all-or-nothing.

A pretrained checkpoint is a file of named arrays. To use it, each stored name must be
mapped onto a parameter or buffer of an nnlab model of the same architecture, each array
must have that tensor's shape, and its dtype is converted to the model's (float16 or
bfloat16 weights into a float32 model). :func:`load_safetensors_into` does all three,
and when anything does not fit it raises ONE error listing every missing, unexpected and
mis-shaped tensor (name, shape in the model, shape in the file), before touching the
model; the copy itself is :meth:`nnlab.nn.Module.load_state_dict`'s.

Sources it reads:

- Hugging Face checkpoints (``model.safetensors``), with a ``name_map`` translating
  their names (e.g. :func:`nnlab.models.bert.hf_bert_name`);
- weights exported from PyTorch with ``safetensors.torch.save_file(model.state_dict(),
  path)``: nnlab layers use torch's names and layouts, so the nnlab twin of a torch
  model loads them with no map at all.

Only the ``safetensors`` library's NumPy API is used (no torch). safetensors files hold
a JSON header and raw little-endian arrays, nothing executable (unlike pickle).
"""

from __future__ import annotations

import fnmatch
import json
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["load_safetensors_into", "read_safetensors", "NameMap"]

#: A name map: a function (stored name -> model name, or None to skip the tensor) or a
#: dict {stored name: model name} (names not in it are kept as they are).
NameMap = Callable[[str], "str | None"] | Mapping[str, "str | None"]


def _bfloat16_to_float32(raw: bytes, shape: list[int]) -> np.ndarray:
    """bfloat16 is the top half of a float32: shift the 16 bits back into place."""
    bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
    return bits.view(np.float32).reshape(shape)


def _read_bfloat16(path: Path, names: Iterable[str]) -> dict[str, np.ndarray]:
    """NumPy has no bfloat16, so safetensors' NumPy API cannot return it: read the raw
    bytes (header: an 8-byte little-endian length, then JSON with byte offsets)."""
    out = {}
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        for name in names:
            start, end = header[name]["data_offsets"]
            f.seek(8 + n + start)
            out[name] = _bfloat16_to_float32(f.read(end - start), header[name]["shape"])
    return out


def read_safetensors(
    path: str | os.PathLike[str], skip: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Every array of a safetensors file as NumPy (bfloat16 as float32), except the names
    matching a ``skip`` pattern (``fnmatch`` style, e.g. ``"cls.*"``), which are not read."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"safetensors file {path} does not exist")
    patterns = tuple(skip)
    arrays: dict[str, np.ndarray] = {}
    bf16: list[str] = []
    try:
        with safe_open(path, framework="numpy") as f:
            for name in f.keys():
                if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                    continue
                if f.get_slice(name).get_dtype() == "BF16":
                    bf16.append(name)
                else:
                    arrays[name] = f.get_tensor(name)
    except (SafetensorError, OSError, ValueError) as exc:
        raise RuntimeError(f"{path} cannot be read as safetensors (corrupted?): {exc}") from None
    arrays.update(_read_bfloat16(path, bf16))
    return arrays


def _rename(arrays: dict[str, np.ndarray], name_map: NameMap | None) -> dict[str, np.ndarray]:
    if name_map is None:
        return arrays
    lookup = name_map.get if isinstance(name_map, Mapping) else None
    renamed: dict[str, np.ndarray] = {}
    source: dict[str, str] = {}
    for name, value in arrays.items():
        new = lookup(name, name) if lookup is not None else name_map(name)
        if new is None:
            continue
        if new in renamed:
            raise ValueError(
                f"name_map sends both {source[new]!r} and {name!r} to {new!r}; each model "
                "tensor can receive only one stored tensor"
            )
        renamed[new], source[new] = value, name
    return renamed


def load_safetensors_into(
    model: Any,
    path: str | os.PathLike[str] | Mapping[str, Any],
    name_map: NameMap | None = None,
    strict: bool = True,
    skip: Iterable[str] = (),
) -> Any:
    """Load a safetensors file into ``model``'s parameters and buffers, in place.

    Steps: read every array with the NumPy API (names matching a ``skip`` pattern are not
    read), translate names with ``name_map``, then :meth:`~nnlab.nn.Module.load_state_dict`
    checks everything at once and converts each array to the dtype of the tensor it fills.

    Args:
        model: an nnlab Module.
        path: a ``.safetensors`` file (or an already read ``{name: array}`` dict).
        name_map: a function from a stored name to the model's name (None: skip that
            tensor), or a dict {stored: model} (unlisted names unchanged), or None.
        strict: also refuse missing and unexpected tensors (default: True); shape
            mismatches are refused either way.
        skip: ``fnmatch`` patterns of stored names to ignore, e.g. ``("cls.*",)``.

    Returns:
        ``(missing_keys, unexpected_keys)``, both empty after a strict load.

    Raises:
        RuntimeError: naming the file and listing every missing / unexpected tensor and
            every shape mismatch, one line each with its name and shapes (in the model, in
            the file); the model is then left unchanged.

    Example:
        >>> import tempfile, nnlab
        >>> from nnlab import nn
        >>> from safetensors.numpy import save_file
        >>> f = os.path.join(tempfile.mkdtemp(), "linear.safetensors")
        >>> half = {"0.weight": np.ones((2, 3), np.float16), "0.bias": np.zeros(2, np.float16)}
        >>> save_file(half, f)
        >>> model = nn.Sequential(nn.Linear(3, 2))
        >>> load_safetensors_into(model, f)
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> model[0].weight.dtype
        nnlab.float32
        >>> load_safetensors_into(nn.Sequential(nn.Linear(4, 2)), f)
        Traceback (most recent call last):
        ...
        RuntimeError: cannot load ... into Sequential: 1 tensor(s) do not fit
          mis-shaped: 0.weight  (model (2, 4), file (2, 3))
        Hint: ...
    """
    if isinstance(path, Mapping):
        where = "the given state dict"
        patterns = tuple(skip)
        arrays = {
            k: np.asarray(getattr(v, "array", v))
            for k, v in path.items()
            if not any(fnmatch.fnmatchcase(k, p) for p in patterns)
        }
    else:
        where = str(path)
        arrays = read_safetensors(path, skip)
    arrays = _rename(arrays, name_map)
    problems = _problems(model, arrays, strict)
    if problems:
        raise RuntimeError(
            f"cannot load {where} into {type(model).__name__}: {len(problems)} tensor(s) do "
            "not fit\n" + "\n".join(problems) + "\nHint: is it the same architecture and "
            "size? Translate differing names with name_map, ignore extra tensors with "
            "skip=(pattern, ...), or pass strict=False to accept missing and unexpected ones."
        )
    return model.load_state_dict(arrays, strict=strict)


def _problems(model: Any, arrays: Mapping[str, np.ndarray], strict: bool) -> list[str]:
    """One line per tensor that does not fit: missing and unexpected (when ``strict``),
    mis-shaped (always), each with the shapes involved."""
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    lines = []
    for name, shape in own.items():
        if name not in arrays:
            if strict:
                lines.append(f"  missing:    {name}  (model {shape}; not in the file)")
        elif tuple(arrays[name].shape) != shape:
            got = tuple(arrays[name].shape)
            lines.append(f"  mis-shaped: {name}  (model {shape}, file {got})")
    if strict:
        for name, value in arrays.items():
            if name not in own:
                lines.append(f"  unexpected: {name}  (file {tuple(value.shape)}; not in the model)")
    return lines
