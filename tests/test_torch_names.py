"""The names PyTorch code reaches for: dtypes, ``Size``, devices, ``cuda``/``backends``,
threads, ``compile``, ``inference_mode``, ``new_*`` factories, formatting, torch's keyword
names, torch's module paths, custom ``autograd.Function`` on tensors."""

from __future__ import annotations

import copy
import inspect
import re
import sys

import numpy as np
import pytest
import torch

import nnlab
import nnlab.nn.functional as F
from nnlab import nn

DTYPE_NAMES = [
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool",
    "half", "float", "double", "short", "int", "long", "complex64", "complex128", "cfloat",
    "cdouble",
]  # fmt: skip


@pytest.mark.parametrize("name", DTYPE_NAMES)
def test_dtypes_are_named_and_behave_as_torch(name: str) -> None:
    ours, theirs = getattr(nnlab, name), getattr(torch, name)
    assert repr(ours) == repr(theirs).replace("torch.", "nnlab.")
    for prop in ("is_floating_point", "is_complex", "is_signed", "itemsize"):
        assert getattr(ours, prop) == getattr(theirs, prop), prop
    assert np.zeros(2, dtype=ours).dtype == np.dtype(repr(ours).removeprefix("nnlab."))
    assert copy.deepcopy(ours) is ours and hash(ours) == hash(np.dtype(ours))


def test_dtype_aliases_equalities_and_tensor_dtypes() -> None:
    assert (
        nnlab.float is nnlab.float32 and nnlab.long is nnlab.int64 and nnlab.half is nnlab.float16
    )
    assert nnlab.float32 == np.float32 and nnlab.float32 == np.dtype("float32")
    assert nnlab.float32 != nnlab.float64 and nnlab.float32 != "float32"
    x = nnlab.tensor([1.0, 2.0])
    assert x.dtype is nnlab.float32 and x.dtype == nnlab.float
    assert x.long().dtype is nnlab.long and x.to(nnlab.float64).dtype is nnlab.double
    assert x.to(dtype=nnlab.half).dtype is nnlab.float16 and x.int().dtype is nnlab.int32
    assert x.is_floating_point() and not x.long().is_floating_point()
    assert nnlab.tensor([1, 2]).dtype is nnlab.int64 and nnlab.tensor([True]).dtype is nnlab.bool
    assert repr(nnlab.tensor([1.0], dtype=nnlab.double)).endswith("dtype=nnlab.float64)")
    assert {nnlab.float32: "a"}[np.dtype(np.float32)] == "a"


def test_module_dtype_conversions() -> None:
    layer = nn.Linear(3, 2)
    assert layer.double().weight.dtype is nnlab.float64
    assert layer.half().weight.dtype is nnlab.float16
    assert layer.float().bias.dtype is nnlab.float32
    assert layer.to(torch_like_device()).weight.dtype is nnlab.float32


def torch_like_device() -> nnlab.device:
    return nnlab.device("cuda" if nnlab.cuda.is_available() else "cpu")


def test_size_is_a_tuple_like_torch_size() -> None:
    ours, theirs = nnlab.zeros(2, 3, 4).shape, torch.zeros(2, 3, 4).shape
    assert repr(ours) == repr(theirs).replace("torch.", "nnlab.")
    assert ours == (2, 3, 4) and ours.numel() == theirs.numel() == 24
    assert ours[1:] == (3, 4) and ours[-1] == 4  # a slice is a plain tuple (speed)
    assert nnlab.zeros(2, 3).size() == torch.zeros(2, 3).size() and nnlab.zeros(2, 3).size(1) == 3
    assert nnlab.Size([]).numel() == 1 and str(ours) == "(2, 3, 4)"
    assert nnlab.zeros(*ours).shape == ours and nnlab.zeros(ours[1:]).shape == (3, 4)


def test_factories_take_a_device_and_refuse_gpus() -> None:
    for make in (
        lambda d: nnlab.zeros(2, device=d), lambda d: nnlab.ones(2, 2, device=d),
        lambda d: nnlab.randn(3, device=d), lambda d: nnlab.tensor([1.0], device=d),
        lambda d: nnlab.arange(3, device=d), lambda d: nnlab.full((2,), 1.0, device=d),
        lambda d: nnlab.eye(2, device=d), lambda d: nnlab.randint(3, (2,), device=d),
        lambda d: nnlab.empty(2, device=d), lambda d: nnlab.zeros_like(nnlab.ones(2), device=d),
        lambda d: nnlab.randperm(4, device=d), lambda d: nnlab.linspace(0, 1, 3, device=d),
    ):  # fmt: skip
        assert make("cpu").device == "cpu" and make(nnlab.device("cpu")).device.type == "cpu"
        with pytest.raises(RuntimeError, match="CPU only.*'cuda'"):
            make("cuda")
    nnlab.set_default_device("cpu")
    assert nnlab.get_default_device() == nnlab.device("cpu")
    with pytest.raises(RuntimeError, match="CPU only"):
        nnlab.set_default_device("cuda:0")


def test_cuda_backends_and_accelerator_say_there_is_no_gpu() -> None:
    assert nnlab.cuda.is_available() is False and nnlab.cuda.device_count() == 0
    nnlab.cuda.manual_seed_all(0)  # seeding nothing is fine, as on a CPU-only torch
    with pytest.raises(RuntimeError, match="no CUDA device"):
        nnlab.cuda.current_device()
    assert nnlab.backends.mps.is_available() is False
    assert nnlab.backends.cudnn.is_available() is False
    nnlab.backends.cudnn.deterministic = True
    assert nnlab.accelerator.is_available() is False
    assert nnlab.accelerator.current_accelerator() is None


def test_threads_are_set_and_read_back() -> None:
    before = nnlab.get_num_threads()
    try:
        nnlab.set_num_threads(1)
        assert nnlab.get_num_threads() == 1
    finally:
        nnlab.set_num_threads(before)
    assert nnlab.get_num_threads() == before
    with pytest.raises(ValueError, match="positive int"):
        nnlab.set_num_threads(0)


def test_compile_returns_the_model_and_decorates() -> None:
    model = nn.Linear(2, 2)
    assert nnlab.compile(model) is model
    assert nnlab.compile(mode="reduce-overhead")(len) is len
    assert nnlab.compiler.is_compiling() is False
    with pytest.raises(TypeError, match="Module or a function"):
        nnlab.compile(3)


def test_inference_mode_as_context_and_decorator() -> None:
    w = nnlab.ones(2, requires_grad=True)
    with nnlab.inference_mode():
        assert not (w * 2).requires_grad and nnlab.is_inference_mode_enabled()
    assert (w * 2).requires_grad and not nnlab.is_inference_mode_enabled()

    @nnlab.inference_mode()
    def f(x):
        return x * 2

    @nnlab.inference_mode
    def g(x):
        return x * 2

    assert not f(w).requires_grad and not g(w).requires_grad
    with nnlab.inference_mode(False):
        assert (w * 2).requires_grad


def test_new_factories_keep_dtype() -> None:
    for lib in (nnlab, torch):
        x = lib.ones(2, dtype=lib.float64)
        assert x.new_zeros(3).dtype == lib.float64 and x.new_zeros((2, 2)).shape == (2, 2)
        assert x.new_ones(2, dtype=lib.int64).dtype == lib.int64
        assert float(x.new_full((2,), 7.0).sum()) == 14.0
        assert x.new_tensor([1, 2]).dtype == lib.float64 and x.new_empty(4).shape == (4,)
        assert x.new_zeros(2, requires_grad=True).requires_grad


def test_format_follows_torch() -> None:
    loss = nnlab.tensor(0.123456)
    assert f"{loss:.4f}" == f"{torch.tensor(0.123456):.4f}" == "0.1235"
    assert f"{nnlab.tensor([1.0, 2.0])}" == str(nnlab.tensor([1.0, 2.0]))
    for lib in (nnlab, torch):
        with pytest.raises(TypeError):
            f"{lib.tensor([1.0, 2.0]):.2f}"


def test_view_of_a_transposed_tensor_raises_and_contiguous_fixes_it() -> None:
    for lib in (nnlab, torch):
        x = lib.arange(6.0).reshape(2, 3).t()
        assert not x.is_contiguous()
        with pytest.raises(RuntimeError, match="view size is not compatible|view size"):
            x.view(-1)
        assert x.contiguous().view(-1).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
        assert x.reshape(-1).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]


def _params(fn) -> list[str]:
    return [p for p in inspect.signature(fn).parameters if not p.startswith("*")]


def test_torch_keyword_names() -> None:
    a, b = nnlab.ones(2, 2), nnlab.ones(2, 2)
    assert nnlab.matmul(input=a, other=b).tolist() == [[2.0, 2.0], [2.0, 2.0]]
    assert nnlab.add(input=a, other=b).sum().item() == 8.0
    assert nnlab.mm(input=a, mat2=b).shape == (2, 2) and nnlab.pow(input=a, exponent=2).sum() == 4
    assert F.relu(input=a, inplace=True).shape == (2, 2)
    assert F.dropout(a, 0.5, False, False) is a  # torch's positional (input, p, training, inplace)
    # every public function of nnlab and nnlab.nn.functional that torch also has takes the
    # first argument under torch's name
    for module, theirs in ((nnlab, torch), (F, torch.nn.functional)):
        for name in module.__all__:
            ours = getattr(module, name)
            if not inspect.isfunction(ours) or not hasattr(theirs, name):
                continue
            params = _params(ours)
            if params and params[0] in ("x", "a"):
                raise AssertionError(f"{module.__name__}.{name} takes {params[0]!r}, not 'input'")


def test_torch_module_paths() -> None:
    from nnlab.nn.modules.activation import MultiheadAttention
    from nnlab.nn.modules.batchnorm import BatchNorm2d
    from nnlab.nn.modules.module import Module
    from nnlab.nn.modules.sparse import Embedding
    from nnlab.utils.data import DataLoader, Dataset, TensorDataset, random_split

    assert MultiheadAttention is nn.MultiheadAttention and Embedding is nn.Embedding
    assert BatchNorm2d is nn.BatchNorm2d and Module is nn.Module
    assert DataLoader is nnlab.data.DataLoader and Dataset is nnlab.data.Dataset
    assert TensorDataset is nnlab.data.TensorDataset and random_split is nnlab.data.random_split


def test_parameters_to_vector_round_trip_and_gradient() -> None:
    from nnlab.nn.utils import parameters_to_vector, vector_to_parameters

    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    (vec**2).sum().backward()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), 2 * model[0].weight.detach().numpy())
    vector_to_parameters(nnlab.arange(float(vec.numel())), model.parameters())
    assert model[0].weight.detach().numpy()[0, :2].tolist() == [0.0, 1.0]
    assert model[2].bias.detach().numpy().tolist() == [
        float(vec.numel() - 2),
        float(vec.numel() - 1),
    ]
    with pytest.raises(ValueError, match="has 3 elements but the parameters hold 26"):
        vector_to_parameters(nnlab.zeros(3), model.parameters())


class _ClampReLU(nnlab.autograd.Function):
    """The ReLU of PyTorch's custom-Function tutorial: tensor methods in both directions."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class _Legendre3(nnlab.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


class _ScaleSetup(nnlab.autograd.Function):
    """torch's other spelling: forward without ctx, then setup_context."""

    @staticmethod
    def forward(input, factor):
        return input * factor

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.factor = inputs[1]

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.factor, None


def test_custom_functions_compute_on_tensors_as_in_torch() -> None:
    assert _ClampReLU.tensor_io and not nnlab.ops.elementwise.Add.tensor_io
    x = nnlab.tensor([-1.0, 0.5, 2.0], requires_grad=True)
    y = _ClampReLU.apply(x)
    assert isinstance(y, nnlab.Tensor) and y.tolist() == [0.0, 0.5, 2.0]
    y.sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0]
    assert _ScaleSetup.apply(x, 3.0).sum().item() == pytest.approx(4.5)


def test_custom_function_double_backward_matches_closed_form() -> None:
    x = nnlab.tensor([-1.0, 0.5, 2.0], dtype=nnlab.float64, requires_grad=True)
    (g,) = nnlab.autograd.grad(_Legendre3.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 1.5 * (5 * x.detach().numpy() ** 2 - 1))
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 15 * x.detach().numpy())
    assert nnlab.autograd.gradcheck(_Legendre3.apply, (x,))


def test_torch_aliasing_imports_resolve() -> None:
    """``import nnlab as torch`` plus the submodules scripts import by torch's paths."""
    saved = {k: v for k, v in sys.modules.items() if k == "torch" or k.startswith("torch.")}
    try:
        for key in saved:
            del sys.modules[key]
        sys.modules["torch"] = nnlab
        import torch.backends.cudnn  # noqa: F401
        from torch.utils.data import DataLoader  # noqa: F401

        assert sys.modules["torch"] is nnlab
    finally:
        for key in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
            del sys.modules[key]
        sys.modules.update(saved)
    assert re.match(r"2\.13", sys.modules["torch"].__version__)
