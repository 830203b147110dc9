"""Attention maps of a transformer, and attention rollout (Abnar & Zuidema 2020).

Each self-attention head h of layer l mixes the token vectors with a row-stochastic matrix
A^{l,h} (T, T): row t holds the weights (summing to 1) that token t put on every token s.
:func:`attention_maps` records these matrices for an input with forward hooks on the
model's :class:`~nnlab.nn.MultiheadAttention` modules, so no model file needs to return
them. A single layer's map does not say where the *output* got its information: layer l
attends to mixtures made by layer l − 1, and the residual connection passes every token's
own vector around the attention. Rollout folds both in:

    Ã^l = 0.5 · mean_h A^{l,h} + 0.5 · I     (rows re-normalised to sum to 1)
    R   = Ã^L · Ã^{L−1} ⋯ Ã^1

Row t of R estimates how much of each input token reached position t after the last
layer; a product of row-stochastic matrices is row-stochastic, so R's rows sum to 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab.autograd import no_grad
from nnlab.nn.module import Module
from nnlab.nn.modules.attention import MultiheadAttention
from nnlab.tensor import Tensor

__all__ = ["attention_maps", "attention_rollout"]


def _padding_mask(model: Module, inputs: Any, key_padding_mask: Any) -> np.ndarray | None:
    """The (N, T) mask (True = padding) the attention layers must apply: the one given, or
    for token ids and a model with a ``pad_idx`` (nnlab's sequence classifiers), the
    padding positions of the ids."""
    if key_padding_mask is not None:
        return np.asarray(getattr(key_padding_mask, "array", key_padding_mask), dtype=bool)
    ids = np.asarray(getattr(inputs, "array", inputs))
    pad_idx = getattr(model, "pad_idx", None)
    if isinstance(pad_idx, int) and ids.dtype.kind in "iu" and ids.ndim == 2:
        return ids == pad_idx
    return None


def attention_maps(model: Module, inputs: Any, key_padding_mask: Any = None) -> np.ndarray:
    """The attention weights of every self-attention layer and head for ``inputs``:
    (layers, N, heads, T, T), layers in the order they ran. T is the length the layers
    saw: nnlab's sequence classifiers drop trailing columns that are padding in every row.

    Hooks on each :class:`~nnlab.nn.MultiheadAttention` record its query, key and value
    while the model runs; the weights are then recomputed by that module itself with
    ``need_weights=True, average_attn_weights=False`` and without attention dropout (the
    module's train/eval mode is restored afterwards, and no gradient is kept).

    Args:
        model: a Module with self-attention layers (e.g. ``TransformerClassifier``, a
            ``TransformerEncoder``).
        inputs: what the model takes (token ids (N, T) for the classifiers).
        key_padding_mask: (N, T), True at padding the layers must not attend to (default:
            None: derived from the ids when the model has a ``pad_idx``, else no mask).

    Raises:
        ValueError: the model contains no MultiheadAttention that ran.

    Example:
        >>> import nnlab
        >>> from nnlab.models.text_classifiers import TransformerClassifier
        >>> net = TransformerClassifier(30, 2, d_model=16, nhead=2, num_layers=3).eval()
        >>> attention_maps(net, nnlab.tensor([[5, 6, 7, 0], [8, 9, 0, 0]])).shape
        (3, 2, 2, 3, 3)
    """
    if not isinstance(model, Module):
        raise TypeError(f"attention_maps: model must be a Module, got {type(model).__name__}")
    mask = _padding_mask(model, inputs, key_padding_mask)
    layers = [m for m in model.modules() if isinstance(m, MultiheadAttention)]
    if not layers:
        raise ValueError(
            f"attention_maps: {type(model).__name__} has no MultiheadAttention layer, so no "
            "attention weights to record"
        )
    recorded: list[tuple[MultiheadAttention, tuple[Any, ...]]] = []
    removers = [
        layer.register_forward_hook(lambda m, args, _out: recorded.append((m, args)))
        for layer in layers
    ]
    try:
        with no_grad():
            model(inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs)))
            maps = [_weights(module, args, mask) for module, args in recorded]
    finally:
        for remove in removers:
            remove()
    if not maps:
        raise ValueError(f"attention_maps: no attention layer of {type(model).__name__} ran")
    shapes = {m.shape for m in maps}
    if len(shapes) != 1:
        raise ValueError(
            f"attention_maps: the attention layers' maps differ in shape {sorted(shapes)}; "
            "only models whose layers all attend over the same tokens are supported"
        )
    return np.stack(maps)


def _weights(
    module: MultiheadAttention, args: tuple[Any, ...], mask: np.ndarray | None
) -> np.ndarray:
    """(N, heads, T, S) weights of ``module`` for its recorded query, key and value,
    recomputed without dropout (``module.forward``, not the call, so no hook runs again)."""
    if len(args) != 3:
        raise ValueError(
            f"attention_maps: {module.path()} was called with {len(args)} positional inputs; "
            "expected query, key and value"
        )
    key = args[1]
    length = key.shape[1] if module.batch_first and key.ndim == 3 else key.shape[0]
    if mask is not None and mask.shape[-1] != length:
        # nnlab's classifiers drop the trailing columns that are padding in every row.
        if mask.shape[-1] < length or not mask[..., length:].all():
            raise ValueError(
                f"attention_maps: key_padding_mask of width {mask.shape[-1]} does not fit "
                f"{module.path()}, which attends over {length} positions"
            )
        mask = mask[..., :length]
    training = module.training
    module.training = False
    try:
        _, weights = module.forward(
            *args, key_padding_mask=mask, need_weights=True, average_attn_weights=False
        )
    finally:
        module.training = training
    w = weights.array
    return w if w.ndim == 4 else w[None]  # an unbatched input gives (heads, T, S)


def attention_rollout(maps: Any, head_fusion: str = "mean") -> np.ndarray:
    """Attention rollout R = Ã^L ⋯ Ã^1 with Ã^l = 0.5 · fuse_h(A^{l,h}) + 0.5 · I
    (rows re-normalised): (N, T, T), rows summing to 1.

    Args:
        maps: (layers, N, heads, T, T) as from :func:`attention_maps`, or
            (layers, N, T, T) with the heads already fused.
        head_fusion: how heads combine: "mean" (Abnar & Zuidema) or "max" (default:
            "mean").

    Example:
        >>> import numpy as np
        >>> uniform = np.full((2, 1, 1, 3, 3), 1 / 3)
        >>> attention_rollout(uniform).sum(-1)
        array([[1., 1., 1.]])
    """
    a = np.asarray(maps, dtype=np.float64)
    if a.ndim == 5:
        if head_fusion not in ("mean", "max"):
            raise ValueError(
                f"attention_rollout: head_fusion must be 'mean' or 'max', got {head_fusion!r}"
            )
        a = a.mean(axis=2) if head_fusion == "mean" else a.max(axis=2)
    if a.ndim != 4 or a.shape[-1] != a.shape[-2]:
        raise ValueError(
            "attention_rollout: maps must be (layers, N, heads, T, T) or (layers, N, T, T) "
            f"with square maps, got shape {a.shape}"
        )
    if np.any(a < 0):
        raise ValueError("attention_rollout: attention weights must be non-negative")
    t = a.shape[-1]
    rollout = np.broadcast_to(np.eye(t), a.shape[1:]).copy()
    for layer in a:  # first layer first: R ← Ã^l · R
        mixed = 0.5 * layer + 0.5 * np.eye(t)
        mixed /= mixed.sum(-1, keepdims=True)
        rollout = mixed @ rollout
    return rollout
