"""Checkpoint files: round trip, atomic writes, and clear errors for broken files."""

from __future__ import annotations

import os

import numpy as np
import pytest

import nnlab
from nnlab.io import load_into, load_weights, save_weights
from nnlab.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def _state():
    rng = np.random.default_rng(0)
    return {
        "model": {
            "fc.weight": rng.standard_normal((3, 4)).astype(np.float32),
            "fc.bias": nnlab.zeros(3),
        },  # fmt: skip
        "optimizer": {
            "state": {0: {"step": 3, "exp_avg": np.ones(4)}},
            "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1]}],
        },  # fmt: skip
        "rng": nnlab.random.default_generator.get_state(),
        "epoch": 5,
        "note": None,
    }


def test_round_trip_keeps_arrays_numbers_tuples_and_int_keys(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", _state())
    loaded = load_checkpoint(path)
    original = _state()
    np.testing.assert_array_equal(loaded["model"]["fc.weight"], original["model"]["fc.weight"])
    np.testing.assert_array_equal(loaded["model"]["fc.bias"], np.zeros(3, np.float32))
    assert loaded["optimizer"]["state"][0]["step"] == 3
    assert loaded["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert loaded["rng"] == original["rng"]
    assert loaded["epoch"] == 5 and loaded["note"] is None


def test_no_temporary_files_are_left_behind(tmp_path):
    save_checkpoint(tmp_path / "c.safetensors", _state())
    save_checkpoint(tmp_path / "c.safetensors", _state())
    assert sorted(os.listdir(tmp_path)) == ["c.safetensors"]


def test_failed_write_keeps_the_previous_checkpoint(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", _state())
    before = path.read_bytes()
    with pytest.raises(TypeError, match="cannot store"):
        save_checkpoint(path, {"bad": object()})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["c.safetensors"]


def test_truncated_file_raises_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", _state())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted"):
        load_checkpoint(path)


def test_flipped_byte_is_detected(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", _state())
    data = bytearray(path.read_bytes())
    data[-5] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(path)


def test_missing_and_foreign_files(tmp_path):
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")
    save_weights({"w": np.ones(2)}, tmp_path / "w.safetensors")
    with pytest.raises(CheckpointError, match="not an nnlab checkpoint"):
        load_checkpoint(tmp_path / "w.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    with pytest.raises(CheckpointError):
        load_weights(tmp_path / "junk.safetensors")


def test_weights_round_trip_and_renaming(tmp_path):
    from nnlab.nn import Module, Parameter

    class Tiny(Module):
        def __init__(self):
            super().__init__()
            self.weight = Parameter(nnlab.zeros(2, 3))

    path = save_weights({"encoder.w": np.arange(6, dtype=np.float32).reshape(2, 3)},
                        tmp_path / "w.safetensors")  # fmt: skip
    model = Tiny()
    load_into(model, path, rename=lambda name: name.replace("encoder.w", "weight"))
    np.testing.assert_array_equal(model.weight.array, np.arange(6).reshape(2, 3))
    with pytest.raises(RuntimeError, match=r"2 tensor\(s\) do not fit\n  missing: +weight"):
        load_into(Tiny(), path)


def test_zero_dimensional_arrays_keep_their_shape(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", {"step": np.array(5.0, np.float32)})
    assert load_checkpoint(path)["step"].shape == ()


def test_loading_a_checkpoint_as_weights_says_what_to_do(tmp_path):
    path = save_checkpoint(tmp_path / "c.safetensors", _state())
    with pytest.raises(CheckpointError, match=r"training checkpoint.*load_checkpoint"):
        load_weights(path)
