"""``nnlab.nn.init`` vs ``torch.nn.init``: gains, fans, and the distribution of every
initialiser.

Random initialisers cannot match torch value for value (different generators), so each
one fills a large tensor in both libraries and the samples are compared: the bounds,
mean and standard deviation against the formula, and the two samples against each other
with a two-sample Kolmogorov-Smirnov test. Seeds are fixed, so the outcome never varies.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
import torch

import nnlab
from nnlab import nn
from nnlab.nn import init

T = torch.nn


def _pair(*shape: int) -> tuple[nnlab.Tensor, torch.Tensor]:
    return nnlab.empty(*shape), torch.empty(*shape)


def _same_distribution(a: np.ndarray, e: np.ndarray) -> None:
    """Two samples of one distribution: a KS test, plus equal mean and std."""
    a, e = a.ravel().astype(np.float64), e.ravel().astype(np.float64)
    assert scipy.stats.ks_2samp(a, e).pvalue > 1e-3
    assert abs(a.mean() - e.mean()) < 6 * e.std() / math.sqrt(min(a.size, e.size))
    assert a.std() == pytest.approx(e.std(), rel=0.02)


# -- gains and fans -----------------------------------------------------------------------

NONLINEARITIES = [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", 1), ("leaky_relu", math.sqrt(5)),
    ("selu", None),
]  # fmt: skip


@pytest.mark.parametrize("nonlinearity, param", NONLINEARITIES)
def test_calculate_gain_matches_torch(nonlinearity: str, param: float | None) -> None:
    expected = T.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_rejects_like_torch() -> None:
    for args in (("softmax",), ("leaky_relu", "0.1"), ("leaky_relu", True)):
        with pytest.raises(ValueError):
            T.init.calculate_gain(*args)
        with pytest.raises(ValueError):
            init.calculate_gain(*args)


@pytest.mark.parametrize("shape", [(3, 4), (5, 3, 2, 2), (4, 2, 3), (1, 1), (6, 0)])
def test_fan_in_and_fan_out_match_torch(shape: tuple[int, ...]) -> None:
    expected = T.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(nnlab.empty(*shape)) == expected


def test_fans_need_two_dims() -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(nnlab.empty(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(nnlab.empty(3, 3), mode="fan_avg")


# -- distributions ------------------------------------------------------------------------

# (name, nnlab call, torch call, expected (low, high) bounds or None, expected std)
FAN_IN, FAN_OUT = 250, 120  # tensors of shape (120, 250)
K_RELU = math.sqrt(2)
CASES = [
    ("uniform", lambda t: init.uniform_(t, -0.3, 0.7), lambda t: T.init.uniform_(t, -0.3, 0.7),
     (-0.3, 0.7), 1 / math.sqrt(12)),
    ("normal", lambda t: init.normal_(t, 0.5, 2.0), lambda t: T.init.normal_(t, 0.5, 2.0),
     None, 2.0),
    ("xavier_uniform", lambda t: init.xavier_uniform_(t, gain=2.0),
     lambda t: T.init.xavier_uniform_(t, gain=2.0),
     (-2 * math.sqrt(6 / 370), 2 * math.sqrt(6 / 370)), 2 * math.sqrt(2 / 370)),
    ("xavier_normal", init.xavier_normal_, T.init.xavier_normal_, None, math.sqrt(2 / 370)),
    ("kaiming_uniform", init.kaiming_uniform_, T.init.kaiming_uniform_,
     (-math.sqrt(6 / FAN_IN), math.sqrt(6 / FAN_IN)), math.sqrt(2 / FAN_IN)),  # a=0: gain √2
    ("kaiming_uniform-relu-fan_out",
     lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
     lambda t: T.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
     (-K_RELU * math.sqrt(3 / FAN_OUT), K_RELU * math.sqrt(3 / FAN_OUT)),
     K_RELU / math.sqrt(FAN_OUT)),
    ("kaiming_uniform-a=sqrt5", lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
     lambda t: T.init.kaiming_uniform_(t, a=math.sqrt(5)),
     (-1 / math.sqrt(FAN_IN), 1 / math.sqrt(FAN_IN)), 1 / math.sqrt(3 * FAN_IN)),
    ("kaiming_normal", init.kaiming_normal_, T.init.kaiming_normal_, None,
     math.sqrt(2 / FAN_IN)),
    ("kaiming_normal-tanh-fan_out",
     lambda t: init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"),
     lambda t: T.init.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh"), None,
     5 / 3 / math.sqrt(FAN_OUT)),
    ("trunc_normal", lambda t: init.trunc_normal_(t, 0.1, 1.0, -1.0, 1.5),
     lambda t: T.init.trunc_normal_(t, 0.1, 1.0, -1.0, 1.5), (-1.0, 1.5),
     float(scipy.stats.truncnorm(-1.1, 1.4, loc=0.1).std())),
    ("trunc_normal-narrow", lambda t: init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04),
     lambda t: T.init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04), (-0.04, 0.04),
     float(scipy.stats.truncnorm(-2, 2, scale=0.02).std())),
]  # fmt: skip


@pytest.mark.parametrize("name, ours, theirs, bounds, std", CASES, ids=[c[0] for c in CASES])
def test_initialiser_distribution_matches_torch(name, ours, theirs, bounds, std) -> None:
    nnlab.manual_seed(1)
    torch.manual_seed(1)
    a, e = _pair(FAN_OUT, FAN_IN)
    result = ours(a)
    theirs(e)
    assert result is a and a.dtype == np.float32
    values, reference = a.array, e.numpy()
    if bounds is not None:
        low, high = bounds
        width = high - low
        for sample in (values, reference):
            assert low <= sample.min() < low + 0.01 * width
            assert high - 0.01 * width < sample.max() <= high
    assert values.std() == pytest.approx(std, rel=0.02)
    _same_distribution(values, reference)


def test_orthogonal_matches_torch() -> None:
    for shape, gain in (((6, 10), 1.0), ((10, 6), 2.0), ((4, 3, 2, 2), 0.5)):
        a, e = _pair(*shape)
        init.orthogonal_(a, gain=gain)
        T.init.orthogonal_(e, gain=gain)
        flat, ref = a.array.reshape(shape[0], -1), e.numpy().reshape(shape[0], -1)
        small = min(flat.shape)
        for m in (flat, ref):
            gram = m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m
            np.testing.assert_allclose(gram, gain**2 * np.eye(small), atol=1e-5)
    # entries of a random orthogonal matrix: the same distribution in both libraries
    values, reference = [], []
    for seed in range(20):
        nnlab.manual_seed(seed)
        torch.manual_seed(seed)
        a, e = _pair(30, 30)
        values.append(init.orthogonal_(a).array)
        reference.append(T.init.orthogonal_(e).numpy())
    _same_distribution(np.stack(values), np.stack(reference))
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(nnlab.empty(3))


def test_constant_ones_zeros_eye_match_torch() -> None:
    for ours, theirs in (
        (lambda t: init.constant_(t, 0.25), lambda t: T.init.constant_(t, 0.25)),
        (init.ones_, T.init.ones_),
        (init.zeros_, T.init.zeros_),
        (init.eye_, T.init.eye_),
    ):
        a, e = _pair(3, 5)
        np.testing.assert_array_equal(ours(a).array, theirs(e).numpy())


def test_init_writes_in_place_without_recording() -> None:
    layer = nn.Linear(4, 3)
    array = layer.weight.array
    out = init.xavier_uniform_(layer.weight)
    assert out is layer.weight and layer.weight.array is array
    assert layer.weight.grad_fn is None and layer.weight.requires_grad


def test_generator_makes_init_reproducible() -> None:
    g = nnlab.Generator(5)
    first = init.kaiming_normal_(nnlab.empty(4, 4), generator=g).array.copy()
    g.manual_seed(5)
    second = init.kaiming_normal_(nnlab.empty(4, 4), generator=g).array
    np.testing.assert_array_equal(first, second)
    nnlab.manual_seed(5)
    third = init.kaiming_normal_(nnlab.empty(4, 4)).array
    np.testing.assert_array_equal(first, third)  # the default generator, seeded alike


def test_zero_element_tensor_warns_like_torch() -> None:
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(nnlab.empty(0, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        init.orthogonal_(nnlab.empty(0, 3))


def test_trunc_normal_warns_when_mean_is_far() -> None:
    with pytest.warns(UserWarning, match="mean is more than 2 std"):
        init.trunc_normal_(nnlab.empty(10), mean=5.0, std=1.0, a=-1.0, b=1.0)


# -- default initialisation of the layers ---------------------------------------------------


def test_layer_default_inits_have_torchs_distributions() -> None:
    """Every parameter ~ U(-1/√fan_in, 1/√fan_in), as torch's (fan_in: in1 for Bilinear)."""
    nnlab.manual_seed(3)
    torch.manual_seed(3)
    pairs = [
        (nn.Linear(300, 200), T.Linear(300, 200), 300),
        (nn.Bilinear(20, 30, 40), T.Bilinear(20, 30, 40), 20),
    ]
    for ours, theirs, fan_in in pairs:
        bound = 1 / math.sqrt(fan_in)
        for name, p in ours.named_parameters():
            reference = theirs.get_parameter(name).detach().numpy()
            assert p.shape == reference.shape and p.dtype == reference.dtype
            assert np.abs(p.array).max() <= bound and np.abs(reference).max() <= bound
            if p.numel() >= 1000:  # enough draws to compare the two samples
                _same_distribution(p.array, reference)


@pytest.mark.parametrize("affine", [True, False])
def test_norm_layer_defaults_equal_torchs(affine: bool) -> None:
    for ours, theirs in (
        (nn.BatchNorm1d(5, affine=affine), T.BatchNorm1d(5, affine=affine)),
        (nn.LayerNorm((2, 3), elementwise_affine=affine), T.LayerNorm((2, 3),
                                                                     elementwise_affine=affine)),
    ):  # fmt: skip
        theirs_state = theirs.state_dict()
        assert list(ours.state_dict()) == list(theirs_state)
        for k, v in ours.state_dict().items():
            expected = theirs_state[k].numpy()
            assert v.dtype == expected.dtype, k
            np.testing.assert_array_equal(v.array, expected, err_msg=k)


def test_reset_parameters_redraws() -> None:
    layer = nn.Linear(8, 8)
    before = layer.weight.array.copy()
    layer.reset_parameters()
    assert not np.array_equal(before, layer.weight.array)
    bound = 1 / math.sqrt(8)
    assert np.abs(layer.weight.array).max() <= bound and np.abs(layer.bias.array).max() <= bound
