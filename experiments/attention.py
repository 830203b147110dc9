"""Why attention helped sequence-to-sequence models: the fixed-size bottleneck.

The task is to write a sequence of random symbols backwards. An encoder GRU reads it and
a decoder GRU writes the answer one symbol at a time. Without attention the decoder sees
the source only through the encoder's last hidden state, one vector of ``hidden``
numbers, whatever the length; with (scaled dot-product) attention every output step
reads a weighted mix of all encoder states. Both arms embed symbols and positions the
same way; both arms of a seed share those embeddings and the GRU weights at
initialisation, the data and the batches.
"""

from __future__ import annotations

import math

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn

SYMBOLS = 10
SOS = SYMBOLS  # start-of-sequence token fed to the decoder first


class ReverseSeq2Seq(nn.Module):
    """GRU encoder-decoder; with ``attention`` the readout is W·[s_t; Σ_j a_tj h_j] with
    a_t = softmax(s_t·Q·H^T / √d) (Luong's "general" score), otherwise W·s_t.

    Symbols and positions are embedded and added, on both sides: a reversal needs
    output step t to find source position L-1-t, which content alone does not locate.
    """

    def __init__(self, hidden: int, attention: bool, max_len: int = 64) -> None:
        super().__init__()
        self.attention = attention
        self.embed = nn.Embedding(SYMBOLS + 1, hidden)
        self.position = nn.Embedding(max_len, hidden)
        self.encoder = nn.GRU(hidden, hidden, batch_first=True)
        self.decoder = nn.GRU(hidden, hidden, batch_first=True)
        self.out = nn.Linear(2 * hidden if attention else hidden, SYMBOLS)
        if attention:
            self.query = nn.Linear(hidden, hidden, bias=False)

    def inputs(self, tokens: nnlab.Tensor, start: int = 0) -> nnlab.Tensor:
        """Symbol plus position embeddings of tokens (N, T) that begin at ``start``."""
        steps = nnlab.arange(start, start + tokens.shape[1])
        return self.embed(tokens) + self.position(steps)

    def readout(
        self, states: nnlab.Tensor, memory: nnlab.Tensor
    ) -> tuple[nnlab.Tensor, nnlab.Tensor | None]:
        """Logits for decoder states (N, T, d) and the attention weights (N, T, S)."""
        if not self.attention:
            return self.out(states), None
        scores = self.query(states) @ memory.transpose(1, 2) / math.sqrt(memory.shape[-1])
        weights = F.softmax(scores, dim=-1)
        return self.out(nnlab.cat([states, weights @ memory], dim=-1)), weights

    def forward(self, source: nnlab.Tensor, target_in: nnlab.Tensor) -> nnlab.Tensor:
        """Teacher forcing: the decoder reads the true previous symbols."""
        memory, h = self.encoder(self.inputs(source))
        states, _ = self.decoder(self.inputs(target_in), h)
        return self.readout(states, memory)[0]

    @nnlab.no_grad()
    def greedy(self, source: nnlab.Tensor) -> tuple[np.ndarray, np.ndarray | None]:
        """Decode as many symbols as the source has, each from the model's own previous
        output; the symbols and (with attention) the attention weights."""
        memory, h = self.encoder(self.inputs(source))
        token = nnlab.full((source.shape[0], 1), SOS, dtype=nnlab.int64)
        symbols, weights = [], []
        for step in range(source.shape[1]):
            state, h = self.decoder(self.inputs(token, start=step), h)
            logits, w = self.readout(state, memory)
            token = logits.argmax(-1)
            symbols.append(token.numpy())
            if w is not None:
                weights.append(w.numpy())
        attention = np.concatenate(weights, axis=1) if weights else None
        return np.concatenate(symbols, axis=1), attention


def reversal_data(rng: np.random.Generator, n: int, length: int) -> dict[str, np.ndarray]:
    source = rng.integers(0, SYMBOLS, size=(n, length))
    target = source[:, ::-1].copy()
    target_in = np.concatenate([np.full((n, 1), SOS), target[:, :-1]], axis=1)
    return {"source": source, "target_in": target_in, "target": target}


def train(model: ReverseSeq2Seq, data: dict[str, np.ndarray], order: np.ndarray) -> None:
    """Adam (lr 1e-2) with teacher forcing on the mini-batches indexed by ``order``."""
    src, tin, tgt = (nnlab.tensor(data[k]) for k in ("source", "target_in", "target"))
    opt = nnlab.optim.Adam(model.parameters(), lr=1e-2)
    for idx in order:
        i = nnlab.tensor(idx)
        logits = model(src[i], tin[i])
        loss = F.cross_entropy(logits.reshape(-1, SYMBOLS), tgt[i].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()


@experiment(
    "attention-bottleneck",
    answers=["attention"],
    quick=dict(lengths=(4, 12), steps=200, hidden=32, n_seeds=2),
    full=dict(lengths=(4, 8, 16, 32), steps=500, hidden=32, n_seeds=3),
)
def attention_bottleneck(
    run: Run, lengths: tuple[int, ...], steps: int, hidden: int, n_seeds: int
) -> None:
    """Does attention keep a seq2seq model accurate as the input grows longer?"""
    arms = {"no attention": False, "attention": True}
    token_acc = {(a, t): [] for a in arms for t in lengths}
    exact = {(a, t): [] for a in arms for t in lengths}
    example_attention = None
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        for t in lengths:
            data, test = reversal_data(rng, 2048, t), reversal_data(rng, 256, t)
            order = rng.integers(0, 2048, size=(steps, 32))
            for arm, attention in arms.items():
                nnlab.manual_seed(seed)
                model = ReverseSeq2Seq(hidden, attention)
                train(model, data, order)
                model.eval()
                pred, weights = model.greedy(nnlab.tensor(test["source"]))
                token_acc[arm, t].append(float((pred == test["target"]).mean()))
                exact[arm, t].append(float((pred == test["target"]).all(axis=1).mean()))
                if attention and t == max(lengths) and example_attention is None:
                    example_attention = weights[0]

    mean = {k: float(np.mean(v)) for k, v in token_acc.items()}
    rows = [
        (arm, t, round(mean[arm, t], 3), round(float(np.std(token_acc[arm, t])), 3),
         round(float(np.mean(exact[arm, t])), 3))
        for arm in arms for t in lengths
    ]  # fmt: skip
    run.table(
        f"Greedy decoding on held-out sequences ({n_seeds} seeds)",
        ("model", "length", "symbol accuracy", "std", "whole sequence right"),
        rows,
    )
    for (arm, t), value in mean.items():
        run.number(f"{arm.replace(' ', '_')}_len{t}_symbol_accuracy", round(value, 4))

    fig = run.figure("accuracy-by-length", "Symbol accuracy against input length")
    ax = fig.subplots()
    for arm in arms:
        ax.errorbar(
            lengths,
            [mean[arm, t] for t in lengths],
            yerr=[np.std(token_acc[arm, t]) for t in lengths],
            marker="o",
            capsize=3,
            label=arm,
        )
    ax.axhline(1 / SYMBOLS, color="grey", linestyle=":", label="chance")
    ax.set_xlabel("input length")
    ax.set_ylabel("symbol accuracy (greedy decoding)")
    ax.legend()

    fig = run.figure("attention-map", "Attention weights for one held-out sequence")
    ax = fig.subplots()
    image = ax.imshow(example_attention, cmap="viridis")
    fig.colorbar(image, ax=ax)
    ax.set_xlabel("source position")
    ax.set_ylabel("output step")
    mirrored = float(np.mean(np.diag(example_attention[:, ::-1])))
    run.number("attention_on_mirrored_position", round(mirrored, 4))

    short, long = min(lengths), max(lengths)
    drop = mean["no attention", short] - mean["no attention", long]
    lead = mean["attention", long] - mean["no attention", long]
    run.claim(
        f"Without attention, symbol accuracy falls by at least 30 points from length {short} "
        f"to {long}",
        drop >= 0.3,
        f"fall {drop:+.3f}",
    )
    run.claim(
        f"At length {long}, attention is at least 20 points more accurate",
        lead >= 0.2,
        f"attention minus no attention {lead:+.3f}",
    )
    run.claim(
        f"With attention, symbol accuracy stays at or above 90% up to length {long}",
        min(mean["attention", t] for t in lengths) >= 0.9,
        f"lowest mean accuracy {min(mean['attention', t] for t in lengths):.3f}",
        quick=False,
    )
    run.answer(
        f"Reversing a sequence through one {hidden}-number state, symbol accuracy fell from "
        f"{mean['no attention', short]:.0%} at length {short} to "
        f"{mean['no attention', long]:.0%} at length {long}; with attention it was "
        f"{mean['attention', short]:.0%} and {mean['attention', long]:.0%}. The trained "
        f"attention put on average {mirrored:.0%} of its weight on the mirrored source "
        "position, the one symbol each output step needs."
    )
