"""ONNX export: nnlab models as ONNX graphs that onnxruntime (or any ONNX runtime) runs.

- :mod:`nnlab.onnx.exporter`: :func:`export` with torch.onnx.export's arguments, a
  dynamic batch dim by default;
- :mod:`nnlab.onnx.converters`: the ONNX nodes of each supported layer type;
- :mod:`nnlab.onnx.recurrent`: RNN / LSTM / GRU (gate order and biases repacked) and the
  recurrent classifier on signals;
- :mod:`nnlab.onnx.transformer`: the transformer encoder (self-attention without masks);
- :mod:`nnlab.onnx.graph`: the graph under construction;
- :mod:`nnlab.onnx.command`: ``nnlab export RUN --format onnx``, a run folder's model to
  ``model.onnx``, checked against nnlab's outputs by onnxruntime.
"""

from nnlab.onnx.converters import UnsupportedModuleError
from nnlab.onnx.exporter import export

__all__ = ["UnsupportedModuleError", "export"]
