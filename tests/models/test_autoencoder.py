"""The autoencoder and its regularisers.

Torch has neither, so each is checked against an independent fact: a linear autoencoder's
subspace against scikit-learn's PCA (principal angles), the contractive penalty against
its closed form for a sigmoid layer and against the Jacobian from
``nnlab.autograd.functional``, the KL sparsity penalty against its formula in NumPy, and
every penalty's gradient (the contractive one a double backward) by float64 gradcheck.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from sklearn.decomposition import PCA

import nnlab
import nnlab.nn.functional as F
from nnlab.autograd import gradcheck
from nnlab.autograd.functional import jacobian
from nnlab.models.autoencoder import Autoencoder
from nnlab.nn.autoencoder_regularizers import (
    contractive_penalty,
    gaussian_noise,
    kl_sparsity_penalty,
    l1_sparsity_penalty,
    masking_noise,
)

pytestmark = pytest.mark.usefixtures("one_blas_thread")


def centred_data(n: int = 200, variances=(9.0, 6.0, 4.0, 0.5, 0.4, 0.3, 0.2, 0.1)):
    """Rows with the given variances along random orthogonal directions, centred; the gap
    after the third variance makes the top-3 principal subspace well defined."""
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((len(variances), len(variances))))
    x = rng.standard_normal((n, len(variances))) * np.sqrt(variances) @ q.T
    return x - x.mean(0)


def test_linear_autoencoder_recovers_the_pca_subspace():
    x = centred_data()
    nnlab.manual_seed(0)
    model = Autoencoder(8, 3).double()
    opt = nnlab.optim.Adam(model.parameters(), lr=0.02)
    xs = nnlab.tensor(x)
    for _ in range(1500):  # full batch, to convergence (the loss stops changing by ~1000)
        loss = F.mse_loss(model(xs), xs)
        opt.zero_grad()
        loss.backward()
        opt.step()
    pca = PCA(3).fit(x)
    decoder_columns = model.decoder[0].weight.detach().numpy()  # (8, 3)
    encoder_rows = model.encoder[0].weight.detach().numpy().T  # (8, 3)
    assert scipy.linalg.subspace_angles(decoder_columns, pca.components_.T).max() < 1e-6
    assert scipy.linalg.subspace_angles(encoder_rows, pca.components_.T).max() < 1e-6
    # The error is PCA's: the discarded variance, averaged over the 8 features.
    pca_mse = ((pca.inverse_transform(pca.transform(x)) - x) ** 2).mean()
    assert loss.item() == pytest.approx(pca_mse, rel=1e-9)


def test_shapes_parameters_and_state_dict_keys():
    model = Autoencoder(6, 2, [5, 4], code_activation="sigmoid")
    x = nnlab.randn(3, 6)
    code = model.encode(x)
    assert code.shape == (3, 2)
    assert ((code.detach().numpy() > 0) & (code.detach().numpy() < 1)).all()
    assert model(x).shape == (3, 6)
    np.testing.assert_array_equal(model(x).detach().numpy(), model.decode(code).detach().numpy())
    assert list(model.state_dict()) == [
        "encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias",
        "encoder.4.weight", "encoder.4.bias", "decoder.0.weight", "decoder.0.bias",
        "decoder.2.weight", "decoder.2.bias", "decoder.4.weight", "decoder.4.bias",
    ]  # fmt: skip
    assert [tuple(p.shape) for p in model.decoder.parameters()][::2] == [(4, 2), (5, 4), (6, 5)]
    copy = Autoencoder(6, 2, [5, 4], code_activation="sigmoid")
    copy.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(copy(x).detach().numpy(), model(x).detach().numpy())


def sigmoid_layer(seed: int = 0, n: int = 4, features: int = 5, code: int = 3):
    rng = np.random.default_rng(seed)

    def leaf(*shape):
        return nnlab.tensor(rng.standard_normal(shape), dtype=nnlab.float64, requires_grad=True)

    return leaf(n, features), leaf(code, features), leaf(code)


def test_contractive_penalty_matches_the_closed_form_of_a_sigmoid_encoder():
    x, w, b = sigmoid_layer()
    h = nnlab.sigmoid(x @ w.T + b)
    per_sample = contractive_penalty(h, x, reduction="none")
    # J = diag(h(1 - h)) W for each sample, so ‖J‖²_F = Σⱼ (hⱼ(1 - hⱼ))² ‖Wⱼ‖².
    hn, wn = h.detach().numpy(), w.detach().numpy()
    expected = ((hn * (1 - hn)) ** 2 * (wn**2).sum(1)).sum(1)
    np.testing.assert_allclose(per_sample.detach().numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(contractive_penalty(h, x).item(), expected.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        contractive_penalty(h, x, reduction="sum").item(), expected.sum(), rtol=1e-12
    )


def test_contractive_penalty_matches_the_jacobian_of_a_deep_encoder():
    nnlab.manual_seed(1)
    model = Autoencoder(5, 3, [6], activation="tanh", code_activation="sigmoid").double()
    x = nnlab.randn(4, 5, dtype=nnlab.float64, requires_grad=True)
    penalty = contractive_penalty(model.encode(x), x, reduction="none").detach().numpy()
    for n in range(4):
        j = jacobian(lambda row: model.encode(row[None])[0], x[n].detach()).numpy()
        assert penalty[n] == pytest.approx((j**2).sum(), rel=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_contractive_penalty_gradient_passes_gradcheck(activation):
    x, w, b = sigmoid_layer(seed=2)
    squash = {"sigmoid": nnlab.sigmoid, "tanh": nnlab.tanh, "relu": nnlab.relu}[activation]

    def penalty(x, w, b):
        # gradcheck's finite differences run under no_grad, but the penalty is itself a
        # gradient: it needs the graph from x to the code (as gradgradcheck does).
        with nnlab.enable_grad():
            return contractive_penalty(squash(x @ w.T + b), x)

    # The inputs' gradients pass through the first backward: a double-backward check.
    assert gradcheck(penalty, [x, w, b])


def test_contractive_penalty_trains_the_encoder():
    nnlab.manual_seed(0)
    model = Autoencoder(5, 3, code_activation="sigmoid")
    x = nnlab.randn(8, 5).requires_grad_()
    contractive_penalty(model.encode(x), x).backward()
    assert all(
        p.grad is not None and np.abs(p.grad.numpy()).sum() > 0 for p in model.encoder.parameters()
    )


def kl_formula(code: np.ndarray, rho: float) -> float:
    rho_hat = code.mean(0)
    return float(
        (rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat))).sum()
    )


def test_kl_sparsity_penalty_matches_its_formula_and_is_zero_at_the_target():
    rng = np.random.default_rng(3)
    code = rng.uniform(0.01, 0.99, size=(7, 4))
    for rho in (0.05, 0.3):
        got = kl_sparsity_penalty(nnlab.tensor(code), sparsity_target=rho).item()
        assert got == pytest.approx(kl_formula(code, rho), rel=1e-12)
    at_target = nnlab.full((5, 3), 0.2, dtype=nnlab.float64)
    assert kl_sparsity_penalty(at_target, sparsity_target=0.2).item() == pytest.approx(0, abs=1e-15)


def test_kl_sparsity_penalty_gradient_passes_gradcheck():
    x, w, b = sigmoid_layer(seed=4)
    assert gradcheck(
        lambda x, w, b: kl_sparsity_penalty(nnlab.sigmoid(x @ w.T + b), 0.1), [x, w, b]
    )


def test_kl_sparsity_penalty_stays_finite_for_a_dead_unit():
    code = nnlab.zeros(4, 2, requires_grad=True)
    penalty = kl_sparsity_penalty(code)
    penalty.backward()
    assert np.isfinite(penalty.item()) and np.isfinite(code.grad.numpy()).all()


def test_l1_sparsity_penalty_matches_its_formula_and_passes_gradcheck():
    rng = np.random.default_rng(5)
    code = rng.standard_normal((6, 3))
    expected = np.abs(code).sum(1)
    t = nnlab.tensor(code, requires_grad=True)
    np.testing.assert_allclose(l1_sparsity_penalty(t, "none").detach().numpy(), expected)
    assert l1_sparsity_penalty(t).item() == pytest.approx(expected.mean())
    assert l1_sparsity_penalty(t, "sum").item() == pytest.approx(expected.sum())
    assert gradcheck(l1_sparsity_penalty, [t])


@pytest.mark.parametrize(
    "corrupt", [lambda x: gaussian_noise(x, 0.3), lambda x: masking_noise(x, 0.4)]
)
def test_corruption_is_reproducible_under_manual_seed(corrupt):
    x = nnlab.rand(50, 20)
    nnlab.manual_seed(7)
    first = corrupt(x).numpy()
    second = corrupt(x).numpy()
    nnlab.manual_seed(7)
    again = corrupt(x).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_corruption_draws_from_a_given_generator_and_has_the_asked_strength():
    x = nnlab.ones(200, 50)
    noisy = gaussian_noise(x, 0.3, generator=nnlab.Generator(1)).numpy()
    np.testing.assert_array_equal(
        noisy, gaussian_noise(x, 0.3, generator=nnlab.Generator(1)).numpy()
    )
    assert (noisy - 1).std() == pytest.approx(0.3, rel=0.05)
    masked = masking_noise(x, 0.25, generator=nnlab.Generator(1)).numpy()
    assert set(np.unique(masked)) == {0.0, 1.0}  # kept entries are not rescaled
    assert (masked == 0).mean() == pytest.approx(0.25, abs=0.02)
    assert masking_noise(x, 0.0).numpy().min() == 1.0
    assert gaussian_noise(x, 0.0).numpy().max() == 1.0


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda: Autoencoder(64, 0), ValueError, "code_size must be a positive int, got 0"),
        (lambda: Autoencoder(64, 8, code_activation="softmax"), ValueError, "code_activation"),
        (lambda: Autoencoder(8, 2)(nnlab.randn(3, 9)), ValueError, r"\(N, 8\), got \(3, 9\)"),
        (lambda: Autoencoder(8, 2)(nnlab.randn(3, 2, 4)), ValueError, "flatten images"),
        (lambda: Autoencoder(8, 2).decode(nnlab.randn(3, 3)), ValueError, "code of shape"),
        (lambda: Autoencoder(8, 2).encode(np.zeros((3, 8))), TypeError, "must be a Tensor"),
        (lambda: gaussian_noise(nnlab.ones(2), -0.1), ValueError, "std must be"),
        (lambda: masking_noise(nnlab.ones(2), 1.5), ValueError, r"p must be in \[0, 1\]"),
        (lambda: kl_sparsity_penalty(nnlab.full((2, 2), 0.5), 1.0), ValueError, "sparsity_target"),
        (lambda: kl_sparsity_penalty(nnlab.randn(4, 3) * 5), ValueError, r"lie in \[0, 1\]"),
        (lambda: l1_sparsity_penalty(nnlab.ones(3)), ValueError, r"\(N, code_size\)"),
        (lambda: l1_sparsity_penalty(nnlab.ones(2, 2), "avg"), ValueError, "reduction"),
    ],
)
def test_bad_arguments_give_clear_errors(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_contractive_penalty_explains_a_missing_graph():
    model = Autoencoder(4, 2)
    x = nnlab.randn(3, 4)
    with pytest.raises(RuntimeError, match="input must require grad"):
        contractive_penalty(model.encode(x), x)
    other = nnlab.randn(3, 4, requires_grad=True)
    with pytest.raises(RuntimeError, match="does not depend on input"):
        contractive_penalty(model.encode(x.requires_grad_()), other)
    with pytest.raises(ValueError, match="as many samples"):
        contractive_penalty(model.encode(x), nnlab.randn(2, 4, requires_grad=True))
