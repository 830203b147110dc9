"""nnlab.io: one loader (``load_into``) that reports every misfit at once, one reader that
checks digests, one atomic writer; the names of the former ``nnlab.io`` and ``nnlab.hub``
modules all import from ``nnlab.io``."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.numpy import save_file

import nnlab
from nnlab import nn
from nnlab.io import (
    CheckpointError,
    atomic_write_bytes,
    load_into,
    load_safetensors_into,
    load_weights,
    misfits,
    read_safetensors,
    save_weights,
)
from nnlab.train.checkpoint import save_checkpoint, state_mismatch


def _linear_file(tmp_path, **arrays):
    path = tmp_path / "w.safetensors"
    save_file({k: np.asarray(v, np.float32) for k, v in arrays.items()}, path)
    return path


def test_every_missing_unexpected_and_mis_shaped_tensor_in_one_error(tmp_path):
    path = _linear_file(tmp_path, weight=np.ones((2, 4)), extra=np.ones(3))
    model = nn.Linear(3, 2)
    before = model.weight.array.copy()
    with pytest.raises(RuntimeError) as err:
        load_into(model, path)
    message = str(err.value)
    assert f"cannot load {path} into Linear: 3 tensor(s) do not fit" in message
    assert "mis-shaped: weight  (model (2, 3), file (2, 4))" in message
    assert "missing:    bias  (model (2,); not in the file)" in message
    assert "unexpected: extra  (file (3,); not in the model)" in message
    np.testing.assert_array_equal(model.weight.array, before)  # nothing half-loaded


def test_name_map_and_its_former_name_rename(tmp_path):
    path = _linear_file(tmp_path, w=np.ones((2, 3)), b=np.zeros(2))
    rename = {"w": "weight", "b": "bias"}
    model = nn.Linear(3, 2)
    assert load_into(model, path, name_map=rename) == ([], [])
    assert load_into(nn.Linear(3, 2), path, rename=rename.get) == ([], [])
    np.testing.assert_array_equal(model.weight.array, np.ones((2, 3)))
    with pytest.raises(TypeError, match="name_map or its former name rename"):
        load_into(model, path, name_map=rename, rename=rename)
    assert load_safetensors_into is load_into


def test_a_corrupted_nnlab_file_is_refused_by_every_reader(tmp_path):
    model = nn.Linear(3, 2)
    path = save_weights(model, tmp_path / "w.safetensors")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # the last byte of the last array
    path.write_bytes(bytes(data))
    for read in (load_weights, read_safetensors, lambda p: load_into(nn.Linear(3, 2), p)):
        with pytest.raises(CheckpointError, match="fail the SHA-256 check"):
            read(path)


def test_a_training_checkpoint_is_not_weights(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"model": nn.Linear(3, 2).state_dict()})
    with pytest.raises(CheckpointError, match=r"training checkpoint.*load_checkpoint"):
        load_into(nn.Linear(3, 2), path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_into(nn.Linear(3, 2), tmp_path / "nope.safetensors")


def test_checkpoints_and_load_into_share_the_misfit_check():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    state = {"0.weight": np.ones((2, 3)), "0.bias": np.ones(4), "x": np.ones(1)}
    kinds = [(m.kind, m.name) for m in misfits(model, state)]
    assert kinds == [("mis-shaped", "0.bias"), ("missing", "1.weight"), ("missing", "1.bias"),
                     ("unexpected", "x")]  # fmt: skip
    assert state_mismatch(model, state) == (
        "missing 2 (1.weight, 1.bias); unexpected 1 (x); "
        "mis-shaped 1 (0.bias (4,) in the file, (2,) in the model)"
    )
    frozen = ["1.weight", "1.bias"]
    assert [m.name for m in misfits(model, state, may_miss=frozen)] == ["0.bias", "x"]
    assert [m.kind for m in misfits(model, state, strict=False)] == ["mis-shaped"]


def test_atomic_write_leaves_the_old_file_when_the_writer_fails(tmp_path):
    target = tmp_path / "sub" / "f.bin"
    atomic_write_bytes(target, lambda tmp: open(tmp, "wb").write(b"first"))
    with pytest.raises(OSError):
        atomic_write_bytes(target, lambda tmp: (_ for _ in ()).throw(OSError("disk full")))
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in target.parent.iterdir()) == ["f.bin"]


def test_the_former_module_names_import_from_nnlab_io():
    import nnlab.io as io

    for name in ("save_weights", "load_weights", "load_into", "load_safetensors_into",
                 "read_safetensors", "NameMap", "array_digest", "atomic_write_bytes"):  # fmt: skip
        assert hasattr(io, name), name
    assert nnlab.io is io
