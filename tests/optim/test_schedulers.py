"""Learning-rate schedulers follow torch.optim.lr_scheduler, and resume without resetting.

Convention: every scheduler configuration is a factory ``make(mod, opt)`` called with
``mod`` = nnlab's or torch's ``lr_scheduler`` module and an optimizer of the same library
(two parameter groups with different learning rates), so both sides are built by the same
code. The schedules are pure Python arithmetic on the same values in the same order, so the
learning rates (and OneCycleLR's momentum) must be *equal*, not merely close.
"""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

import nnlab
from nnlab import optim
from nnlab.optim import lr_scheduler as nn_sched
from nnlab.train.checkpoint import pack_state, unpack_state

STEPS = 60
LRS = (0.1, 0.01)


def _optimizer(lib: str, name: str = "SGD", **kwargs):
    if lib == "nnlab":
        params = [nnlab.zeros(2, requires_grad=True), nnlab.zeros(3, requires_grad=True)]
        cls = getattr(optim, name)
    else:
        params = [torch.zeros(2, requires_grad=True), torch.zeros(3, requires_grad=True)]
        cls = getattr(torch.optim, name)
    kwargs = {"momentum": 0.9, **kwargs} if name == "SGD" else kwargs
    return cls([{"params": [p], "lr": lr} for p, lr in zip(params, LRS)], **kwargs)


def _halving(epoch):
    return 0.5 ** (epoch // 10)


class Warmup:
    """A callable object: its attributes are saved by LambdaLR.state_dict."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, epoch):
        return min(1.0, (epoch + 1) / self.steps)


#: name -> (factory, optimizer name, optimizer kwargs)
SCHEDULERS = {
    "StepLR": (lambda m, o: m.StepLR(o, step_size=7, gamma=0.5), "SGD", {}),
    "MultiStepLR": (
        lambda m, o: m.MultiStepLR(o, milestones=[5, 15, 15, 40], gamma=0.3),
        "SGD",
        {},
    ),
    "ExponentialLR": (lambda m, o: m.ExponentialLR(o, gamma=0.93), "SGD", {}),
    "CosineAnnealingLR": (lambda m, o: m.CosineAnnealingLR(o, T_max=20, eta_min=1e-3), "SGD", {}),
    "CosineAnnealingLR-long": (lambda m, o: m.CosineAnnealingLR(o, T_max=45), "Adam", {}),
    "CosineAnnealingWarmRestarts": (
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2, eta_min=1e-4),
        "SGD",
        {},
    ),
    "CosineAnnealingWarmRestarts-T_mult1": (
        lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=7),
        "SGD",
        {},
    ),
    "LinearLR-warmup": (lambda m, o: m.LinearLR(o, start_factor=0.1, total_iters=10), "SGD", {}),
    "LinearLR-decay": (
        lambda m, o: m.LinearLR(o, start_factor=1.0, end_factor=0.2, total_iters=30),
        "SGD",
        {},
    ),
    "LambdaLR": (lambda m, o: m.LambdaLR(o, _halving), "SGD", {}),
    "LambdaLR-per-group": (lambda m, o: m.LambdaLR(o, [_halving, Warmup(8)]), "SGD", {}),
    "OneCycleLR-SGD": (lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=STEPS), "SGD", {}),
    "OneCycleLR-Adam": (
        lambda m, o: m.OneCycleLR(
            o,
            max_lr=[0.01, 0.003],
            epochs=6,
            steps_per_epoch=10,
            base_momentum=0.8,
            max_momentum=0.9,
        ),
        "Adam",
        {},
    ),
    "OneCycleLR-linear": (
        lambda m, o: m.OneCycleLR(
            o,
            max_lr=0.5,
            total_steps=STEPS,
            anneal_strategy="linear",
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
        ),
        "SGD",
        {},
    ),
    "OneCycleLR-three-phase": (
        lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, three_phase=True),
        "Adam",
        {},
    ),
    "OneCycleLR-no-momentum": (
        lambda m, o: m.OneCycleLR(o, max_lr=0.5, total_steps=STEPS, cycle_momentum=False),
        "Adagrad",
        {},
    ),
    "SequentialLR": (
        lambda m, o: m.SequentialLR(
            o,
            [m.LinearLR(o, start_factor=0.1, total_iters=10), m.CosineAnnealingLR(o, T_max=30)],
            milestones=[10],
        ),
        "SGD",
        {},
    ),
    "SequentialLR-three": (
        lambda m, o: m.SequentialLR(
            o,
            [
                m.LinearLR(o, start_factor=0.5, total_iters=4),
                m.StepLR(o, step_size=5),
                m.ExponentialLR(o, gamma=0.9),
            ],
            milestones=[8, 30],
        ),
        "SGD",
        {},
    ),
}

#: ReduceLROnPlateau: (kwargs, metric sign); the metric sequence is scripted below.
PLATEAU = {
    "min-rel": (dict(factor=0.5, patience=2), 1.0),
    "max-abs": (
        dict(mode="max", factor=0.3, patience=1, threshold=0.01, threshold_mode="abs"),
        -1.0,
    ),
    "cooldown-min_lr": (dict(factor=0.5, patience=0, cooldown=3, min_lr=[0.02, 0.0005]), 1.0),
    "eps-skips-small-reductions": (dict(factor=0.9, patience=1, eps=0.005), 1.0),
}


def _metric(i: int) -> float:
    """Improves, plateaus with noise, improves a little, plateaus for good."""
    base = max(0.3, 1.0 - 0.05 * i) if i < 35 else 0.28 - 0.001 * min(i - 35, 5)
    return base + 0.01 * math.sin(3.0 * i)


def _momenta(opt):
    return [g.get("momentum", g.get("betas", (None,))[0]) for g in opt.param_groups]


def _run_pair(make, opt_name, opt_kwargs, steps=STEPS):
    ours_opt, ref_opt = (
        _optimizer("nnlab", opt_name, **opt_kwargs),
        _optimizer("torch", opt_name, **opt_kwargs),
    )
    ours, ref = make(nn_sched, ours_opt), make(torch.optim.lr_scheduler, ref_opt)
    history = []
    for i in range(steps + 1):
        assert ours.get_last_lr() == ref.get_last_lr(), f"lr at epoch {i}"
        assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
        assert _momenta(ours_opt) == _momenta(ref_opt), f"momentum at epoch {i}"
        assert ours.last_epoch == ref.last_epoch
        history.append(ours.get_last_lr())
        if i < steps:
            ours_opt.step()
            ref_opt.step()
            ours.step()
            ref.step()
    return history


@pytest.mark.parametrize("name", SCHEDULERS)
def test_lr_sequence_matches_torch(name):
    make, opt_name, opt_kwargs = SCHEDULERS[name]
    history = _run_pair(make, opt_name, opt_kwargs)
    assert len({tuple(h) for h in history}) > 1, "the schedule should change the lr"


@pytest.mark.parametrize("name", PLATEAU)
def test_reduce_lr_on_plateau_matches_torch(name):
    kwargs, sign = PLATEAU[name]
    ours_opt, ref_opt = _optimizer("nnlab"), _optimizer("torch")
    ours = nn_sched.ReduceLROnPlateau(ours_opt, **kwargs)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(ref_opt, **kwargs)
    seen = set()
    for i in range(STEPS):
        metric = sign * _metric(i)
        ours.step(nnlab.tensor(metric, dtype=nnlab.float64) if i % 2 else metric)  # 0-d works
        ref.step(metric)
        assert ours.get_last_lr() == ref.get_last_lr(), f"epoch {i}"
        assert [g["lr"] for g in ours_opt.param_groups] == [g["lr"] for g in ref_opt.param_groups]
        assert (ours.best, ours.num_bad_epochs, ours.cooldown_counter) == (
            ref.best,
            ref.num_bad_epochs,
            ref.cooldown_counter,
        )
        seen.add(tuple(ours.get_last_lr()))
    assert len(seen) > 1


@pytest.mark.parametrize(
    "name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR-warmup"]
)
def test_closed_form_step_with_epoch_matches_torch(name):
    make, opt_name, opt_kwargs = SCHEDULERS[name]
    ours_opt, ref_opt = _optimizer("nnlab", opt_name), _optimizer("torch", opt_name)
    ours, ref = make(nn_sched, ours_opt), make(torch.optim.lr_scheduler, ref_opt)
    ours_opt.step()
    ref_opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in [3, 7, 16, 2, 40, 41]:
            ours.step(epoch)
            ref.step(epoch)
            assert ours.get_last_lr() == ref.get_last_lr(), f"epoch {epoch}"


def test_warm_restarts_with_fractional_epochs_matches_torch():
    ours_opt, ref_opt = _optimizer("nnlab"), _optimizer("torch")
    kwargs = dict(T_0=3, T_mult=2, eta_min=1e-3)
    ours = nn_sched.CosineAnnealingWarmRestarts(ours_opt, **kwargs)
    ref = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(ref_opt, **kwargs)
    for epoch in range(12):
        for batch in range(4):
            ours.step(epoch + batch / 4)
            ref.step(epoch + batch / 4)
            assert ours.get_last_lr() == ref.get_last_lr()
            assert (ours.T_cur, ours.T_i, ours.last_epoch) == (ref.T_cur, ref.T_i, ref.last_epoch)


# -- state_dict round trips ---------------------------------------------------------------


def _through_json(state):
    text = json.dumps(state)  # must be JSON-able (inf is written as Infinity)
    return json.loads(text)


def _roundtrip_opt(opt):
    arrays = {}
    meta = pack_state(opt.state_dict(), arrays, "optimizer")
    return unpack_state(_through_json(meta), arrays)


@pytest.mark.parametrize("name", [*SCHEDULERS, *[f"plateau-{k}" for k in PLATEAU]])
def test_state_dict_round_trip(name):
    if name.startswith("plateau-"):
        kwargs, sign = PLATEAU[name.removeprefix("plateau-")]
        make, opt_name = (lambda m, o: m.ReduceLROnPlateau(o, **kwargs)), "SGD"

        def advance(s, i):
            s.step(sign * _metric(i))
    else:
        make, opt_name, _ = SCHEDULERS[name]

        def advance(s, i):
            s.step()

    def lrs_of(opt, sched, start, stop):
        out = []
        for i in range(start, stop):
            opt.step()
            advance(sched, i)
            out.append((sched.get_last_lr(), _momenta(opt)))
        return out

    opt = _optimizer("nnlab", opt_name)
    sched = make(nn_sched, opt)
    straight = lrs_of(opt, sched, 0, STEPS)

    opt = _optimizer("nnlab", opt_name)
    sched = make(nn_sched, opt)
    first = lrs_of(opt, sched, 0, 25)
    opt_state, sched_state = _roundtrip_opt(opt), _through_json(sched.state_dict())
    assert "optimizer" not in sched_state
    opt = _optimizer("nnlab", opt_name)
    sched = make(nn_sched, opt)
    opt.load_state_dict(opt_state)
    sched.load_state_dict(sched_state)
    assert sched.get_last_lr() == first[-1][0]
    assert sched.last_epoch == (25 if name.startswith("plateau") else 25)
    assert first + lrs_of(opt, sched, 25, STEPS) == straight


@pytest.mark.parametrize("name", SCHEDULERS)
def test_loads_a_torch_scheduler_state_dict(name):
    """A torch scheduler's state (and its optimizer's) loads into nnlab's twins, which then
    continue exactly as torch does."""
    make, opt_name, opt_kwargs = SCHEDULERS[name]
    ref_opt = _optimizer("torch", opt_name, **opt_kwargs)
    ref = make(torch.optim.lr_scheduler, ref_opt)
    for _ in range(20):
        ref_opt.step()
        ref.step()
    ours_opt = _optimizer("nnlab", opt_name, **opt_kwargs)
    ours = make(nn_sched, ours_opt)
    ours_opt.load_state_dict(ref_opt.state_dict())  # no tensors: the optimizers never stepped
    ours.load_state_dict(ref.state_dict())
    for i in range(20, STEPS):
        ours_opt.step()
        ref_opt.step()
        ours.step()
        ref.step()
        assert ours.get_last_lr() == ref.get_last_lr(), f"lr at epoch {i + 1}"
        assert _momenta(ours_opt) == _momenta(ref_opt), f"momentum at epoch {i + 1}"


def test_get_last_lr_is_a_copy():
    opt = _optimizer("nnlab")
    sched = nn_sched.StepLR(opt, step_size=2)
    sched.get_last_lr()[0] = 123.0
    assert sched.get_last_lr() == list(LRS)


def test_lambda_state_dict_saves_callable_objects_only():
    opt = _optimizer("nnlab")
    warm = Warmup(8)
    sched = nn_sched.LambdaLR(opt, [_halving, warm])
    state = sched.state_dict()
    assert state["lr_lambdas"] == [None, {"steps": 8}]
    warm.steps = 3
    sched.load_state_dict(state)
    assert warm.steps == 8


# -- resuming a real training run (the PyTorch trap) ---------------------------------------

_RNG = np.random.default_rng(5)
_X = _RNG.standard_normal((16, 3))
_Y = _X @ np.array([1.0, -2.0, 0.5]) + 0.1 * _RNG.standard_normal(16)

#: scheduler factories (nnlab only) and the optimizer they drive
RESUME = {
    **{k: (v[0], v[1]) for k, v in SCHEDULERS.items() if k != "OneCycleLR-no-momentum"},
    "ReduceLROnPlateau": (lambda m, o: m.ReduceLROnPlateau(o, factor=0.5, patience=0), "SGD"),
}


class Training:
    """Linear regression (weights and bias in two parameter groups) trained with autograd,
    an optimizer and a scheduler."""

    def __init__(self, name, lib=nn_sched):
        make, opt_name = RESUME[name]
        self.lib = lib
        if lib is nn_sched:
            self.w = nnlab.tensor(np.zeros(3), requires_grad=True)
            self.b = nnlab.tensor(np.zeros(()), requires_grad=True)
            cls = getattr(optim, opt_name)
        else:
            self.w = torch.tensor(np.zeros(3), requires_grad=True)
            self.b = torch.tensor(np.zeros(()), requires_grad=True)
            cls = getattr(torch.optim, opt_name)
        kwargs = {"momentum": 0.9} if opt_name == "SGD" else {}
        groups = [{"params": [self.w], "lr": 0.05}, {"params": [self.b], "lr": 0.02}]
        self.new_optimizer = lambda: cls(groups, **kwargs)
        self.new_scheduler = lambda opt: make(lib, opt)
        self.opt = self.new_optimizer()
        self.sched = self.new_scheduler(self.opt)
        self.lrs = []

    def train(self, steps):
        x, y = _X, _Y
        if self.lib is nn_sched:
            x, y = nnlab.tensor(x), nnlab.tensor(y)
        else:
            x, y = torch.tensor(x), torch.tensor(y)
        for _ in range(steps):
            self.opt.zero_grad()
            loss = ((x @ self.w + self.b - y) ** 2).mean()
            loss.backward()
            self.lrs.append([g["lr"] for g in self.opt.param_groups])
            self.opt.step()
            if "Plateau" in type(self.sched).__name__:
                self.sched.step(float(loss.item()))
            else:
                self.sched.step()
        return self

    def weights(self):
        if self.lib is nn_sched:
            return np.append(self.w.array, self.b.array)
        return np.append(self.w.detach().numpy(), self.b.detach().numpy())


def _resume(run, order):
    """Rebuild optimizer and scheduler from the run's saved states, in the given order."""
    opt_state = _roundtrip_opt(run.opt)
    sched_state = _through_json(run.sched.state_dict())
    if order == "build both, load optimizer, load scheduler":
        run.opt = run.new_optimizer()
        run.sched = run.new_scheduler(run.opt)
        run.opt.load_state_dict(opt_state)
        run.sched.load_state_dict(sched_state)
    elif order == "build both, load scheduler, load optimizer":
        run.opt = run.new_optimizer()
        run.sched = run.new_scheduler(run.opt)
        run.sched.load_state_dict(sched_state)
        run.opt.load_state_dict(opt_state)
    else:  # the PyTorch trap: the optimizer is restored before the scheduler is built
        run.opt = run.new_optimizer()
        run.opt.load_state_dict(opt_state)
        run.sched = run.new_scheduler(run.opt)
        run.sched.load_state_dict(sched_state)
    return run


ORDERS = [
    "build both, load optimizer, load scheduler",
    "build both, load scheduler, load optimizer",
    "load optimizer, build scheduler, load scheduler",
]


@pytest.mark.parametrize("order", ORDERS, ids=["opt-first", "sched-first", "trap-order"])
@pytest.mark.parametrize("name", RESUME)
def test_train5_resume_train5_equals_train10(name, order):
    straight = Training(name).train(10)
    resumed = _resume(Training(name).train(5), order).train(5)
    assert resumed.lrs == straight.lrs
    np.testing.assert_array_equal(resumed.weights(), straight.weights())


def test_torch_falls_into_the_trap_that_nnlab_avoids():
    """Why nnlab's load_state_dict writes the learning rate back: with torch, restoring the
    optimizer before building a LinearLR warm-up resets the learning rate."""
    straight = Training("LinearLR-warmup", lib=torch.optim.lr_scheduler).train(10)
    run = Training("LinearLR-warmup", lib=torch.optim.lr_scheduler).train(5)
    opt_state, sched_state = run.opt.state_dict(), run.sched.state_dict()
    run.opt = run.new_optimizer()
    run.opt.load_state_dict(opt_state)
    run.sched = run.new_scheduler(run.opt)
    run.sched.load_state_dict(sched_state)
    run.train(5)
    assert run.lrs != straight.lrs  # torch: the 6th step ran at 0.1 x the right lr

    ours = _resume(Training("LinearLR-warmup").train(5), ORDERS[2]).train(5)
    assert np.allclose(ours.lrs, straight.lrs, rtol=1e-12, atol=0)


# -- errors and warnings ----------------------------------------------------------------


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _optimizer("nnlab")
    sched = nn_sched.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()


def test_resuming_with_last_epoch_needs_initial_lr():
    with pytest.raises(KeyError, match="initial_lr"):
        nn_sched.StepLR(_optimizer("nnlab"), step_size=2, last_epoch=3)


def test_not_an_optimizer():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        nn_sched.StepLR(object(), step_size=2)


@pytest.mark.parametrize(
    "make,message",
    [
        (lambda o: nn_sched.OneCycleLR(o, max_lr=0.1), "total_steps OR"),
        (lambda o: nn_sched.OneCycleLR(o, max_lr=0.1, total_steps=0), "total_steps, but got 0"),
        (lambda o: nn_sched.OneCycleLR(o, 0.1, 10, anneal_strategy="cubic"), "cubic"),
        (lambda o: nn_sched.OneCycleLR(o, 0.1, 10, pct_start=1.5), "pct_start"),
        (lambda o: nn_sched.OneCycleLR(o, [0.1], 10), "max_lr must have the same length"),
        (lambda o: nn_sched.LinearLR(o, start_factor=0), "start_factor=0"),
        (lambda o: nn_sched.LinearLR(o, end_factor=2.0), "end_factor=2.0"),
        (lambda o: nn_sched.CosineAnnealingWarmRestarts(o, T_0=0), "T_0, but got 0"),
        (lambda o: nn_sched.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), "T_mult >= 1"),
        (lambda o: nn_sched.ReduceLROnPlateau(o, factor=1.0), "Factor should be < 1.0"),
        (lambda o: nn_sched.ReduceLROnPlateau(o, mode="up"), "'up' is unknown"),
        (lambda o: nn_sched.ReduceLROnPlateau(o, threshold_mode="x"), "'x' is unknown"),
        (lambda o: nn_sched.ReduceLROnPlateau(o, min_lr=[0.1]), "expected 2 min_lrs"),
        (lambda o: nn_sched.LambdaLR(o, [_halving]), "Expected 2 lr_lambdas"),
        (lambda o: nn_sched.SequentialLR(o, [nn_sched.StepLR(o, 2)], [3]), "one more"),
    ],
)
def test_invalid_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make(_optimizer("nnlab"))


def test_one_cycle_needs_momentum_and_stops_after_total_steps():
    opt = optim.Adagrad([nnlab.zeros(1, requires_grad=True)])
    with pytest.raises(ValueError, match="momentum or beta1"):
        nn_sched.OneCycleLR(opt, max_lr=0.1, total_steps=5)
    opt = _optimizer("nnlab")
    sched = nn_sched.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    opt.step()
    for _ in range(3):
        sched.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        sched.step()
