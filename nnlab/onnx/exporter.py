"""``export``: an nnlab model to an ONNX file that onnxruntime (or any ONNX runtime) runs.

nnlab has no tracer, so the exporter walks the module tree instead: a
:class:`~nnlab.nn.Sequential` (or a subclass that keeps its forward, such as ``MLP`` and
``LeNet5``) becomes its children's nodes in order, and every other module is converted by
its entry in :data:`nnlab.onnx.converters.CONVERTERS` (layers, activations, pooling),
:mod:`nnlab.onnx.recurrent` (``RecurrentClassifier``) or :mod:`nnlab.onnx.transformer`
(the encoder). The example input runs through the model alongside, module by module, so
each converter knows its input's rank and sizes and the graph's output shape is the
model's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import onnx
from onnx import ModelProto, helper

import nnlab
from nnlab.io import atomic_write_bytes
from nnlab.nn import Module, Sequential
from nnlab.onnx.converters import CONVERTERS, Converter, UnsupportedModuleError
from nnlab.onnx.graph import GraphBuilder
from nnlab.onnx.recurrent import RECURRENT_CONVERTERS
from nnlab.onnx.transformer import TRANSFORMER_CONVERTERS
from nnlab.tensor import Tensor

__all__ = ["export"]

_CONVERTERS: dict[type, Converter] = {
    **CONVERTERS,
    **RECURRENT_CONVERTERS,
    **TRANSFORMER_CONVERTERS,
}
_MIN_OPSET = 17  # LayerNormalization arrived in opset 17
DynamicAxes = Mapping[str, Mapping[int, str] | Sequence[int]]


def _converter(module: Module, path: str) -> Converter:
    """The converter registered for the module's class or the nearest base class whose
    forward it keeps (a subclass that overrides forward computes something else)."""
    for cls in type(module).__mro__:
        if cls in _CONVERTERS and type(module).forward is cls.forward:
            return _CONVERTERS[cls]
    supported = ", ".join(sorted({c.__name__ for c in _CONVERTERS} | {"Sequential"}))
    raise UnsupportedModuleError(path, module, f"no ONNX conversion; supported: {supported}")


def _convert(
    g: GraphBuilder, module: Module, x: str, path: str, example: Tensor
) -> tuple[str, Tensor]:
    """Add the module's nodes; return the output's name and the example's output."""
    if isinstance(module, Sequential) and type(module).forward is Sequential.forward:
        for name, child in module.named_children():
            x, example = _convert(g, child, x, f"{path}.{name}" if path else name, example)
        return x, example
    out = _converter(module, path)(g, module, x, path, example)
    return out, module(example)


def _value_info(name: str, array: np.ndarray, dynamic: Mapping[int, str]) -> Any:
    """A graph input's or output's type: dtype and shape, dims in ``dynamic`` symbolic."""
    shape = [dynamic.get(i, int(s)) for i, s in enumerate(array.shape)]
    elem = helper.np_dtype_to_tensor_dtype(array.dtype)
    return helper.make_tensor_value_info(name, elem, shape)


def _dynamic(name: str, dynamic_axes: DynamicAxes | None) -> dict[int, str]:
    """torch's dynamic_axes for one value: {dim: name} or a list of dims (named
    ``{value}_dynamic_axes_{k}`` as torch does). None (nnlab's default) makes dim 0 a
    dynamic "batch"."""
    if dynamic_axes is None:
        return {0: "batch"}
    axes = dynamic_axes.get(name, {})
    if isinstance(axes, Mapping):
        return {int(k): str(v) for k, v in axes.items()}
    return {int(k): f"{name}_dynamic_axes_{i + 1}" for i, k in enumerate(axes)}


def _example_input(args: Any) -> Tensor:
    """The one example input of a Sequential model: a tensor, an array, or a 1-tuple."""
    if isinstance(args, tuple):
        if len(args) != 1:
            raise ValueError(
                f"export: args holds {len(args)} inputs; the exported models (Sequential "
                "chains) take exactly one"
            )
        args = args[0]
    if isinstance(args, Tensor):
        return args.detach()
    if isinstance(args, np.ndarray):
        return nnlab.tensor(args)
    raise TypeError(f"export: args must be a Tensor, a NumPy array or a 1-tuple, got {args!r}")


def _write(proto: ModelProto, f: str | os.PathLike[str] | IO[bytes]) -> None:
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        atomic_write_bytes(f, lambda tmp: Path(tmp).write_bytes(data))
    else:
        f.write(data)


def export(
    model: Module,
    args: Any,
    f: str | os.PathLike[str] | IO[bytes] | None,
    input_names: Sequence[str] | None = None,
    output_names: Sequence[str] | None = None,
    dynamic_axes: DynamicAxes | None = None,
    opset_version: int = _MIN_OPSET,
) -> ModelProto:
    """Export ``model`` (in eval mode) to ONNX, write it to ``f`` and return the model.

    Arguments are torch.onnx.export's: ``args`` the example input, ``f`` a path or a
    binary file (None: only return the ``ModelProto``), ``input_names`` /
    ``output_names`` (default "input" / "output"), ``dynamic_axes`` ({value name: {dim:
    symbolic name}} or {name: [dims]}). Unlike torch, ``dynamic_axes=None`` makes the
    batch dim (0) of the input and output dynamic, so one file serves every batch size;
    pass ``{}`` for fully static shapes. The graph is checked with ``onnx.checker``.

    Raises:
        UnsupportedModuleError: a module (named by its path in the model and its type)
            with no ONNX conversion, or a setting of one that ONNX cannot express.
    """
    if opset_version < _MIN_OPSET:
        raise ValueError(
            f"export: opset_version must be at least {_MIN_OPSET} (LayerNormalization), "
            f"got {opset_version}"
        )
    example = _example_input(args)
    input_name = (input_names or ["input"])[0]
    output_name = (output_names or ["output"])[0]
    was_training = model.training
    model.eval()
    try:
        with nnlab.no_grad():
            g = GraphBuilder()
            g.unique(input_name)
            out, result = _convert(g, model, input_name, "", example)
    finally:
        model.train(was_training)
    if out == input_name:  # a model without nodes: the output is a copy of the input
        out = g.node("Identity", [out], "")
    g.nodes[-1].output[0] = output_name  # the last node makes the output: give it its name
    graph = helper.make_graph(
        g.nodes, "nnlab_" + type(model).__name__,
        [_value_info(input_name, example.numpy(), _dynamic(input_name, dynamic_axes))],
        [_value_info(output_name, result.numpy(), _dynamic(output_name, dynamic_axes))],
        initializer=g.initializers,
    )  # fmt: skip
    proto = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset_version)], producer_name="nnlab",
        producer_version=nnlab.__version__,
    )  # fmt: skip
    onnx.checker.check_model(proto, full_check=True)
    if f is not None:
        _write(proto, f)
    return proto
