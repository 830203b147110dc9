"""Train a character language model on the standard library's docstrings, then sample.

The recipe:

1. the text (:func:`~nnlab.text.load_stdlib_docstrings`) is cut into a training part and a
   held-out tail; :class:`~nnlab.text.CharLMDataset` turns each into (x, y) windows with y
   the next character of every position of x;
2. a :class:`~nnlab.models.CharTransformerLM` (or a :class:`~nnlab.models.CharRNNLM`) is
   trained with the mean cross-entropy over all positions through :func:`nnlab.train.fit`;
3. the held-out loss is compared with the **unigram entropy** of the characters (the best
   loss without context): well below it, the model uses the context;
4. samples at two temperatures show the trade-off: at low temperature the text is
   plausible but repetitive (few distinct trigrams), at T = 1 more varied and less correct.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from experiments.lab.core import Run, experiment
from nnlab import Generator, Tensor, manual_seed, optim
from nnlab.data import DataLoader
from nnlab.models import CharRNNLM, CharTransformerLM
from nnlab.models.language_model import distinct_ngrams, unigram_entropy
from nnlab.nn import functional as F
from nnlab.text import CharLMDataset, load_stdlib_docstrings
from nnlab.train import fit

__all__ = ["train_char_lm", "lm_cross_entropy"]


def lm_cross_entropy(logits: Tensor, targets: Any) -> Tensor:
    """Mean next-token cross-entropy over every position: logits (N, L, V), targets (N, L)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def train_char_lm(
    model: str = "transformer",
    max_chars: int = 400_000,
    seq_len: int = 64,
    batch_size: int = 16,
    epochs: int = 5,
    lr: float = 3e-3,
    d_model: int = 64,
    num_layers: int = 2,
    dropout: float = 0.0,
    temperatures: Sequence[float] = (0.5, 1.0),
    prompt: str = "Return the ",
    sample_len: int = 300,
    seed: int = 0,
    verbose: bool = False,
) -> dict[str, Any]:
    """Train a character LM on the first ``max_chars`` characters of the stdlib docstrings
    (the last 10 % held out) and sample from it.

    Adam (β₂ = 0.99), learning rate cosine-annealed to zero, gradient norm clipped at 1.

    Args:
        model: ``"transformer"`` (:class:`CharTransformerLM`, ``d_model``/``num_layers``)
            or ``"rnn"`` (:class:`CharRNNLM`, an LSTM with ``2·d_model`` units).
        max_chars: corpus size (default: 400 000).
        seq_len: window length, also the transformer's ``max_len`` (default: 64).
        batch_size, epochs, lr: training (defaults: 16, 5, 3e-3); small batches, many
            steps: for a small model the number of updates matters more than their size.
        d_model, num_layers, dropout: the model's size (defaults: 64, 2, 0.0).
        temperatures: sample once at each (default: (0.5, 1.0)).
        prompt: the text the samples continue (default: ``"Return the "``).
        sample_len: characters per sample (default: 300).
        seed: seeds the initialisation, shuffling and sampling (default: 0).
        verbose: print training progress.

    Returns:
        A dict: ``unigram_entropy`` (nats per character, of the training text),
        ``train_loss`` (per epoch), ``step_losses``, ``val_loss`` (held-out, nats),
        ``train_seconds``, ``samples`` and ``distinct_3`` (per temperature: the sampled
        text and its distinct-trigram ratio), ``model`` and ``dataset``.

    Example:
        >>> result = train_char_lm(max_chars=20_000, epochs=1)  # doctest: +SKIP
        >>> result["val_loss"] < result["unigram_entropy"]  # doctest: +SKIP
        True
    """
    manual_seed(seed)
    text = load_stdlib_docstrings(max_chars=max_chars, seed=seed)
    cut = int(len(text) * 0.9)
    chars = sorted(set(text))
    train_set = CharLMDataset(text[:cut], seq_len, chars=chars)
    val_set = CharLMDataset(text[cut:], seq_len, chars=chars)
    vocab = train_set.vocab_size
    if model == "transformer":
        net: Any = CharTransformerLM(vocab, d_model=d_model, nhead=4, num_layers=num_layers,
                                     max_len=seq_len, dropout=dropout)  # fmt: skip
    elif model == "rnn":
        net = CharRNNLM(vocab, embed_dim=d_model // 2, hidden_size=2 * d_model,
                        num_layers=num_layers, dropout=dropout)  # fmt: skip
    else:
        raise ValueError(f"train_char_lm: model must be 'transformer' or 'rnn', got {model!r}")
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    optimizer = optim.Adam(net.parameters(), lr=lr, betas=(0.9, 0.99))
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    start = time.perf_counter()
    history = fit(
        net, lm_cross_entropy, optimizer, loader, DataLoader(val_set, batch_size=256),
        epochs=epochs, scheduler=scheduler, scheduler_interval="step", grad_clip=1.0,
        verbose=verbose,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    net.eval()
    gen = Generator(seed)
    prompt_ids = train_set.encode(prompt)
    samples, distinct = {}, {}
    for t in temperatures:
        ids = net.generate(prompt_ids, sample_len, temperature=t, generator=gen).numpy()
        samples[t] = train_set.decode(ids)
        distinct[t] = distinct_ngrams(samples[t][len(prompt) :], 3)
    return {
        "unigram_entropy": unigram_entropy(train_set.data, vocab),
        "train_loss": list(history["loss"]),
        "step_losses": [s["loss"] for s in history.steps],
        "val_loss": float(history["val_loss"][-1]),
        "train_seconds": seconds,
        "samples": samples,
        "distinct_3": distinct,
        "model": net,
        "dataset": train_set,
    }


@experiment(
    "char-lm",
    answers=["recurrent-networks", "transformer"],
    quick=dict(max_chars=6_000, epochs=1, d_model=32),
    full=dict(max_chars=200_000, epochs=3, d_model=64),
)
def char_lm_lab(run: Run, max_chars: int, epochs: int, d_model: int) -> None:
    """Do a small transformer and an LSTM learn more than the character frequencies?"""
    results = {
        arm: train_char_lm(model=arm, max_chars=max_chars, epochs=epochs, d_model=d_model,
                           lr=1e-2, sample_len=200, seed=run.seed)
        for arm in ("transformer", "rnn")
    }  # fmt: skip
    entropy = results["transformer"]["unigram_entropy"]
    run.number("unigram_entropy_nats", round(entropy, 4))
    rows = []
    for arm, r in results.items():
        run.number(f"{arm}_val_loss_nats", round(r["val_loss"], 4))
        params = sum(p.numel() for p in r["model"].parameters())
        run.number(f"{arm}_parameters", params)
        rows.append((arm, params, round(r["val_loss"], 3), round(r["distinct_3"][1.0], 3),
                     r["samples"][0.5][:80]))  # fmt: skip
    run.table(
        "Held-out loss (nats per character) and a sample at temperature 0.5",
        ("model", "parameters", "held-out loss", "distinct trigrams at T=1", "sample"),
        rows,
    )
    fig = run.figure("loss", "Training loss per step against the unigram entropy")
    ax = fig.subplots()
    for arm, r in results.items():
        ax.plot(r["step_losses"], label=arm, alpha=0.8)
    ax.axhline(entropy, color="grey", linestyle=":", label="unigram entropy")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.legend()
    worst = max(r["val_loss"] for r in results.values())
    run.claim(
        "Both models' held-out loss is below the unigram entropy (they use the context)",
        worst < entropy,
        f"worst held-out loss {worst:.3f} vs entropy {entropy:.3f}",
        quick=False,
    )
    run.claim(
        "Both models' held-out loss is at least 0.5 nats below the unigram entropy",
        worst <= entropy - 0.5,
        f"worst held-out loss {worst:.3f} vs entropy {entropy:.3f}",
        quick=False,
    )
    t, l = results["transformer"]["val_loss"], results["rnn"]["val_loss"]
    verdict = (
        "both use the preceding characters"
        if worst < entropy
        else "at this size not both beat it yet"
    )
    run.answer(
        f"On held-out docstring text the transformer reached {t:.2f} and the LSTM {l:.2f} "
        f"nats per character, against {entropy:.2f} for the best context-free guess: "
        f"{verdict}."
    )
