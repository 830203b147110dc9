"""Variable-length batches for recurrent layers (torch's ``nn.utils.rnn``) and truncated BPTT.

Sequences of different lengths are padded to a (T, B, *) block, but the padding must not
take part in the recurrence. PyTorch's answer, reproduced here with its names and
semantics, is the *packed* layout: sort the sequences by decreasing length, then store
step after step only the rows still running. For lengths [3, 2, 1]::

    padded (T=3, B=3)        packed data (6 rows)        batch_sizes
    t=0: a0 b0 c0            a0 b0 c0                    3
    t=1: a1 b1 ·             a1 b1                       2
    t=2: a2 ·  ·             a2                          1

``nn.RNN``/``LSTM``/``GRU`` accept a :class:`PackedSequence` and return one: each step
reads and writes only its ``batch_sizes[t]`` rows, so a finished sequence's state stays
frozen (its h_n is the state at its own last step) and the reverse direction starts each
sequence at its own last element. Padded steps change no result and no gradient.

Truncated backpropagation through time: train on chunks of k steps, carrying the state
from one chunk to the next but cutting the graph at chunk boundaries with
:func:`detach_state`, so memory and compute per update stay O(k)::

    state = None
    for chunk in tbptt_chunks(x, k=20):
        out, state = lstm(chunk, state)
        loss = loss_fn(out, ...)
        loss.backward(); opt.step(); opt.zero_grad()
        state = detach_state(state)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from nnlab.ops.recurrent import put_rows, take_rows
from nnlab.ops.shape import cat
from nnlab.tensor import Tensor

__all__ = [
    "PackedSequence", "pad_sequence", "pack_padded_sequence", "pad_packed_sequence",
    "pack_sequence", "unpad_sequence", "unpack_sequence", "detach_state", "tbptt_chunks",
]  # fmt: skip


class _PackedSequenceBase(NamedTuple):
    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None
    unsorted_indices: Tensor | None


class PackedSequence(_PackedSequenceBase):
    """A batch of variable-length sequences in the packed layout (a named tuple).

    Attributes:
        data: (N, *) the rows of all steps, step after step, N = Σ lengths.
        batch_sizes: (T,) int64, how many sequences are running at each step.
        sorted_indices: (B,) int64, batch position of the k-th longest sequence, or None
            when the batch was already sorted.
        unsorted_indices: its inverse permutation, or None.

    Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`, not by hand.
    """

    def __new__(
        cls,
        data: Tensor,
        batch_sizes: Any = None,
        sorted_indices: Any = None,
        unsorted_indices: Any = None,
    ) -> PackedSequence:
        if unsorted_indices is None and sorted_indices is not None:
            unsorted_indices = _invert(sorted_indices)
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args: Any, **kwargs: Any) -> PackedSequence:
        """Convert ``data`` (``data.to(...)``); the index tensors stay as they are."""
        return type(self)(self.data.to(*args, **kwargs), *self[1:])

    def detach(self) -> PackedSequence:
        return type(self)(self.data.detach(), *self[1:])

    @property
    def is_cuda(self) -> bool:
        return False


def _long(values: Any) -> Tensor:
    return Tensor(np.asarray(values, dtype=np.int64))


def _np(values: Any) -> np.ndarray:
    return np.asarray(values.array if isinstance(values, Tensor) else values)


def _invert(permutation: Any) -> Tensor:
    p = _np(permutation).astype(np.int64)
    inverse = np.empty_like(p)
    inverse[p] = np.arange(p.size)
    return _long(inverse)


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences of shapes (L_i, *) into one (T, B, *) tensor (or (B, T, *) with
    ``batch_first``), T = max L_i, filling the rest with ``padding_value``.

    Example:
        >>> import nnlab
        >>> pad_sequence([nnlab.tensor([1, 2, 3]), nnlab.tensor([4])], batch_first=True)
        tensor([[1, 2, 3],
               [4, 0, 0]])
    """
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}"
        )
    if len(sequences) == 0:
        raise ValueError("pad_sequence: received an empty list of sequences")
    trailing = sequences[0].shape[1:]
    for k, s in enumerate(sequences):
        if s.shape[1:] != trailing:
            raise ValueError(
                f"pad_sequence: sequence {k} has shape {tuple(s.shape)}, but all sequences need "
                f"the same trailing dims {tuple(trailing)} as sequence 0"
            )
    lengths = np.array([s.shape[0] for s in sequences], dtype=np.int64)
    b, t = len(sequences), int(lengths.max())
    rows = np.concatenate(
        [k * t + (np.arange(n) if padding_side == "right" else np.arange(t - n, t))
         for k, n in enumerate(lengths)]
    )  # fmt: skip
    flat = _cat_rows(sequences)
    out = put_rows(flat, rows, b * t, padding_value).reshape((b, t) + tuple(trailing))
    return out if batch_first else out.transpose(0, 1)


def _cat_rows(sequences: Sequence[Tensor]) -> Tensor:
    return sequences[0] if len(sequences) == 1 else cat(list(sequences), 0)


def _lengths_array(op: str, lengths: Any) -> np.ndarray:
    arr = _np(lengths)
    if arr.ndim != 1 or arr.dtype.kind not in "iu":
        raise ValueError(f"{op}: lengths must be a 1-D list or tensor of integers, got {lengths!r}")
    if (arr <= 0).any():
        raise RuntimeError(
            f"{op}: Length of all samples has to be greater than 0, but found an element in "
            f"'lengths' that is <= 0 (lengths {arr.tolist()})"
        )
    return arr.astype(np.int64)


def pack_padded_sequence(
    input: Tensor, lengths: Any, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, B, *) (or (B, T, *) with ``batch_first``) of sequences with
    the given lengths, so a recurrent layer skips the padding.

    With ``enforce_sorted=True`` the lengths must be in decreasing order; otherwise the
    batch is sorted here and the permutation kept in ``sorted_indices`` (undone by
    :func:`pad_packed_sequence` and by the recurrent layers for h_n).

    Example:
        >>> import nnlab
        >>> x = nnlab.tensor([[1, 4], [2, 0], [3, 0]])  # (T=3, B=2): lengths 3 and 1
        >>> p = pack_padded_sequence(x, [3, 1])
        >>> p.data, p.batch_sizes
        (tensor([1, 4, 2, 3]), tensor([2, 1, 1]))
    """
    lens = _lengths_array("pack_padded_sequence", lengths)
    t_dim, b_dim = (1, 0) if batch_first else (0, 1)
    if input.ndim < 2 or input.shape[b_dim] != lens.size:
        raise ValueError(
            f"pack_padded_sequence: got {lens.size} lengths for an input of shape "
            f"{tuple(input.shape)} whose batch dim ({b_dim}) has "
            f"{input.shape[b_dim] if input.ndim > b_dim else 0} sequences"
        )
    if lens.max() > input.shape[t_dim]:
        raise ValueError(
            f"pack_padded_sequence: a length of {int(lens.max())} exceeds the input's "
            f"{input.shape[t_dim]} time steps (dim {t_dim})"
        )
    if enforce_sorted:
        if (np.diff(lens) > 0).any():
            raise RuntimeError(
                "pack_padded_sequence: `lengths` array must be sorted in decreasing order when "
                "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                "pack_padded_sequence and/or pack_sequence to sidestep this requirement if you "
                "do not need ONNX exportability."
            )
        order = np.arange(lens.size)
        sorted_indices = None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_indices = _long(order)
    batch_sizes, rows = _packed_rows(lens[order], order, input.shape[t_dim], batch_first)
    flat = input.reshape((input.shape[0] * input.shape[1],) + tuple(input.shape[2:]))
    return PackedSequence(take_rows(flat, rows), _long(batch_sizes), sorted_indices)


def _packed_rows(
    sorted_lengths: np.ndarray, order: np.ndarray, steps: int, batch_first: bool
) -> tuple[np.ndarray, np.ndarray]:
    """batch_sizes, and for every packed row its row in the flattened padded input."""
    t_max = int(sorted_lengths[0])
    batch_sizes = (sorted_lengths[None, :] > np.arange(t_max)[:, None]).sum(axis=1)
    t_idx = np.repeat(np.arange(t_max), batch_sizes)
    k_idx = np.concatenate([np.arange(b) for b in batch_sizes])
    b = order.size
    rows = order[k_idx] * steps + t_idx if batch_first else t_idx * b + order[k_idx]
    return batch_sizes, rows


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo :func:`pack_padded_sequence`: (padded (T, B, *) or (B, T, *), lengths (B,)),
    in the batch order of the original input. ``total_length`` pads to that many steps.

    Example:
        >>> import nnlab
        >>> p = pack_padded_sequence(nnlab.tensor([[1, 4], [2, 0]]), [1, 2], enforce_sorted=False)
        >>> pad_packed_sequence(p, padding_value=-1)
        (tensor([[ 1,  4],
               [-1,  0]]), tensor([1, 2]))
    """
    data, batch_sizes, sorted_indices, _ = sequence
    bs = _np(batch_sizes).astype(np.int64)
    b, t_max = int(bs[0]), len(bs)
    if total_length is not None:
        if total_length < t_max:
            raise ValueError(
                f"pad_packed_sequence: Expected total_length to be at least the length of the "
                f"longest sequence ({t_max}), but got total_length={total_length}"
            )
        t_max = total_length
    order = np.arange(b) if sorted_indices is None else _np(sorted_indices).astype(np.int64)
    sorted_lengths = (bs[None, :] > np.arange(b)[:, None]).sum(axis=1)
    _, rows = _packed_rows(sorted_lengths, order, t_max, batch_first)
    padded = put_rows(data, rows, b * t_max, padding_value)
    shape = ((b, t_max) if batch_first else (t_max, b)) + tuple(data.shape[1:])
    lengths = np.empty(b, dtype=np.int64)
    lengths[order] = sorted_lengths
    return padded.reshape(shape), _long(lengths)


def pack_sequence(sequences: Sequence[Tensor], enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) sequences: ``pack_padded_sequence(pad_sequence(...))``.

    Example:
        >>> import nnlab
        >>> pack_sequence([nnlab.tensor([1, 2]), nnlab.tensor([3])]).data
        tensor([1, 3, 2])
    """
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded: Tensor, lengths: Any, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into a list of (L_i, *) sequences.

    Example:
        >>> import nnlab
        >>> [s.tolist() for s in unpad_sequence(nnlab.tensor([[1, 2], [3, 0]]), [2, 1])]
        [[1, 3], [2]]
    """
    x = padded if batch_first else padded.transpose(0, 1)
    return [x[k, : int(n)] for k, n in enumerate(_np(lengths))]


def unpack_sequence(packed: PackedSequence) -> list[Tensor]:
    """Split a PackedSequence back into a list of (L_i, *) sequences.

    Example:
        >>> import nnlab
        >>> p = pack_sequence([nnlab.tensor([1]), nnlab.tensor([2, 3])], enforce_sorted=False)
        >>> [s.tolist() for s in unpack_sequence(p)]
        [[1], [2, 3]]
    """
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)


def detach_state(state: Any) -> Any:
    """Cut the graph behind a recurrent state, keeping its values: a tensor, a tuple
    (h, c) or any nesting of tuples/lists of them (``None`` passes through). Used between
    chunks of truncated BPTT so each backward stops at the chunk's start.

    Example:
        >>> import nnlab
        >>> h = nnlab.ones(1, 2, requires_grad=True) * 2
        >>> h2, c2 = detach_state((h, h))
        >>> h2.requires_grad, float(h2[0, 0])
        (False, 2.0)
    """
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(
        f"detach_state: expected a tensor or a tuple/list of them, got {type(state).__name__}"
    )


def tbptt_chunks(x: Tensor, k: int, batch_first: bool = False) -> Iterator[Tensor]:
    """Split a sequence batch along its time dim into consecutive chunks of ``k`` steps
    (the last one may be shorter), for truncated BPTT (see the module docstring).

    Args:
        x: (T, B, *) or (B, T, *) with ``batch_first``.
        k: steps per chunk (the truncation length).

    Example:
        >>> import nnlab
        >>> [c.shape for c in tbptt_chunks(nnlab.zeros(7, 2, 3), 3)]
        [nnlab.Size([3, 2, 3]), nnlab.Size([3, 2, 3]), nnlab.Size([1, 2, 3])]
    """
    if k <= 0:
        raise ValueError(f"tbptt_chunks: k must be a positive number of steps, got {k}")
    dim = 1 if batch_first else 0
    steps = x.shape[dim]
    for start in range(0, steps, k):
        yield x[:, start : start + k] if batch_first else x[start : start + k]
