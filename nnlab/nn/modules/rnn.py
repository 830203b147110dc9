"""Recurrent layers: RNN, LSTM, GRU (whole sequences, stacked, bidirectional) and the
single-step cells RNNCell, LSTMCell, GRUCell.

The sequence layers are shells around the fused ops of ``nnlab/ops/recurrent.py`` and
``recurrent_gru.py``: one op call per layer and direction runs the whole time loop and
its backpropagation through time. The cells are composed from primitive ops
(``nnlab/ops/recurrent_cells.py``): they are the readable definition of one step, and
unrolling them gives the same results as the fused layers (the tests check it).

Parameter names, shapes, gate order (LSTM i, f, g, o; GRU r, z, n) and the default
initialisation U(-1/√hidden_size, 1/√hidden_size) are PyTorch's, so a torch
``state_dict`` loads as is. Layer k ≥ 1 reads the previous layer's output, both
directions concatenated; ``dropout`` acts on those inter-layer outputs in training mode.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any

import numpy as np

from nnlab import dtypes
from nnlab.nn import functional as F
from nnlab.nn import init
from nnlab.nn.module import Module
from nnlab.nn.parameter import Parameter
from nnlab.nn.utils.rnn import PackedSequence
from nnlab.ops.recurrent import lstm_sequence, rnn_sequence
from nnlab.ops.recurrent_cells import gru_cell, lstm_cell, rnn_relu_cell, rnn_tanh_cell
from nnlab.ops.recurrent_gru import gru_sequence
from nnlab.ops.shape import cat, stack
from nnlab.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _param(*shape: int, dtype: Any) -> Parameter:
    d = dtypes.get_default_dtype() if dtype is None else dtypes.to_dtype(dtype)
    return Parameter(np.empty(shape, dtype=d))


def _zeros(shape: tuple[int, ...], dtype: np.dtype) -> Tensor:
    return Tensor(np.zeros(shape, dtype=dtype))


class RNNBase(Module):
    """What RNN, LSTM and GRU share: parameters, argument checks, the layer/direction
    loop, packed sequences and initial states. Use the subclasses."""

    def __init__(
        self,
        mode: str,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):  # fmt: skip
            raise ValueError(
                f"{name}: dropout should be a number in range [0, 1] representing the "
                f"probability of an element being zeroed, got {dropout!r}"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero "
                f"dropout expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        for arg, value in (("bias", bias), ("batch_first", batch_first)):
            if not isinstance(value, bool):
                raise TypeError(
                    f"{name}: {arg} should be of type bool, got: {type(value).__name__}"
                )
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):  # fmt: skip
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name}: {arg} should be of type int, got: {type(value).__name__}")
            if value <= 0:
                raise ValueError(f"{name}: {arg} must be greater than zero, got {value}")
        if proj_size < 0:
            raise ValueError(
                f"{name}: proj_size should be a positive integer or zero to disable projections"
            )
        if proj_size >= hidden_size:
            raise ValueError(
                f"{name}: proj_size has to be smaller than hidden_size, got proj_size="
                f"{proj_size} and hidden_size={hidden_size}"
            )
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        gate_size = _GATES[mode] * hidden_size
        directions = 2 if bidirectional else 1
        out_size = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else out_size * directions
                sfx = "_reverse" if direction == 1 else ""
                shapes = {
                    f"weight_ih_l{layer}{sfx}": (gate_size, layer_input),
                    f"weight_hh_l{layer}{sfx}": (gate_size, out_size),
                }
                if bias:
                    shapes[f"bias_ih_l{layer}{sfx}"] = (gate_size,)
                    shapes[f"bias_hh_l{layer}{sfx}"] = (gate_size,)
                if proj_size > 0:
                    shapes[f"weight_hr_l{layer}{sfx}"] = (proj_size, hidden_size)
                for key, shape in shapes.items():
                    setattr(self, key, _param(*shape, dtype=dtype))
                self._flat_weights_names.extend(shapes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    @property
    def all_weights(self) -> list[list[Parameter]]:
        """The parameters grouped per layer and direction, as torch's ``all_weights``."""
        per = len(self._flat_weights_names) // (self.num_layers * self._directions)
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[k : k + per]] for k in range(0, len(names), per)]

    def flatten_parameters(self) -> None:
        """A no-op kept for torch code: torch packs the weights into one cuDNN buffer here;
        nnlab's fused ops read the parameters where they are."""

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _weights(self, layer: int, direction: int) -> tuple[Any, ...]:
        sfx = "_reverse" if direction == 1 else ""
        get = self._parameters.get
        return (get(f"weight_ih_l{layer}{sfx}"), get(f"weight_hh_l{layer}{sfx}"),
                get(f"bias_ih_l{layer}{sfx}"), get(f"bias_hh_l{layer}{sfx}"),
                get(f"weight_hr_l{layer}{sfx}"))  # fmt: skip

    def _state_shapes(self, batch: int) -> list[tuple[int, ...]]:
        """Expected shapes of h0 (and c0 for the LSTM)."""
        n = self.num_layers * self._directions
        h = (n, batch, self.proj_size if self.proj_size > 0 else self.hidden_size)
        return [h, (n, batch, self.hidden_size)] if self.mode == "LSTM" else [h]

    # -- forward ----------------------------------------------------------------------------

    def forward(self, input: Any, hx: Any = None) -> tuple[Any, Any]:
        packed = isinstance(input, PackedSequence)
        unbatched = False
        if packed:
            rows, batch_sizes, sorted_indices, unsorted_indices = input
            steps = batch_sizes.array if isinstance(batch_sizes, Tensor) else batch_sizes
            steps = np.asarray(steps)
            if rows.ndim != 2 or rows.shape[-1] != self.input_size:
                raise self.shape_error(
                    f"packed data (N, {self.input_size})", rows.shape,
                    f"the last dim of the input must be input_size={self.input_size}.",
                )  # fmt: skip
            batch = int(steps[0])
        else:
            self._check_input(input)
            unbatched = input.ndim == 2
            x = input.unsqueeze(1) if unbatched else input
            if self.batch_first and not unbatched:
                x = x.transpose(0, 1)
            t, batch = x.shape[:2]
            rows = x.reshape(t * batch, self.input_size)
            steps = np.full(t, batch, dtype=np.int64)
            sorted_indices = unsorted_indices = None
        weight = self._parameters[self._flat_weights_names[0]]
        if rows.dtype != weight.dtype:
            raise TypeError(
                f"{self.path()} ({type(self).__name__}): input dtype {rows.dtype} does not match "
                f"weight dtype {weight.dtype}. Convert the input (x.to({weight.dtype})) or the "
                f"model (model.to({rows.dtype}))."
            )
        states = self._initial_states(hx, batch, rows.dtype, unbatched, sorted_indices)
        out, finals = self._run(rows, states, steps)
        final = [stack(list(s), 0) for s in zip(*finals)]
        if unsorted_indices is not None:
            final = [f.index_select(1, unsorted_indices) for f in final]
        if packed:
            output: Any = PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices)
        else:
            output = out.reshape(len(steps), batch, out.shape[-1])
            if unbatched:
                output = output.squeeze(1)
                final = [f.squeeze(1) for f in final]
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, (tuple(final) if self.mode == "LSTM" else final[0])

    def _check_input(self, input: Tensor) -> None:
        expected = "(L, N, H_in)" if not self.batch_first else "(N, L, H_in)"
        if input.ndim not in (2, 3):
            raise self.shape_error(
                f"{expected} or unbatched (L, H_in) with H_in={self.input_size}", input.shape,
                "recurrent layers take a sequence batch (3-D) or one sequence (2-D).",
            )  # fmt: skip
        if input.shape[-1] != self.input_size:
            raise self.shape_error(
                f"{expected} with H_in={self.input_size}", input.shape,
                f"the last dim of the input must be input_size={self.input_size}, "
                f"got {input.shape[-1]}.",
            )  # fmt: skip

    def _initial_states(
        self, hx: Any, batch: int, dtype: np.dtype, unbatched: bool, sorted_indices: Any
    ) -> list[tuple[Tensor, ...]]:
        """One tuple (h0,) or (h0, c0) per layer and direction, in the packed batch order."""
        shapes = self._state_shapes(batch)
        if hx is None:
            full = [_zeros(s, dtype) for s in shapes]
        else:
            full = list(hx) if self.mode == "LSTM" and isinstance(hx, (tuple, list)) else [hx]
            if (
                self.mode == "LSTM"
                and len(full) != 2
                or not all(isinstance(h, Tensor) for h in full)
            ):
                kind = "a tuple (h_0, c_0) of tensors" if self.mode == "LSTM" else "a tensor"
                raise TypeError(
                    f"{self.path()} ({type(self).__name__}): the initial state must be {kind}, "
                    f"got {type(hx).__name__}"
                )
            names = ("h_0", "c_0")
            for k, (h, shape) in enumerate(zip(full, shapes)):
                want = shape[::2] if unbatched else shape
                if tuple(h.shape) != want:
                    size = "proj_size" if self.proj_size and not k else "hidden_size"
                    raise self.shape_error(
                        f"{names[k]} of shape {want}", h.shape,
                        f"the initial {'cell' if k else 'hidden'} state must be (num_layers * "
                        f"num_directions, batch, {size}) = {want}.",
                    )  # fmt: skip
            if unbatched:
                full = [h.unsqueeze(1) for h in full]
            if sorted_indices is not None:
                full = [h.index_select(1, sorted_indices) for h in full]
        return [tuple(h[k] for h in full) for k in range(shapes[0][0])]

    def _run(
        self, rows: Tensor, states: list[tuple[Tensor, ...]], steps: np.ndarray
    ) -> tuple[Tensor, list[tuple[Tensor, ...]]]:
        """All layers and directions over packed rows; returns the top layer's rows and the
        final states of every (layer, direction)."""
        finals = []
        layer_input = rows
        for layer in range(self.num_layers):
            outs = []
            for direction in range(self._directions):
                state = states[layer * self._directions + direction]
                result = self._sequence(layer_input, state, self._weights(layer, direction),
                                        steps, direction == 1)  # fmt: skip
                outs.append(result[0])
                finals.append(result[1:])
            layer_input = outs[0] if len(outs) == 1 else cat(outs, 1)
            if self.dropout > 0 and self.training and layer < self.num_layers - 1:
                layer_input = F.dropout(layer_input, self.dropout, True)
        return layer_input, finals

    def _sequence(self, x, state, weights, steps, reverse) -> tuple[Tensor, ...]:
        raise NotImplementedError

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


class RNN(RNNBase):
    """Elman RNN: h_t = φ(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), φ = tanh or relu, over
    a whole sequence, stacked ``num_layers`` deep, optionally in both directions.

    Args:
        input_size: features of x_t.
        hidden_size: features of h_t.
        num_layers: stacked layers (default: 1).
        nonlinearity: "tanh" (default) or "relu".
        bias: learn b_ih and b_hh (default: True).
        batch_first: input and output are (N, L, *) instead of (L, N, *) (default: False).
        dropout: dropout probability on the outputs of every layer but the last, in
            training mode (default: 0).
        bidirectional: add a layer running from the last step to the first; outputs are
            concatenated, forward direction first (default: False).
        dtype: parameter dtype (default: the default dtype).

    Shape:
        - input: (L, N, H_in), (N, L, H_in) with batch_first, (L, H_in), or a PackedSequence.
        - h_0: (D·num_layers, N, H) or (D·num_layers, H) unbatched, zeros if omitted.
        - output: (L, N, D·H) (a PackedSequence for packed input); h_n: like h_0.

    Parameters: weight_ih_l{k} (H, H_in or D·H), weight_hh_l{k} (H, H), bias_ih_l{k},
    bias_hh_l{k} (H,), with the suffix ``_reverse`` for the backward direction.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> rnn = nn.RNN(10, 20, 2)
        >>> out, h_n = rnn(nnlab.randn(5, 3, 10), nnlab.randn(2, 3, 20))
        >>> out.shape, h_n.shape
        (nnlab.Size([5, 3, 20]), nnlab.Size([2, 3, 20]))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            self_nl, args = args[3], args[:3] + args[4:]
        else:
            self_nl = kwargs.pop("nonlinearity", "tanh")
        if self_nl not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self_nl}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_TANH" if self_nl == "tanh" else "RNN_RELU", *args, **kwargs)
        self.nonlinearity = self_nl

    def _sequence(self, x, state, weights, steps, reverse):
        w_ih, w_hh, b_ih, b_hh, _ = weights
        return rnn_sequence(x, state[0], w_ih, w_hh, b_ih, b_hh, self.nonlinearity,
                            batch_sizes=steps, reverse=reverse)  # fmt: skip


class LSTM(RNNBase):
    """Long short-term memory over a whole sequence (gates i, f, g, o):

        i, f, o = σ(·), g = tanh(·) of x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh
        c_t = f ⊙ c_{t-1} + i ⊙ g,   h_t = o ⊙ tanh(c_t)   (then h_t W_hrᵀ if proj_size > 0)

    The cell state c carries information across many steps through the forget gate f, so
    gradients vanish far less than in an Elman RNN.

    Args:
        input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
        dtype: as :class:`RNN`.
        proj_size: if > 0, h_t is projected to this size by ``weight_hr_l{k}`` (P, H).

    Shape:
        - input: (L, N, H_in), (N, L, H_in) with batch_first, (L, H_in), or a PackedSequence.
        - (h_0, c_0): (D·num_layers, N, H_out), (D·num_layers, N, H), zeros if omitted;
          H_out = proj_size or hidden_size.
        - output: (L, N, D·H_out); (h_n, c_n) shaped like (h_0, c_0).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> lstm = nn.LSTM(10, 20, 2, batch_first=True)
        >>> out, (h_n, c_n) = lstm(nnlab.randn(3, 5, 10))
        >>> out.shape, h_n.shape, c_n.shape
        (nnlab.Size([3, 5, 20]), nnlab.Size([2, 3, 20]), nnlab.Size([2, 3, 20]))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__("LSTM", *args, **kwargs)

    def _sequence(self, x, state, weights, steps, reverse):
        return lstm_sequence(x, state[0], state[1], *weights, batch_sizes=steps, reverse=reverse)


class GRU(RNNBase):
    """Gated recurrent unit over a whole sequence (gates r, z, n):

        r = σ(x W_irᵀ + b_ir + h W_hrᵀ + b_hr),  z = σ(x W_izᵀ + b_iz + h W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h W_hnᵀ + b_hn)),  h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}

    Args and shapes: as :class:`RNN` (without ``nonlinearity``).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> gru = nn.GRU(10, 20, bidirectional=True)
        >>> out, h_n = gru(nnlab.randn(5, 3, 10))
        >>> out.shape, h_n.shape
        (nnlab.Size([5, 3, 40]), nnlab.Size([2, 3, 20]))
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def _sequence(self, x, state, weights, steps, reverse):
        w_ih, w_hh, b_ih, b_hh, _ = weights
        return gru_sequence(x, state[0], w_ih, w_hh, b_ih, b_hh, batch_sizes=steps,
                            reverse=reverse)  # fmt: skip


# -- single steps ---------------------------------------------------------------------------


class RNNCellBase(Module):
    """Parameters and checks shared by the cells: weight_ih (gates·H, H_in), weight_hh
    (gates·H, H), bias_ih, bias_hh (gates·H,), all ~ U(-1/√H, 1/√H) as in torch."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, dtype: Any = None
    ) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = _param(num_chunks * hidden_size, input_size, dtype=dtype)
        self.weight_hh = _param(num_chunks * hidden_size, hidden_size, dtype=dtype)
        if bias:
            self.bias_ih = _param(num_chunks * hidden_size, dtype=dtype)
            self.bias_hh = _param(num_chunks * hidden_size, dtype=dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input: Tensor, hx: Any, states: int) -> tuple[Tensor, list[Tensor], bool]:
        """(2-D input, list of 2-D states, unbatched?) after checking every shape."""
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise self.shape_error(
                f"(N, {self.input_size}) or ({self.input_size},)", input.shape,
                f"a cell takes one time step: (batch, input_size={self.input_size}); loop over "
                "the steps of a sequence, or use the sequence layer.",
            )  # fmt: skip
        unbatched = input.ndim == 1
        x = input.unsqueeze(0) if unbatched else input
        want = (x.shape[0], self.hidden_size)
        if hx is None:
            hs = [_zeros(want, x.dtype) for _ in range(states)]
        else:
            hs = list(hx) if states > 1 else [hx]
            if len(hs) != states:
                raise TypeError(f"{self.path()} ({type(self).__name__}): hx must be (h, c)")
            for k, h in enumerate(hs):
                expected = want[1:] if unbatched else want
                if tuple(h.shape) != expected:
                    raise self.shape_error(
                        f"{'c' if k else 'h'} of shape {expected}", h.shape,
                        "the state must be (batch, hidden_size) with the input's batch size.",
                    )  # fmt: skip
            if unbatched:
                hs = [h.unsqueeze(0) for h in hs]
        return x, hs, unbatched

    def _weights(self) -> tuple[Any, ...]:
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s


class RNNCell(RNNCellBase):
    """One Elman step: h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), φ = tanh or relu.

    Shape: input (N, H_in) or (H_in,); hx (N, H) or (H,), zeros if omitted → h' like hx.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> cell = nn.RNNCell(10, 20)
        >>> h = None
        >>> for x_t in nnlab.randn(6, 3, 10):
        ...     h = cell(x_t, h)
        >>> h.shape
        nnlab.Size([3, 20])
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True,
        nonlinearity: str = "tanh", dtype: Any = None,
    ) -> None:  # fmt: skip
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, 1, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, hx, 1)
        cell = rnn_tanh_cell if self.nonlinearity == "tanh" else rnn_relu_cell
        out = cell(x, h, *self._weights())
        return out.squeeze(0) if unbatched else out


class LSTMCell(RNNCellBase):
    """One LSTM step (gates i, f, g, o): c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').

    Shape: input (N, H_in) or (H_in,); hx = (h, c), each (N, H) or (H,), zeros if omitted
    → (h', c').

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> h, c = nn.LSTMCell(10, 20)(nnlab.randn(3, 10))
        >>> h.shape, c.shape
        (nnlab.Size([3, 20]), nnlab.Size([3, 20]))
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: Tensor, hx: Any = None) -> tuple[Tensor, Tensor]:
        x, (h, c), unbatched = self._prepare(input, hx, 2)
        h, c = lstm_cell(x, (h, c), *self._weights())
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(RNNCellBase):
    """One GRU step (gates r, z, n): h' = (1 - z) ⊙ n + z ⊙ h.

    Shape: input (N, H_in) or (H_in,); hx (N, H) or (H,), zeros if omitted → h'.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> nn.GRUCell(10, 20)(nnlab.randn(3, 10)).shape
        nnlab.Size([3, 20])
    """

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, dtype: Any = None
    ) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, (h,), unbatched = self._prepare(input, hx, 1)
        out = gru_cell(x, h, *self._weights())
        return out.squeeze(0) if unbatched else out
