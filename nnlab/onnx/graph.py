"""``GraphBuilder``: the nodes, weights and unique names of an ONNX graph under construction.

Converters (:mod:`nnlab.onnx.converters`) add nodes through it; the exporter
(:mod:`nnlab.onnx.exporter`) turns it into a ``ModelProto``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import NodeProto, TensorProto, helper, numpy_helper

__all__ = ["GraphBuilder"]


class GraphBuilder:
    """Collects ONNX nodes and initializers (the weights) with names unique in the graph.

    Node and value names carry the module path they come from ("features.0/Conv"), so a
    graph viewer or an onnxruntime error points back at the nnlab module.
    """

    def __init__(self) -> None:
        self.nodes: list[NodeProto] = []
        self.initializers: list[TensorProto] = []
        self._used: set[str] = set()

    def unique(self, name: str) -> str:
        """``name``, or ``name_1``, ``name_2``, ... if it is taken; reserves the result."""
        candidate, i = name, 0
        while candidate in self._used:
            i += 1
            candidate = f"{name}_{i}"
        self._used.add(candidate)
        return candidate

    def weight(self, name: str, array: Any, dtype: Any = None) -> str:
        """Add a constant tensor (a weight, a shape, a scalar) and return its name."""
        arr = np.ascontiguousarray(np.asarray(array, dtype=dtype))
        unique = self.unique(name)
        self.initializers.append(numpy_helper.from_array(arr, unique))
        return unique

    def node(self, op_type: str, inputs: list[str], path: str, **attributes: Any) -> str:
        """Add one node with a single output and return the output's name."""
        output = self.unique(f"{path}/{op_type}" if path else op_type)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=output, **attributes))
        return output
