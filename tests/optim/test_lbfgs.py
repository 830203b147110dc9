"""optim.LBFGS follows torch.optim.LBFGS, with and without the strong-Wolfe line search.

Convention: each problem's loss and gradient are computed by ONE NumPy function in
float64, and both libraries' closures assign that gradient to ``.grad``; so the only
difference between the two runs is the optimizer's own arithmetic (dot products, sums,
``x + t·d``), which PyTorch and NumPy may round differently in the last bit (BLAS blocking,
fused multiply-adds). Two comparisons follow:

* lock-step (tight, rtol 1e-10): before every ``step`` nnlab is loaded with torch's
  parameters and torch's ``state_dict``; after the step both must agree, so last-bit
  differences cannot pile up across steps. The number of evaluations and iterations must
  be equal, i.e. every branch (line-search bracket and zoom, stopping rules) was taken
  alike.
* free-running (bounded, rtol 1e-7): both run ``STEPS`` steps on their own. L-BFGS, and
  especially Rosenbrock with a fixed step, amplifies a last-bit difference by a few orders
  of magnitude over tens of iterations (measured worst after 4 steps of 5 iterations:
  ~5e-11), so this bound leaves room for other processors' rounding.

A last test runs both libraries' own autograd on a small nn.Module MLP (typical usage).
"""

from __future__ import annotations

import copy
import io

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn, optim
from nnlab.serialization import load, save

# -- problems: (loss, gradients) = f(params, data), all NumPy float64 ----------------------


def rosenbrock(params, data):
    """Σ 100 (x_{i+1} - x_i²)² + (1 - x_i)², minimum 0 at x = 1."""
    (x,) = params
    r = x[1:] - x[:-1] ** 2
    grad = np.zeros_like(x)
    grad[1:] += 200 * r
    grad[:-1] += -400 * r * x[:-1] - 2 * (1 - x[:-1])
    return (100 * r**2 + (1 - x[:-1]) ** 2).sum(), [grad]


def mlp_regression(params, data):
    """MSE of a tanh MLP 4 -> 8 -> 2, gradients by hand-written backprop."""
    x, y = data
    w1, b1, w2, b2 = params
    h = np.tanh(x @ w1.T + b1)
    err = h @ w2.T + b2 - y
    d_out = 2 * err / err.size
    d_h = (d_out @ w2) * (1 - h**2)
    return (err**2).mean(), [d_h.T @ x, d_h.sum(0), d_out.T @ h, d_out.sum(0)]


def logistic_regression(params, data):
    """Mean binary cross-entropy of sigmoid(x·w + b), in its stable form."""
    x, y = data
    w, b = params
    z = x @ w + b
    loss = (np.maximum(z, 0) - y * z + np.log1p(np.exp(-np.abs(z)))).mean()
    dz = (1 / (1 + np.exp(-z)) - y) / len(y)
    return loss, [x.T @ dz, dz.sum()]


def _problems():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] * x[:, 3]], axis=1)
    xl = rng.standard_normal((40, 5))
    yl = (xl @ rng.standard_normal(5) + 0.3 * rng.standard_normal(40) > 0).astype(np.float64)
    return {
        "rosenbrock": (rosenbrock, [np.array([-1.2, 1.0, -0.5, 0.8, 1.3])], None),
        "mlp": (
            mlp_regression,
            [rng.standard_normal(s) * 0.5 for s in [(8, 4), (8,), (2, 8), (2,)]],
            (x, y),
        ),
        "logistic": (logistic_regression, [rng.standard_normal(5) * 0.1, np.zeros(())], (xl, yl)),
    }


PROBLEMS = _problems()
STEPS = 4
MAX_ITER = 5


class Run:
    """One library's parameters, LBFGS and closure on a problem."""

    def __init__(self, lib, problem, **kwargs):
        self.lib = lib
        self.f, init, self.data = PROBLEMS[problem]
        self.evaluations = 0
        if lib == "nnlab":
            self.params = [nnlab.tensor(a.copy(), requires_grad=True) for a in init]
            self.opt = optim.LBFGS(self.params, **kwargs)
        else:
            self.params = [torch.tensor(a.copy(), requires_grad=True) for a in init]
            self.opt = torch.optim.LBFGS(self.params, **kwargs)

    def arrays(self):
        return [p.detach().numpy().copy() for p in self.params]

    def closure(self):
        self.evaluations += 1
        loss, grads = self.f(self.arrays(), self.data)
        tensor = nnlab.tensor if self.lib == "nnlab" else torch.tensor
        for p, g in zip(self.params, grads):
            p.grad = tensor(np.asarray(g, dtype=np.float64))
        return tensor(loss)

    def step(self):
        return float(self.opt.step(self.closure))

    def state(self):
        return self.opt.state[self.params[0]]


def _torch_state_to_nnlab(value):
    """torch's optimizer state_dict with every tensor as an nnlab Tensor."""
    if isinstance(value, torch.Tensor):
        return nnlab.tensor(value.detach().numpy().copy())
    if isinstance(value, dict):
        return {k: _torch_state_to_nnlab(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_torch_state_to_nnlab(v) for v in value)
    return value


def _assert_close(ours, theirs, rtol, what):
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol * 1e-3, err_msg=f"{what}, param {i}")


CONFIGS = [
    (problem, line_search, history, lr)
    for problem in PROBLEMS
    for line_search, lr in [(None, 1.0), (None, 0.1), ("strong_wolfe", 1.0)]
    for history in (2, 5, 100)
]
IDS = [f"{p}-{ls or 'fixed'}-lr{lr}-h{h}" for p, ls, h, lr in CONFIGS]


@pytest.mark.parametrize("problem, line_search, history, lr", CONFIGS, ids=IDS)
def test_lock_step_with_torch(problem, line_search, history, lr):
    kwargs = dict(lr=lr, max_iter=MAX_ITER, history_size=history, line_search_fn=line_search)
    theirs = Run("torch", problem, **kwargs)
    for step in range(STEPS):
        ours = Run("nnlab", problem, **kwargs)
        for p, q in zip(ours.params, theirs.params):
            p.array[...] = q.detach().numpy()
        if step:
            ours.opt.load_state_dict(_torch_state_to_nnlab(theirs.opt.state_dict()))
        before = theirs.evaluations
        loss_ours, loss_theirs = ours.step(), theirs.step()
        what = f"{problem} step {step}"
        assert loss_ours == loss_theirs, what
        assert ours.evaluations == theirs.evaluations - before, what
        for key in ("func_evals", "n_iter"):
            assert ours.state()[key] == theirs.state()[key], f"{what}: {key}"
        _assert_close(ours.arrays(), theirs.arrays(), 1e-10, what)
        # The state has torch's names and kinds of values (tensor, number, list).
        assert ours.opt.state_dict()["state"].keys() == theirs.opt.state_dict()["state"].keys()
        assert set(ours.state()) == set(theirs.state()), what
        d_ours, d_theirs = ours.state()["d"].array, theirs.state()["d"].numpy()
        np.testing.assert_allclose(d_ours, d_theirs, rtol=1e-8, atol=1e-12, err_msg=what)
        assert len(ours.state()["old_dirs"]) == len(theirs.state()["old_dirs"]) <= history


@pytest.mark.parametrize("problem, line_search, history, lr", CONFIGS, ids=IDS)
def test_free_running_trajectory_stays_with_torch(problem, line_search, history, lr):
    kwargs = dict(lr=lr, max_iter=MAX_ITER, history_size=history, line_search_fn=line_search)
    ours, theirs = Run("nnlab", problem, **kwargs), Run("torch", problem, **kwargs)
    for step in range(STEPS):
        loss_ours, loss_theirs = ours.step(), theirs.step()
        np.testing.assert_allclose(loss_ours, loss_theirs, rtol=1e-7, atol=1e-12)
        assert ours.state()["func_evals"] == theirs.state()["func_evals"], f"step {step}"
        _assert_close(ours.arrays(), theirs.arrays(), 1e-7, f"{problem} step {step}")


def test_torch_defaults_and_max_eval():
    """Default max_iter 20 and max_eval = max_iter * 5 // 4, with and without line search."""
    for line_search in (None, "strong_wolfe"):
        ours, theirs = (
            Run("nnlab", "mlp", line_search_fn=line_search),
            Run("torch", "mlp", line_search_fn=line_search),
        )
        assert ours.opt.defaults == theirs.opt.defaults
        ours.step(), theirs.step()
        assert ours.evaluations == theirs.evaluations <= 25
        _assert_close(ours.arrays(), theirs.arrays(), 1e-9, f"defaults, {line_search}")


@pytest.mark.parametrize(
    "problem, line_search, kwargs",
    [
        ("logistic", None, dict(tolerance_change=1e-4)),  # the loss no longer moves
        ("logistic", "strong_wolfe", dict(tolerance_change=1e-4)),  # (the same)
        ("mlp", "strong_wolfe", dict(tolerance_change=1e-3)),  # gᵀd > -tolerance_change
        ("mlp", "strong_wolfe", dict(lr=0.01, tolerance_change=1e-2)),  # max|t·d| is tiny
        ("mlp", None, dict(lr=0.01, tolerance_change=1e-3)),  # (the same, at once)
        ("mlp", None, dict(tolerance_grad=1e-2)),  # the gradient is small enough
        ("mlp", "strong_wolfe", dict(tolerance_grad=1e-2)),  # (the same)
    ],
)
def test_stopping_rules_as_torch(problem, line_search, kwargs):
    """One long step (max_iter 200) ends on the same rule (checked by hand for each case),
    after the same number of iterations and evaluations, as torch's."""
    kwargs = dict(max_iter=200, line_search_fn=line_search, history_size=10, **kwargs)
    ours, theirs = Run("nnlab", problem, **kwargs), Run("torch", problem, **kwargs)
    ours.step(), theirs.step()
    assert ours.state()["n_iter"] == theirs.state()["n_iter"] < 200
    assert ours.state()["func_evals"] == theirs.state()["func_evals"] < 250
    _assert_close(ours.arrays(), theirs.arrays(), 1e-7, f"{problem} {kwargs}")


def test_already_optimal_returns_after_one_evaluation():
    run = Run("nnlab", "rosenbrock")
    run.params[0].array[...] = 1.0  # the minimum: gradient 0
    assert run.step() == 0.0
    assert run.evaluations == 1 and dict(run.state()) == {"func_evals": 1, "n_iter": 0}


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_state_dict_round_trip_continues_identically(line_search):
    kwargs = dict(max_iter=MAX_ITER, history_size=3, line_search_fn=line_search)
    run = Run("nnlab", "mlp", **kwargs)
    for _ in range(2):
        run.step()
    buf = io.BytesIO()
    save({"params": [p.detach() for p in run.params], "opt": run.opt.state_dict()}, buf)
    buf.seek(0)
    saved = load(buf)
    resumed = Run("nnlab", "mlp", **kwargs)
    for p, value in zip(resumed.params, saved["params"]):
        p.array[...] = value.array
    resumed.opt.load_state_dict(saved["opt"])
    assert sorted(saved["opt"]["state"][0]) == sorted(
        ["func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
         "prev_flat_grad", "prev_loss", "al"]
    )  # fmt: skip
    for _ in range(3):
        assert run.step() == resumed.step()
    for a, b in zip(run.arrays(), resumed.arrays()):
        np.testing.assert_array_equal(a, b)
    assert run.state()["func_evals"] == resumed.state()["func_evals"]


def test_state_dict_loads_into_torch():
    """nnlab's state_dict, converted to torch tensors, lets torch continue the run."""
    kwargs = dict(max_iter=MAX_ITER, history_size=4, line_search_fn="strong_wolfe")
    ours, theirs = Run("nnlab", "logistic", **kwargs), Run("torch", "logistic", **kwargs)
    ours.step()

    def to_torch(value):
        if isinstance(value, nnlab.Tensor):
            return torch.tensor(value.array)
        if isinstance(value, dict):
            return {k: to_torch(v) for k, v in value.items()}
        if isinstance(value, list):
            return [to_torch(v) for v in value]
        return value

    theirs.opt.load_state_dict(to_torch(copy.deepcopy(ours.opt.state_dict())))
    with torch.no_grad():
        for p, a in zip(theirs.params, ours.arrays()):
            p.copy_(torch.from_numpy(a))
    ours.step(), theirs.step()
    _assert_close(ours.arrays(), theirs.arrays(), 1e-10, "continued in torch")


def test_with_autograd_on_a_module():
    """Typical use: each library differentiates its own nn.Sequential; the gradients differ
    in the last bits (summation order), so the bound is that of the free-running test."""
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal((24, 3)), [rng.standard_normal(s) for s in [(6, 3), (6,), (1, 6)]]
    y = np.cos(x.sum(1, keepdims=True))
    results = []
    for lib in (nnlab, torch):
        model = lib.nn.Sequential(lib.nn.Linear(3, 6), lib.nn.Tanh(), lib.nn.Linear(6, 1))
        params = list(model.parameters())
        with lib.no_grad():
            for p, a in zip(params, w + [np.zeros(1)]):
                p.copy_(lib.tensor(a))
        model = model.double() if lib is torch else model.to(nnlab.float64)
        xs, ys = lib.tensor(x), lib.tensor(y)
        opt = lib.optim.LBFGS(model.parameters(), max_iter=MAX_ITER, line_search_fn="strong_wolfe")

        def closure(model=model, opt=opt, xs=xs, ys=ys, lib=lib):
            opt.zero_grad()
            loss = lib.nn.functional.mse_loss(model(xs), ys)
            loss.backward()
            return loss

        losses = [float(opt.step(closure).detach()) for _ in range(3)]
        results.append((losses, [p.detach().numpy().copy() for p in model.parameters()]))
    (loss_ours, params_ours), (loss_theirs, params_theirs) = results
    assert loss_ours[-1] < loss_ours[0] / 2
    np.testing.assert_allclose(loss_ours, loss_theirs, rtol=1e-7)
    _assert_close(params_ours, params_theirs, 1e-7, "autograd")


def test_float32_parameters_keep_their_dtype():
    p = nnlab.tensor(PROBLEMS["rosenbrock"][1][0].astype(np.float32), requires_grad=True)
    opt = optim.LBFGS([p], max_iter=10, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = (100 * (p[1:] - p[:-1] ** 2) ** 2 + (1 - p[:-1]) ** 2).sum()
        loss.backward()
        return loss

    first = float(opt.step(closure))
    assert float(closure()) < first and p.dtype == np.float32
    state = opt.state[p]
    assert state["d"].dtype == state["prev_flat_grad"].dtype == np.float32


# -- errors -------------------------------------------------------------------------------


def test_only_one_parameter_group():
    a, b = nn.Parameter(nnlab.zeros(2)), nn.Parameter(nnlab.zeros(2))
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        optim.LBFGS([{"params": [a]}, {"params": [b], "lr": 0.1}])
    opt = optim.LBFGS([a])
    with pytest.raises(ValueError, match="doesn't support per-parameter options"):
        opt.add_param_group({"params": [b]})


def test_step_needs_a_closure():
    opt = optim.LBFGS([nn.Parameter(nnlab.zeros(2))])
    with pytest.raises(TypeError, match=r"needs a closure.*optimizer.step\(closure\)"):
        opt.step()
    with pytest.raises(TypeError, match="needs a closure"):
        opt.step(3.0)


def test_bad_arguments():
    p = nn.Parameter(nnlab.zeros(2))
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn='backtracking' is not supported"):
        optim.LBFGS([p], line_search_fn="backtracking")


# -- the line search on its own, against torch's ---------------------------------------------


def _wavy(params, data):
    """Σ sin(3x) + 0.1 x²: many local minima, so the line search brackets and zooms."""
    (x,) = params
    return (np.sin(3 * x) + 0.1 * x**2).sum(), [3 * np.cos(3 * x) + 0.2 * x]


LINE_SEARCHES = [
    (f, x0, t, max_ls, tol)
    for f, x0 in [(rosenbrock, [-1.2, 1.0]), (_wavy, [0.3, -1.1, 2.0])]
    for t in (1e-3, 1.0, 30.0, 1e3)
    for max_ls in (1, 2, 25)
    for tol in (1e-9, 1e-2, 1.0)  # 1.0: the zoom stops on a bracket below tolerance
] + [
    # Found by search: the zoom's trial point lands at an end of the bracket and is moved
    # 10 % inside.
    (rosenbrock, [0.01, -2.27], 43.96, 25, 1e-9),
    (rosenbrock, [-0.25, 0.13], 128.26, 25, 1e-9),
    (_wavy, [-0.42, -0.54, -0.43], 246.67, 25, 1e-9),
]


@pytest.mark.parametrize("f, x0, t, max_ls, tol", LINE_SEARCHES)
def test_strong_wolfe_line_search_matches_torch(f, x0, t, max_ls, tol):
    """Every branch of the bracketing and zoom phases (running out of evaluations, a
    bracket below tolerance, trial points pushed away from the ends) against torch's
    ``_strong_wolfe`` on the same objective."""
    from torch.optim.lbfgs import _strong_wolfe as torch_strong_wolfe

    from nnlab.optim.lbfgs import _strong_wolfe

    x = np.array(x0)
    loss, (grad,) = f([x], None)
    d = -grad

    def obj_numpy(x_init, step, direction):
        value, (g,) = f([x_init[0] + step * direction], None)
        return float(value), g

    def obj_torch(x_init, step, direction):
        value, (g,) = f([x_init[0].numpy() + float(step) * direction.numpy()], None)
        return float(value), torch.tensor(g)

    ours = _strong_wolfe(
        obj_numpy, [x], t, d, float(loss), grad, grad.dot(d), tolerance_change=tol, max_ls=max_ls
    )
    theirs = torch_strong_wolfe(
        obj_torch, [torch.tensor(x)], t, torch.tensor(d), float(loss), torch.tensor(grad),
        torch.tensor(grad).dot(torch.tensor(d)), tolerance_change=tol, max_ls=max_ls,
    )  # fmt: skip
    assert ours[3] == theirs[3]  # evaluations
    np.testing.assert_allclose(float(ours[2]), float(theirs[2]), rtol=1e-12)  # step length
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)  # loss
    np.testing.assert_allclose(ours[1], theirs[1].numpy(), rtol=1e-10, atol=1e-14)
