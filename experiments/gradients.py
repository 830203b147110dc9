"""Gradients: backpropagation checked against finite differences, gradients that explode
and the clipping that tames them, and the ways a deep network fails to train.

Data are random points for the gradient check, scikit-learn's 8x8 digits (standardised)
for the deep MLPs and the adding problem for the recurrent net. Arms compared within a
seed share the data, the batches and the initial weights.
"""

from __future__ import annotations

import time

import numpy as np

import nnlab
import nnlab.nn.functional as F
from experiments.common import digits
from experiments.lab.core import Run, experiment
from nnlab import nn
from nnlab.autograd import Function


class Tanh(Function):
    """tanh with its backward written by hand: dy/dx = 1 - y²."""

    @staticmethod
    def forward(ctx, x):
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * (1 - y * y)


class BrokenTanh(Function):
    """tanh with a plausible slip in its backward: 1 - y instead of 1 - y²."""

    @staticmethod
    def forward(ctx, x):
        y = x.tanh()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        return grad_output * (1 - y)


class Apply(nn.Module):
    """A layer that applies an autograd ``Function`` elementwise."""

    def __init__(self, function: type[Function]) -> None:
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function.apply(x)


def small_net(activation: nn.Module, dtype: nnlab.dtype) -> nn.Sequential:
    """4 inputs, 6 hidden units, 3 classes: 51 parameters."""
    return nn.Sequential(
        nn.Linear(4, 6, dtype=dtype), activation, nn.Linear(6, 3, dtype=dtype)
    )  # fmt: skip


def loss_of(model: nn.Module, x: nnlab.Tensor, y: nnlab.Tensor) -> nnlab.Tensor:
    return F.cross_entropy(model(x), y)


def backprop_gradient(model: nn.Module, x: nnlab.Tensor, y: nnlab.Tensor) -> np.ndarray:
    """Every parameter's gradient by one backward pass, as one flat float64 vector."""
    model.zero_grad()
    loss_of(model, x, y).backward()
    return np.concatenate([p.grad.numpy().astype(np.float64).ravel() for p in model.parameters()])


def numerical_gradient(
    model: nn.Module, x: nnlab.Tensor, y: nnlab.Tensor, eps: float
) -> np.ndarray:
    """Every parameter's gradient by central differences (L(θ + ε) - L(θ - ε)) / 2ε, one
    parameter at a time: two forward passes per parameter."""
    grads = []
    with nnlab.no_grad():
        for p in model.parameters():
            flat = p.array.reshape(-1)  # a view: writing it nudges the parameter
            for i in range(flat.size):
                original = flat[i]
                flat[i] = original + eps
                plus = loss_of(model, x, y).item()
                flat[i] = original - eps
                minus = loss_of(model, x, y).item()
                flat[i] = original
                grads.append((plus - minus) / (2 * eps))
    return np.array(grads)


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """||a - b|| / (||a|| + ||b||): 0 when equal, 1 when unrelated or opposite."""
    return float(np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b)))


def seconds_per_call(fn, repeats: int) -> float:
    """The fastest of ``repeats`` timed calls of ``fn`` (the least disturbed by load)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def cost_ratio(width: int, repeats: int) -> tuple[int, float]:
    """For a 64-width-width-10 MLP on 64 digit images: its parameter count P and how many
    times longer 2P forward passes (a finite-difference gradient) take than one forward
    and backward pass (backpropagation)."""
    x, y = digits()
    model = nn.Sequential(
        nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 10)
    )  # fmt: skip
    xs, ys = nnlab.tensor(x[:64]), nnlab.tensor(y[:64])
    n_params = sum(p.numel() for p in model.parameters())

    def forward() -> None:
        with nnlab.no_grad():
            loss_of(model, xs, ys)

    def forward_backward() -> None:
        model.zero_grad()
        loss_of(model, xs, ys).backward()

    t_forward = seconds_per_call(forward, repeats)
    t_backprop = seconds_per_call(forward_backward, repeats)
    return n_params, 2 * n_params * t_forward / t_backprop


@experiment(
    "gradient-check",
    answers=["backpropagation", "gradient-checking"],
    quick=dict(n_seeds=3, width=128, repeats=20),
    full=dict(n_seeds=10, width=256, repeats=50),
)
def gradient_check(run: Run, n_seeds: int, width: int, repeats: int) -> None:
    """Does backpropagation give the same gradient as nudging each weight, and does the
    check catch a wrong backward?"""
    arms = {"nn.Tanh": nn.Tanh, "hand-written Tanh": lambda: Apply(Tanh),
            "broken Tanh": lambda: Apply(BrokenTanh)}  # fmt: skip
    eps_grid = np.logspace(-1, -10, 19)
    errors = {a: [] for a in arms}
    sweep = {"float64": [], "float32": []}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        x = nnlab.tensor(rng.standard_normal((8, 4)))
        y = nnlab.tensor(rng.integers(0, 3, size=8))
        for arm, make in arms.items():
            nnlab.manual_seed(seed)  # the same weights for every arm
            model = small_net(make(), nnlab.float64)
            exact = backprop_gradient(model, x, y)
            errors[arm].append(relative_error(exact, numerical_gradient(model, x, y, 1e-6)))
        for name, dtype in (("float64", nnlab.float64), ("float32", nnlab.float32)):
            nnlab.manual_seed(seed)
            model = small_net(nn.Tanh(), dtype)
            xd = nnlab.tensor(x.numpy().astype(name))
            exact = backprop_gradient(model, xd, y)
            sweep[name].append(
                [relative_error(exact, numerical_gradient(model, xd, y, e)) for e in eps_grid]
            )

    n_small = sum(p.numel() for p in small_net(nn.Tanh(), nnlab.float64).parameters())
    worst = {a: float(np.max(v)) for a, v in errors.items()}
    for arm, key in zip(arms, ("nnlab_tanh", "handwritten_tanh", "broken_tanh")):
        run.number(f"{key}_max_relative_error", worst[arm])
    run.table(
        f"Backprop against central differences (ε = 1e-6, float64, {n_seeds} seeds)",
        ("activation", "relative error, median", "relative error, worst"),
        [(a, f"{np.median(v):.2g}", f"{np.max(v):.2g}") for a, v in errors.items()],
    )
    best = {}
    for name, values in sweep.items():
        median = np.median(values, axis=0)
        best[name] = (float(median.min()), float(eps_grid[median.argmin()]))
        run.number(f"{name}_best_relative_error", best[name][0])
        run.number(f"{name}_best_step", best[name][1])

    probe = nnlab.tensor(run.rng(1).standard_normal(10), requires_grad=True)
    passes = {
        name: nnlab.autograd.gradcheck(fn.apply, [probe], raise_exception=False)
        for name, fn in (("hand-written Tanh", Tanh), ("broken Tanh", BrokenTanh))
    }
    n_params, ratio = cost_ratio(width, repeats)
    run.number("gradcheck_passes_handwritten", str(passes["hand-written Tanh"]))
    run.number("gradcheck_passes_broken", str(passes["broken Tanh"]))
    run.number("cost_parameters", n_params)
    run.number("finite_difference_over_backprop_time", round(ratio, 1))

    fig = run.figure("check", "Relative error of finite differences against backprop, by "
                     "step size, and by activation", width=9.0)  # fmt: skip
    ax_eps, ax_arm = fig.subplots(1, 2)
    for name, values in sweep.items():
        ax_eps.loglog(eps_grid, np.median(values, axis=0), marker=".", label=name)
    ax_eps.set_xlabel("step ε")
    ax_eps.set_ylabel("relative error (median over seeds)")
    ax_eps.legend()
    for i, (arm, values) in enumerate(errors.items()):
        ax_arm.scatter([i] * len(values), values, color="C3" if "broken" in arm else "C0")
    ax_arm.set_yscale("log")
    ax_arm.set_xticks(range(len(errors)), list(errors), fontsize="small")
    ax_arm.set_ylabel("relative error at ε = 1e-6, float64")

    correct = max(worst["nn.Tanh"], worst["hand-written Tanh"])
    run.claim(
        "In float64 backprop and central differences agree to a relative error of 1e-7 "
        "or better, for nnlab's tanh and a hand-written one, in every seed",
        correct <= 1e-7,
        f"worst relative error {correct:.2g}",
    )
    run.claim(
        "A backward that forgets to square (1 - y instead of 1 - y²) raises the relative "
        "error to at least 1e-2 in every seed, and nnlab.autograd.gradcheck rejects it while "
        "passing the correct one",
        min(errors["broken Tanh"]) >= 1e-2
        and passes["hand-written Tanh"]
        and not passes["broken Tanh"],
        f"smallest broken error {min(errors['broken Tanh']):.2g}; gradcheck: correct "
        f"{passes['hand-written Tanh']}, broken {passes['broken Tanh']}",
    )
    run.claim(
        "Finite differences need float64: the best step reaches a relative error below 1e-8 "
        "in float64 but none gets below 1e-5 in float32",
        best["float64"][0] <= 1e-8 and best["float32"][0] > 1e-5,
        f"best float64 {best['float64'][0]:.2g} at ε = {best['float64'][1]:.1g}, best "
        f"float32 {best['float32'][0]:.2g} at ε = {best['float32'][1]:.1g}",
        quick=False,
    )
    run.claim(
        f"For an MLP with {n_params} parameters a finite-difference gradient costs at least "
        "100 times as long as one backprop pass",
        ratio >= 100,
        f"{ratio:.0f} times",
        quick=False,  # a ratio of timings: reported by the tests, never asserted
    )
    run.answer(
        f"Backpropagation applies the chain rule layer by layer from the loss backward, "
        f"reusing each layer's incoming gradient, so one backward pass yields every "
        f"parameter's gradient. On a {n_small}-parameter net in float64 it matched central "
        f"differences to a relative error of {correct:.1g} at worst over {n_seeds} seeds. "
        f"Nudging each weight instead takes two forward passes per parameter: for an MLP "
        f"with {n_params} parameters that was {ratio:.0f} times slower than backprop, "
        f"hopeless for millions of weights. The same comparison is the standard check of a "
        f"hand-written backward: a tanh whose backward used 1 - y for 1 - y² gave relative "
        f"errors of {min(errors['broken Tanh']):.2g} or more, and nnlab.autograd.gradcheck "
        f"returned {passes['broken Tanh']} for it and {passes['hand-written Tanh']} for the "
        f"correct one. Check in float64 with a step near {best['float64'][1]:.0e}: the best "
        f"error was {best['float64'][0]:.1g} there, but {best['float32'][0]:.1g} in float32, "
        "where rounding swamps the difference."
    )


#: Standard deviations of initial weights, as functions of (fan_in, fan_out).
WEIGHT_STD = {
    "he": lambda fan_in, fan_out: np.sqrt(2 / fan_in),
    "2x he": lambda fan_in, fan_out: 2 * np.sqrt(2 / fan_in),
    "xavier": lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
    "std 0.01": lambda fan_in, fan_out: 0.01,
}


def mlp(depth: int, width: int, activation: type[nn.Module], init: str) -> nn.Sequential:
    """``depth`` layers of ``width`` with ``activation`` on the 64 digit pixels, then 10
    class scores; weights N(0, std²) with std from ``WEIGHT_STD[init]``, biases 0."""
    layers: list[nn.Module] = []
    sizes = [64] + [width] * depth
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers += [nn.Linear(fan_in, fan_out), activation()]
    layers.append(nn.Linear(width, 10))
    model = nn.Sequential(*layers)
    for layer in model[::2]:
        std = WEIGHT_STD[init](layer.in_features, layer.out_features)
        nn.init.normal_(layer.weight, 0.0, std)
        nn.init.zeros_(layer.bias)
    return model


def train_clipped(
    model: nn.Module,
    batches,
    loss_fn,
    lr: float,
    max_norm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Plain SGD over ``batches`` with the gradient norm clipped to ``max_norm`` (inf: no
    clipping). Returns the loss and the gradient norm before clipping, per step; once the
    loss is non-finite the run stops and the rest stays NaN."""
    params = list(model.parameters())
    opt = nnlab.optim.SGD(params, lr=lr)
    losses = np.full(len(batches), np.nan)
    norms = np.full(len(batches), np.nan)
    for step, batch in enumerate(batches):
        loss = loss_fn(model, batch)
        if not np.isfinite(loss.item()):
            break
        opt.zero_grad()
        loss.backward()
        norms[step] = nnlab.nn.utils.clip_grad_norm_(params, max_norm).item()
        losses[step] = loss.item()
        opt.step()
    return losses, norms


def digit_batches(rng: np.random.Generator, steps: int, batch: int) -> list:
    x, y = digits()
    rows = rng.integers(0, len(x), size=(steps, batch))
    return [(nnlab.tensor(x[r]), nnlab.tensor(y[r])) for r in rows]


def classify(model: nn.Module, batch) -> nnlab.Tensor:
    return loss_of(model, *batch)


def blew_up(losses: np.ndarray) -> bool:
    """Whether a run ended non-finite or above the loss it started from."""
    last = losses[-1]
    return bool(not np.isfinite(last) or last > losses[0])


@experiment(
    "exploding-gradients",
    answers=["exploding-gradients", "gradient-clipping"],
    quick=dict(depth=10, width=64, steps=100, n_seeds=3),
    full=dict(depth=10, width=64, steps=500, n_seeds=8),
)
def exploding_gradients(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """What happens to the gradient when initial weights are too large, and does clipping
    its norm rescue training?"""
    arms = {"He init": ("he", np.inf), "2x He, no clipping": ("2x he", np.inf),
            "2x He, clipped at 1": ("2x he", 1.0)}  # fmt: skip
    losses = {a: [] for a in arms}
    norms = {a: [] for a in arms}
    for seed in run.seeds(n_seeds):
        batches = digit_batches(np.random.default_rng(seed), steps, 64)
        for arm, (init, max_norm) in arms.items():
            nnlab.manual_seed(seed)  # the same draws, scaled: 2x He is He's weights doubled
            model = mlp(depth, width, nn.ReLU, init)
            with np.errstate(all="ignore"):  # overflow is one of the outcomes measured
                loss, norm = train_clipped(model, batches, classify, 0.01, max_norm)
            losses[arm].append(loss)
            norms[arm].append(norm)

    start_norm = {a: np.array([n[0] for n in norms[a]]) for a in arms}
    growth = float(np.median(start_norm["2x He, no clipping"] / start_norm["He init"]))
    blown = {a: sum(blew_up(l) for l in losses[a]) for a in arms}
    rows = []
    for arm in arms:
        start = np.array([l[0] for l in losses[arm]])
        final = np.array([l[-1] for l in losses[arm]])
        run.number(f"{arm.replace(' ', '_').replace(',', '')}_blown_runs", blown[arm])
        rows.append(
            (arm, f"{np.median(start_norm[arm]):.3g}", f"{np.median(start):.3g}",
             f"{np.median(final):.3g}", blown[arm])
        )  # fmt: skip
    run.number("start_norm_ratio_2xhe_over_he", growth)
    run.table(
        f"{depth} ReLU layers of {width}, SGD lr 0.01, {steps} steps, {n_seeds} seeds (medians)",
        ("arm", "gradient norm at start", "loss at start", "loss at end",
         "runs ended non-finite or above start"),
        rows,
    )  # fmt: skip

    fig = run.figure("exploding", "Gradient norm before clipping and training loss, first "
                     "seed (a line stops where the run went non-finite)", width=9.0)  # fmt: skip
    ax_norm, ax_loss = fig.subplots(1, 2)
    for arm in arms:
        ax_norm.semilogy(norms[arm][0], label=arm)
        ax_loss.semilogy(losses[arm][0], label=arm)
    ax_norm.set_xlabel("SGD step")
    ax_norm.set_ylabel("total gradient norm")
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("training loss (batch)")
    ax_norm.legend(fontsize="small")

    run.claim(
        f"Doubling He's weight scale in a {depth}-layer ReLU MLP multiplies the initial "
        "gradient norm by at least 100",
        growth >= 100,
        f"median ratio {growth:.3g}",
    )
    run.claim(
        "Without clipping at least half of the 2x-He runs blow up (end non-finite or above "
        "their starting loss)",
        blown["2x He, no clipping"] >= n_seeds / 2,
        f"{blown['2x He, no clipping']} of {n_seeds}",
    )
    clipped_final = np.array([l[-1] for l in losses["2x He, clipped at 1"]])
    clipped_start = np.array([l[0] for l in losses["2x He, clipped at 1"]])
    run.claim(
        "With the gradient norm clipped at 1 every 2x-He run stays finite and ends below a "
        "tenth of its starting loss",
        bool(np.all(np.isfinite(clipped_final) & (clipped_final < clipped_start / 10))),
        f"final/start loss ratios {(clipped_final / clipped_start).round(4).tolist()}",
        quick=False,
    )
    run.answer(
        f"Each layer multiplies the backward gradient by its weights; with weights twice "
        f"He's scale each of {depth} ReLU layers doubles it, and the initial gradient norm was "
        f"{growth:.3g} times that at He's scale (median of {n_seeds} seeds). With SGD at lr "
        f"0.01, {blown['2x He, no clipping']} of {n_seeds} such runs blew up (non-finite or "
        f"above the starting loss) and {blown['He init']} at He's scale. Clipping the total "
        f"gradient norm to 1 bounds every step's length while keeping its direction: "
        f"{blown['2x He, clipped at 1']} of the clipped runs blew up, and they ended at a "
        f"median {np.median(clipped_final / clipped_start):.2g} of their starting loss. "
        "The cures are an initialisation that keeps the variance, a smaller learning rate, "
        "normalisation layers and, as a safety net, clipping."
    )


def adding_problem(rng: np.random.Generator, n: int, length: int) -> tuple:
    """Sequences of (value, marker) pairs: values uniform in [0, 1], exactly two markers,
    one in each half; the target is the sum of the two marked values (mean 1, variance
    1/6, so always answering 1 scores a mean squared error of 1/6)."""
    values = rng.uniform(0, 1, size=(n, length))
    markers = np.zeros((n, length))
    markers[np.arange(n), rng.integers(0, length // 2, n)] = 1
    markers[np.arange(n), rng.integers(length // 2, length, n)] = 1
    x = np.stack([values, markers], axis=-1).astype(np.float32)
    return x, (values * markers).sum(axis=1, keepdims=True).astype(np.float32)


class SumReader(nn.Module):
    """A tanh RNN reading the sequence; a linear read-out of its last state."""

    def __init__(self, hidden: int, recurrent_gain: float) -> None:
        super().__init__()
        self.rnn = nn.RNN(2, hidden, batch_first=True)
        # Recurrent weights a multiple of an orthogonal matrix: every singular value equals
        # the gain, so a gain above 1 lets a backward signal grow at every time step.
        nn.init.orthogonal_(self.rnn.weight_hh_l0, gain=recurrent_gain)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


def regress(model: nn.Module, batch) -> nnlab.Tensor:
    x, y = batch
    return F.mse_loss(model(x), y)


@experiment(
    "rnn-clipping",
    answers=["gradient-clipping", "exploding-gradients"],
    quick=dict(length=20, hidden=32, steps=120, n_seeds=2),
    full=dict(length=30, hidden=32, steps=600, n_seeds=5),
)
def rnn_clipping(run: Run, length: int, hidden: int, steps: int, n_seeds: int) -> None:
    """Does clipping the gradient norm keep a recurrent net with large recurrent weights
    training?"""
    gain, lr = 1.5, 0.1
    arms = {"no clipping": np.inf, "clipped at 1": 1.0}
    losses = {a: [] for a in arms}
    norms = {a: [] for a in arms}
    for seed in run.seeds(n_seeds):
        rng = np.random.default_rng(seed)
        batches = [tuple(nnlab.tensor(a) for a in adding_problem(rng, 32, length))
                   for _ in range(steps)]  # fmt: skip
        for arm, max_norm in arms.items():
            nnlab.manual_seed(seed)  # both arms start from the same weights
            model = SumReader(hidden, gain)
            with np.errstate(all="ignore"):  # overflow is one of the outcomes measured
                loss, norm = train_clipped(model, batches, regress, lr, max_norm)
            losses[arm].append(loss)
            norms[arm].append(norm)

    tail = max(steps // 10, 1)
    final = {a: np.array([l[-tail:].mean() for l in losses[a]]) for a in arms}  # NaN if broken
    peak = {a: np.array([np.nanmax(n) for n in norms[a]]) for a in arms}
    broke = {a: np.array([not np.isfinite(l).all() for l in losses[a]]) for a in arms}
    rows = []
    for arm in arms:
        key = arm.replace(" ", "_")
        run.number(f"{key}_non_finite_runs", int(broke[arm].sum()))
        run.number(f"{key}_median_final_loss", float(np.median(final[arm])))
        rows.append(
            (arm, f"{np.median([np.nanmedian(n) for n in norms[arm]]):.3g}",
             f"{np.median(peak[arm]):.3g}", f"{np.median(final[arm]):.3g}",
             int(broke[arm].sum()))
        )  # fmt: skip
    run.table(
        f"Adding problem, length {length}, tanh RNN of {hidden}, recurrent gain {gain}, "
        f"SGD lr {lr}, {steps} steps, {n_seeds} seeds (medians)",
        ("arm", "typical gradient norm", "largest gradient norm", "final loss",
         "runs that went non-finite"),
        rows,
    )  # fmt: skip

    fig = run.figure("rnn", "Gradient norm before clipping and batch loss, every seed "
                     "(a line stops where its run went non-finite)", width=9.0)  # fmt: skip
    ax_norm, ax_loss = fig.subplots(1, 2)
    for i, arm in enumerate(arms):
        for n, l in zip(norms[arm], losses[arm]):
            ax_norm.semilogy(n, color=f"C{i}", alpha=0.6, label=arm if n is norms[arm][0] else None)
            ax_loss.semilogy(l, color=f"C{i}", alpha=0.6)
    ax_loss.axhline(1 / 6, color="grey", linestyle=":", label="always answer 1")
    ax_norm.set_xlabel("SGD step")
    ax_norm.set_ylabel("gradient norm before clipping")
    ax_loss.set_xlabel("SGD step")
    ax_loss.set_ylabel("mean squared error (batch)")
    ax_norm.legend(fontsize="small")
    ax_loss.legend(fontsize="small")

    exploded = bool(np.all((peak["no clipping"] > 100) | broke["no clipping"]))
    run.claim(
        "Without clipping every run's gradient norm exceeds 100 at some step or turns non-finite",
        exploded,
        f"largest norms {peak['no clipping'].round(1).tolist()}, non-finite runs "
        f"{int(broke['no clipping'].sum())}",
    )
    unclipped = np.where(np.isfinite(final["no clipping"]), final["no clipping"], np.inf)
    better = bool(np.all(np.isfinite(final["clipped at 1"]) & (final["clipped at 1"] < unclipped)))
    run.claim(
        "With clipping at norm 1 every run stays finite and ends with a lower loss than the "
        "same run without clipping",
        better,
        f"final losses clipped {final['clipped at 1'].round(4).tolist()}, unclipped "
        f"{final['no clipping'].round(4).tolist()}",
    )
    run.claim(
        "With clipping every run ends below 1/6, the error of always answering the mean sum",
        bool(np.all(final["clipped at 1"] < 1 / 6)),
        f"final losses {final['clipped at 1'].round(4).tolist()}",
        quick=False,
    )
    run.answer(
        f"A recurrent net multiplies the backward signal by its recurrent weights at every "
        f"time step; with singular values of {gain} over {length} steps it can grow "
        f"geometrically. Training a tanh RNN on the adding problem with SGD at lr {lr}, the "
        f"unclipped runs reached gradient norms of {np.median(peak['no clipping']):.3g} "
        f"(median of the per-run peaks) and {int(broke['no clipping'].sum())} of {n_seeds} "
        f"turned non-finite; their final loss had median {np.median(final['no clipping']):.3g}. "
        f"Rescaling the gradient to norm at most 1 whenever it is larger kept "
        f"{n_seeds - int(broke['clipped at 1'].sum())} of {n_seeds} runs finite with median "
        f"final loss {np.median(final['clipped at 1']):.3g} (always answering 1 scores "
        f"{1 / 6:.3f}). Clipping changes the step's length, not its direction, so it is "
        "cheap insurance for recurrent nets, very deep nets and large learning rates, where "
        "rare huge gradients would otherwise throw the weights far away."
    )


@experiment(
    "deep-failure-modes",
    answers=["deep-training-challenges"],
    quick=dict(depth=20, width=64, steps=100, n_seeds=2),
    full=dict(depth=20, width=64, steps=800, n_seeds=5),
)
def deep_failure_modes(run: Run, depth: int, width: int, steps: int, n_seeds: int) -> None:
    """What goes wrong when a deep network will not train?"""
    settings = {
        "ReLU, He, lr 0.02 (recipe)": (nn.ReLU, "he", 0.02),
        "sigmoid, Xavier, lr 0.02": (nn.Sigmoid, "xavier", 0.02),
        "ReLU, std 0.01, lr 0.02": (nn.ReLU, "std 0.01", 0.02),
        "ReLU, 2x He, lr 0.02": (nn.ReLU, "2x he", 0.02),
        "ReLU, He, lr 1": (nn.ReLU, "he", 1.0),
        "ReLU, He, lr 1e-4": (nn.ReLU, "he", 1e-4),
    }
    recipe = next(iter(settings))
    log_every = max(steps // 40, 1)
    curves = {s: [] for s in settings}
    first_grad = {s: [] for s in settings}
    for seed in run.seeds(n_seeds):
        batches = digit_batches(np.random.default_rng(seed), steps, 64)
        for name, (activation, init, lr) in settings.items():
            nnlab.manual_seed(seed)
            model = mlp(depth, width, activation, init)
            model.zero_grad()
            classify(model, batches[0]).backward()
            first_grad[name].append(float(np.linalg.norm(model[0].weight.grad.numpy())))
            with np.errstate(all="ignore"):  # divergence is one of the outcomes measured
                losses, _ = train_clipped(model, batches, classify, lr, np.inf)
            curves[name].append(losses)

    def smoothed_end(losses: np.ndarray) -> float:
        """Mean batch loss over the last tenth of the steps (NaN if the run broke)."""
        return float(losses[-max(steps // 10, 1) :].mean())

    final = {s: np.array([smoothed_end(l) for l in curves[s]]) for s in settings}
    grad = {s: float(np.median(first_grad[s])) for s in settings}
    rows = []
    for name in settings:
        broke = int((~np.isfinite(final[name])).sum())
        rows.append((name, f"{grad[name]:.3g}", f"{np.median(final[name]):.3g}", broke))
    run.table(
        f"{depth}-layer MLPs on the digits, plain SGD, {steps} steps, {n_seeds} seeds (medians)",
        ("setting", "first-layer gradient norm at start", "final training loss",
         "runs that went non-finite"),
        rows,
    )  # fmt: skip
    for key, name in zip(("recipe", "sigmoid", "small_init", "large_init", "large_lr",
                          "small_lr"), settings):  # fmt: skip
        run.number(f"{key}_final_loss", float(np.median(final[name])))
        run.number(f"{key}_first_layer_grad", grad[name])

    fig = run.figure("failures", "Training loss of each setting (median over seeds; "
                     "a line stops where a run went non-finite)")  # fmt: skip
    ax = fig.subplots()
    for name in settings:
        smooth = np.array([np.convolve(l, np.ones(log_every) / log_every, "valid")
                           for l in curves[name]])  # fmt: skip
        ax.semilogy(np.median(smooth, axis=0), label=name)
    ax.set_xlabel("SGD step")
    ax.set_ylabel("training loss (moving average)")
    ax.legend(fontsize="small")

    failures = [s for s in settings if s != recipe]
    failed = {s: bool(np.all(~np.isfinite(final[s]) | (final[s] > 1.0))) for s in failures}
    run.claim(
        f"The recipe (ReLU, He, lr 0.02) brings a {depth}-layer MLP below 0.5 training loss "
        "in every seed",
        bool(np.all(final[recipe] < 0.5)),
        f"final losses {final[recipe].round(3).tolist()}",
        quick=False,
    )
    run.claim(
        "Each of the five broken settings (sigmoid, tiny init, large init, learning rate "
        "too large, learning rate too small) ends above 1.0 training loss or non-finite, in "
        "every seed",
        all(failed.values()),
        "; ".join(f"{s}: {np.median(final[s]):.3g}" for s in failures),
    )
    vanish = max(grad["sigmoid, Xavier, lr 0.02"], grad["ReLU, std 0.01, lr 0.02"])
    run.claim(
        "At the start the first layer's gradient is at least 100x smaller than the recipe's "
        "with sigmoid or tiny weights, and at least 100x larger with doubled He weights",
        vanish * 100 <= grad[recipe] and grad["ReLU, 2x He, lr 0.02"] >= 100 * grad[recipe],
        f"recipe {grad[recipe]:.3g}, sigmoid {grad['sigmoid, Xavier, lr 0.02']:.3g}, std "
        f"0.01 {grad['ReLU, std 0.01, lr 0.02']:.3g}, 2x He {grad['ReLU, 2x He, lr 0.02']:.3g}",
    )
    med = {s: np.median(final[s]) for s in settings}
    run.answer(
        f"A deep network trains only if the signal and the gradient cross all of its layers "
        f"at a usable size and the steps suit the landscape. In {depth}-layer MLPs on the "
        f"digits (plain SGD, {steps} steps) the recipe of ReLU, He weights and lr 0.02 ended "
        f"at a training loss of {med[recipe]:.3g}. Vanishing gradients: with sigmoid the "
        f"first layer's initial gradient was {grad['sigmoid, Xavier, lr 0.02']:.2g} against "
        f"{grad[recipe]:.2g} and the loss ended at {med['sigmoid, Xavier, lr 0.02']:.3g}; "
        f"weights of std 0.01 gave {grad['ReLU, std 0.01, lr 0.02']:.2g} and "
        f"{med['ReLU, std 0.01, lr 0.02']:.3g}. Exploding gradients: doubled He weights "
        f"gave {grad['ReLU, 2x He, lr 0.02']:.2g} and ended at "
        f"{med['ReLU, 2x He, lr 0.02']:.3g}. The learning rate: lr 1 ended at "
        f"{med['ReLU, He, lr 1']:.3g} and lr 1e-4 at {med['ReLU, He, lr 1e-4']:.3g} "
        "(nan marks runs that overflowed, a gradient of 0 one below float32's range). Other "
        "hurdles (overfitting, cost, saddle points) add to these; the cures measured in this "
        "lab are matched initialisation, non-saturating activations, gradient clipping and "
        "skip connections (highway)."
    )
