"""Saving and loading weights, one package:

- :mod:`nnlab.io.files`: the atomic writer every saved file goes through, the one
  safetensors reader (bfloat16 included) and the SHA-256 digest of a file's arrays;
- :mod:`nnlab.io.weights`: a model's weights to and from a file (:func:`save_weights`,
  :func:`load_weights`), digest-checked;
- :mod:`nnlab.io.loading`: :func:`load_into`, weights from any safetensors file (nnlab's,
  PyTorch's, Hugging Face's) into a model, with renamed keys and ONE error listing every
  missing, unexpected and mis-shaped tensor.

Training checkpoints (the optimizer's state too) are :mod:`nnlab.train.checkpoint`'s, and
``nnlab.save`` / ``nnlab.load`` (any nesting of tensors, as ``torch.save``) are
:mod:`nnlab.serialization`'s; checkpoints are written through :func:`atomic_write_bytes`
and read through :func:`read_arrays` too.
"""

from nnlab.io.files import CheckpointError, array_digest, atomic_write_bytes, read_arrays
from nnlab.io.loading import (
    Misfit,
    NameMap,
    load_into,
    load_safetensors_into,
    misfit_lines,
    misfits,
    read_safetensors,
)
from nnlab.io.weights import load_weights, save_weights

__all__ = [
    "CheckpointError", "Misfit", "NameMap", "array_digest", "atomic_write_bytes", "load_into",
    "load_safetensors_into", "load_weights", "misfit_lines", "misfits", "read_arrays",
    "read_safetensors", "save_weights",
]  # fmt: skip
