"""safetensors files, safely: written atomically, read by one reader, checked by a digest.

Every file nnlab writes (weights, checkpoints, run files) goes through
:func:`atomic_write_bytes`: to a temporary file in the same folder, flushed to disk, then
renamed over the target, so an interrupted save never leaves a broken file and a failed
one never damages the file that was there.

Every safetensors file nnlab reads (weights, checkpoints, pretrained models) goes through
:func:`read_arrays`. safetensors stores named arrays after a JSON header and nothing
executable, so reading a file can never run code (unlike pickle). NumPy has no bfloat16,
so those arrays arrive as float32 (exactly: bfloat16 is the top half of a float32).

Files nnlab writes carry :func:`array_digest` of their arrays in the metadata
(``"sha256"``); the reader checks it, so a flipped bit is an error, not a slightly
different model. Files from elsewhere (no digest) are read unchecked.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import struct
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError, safe_open

__all__ = ["CheckpointError", "array_digest", "atomic_write_bytes", "read_arrays"]


class CheckpointError(RuntimeError):
    """A checkpoint or weights file is missing, truncated, corrupted or of the wrong kind."""


def atomic_write_bytes(path: str | os.PathLike[str], writer: Callable[[str], Any]) -> None:
    """Call ``writer(tmp_path)`` then move the finished file onto ``path`` atomically
    (missing folders are created; on any failure the temporary file is removed and
    ``path`` is left as it was)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def array_digest(arrays: Mapping[str, np.ndarray]) -> str:
    """SHA-256 over every array's name, dtype, shape and bytes, in name order."""
    h = hashlib.sha256()
    for key in sorted(arrays):
        a = arrays[key]
        h.update(key.encode())
        h.update(str(a.dtype).encode() + str(a.shape).encode())
        h.update(np.asarray(a, order="C").tobytes())
    return h.hexdigest()


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


def read_arrays(
    path: str | os.PathLike[str], skip: Iterable[str] = (), what: str = ""
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The arrays and the metadata of an existing safetensors file.

    Names matching a ``skip`` pattern (``fnmatch`` style, e.g. ``"cls.*"``) are not read;
    the digest is checked only when every array was read. ``what`` (e.g. ``"weights
    file "``) starts the error messages.

    Raises:
        CheckpointError: the file cannot be read as safetensors (truncated, corrupted, not
            safetensors), or its arrays fail the digest stored in it.
    """
    path = Path(path)
    patterns = tuple(skip)
    arrays: dict[str, np.ndarray] = {}
    bf16: list[str] = []
    skipped = False
    try:
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            for name in f.keys():
                if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                    skipped = True
                elif f.get_slice(name).get_dtype() == "BF16":
                    bf16.append(name)
                else:
                    arrays[name] = f.get_tensor(name)
        arrays.update(_read_bfloat16(path, bf16))
    except (SafetensorError, OSError, ValueError, KeyError, struct.error) as exc:
        raise CheckpointError(
            f"{what}{path} cannot be read as safetensors (truncated or corrupted?): {exc}"
        ) from None
    if not skipped and "sha256" in metadata and array_digest(arrays) != metadata["sha256"]:
        raise CheckpointError(
            f"{what}{path} is corrupted: its arrays fail the SHA-256 check stored in the file"
        )
    return arrays, metadata
