"""Optimizers follow torch.optim step by step.

Convention: a small 2-layer MLP (tanh, MSE) is built twice from the same seeded NumPy
weights, as raw nnlab tensors and as raw torch tensors; both libraries compute their own
gradients (nnlab autograd vs torch autograd) on the same mini-batches, and every parameter
is compared after every one of ``STEPS`` steps. A configuration whose ``maximize`` is set
ascends the negated loss, so it still converges. Tolerances per dtype live in ``TOL``.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import nnlab
from nnlab import optim
from nnlab.train.checkpoint import pack_state, unpack_state

STEPS = 60
# Measured worst relative differences over 60 steps: ~5e-15 (float64), ~9e-7 (float32).
TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}
SHAPES = [(8, 4), (8,), (2, 8), (2,)]  # W1, b1, W2, b2


def _initial_weights(seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) * 0.5 for s in SHAPES]


def _batches(n: int = 4, seed: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((8 * n, 4))
    y = np.stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] * x[:, 3]], axis=1)
    return [(x[8 * i : 8 * i + 8], y[8 * i : 8 * i + 8]) for i in range(n)]


BATCHES = _batches()


def _forward(lib, params, x, y):
    w1, b1, w2, b2 = params
    h = (x @ w1.T + b1).tanh()
    return ((h @ w2.T + b2 - y) ** 2).mean()


def _groups(params, groups):
    """Turn a groups spec (list of dicts with index lists) into real parameter groups."""
    if groups is None:
        return params
    return [{**g, "params": [params[i] for i in g["params"]]} for g in groups]


class Run:
    """One library's copy of the model, its optimizer and a step function."""

    def __init__(self, lib, name, kwargs, dtype, groups=None, weights=None):
        self.lib, self.dtype = lib, dtype
        weights = _initial_weights() if weights is None else weights
        if lib == "nnlab":
            self.params = [nnlab.tensor(w.astype(dtype), requires_grad=True) for w in weights]
            cls = getattr(optim, name)
        else:
            self.params = [torch.tensor(w.astype(dtype)).requires_grad_(True) for w in weights]
            cls = getattr(torch.optim, name)
        self.sign = -1.0 if kwargs.get("maximize") else 1.0
        self.opt = cls(_groups(self.params, groups), **kwargs)

    def data(self, x, y):
        if self.lib == "nnlab":
            return nnlab.tensor(x.astype(self.dtype)), nnlab.tensor(y.astype(self.dtype))
        return torch.tensor(x.astype(self.dtype)), torch.tensor(y.astype(self.dtype))

    def step(self, i):
        x, y = self.data(*BATCHES[i % len(BATCHES)])
        self.opt.zero_grad()
        loss = _forward(self.lib, self.params, x, y) * self.sign
        loss.backward()
        self.opt.step()
        return float(loss.item()) * self.sign  # the MSE, whichever way it was optimized

    def arrays(self):
        if self.lib == "nnlab":
            return [p.array.copy() for p in self.params]
        return [p.detach().numpy().copy() for p in self.params]


TWO_GROUPS = [{"params": [0, 1], "lr": 0.05}, {"params": [2, 3]}]

#: (optimizer, keyword arguments, parameter groups or None)
CONFIGS = [
    ("SGD", dict(lr=0.1), None),
    ("SGD", dict(lr=0.05, momentum=0.9), None),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5), None),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), None),
    ("SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.01, maximize=True), None),
    ("SGD", dict(lr=0.1, weight_decay=0.1), None),
    ("SGD", dict(lr=0.1, momentum=0.9), TWO_GROUPS),
    ("Adagrad", dict(lr=0.1), None),
    (
        "Adagrad",
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1, eps=1e-8),
        None,
    ),
    ("Adagrad", dict(lr=0.1, maximize=True), TWO_GROUPS),
    ("RMSprop", dict(lr=0.01), None),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True), None),
    ("RMSprop", dict(lr=0.005, momentum=0.9), None),
    ("RMSprop", dict(lr=0.005, momentum=0.9, centered=True, weight_decay=0.01), None),
    ("RMSprop", dict(lr=0.01, maximize=True), TWO_GROUPS),
    ("Adam", dict(lr=0.01), None),
    ("Adam", dict(lr=0.01, amsgrad=True), None),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1), None),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True), None),
    (
        "Adam",
        dict(lr=0.01),
        [
            {"params": [0, 1], "betas": (0.5, 0.9)},
            {"params": [2, 3], "lr": 0.002, "weight_decay": 0.05},
        ],
    ),
    ("AdamW", dict(lr=0.01), None),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True), None),
    ("AdamW", dict(lr=0.01, maximize=True), TWO_GROUPS),
    ("Adadelta", dict(), None),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-5, weight_decay=0.01), None),
    ("Adadelta", dict(maximize=True), TWO_GROUPS),
    ("NAdam", dict(lr=0.01), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, betas=(0.8, 0.99), maximize=True), None),
    ("NAdam", dict(lr=0.01), TWO_GROUPS),
]


def _id(config):
    name, kwargs, groups = config
    args = ",".join(f"{k}={v}" for k, v in kwargs.items())
    return f"{name}({args}){'-groups' if groups else ''}"


def _assert_same(nn_arrays, torch_arrays, dtype, where):
    for k, (a, b) in enumerate(zip(nn_arrays, torch_arrays)):
        assert a.dtype == b.dtype, f"{where}: parameter {k} dtype {a.dtype} != {b.dtype}"
        try:
            np.testing.assert_allclose(a, b, **TOL[dtype])
        except AssertionError as exc:
            raise AssertionError(
                f"{where}: parameter {k} (shape {a.shape}) differs\n{exc}"
            ) from None


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_trajectory_matches_torch(config, dtype):
    name, kwargs, groups = config
    ours = Run("nnlab", name, kwargs, dtype, groups)
    ref = Run("torch", name, kwargs, dtype, groups)
    losses = []
    for i in range(STEPS):
        losses.append(ours.step(i))
        ref.step(i)
        _assert_same(ours.arrays(), ref.arrays(), dtype, f"{_id(config)} step {i + 1}")
    assert losses[-1] < losses[0], "the configuration should make progress"


@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_state_names_and_groups_match_torch(config):
    name, kwargs, groups = config
    ours = Run("nnlab", name, kwargs, np.float64, groups)
    ref = Run("torch", name, kwargs, np.float64, groups)
    for i in range(3):
        ours.step(i)
        ref.step(i)
    mine, theirs = ours.opt.state_dict(), ref.opt.state_dict()
    assert sorted(mine["state"]) == sorted(theirs["state"])
    for k, state in mine["state"].items():
        assert list(state) == list(theirs["state"][k]), f"state names of parameter {k}"
        for key, value in state.items():
            expected = theirs["state"][k][key].numpy()
            assert isinstance(value, nnlab.Tensor)
            assert value.dtype == expected.dtype, f"dtype of state {key!r}"
            np.testing.assert_allclose(value.array, expected, rtol=1e-10, atol=1e-12)
    for g, t in zip(mine["param_groups"], theirs["param_groups"]):
        for key, value in g.items():
            assert t[key] == value, f"group entry {key!r}: {value!r} vs torch {t[key]!r}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("config", CONFIGS, ids=_id)
def test_state_dict_round_trip_continues_identically(config, dtype):
    """Save after 20 steps, go through the safetensors/JSON flattening, load into a new
    optimizer, continue: bit-for-bit the uninterrupted run."""
    name, kwargs, groups = config
    straight = Run("nnlab", name, kwargs, dtype, groups)
    for i in range(40):
        straight.step(i)

    resumed = Run("nnlab", name, kwargs, dtype, groups)
    for i in range(20):
        resumed.step(i)
    arrays = {}
    meta = pack_state(resumed.opt.state_dict(), arrays, "optimizer")
    assert all(isinstance(a, np.ndarray) and a.flags.c_contiguous for a in arrays.values())
    meta = json.loads(json.dumps(meta))
    saved = unpack_state(meta, {k: v.copy() for k, v in arrays.items()})
    resumed.opt = getattr(optim, name)(_groups(resumed.params, groups), **kwargs)
    resumed.opt.load_state_dict(saved)
    for i in range(20, 40):
        resumed.step(i)
    for a, b in zip(straight.arrays(), resumed.arrays()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "config",
    [c for c in CONFIGS if c[0] in ("SGD", "Adam", "NAdam", "RMSprop") and c[2] is None][::2],
    ids=_id,
)
def test_loads_a_torch_state_dict(config):
    """A torch optimizer's state_dict (tensors turned into NumPy arrays) loads into nnlab's,
    and both continue along the same trajectory."""
    name, kwargs, _ = config
    ref = Run("torch", name, kwargs, np.float64)
    for i in range(20):
        ref.step(i)
    sd = ref.opt.state_dict()
    sd = {
        "state": {k: {n: v.numpy().copy() for n, v in s.items()} for k, s in sd["state"].items()},
        "param_groups": copy.deepcopy(sd["param_groups"]),
    }
    ours = Run("nnlab", name, kwargs, np.float64, weights=ref.arrays())
    ours.opt.load_state_dict(sd)
    for i in range(20, 40):
        ours.step(i)
        ref.step(i)
        _assert_same(ours.arrays(), ref.arrays(), np.float64, f"{_id(config)} step {i + 1}")


def test_state_dict_layout():
    w, b = nnlab.ones(2, 2, requires_grad=True), nnlab.zeros(2, requires_grad=True)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.1}], lr=0.01)
    (w.sum() + (b * b).sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.01, 0.1]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(sd["state"][0]) == ["step", "exp_avg", "exp_avg_sq"]
    assert sd["state"][0]["step"].shape == () and float(sd["state"][0]["step"]) == 1.0
    assert sd["state"][0]["step"].dtype == np.float32  # as torch: float32 scalar state


def test_step_dtype_follows_the_default_dtype():
    nnlab.set_default_dtype(nnlab.float64)
    try:
        w = nnlab.ones(2, requires_grad=True)
        opt = optim.NAdam([w])
        (w * w).sum().backward()
        opt.step()
        assert opt.state[w]["step"].dtype == np.float64
        assert opt.state[w]["mu_product"].dtype == np.float64
    finally:
        nnlab.set_default_dtype(nnlab.float32)


def test_load_state_dict_copies_and_casts():
    w = nnlab.ones(3, dtype=nnlab.float32, requires_grad=True)
    src = optim.SGD([w], lr=0.1, momentum=0.9)
    (w * w).sum().backward()
    src.step()
    sd = src.state_dict()
    sd["state"][0]["momentum_buffer"] = sd["state"][0]["momentum_buffer"].array.astype(np.float64)
    dst = optim.SGD([w], lr=0.5, momentum=0.9)
    dst.load_state_dict(sd)
    buf = dst.state[w]["momentum_buffer"]
    assert buf.dtype == np.float32
    assert not np.shares_memory(buf.array, src.state[w]["momentum_buffer"].array)
    assert dst.param_groups[0]["lr"] == 0.1 and dst.param_groups[0]["params"][0] is w


def test_load_state_dict_mismatch_errors():
    a, b = nnlab.ones(2, requires_grad=True), nnlab.ones(2, requires_grad=True)
    sd = optim.SGD([a, b]).state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.SGD([a]).load_state_dict(sd)


def test_parameters_without_grad_are_skipped_and_get_no_state():
    used, unused = nnlab.ones(2, requires_grad=True), nnlab.ones(2, requires_grad=True)
    opt = optim.Adam([used, unused], lr=0.1)
    (used * used).sum().backward()
    opt.step()
    assert unused in opt.state and not opt.state[unused] or unused not in opt.state
    np.testing.assert_array_equal(unused.array, np.ones(2, np.float32))
    assert list(opt.state_dict()["state"]) == [0]


def test_sgd_without_momentum_keeps_no_state():
    w = nnlab.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    opt.step()
    assert opt.state_dict()["state"] == {}


def test_updates_in_place_and_leave_grads_alone():
    w = nnlab.tensor([1.0, -2.0, 3.0], requires_grad=True)
    array = w.array
    for cls in (
        optim.SGD,
        optim.Adam,
        optim.AdamW,
        optim.Adagrad,
        optim.RMSprop,
        optim.Adadelta,
        optim.NAdam,
    ):
        opt = cls([w], maximize=True, weight_decay=0.1)
        opt.zero_grad()
        (w * w).sum().backward()
        grad = w.grad.array.copy()
        opt.step()
        assert w.array is array, cls.__name__
        np.testing.assert_array_equal(w.grad.array, grad, err_msg=cls.__name__)


def test_zero_grad():
    w = nnlab.ones(2, requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    grad = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is grad
    np.testing.assert_array_equal(w.grad.array, [0.0, 0.0])
    opt.zero_grad()
    assert w.grad is None


def test_closure_is_evaluated_with_grad_enabled_and_returned():
    w = nnlab.tensor([2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with nnlab.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 4.0
    np.testing.assert_allclose(w.array, [1.0])


def test_add_param_group_takes_defaults():
    a, b = nnlab.ones(1, requires_grad=True), nnlab.ones(1, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert opt.param_groups[1]["params"] == [b]
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert "Parameter Group 1" in repr(opt) and "lr: 0.01" in repr(opt)


def test_bad_params():
    w = nnlab.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(w)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2])
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({w})
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)])


#: (optimizer, keyword arguments that torch and nnlab both reject)
BAD_ARGUMENTS = [
    ("SGD", dict(lr=-1)),
    ("SGD", dict(lr=0.1, momentum=-0.5)),
    ("SGD", dict(lr=0.1, weight_decay=-1e-4)),
    ("SGD", dict(lr=0.1, nesterov=True)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)),
    ("Adam", dict(lr=-0.001)),
    ("Adam", dict(betas=(1.0, 0.999))),
    ("Adam", dict(betas=(0.9, -0.1))),
    ("Adam", dict(eps=-1e-8)),
    ("AdamW", dict(weight_decay=-0.01)),
    ("Adagrad", dict(lr_decay=-1)),
    ("Adagrad", dict(initial_accumulator_value=-0.5)),
    ("RMSprop", dict(alpha=-0.99)),
    ("RMSprop", dict(momentum=-0.1)),
    ("Adadelta", dict(rho=1.5)),
    ("NAdam", dict(momentum_decay=-1)),
    ("NAdam", dict(betas=(0.9, 1.0))),
]


@pytest.mark.parametrize(
    "name,kwargs", BAD_ARGUMENTS, ids=[_id((n, k, None)) for n, k in BAD_ARGUMENTS]
)
def test_invalid_hyper_parameters_raise_like_torch(name, kwargs):
    with pytest.raises(ValueError) as theirs:
        getattr(torch.optim, name)([torch.ones(1, requires_grad=True)], **kwargs)
    with pytest.raises(ValueError, match=re.escape(str(theirs.value))):
        getattr(optim, name)([nnlab.ones(1, requires_grad=True)], **kwargs)


def test_invalid_learning_rate_message():
    with pytest.raises(ValueError, match=r"^Invalid learning rate: -1$"):
        optim.SGD([nnlab.ones(1, requires_grad=True)], lr=-1)


def test_optim_never_imports_torch():
    root = Path(nnlab.__file__).parent
    files = [*sorted((root / "optim").glob("*.py")), root / "nn" / "utils" / "clip_grad.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "torch" for n in names), path
