"""nnlab.save / nnlab.load: torch.save's contract without pickle.

Oracles: exact equality of types and bytes after a round trip (hypothesis builds the
nestings), torch.save + torch.load(weights_only=True) on the same nesting (the types it
gives back are the ones nnlab must give back), and training that resumes from a saved
model + Adam state exactly as the uninterrupted run.
"""

from __future__ import annotations

import io
import math
import os
from collections import OrderedDict

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import nnlab
from nnlab import nn, optim
from nnlab.nn.parameter import Buffer, Parameter
from nnlab.serialization import load, save

# -- exact comparison -----------------------------------------------------------------------


def assert_same(a, b, where="obj"):
    """Same types all the way down, same keys in the same order, tensors with the same
    class, dtype, shape, requires_grad and bytes, floats with the same bits (nan == nan)."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, nnlab.Tensor):
        assert a.requires_grad == b.requires_grad, where
        a, b = a.array, b.array
    if isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), f"{where}: {a.dtype}{a.shape}"
        assert a.tobytes() == b.tobytes(), where
    elif isinstance(a, (float, np.floating)):
        assert np.array(a).tobytes() == np.array(b).tobytes() or (math.isnan(a) and math.isnan(b))
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for k in a:
            assert type(k) is type(list(b)[list(a).index(k)]), f"{where}: key {k!r}"
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    else:
        assert a == b, where


def round_trip(obj, **kwargs):
    buf = io.BytesIO()
    save(obj, buf)
    buf.seek(0)
    return load(buf, **kwargs)


# -- hypothesis: nestings of everything save accepts ---------------------------------------

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int8, np.uint8, np.bool_]


@st.composite
def tensors(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4))
    array = draw(hnp.arrays(dtype, shape))
    kind = draw(st.sampled_from(["tensor", "grad", "parameter", "ndarray"]))
    if kind == "ndarray":
        return array
    if dtype.kind == "f" and kind != "tensor":  # only floats can require grad
        return Parameter(array) if kind == "parameter" else nnlab.tensor(array).requires_grad_()
    return nnlab.Tensor(array)


atoms = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from([np.float32(0.1), np.int64(-3), np.bool_(True), np.float64(np.inf)])
)
keys = st.text(max_size=6) | st.integers(-5, 5) | st.tuples(st.integers(0, 3), st.text(max_size=2))
nested = st.recursive(
    atoms | tensors(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(keys, inner, max_size=4)
        | st.dictionaries(keys, inner, max_size=4).map(lambda d: OrderedDict(reversed(d.items())))
    ),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nested)
def test_round_trip_restores_types_values_and_order(obj):
    assert_same(obj, round_trip(obj))


def test_a_header_of_640_bytes_is_not_taken_for_a_pickle():
    """640 = 0x280: the header length's first two bytes are a pickle's mark, 0x80 0x02
    (found by the round trip above)."""
    inner = OrderedDict(
        [((0, "\U00010000"), None), ((0, ""), None), ("00\x1f\x1f", np.float32(0.1)),
         ("\x1f\x1f\x07", -10000000000)]
    )  # fmt: skip
    outer = OrderedDict([((0, "\x1f"), ()), ("00\x1f\x1f\x1f", inner), ("\x1f\x07", OrderedDict())])
    obj = [None, (), (np.float32(0.1), np.float32(0.1)), outer]
    buf = io.BytesIO()
    save(obj, buf)
    assert buf.getvalue()[:2] == b"\x80\x02"
    buf.seek(0)
    assert_same(obj, load(buf))


# -- specific round trips -------------------------------------------------------------------


@pytest.mark.parametrize(
    "array",
    [
        np.float32(2.5) * np.ones(()),
        np.zeros((0,), np.float32),
        np.zeros((3, 0, 2), np.int64),
        np.array([True, False, True]),
        np.arange(-4, 4, dtype=np.int64).reshape(2, 4),
        np.array([np.nan, -np.inf, np.inf, -0.0, 5e-324], np.float64),
        np.arange(6, dtype=np.float16).reshape(3, 2).T,  # non-contiguous
        np.arange(4, dtype=">f8"),  # big-endian: comes back as the same values
    ],
    ids=["0-d", "empty", "empty-3d", "bool", "int64", "specials", "transposed", "big-endian"],
)
def test_a_tensor(array, tmp_path):
    out = round_trip(nnlab.Tensor(array))
    assert type(out) is nnlab.Tensor and not out.requires_grad
    assert out.shape == array.shape and out.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out.array, array)
    assert out.array.flags.writeable
    save(nnlab.Tensor(array), tmp_path / "t.nnlab")
    np.testing.assert_array_equal(load(tmp_path / "t.nnlab").array, array)


def test_the_same_types_as_torch_save_and_load_give():
    """torch.save + torch.load(weights_only=True) of the same nesting is the oracle for the
    types that come back: tuple vs list, int vs str keys, OrderedDict, scalars, tensors."""

    def build(lib, tensor):
        return OrderedDict(
            [
                ("z", {0: tensor([1.0, 2.0]), "0": [1, 2.5, None], 3: (True, "s")}),
                ("a", [(0.9, 0.999), {"nested": OrderedDict(b=tensor([[1, 2]]))}]),
                ("inf", [math.inf, -math.inf, 1e308, -0.0, 2**62]),
                ("empty", ([], {}, (), tensor([]))),
            ]
        )

    ours = round_trip(build(nnlab, nnlab.tensor))
    buf = io.BytesIO()
    torch.save(build(torch, torch.tensor), buf)
    buf.seek(0)
    theirs = torch.load(buf, weights_only=True)

    def as_nnlab(x):
        if isinstance(x, torch.Tensor):
            return nnlab.tensor(x.numpy())
        if type(x) in (list, tuple):
            return type(x)(as_nnlab(v) for v in x)
        if isinstance(x, dict):
            return type(x)((k, as_nnlab(v)) for k, v in x.items())
        return x

    assert_same(as_nnlab(theirs), ours)


def test_shared_tensors_are_stored_once_and_come_back_shared():
    w = nnlab.randn(64, 64)
    buf = io.BytesIO()
    save({"a": w, "b": [w, w]}, buf)
    once = len(buf.getvalue())
    buf2 = io.BytesIO()
    save({"a": w}, buf2)
    assert once - len(buf2.getvalue()) < 200  # the second and third mentions cost no bytes
    buf.seek(0)
    out = load(buf)
    assert out["a"] is out["b"][0] is out["b"][1]


def test_parameters_buffers_and_requires_grad():
    p = Parameter(nnlab.ones(2))
    frozen = Parameter(nnlab.ones(2), requires_grad=False)
    b = Buffer(nnlab.zeros(3), persistent=False)
    t = nnlab.tensor([1.0, 2.0], requires_grad=True) * 2  # not a leaf: saved as a leaf
    out = round_trip([p, frozen, b, t])
    assert [type(x) for x in out] == [Parameter, Parameter, Buffer, nnlab.Tensor]
    assert [x.requires_grad for x in out] == [True, False, False, True]
    assert out[2].persistent is False and out[3].is_leaf


@pytest.mark.parametrize("kind", ["str", "path", "file"])
def test_paths_and_file_objects(kind, tmp_path):
    state = {"w": nnlab.arange(5), "step": 7}
    target = tmp_path / "state.nnlab"
    if kind == "file":
        with open(target, "wb") as f:
            save(state, f)
        with open(target, "rb") as f:
            out = load(f)
    else:
        where = str(target) if kind == "str" else target
        save(state, where)
        out = load(where, map_location="cpu", weights_only=False)
    assert_same(state, out)
    assert os.listdir(tmp_path) == ["state.nnlab"]  # no temporary file left behind


def test_the_file_is_plain_safetensors(tmp_path):
    from safetensors import safe_open

    save(nn.Linear(3, 2).state_dict(), tmp_path / "w.safetensors")
    with safe_open(tmp_path / "w.safetensors", framework="numpy") as f:
        meta = f.metadata()
        assert sorted(f.keys()) == ["0", "1"]
    assert meta["format"] == "nnlab-save-1" and len(meta["sha256"]) == 64
    assert '"weight"' in meta["structure"]


@pytest.mark.parametrize("where", [None, "cpu", nnlab.device("cpu")])
def test_map_location_cpu(where):
    assert_same(round_trip(nnlab.ones(2), map_location=where), nnlab.ones(2))


# -- models and optimizers ------------------------------------------------------------------


def _mlp(seed):
    nnlab.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    return nnlab.tensor(x), nnlab.tensor(np.sin(x[:, :2]))


def _train(model, opt, steps, x, y):
    for _ in range(steps):
        opt.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        opt.step()


def test_a_trained_model_reloads_into_a_fresh_one(tmp_path):
    x, y = _data()
    model = _mlp(0)
    _train(model, optim.SGD(model.parameters(), lr=0.1), 1, x, y)
    save(model.state_dict(), tmp_path / "model.pt")
    fresh = _mlp(1)
    assert not np.array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())
    state = load(tmp_path / "model.pt")
    assert type(state) is OrderedDict and list(state) == list(model.state_dict())
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_resumes_bit_for_bit(amsgrad, tmp_path):
    x, y = _data()
    model = _mlp(0)
    opt = optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.99), amsgrad=amsgrad)
    _train(model, opt, 3, x, y)
    save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, tmp_path / "c")
    _train(model, opt, 4, x, y)  # the uninterrupted run

    ckpt = load(tmp_path / "c")
    saved_state = ckpt["optimizer"]
    assert list(saved_state["state"]) == [0, 1, 2, 3]  # int keys, as torch
    assert saved_state["param_groups"][0]["betas"] == (0.8, 0.99)
    assert type(saved_state["state"][0]["step"]) is nnlab.Tensor
    resumed = _mlp(5)
    resumed.load_state_dict(ckpt["model"])
    opt2 = optim.Adam(resumed.parameters(), lr=0.5)
    opt2.load_state_dict(saved_state)
    _train(resumed, opt2, 4, x, y)
    for (name, a), b in zip(model.state_dict().items(), resumed.state_dict().values()):
        np.testing.assert_array_equal(a.array, b.array, err_msg=name)
    assert ckpt["epoch"] == 3


# -- what save refuses ------------------------------------------------------------------------


def test_a_module_or_optimizer_is_refused_with_a_pointer_to_state_dict():
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"Linear.*model\.state_dict\(\)"):
        save(model, io.BytesIO())
    with pytest.raises(TypeError, match=r"Adam .*\(at obj\['opt'\]\).*state_dict\(\)"):
        save({"opt": optim.Adam(model.parameters())}, io.BytesIO())


@pytest.mark.parametrize(
    "obj, match",
    [
        ({1, 2}, r"cannot store a set object \(at obj\)"),
        ({"a": [object()]}, r"object object \(at obj\['a'\]\[0\]\)"),
        ({nnlab.ones(1): 1}, "key of type Tensor"),
        ([np.array(["a"])], "dtype <U1"),
        (np.datetime64(1, "D"), "NumPy datetime64"),
        (lambda: 0, "function"),
    ],
)
def test_other_objects_are_refused(obj, match):
    with pytest.raises(TypeError, match=match):
        save(obj, io.BytesIO())


def test_a_cycle_is_refused():
    loop = [1]
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save(loop, io.BytesIO())


def test_a_failed_save_keeps_the_existing_file(tmp_path):
    path = tmp_path / "keep.nnlab"
    save({"w": nnlab.ones(3)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError):
        save({"w": nnlab.zeros(3), "bad": {1, 2}}, path)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["keep.nnlab"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save({}, tmp_path / "no" / "such" / "folder.nnlab")
    with pytest.raises(IsADirectoryError):
        save({}, tmp_path)
    with pytest.raises(TypeError, match="text mode"):
        save({}, io.StringIO())
    with pytest.raises(TypeError, match="path or a binary file object"):
        save({}, 42)


# -- what load refuses ------------------------------------------------------------------------


@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.nnlab"
    save({"w": nnlab.arange(100, dtype=nnlab.float32), "lr": 0.1}, path)
    return path


def test_a_torch_pickle_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), path)
    with pytest.raises(ValueError, match=rf"{path}.*PyTorch pickle.*never unpickles"):
        load(path)
    legacy = tmp_path / "legacy.pt"
    torch.save({"a": torch.ones(1)}, legacy, _use_new_zipfile_serialization=False)
    with pytest.raises(ValueError, match="PyTorch pickle"):
        load(legacy)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "0 bytes"),
        (b"hello", "5 bytes"),
        (os.urandom(256), "not a safetensors file|not readable JSON"),
        (b"\x02\x00\x00\x00\x00\x00\x00\x00{}", "format None"),
    ],
    ids=["empty", "short", "random", "empty-safetensors"],
)
def test_files_that_are_not_nnlab_saves(content, match, tmp_path):
    path = tmp_path / "thing.bin"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"{path} is not a file written by nnlab.save"):
        load(path)
    with pytest.raises(ValueError, match=match):
        load(io.BytesIO(content))


def test_plain_weights_and_checkpoints_are_sent_to_their_readers(tmp_path):
    from nnlab.io import save_weights
    from nnlab.train.checkpoint import save_checkpoint

    save_weights({"w": np.ones(2, np.float32)}, tmp_path / "w.safetensors")
    with pytest.raises(ValueError, match=r"w.safetensors .*nnlab.io.load_weights"):
        load(tmp_path / "w.safetensors")
    save_checkpoint(tmp_path / "c.ckpt", {"epoch": 1})
    with pytest.raises(ValueError, match=r"c.ckpt .*load_checkpoint"):
        load(tmp_path / "c.ckpt")


def test_a_truncated_file_is_refused(good_file):
    data = good_file.read_bytes()
    for cut in (4, 8, 60, len(data) // 2, len(data) - 1):
        good_file.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=rf"{good_file}.*(truncated|bytes)"):
            load(good_file)


def test_altered_bytes_fail_the_checksum(good_file):
    data = bytearray(good_file.read_bytes())
    data[-7] ^= 0x01  # inside the tensor bytes
    good_file.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{good_file} is damaged.*SHA-256"):
        load(good_file)


def test_an_altered_structure_fails_the_checksum(good_file):
    data = good_file.read_bytes()
    altered = data.replace(b'\\"lr\\"', b'\\"LR\\"')  # JSON inside the JSON header
    assert altered != data
    good_file.write_bytes(altered)
    with pytest.raises(ValueError, match="SHA-256"):
        load(good_file)


def test_missing_paths_and_wrong_arguments(tmp_path, good_file):
    with pytest.raises(FileNotFoundError, match=r"nope.nnlab does not exist"):
        load(tmp_path / "nope.nnlab")
    with pytest.raises(IsADirectoryError):
        load(tmp_path)
    with pytest.raises(ValueError, match=r"map_location='cuda:0'.*CPU only"):
        load(good_file, map_location="cuda:0")
    with pytest.raises(ValueError, match="map_location='gpu'"):
        load(good_file, map_location="gpu")
    with pytest.raises(TypeError, match="map_location must be None, 'cpu'"):
        load(good_file, map_location={"cuda:0": "cpu"})
    with pytest.raises(TypeError, match="text mode"):
        load(io.StringIO("x"))
    with pytest.raises(TypeError, match="weights_only must be a bool"):
        load(good_file, weights_only="yes")
    assert load(good_file, weights_only=False)["lr"] == 0.1
