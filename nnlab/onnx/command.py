"""``nnlab export RUN --format onnx``: a finished run's model as ``model.onnx``.

The file is written only after onnxruntime, running it, reproduces nnlab's outputs on
example rows at two batch sizes (the batch dim is dynamic). The graph takes the model's
inputs, i.e. rows already scaled and laid out as in training: the file's metadata holds
the run's ``preprocessing.json`` (scaler statistics, input shape) to do that.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnx import ModelProto, helper

import nnlab
from nnlab.io import atomic_write_bytes
from nnlab.models.registry import model_entry
from nnlab.nn import Module
from nnlab.onnx.converters import UnsupportedModuleError
from nnlab.onnx.exporter import export
from nnlab.runner.inference import load_run

__all__ = ["ExportError", "export_command"]

_CHECK_BATCHES = (1, 5)  # two sizes, so a batch dim frozen by mistake would show
_RTOL, _ATOL = 1e-4, 1e-4  # float32 rounding of two summation orders, well above it


class ExportError(ValueError):
    """A run that cannot be exported, or whose export does not reproduce nnlab's outputs."""


def _example_rows(shape: tuple[int, ...], n: int, seed: int) -> np.ndarray:
    """Standard normal rows: the check compares two implementations of one function, so
    any input in the model's domain serves."""
    return np.random.default_rng(seed).standard_normal((n, *shape)).astype(np.float32)


def _check_against_nnlab(proto: ModelProto, model: Module, shape: tuple, run: Path):
    """onnxruntime's outputs equal nnlab's within float32 tolerance at each check batch."""
    session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for seed, n in enumerate(_CHECK_BATCHES):
        x = _example_rows(shape, n, seed)
        (got,) = session.run(None, {name: x})
        with nnlab.no_grad():
            want = model(nnlab.tensor(x)).numpy()
        if got.shape != want.shape or not np.allclose(got, want, rtol=_RTOL, atol=_ATOL):
            diff = np.abs(got - want).max() if got.shape == want.shape else "shape"
            raise ExportError(
                f"{run}: onnxruntime's output differs from nnlab's (batch of {n}: "
                f"{got.shape} vs {want.shape}, largest difference {diff}); not written"
            )


def export_command(
    run: Path, format: str = "onnx", out: Path | None = None, overwrite: bool = False
) -> Path:
    """Export the kept model of the run folder ``run`` to ``out`` (default
    ``run/model.onnx``), check it with onnx.checker and onnxruntime against nnlab's
    outputs, and return the file's path. An existing file is replaced only with
    ``overwrite``; the write is atomic.

    Raises:
        ExportError: an unknown format, a run kind with no single forward pass (generation,
            own training loops, text runs) or a model with an unsupported module.
        FileExistsError: ``out`` exists and ``overwrite`` is False.
    """
    run = Path(run)
    if format != "onnx":
        raise ExportError(f"--format must be 'onnx', got {format!r}")
    dest = Path(out) if out is not None else run / "model.onnx"
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest} exists; pass --overwrite to replace it")
    cfg, model, prep = load_run(run)
    entry = model_entry(cfg.model.type)
    if entry.loop is not None or entry.own_fit:
        raise ExportError(
            f"{run}: a {cfg.model.type!r} run ({cfg.task}) runs its own loop rather than one "
            "forward pass per input; only runs trained by the general loop export to ONNX"
        )
    if cfg.data_input() in ("tokens", "token_pairs"):
        raise ExportError(
            f"{run}: a text run's model reads token ids from its tokenizer, which ONNX "
            "cannot hold; only numeric and image runs export"
        )
    shape = tuple(int(s) for s in prep["input_shape"])
    try:
        proto = export(model, _example_rows(shape, 2, 0), None)
    except UnsupportedModuleError as exc:
        raise ExportError(f"{run}: the {cfg.model.type!r} model does not export: {exc}") from None
    helper.set_model_props(proto, {"nnlab.run": run.name, "nnlab.task": cfg.task,
                                   "nnlab.preprocessing": json.dumps(prep)})  # fmt: skip
    _check_against_nnlab(proto, model, shape, run)
    data = proto.SerializeToString()
    atomic_write_bytes(dest, lambda tmp: Path(tmp).write_bytes(data))
    return dest
