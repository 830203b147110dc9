"""The perceptron and the MLP: what one threshold unit can and cannot learn, and the
hidden layer (trained by backpropagation) that fixes it.

- On linearly separable data the perceptron rule converges: an epoch without mistakes,
  100% accuracy, and no more mistakes in all than the convergence theorem's (R/γ)².
- On XOR no line separates the classes: every epoch has a mistake, accuracy stays ≤ 75%.
- A 2-layer MLP trained with autograd and plain SGD steps solves XOR.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab import nn

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
XOR_Y = np.array([0, 1, 1, 0])


def _separable(n: int, dim: int, margin: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Points on both sides of a random hyperplane, none closer to it than ``margin``."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(dim)
    w /= np.linalg.norm(w)
    b = 0.3
    X = rng.uniform(-2, 2, (4 * n, dim))
    distance = X @ w + b
    X = X[np.abs(distance) >= margin][:n]
    y = (X @ w + b > 0).astype(np.int64)
    return X.astype(np.float32), y


@pytest.mark.parametrize("dim, seed", [(2, 0), (5, 1), (10, 2)])
def test_perceptron_converges_on_separable_data(dim: int, seed: int) -> None:
    X, y = _separable(200, dim, margin=0.2, seed=seed)
    p = nn.Perceptron(dim).fit(X, y, epochs=500, generator=nnlab.Generator(seed))
    assert p.errors_[-1] == 0 and len(p.errors_) < 500
    assert (p.predict(X).array == y).mean() == 1.0
    # Novikoff's bound on the total number of updates: (R/γ)², with the bias folded
    # in as a constant input 1 (R over the augmented inputs; γ measured for the same w).
    R = np.sqrt((X**2).sum(1).max() + 1)
    w, b = p.weight.array[0].astype(np.float64), float(p.bias.array[0])
    assert np.all((2 * y - 1) * (X @ w + b) > 0)  # the learned hyperplane separates
    gamma = 0.2 / np.sqrt(1 + 0.3**2)  # margin of the generating hyperplane, augmented
    assert sum(p.errors_) <= (R / gamma) ** 2


def test_perceptron_never_solves_xor() -> None:
    p = nn.Perceptron(2).fit(XOR_X, XOR_Y, epochs=200, generator=nnlab.Generator(0))
    assert len(p.errors_) == 200 and min(p.errors_) > 0  # it never stops
    assert (p.predict(XOR_X).array == XOR_Y).mean() <= 0.75
    for lr in (0.1, 0.5):  # nor with another rate or sample order
        p = nn.Perceptron(2).fit(XOR_X, XOR_Y, epochs=50, lr=lr, shuffle=False)
        assert min(p.errors_) > 0 and (p.predict(XOR_X).array == XOR_Y).mean() < 1.0


def test_perceptron_learns_and_or() -> None:
    for labels in ([0, 0, 0, 1], [0, 1, 1, 1]):
        p = nn.Perceptron(2).fit(XOR_X, np.array(labels), epochs=50)
        assert p.predict(nnlab.tensor(XOR_X)).tolist() == labels
        assert p(nnlab.tensor(XOR_X)).tolist() == [float(v) for v in labels]


def test_perceptron_parameters_have_linear_layout() -> None:
    p = nn.Perceptron(3).fit(*_separable(50, 3, 0.2, 0), epochs=100)
    assert p.weight.shape == (1, 3) and p.bias.shape == (1,)
    assert list(p.state_dict()) == ["weight", "bias"]
    linear = nn.Linear(3, 1)
    linear.load_state_dict(p.state_dict())
    x = nnlab.randn(6, 3)
    np.testing.assert_allclose(linear(x).array[:, 0], p.decision_function(x).array, rtol=1e-6)
    assert repr(p).splitlines()[0] == "Perceptron(in_features=3)"


def test_perceptron_rejects_bad_input() -> None:
    p = nn.Perceptron(2)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        p.fit(XOR_X, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="4 samples but y has 3"):
        p.fit(XOR_X, np.array([0, 1, 1]))
    with pytest.raises(nn.ShapeError, match=r"\(N, 2\).*\(4, 3\)"):
        p.predict(np.zeros((4, 3)))


def _train_xor_mlp(seed: int, steps: int = 2000, lr: float = 0.5) -> nn.Module:
    """Autograd and plain SGD: p ← p - lr·∂L/∂p, with L the mean binary cross-entropy."""
    nnlab.manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    x, y = nnlab.tensor(XOR_X), nnlab.tensor(XOR_Y.reshape(-1, 1).astype(np.float32))
    for _ in range(steps):
        logits = model(x)
        # BCE with logits, stable: max(z, 0) - z·y + log(1 + e^(-|z|))
        loss = (logits.relu() - logits * y + (-logits.abs()).exp().log1p()).mean()
        model.zero_grad()
        loss.backward()
        with nnlab.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
    return model


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mlp_with_sgd_solves_xor(seed: int) -> None:
    model = _train_xor_mlp(seed)
    predictions = (model(nnlab.tensor(XOR_X)).array[:, 0] > 0).astype(np.int64)
    np.testing.assert_array_equal(predictions, XOR_Y)


# -- the MLP builder -------------------------------------------------------------------------


def _torch_twin(hidden: list[int], act: type, norm: str | None, dropout: float) -> torch.nn.Module:
    layers: list[torch.nn.Module] = []
    width = 5
    for h in hidden:
        layers.append(torch.nn.Linear(width, h))
        if norm == "batch":
            layers.append(torch.nn.BatchNorm1d(h))
        elif norm == "layer":
            layers.append(torch.nn.LayerNorm(h))
        layers.append(act())
        if dropout:
            layers.append(torch.nn.Dropout(dropout))
        width = h
    layers.append(torch.nn.Linear(width, 3))
    return torch.nn.Sequential(*layers)


MLP_CASES = [
    ([8, 6], "relu", torch.nn.ReLU, None, 0.0),
    ([7], "tanh", torch.nn.Tanh, "batch", 0.2),
    ([4, 4, 4], "gelu", torch.nn.GELU, "layer", 0.0),
    ([], "relu", torch.nn.ReLU, None, 0.0),
]


@pytest.mark.parametrize("hidden, act, torch_act, norm, dropout", MLP_CASES)
def test_mlp_matches_torch_sequential(hidden, act, torch_act, norm, dropout) -> None:
    torch.manual_seed(0)
    theirs = _torch_twin(hidden, torch_act, norm, dropout).double()
    ours = nn.MLP(5, hidden, 3, activation=act, norm=norm, dropout=dropout).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((6, 5))
    for mode in (True, False):
        ours.train(mode)
        theirs.train(mode)
        if mode and dropout:
            continue  # different random masks; dropout is tested on its own
        out = ours(nnlab.tensor(x, requires_grad=True))
        tout = theirs(torch.from_numpy(x))
        np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-10, atol=1e-12)
        out.sum().backward()
        tout.sum().backward()
        for name, p in ours.named_parameters():
            expected = theirs.get_parameter(name).grad.numpy()
            np.testing.assert_allclose(p.grad.array, expected, rtol=1e-10, atol=1e-12)
        ours.zero_grad()
        theirs.zero_grad()


def test_mlp_options() -> None:
    model = nn.MLP(3, [4], 2, activation=nn.LeakyReLU, bias=False)
    assert [type(m).__name__ for m in model] == ["Linear", "LeakyReLU", "Linear"]
    assert all(m.bias is None for m in model if isinstance(m, nn.Linear))
    assert model.hidden_sizes == (4,) and model.num_parameters() == 3 * 4 + 4 * 2
    assert isinstance(model, nn.Sequential) and model[-1].out_features == 2
    with pytest.raises(ValueError, match="unknown activation 'relu6'"):
        nn.MLP(3, [4], 2, activation="relu6")
    with pytest.raises(TypeError, match="not an instance"):
        nn.MLP(3, [4], 2, activation=nn.ReLU())
    with pytest.raises(ValueError, match="norm must be"):
        nn.MLP(3, [4], 2, norm="group")
    with pytest.raises(ValueError, match="dropout"):
        nn.MLP(3, [4], 2, dropout=1.5)


def test_mlp_shape_error_names_first_layer() -> None:
    model = nn.MLP(784, [32], 10)
    with pytest.raises(nn.ShapeError, match=r"model\.0 .*missing Flatten\?.*which matches"):
        model(nnlab.zeros(2, 1, 28, 28))
