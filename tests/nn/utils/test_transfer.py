"""Transfer-learning helpers (freeze, unfreeze, replace_head, param_groups,
param_groups_by_name) and the digits transfer experiment."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from experiments.vision_transfer import digits_cnn, digits_transfer_experiment
from nnlab import nn, optim
from nnlab.models import LeNet5
from nnlab.nn.utils import (
    freeze,
    head_name,
    param_groups,
    param_groups_by_name,
    replace_head,
    unfreeze,
)
from nnlab.train import fit


def _mlp() -> nn.Sequential:
    nnlab.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def test_freeze_and_unfreeze_set_requires_grad_and_return_the_module():
    model = _mlp()
    assert freeze(model) is model
    assert not any(p.requires_grad for p in model.parameters())
    assert model.num_parameters(trainable_only=True) == 0
    assert unfreeze(model[2]) is model[2]
    assert model.num_parameters(trainable_only=True) == 8 * 3 + 3


def test_freeze_rejects_non_modules():
    with pytest.raises(TypeError, match="nnlab.nn.Module"):
        freeze([nn.Linear(2, 2)])


def test_head_name_finds_the_last_child_with_parameters():
    assert head_name(LeNet5()) == "fc3"
    assert head_name(digits_cnn()) == "fc"
    assert head_name(nn.Sequential(nn.Linear(2, 2), nn.ReLU())) == "0"
    with pytest.raises(ValueError, match="no child module with parameters"):
        head_name(nn.Sequential(nn.ReLU()))


def test_replace_head_keeps_order_and_state_dict_names():
    model = LeNet5(num_classes=10)
    old = replace_head(model, nn.Linear(84, 4))
    assert old.out_features == 10
    assert [n for n, _ in model.named_children()][-1] == "fc3"
    assert model.state_dict()["fc3.weight"].shape == (4, 84)
    assert model(nnlab.randn(2, 1, 32, 32)).shape == (2, 4)
    with pytest.raises(ValueError, match="no child module 'head'"):
        replace_head(model, nn.Linear(84, 4), name="head")
    with pytest.raises(TypeError, match="new_head"):
        replace_head(model, "linear")


def test_param_groups_give_each_part_its_learning_rate():
    model = _mlp()
    groups = param_groups(model, base_lr=1e-4, head_lr=1e-2, weight_decay=0.1)
    opt = optim.Adam(groups)
    assert [g["lr"] for g in opt.param_groups] == [1e-4, 1e-2]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.1, 0.1]
    body_ids = {id(p) for p in model[0].parameters()}
    assert {id(p) for p in opt.param_groups[0]["params"]} == body_ids
    assert {id(p) for p in opt.param_groups[1]["params"]} == {id(p) for p in model[2].parameters()}
    # Frozen parameters are left out; an empty group is dropped.
    freeze(model[0])
    assert [g["lr"] for g in param_groups(model, 1e-4, 1e-2)] == [1e-2]
    with pytest.raises(ValueError, match="no head 'nope'"):
        param_groups(model, 1e-4, 1e-2, head="nope")


def test_param_groups_learning_rates_act_on_the_update():
    """SGD without momentum: each parameter moves by exactly its group's lr × grad."""
    model = _mlp()
    before = {n: p.array.copy() for n, p in model.named_parameters()}
    opt = optim.SGD(param_groups(model, base_lr=0.001, head_lr=0.1))
    x = nnlab.randn(5, 4)
    model(x).square().sum().backward()
    grads = {n: p.grad.array.copy() for n, p in model.named_parameters()}
    opt.step()
    for name, p in model.named_parameters():
        lr = 0.1 if name.startswith("2.") else 0.001
        np.testing.assert_allclose(p.array, before[name] - lr * grads[name], rtol=1e-5, atol=1e-7)


def test_param_groups_by_name_take_matching_parameters_in_order():
    model = _mlp()
    groups = param_groups_by_name(
        model, [{"params": ["2.*"], "lr": 0.1}, {"params": "0.bias", "lr": 0.5, "momentum": 0.9}]
    )
    names = {id(p): n for n, p in model.named_parameters()}
    taken = [[names[id(p)] for p in g["params"]] for g in groups]
    assert taken == [["0.weight"], ["2.weight", "2.bias"], ["0.bias"]]
    options = [{k: v for k, v in g.items() if k != "params"} for g in groups]
    assert options == [{}, {"lr": 0.1}, {"lr": 0.5, "momentum": 0.9}]
    opt = optim.SGD(groups, lr=0.01)
    assert [g["lr"] for g in opt.param_groups] == [0.01, 0.1, 0.5]
    # Every parameter taken: no first group; a later entry finds nothing left.
    assert len(param_groups_by_name(model, [{"params": "*"}])) == 1
    with pytest.raises(ValueError, match=r"param_groups\[1\]\.params: \['2\.\*'\] match no"):
        param_groups_by_name(model, [{"params": "*"}, {"params": "2.*"}])


def test_training_a_frozen_body_leaves_it_unchanged():
    model = _mlp()
    freeze(model)
    replace_head(model, nn.Linear(8, 2))
    body = {k: np.array(v.array) for k, v in model.state_dict().items() if k.startswith("0.")}
    head = model[2].weight.array.copy()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=0.05), (x, y), epochs=3,
        verbose=False)  # fmt: skip
    for k, v in body.items():
        np.testing.assert_array_equal(model.state_dict()[k].array, v)
    assert all(p.grad is None for p in model[0].parameters())
    assert not np.array_equal(model[2].weight.array, head)


def test_digits_transfer_experiment_reuses_digit_features():
    """One seed, shortened. Pretrained on 0-4, a frozen body plus a new linear head (645
    trained parameters) reads 5-9 from 10 images per class far above chance (0.2)."""
    r = digits_transfer_experiment(seeds=(0,), shots=10, pretrain_epochs=4, epochs=20)
    assert r["n_train"] == 50 and r["n_test"] == 846
    assert r["source_accuracy"][0] > 0.95
    assert set(r["mean"]) == {"frozen", "finetuned", "scratch", "random_frozen"}
    assert r["mean"]["frozen"] > 0.85
    assert r["mean"]["finetuned"] > 0.85
    assert all(s == 0.0 for s in r["std"].values())  # one seed
