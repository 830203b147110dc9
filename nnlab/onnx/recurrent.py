"""ONNX conversion of recurrent layers: nnlab's RNN / LSTM / GRU (torch's layout) as ONNX's
RNN / LSTM / GRU nodes, and the :class:`~nnlab.models.text_classifiers.RecurrentClassifier`
on continuous signals built from them.

The two layouts differ in gate order and bias packing:

- LSTM: torch stacks the gates i, f, g, o in ``weight_ih`` (4H, in); ONNX's ``W`` stacks
  i, o, f, c (c is torch's g). GRU: torch r, z, n; ONNX z, r, h. Both: W, R and B get a
  leading direction dim.
- ONNX's ``B`` is [Wb, Rb] concatenated (torch's ``bias_ih``, ``bias_hh``).
- torch's GRU applies the reset gate after the recurrent product,
  n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn)), which is ONNX's ``linear_before_reset=1``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import helper

from nnlab.creation import zeros
from nnlab.models.text_classifiers import RecurrentClassifier
from nnlab.onnx.converters import Converter, UnsupportedModuleError, linear
from nnlab.onnx.graph import GraphBuilder
from nnlab.tensor import Tensor

__all__ = ["RECURRENT_CONVERTERS"]

# ONNX's gate blocks as indices into torch's: LSTM (i, o, f, c) from (i, f, g, o), GRU
# (z, r, h) from (r, z, n); a plain RNN has one block.
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN_TANH": [0], "RNN_RELU": [0]}
_OP = {"LSTM": "LSTM", "GRU": "GRU", "RNN_TANH": "RNN", "RNN_RELU": "RNN"}


def _reorder(w: np.ndarray, mode: str) -> np.ndarray:
    blocks = np.split(w, len(_GATE_ORDER[mode]), axis=0)
    return np.concatenate([blocks[i] for i in _GATE_ORDER[mode]], axis=0)


def _layer_weights(rnn: Any, layer: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """ONNX's W, R and B of one layer, directions stacked (forward first)."""
    sfxs = ["", "_reverse"] if rnn.bidirectional else [""]

    def get(name: str) -> np.ndarray:
        return getattr(rnn, name).detach().numpy()

    w = np.stack([_reorder(get(f"weight_ih_l{layer}{s}"), rnn.mode) for s in sfxs])
    r = np.stack([_reorder(get(f"weight_hh_l{layer}{s}"), rnn.mode) for s in sfxs])
    if not rnn.bias:
        return w, r, None
    b = np.stack([np.concatenate([_reorder(get(f"bias_ih_l{layer}{s}"), rnn.mode),
                                  _reorder(get(f"bias_hh_l{layer}{s}"), rnn.mode)])
                  for s in sfxs])  # fmt: skip
    return w, r, b


def recurrent_layers(g: GraphBuilder, rnn: Any, x: str, path: str) -> str:
    """Run the stacked layers over ``x`` (seq, N, features); return the last layer's final
    hidden state Y_h (directions, N, H). Between layers, Y (seq, directions, N, H) becomes
    (seq, N, directions·H), the next layer's input, as torch concatenates directions."""
    if rnn.proj_size > 0:
        raise UnsupportedModuleError(path, rnn, "proj_size > 0 has no ONNX LSTM equivalent")
    op = _OP[rnn.mode]
    direction = "bidirectional" if rnn.bidirectional else "forward"
    attributes: dict[str, Any] = {"hidden_size": rnn.hidden_size, "direction": direction}
    if op == "GRU":
        attributes["linear_before_reset"] = 1
    if rnn.mode == "RNN_RELU":
        attributes["activations"] = ["Relu"] * (2 if rnn.bidirectional else 1)
    for layer in range(rnn.num_layers):
        w, r, b = _layer_weights(rnn, layer)
        inputs = [x, g.weight(f"{path}.W_l{layer}", w), g.weight(f"{path}.R_l{layer}", r)]
        if b is not None:
            inputs.append(g.weight(f"{path}.B_l{layer}", b))
        name = g.unique(f"{path}/{op}_l{layer}")
        y, y_h = f"{name}/Y", f"{name}/Y_h"
        g.nodes.append(helper.make_node(op, inputs, [y, y_h], name=name, **attributes))
        if layer + 1 < rnn.num_layers:
            seq_first = g.node("Transpose", [y], path, perm=[0, 2, 1, 3])
            shape = g.weight(f"{path}.shape", [0, 0, -1], dtype=np.int64)
            x = g.node("Reshape", [seq_first, shape], path)
    return y_h


def recurrent_classifier(g: GraphBuilder, m: Any, x: str, path: str, example: Tensor) -> str:
    """Signal (N, C, L) → steps (L, N, C) → recurrent layers → the final hidden state,
    directions side by side (N, directions·H) → the classifier (dropout is the identity)."""
    if m.tokens:
        raise UnsupportedModuleError(
            path, m, "token input (packed by real lengths) is not exported; continuous "
            "signals (input_size) are",
        )  # fmt: skip
    steps = g.node("Transpose", [x], path, perm=[2, 0, 1])
    rnn_path = f"{path}.rnn" if path else "rnn"
    y_h = recurrent_layers(g, m.rnn, steps, rnn_path)
    batch_first = g.node("Transpose", [y_h], path, perm=[1, 0, 2])
    flat = g.node("Flatten", [batch_first], path, axis=1)
    fc_path = f"{path}.fc" if path else "fc"
    return linear(g, m.fc, flat, fc_path, zeros(1, m.fc.in_features))


RECURRENT_CONVERTERS: dict[type, Converter] = {RecurrentClassifier: recurrent_classifier}
