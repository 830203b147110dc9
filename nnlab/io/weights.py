"""Model weights in safetensors files: :func:`save_weights` and :func:`load_weights`.

A weights file holds one ``{name: array}`` table, a model's ``state_dict``, and in its
metadata ``"format": "nnlab-weights"`` and the SHA-256 digest of its arrays
(:func:`~nnlab.io.files.array_digest`), checked on every load. A file exported from a
PyTorch model (``safetensors.torch.save_file(model.state_dict(), path)``) loads into the
nnlab twin of that model, since both use the same key names and layouts; it has no
digest and loads unchecked. To load straight into a model, with renamed keys and one
error for everything that does not fit, use :func:`nnlab.io.load_into`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file

from nnlab.io.files import CheckpointError, array_digest, atomic_write_bytes, read_arrays
from nnlab.tensor import Tensor

__all__ = ["save_weights", "load_weights"]


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


def _refuse_checkpoint(path: Path, metadata: dict[str, str]) -> None:
    """A training checkpoint is not a weights file: say how to get the weights out of it."""
    if str(metadata.get("format", "")).startswith("nnlab-checkpoint"):
        raise CheckpointError(
            f"{path} is a training checkpoint, not a weights file: load it with "
            "nnlab.train.load_checkpoint(path)['model'] (or Trainer.load to resume)"
        )


def load_weights(path: str | os.PathLike[str]) -> dict[str, np.ndarray]:
    """Read every array of a safetensors file (a clear error for a missing or broken file,
    or one whose arrays fail the digest :func:`save_weights` stored).

    Raises:
        CheckpointError: the file does not exist, cannot be read, fails its digest or is a
            training checkpoint (with the call that reads it).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {path} does not exist")
    arrays, metadata = read_arrays(path, what="weights file ")
    _refuse_checkpoint(path, metadata)
    return arrays
