"""Positional encodings: the sinusoidal table vs the paper's formula (written out by hand)
and the PyTorch tutorial's ``PositionalEncoding``; layouts, buffers, dropout, errors;
the learned table as an Embedding of positions."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn
from nnlab.nn.modules.positional import sinusoidal_table


def _paper(max_len: int, d_model: int) -> np.ndarray:
    """PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(pos / 10000^(2i/d))."""
    pe = np.zeros((max_len, d_model))
    for pos in range(max_len):
        for j in range(d_model):
            angle = pos / 10000 ** ((j - j % 2) / d_model)
            pe[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return pe


def _torch_tutorial(max_len: int, d_model: int) -> np.ndarray:
    """The ``pe`` buffer of the PyTorch tutorial's PositionalEncoding, (max_len, d_model)."""
    position = torch.arange(max_len, dtype=torch.float64).unsqueeze(1)
    div_term = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float64)
                         * (-math.log(10000.0) / d_model))  # fmt: skip
    pe = torch.zeros(max_len, d_model, dtype=torch.float64)
    pe[:, 0::2] = torch.sin(position * div_term)
    pe[:, 1::2] = torch.cos(position * div_term)
    return pe.numpy()


@pytest.mark.parametrize("d_model", [4, 6, 16])
def test_sinusoidal_table_is_the_papers(d_model: int) -> None:
    table = sinusoidal_table(50, d_model, nnlab.float64)
    np.testing.assert_allclose(table, _paper(50, d_model), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(table, _torch_tutorial(50, d_model), rtol=1e-12, atol=1e-12)
    assert sinusoidal_table(3, d_model).dtype == np.float32


def test_sinusoidal_odd_d_model() -> None:
    np.testing.assert_allclose(sinusoidal_table(20, 5, nnlab.float64), _paper(20, 5), atol=1e-12)


def test_sinusoidal_relative_positions_are_linear() -> None:
    """PE(pos + k) = R_k PE(pos): each (sin, cos) pair is rotated by the angle k·ωᵢ."""
    d, k = 8, 3
    pe = sinusoidal_table(40, d, nnlab.float64)
    omega = 10000.0 ** (-np.arange(0, d, 2) / d)
    for i, w in enumerate(omega):
        c, s = math.cos(k * w), math.sin(k * w)
        sin, cos = pe[:-k, 2 * i], pe[:-k, 2 * i + 1]
        np.testing.assert_allclose(pe[k:, 2 * i], sin * c + cos * s, atol=1e-12)
        np.testing.assert_allclose(pe[k:, 2 * i + 1], cos * c - sin * s, atol=1e-12)


@pytest.mark.parametrize("batch_first, shape", [(False, (7, 3, 6)), (True, (3, 7, 6)),
                                                (False, (7, 6)), (True, (7, 6))])  # fmt: skip
def test_sinusoidal_layouts_and_gradient(batch_first: bool, shape: tuple[int, ...]) -> None:
    layer = nn.SinusoidalPositionalEncoding(
        6, max_len=20, batch_first=batch_first, dtype=nnlab.float64
    )
    x = nnlab.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    y = layer(x)
    pe = _paper(7, 6)
    if len(shape) == 3:
        pe = pe[None] if batch_first else pe[:, None]
    np.testing.assert_allclose(y.array, x.array + pe, atol=1e-12)
    y.backward(np.full(shape, 2.0))
    np.testing.assert_array_equal(x.grad.array, 2.0)  # adding a constant: identity Jacobian


def test_sinusoidal_buffer_is_not_persistent_and_moves_with_the_module() -> None:
    layer = nn.SinusoidalPositionalEncoding(8, max_len=30)
    assert list(layer.state_dict()) == [] and layer.num_parameters() == 0
    assert [name for name, _ in layer.named_buffers()] == ["pe"]
    assert layer.pe.shape == (30, 8) and layer.pe.dtype == np.float32
    assert layer.double().pe.dtype == np.float64
    other = nn.SinusoidalPositionalEncoding(8, max_len=100)
    other.load_state_dict(layer.state_dict())  # another max_len loads the same checkpoint


def test_positional_dropout_train_vs_eval() -> None:
    layer = nn.SinusoidalPositionalEncoding(16, max_len=200, dropout=0.5)
    x = nnlab.zeros(200, 4, 16)
    nnlab.manual_seed(0)
    a = layer(x).array
    nnlab.manual_seed(0)
    np.testing.assert_array_equal(layer(x).array, a)
    expected = np.broadcast_to(layer.pe.array[:, None] / 0.5, a.shape)
    kept = a != 0
    assert abs(kept.mean() - 0.5) < 0.02
    np.testing.assert_allclose(a[kept], expected[kept], rtol=1e-6)
    layer.eval()
    np.testing.assert_array_equal(layer(x).array, np.broadcast_to(layer.pe.array[:, None], a.shape))


def test_positional_bad_inputs_name_the_layer() -> None:
    model = nn.Sequential(nn.SinusoidalPositionalEncoding(8, max_len=10))
    with pytest.raises(nn.ShapeError, match=r"model\.0 \(SinusoidalPositionalEncoding\).*"
                                            r"\(11, 2, 8\).*max_len"):  # fmt: skip
        model(nnlab.zeros(11, 2, 8))
    with pytest.raises(nn.ShapeError, match=r"got \(4, 2, 6\).*d_model=8"):
        model(nnlab.zeros(4, 2, 6))
    with pytest.raises(nn.ShapeError, match="LearnedPositionalEncoding"):
        nn.LearnedPositionalEncoding(5, 8, batch_first=True)(nnlab.zeros(2, 6, 8))


def test_learned_positional_encoding() -> None:
    nnlab.manual_seed(0)
    layer = nn.LearnedPositionalEncoding(max_len=400, d_model=64, batch_first=True)
    w = layer.embedding.weight
    assert list(layer.state_dict()) == ["embedding.weight"] and w.shape == (400, 64)
    assert abs(float(w.array.std()) - 1.0) < 0.02 and abs(float(w.array.mean())) < 0.02  # N(0, 1)
    x = nnlab.randn(3, 10, 64, requires_grad=True)
    y = layer(x)
    np.testing.assert_allclose(y.array, x.array + w.array[None, :10], rtol=1e-6)
    y.backward(np.ones(y.shape, dtype=np.float32))
    assert (w.grad.array[:10] == 3).all() and not w.grad.array[10:].any()  # summed over batch
    np.testing.assert_array_equal(x.grad.array, 1.0)
    # Same values as looking the positions up in the embedding.
    looked_up = layer.embedding(nnlab.tensor(np.arange(10)))
    np.testing.assert_array_equal(looked_up.array, w.array[:10])
    seq_first = nn.LearnedPositionalEncoding(400, 64)
    seq_first.load_state_dict(layer.state_dict())
    np.testing.assert_allclose(seq_first(x.detach().permute(1, 0, 2)).array,
                               y.array.transpose(1, 0, 2), rtol=1e-6)  # fmt: skip
