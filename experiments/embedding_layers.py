"""What an embedding layer is: a table lookup that equals a one-hot vector times a matrix.

Two bag-of-words classifiers read the same token ids. One looks each id up in an
``nn.Embedding``; the other turns each id into a one-hot vector and multiplies it by an
``nn.Linear`` without bias whose weight is the transpose of the same table. Both start
from the same numbers, see the same batches and are trained side by side: their outputs,
gradients and whole training trajectories are compared. How much work each does is
counted (multiply-adds, input numbers), not timed, since timings depend on the machine.
"""

from __future__ import annotations

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.lab.core import Run, experiment
from nnlab import nn


class LookupClassifier(nn.Module):
    """Mean of the tokens' embedding rows, then a linear layer to two classes."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.table = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, 2)

    def forward(self, ids: nnlab.Tensor) -> nnlab.Tensor:
        return self.head(self.table(ids).mean(dim=1))


class OneHotClassifier(nn.Module):
    """The same model written as one-hot vectors times a bias-free linear layer."""

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        self.vocab = vocab
        self.table = nn.Linear(vocab, dim, bias=False)
        self.head = nn.Linear(dim, 2)

    def forward(self, ids: nnlab.Tensor) -> nnlab.Tensor:
        one_hot = F.one_hot(ids, self.vocab).float()  # (B, L, V)
        return self.head(self.table(one_hot).mean(dim=1))


def matched_pair(vocab: int, dim: int, seed: int) -> tuple[LookupClassifier, OneHotClassifier]:
    """Both models holding the same numbers: the linear weight is the table transposed."""
    nnlab.manual_seed(seed)
    lookup = LookupClassifier(vocab, dim)
    one_hot = OneHotClassifier(vocab, dim)
    with nnlab.no_grad():
        one_hot.table.weight.array[...] = lookup.table.weight.array.T
        one_hot.head.weight.array[...] = lookup.head.weight.array
        one_hot.head.bias.array[...] = lookup.head.bias.array
    return lookup, one_hot


def bag_of_words_task(
    rng: np.random.Generator, n: int, vocab: int, length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sequences of Zipf-distributed token ids; each token carries a hidden score and the
    label says whether a sequence's scores sum above zero (a toy sentiment task)."""
    p = 1.0 / np.arange(1, vocab + 1)
    ids = rng.choice(vocab, size=(n, length), p=p / p.sum())
    score = rng.standard_normal(vocab)
    return ids.astype(np.int64), (score[ids].sum(axis=1) > 0).astype(np.int64)


def table_gradient(model: nn.Module, ids: nnlab.Tensor, y: nnlab.Tensor) -> np.ndarray:
    """The gradient of the batch loss with respect to the table, as a (V, D) array."""
    model.zero_grad()
    F.cross_entropy(model(ids), y).backward()
    grad = model.table.weight.grad.array
    return grad.T if isinstance(model, OneHotClassifier) else grad


def train_side_by_side(
    models: tuple[nn.Module, nn.Module],
    x: np.ndarray,
    y: np.ndarray,
    order: np.ndarray,
) -> np.ndarray:
    """Adam on both models with the mini-batches whose indices are the rows of ``order``;
    the loss of each at every step, shape (steps, 2)."""
    opts = [nnlab.optim.Adam(m.parameters(), lr=0.01) for m in models]
    losses = np.zeros((len(order), 2))
    for step, idx in enumerate(order):
        ids, target = nnlab.tensor(x[idx]), nnlab.tensor(y[idx])
        for k, (model, opt) in enumerate(zip(models, opts)):
            loss = F.cross_entropy(model(ids), target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses[step, k] = loss.item()
    return losses


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    with nnlab.no_grad():
        return float((model(nnlab.tensor(x)).argmax(1).numpy() == y).mean())


@experiment(
    "embedding-lookup",
    answers=["embedding-layer"],
    quick=dict(vocab=200, dim=16, length=12, n=600, steps=150, batch=32, n_seeds=3),
    full=dict(vocab=500, dim=32, length=20, n=4000, steps=600, batch=64, n_seeds=4),
)
def embedding_lookup(
    run: Run, vocab: int, dim: int, length: int, n: int, steps: int, batch: int, n_seeds: int
) -> None:
    """Is an embedding layer anything more than a one-hot vector times a weight matrix?"""
    rng = run.rng(0)
    x, y = bag_of_words_task(rng, 2 * n, vocab, length)
    x_train, y_train, x_test, y_test = x[:n], y[:n], x[n:], y[n:]
    order = rng.integers(0, n, size=(steps, batch))  # one batch order for both arms
    first_ids, first_y = nnlab.tensor(x_train[order[0]]), nnlab.tensor(y_train[order[0]])

    out_diff, grad_diff, loss_diff, weight_diff = [], [], [], []
    rows_touched, rows_used = [], []
    acc: dict[str, list[float]] = {"lookup": [], "one-hot": []}
    curves = []
    for seed in run.seeds(n_seeds):
        lookup, one_hot = matched_pair(vocab, dim, seed)
        with nnlab.no_grad():
            out_diff.append(
                float(np.abs(lookup(first_ids).numpy() - one_hot(first_ids).numpy()).max())
            )
        g_lookup = table_gradient(lookup, first_ids, first_y)
        g_one_hot = table_gradient(one_hot, first_ids, first_y)
        grad_diff.append(float(np.abs(g_lookup - g_one_hot).max()))
        rows_touched.append(int((np.abs(g_lookup).sum(axis=1) > 0).sum()))
        rows_used.append(len(np.unique(x_train[order[0]])))

        losses = train_side_by_side((lookup, one_hot), x_train, y_train, order)
        curves.append(losses)
        loss_diff.append(float(np.abs(losses[:, 0] - losses[:, 1]).max()))
        weight_diff.append(
            float(np.abs(lookup.table.weight.array - one_hot.table.weight.array.T).max())
        )
        acc["lookup"].append(accuracy(lookup, x_test, y_test))
        acc["one-hot"].append(accuracy(one_hot, x_test, y_test))

    tokens = batch * length
    run.number("max_output_difference", max(out_diff))
    run.number("max_gradient_difference", max(grad_diff))
    run.number("max_loss_difference_during_training", max(loss_diff))
    run.number("max_table_difference_after_training", max(weight_diff))
    run.number("rows_with_gradient_first_batch", rows_touched[0])
    run.number("distinct_ids_first_batch", rows_used[0])
    run.number("one_hot_multiply_adds_per_batch", tokens * vocab * dim)
    run.number("lookup_rows_copied_per_batch", tokens)
    run.number("one_hot_input_numbers_per_batch", tokens * vocab)
    for arm, values in acc.items():
        run.number(f"{arm}_test_accuracy_mean", round(float(np.mean(values)), 4))
    run.table(
        "Lookup against one-hot times a linear layer, per seed",
        ("seed", "max |output diff|", "max |grad diff|", "max |loss diff| in training",
         "max |table diff| after", "test acc lookup", "test acc one-hot"),
        [
            (s, out_diff[i], grad_diff[i], loss_diff[i], weight_diff[i],
             round(acc["lookup"][i], 4), round(acc["one-hot"][i], 4))
            for i, s in enumerate(run.seeds(n_seeds))
        ],
    )  # fmt: skip
    run.table(
        "Work per batch of token ids (counted, not timed)",
        ("quantity", "embedding lookup", "one-hot x linear"),
        [
            ("numbers in the input", tokens, tokens * vocab),
            ("multiply-adds for the table", 0, tokens * vocab * dim),
            ("table rows with a non-zero gradient", rows_touched[0], rows_touched[0]),
        ],
    )
    _plot(run, curves)

    run.claim(
        "The lookup and the one-hot product give the same outputs (max difference at most 1e-6)",
        max(out_diff) <= 1e-6,
        f"max |difference| {max(out_diff):.2e}",
    )
    run.claim(
        "They give the same gradient for the table (max difference at most 1e-6)",
        max(grad_diff) <= 1e-6,
        f"max |difference| {max(grad_diff):.2e}",
    )
    run.claim(
        "Trained side by side on the same batches they stay the same model: losses within "
        "1e-4 at every step and tables within 1e-4 at the end",
        max(loss_diff) <= 1e-4 and max(weight_diff) <= 1e-4,
        f"max loss difference {max(loss_diff):.2e}, max table difference {max(weight_diff):.2e}",
    )
    run.claim(
        "A batch's gradient touches exactly the table rows of the ids it contains",
        rows_touched == rows_used,
        f"rows with a gradient {rows_touched}, distinct ids {rows_used}",
    )
    run.answer(
        f"An embedding layer is a trainable table with one row per token id; looking a row up is "
        f"exactly a one-hot vector times the table. Holding the same numbers, the two models' "
        f"outputs differed by at most {max(out_diff):.1e} and their table gradients by at most "
        f"{max(grad_diff):.1e}, and "
        f"trained side by side for {steps} Adam steps over {n_seeds} seeds their losses stayed "
        f"within {max(loss_diff):.1e} (test accuracy {np.mean(acc['lookup']):.3f} and "
        f"{np.mean(acc['one-hot']):.3f}). Only "
        f"the {rows_touched[0]} rows of the ids in a batch get a gradient. The difference is the "
        f"work: for a batch of {tokens} tokens and {vocab} words the one-hot form builds "
        f"{tokens * vocab} input numbers and does {tokens * vocab * dim} multiply-adds, mostly by "
        f"zero, where the lookup copies {tokens} rows."
    )


def _plot(run: Run, curves: list[np.ndarray]) -> None:
    """The two arms' training losses (first seed) and their gap at every step (all seeds)."""
    fig = run.figure(
        "trajectories", "Left: training loss of the lookup and the one-hot model (first seed); "
        "right: their absolute loss difference per step, every seed.", width=9.0, height=3.6,
    )  # fmt: skip
    ax_loss, ax_gap = fig.subplots(1, 2)
    ax_loss.plot(curves[0][:, 0], label="nn.Embedding lookup", lw=3, alpha=0.5)
    ax_loss.plot(curves[0][:, 1], label="one-hot x Linear(bias=False)", lw=1, color="k")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss")
    ax_loss.legend()
    for losses in curves:
        # a difference of exactly zero cannot be drawn on a log scale
        ax_gap.plot(np.maximum(np.abs(losses[:, 0] - losses[:, 1]), 1e-12))
    ax_gap.set_yscale("log")
    ax_gap.set_ylim(1e-12, 1e-2)
    ax_gap.set_xlabel("step")
    ax_gap.set_ylabel("|loss difference| (1e-12 = identical)")
