"""Attention heatmaps: where in the source each output token looked.

Row t of an attention matrix holds the weights αₜₛ (summing to 1) that output step t put
on the source positions s. For a date normaliser a trained model's map is nearly
one-hot and readable: writing the year's digits, it looks at the year; writing the month,
at the month's name or number, wherever the format put it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnlab.analysis.plots import save_figure  # noqa: E402

__all__ = ["plot_attention"]


def plot_attention(
    weights: Any,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    path: str | Path,
    title: str = "",
) -> Path:
    """Write the heatmap of one attention matrix (output tokens down, source tokens across)
    as a PNG.

    Args:
        weights: (T, S) attention weights (a Tensor or an array); extra rows or columns
            beyond ``len(tgt_tokens)`` and ``len(src_tokens)`` (padding) are cut.
        src_tokens: the S source tokens (column labels), e.g. ``list("3 mar 21")``; a
            space is drawn as ``␣``.
        tgt_tokens: the T output tokens (row labels).
        path: the PNG file to write (folders are created).
        title: an optional title.

    Returns:
        The path written.

    Example:
        >>> import os, tempfile, numpy as np
        >>> p = plot_attention(np.eye(3), list("abc"), list("xyz"),
        ...                    os.path.join(tempfile.mkdtemp(), "attention.png"))
        >>> p.exists()
        True
    """
    w = np.asarray(getattr(weights, "array", weights), dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"plot_attention: weights must be (T, S), got shape {w.shape}")
    t, s = len(tgt_tokens), len(src_tokens)
    if w.shape[0] < t or w.shape[1] < s:
        raise ValueError(
            f"plot_attention: weights of shape {w.shape} are smaller than the {t} output "
            f"tokens by {s} source tokens"
        )
    w = w[:t, :s]
    fig, ax = plt.subplots(figsize=(0.32 * s + 1.8, 0.32 * t + 1.4))
    image = ax.imshow(w, cmap="viridis", vmin=0.0, vmax=max(float(w.max()), 1e-12))
    ax.set_xticks(range(s), ["␣" if c == " " else c for c in src_tokens], fontsize=8)
    ax.set_yticks(range(t), list(tgt_tokens), fontsize=8)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    fig.colorbar(image, ax=ax, fraction=0.04)
    if title:
        ax.set_title(title)
    return save_figure(fig, path)
