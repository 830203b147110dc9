"""``diagnose``: run every check of :mod:`nnlab.doctor.checks` on a model, its loss, its
optimizer and its data, and return the findings, the most severe first."""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlab import nn, optim
from nnlab.doctor import checks as C
from nnlab.doctor.findings import SEVERITIES, Finding
from nnlab.doctor.subject import LOSS_KINDS, Subject, loss_kind
from nnlab.optim.optimizer import Optimizer

__all__ = ["diagnose"]


def _split(data: Any, name: str) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """``(x, y)`` NumPy arrays of equal length from a pair of arrays (or None)."""
    if data is None:
        return None, None
    try:
        x, y = data
    except (TypeError, ValueError):
        raise TypeError(
            f"diagnose: {name} must be an (x, y) pair of arrays, got {type(data).__name__}"
        ) from None
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 2 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"diagnose: {name} inputs must be float rows (N, features) or images (N, C, H, "
            f"W); got shape {x.shape} and dtype {x.dtype}"
        )
    if len(x) != len(y):
        raise ValueError(f"diagnose: {name} has {len(x)} input rows but {len(y)} targets")
    return x, y


def diagnose(
    model: nn.Module,
    loss_fn: Any,
    train_data: tuple[np.ndarray, np.ndarray],
    val_data: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    optimizer: Optimizer | None = None,
    lr: float = 1e-3,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    batch_size: int = 32,
    kind: str | None = None,
    seed: int = 0,
    overfit_steps: int = 200,
    range_test_steps: int = 100,
    training_steps: int = 200,
    stat_batches: int = 3,
) -> list[Finding]:
    """Examine why ``model`` might not learn and return the findings, errors first.

    The checks (see :mod:`nnlab.doctor.checks` for each one's rule): the input scale;
    outputs that are already probabilities; the initial loss against an uninformed model's
    (ln C for C classes); overfitting one batch; the learning-rate range test against the
    configured rate; per-layer gradients (none at all, vanishing, exploding) and
    activations (dead ReLUs, saturated sigmoid/tanh) from forward hooks; training rows
    leaking into validation/test; a short training with the configured optimizer (NaN,
    stalled loss, train/validation gap); and whether the labels carry any signal (a k-NN
    probe and the short training against chance). The model and optimizer are left as
    they were.

    Args:
        model: the network (a Module taking a batch of ``x``).
        loss_fn: ``loss_fn(outputs, targets)``; its kind (cross-entropy, BCE with logits,
            MSE) is read from its modules unless ``kind`` names it.
        train_data: ``(x_train, y_train)`` NumPy arrays, inputs as the model reads them.
        val_data: ``(x_val, y_val)`` or None (the test split stands in when given).
        optimizer: the optimizer training would use; default ``Adam(lr=lr)``. Its
            largest group learning rate is the one judged.
        lr: the learning rate of the default optimizer (ignored with ``optimizer``).
        test_data: ``(x_test, y_test)``, searched for rows leaked from training.
        batch_size: rows per batch for every check.
        kind: one of ``"cross_entropy"``, ``"bce_with_logits"``, ``"mse"``, ``"other"``.
        seed: the batches' seed (the same seed, the same findings).
        overfit_steps, range_test_steps, training_steps, stat_batches: the checks' budgets.

    Returns:
        A list of :class:`~nnlab.doctor.findings.Finding`, most severe first; healthy
        measurements are ``"ok"`` findings of severity ``"info"``.

    Example:
        >>> import numpy as np, nnlab
        >>> from nnlab import nn
        >>> from nnlab.doctor.diagnose import diagnose
        >>> rng = np.random.default_rng(0)
        >>> x = rng.standard_normal((200, 4)).astype(np.float32)
        >>> y = (x[:, 0] > 0).astype(np.int64)
        >>> model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2), nn.Softmax(1))
        >>> found = diagnose(model, nn.CrossEntropyLoss(), (x[:150], y[:150]), (x[150:], y[150:]))
        >>> "outputs_are_probabilities" in [f.name for f in found]
        True
    """
    x_train, y_train = _split(train_data, "train_data")
    x_val, y_val = _split(val_data, "val_data")
    x_test, y_test = _split(test_data, "test_data")
    if kind is not None and kind not in LOSS_KINDS:
        raise ValueError(f"diagnose: kind must be one of {LOSS_KINDS}, got {kind!r}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"diagnose: batch_size must be a positive integer, got {batch_size}")
    if optimizer is None:
        optimizer = optim.Adam(model.parameters(), lr=lr)
    s = Subject(
        model,
        loss_fn,
        optimizer,
        x_train,
        y_train,
        x_val,
        y_val,
        x_test,
        y_test,
        batch_size=batch_size,
        seed=seed,
        kind=kind or loss_kind(loss_fn),
    )
    found = [
        *C.check_input_scale(s),
        *C.check_output_probabilities(s),
        *C.check_initial_loss(s),
        *C.check_overfit_one_batch(s, steps=overfit_steps),
        *C.check_lr_range(s, num_iter=range_test_steps),
        *C.check_gradients(s, n_batches=stat_batches),
        *C.check_activations(s, n_batches=stat_batches),
        *C.check_leakage(s),
    ]
    trained = C.short_training(s, steps=training_steps)
    found += [*C.check_training(s, trained), *C.check_labels(s, trained)]
    return sorted(found, key=lambda f: -SEVERITIES.index(f.severity))
