"""Layers vs PyTorch: containers, Linear/Bilinear/Flatten/Unflatten, activations, Dropout.

Convention: the cases are the entries of ``module_db.LAYERS``, run by
``parity.check_module_case``: the torch layer is created first (seeded), its ``state_dict``
is converted to NumPy and loaded into the twin, then both run on the same seeded inputs in
float32 and float64: outputs, the gradient of every input and of every parameter (by
state_dict name) must agree within each entry's tolerance (``parity.TOLERANCES``). Adding a
layer means adding an entry to the table.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
from module_db import LAYERS
from parity import ModuleCase, check_module_case

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.autograd.gradcheck import gradcheck, gradgradcheck
from nnlab.ops.linear import linear_composed

DTYPES = (np.float32, np.float64)
T = torch.nn


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
def test_layer_matches_torch(case: ModuleCase, dtype: type) -> None:
    for shapes in case.shapes:
        check_module_case(case, shapes, dtype)


@pytest.mark.parametrize("case", LAYERS, ids=[c.name for c in LAYERS])
def test_repr_matches_torch(case: ModuleCase) -> None:
    """The repr is torch's, line for line; the parameter count is num_parameters()."""
    ours, theirs = case.nnlab(), case.torch()
    lines = repr(ours).splitlines()
    assert ours.num_parameters() == sum(p.numel() for p in theirs.parameters())
    expected = repr(theirs).replace(type(theirs).__name__, type(ours).__name__, 1)
    if isinstance(ours, nn.MLP):
        expected = expected.replace("Sequential", "MLP", 1)
    assert "\n".join(lines) == expected


def test_state_dict_round_trip() -> None:
    model = nn.MLP(6, [5, 4], 2, norm="batch")
    model(nnlab.randn(8, 6))  # moves the running statistics away from their defaults
    state = {k: v.array.copy() for k, v in model.state_dict().items()}
    twin = nn.MLP(6, [5, 4], 2, norm="batch")
    result = twin.load_state_dict(model.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    for k, v in twin.state_dict().items():
        np.testing.assert_array_equal(v.array, state[k])
    assert twin.state_dict()["1.num_batches_tracked"].array == 1


def test_load_state_dict_reports_every_problem() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    state = {k: v.array for k, v in model.state_dict().items()}
    state["0.weight"] = np.zeros((5, 3), np.float32)
    del state["2.bias"]
    state["3.weight"] = np.zeros(1, np.float32)
    with pytest.raises(RuntimeError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "0.weight" in message and "2.bias" in message and "3.weight" in message


def test_linear_default_init_is_torchs() -> None:
    """Linear: W, b ~ U(-1/√fan_in, 1/√fan_in), the same distribution as torch's layer."""
    nnlab.manual_seed(0)
    torch.manual_seed(0)
    ours, theirs = nn.Linear(400, 300), T.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for w in (ours.weight.array, theirs.weight.detach().numpy()):
        assert w.dtype == np.float32 and w.shape == (300, 400)
        assert -bound <= w.min() < -0.999 * bound and 0.999 * bound < w.max() <= bound
        std = bound / math.sqrt(3)  # of U(-a, a): a/√3
        assert abs(w.mean()) < 5 * std / math.sqrt(w.size)
        assert w.std() == pytest.approx(std, rel=0.01)
    for b in (ours.bias.array, theirs.bias.detach().numpy()):
        assert b.shape == (300,) and -bound <= b.min() and b.max() <= bound
        assert b.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)


def test_bilinear_default_init_is_torchs() -> None:
    layer = nn.Bilinear(50, 20, 40)
    bound = 1 / math.sqrt(50)
    w = layer.weight.array
    assert w.shape == (40, 50, 20) and layer.bias.shape == (40,)
    assert w.min() >= -bound and w.max() <= bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_one_seed_controls_initialisation() -> None:
    nnlab.manual_seed(123)
    a = nn.MLP(4, [8], 2)
    nnlab.manual_seed(123)
    b = nn.MLP(4, [8], 2)
    for (k, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        np.testing.assert_array_equal(x.array, y.array, err_msg=k)
    c = nn.MLP(4, [8], 2)
    assert not np.array_equal(a[0].weight.array, c[0].weight.array)


# -- the fused linear op -------------------------------------------------------------------


def _f64(*shape: int, seed: int = 0, grad: bool = True) -> nnlab.Tensor:
    data = np.random.default_rng(seed).standard_normal(shape)
    return nnlab.tensor(data, dtype=nnlab.float64, requires_grad=grad)


@pytest.mark.parametrize(
    "x_shape, bias",
    [((3, 4), True), ((1, 4), True), ((2, 3, 4), True), ((4,), True), ((3, 4), False)],
)
def test_fused_linear_gradcheck(x_shape: tuple[int, ...], bias: bool) -> None:
    x, w = _f64(*x_shape, seed=1), _f64(5, 4, seed=2)
    b = _f64(5, seed=3) if bias else None
    inputs = [x, w] + ([b] if bias else [])
    assert gradcheck(lambda *a: F.linear(*a), inputs)


def test_fused_linear_double_backward() -> None:
    """The backward is written with @, reshape and .T, so it differentiates again."""
    x, w, b = _f64(3, 4, seed=1), _f64(2, 4, seed=2), _f64(2, seed=3)
    assert gradgradcheck(lambda *a: F.linear(*a).tanh(), [x, w, b])


@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (1, 4)])
@pytest.mark.parametrize("bias", [True, False])
def test_fused_linear_equals_composed_twin(x_shape: tuple[int, ...], bias: bool) -> None:
    results = []
    for fn in (F.linear, linear_composed):
        x, w = _f64(*x_shape, seed=1), _f64(3, 4, seed=2)
        b = _f64(3, seed=3) if bias else None
        y = fn(x, w, b)
        y.backward(np.random.default_rng(4).standard_normal(y.shape))
        results.append([y.array, x.grad.array, w.grad.array] + ([b.grad.array] if bias else []))
    for a, e in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-12, atol=1e-14)


def test_fused_linear_skips_unneeded_gradients() -> None:
    x = nnlab.randn(4, 3)  # an input batch: no gradient wanted
    w = nnlab.randn(2, 3, requires_grad=True)
    b = nnlab.randn(2)
    y = F.linear(x, w, b)
    y.sum().backward()
    assert x.grad is None and b.grad is None
    np.testing.assert_allclose(w.grad.array, np.ones((2, 4)) @ x.array, rtol=1e-6)


def test_functional_linear_rejects_bad_shapes_like_torch() -> None:
    with pytest.raises(RuntimeError, match=r"4x3 and 5x2"):
        torch.nn.functional.linear(torch.zeros(4, 3), torch.zeros(2, 5))
    with pytest.raises(RuntimeError, match=r"4x3 and 5x2"):
        F.linear(nnlab.zeros(4, 3), nnlab.zeros(2, 5))


# -- errors, attributes, freezing ---------------------------------------------------------


def test_linear_shape_error_names_path_and_shapes() -> None:
    model = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(6, 2))
    with pytest.raises(nn.ShapeError) as info:
        model(nnlab.randn(3, 10))
    message = str(info.value)
    assert "model.2" in message and "Linear" in message
    assert "(*, 6)" in message and "(3, 8)" in message
    assert "in_features=6" in message


def test_linear_on_image_batch_hints_flatten() -> None:
    model = nn.Sequential(nn.Linear(3 * 4 * 4, 10))
    with pytest.raises(ValueError, match=r"model\.0.*\(2, 3, 4, 4\).*missing Flatten\?.*48"):
        model(nnlab.zeros(2, 3, 4, 4))


def test_nested_path_in_shape_error() -> None:
    model = nn.Sequential(nn.Flatten(), nn.ModuleDict({"head": nn.Linear(5, 2)}))
    with pytest.raises(nn.ShapeError, match=r"model\.1\.head \(Linear\)"):
        model[1]["head"](nnlab.zeros(2, 4))


@pytest.mark.parametrize(
    "layer, shape",
    [(nn.Unflatten(1, (2, 4)), (3, 6)), (nn.Flatten(2, 3), (3, 6)),
     (nn.Bilinear(2, 3, 4), None)],
)  # fmt: skip
def test_other_shape_errors(layer: nn.Module, shape: tuple[int, ...] | None) -> None:
    with pytest.raises(nn.ShapeError, match=r"model \("):
        if shape is None:
            layer(nnlab.zeros(2, 2), nnlab.zeros(3, 3))
        else:
            layer(nnlab.zeros(*shape))


def test_unknown_attribute_names_the_class() -> None:
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'wieght'"):
        nn.Linear(2, 3).wieght
    with pytest.raises(AttributeError, match="'Sequential' object has no attribute '3'"):
        getattr(nn.Sequential(nn.ReLU()), "3")


def test_freezing_with_requires_grad_() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    x = nnlab.randn(5, 4, requires_grad=True)
    model(x).sum().backward()
    assert model[0].weight.grad is None and model[0].bias.grad is None
    assert model[2].weight.grad is not None and x.grad is not None
    assert model.num_parameters() == 23
    assert model.num_parameters(trainable_only=True) == 8


def test_linear_repr_and_count() -> None:
    assert repr(nn.Linear(20, 30, bias=False)) == (
        "Linear(in_features=20, out_features=30, bias=False)"
    )
    assert nn.Linear(20, 30, bias=False).num_parameters() == 600
    assert repr(nn.ReLU()) == "ReLU()"


def test_linear_dtype_argument() -> None:
    layer = nn.Linear(3, 2, dtype=nnlab.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64
    assert layer(nnlab.zeros(1, 3, dtype=nnlab.float64)).dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        layer(nnlab.zeros(1, 3))


def test_softmax_without_dim_warns_like_torch() -> None:
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = nn.Softmax()(nnlab.zeros(2, 3))
    np.testing.assert_allclose(y.array, np.full((2, 3), 1 / 3), rtol=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Softmax(dim=0)(nnlab.zeros(2, 3))


def test_activation_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    assert repr(nn.LeakyReLU(0.2, inplace=True)) == repr(T.LeakyReLU(0.2, inplace=True))
    assert repr(nn.ELU(inplace=True)) == repr(T.ELU(inplace=True))


# -- containers ---------------------------------------------------------------------------


def test_sequential_indexing_slicing_and_editing() -> None:
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    assert list(seq[1:].state_dict()) == ["2.weight", "2.bias"]  # slices keep their keys
    with pytest.raises(IndexError):
        seq[3]
    seq.append(nn.Sigmoid())
    assert list(seq._modules) == ["0", "1", "2", "3"] and seq(nnlab.zeros(4, 2)).shape == (4, 1)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias"]
    seq.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "Linear", "Sigmoid"]
    assert seq[2].path() == "model.2"
    seq[1] = nn.ReLU()
    assert isinstance(seq[1], nn.ReLU) and seq.pop(-1).__class__ is nn.Sigmoid
    assert len(seq) == 3


def test_sequential_ordered_dict_names_match_torch() -> None:
    ours = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    theirs = T.Sequential(OrderedDict([("conv", T.Linear(2, 2)), ("act", T.ReLU())]))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.conv is ours[0]


def test_module_list_registers_its_items() -> None:
    ours = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 3)])
    theirs = T.ModuleList([T.Linear(2, 2), T.Linear(2, 3)])
    ours += [nn.Linear(3, 1)]
    theirs += [T.Linear(3, 1)]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert len(ours) == 3 and isinstance(ours[1:], nn.ModuleList) and len(ours[1:]) == 2
    del ours[0]
    assert list(ours.state_dict())[0] == "0.weight" and ours[0].out_features == 3
    ours.insert(0, nn.ReLU())
    assert isinstance(ours[0], nn.ReLU) and len(list(ours.parameters())) == 4
    with pytest.raises(TypeError, match="iterable"):
        ours.extend(nn.ReLU())


def test_module_dict_registers_its_items() -> None:
    ours = nn.ModuleDict({"b": nn.Linear(2, 2), "a": nn.Linear(2, 1)})
    theirs = T.ModuleDict({"b": T.Linear(2, 2), "a": T.Linear(2, 1)})
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours) == ["b", "a"] and "a" in ours and len(ours) == 2
    ours["c"] = nn.ReLU()
    assert ours.keys() == ["b", "a", "c"] and ours.pop("b").out_features == 2
    assert [k for k, _ in ours.items()] == ["a", "c"]
    ours.update([("d", nn.Tanh())])
    assert isinstance(ours["d"], nn.Tanh) and ours["d"].path() == "model.d"


# -- dropout ------------------------------------------------------------------------------


def test_dropout_train_zeroes_and_rescales() -> None:
    nnlab.manual_seed(0)
    drop = nn.Dropout(0.25)
    y = drop(nnlab.ones(200, 100))
    kept = y.array != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y.array[kept], 1 / 0.75, rtol=1e-6)


def test_dropout_eval_is_identity_and_gradient_uses_mask() -> None:
    drop = nn.Dropout(0.5)
    x = nnlab.randn(10, 10, requires_grad=True)
    y = drop(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, (y.array != 0) * 2.0)
    drop.eval()
    assert drop(x) is x


def test_dropout_same_seed_same_mask() -> None:
    drop = nn.Dropout(0.5)
    nnlab.manual_seed(7)
    a = drop(nnlab.ones(50)).array
    nnlab.manual_seed(7)
    b = drop(nnlab.ones(50)).array
    c = drop(nnlab.ones(50)).array
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_dropout_edge_probabilities_and_errors() -> None:
    x = nnlab.randn(4, 4)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).array, x.array)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).array, np.zeros((4, 4)))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            T.Dropout(p)
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)
    assert repr(nn.Dropout(0.2, inplace=True)) == repr(T.Dropout(0.2, inplace=True))


def test_deepcopy_relinks_children_to_the_copy():
    import copy

    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 3)))
    twin = copy.deepcopy(model)
    assert twin[0]._parent() is twin and twin[1][1]._parent() is twin[1]
    assert twin[1][1].path() == "model.1.1"
    np.testing.assert_array_equal(twin[0].weight.array, model[0].weight.array)
    assert twin[0].weight is not model[0].weight
