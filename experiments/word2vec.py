"""word2vec on the standard library's docstrings: train skip-gram or CBOW with negative
sampling and look at the neighbours it finds.

The model, the corpus (subsampling, dynamic windows, the noise distribution) and the
queries on the result are library code (:mod:`nnlab.text.word2vec`); this is the training
loop that runs them: each epoch subsamples the corpus afresh, makes shuffled (input,
target) examples, draws the negatives of every batch and takes one Adam step per batch.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from experiments.lab.core import Run, experiment
from nnlab import Generator, optim
from nnlab.text import Word2Vec, Word2VecCorpus, WordVectors, stdlib_documents
from nnlab.text.word2vec import sample_noise

__all__ = ["train_word2vec", "word2vec_modes"]


def train_word2vec(
    texts: Sequence[str] | None = None,
    *,
    mode: str = "skipgram",
    embedding_dim: int = 64,
    window: int = 5,
    negatives: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    epochs: int = 8,
    batch_size: int = 1024,
    lr: float = 0.01,
    max_seconds: float | None = None,
    seed: int = 0,
) -> WordVectors:
    """Train word2vec with negative sampling and Adam; by default on the standard-library
    docstrings (:func:`nnlab.text.load_stdlib_docstrings`, one sentence per docstring).

    Each epoch subsamples the corpus afresh, makes shuffled (input, target) examples, and
    for every batch draws ``negatives`` noise words per example from ``P_n ∝ count^0.75``.

    Args:
        texts: the sentences (default: the stdlib docstrings, about 160k words).
        mode: ``"skipgram"`` (default) or ``"cbow"``.
        embedding_dim: D (default: 64).
        window: the largest context radius (default: 5).
        negatives: noise words per example K (default: 5).
        min_count: drop rarer words (default: 5).
        sample: the subsampling threshold t; 0 disables it (default: 1e-3).
        epochs: passes over the corpus (default: 8; about 4 s each on a free CPU core).
        batch_size: examples per step (default: 1024).
        lr: Adam's learning rate (default: 0.01).
        max_seconds: stop after this much training time (default: no limit).
        seed: seeds the initialisation, subsampling, shuffling and noise (default: 0).

    Returns:
        :class:`WordVectors` of the input vectors, with ``.losses`` (mean loss per epoch),
        ``.model`` and ``.corpus`` attached.

    Example:
        >>> texts = ["red green blue red green blue"] * 30 + ["one two three one two"] * 30
        >>> wv = train_word2vec(
        ...     texts, embedding_dim=8, min_count=1, sample=0, epochs=5, batch_size=64
        ... )
        >>> wv.losses[-1] < wv.losses[0]
        True
        >>> sorted(w for w, _ in wv.most_similar("red", k=2))
        ['blue', 'green']
    """
    if texts is None:
        texts = stdlib_documents()
    corpus = Word2VecCorpus(texts, min_count=min_count)
    gen = Generator(seed)
    rng = gen.numpy
    model = Word2Vec(len(corpus), embedding_dim, mode)
    model.reset_parameters(gen)
    opt = optim.Adam(model.parameters(), lr=lr)
    cdf = np.cumsum(corpus.noise_distribution())
    losses: list[float] = []
    start = time.perf_counter()
    for _ in range(epochs):
        if mode == "skipgram":
            inputs, targets = corpus.skipgram_pairs(rng, window, sample)
        else:
            inputs, targets, _ = corpus.cbow_examples(rng, window, sample)
        total, seen = 0.0, 0
        for lo in range(0, len(targets), batch_size):
            x, y = inputs[lo : lo + batch_size], targets[lo : lo + batch_size]
            loss = model(x, y, sample_noise(rng, cdf, (len(y), negatives)))
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            seen += len(y)
            if max_seconds is not None and time.perf_counter() - start > max_seconds:
                break
        losses.append(total / max(seen, 1))
        if max_seconds is not None and time.perf_counter() - start > max_seconds:
            break
    wv = WordVectors(corpus.itos, model.in_embed.array.copy())
    wv.losses, wv.seconds = losses, time.perf_counter() - start
    wv.model, wv.corpus = model, corpus
    return wv


# -- the lab experiment: skip-gram against CBOW -----------------------------------------------

#: Word pairs that play matching roles in the docstrings (counterparts, opposites, sister
#: types), chosen before any training: a good embedding puts each pair close together.
RELATED_PAIRS = (
    ("read", "write"), ("true", "false"), ("start", "end"), ("open", "close"),
    ("key", "value"), ("get", "set"), ("encode", "decode"), ("input", "output"),
    ("first", "last"), ("minimum", "maximum"), ("client", "server"), ("upper", "lower"),
    ("left", "right"), ("int", "float"), ("list", "tuple"), ("add", "remove"),
    ("load", "dump"), ("source", "destination"), ("row", "column"), ("width", "height"),
    ("year", "month"), ("hour", "minute"), ("file", "directory"), ("send", "receive"),
    ("lines", "line"), ("bytes", "str"), ("request", "response"), ("parent", "child"),
)  # fmt: skip

#: Words whose nearest neighbours are shown in the table.
QUERY_WORDS = ("read", "true", "file", "list", "start", "thread")


def pair_cosines(wv: WordVectors, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
    """The cosine similarity of each pair's two unit vectors."""
    a = wv.unit[[wv.stoi[p] for p, _ in pairs]]
    b = wv.unit[[wv.stoi[q] for _, q in pairs]]
    return (a * b).sum(axis=1)


def separation_auc(related: np.ndarray, random: np.ndarray) -> float:
    """The chance that a related pair is more similar than a random one (ROC AUC; ties
    count half): 0.5 means the vectors do not tell related words apart."""
    greater = (related[:, None] > random[None, :]).mean()
    ties = (related[:, None] == random[None, :]).mean()
    return float(greater + 0.5 * ties)


def examples_per_epoch(corpus: Word2VecCorpus, mode: str, window: int, seed: int) -> int:
    """How many training examples (and so loss terms) one epoch of ``mode`` makes."""
    rng = np.random.default_rng(seed)
    if mode == "skipgram":
        return len(corpus.skipgram_pairs(rng, window)[1])
    return len(corpus.cbow_examples(rng, window)[1])


@experiment(
    "word2vec-modes",
    answers=["embeddings", "skip-gram-and-cbow"],
    quick=dict(doc_fraction=0.2, epochs=2, n_seeds=2, n_random=2000),
    full=dict(doc_fraction=1.0, epochs=3, n_seeds=3, n_random=5000),
)
def word2vec_modes(run: Run, doc_fraction: float, epochs: int, n_seeds: int, n_random: int) -> None:
    """What do word vectors learned by skip-gram and by CBOW capture, and how do they differ?"""
    docs = list(stdlib_documents())
    keep = np.sort(run.rng(0).permutation(len(docs))[: int(doc_fraction * len(docs))])
    texts = [docs[i] for i in keep]
    corpus = Word2VecCorpus(texts)
    pairs = [(a, b) for a, b in RELATED_PAIRS if a in corpus.stoi and b in corpus.stoi]
    random_ids = run.rng(1).integers(0, len(corpus), size=(n_random, 2))
    random_ids = random_ids[random_ids[:, 0] != random_ids[:, 1]]
    random_pairs = [(corpus.itos[i], corpus.itos[j]) for i, j in random_ids]
    window = 5
    modes = ("skipgram", "cbow")
    auc: dict[str, list[float]] = {m: [] for m in modes}
    losses: dict[str, list[list[float]]] = {m: [] for m in modes}
    cosines: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    neighbours: dict[str, WordVectors] = {}
    for seed in run.seeds(n_seeds):
        for mode in modes:
            # the same seed gives both modes the same initial vectors
            wv = train_word2vec(texts, mode=mode, window=window, epochs=epochs, seed=seed)
            related, random = pair_cosines(wv, pairs), pair_cosines(wv, random_pairs)
            auc[mode].append(separation_auc(related, random))
            losses[mode].append(wv.losses)
            if mode not in cosines:  # the first seed's vectors are the ones shown
                cosines[mode], neighbours[mode] = (related, random), wv
    examples = {m: examples_per_epoch(corpus, m, window, run.seed) for m in modes}

    run.number("vocabulary", len(corpus))
    run.number("tokens", corpus.n_tokens)
    run.number("related_pairs_in_vocabulary", len(pairs))
    for m in modes:
        run.number(f"{m}_auc_mean", round(float(np.mean(auc[m])), 4))
        run.number(f"{m}_auc_std", round(float(np.std(auc[m])), 4))
        run.number(f"{m}_final_loss", round(float(np.mean([ls[-1] for ls in losses[m]])), 4))
        run.number(f"{m}_examples_per_epoch", examples[m])
        run.number(f"{m}_related_cosine_median", round(float(np.median(cosines[m][0])), 4))
        run.number(f"{m}_random_cosine_median", round(float(np.median(cosines[m][1])), 4))
    run.table(
        "Related pairs against random pairs (AUC over seeds) and the cost of an epoch",
        ("mode", "AUC mean", "AUC min", "AUC max", "examples per epoch", "final loss"),
        [
            (m, round(float(np.mean(auc[m])), 4), round(min(auc[m]), 4), round(max(auc[m]), 4),
             examples[m], run.numbers[f"{m}_final_loss"])
            for m in modes
        ],
    )  # fmt: skip
    queries = [w for w in QUERY_WORDS if w in corpus.stoi]
    run.table(
        "Five nearest neighbours (first seed)",
        ("word", *modes),
        [
            (w, *(", ".join(n for n, _ in neighbours[m].most_similar(w, k=5)) for m in modes))
            for w in queries
        ],
    )
    _plot_word2vec(run, losses, cosines)

    ratio = examples["skipgram"] / examples["cbow"]
    run.number("skipgram_to_cbow_examples_ratio", round(ratio, 3))
    worst = min(min(auc[m]) for m in modes)
    run.claim(
        "Both skip-gram and CBOW place related word pairs closer than random pairs: "
        "AUC at least 0.8 for every seed and mode",
        worst >= 0.8,
        f"lowest AUC {worst:.3f}",
        quick=False,
    )
    run.claim(
        "Skip-gram makes at least 3 times as many training examples per epoch as CBOW "
        "(one per context word rather than one per centre word)",
        ratio >= 3.0,
        f"ratio {ratio:.2f}",
    )
    sg, cb = float(np.mean(auc["skipgram"])), float(np.mean(auc["cbow"]))
    run.claim(
        "On this small corpus skip-gram separates related pairs at least as well as CBOW "
        "(mean AUC over seeds, equal epochs)",
        sg >= cb,
        f"skip-gram {sg:.3f}, CBOW {cb:.3f}",
        quick=False,
    )
    w = queries[0]
    near = ", ".join(n for n, _ in neighbours["skipgram"].most_similar(w, 3))
    run.answer(
        f"An embedding maps each of the {len(corpus)} words to a dense vector learned from the "
        f"contexts it appears in ({corpus.n_tokens} tokens of standard-library docstrings). "
        f"Words that play matching roles end up close: a related pair (like read/write) is "
        f"more similar than a random pair with probability {sg:.2f} for skip-gram and "
        f"{cb:.2f} for CBOW (mean over {n_seeds} seeds, {len(pairs)} pairs); the nearest "
        f"neighbours of '{w}' are {near} "
        f"(skip-gram). Skip-gram predicts each context word from the centre word, CBOW predicts "
        f"the centre word from the mean of its context: skip-gram made {ratio:.1f} times as many "
        f"training examples per epoch ({examples['skipgram']} against {examples['cbow']}), so CBOW "
        "is the cheaper pass over the same text."
    )


def _plot_word2vec(
    run: Run,
    losses: dict[str, list[list[float]]],
    cosines: dict[str, tuple[np.ndarray, np.ndarray]],
) -> None:
    """Loss per epoch (every seed) and the cosine of related against random pairs."""
    fig = run.figure(
        "word2vec", "Left: mean loss per epoch, every seed. Right: cosine similarity of the "
        "related pairs and of random pairs (first seed).", width=9.0, height=3.8,
    )  # fmt: skip
    ax_loss, ax_cos = fig.subplots(1, 2)
    for i, (mode, runs) in enumerate(losses.items()):
        for j, curve in enumerate(runs):
            ax_loss.plot(range(1, len(curve) + 1), curve, color=f"C{i}", marker="o",
                         label=mode if j == 0 else None)  # fmt: skip
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("negative-sampling loss")
    ax_loss.legend()
    bins = np.linspace(-0.5, 1.0, 31)
    for i, (mode, (related, random)) in enumerate(cosines.items()):
        ax_cos.hist(random, bins=bins, density=True, histtype="step", color=f"C{i}",
                    linestyle=":", label=f"{mode}, random pairs")  # fmt: skip
        ax_cos.hist(related, bins=bins, density=True, histtype="step", color=f"C{i}",
                    label=f"{mode}, related pairs")  # fmt: skip
    ax_cos.set_xlabel("cosine similarity")
    ax_cos.set_ylabel("density")
    ax_cos.legend(fontsize=8)
