"""Loading weights into a model: read, rename, convert, load, all-or-nothing.

A pretrained checkpoint is a file of named arrays. To use it, each stored name must be
mapped onto a parameter or buffer of an nnlab model of the same architecture, each array
must have that tensor's shape, and its dtype is converted to the model's (float16 or
bfloat16 weights into a float32 model). :func:`load_into` does all three,
and when anything does not fit it raises ONE error listing every missing, unexpected and
mis-shaped tensor (name, shape in the model, shape in the file), before touching the
model; the copy itself is :meth:`nnlab.nn.Module.load_state_dict`'s.

Sources it reads:

- weights nnlab wrote (:func:`nnlab.io.save_weights`), their digest checked;
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
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nnlab.io.files import read_arrays
from nnlab.io.weights import _refuse_checkpoint

__all__ = [
    "Misfit", "NameMap", "load_into", "load_safetensors_into", "misfit_lines", "misfits",
    "read_safetensors",
]  # fmt: skip

#: A name map: a function (stored name -> model name, or None to skip the tensor) or a
#: dict {stored name: model name} (names not in it are kept as they are).
NameMap = Callable[[str], "str | None"] | Mapping[str, "str | None"]


def read_safetensors(
    path: str | os.PathLike[str], skip: Iterable[str] = ()
) -> dict[str, np.ndarray]:
    """Every array of a safetensors file as NumPy (bfloat16 as float32), except the names
    matching a ``skip`` pattern (``fnmatch`` style, e.g. ``"cls.*"``), which are not read.

    Raises:
        FileNotFoundError: no such file.
        CheckpointError: (a RuntimeError) the file is not readable safetensors, or fails
            the digest nnlab stored in it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"safetensors file {path} does not exist")
    return read_arrays(path, skip)[0]


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


class Misfit(NamedTuple):
    """One tensor that keeps a state from loading into a model."""

    kind: str  #: "missing" (in the model only), "unexpected" (in the state only), "mis-shaped"
    name: str
    model_shape: tuple[int, ...] | None
    state_shape: tuple[int, ...] | None


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(np.shape(getattr(value, "array", value)))


def misfits(
    model: Any, state: Mapping[str, Any], strict: bool = True, may_miss: Iterable[str] = ()
) -> list[Misfit]:
    """Every tensor of ``state`` (a ``{name: array or Tensor}``) that does not fit
    ``model``'s ``state_dict``: mis-shaped ones always, missing and unexpected ones when
    ``strict`` (names in ``may_miss``, e.g. frozen parameters, may be missing). Missing
    and mis-shaped tensors come in the model's order, unexpected ones after them.

    Example:
        >>> from nnlab import nn
        >>> found = misfits(nn.Linear(3, 2), {"weight": np.ones((2, 4)), "scale": np.ones(2)})
        >>> [(m.kind, m.name) for m in found]
        [('mis-shaped', 'weight'), ('missing', 'bias'), ('unexpected', 'scale')]
        >>> found[0]
        Misfit(kind='mis-shaped', name='weight', model_shape=(2, 3), state_shape=(2, 4))
    """
    own = {k: _shape(v) for k, v in model.state_dict().items()}
    allowed = set(may_miss)
    found = []
    for name, shape in own.items():
        if name not in state:
            if strict and name not in allowed:
                found.append(Misfit("missing", name, shape, None))
        elif _shape(state[name]) != shape:
            found.append(Misfit("mis-shaped", name, shape, _shape(state[name])))
    if strict:
        extra = (k for k in state if k not in own)
        found += [Misfit("unexpected", k, None, _shape(state[k])) for k in extra]
    return found


def misfit_lines(found: Iterable[Misfit]) -> list[str]:
    """One indented line per misfit, with the shapes involved (the error of :func:`load_into`
    and of ``BertModel.from_pretrained``)."""
    text = {
        "missing": "  missing:    {name}  (model {model_shape}; not in the file)",
        "mis-shaped": "  mis-shaped: {name}  (model {model_shape}, file {state_shape})",
        "unexpected": "  unexpected: {name}  (file {state_shape}; not in the model)",
    }
    return [text[m.kind].format(**m._asdict()) for m in found]


def load_into(
    model: Any,
    path: str | os.PathLike[str] | Mapping[str, Any],
    name_map: NameMap | None = None,
    strict: bool = True,
    skip: Iterable[str] = (),
    *,
    rename: NameMap | None = None,
) -> Any:
    """Load a safetensors file into ``model``'s parameters and buffers, in place.

    Steps: read every array with the NumPy API (names matching a ``skip`` pattern are not
    read; the digest of a file nnlab wrote is checked), translate names with ``name_map``,
    check that everything fits, all at once, then :meth:`~nnlab.nn.Module.load_state_dict`
    converts each array to the dtype of the tensor it fills.

    Args:
        model: an nnlab Module.
        path: a ``.safetensors`` file (or an already read ``{name: array}`` dict).
        name_map: a function from a stored name to the model's name (None: skip that
            tensor), or a dict {stored: model} (unlisted names unchanged), or None.
        strict: also refuse missing and unexpected tensors (default: True); shape
            mismatches are refused either way.
        skip: ``fnmatch`` patterns of stored names to ignore, e.g. ``("cls.*",)``.
        rename: the former name of ``name_map`` (give one of the two).

    Returns:
        ``(missing_keys, unexpected_keys)``, both empty after a strict load.

    Raises:
        RuntimeError: naming the file and listing every missing / unexpected tensor and
            every shape mismatch, one line each with its name and shapes (in the model, in
            the file); the model is then left unchanged.
        FileNotFoundError: no such file; CheckpointError (a RuntimeError): the file cannot
            be read, fails its digest, or is a training checkpoint.

    Example:
        >>> import tempfile, nnlab
        >>> from nnlab import nn
        >>> from safetensors.numpy import save_file
        >>> f = os.path.join(tempfile.mkdtemp(), "linear.safetensors")
        >>> half = {"0.weight": np.ones((2, 3), np.float16), "0.bias": np.zeros(2, np.float16)}
        >>> save_file(half, f)
        >>> model = nn.Sequential(nn.Linear(3, 2))
        >>> load_into(model, f)
        IncompatibleKeys(missing_keys=[], unexpected_keys=[])
        >>> model[0].weight.dtype
        nnlab.float32
        >>> load_into(nn.Sequential(nn.Linear(4, 2)), f)
        Traceback (most recent call last):
        ...
        RuntimeError: cannot load ... into Sequential: 1 tensor(s) do not fit
          mis-shaped: 0.weight  (model (2, 4), file (2, 3))
        Hint: ...
    """
    if rename is not None:
        if name_map is not None:
            raise TypeError("load_into: give name_map or its former name rename, not both")
        name_map = rename
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
        if not Path(path).is_file():
            raise FileNotFoundError(f"safetensors file {path} does not exist")
        arrays, metadata = read_arrays(path, skip)
        _refuse_checkpoint(Path(path), metadata)
    arrays = _rename(arrays, name_map)
    problems = misfit_lines(misfits(model, arrays, strict))
    if problems:
        raise RuntimeError(
            f"cannot load {where} into {type(model).__name__}: {len(problems)} tensor(s) do "
            "not fit\n" + "\n".join(problems) + "\nHint: is it the same architecture and "
            "size? Translate differing names with name_map, ignore extra tensors with "
            "skip=(pattern, ...), or pass strict=False to accept missing and unexpected ones."
        )
    return model.load_state_dict(arrays, strict=strict)


#: The name this function had in ``nnlab.hub``.
load_safetensors_into = load_into
