"""How hyperparameters are searched for: grid, random, TPE and Hyperband on one budget.

The task is a one-hidden-layer MLP on the standardised digits, trained with AdamW. Four
of its settings form the search space (learning rate, weight decay, hidden width,
dropout); everything else (depth, batch size, epochs, optimiser) is fixed by hand, and
the weights are what training learns. Each search method gets the same budget, counted in
epochs trained: a grid, random search and TPE spend it on whole trials, while Hyperband
stops unpromising trials early and spends what it saves on more of them. A study
minimises the validation loss after the last epoch; a held-out test split, never seen by
the search, scores the configuration each study picks. Optuna runs every study (in
memory); nnlab trains every trial. Within one search seed every trial starts from the
same initialisation seed and sees the same batch order, so studies differ only in the
configurations they try.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits, evaluate
from experiments.lab.core import Run, experiment
from nnlab import nn

BATCH_SIZE = 64


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: its range, whether it is searched on a log scale,
    and whether it is an integer."""

    name: str
    low: float
    high: float
    log: bool
    integer: bool = False

    def suggest(self, trial: optuna.Trial) -> float | int:
        """The trial's value for this dimension (Optuna's ``suggest_int``/``suggest_float``)."""
        if self.integer:
            return trial.suggest_int(self.name, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.name, self.low, self.high, log=self.log)

    def points(self, n: int) -> list[float | int]:
        """``n`` values spread over the range as a grid would place them: the centres of
        ``n`` equal cells, measured on the log scale where the dimension is searched
        on one."""
        a, b = (math.log(self.low), math.log(self.high)) if self.log else (self.low, self.high)
        centres = [a + (b - a) * (i + 0.5) / n for i in range(n)]
        values = [math.exp(c) if self.log else c for c in centres]
        return [round(v) for v in values] if self.integer else values

    def centre(self) -> float | int:
        """The middle of the range (on the log scale where searched on one)."""
        return self.points(1)[0]


SPACE = (
    Dimension("lr", 1e-4, 1e-1, log=True),
    Dimension("weight_decay", 1e-6, 1e-1, log=True),
    Dimension("width", 8, 256, log=True, integer=True),
    Dimension("dropout", 0.0, 0.5, log=False),
)


@dataclass(frozen=True)
class Task:
    """The data of one search (train, validation and test splits) and the number of
    epochs each trial trains."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    epochs: int


def split_digits(rng: np.random.Generator, n_train: int, n_val: int, epochs: int) -> Task:
    """The digits shuffled once and cut into train, validation and test (the rest)."""
    x, y = digits()
    perm = rng.permutation(len(y))
    tr, va, te = perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]
    return Task(x[tr], y[tr], x[va], y[va], x[te], y[te], epochs)


def mlp(width: int, dropout: float) -> nn.Sequential:
    """64 pixels -> ``width`` ReLU units with dropout -> 10 class logits."""
    return nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, 10))


class EpochBudget:
    """The epochs a study may train in all; every epoch any trial trains is charged."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.spent = 0

    @property
    def exhausted(self) -> bool:
        return self.spent >= self.total


def make_objective(task: Task, seed: int, budget: EpochBudget) -> Callable[[optuna.Trial], float]:
    """The study's objective: train the MLP the trial's parameters describe, report the
    validation loss after every epoch (so a pruner can stop the trial), and return the
    last one.

    A trial the budget runs out on is stopped like a pruned one, so that every study
    trains exactly ``budget.total`` epochs. The test loss and accuracy are stored on the
    trial for the report only; the sampler and pruner see validation values alone.
    """
    orders = np.random.default_rng(seed).permuted(
        np.tile(np.arange(len(task.y_train)), (task.epochs, 1)), axis=1
    )
    xs, ys = nnlab.tensor(task.x_train), nnlab.tensor(task.y_train)

    def objective(trial: optuna.Trial) -> float:
        p = {d.name: d.suggest(trial) for d in SPACE}
        nnlab.manual_seed(seed)  # every trial of this search seed starts alike
        model = mlp(p["width"], p["dropout"])
        opt = nnlab.optim.AdamW(model.parameters(), lr=p["lr"], weight_decay=p["weight_decay"])
        val_loss = math.inf
        for epoch in range(task.epochs):
            if budget.exhausted:
                trial.set_user_attr("cut_by_budget", True)
                raise optuna.TrialPruned()
            model.train()
            for start in range(0, len(task.y_train), BATCH_SIZE):
                idx = nnlab.tensor(orders[epoch, start : start + BATCH_SIZE])
                loss = F.cross_entropy(model(xs[idx]), ys[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
            budget.spent += 1
            model.eval()
            val_loss, _ = evaluate(model, task.x_val, task.y_val)
            if not math.isfinite(val_loss):
                val_loss = math.inf  # a diverged trial: the worst value, never NaN
            trial.report(val_loss, epoch + 1)
            if trial.should_prune():
                raise optuna.TrialPruned()
        test_loss, test_acc = evaluate(model, task.x_test, task.y_test)
        trial.set_user_attr("test_loss", test_loss)
        trial.set_user_attr("test_accuracy", test_acc)
        return val_loss

    return objective


def grid_shape(n_trials: int) -> dict[str, int]:
    """How many grid values each dimension gets so that the grid has ``n_trials`` points:
    factors of two, handed out in the order of ``SPACE`` (the learning rate first, as a
    practitioner would refine the setting they expect to matter most)."""
    shape = {d.name: 1 for d in SPACE}
    remaining = n_trials
    i = 0
    while remaining > 1:
        if remaining % 2:
            raise ValueError(f"grid_shape: n_trials must be a power of two, got {n_trials}")
        shape[SPACE[i % len(SPACE)].name] *= 2
        remaining //= 2
        i += 1
    return shape


@dataclass(frozen=True)
class Method:
    """A search method: Optuna's sampler and pruner for a search seed."""

    sampler: Callable[[int], optuna.samplers.BaseSampler]
    pruner: Callable[[], optuna.pruners.BasePruner]


def methods(n_trials: int, epochs: int) -> dict[str, Method]:
    """Grid, random and TPE search without pruning, and random and TPE with Hyperband.

    TPE draws its first ten trials (Optuna's ``n_startup_trials``) with a random sampler of
    the same seed, so TPE and random search of one seed share those trials and differ
    only where TPE's model starts to choose.
    """
    grid = {d.name: d.points(n) for d, n in zip(SPACE, grid_shape(n_trials).values())}

    def hyperband() -> optuna.pruners.BasePruner:
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=epochs, reduction_factor=3
        )

    return {
        "grid": Method(
            lambda s: optuna.samplers.GridSampler(grid, seed=s), optuna.pruners.NopPruner
        ),
        "random": Method(lambda s: optuna.samplers.RandomSampler(seed=s), optuna.pruners.NopPruner),
        "tpe": Method(lambda s: optuna.samplers.TPESampler(seed=s), optuna.pruners.NopPruner),
        "random+hyperband": Method(lambda s: optuna.samplers.RandomSampler(seed=s), hyperband),
        "tpe+hyperband": Method(lambda s: optuna.samplers.TPESampler(seed=s), hyperband),
    }


@dataclass(frozen=True)
class History:
    """One study's trials in order: when each ended (epochs spent, seconds since the
    start) and the best validation loss of the completed trials so far."""

    study: optuna.Study
    epochs: np.ndarray
    seconds: np.ndarray
    best: np.ndarray

    def best_trial(self) -> optuna.trial.FrozenTrial:
        return self.study.best_trial

    def best_at(self, x: np.ndarray, along: np.ndarray) -> np.ndarray:
        """The best-so-far value at each point of ``x`` on the axis ``along`` (epochs or
        seconds): that of the last trial ended by then; NaN before any completed."""
        ended = np.searchsorted(along, x, side="right") - 1
        return np.where(ended >= 0, self.best[np.maximum(ended, 0)], np.nan)


def search(method: Method, task: Task, seed: int, budget_epochs: int) -> History:
    """Run one study of ``method`` until ``budget_epochs`` epochs are spent."""
    budget = EpochBudget(budget_epochs)
    # Hyperband assigns a trial to a bracket by hashing the study's name with the trial's
    # number; a fixed name (not Optuna's random default) keeps the run reproducible.
    study = optuna.create_study(
        study_name=f"seed-{seed}", sampler=method.sampler(seed), pruner=method.pruner()
    )
    epochs, seconds = [], []
    start = time.perf_counter()

    def record(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        epochs.append(budget.spent)
        seconds.append(time.perf_counter() - start)
        if budget.exhausted:
            study.stop()

    # Each trial trains at least one epoch, so the budget bounds the number of trials.
    study.optimize(
        make_objective(task, seed, budget),
        n_trials=budget_epochs,
        callbacks=[record],
    )
    values = [
        t.value if t.state == optuna.trial.TrialState.COMPLETE else math.inf for t in study.trials
    ]
    return History(study, np.array(epochs), np.array(seconds), np.minimum.accumulate(values))


def distinct_values(study: optuna.Study) -> dict[str, int]:
    """How many different values of each hyperparameter the study's trials tried."""
    return {d.name: len({t.params[d.name] for t in study.trials}) for d in SPACE}


def importances(study: optuna.Study, seed: int) -> dict[str, float]:
    """fANOVA importances of the hyperparameters (Optuna's default evaluator), summing
    to one: the share of the validation loss's variance over the space that each one
    explains alone."""
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    return optuna.importance.get_param_importances(study, evaluator=evaluator)


def sweep(task: Task, dim: Dimension, n_points: int, seeds: list[int]) -> np.ndarray:
    """The final validation loss along ``dim`` (``n_points`` grid values) with the other
    hyperparameters at the centre of their ranges; one row per training seed."""
    losses = np.zeros((len(seeds), n_points))
    for j, value in enumerate(dim.points(n_points)):
        fixed = {d.name: d.centre() for d in SPACE} | {dim.name: value}
        for i, seed in enumerate(seeds):
            objective = make_objective(task, seed, EpochBudget(task.epochs))
            losses[i, j] = objective(optuna.trial.FixedTrial(fixed))
    return losses


def spread(values: list[float]) -> tuple[float, float]:
    """Mean and standard deviation over seeds."""
    return float(np.mean(values)), float(np.std(values))


def plot_band(ax, x: np.ndarray, curves: np.ndarray, label: str, color: str) -> None:
    """Mean over seeds (rows of ``curves``) with the min-max band, where every seed has a
    value."""
    curves = np.where(np.isfinite(curves), curves, np.nan)
    mask = ~np.isnan(curves).any(axis=0)
    ax.plot(x[mask], curves[:, mask].mean(axis=0), color=color, label=label)
    ax.fill_between(
        x[mask], curves[:, mask].min(axis=0), curves[:, mask].max(axis=0), color=color, alpha=0.2
    )


def plot_histories(run: Run, histories: dict[str, list[History]], budget: int) -> None:
    """Best-so-far validation loss against trials, epochs spent and seconds."""
    fig = run.figure(
        "history",
        "Best validation loss so far against trials started, epochs trained and wall "
        "seconds: mean over search seeds, band from the best to the worst seed",
        width=13,
        height=4,
    )
    axes = fig.subplots(1, 3, sharey=True)
    epochs = np.arange(1, budget + 1)
    for k, (name, hs) in enumerate(histories.items()):
        color = f"C{k}"
        n = min(len(h.best) for h in hs)
        plot_band(axes[0], np.arange(1, n + 1), np.stack([h.best[:n] for h in hs]), name, color)
        plot_band(axes[1], epochs, np.stack([h.best_at(epochs, h.epochs) for h in hs]), name, color)
        seconds = np.linspace(0, max(h.seconds[-1] for h in hs), 200)
        plot_band(
            axes[2], seconds, np.stack([h.best_at(seconds, h.seconds) for h in hs]), name, color
        )
    for ax, xlabel in zip(axes, ("trials started", "epochs trained", "wall seconds")):
        ax.set_xlabel(xlabel)
        ax.set_yscale("log")
    # The first trials' losses are large; the axis shows where the methods differ.
    finals = [h.best[-1] for hs in histories.values() for h in hs]
    axes[0].set_ylim(0.8 * min(finals), 5 * max(finals))
    axes[0].set_ylabel("best validation loss so far")
    axes[0].legend()


def plot_coverage(run: Run, grid: optuna.Study, random: optuna.Study) -> None:
    """Validation loss against learning rate for the trials of a grid and of random
    search of the same size."""
    fig = run.figure(
        "coverage",
        "Validation loss of each trial against its learning rate (first search seed): the "
        "grid tries few learning rates, random search as many as it has trials",
    )
    ax = fig.subplots()
    for study, name, marker in ((grid, "grid", "s"), (random, "random", "o")):
        lr = [t.params["lr"] for t in study.trials]
        ax.scatter(lr, [t.value for t in study.trials], label=name, marker=marker, alpha=0.7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("validation loss")
    ax.legend()


@experiment(
    "tuning",
    answers=["hyperparameter-tuning", "hyperparameters"],
    quick=dict(n_train=300, n_val=200, epochs=2, n_trials=8, n_seeds=2, sweep_points=3),
    full=dict(n_train=1000, n_val=400, epochs=16, n_trials=32, n_seeds=5, sweep_points=9),
)
def tuning(
    run: Run, n_train: int, n_val: int, epochs: int, n_trials: int, n_seeds: int, sweep_points: int
) -> None:
    """Do random search, TPE and Hyperband find better hyperparameters than a grid on the
    same budget, and which hyperparameters matter?"""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    task = split_digits(run.rng(0), n_train, n_val, epochs)
    budget = n_trials * epochs
    seeds = run.seeds(n_seeds)
    histories = {
        name: [search(method, task, seed, budget) for seed in seeds]
        for name, method in methods(n_trials, epochs).items()
    }
    run.number("budget_epochs", budget)

    # --- the methods on one budget ---
    best = {name: [h.best[-1] for h in hs] for name, hs in histories.items()}
    started = {name: [len(h.best) for h in hs] for name, hs in histories.items()}
    rows = []
    for name, hs in histories.items():
        completed = [
            sum(t.state == optuna.trial.TrialState.COMPLETE for t in h.study.trials) for h in hs
        ]
        val_mean, val_std = spread(best[name])
        acc_mean, acc_std = spread([h.best_trial().user_attrs["test_accuracy"] for h in hs])
        test_loss, _ = spread([h.best_trial().user_attrs["test_loss"] for h in hs])
        seconds, _ = spread([h.seconds[-1] for h in hs])
        key = name.replace("+", "_")
        run.number(f"{key}_trials", float(np.mean(started[name])))
        run.number(f"{key}_best_val_loss", round(val_mean, 4))
        run.number(f"{key}_test_accuracy", round(acc_mean, 4))
        run.number(f"{key}_seconds", round(seconds, 2))
        rows.append(
            (
                name,
                float(np.mean(started[name])),
                float(np.mean(completed)),
                round(val_mean, 4),
                round(val_std, 4),
                round(test_loss, 4),
                round(acc_mean, 4),
                round(acc_std, 4),
                round(seconds, 2),
            )
        )
    run.table(
        f"Each method on {budget} epochs, over {n_seeds} search seeds (means; std over seeds)",
        (
            "method",
            "trials started",
            "trials completed",
            "best val loss",
            "std",
            "its test loss",
            "its test accuracy",
            "std",
            "wall s",
        ),
        rows,
    )
    plot_histories(run, histories, budget)

    # --- grid against random search: distinct values per dimension ---
    grid_distinct = distinct_values(histories["grid"][0].study)
    random_distinct = {
        d.name: float(np.mean([distinct_values(h.study)[d.name] for h in histories["random"]]))
        for d in SPACE
    }
    run.table(
        f"Distinct values tried per hyperparameter in {n_trials} trials",
        ("hyperparameter", "grid", "random search (mean over seeds)"),
        [(d.name, grid_distinct[d.name], random_distinct[d.name]) for d in SPACE],
    )
    plot_coverage(run, histories["grid"][0].study, histories["random"][0].study)

    # --- which hyperparameters matter ---
    imp = [importances(h.study, seed) for h, seed in zip(histories["random"], seeds)]
    imp_mean = {d.name: spread([i[d.name] for i in imp]) for d in SPACE}
    ranked = sorted(SPACE, key=lambda d: -imp_mean[d.name][0])
    for d in SPACE:
        run.number(f"importance_{d.name}", round(imp_mean[d.name][0], 4))
    run.table(
        "fANOVA importance on the random-search studies (mean and std over seeds)",
        ("hyperparameter", "importance", "std"),
        [(d.name, round(imp_mean[d.name][0], 4), round(imp_mean[d.name][1], 4)) for d in ranked],
    )
    fig = run.figure("importance", "fANOVA importance of each hyperparameter, random search")
    ax = fig.subplots()
    ax.bar(
        [d.name for d in ranked],
        [imp_mean[d.name][0] for d in ranked],
        yerr=[imp_mean[d.name][1] for d in ranked],
        capsize=4,
    )
    ax.set_ylabel("importance (share of variance)")

    most, least = ranked[0], ranked[-1]
    sweep_seeds = seeds[:2]
    sweeps = {d.name: sweep(task, d, sweep_points, sweep_seeds) for d in (most, least)}
    span = {name: float(np.ptp(s.mean(axis=0))) for name, s in sweeps.items()}
    run.number("sweep_span_most_important", round(span[most.name], 4))
    run.number("sweep_span_least_important", round(span[least.name], 4))
    fig = run.figure(
        "sensitivity",
        "Validation loss along the most and the least important hyperparameter, the others "
        "at the centre of their ranges (one line per training seed)",
        width=10,
    )
    for ax, d in zip(fig.subplots(1, 2, sharey=True), (most, least)):
        for i, seed in enumerate(sweep_seeds):
            ax.plot(d.points(sweep_points), sweeps[d.name][i], marker="o", label=f"seed {seed}")
        if d.log:
            ax.set_xscale("log")
        ax.set_xlabel(d.name)
        ax.set_yscale("log")
    fig.axes[0].set_ylabel("validation loss")
    fig.axes[0].legend()

    # --- what is learned and what is set by hand ---
    best_params = min((h.best_trial() for h in histories["tpe"]), key=lambda t: t.value).params
    learned = sum(p.numel() for p in mlp(best_params["width"], 0.0).parameters())
    run.number("learned_parameters_best_model", learned)
    run.table(
        "What is learned, what is searched, what is fixed by hand",
        ("setting", "set by", "value or range"),
        [("weights and biases", "training (AdamW)", f"{learned} numbers")]
        + [(d.name, "search", f"{d.low:g} to {d.high:g}{' (log)' if d.log else ''}") for d in SPACE]
        + [
            ("hidden layers", "hand", "1, ReLU"),
            ("batch size", "hand", str(BATCH_SIZE)),
            ("epochs", "hand", str(epochs)),
            ("optimiser", "hand", "AdamW"),
            ("search budget, sampler, pruner", "hand", f"{budget} epochs"),
        ],
    )

    # --- claims, fixed before the first full run ---
    spent = [h.epochs[-1] for hs in histories.values() for h in hs]
    run.claim(
        f"Every study trains exactly the budget of {budget} epochs",
        all(s == budget for s in spent),
        f"epochs trained per study: {min(spent)} to {max(spent)}",
    )
    ratios = [random_distinct[n] / grid_distinct[n] for n in ("lr", "weight_decay", "dropout")]
    run.claim(
        "With as many trials as the grid, random search tries at least 4x as many distinct "
        "learning rates, weight decays and dropout rates",
        min(ratios) >= 4,
        "ratios " + ", ".join(f"{r:.1f}" for r in ratios),
    )
    majority = n_seeds // 2 + 1
    wins = sum(r <= g for r, g in zip(best["random"], best["grid"]))
    run.claim(
        f"Random search's best validation loss is at most the grid's in at least {majority} "
        f"of {n_seeds} seeds (same number of trials)",
        wins >= majority,
        f"{wins} of {n_seeds}",
        quick=False,
    )
    tpe_wins = sum(t <= r for t, r in zip(best["tpe"], best["random"]))
    run.claim(
        f"TPE's best validation loss after the budget is at most random search's in at least "
        f"{n_seeds - 1} of {n_seeds} seeds",
        tpe_wins >= n_seeds - 1,
        f"{tpe_wins} of {n_seeds}",
        quick=False,
    )
    hb_ratio = min(h / r for h, r in zip(started["random+hyperband"], started["random"]))
    run.claim(
        "Hyperband starts at least 2x as many trials as random search on the same epoch "
        "budget, in every seed",
        hb_ratio >= 2,
        f"smallest ratio {hb_ratio:.2f}",
        quick=False,
    )
    hb_wins = sum(h <= r for h, r in zip(best["random+hyperband"], best["random"]))
    run.claim(
        f"Random search with Hyperband reaches a best validation loss at most random search's "
        f"in at least {majority} of {n_seeds} seeds",
        hb_wins >= majority,
        f"{hb_wins} of {n_seeds}",
        quick=False,
    )
    run.claim(
        "The learning rate is the most important hyperparameter, with at least half the "
        "fANOVA importance",
        most.name == "lr" and imp_mean["lr"][0] >= 0.5,
        f"most important {most.name}; learning rate {imp_mean['lr'][0]:.2f}",
        quick=False,
    )
    run.claim(
        "Along the most important hyperparameter the validation loss spans at least 3x the "
        "range it spans along the least important",
        span[most.name] >= 3 * span[least.name],
        f"{most.name} {span[most.name]:.3f}, {least.name} {span[least.name]:.3f}",
        quick=False,
    )
    gaps = [
        h.best_trial().user_attrs["test_loss"] - h.best_trial().value
        for hs in histories.values()
        for h in hs
    ]
    run.claim(
        "The chosen configuration's validation loss is optimistic: on average its test "
        "loss is higher",
        float(np.mean(gaps)) > 0,
        f"mean test minus validation loss {np.mean(gaps):+.4f}",
        quick=False,
    )

    order = sorted(best, key=lambda name: np.mean(best[name]))
    test_acc = {
        name: np.mean([h.best_trial().user_attrs["test_accuracy"] for h in hs])
        for name, hs in histories.items()
    }
    run.answer(
        f"On {budget} epochs of training per study and {n_seeds} search seeds, the best "
        f"validation loss reached (mean over seeds) was "
        + ", ".join(f"{name} {np.mean(best[name]):.4f}" for name in order)
        + f". Random search matched or beat the grid of the same {n_trials} trials in {wins} "
        f"of {n_seeds} seeds: the grid tried {grid_distinct['lr']} learning rates, each "
        f"{n_trials // grid_distinct['lr']} times, random search "
        f"{random_distinct['lr']:.0f}. TPE, which models good and bad regions from the trials "
        f"so far, matched or beat random search in {tpe_wins} of {n_seeds} seeds. Hyperband "
        f"stopped weak trials early and so started "
        f"{np.mean(started['random+hyperband']):.0f} trials on the budget against "
        f"{np.mean(started['random']):.0f}, and matched or beat plain random search in "
        f"{hb_wins} of {n_seeds} seeds. On the held-out test split the configurations the "
        f"methods picked scored {min(test_acc.values()):.1%} to {max(test_acc.values()):.1%} "
        f"accuracy (means over seeds). The weights and biases ({learned} numbers for the "
        f"best TPE model) are learned by training; the learning rate, weight decay, width and "
        f"dropout were searched, and depth, batch size, epochs and optimiser were fixed by "
        f"hand. Of the searched ones, fANOVA gives {most.name} "
        f"{imp_mean[most.name][0]:.0%} of the importance and {least.name} "
        f"{imp_mean[least.name][0]:.0%}; sweeping {most.name} moves the validation loss over "
        f"a range of {span[most.name]:.3f}, sweeping {least.name} over "
        f"{span[least.name]:.3f}."
    )
