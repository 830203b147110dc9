"""Model weights in safetensors files: save, load, and load with renamed keys.

safetensors stores named arrays with a JSON header and nothing executable, so loading
weights can never run code (unlike pickle). A file exported from a PyTorch model
(``safetensors.torch.save_file(model.state_dict(), path)``) loads into the nnlab twin
of that model, since both use the same key names and layouts.

Files written by :func:`save_weights` carry a SHA-256 digest of their arrays in the
metadata, checked by :func:`load_weights`: a flipped bit is an error, not a slightly
different model. Files from elsewhere (no digest) load unchecked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from nnlab.tensor import Tensor
from nnlab.train.checkpoint import CheckpointError, array_digest, atomic_write_bytes

__all__ = ["save_weights", "load_weights", "load_into"]


def save_weights(model_or_state: Any, path: str | os.PathLike[str]) -> Path:
    """Write a model's ``state_dict`` (or any ``{name: array}``) to a safetensors file,
    atomically, with the SHA-256 digest of its arrays in the metadata."""
    state = model_or_state.state_dict() if hasattr(model_or_state, "state_dict") else model_or_state
    arrays = {
        k: np.asarray(v.array if isinstance(v, Tensor) else v, order="C") for k, v in state.items()
    }
    path = Path(path)
    metadata = {"format": "nnlab-weights", "sha256": array_digest(arrays)}
    atomic_write_bytes(path, lambda tmp: save_file(arrays, tmp, metadata=metadata))
    return path


def load_weights(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array of a safetensors file (a clear error for a missing or broken file,
    or one whose arrays fail the digest :func:`save_weights` stored)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    try:
        from safetensors import safe_open

        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
        if str(metadata.get("format", "")).startswith("nnlab-checkpoint"):
            raise CheckpointError(
                f"{path} is a training checkpoint, not a weights file: load it with "
                "nnlab.train.load_checkpoint(path)['model'] (or Trainer.load to resume)"
            )
        arrays = dict(load_file(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"weights file {path} cannot be read (truncated or corrupted?): {exc}"
        ) from None
    if "sha256" in metadata and array_digest(arrays) != metadata["sha256"]:
        raise CheckpointError(
            f"weights file {path} is corrupted: its arrays fail the SHA-256 check stored "
            "in the file"
        )
    return arrays


def load_into(
    model: Any,
    path: str | os.PathLike[str] | Mapping[str, Any],
    rename: Callable[[str], str | None] | None = None,
    strict: bool = True,
) -> Any:
    """Load a safetensors file (or a dict of arrays) into ``model``.

    ``rename`` maps each stored name to the model's name (return None to skip a tensor),
    e.g. to import weights whose naming differs from nnlab's. Missing, unexpected and
    mis-shaped tensors are reported together by ``load_state_dict``.
    """
    arrays = load_weights(path) if not isinstance(path, Mapping) else dict(path)
    if rename is not None:
        renamed = {}
        for name, value in arrays.items():
            new = rename(name)
            if new is not None:
                renamed[new] = value
        arrays = renamed
    return model.load_state_dict(arrays, strict=strict)
