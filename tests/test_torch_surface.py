"""The PyTorch surface that code ported from torch leans on, beyond the op table: named
tuples from max/min/sort/topk, devices, torch's DataLoader arguments, the summary's repr
and the Linear shape hints. The ops' values and gradients are in ``op_db``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.data import DataLoader, TensorDataset

# -- named tuples ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim_return_named_tuples(name: str) -> None:
    data = np.array([[3.0, 1.0, 2.0], [0.0, 5.0, -1.0]], dtype=np.float32)
    x = nnlab.tensor(data, requires_grad=True)
    for result in (getattr(nnlab, name)(x, 1), getattr(x, name)(1), getattr(x, name)(dim=1)):
        expected = getattr(torch, name)(torch.from_numpy(data), 1)
        assert type(result).__name__ == name and result._fields == ("values", "indices")
        np.testing.assert_array_equal(result.values.array, expected.values.numpy())
        np.testing.assert_array_equal(result.indices.array, expected.indices.numpy())
        values, indices = result  # still unpacks like a tuple
        assert values is result.values and indices is result[1]
    assert repr(result).startswith(f"{name}(values=tensor(")


def test_max_without_dim_is_a_tensor_and_with_a_tensor_is_maximum() -> None:
    x = nnlab.tensor([1.0, 5.0, 3.0])
    assert isinstance(nnlab.max(x), nnlab.Tensor) and nnlab.max(x).item() == 5.0
    other = nnlab.tensor([2.0, 2.0, 4.0])
    np.testing.assert_array_equal(nnlab.max(x, other).array, [2.0, 5.0, 4.0])
    np.testing.assert_array_equal(x.min(other).array, [1.0, 2.0, 3.0])


def test_sort_and_topk_return_named_tuples() -> None:
    x = nnlab.tensor([[1.0, 5.0, 3.0, 4.0]], requires_grad=True)
    s = x.sort(descending=True)
    assert type(s).__name__ == "sort" and s.indices.dtype == np.int64
    np.testing.assert_array_equal(s.values.array, [[5.0, 4.0, 3.0, 1.0]])
    t = x.topk(2)
    assert type(t).__name__ == "topk"
    np.testing.assert_array_equal(t.indices.array, [[1, 3]])
    t.values.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[0.0, 1.0, 0.0, 1.0]])
    np.testing.assert_array_equal(x.argsort(descending=True).array, [[1, 3, 2, 0]])


def test_topk_unsorted_returns_the_same_set() -> None:
    """torch leaves the order unspecified with sorted=False; the set is what counts."""
    data = np.random.default_rng(0).permutation(10).astype(np.float32)
    ours = nnlab.topk(nnlab.tensor(data), 4, sorted=False)
    theirs = torch.topk(torch.from_numpy(data), 4, sorted=False)
    assert sorted(ours.values.tolist()) == sorted(theirs.values.tolist())
    assert sorted(ours.indices.tolist()) == sorted(theirs.indices.tolist())


# -- rounding keeps the graph, with zero gradients ---------------------------------------------


@pytest.mark.parametrize("name", ["round", "floor", "ceil", "trunc"])
def test_rounding_requires_grad_with_zero_gradient(name: str) -> None:
    x = nnlab.tensor([0.3, 1.7, -2.5], requires_grad=True)
    y = getattr(x, name)()
    assert y.requires_grad and y.grad_fn is not None
    (y * 3 + x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [1.0, 1.0, 1.0])


def test_floor_divide_has_no_gradient_and_operators_match_python() -> None:
    x = nnlab.tensor([7.0, -7.0], requires_grad=True)
    assert not (x // 2).requires_grad
    np.testing.assert_array_equal((x // 2).array, [3.0, -4.0])
    np.testing.assert_array_equal((x.detach() % -3).array, [7.0 % -3, -7.0 % -3])
    np.testing.assert_array_equal((10 // nnlab.tensor([3, -3])).array, [3, -4])
    np.testing.assert_array_equal((10 % nnlab.tensor([3, -3])).array, [1, -2])
    assert (nnlab.tensor([5, 6]) // 2).dtype == np.int64


# -- small helpers -----------------------------------------------------------------------------


def test_isclose_allclose_is_tensor_numel() -> None:
    a = nnlab.tensor([1.0, 2.0, float("nan")])
    b = nnlab.tensor([1.0 + 1e-7, 2.1, float("nan")])
    np.testing.assert_array_equal(nnlab.isclose(a, b).array, [True, False, False])
    np.testing.assert_array_equal(a.isclose(b, equal_nan=True, atol=0.2).array, [True] * 3)
    assert nnlab.allclose(a[:1], b[:1]) is True and nnlab.allclose(a, b) is False
    assert nnlab.is_tensor(a) and not nnlab.is_tensor(a.array)
    assert nnlab.numel(nnlab.zeros(2, 3)) == 6 == torch.numel(torch.zeros(2, 3))


def test_all_any_with_dims() -> None:
    x = nnlab.tensor([[True, False], [True, True]])
    assert bool(x.all()) is False and bool(x.any()) is True
    np.testing.assert_array_equal(x.all(dim=1).array, [False, True])
    np.testing.assert_array_equal(x.any(0, keepdim=True).array, [[True, True]])
    assert nnlab.all(x, dim=(0, 1)).shape == ()


def test_norm_spellings_agree_with_torch() -> None:
    data = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    x, t = nnlab.tensor(data), torch.from_numpy(data)
    for kwargs in ({}, {"p": 1}, {"p": float("inf"), "dim": 0}, {"dim": (0, 1), "keepdim": True}):
        np.testing.assert_allclose(x.norm(**kwargs).array, t.norm(**kwargs).numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="nuc"):
        x.norm(p="nuc")


def test_normalize_and_cosine_similarity_defaults() -> None:
    data = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    x, t = nnlab.tensor(data), torch.from_numpy(data)
    np.testing.assert_allclose(F.normalize(x).array, torch.nn.functional.normalize(t), rtol=1e-6)
    ours = F.cosine_similarity(x, x[:1])
    theirs = torch.nn.functional.cosine_similarity(t, t[:1])
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-6)
    assert ours.shape == (4,)


# -- devices -----------------------------------------------------------------------------------


def test_tensor_device_is_cpu() -> None:
    x = nnlab.tensor([1.0, 2.0])
    assert str(x.device) == "cpu" and repr(x.device) == "device(type='cpu')"
    assert x.device == "cpu" and x.device == nnlab.device("cpu")
    assert x.is_cuda is False and x.is_cpu is True
    assert x.cpu() is x


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        (("cpu",), {}),
        ((), {"device": "cpu"}),
        ((nnlab.device("cpu"),), {}),
        (("cpu:0",), {}),
        ((None,), {}),
    ],
)
def test_to_cpu_returns_the_tensor_itself(args: tuple, kwargs: dict) -> None:
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    assert x.to(*args, **kwargs) is x


def test_to_with_a_dtype_or_another_tensor() -> None:
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    y = x.to("cpu", nnlab.float64)
    assert y.dtype == np.float64 and y.requires_grad
    assert x.to(device="cpu", dtype="float64").dtype == np.float64
    assert x.to(nnlab.zeros(1, dtype=nnlab.float64)).dtype == np.float64
    assert x.to(np.float32) is x  # same dtype: no copy, as torch
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.array is not x.array and copied.requires_grad
    assert x.to(nnlab.int64).dtype == np.int64


@pytest.mark.parametrize("target", ["cuda", "cuda:1", "mps", 0])
def test_moving_off_the_cpu_raises_clearly(target: object) -> None:
    x = nnlab.tensor([1.0])
    with pytest.raises(RuntimeError, match="nnlab runs on the CPU only"):
        x.to(target)
    with pytest.raises(RuntimeError, match="nnlab runs on the CPU only"):
        x.to(device=target, dtype=nnlab.float64)
    with pytest.raises(RuntimeError, match="nnlab runs on the CPU only"):
        nn.Linear(2, 1).to(target)
    with pytest.raises(RuntimeError, match="nnlab runs on the CPU only"):
        x.cuda()


def test_unknown_device_string_is_rejected_like_torch() -> None:
    with pytest.raises(RuntimeError, match="device type"):
        nnlab.device("gpu")


class _WithBuffers(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.register_buffer("scale", nnlab.ones(2))
        self.register_buffer("steps", nnlab.tensor(0))


def test_module_to_and_cpu() -> None:
    model = _WithBuffers()
    assert model.cpu() is model and model.to("cpu") is model
    assert model.fc.weight.dtype == np.float32
    assert model.to("cpu", nnlab.float64) is model
    assert model.fc.weight.dtype == np.float64 and model.scale.dtype == np.float64
    model.to(device="cpu", dtype=nnlab.float32)
    assert model.fc.weight.dtype == np.float32
    assert model.steps.dtype == np.int64  # integer buffers keep their dtype
    model.to(nnlab.zeros(1, dtype=nnlab.float64))
    assert model.fc.weight.dtype == np.float64
    with pytest.raises(TypeError, match="floating point"):
        model.to(nnlab.int64)


# -- DataLoader accepts torch's worker arguments -----------------------------------------------


def _dataset() -> TensorDataset:
    return TensorDataset(nnlab.arange(10.0), nnlab.arange(10))


def test_dataloader_accepts_worker_arguments_and_loads_in_process() -> None:
    calls: list[int] = []
    loader = DataLoader(
        _dataset(),
        batch_size=4,
        num_workers=4,
        pin_memory=True,
        persistent_workers=True,
        prefetch_factor=3,
        timeout=5.0,
        worker_init_fn=calls.append,
    )
    assert [y.tolist() for _, y in loader] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert calls == []  # no worker process: nothing to initialise
    assert (loader.num_workers, loader.pin_memory, loader.persistent_workers) == (4, True, True)
    assert (loader.prefetch_factor, loader.timeout) == (3, 5.0)
    assert DataLoader(_dataset(), num_workers=2).prefetch_factor == 2  # torch's default
    assert DataLoader(_dataset()).prefetch_factor is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_workers": -1},
        {"timeout": -1},
        {"prefetch_factor": 2},
        {"persistent_workers": True},
    ],
)
def test_dataloader_rejects_what_torch_rejects(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        torch.utils.data.DataLoader(list(range(4)), **kwargs)
    with pytest.raises(ValueError, match="DataLoader"):
        DataLoader(_dataset(), **kwargs)


# -- summary and Linear hints ------------------------------------------------------------------


def test_summary_repr_is_the_table() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    s = nnlab.summary(model, (1, 4), verbose=False)
    assert repr(s) == str(s).rstrip("\n")
    assert "Total params: 58" in repr(s) and "LayerRow(" not in repr(s)


def test_summary_explains_a_missing_batch_dimension() -> None:
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    with pytest.raises(nn.ShapeError) as info:
        nnlab.summary(model, (3, 4), verbose=False)
    message = str(info.value)
    assert "input_shape must include the batch dimension, e.g. (1, 3, 4)" in message
    # an error the batch dimension would not fix gets no such hint
    with pytest.raises(nn.ShapeError) as info:
        nnlab.summary(model, (1, 3, 5), verbose=False)
    assert "batch dimension" not in str(info.value)


def test_linear_hint_for_the_first_layer_speaks_of_the_input() -> None:
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(8, 2))
    with pytest.raises(nn.ShapeError) as info:
        model(nnlab.zeros(2, 32))
    message = str(info.value)
    assert "the input has 32 features" in message and "previous layer" not in message
    with pytest.raises(nn.ShapeError, match="the input has 32 features"):
        nn.Linear(64, 8)(nnlab.zeros(2, 32))


def test_linear_hint_for_a_later_layer_speaks_of_the_previous_one() -> None:
    model = nn.Sequential(nn.Linear(64, 8), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(nn.ShapeError, match="the previous layer produces 8 features"):
        model(nnlab.zeros(2, 64))


def test_linear_hint_in_a_nested_first_block() -> None:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Sequential(nn.Linear(10, 4), nn.ReLU())
            self.head = nn.Linear(4, 1)

        def forward(self, x: nnlab.Tensor) -> nnlab.Tensor:
            return self.head(self.encoder(x))

    with pytest.raises(nn.ShapeError, match=r"model\.encoder\.0.*the input has 3 features"):
        Net()(nnlab.zeros(2, 3))
