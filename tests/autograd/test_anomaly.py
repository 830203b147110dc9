"""Anomaly detection: inside ``detect_anomaly()`` the first op whose forward or backward
makes NaN or Inf raises, naming the op (and for backward, where the op was created)."""

from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import nnlab
from nnlab.autograd import AnomalyError, Function, detect_anomaly, set_detect_anomaly
from nnlab.autograd.anomaly import is_anomaly_enabled

THIS_FILE = os.path.basename(__file__)

# NaN and Inf are the point here: keep NumPy's own RuntimeWarnings quiet.
pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def line_of(marker: str) -> int:
    """The line number in this file of the (unique) source line containing ``marker``."""
    lines = inspect.getsource(inspect.getmodule(line_of)).splitlines()
    hits = [i + 1 for i, text in enumerate(lines) if marker in text and "line_of(" not in text]
    assert len(hits) == 1, hits
    return hits[0]


class NanBackward(Function):
    """y = 2x, but its backward returns NaN: a broken custom op."""

    @staticmethod
    def forward(ctx, x):
        return 2 * x

    @staticmethod
    def backward(ctx, g):
        return g * np.nan


def test_anomaly_error_is_a_runtime_error():
    assert issubclass(AnomalyError, RuntimeError)


@pytest.mark.parametrize(
    "make, op, what",
    [
        (lambda: nnlab.log(nnlab.tensor([1.0, -1.0])), "Log", "NaN"),
        (lambda: nnlab.sqrt(nnlab.tensor([-4.0], requires_grad=True)), "Sqrt", "NaN"),
        (lambda: nnlab.exp(nnlab.tensor([1000.0])), "Exp", "Inf"),
        (lambda: nnlab.tensor([1.0]) / nnlab.tensor([0.0]), "Div", "Inf"),
    ],
    ids=["log", "sqrt", "exp", "div"],
)
def test_forward_anomaly_names_the_op(make, op, what):
    with detect_anomaly():
        with pytest.raises(AnomalyError, match=rf"^{op} forward produced {what}"):
            make()


def test_the_first_bad_op_is_reported_not_a_later_one():
    x = nnlab.tensor([-1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        h = x * 3
        with pytest.raises(AnomalyError, match="^Log forward"):
            (h.log() * 2).exp()


def test_backward_anomaly_names_the_op_and_where_it_was_created():
    x = nnlab.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        y = nnlab.sqrt(x)  # creation-site: sqrt
        loss = (y * y).sum()  # d loss / dy = 2y = 0 at x = 0, and 0 / (2·√0) is NaN
        with pytest.raises(AnomalyError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("Sqrt backward returned NaN in the gradient of its input 0")
    assert THIS_FILE in message
    assert f"line {line_of('# creation-site: sqrt')}" in message
    assert "y = nnlab.sqrt(x)" in message


def test_custom_function_returning_nan_is_named_with_its_creation_line():
    x = nnlab.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        y = NanBackward.apply(x)  # creation-site: custom
        with pytest.raises(AnomalyError) as info:
            (y * 3).sum().backward()
    message = str(info.value)
    assert message.startswith("NanBackward backward returned NaN")
    assert f'{THIS_FILE}", line {line_of("# creation-site: custom")}' in message


def test_creation_site_through_a_tensor_method_points_at_the_caller():
    x = nnlab.tensor([0.0], requires_grad=True)
    with detect_anomaly():
        y = x.sqrt()  # creation-site: method
        with pytest.raises(AnomalyError) as info:
            (y * y).sum().backward()
    assert f"line {line_of('# creation-site: method')}" in str(info.value)
    assert "nnlab/tensor.py" not in str(info.value).replace(os.sep, "/")


def test_nothing_is_checked_outside_the_context():
    assert not is_anomaly_enabled()
    x = nnlab.tensor([0.0, -1.0], requires_grad=True)
    y = x.sqrt()
    (y * y).sum().backward()
    assert np.isnan(x.grad.array).all()
    z = NanBackward.apply(x)
    z.sum().backward()
    assert np.isnan(x.grad.array).all()


def test_a_graph_built_outside_is_checked_during_a_backward_inside():
    x = nnlab.tensor([1.0], requires_grad=True)
    y = NanBackward.apply(x)
    with detect_anomaly():
        with pytest.raises(AnomalyError, match="(?s)NanBackward.*not recorded"):
            y.sum().backward()


def test_decorator_form_and_state_restoration():
    @detect_anomaly()
    def compute():
        assert is_anomaly_enabled()
        return nnlab.log(nnlab.tensor([-1.0]))

    with pytest.raises(AnomalyError):
        compute()
    assert not is_anomaly_enabled()
    with detect_anomaly():
        with detect_anomaly(check_nan=False):
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_set_detect_anomaly():
    try:
        set_detect_anomaly(True)
        assert is_anomaly_enabled()
        set_detect_anomaly(False)
        assert not is_anomaly_enabled()
        with set_detect_anomaly(True):
            assert is_anomaly_enabled()
        assert not is_anomaly_enabled()

        @set_detect_anomaly(True)
        def f():
            return is_anomaly_enabled()

        assert not is_anomaly_enabled() and f() and not is_anomaly_enabled()
    finally:
        set_detect_anomaly(False)


def test_finite_computations_pass_under_detection():
    x = nnlab.tensor([0.5, 1.5], requires_grad=True)
    with detect_anomaly():
        (x.exp() * x.log() + x.sqrt()).sum().backward()
    assert np.isfinite(x.grad.array).all()
