"""Attention maps and attention rollout.

- The recorded maps of a post-norm encoder's first layer equal softmax(q kᵀ/√d) per head,
  computed by hand from the layer's input projection (its input is the model input).
- Every map is row-stochastic; padding gets no weight and does not change the real
  tokens' maps; the model's train/eval mode is restored.
- Rollout rows sum to 1 and equal the matrix product of (0.5·mean_h A + 0.5·I) over the
  layers, last layer on the left.
"""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.attribution.attention import attention_maps, attention_rollout
from nnlab.models.text_classifiers import TransformerClassifier

RNG = np.random.default_rng(2)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_first_layer_maps_equal_the_hand_computation():
    nnlab.manual_seed(0)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    model = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).double()
    x = RNG.normal(size=(3, 4, 8))
    maps = attention_maps(model, x)
    assert maps.shape == (2, 3, 2, 4, 4)
    attn = model.layers[0].self_attn
    w, bias = attn.in_proj_weight.detach().numpy(), attn.in_proj_bias.detach().numpy()
    q, k = x @ w[:8].T + bias[:8], x @ w[8:16].T + bias[8:16]
    for h in range(2):
        cols = slice(4 * h, 4 * h + 4)
        expected = softmax(q[..., cols] @ k[..., cols].transpose(0, 2, 1) / np.sqrt(4))
        np.testing.assert_allclose(maps[0, :, h], expected, atol=1e-12)


def test_classifier_maps_are_row_stochastic_and_ignore_padding():
    nnlab.manual_seed(1)
    model = TransformerClassifier(20, 2, d_model=8, nhead=2, num_layers=2, dim_feedforward=16)
    ids = np.array([[3, 4, 5, 6], [7, 8, 0, 0]])
    maps = attention_maps(model, nnlab.tensor(ids))
    assert model.training  # restored
    assert maps.shape == (2, 2, 2, 4, 4)
    np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-6)
    assert np.all(maps[:, 1, :, :, 2:] == 0)  # nobody attends to padding
    model.eval()  # dropout elsewhere in the model would make the two runs differ
    maps = attention_maps(model, nnlab.tensor(ids))
    alone = attention_maps(model, nnlab.tensor(ids[1:, :2]))
    np.testing.assert_allclose(alone[:, 0, :, :2, :2], maps[:, 1, :, :2, :2], atol=1e-6)
    assert all(p.grad is None for p in model.parameters())


def test_rollout_is_the_product_of_mixed_maps():
    maps = softmax(RNG.normal(size=(3, 2, 4, 5, 5)))  # (layers, N, heads, T, T)
    rollout = attention_rollout(maps)
    np.testing.assert_allclose(rollout.sum(-1), 1.0, atol=1e-12)
    mixed = [0.5 * maps[layer].mean(1) + 0.5 * np.eye(5) for layer in range(3)]
    expected = mixed[2] @ mixed[1] @ mixed[0]
    np.testing.assert_allclose(rollout, expected, atol=1e-12)
    identity_attention = np.broadcast_to(np.eye(5), (3, 2, 5, 5))
    np.testing.assert_allclose(
        attention_rollout(identity_attention), np.broadcast_to(np.eye(5), (2, 5, 5))
    )


def test_attention_errors():
    with pytest.raises(ValueError, match="no MultiheadAttention"):
        attention_maps(nn.Linear(3, 3), np.ones((2, 3)))
    with pytest.raises(TypeError, match="must be a Module"):
        attention_maps(lambda x: x, np.ones((2, 3)))
    with pytest.raises(ValueError, match="square"):
        attention_rollout(np.ones((2, 1, 3, 4)))
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(np.ones((2, 1, 1, 3, 3)), head_fusion="median")
