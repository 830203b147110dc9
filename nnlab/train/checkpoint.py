"""Checkpoints: everything needed to resume training, in one safetensors file.

A checkpoint holds the model's ``state_dict``, the optimizer's and scheduler's state,
the random generators' states, the epoch counter and anything else the loop wants to
keep. Arrays go into the safetensors tensor table (never pickle: loading a checkpoint
cannot run code); everything else goes into the file's JSON metadata. Two SHA-256
digests, of the array bytes (``sha256``) and of the metadata's JSON text
(``state_sha256``: the epoch, optimizer settings, history...), are checked on every load,
so a corrupted or edited file is refused, not half-loaded or silently trained over. A
checkpoint written before ``state_sha256`` existed still loads, with an
:class:`UnverifiedCheckpointWarning`.

Files are written atomically (:func:`nnlab.io.atomic_write_bytes`: to a temporary file in
the same folder, flushed to disk, then renamed over the target), so an interrupted save
never leaves a broken checkpoint, and read by :func:`nnlab.io.read_arrays`, which checks
the array digest.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from nnlab.io.files import CheckpointError, array_digest, atomic_write_bytes, read_arrays
from nnlab.io.loading import misfits
from nnlab.tensor import Tensor

__all__ = [
    "CheckpointError", "UnverifiedCheckpointWarning", "save_checkpoint", "load_checkpoint",
    "pack_state", "unpack_state", "frozen_parameter_names", "state_without_frozen",
    "load_state_without_frozen", "state_mismatch", "load_model_state", "array_digest",
]  # fmt: skip

_FORMAT = "nnlab-checkpoint-1"


class UnverifiedCheckpointWarning(UserWarning):
    """A file was loaded without a digest to check it against (written by an older nnlab)."""


def pack_state(obj: Any, arrays: dict[str, np.ndarray], prefix: str) -> Any:
    """Split a nested state (dicts, lists, numbers, arrays, Tensors) into a JSON-able
    skeleton and a flat ``{key: array}`` table; arrays are replaced by ``{"@array": key}``."""
    if isinstance(obj, Tensor):
        obj = obj.array
    if isinstance(obj, np.ndarray):
        arrays[prefix] = np.asarray(obj, order="C")
        return {"@array": prefix}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        if all(isinstance(k, str) for k in obj):
            return {k: pack_state(v, arrays, f"{prefix}.{k}") for k, v in obj.items()}
        # Non-string keys (an optimizer's per-parameter state is keyed by index) survive
        # JSON as a list of pairs.
        return {"@items": [[k, pack_state(v, arrays, f"{prefix}.{k}")] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        packed = [pack_state(v, arrays, f"{prefix}.{i}") for i, v in enumerate(obj)]
        return {"@tuple": packed} if isinstance(obj, tuple) else packed
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} at {prefix!r} in a checkpoint")


def unpack_state(obj: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    """Inverse of :func:`pack_state`."""
    if isinstance(obj, dict):
        if "@array" in obj:
            return arrays[obj["@array"]]
        if "@items" in obj:
            return {k: unpack_state(v, arrays) for k, v in obj["@items"]}
        if "@tuple" in obj:
            return tuple(unpack_state(v, arrays) for v in obj["@tuple"])
        return {k: unpack_state(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unpack_state(v, arrays) for v in obj]
    return obj


def save_checkpoint(path: str | os.PathLike[str], state: Mapping[str, Any]) -> Path:
    """Write ``state`` (a dict such as ``{"model": model.state_dict(), "optimizer": ...,
    "epoch": 5}``) to ``path`` atomically. Returns the path."""
    arrays: dict[str, np.ndarray] = {}
    skeleton = pack_state(dict(state), arrays, "state")
    text = json.dumps(skeleton)
    metadata = {
        "format": _FORMAT,
        "state": text,
        "sha256": array_digest(arrays),
        "state_sha256": hashlib.sha256(text.encode()).hexdigest(),
    }
    path = Path(path)
    atomic_write_bytes(path, lambda tmp: save_file(arrays, tmp, metadata=metadata))
    return path


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save_checkpoint`, verifying its digest.

    Raises :class:`CheckpointError` with the file name and what is wrong for a missing,
    truncated, corrupted or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    arrays, metadata = read_arrays(path, what="checkpoint ")
    if metadata.get("format") != _FORMAT:
        raise CheckpointError(
            f"{path} is a safetensors file but not an nnlab checkpoint "
            f"(format {metadata.get('format')!r}); load plain weights with "
            "nnlab.io.load_weights instead"
        )
    if "sha256" not in metadata:  # (read_arrays checked the digest where there is one)
        raise CheckpointError(f"checkpoint {path} is corrupted: its arrays fail the SHA-256 check")
    text = metadata.get("state", "")
    if "state_sha256" not in metadata:
        warnings.warn(
            f"checkpoint {path} was written by an older nnlab: its metadata (epoch, optimizer "
            "and scheduler settings, history) is not covered by a digest and is unverified",
            UnverifiedCheckpointWarning,
            stacklevel=2,
        )
    elif hashlib.sha256(text.encode()).hexdigest() != metadata["state_sha256"]:
        raise CheckpointError(
            f"checkpoint {path} is corrupted or was edited: its metadata (epoch, optimizer "
            "state, history) fails the SHA-256 check; resume from another checkpoint or "
            "train again"
        )
    try:
        skeleton = json.loads(metadata["state"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path} has unreadable metadata: {exc}") from None
    return unpack_state(skeleton, arrays)


# -- models with a frozen pretrained part -------------------------------------------------


def frozen_parameter_names(model: Any) -> set[str]:
    """Names (``state_dict`` keys) of the parameters that do not require a gradient."""
    return {name for name, p in model.named_parameters() if not p.requires_grad}


def state_without_frozen(model: Any) -> dict[str, Any]:
    """``model.state_dict()`` without its frozen parameters.

    For a model whose frozen part is rebuilt identically by its constructor (a pretrained
    encoder read from its package), checkpoints then hold only what training changes:
    the MiniLM sentiment classifier's shrink from 90 MB to under 1 MB."""
    frozen = frozen_parameter_names(model)
    return {k: v for k, v in model.state_dict().items() if k not in frozen}


def state_mismatch(model: Any, state: Mapping[str, Any], skip_frozen: bool = False) -> str:
    """What keeps ``state`` from loading into ``model`` (:func:`nnlab.io.misfits`), all in
    one line: missing keys, unexpected keys and mis-shaped tensors with both shapes; ""
    when it fits. With ``skip_frozen`` the model's frozen parameters may be missing."""
    frozen = frozen_parameter_names(model) if skip_frozen else set()
    found = misfits(model, state, strict=True, may_miss=frozen)
    missing = [m.name for m in found if m.kind == "missing"]
    unexpected = [m.name for m in found if m.kind == "unexpected"]
    shapes = [
        f"{m.name} {m.state_shape} in the file, {m.model_shape} in the model"
        for m in found
        if m.kind == "mis-shaped"
    ]
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} ({', '.join(missing)})")
    if unexpected:
        parts.append(f"unexpected {len(unexpected)} ({', '.join(unexpected)})")
    if shapes:
        parts.append(f"mis-shaped {len(shapes)} ({'; '.join(shapes)})")
    return "; ".join(parts)


def load_model_state(
    model: Any, state: Mapping[str, Any], source: str, skip_frozen: bool = False, hint: str = ""
) -> None:
    """Load ``state`` into ``model`` or raise one :class:`CheckpointError` that names
    ``source`` and every missing, unexpected and mis-shaped tensor (``hint``: what to do)."""
    problems = state_mismatch(model, state, skip_frozen)
    if problems:
        frozen = " (frozen parameters may be left out, no others)" if skip_frozen else ""
        raise CheckpointError(
            f"{source} does not fit the model {type(model).__name__}{frozen}: {problems}"
            + (f". {hint}" if hint else "")
        )
    model.load_state_dict(state, strict=not skip_frozen)


def load_state_without_frozen(model: Any, state: Mapping[str, Any], source: str) -> None:
    """Load a state written by :func:`state_without_frozen`: every key but the frozen
    parameters must be there, and nothing else; ``source`` names the file in the error."""
    load_model_state(model, state, source, skip_frozen=True)
