"""Activation checkpointing gives the plain run's gradients bit for bit (the recomputation
is the same computation, with the same dropout masks), and a lower peak memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import nnlab
from nnlab import nn
from nnlab.utils.checkpoint import checkpoint, checkpoint_sequential

pytestmark = pytest.mark.usefixtures("one_blas_thread")

DTYPES = [nnlab.float32, nnlab.float64]


def mlp(dtype, dropout: float = 0.0, width: int = 8, depth: int = 3) -> nn.Sequential:
    nnlab.manual_seed(0)
    layers: list[nn.Module] = [nn.Linear(5, width)]
    for _ in range(depth - 1):
        layers += [nn.Tanh(), nn.Dropout(dropout), nn.Linear(width, width)]
    return nn.Sequential(*layers, nn.Linear(width, 2)).to(dtype)


def gradients(model, x, run) -> list[np.ndarray]:
    """Seed the dropout draws, run forward and backward, return every gradient."""
    nnlab.manual_seed(7)
    out = run(model, x)
    (out * out).sum().backward()
    grads = [p.grad.numpy() for p in model.parameters()]
    return grads + ([x.grad.numpy()] if x.requires_grad else [])


def inputs(dtype, requires_grad: bool = True) -> nnlab.Tensor:
    data = np.random.default_rng(3).standard_normal((6, 5))
    return nnlab.tensor(data, dtype=dtype, requires_grad=requires_grad)


def plain(model, x):
    return model(x)


def split_in_two(model, x):
    """Checkpoint the first half of the layers, run the rest plainly."""
    half = len(model) // 2
    h = checkpoint(lambda t: model[:half](t), x, use_reentrant=False)
    return model[half:](h)


def whole(model, x):
    return checkpoint(model, x, use_reentrant=False)


def sequential(model, x):
    return checkpoint_sequential(model, 3, x, use_reentrant=False)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("dropout", [0.0, 0.5])
@pytest.mark.parametrize("run", [split_in_two, whole, sequential])
@pytest.mark.parametrize("input_grad", [True, False])
def test_same_gradients_bit_for_bit(dtype, dropout, run, input_grad):
    expected = gradients(mlp(dtype, dropout), inputs(dtype, input_grad), plain)
    got = gradients(mlp(dtype, dropout), inputs(dtype, input_grad), run)
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)


def test_without_preserved_rng_the_dropout_masks_differ():
    """The control for the dropout case: the restored random state is what makes it exact."""
    expected = gradients(mlp(nnlab.float64, 0.5), inputs(nnlab.float64), plain)
    got = gradients(
        mlp(nnlab.float64, 0.5),
        inputs(nnlab.float64),
        lambda m, x: checkpoint(m, x, use_reentrant=False, preserve_rng_state=False),
    )
    assert not all(np.array_equal(g, e) for g, e in zip(got, expected, strict=True))


def test_multiple_outputs_and_keyword_arguments():
    x = inputs(nnlab.float64)
    y = inputs(nnlab.float64)

    def segment(a, b, scale=1.0):
        return (a * b).tanh() * scale, a.exp()

    u, v = checkpoint(segment, x, y, use_reentrant=False, scale=3.0)
    (u.sum() + v.pow(2).sum()).backward()
    got = x.grad.numpy(), y.grad.numpy()
    x2, y2 = inputs(nnlab.float64), inputs(nnlab.float64)
    u, v = segment(x2, y2, scale=3.0)
    (u.sum() + v.pow(2).sum()).backward()
    np.testing.assert_array_equal(got[0], x2.grad.numpy())
    np.testing.assert_array_equal(got[1], y2.grad.numpy())


def test_forward_keeps_no_graph_inside_and_values_match():
    model = mlp(nnlab.float64)
    x = inputs(nnlab.float64)
    out = checkpoint(model, x, use_reentrant=False)
    np.testing.assert_array_equal(out.detach().numpy(), model(x).detach().numpy())
    with nnlab.no_grad():
        assert not checkpoint(model, x, use_reentrant=False).requires_grad


def test_bad_arguments():
    with pytest.raises(TypeError, match="callable"):
        checkpoint(3, inputs(nnlab.float64))
    with pytest.raises(ValueError, match="segments"):
        checkpoint_sequential(mlp(nnlab.float64), 0, inputs(nnlab.float64))


def peak_bytes(model, x, run) -> int:
    """tracemalloc's peak of NumPy allocations during one forward and backward pass."""
    model.zero_grad()
    tracemalloc.start()
    try:
        out = run(model, x)
        out.sum().backward()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_checkpointing_lowers_peak_memory_of_a_deep_mlp():
    model = mlp(nnlab.float32, width=64, depth=32)
    x = nnlab.tensor(np.random.default_rng(0).standard_normal((512, 5)), dtype=nnlab.float32)
    plain_peak = peak_bytes(model, x, plain)
    segmented_peak = peak_bytes(model, x, lambda m, t: checkpoint_sequential(m, 8, t))
    # 32 layers' activations against 8 segment inputs plus one segment: well under half.
    assert segmented_peak < 0.5 * plain_peak
