"""The training loop: results, resume equality, accumulation, callbacks, NaN guard."""

from __future__ import annotations

import numpy as np
import pytest

import nnlab
from nnlab import nn, optim
from nnlab.data import DataLoader, TensorDataset
from nnlab.optim import lr_scheduler
from nnlab.train import (
    CSVLogger,
    EarlyStopping,
    JSONLogger,
    LambdaCallback,
    ModelCheckpoint,
    NonFiniteLossError,
    Trainer,
    fit,
)


def blobs(n=240, d=6, classes=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (classes, d))
    y = rng.integers(0, classes, n)
    x = centres[y] + rng.normal(0, 1, (n, d))
    return x.astype(dtype), y.astype(np.int64)


def loaders(x, y, batch=32, shuffle=True):
    ds = TensorDataset(nnlab.from_numpy(x), nnlab.from_numpy(y))
    return DataLoader(ds, batch_size=batch, shuffle=shuffle)


def make_model(d=6, classes=3, dropout=0.2):
    return nn.Sequential(nn.Linear(d, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, classes))


def weights(model):
    return {k: v.array.copy() for k, v in model.state_dict().items()}


def test_fit_learns_and_logs_history():
    nnlab.manual_seed(0)
    x, y = blobs()
    model = make_model()
    hist = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
               loaders(x, y), loaders(x, y, shuffle=False), epochs=8, metrics=["accuracy"],
               verbose=False)  # fmt: skip
    assert len(hist) == 8
    assert hist["loss"][-1] < hist["loss"][0]
    assert hist["val_accuracy"][-1] > 0.9
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm", "time"} <= set(
        hist.keys()
    )
    assert len(hist.steps) == 8 * 8 and {"loss", "lr", "grad_norm"} <= set(hist.steps[0])


def _run(epochs, resume_at=None, tmp_path=None):
    """Train with dropout, shuffling and a schedule; optionally stop, rebuild and resume."""
    x, y = blobs()

    def build():
        model = make_model()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        sched = lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
        loader = loaders(x, y)
        trainer = Trainer(model, nn.CrossEntropyLoss(), opt, scheduler=sched, verbose=False)
        return trainer, loader

    nnlab.manual_seed(1)
    trainer, loader = build()
    if resume_at is None:
        trainer.fit(loader, epochs=epochs)
        return weights(trainer.model), trainer
    trainer.fit(loader, epochs=resume_at)
    path = trainer.save(tmp_path / "ckpt.safetensors")
    nnlab.manual_seed(12345)  # a fresh process would start from some other state
    trainer2, loader2 = build()
    trainer2.load(path, train_loader=loader2)
    trainer2.fit(loader2, epochs=epochs)
    return weights(trainer2.model), trainer2


def test_resume_gives_bit_identical_weights(tmp_path):
    full, t_full = _run(6)
    resumed, t_res = _run(6, resume_at=3, tmp_path=tmp_path)
    for k in full:
        np.testing.assert_array_equal(full[k], resumed[k], err_msg=k)
    assert t_res.optimizer.param_groups[0]["lr"] == t_full.optimizer.param_groups[0]["lr"]
    assert len(t_res.history) == 6


def test_checkpoints_without_frozen_parameters_resume_exactly(tmp_path):
    """save_frozen=False: a frozen "pretrained" first layer (rebuilt by the constructor,
    here the same seed) stays out of the checkpoint, and resuming still ends bit for bit
    where an uninterrupted run ends."""
    x, y = blobs()

    def build():
        nnlab.manual_seed(7)  # the "pretrained" weights: the same in every build
        model = make_model()
        model[0].requires_grad_(False)
        opt = optim.Adam(model.parameters(), lr=1e-2)
        return Trainer(model, nn.CrossEntropyLoss(), opt, verbose=False, save_frozen=False)

    full = build()
    nnlab.manual_seed(1)
    full.fit(loaders(x, y), epochs=4)
    first = build()
    nnlab.manual_seed(1)
    loader = loaders(x, y)
    first.fit(loader, epochs=2)
    path = first.save(tmp_path / "ckpt.safetensors")
    assert set(nnlab.train.load_checkpoint(path)["model"]) == {"3.weight", "3.bias"}
    second = build()
    loader2 = loaders(x, y)
    second.load(path, train_loader=loader2)
    second.fit(loader2, epochs=4)
    for k, v in weights(full.model).items():
        np.testing.assert_array_equal(v, weights(second.model)[k], err_msg=k)
    # A checkpoint that lacks a trainable parameter is refused, naming it.
    other = build()
    other.model[0].requires_grad_(True)
    with pytest.raises(nnlab.train.CheckpointError, match=r"missing 2 \(0.weight, 0.bias\)"):
        other.load(path)


def test_gradient_accumulation_equals_a_larger_batch():
    x, y = blobs(n=64, dtype=np.float64)
    results = []
    for batch, k in ((32, 1), (8, 4)):
        nnlab.manual_seed(3)
        model = make_model(dropout=0.0).double()
        opt = optim.SGD(model.parameters(), lr=0.1)
        Trainer(model, nn.CrossEntropyLoss(), opt, accumulate_steps=k, verbose=False).fit(
            loaders(x, y, batch=batch, shuffle=False), epochs=3
        )
        results.append(weights(model))
    for key in results[0]:
        np.testing.assert_allclose(results[0][key], results[1][key], rtol=1e-10, atol=1e-12)


def test_early_stopping_restores_best_weights():
    nnlab.manual_seed(0)
    x, y = blobs()
    model = make_model()
    seen = {}

    def remember(epoch, logs):
        seen[epoch] = (logs["val_loss"], weights(model))

    es = EarlyStopping(monitor="val_loss", patience=2)
    # A huge learning rate after a few epochs makes validation worse, triggering the stop.
    opt = optim.SGD(model.parameters(), lr=0.05)
    boost = LambdaCallback(on_epoch_end=lambda e, logs: opt.param_groups[0].update(lr=5.0)
                           if e == 3 else None)  # fmt: skip
    trainer = Trainer(model, nn.CrossEntropyLoss(), opt,
                      callbacks=[LambdaCallback(on_epoch_end=remember), boost, es],
                      verbose=False)  # fmt: skip
    trainer.fit(loaders(x, y), loaders(x, y, shuffle=False), epochs=30)
    assert es.stopped_epoch is not None and trainer.epoch < 30
    assert "early stopping" in trainer.history.stop_reason
    best_loss, best_weights = seen[es.best_epoch]
    assert best_loss == min(v[0] for v in seen.values())
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, best_weights[k])


def test_nan_loss_is_caught_with_the_step_and_best_weights_restored():
    nnlab.manual_seed(0)
    x, y = blobs()
    x_bad = x.copy()
    x_bad[100] = np.nan
    model = make_model()
    es = EarlyStopping(patience=5)
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01),
                      callbacks=[es], verbose=False)  # fmt: skip
    trainer.fit(loaders(x, y, shuffle=False), loaders(x, y, shuffle=False), epochs=2)
    good = weights(model)
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 3, step \d+ \(batch 4\)"):
        trainer.fit(loaders(x_bad, y, shuffle=False), loaders(x, y, shuffle=False), epochs=4)
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, good[k])


def test_checkpoints_and_loggers_write_files(tmp_path):
    nnlab.manual_seed(0)
    x, y = blobs()
    model = make_model()
    cbs = [ModelCheckpoint(tmp_path / "ckpt"), CSVLogger(tmp_path / "log.csv"),
           JSONLogger(tmp_path / "log.json")]  # fmt: skip
    fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters()), loaders(x, y),
        loaders(x, y, shuffle=False), epochs=3, callbacks=cbs, verbose=False)  # fmt: skip
    assert (tmp_path / "ckpt" / "best.safetensors").is_file()
    assert (tmp_path / "ckpt" / "last.safetensors").is_file()
    assert len((tmp_path / "log.csv").read_text().strip().splitlines()) == 4
    assert (tmp_path / "log.json").read_text().count('"epoch"') == 3


def test_same_seed_same_run_bit_for_bit():
    runs = [_run(3)[0] for _ in range(2)]
    for k in runs[0]:
        np.testing.assert_array_equal(runs[0][k], runs[1][k])


def test_onecycle_steps_every_batch():
    nnlab.manual_seed(0)
    x, y = blobs()
    model = make_model()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loader = loaders(x, y)
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3 * len(loader))
    hist = fit(model, nn.CrossEntropyLoss(), opt, loader, epochs=3, scheduler=sched,
               scheduler_interval="step", verbose=False)  # fmt: skip
    lrs = [s["lr"] for s in hist.steps]
    assert max(lrs) == pytest.approx(0.1, rel=0.05) and lrs[-1] < 1e-3


def test_bad_batches_and_options_raise_clear_errors():
    model = make_model()
    with pytest.raises(ValueError, match="accumulate_steps"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                accumulate_steps=0)  # fmt: skip
    with pytest.raises(ValueError, match="unknown metric 'acuracy'"):
        Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                metrics=["acuracy"])  # fmt: skip
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      verbose=False)  # fmt: skip
    with pytest.raises(TypeError, match="inputs, targets"):
        trainer.fit([nnlab.ones(2, 6)], epochs=1)


def test_keras_style_arrays_loss_names_and_history_dict():
    nnlab.manual_seed(0)
    x, y = blobs()
    model = make_model()
    hist = fit(model, "cross_entropy", optim.Adam(model.parameters(), lr=1e-2), (x, y),
               val_loader=(x, y), epochs=3, batch_size=16, metrics=["accuracy"],
               verbose=False)  # fmt: skip
    assert set(hist.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    assert len(hist.history["loss"]) == 3 and "3 epochs" in repr(hist)
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'"):
        Trainer(model, "crossentropy", optim.SGD(model.parameters(), lr=0.1))


def test_fit_counts_total_epochs_and_warns_when_there_is_nothing_to_do():
    x, y = blobs(n=32)
    model = make_model()
    trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                      verbose=False)  # fmt: skip
    trainer.fit(loaders(x, y), epochs=2)
    with pytest.warns(UserWarning, match="counts the total"):
        trainer.fit(loaders(x, y), epochs=2)
    trainer.fit(loaders(x, y), epochs=3)
    assert trainer.epoch == 3


def test_a_monitor_that_is_never_logged_fails_before_training():
    x, y = blobs(n=32)
    model = make_model()
    before = weights(model)
    for cb in (EarlyStopping(monitor="val_acc"), ModelCheckpoint("/nonexistent", monitor="acc")):
        trainer = Trainer(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                          callbacks=[cb], metrics=["accuracy"], verbose=False)  # fmt: skip
        with pytest.raises(ValueError, match="is never logged; logged: accuracy, grad_norm"):
            trainer.fit(loaders(x, y), loaders(x, y, shuffle=False), epochs=1)
    for k, v in weights(model).items():
        np.testing.assert_array_equal(v, before[k])


class _TwoInputs(nnlab.nn.Module):
    """y = Linear(a) + Linear(b): a model with two inputs."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nnlab.nn.Linear(3, 2), nnlab.nn.Linear(4, 2)

    def forward(self, a, b):
        return self.a(a) + self.b(b)


def test_batches_of_three_feed_a_two_input_model():
    from nnlab.train import Trainer

    rng = np.random.default_rng(0)
    a = rng.standard_normal((40, 3)).astype(np.float32)
    b = rng.standard_normal((40, 4)).astype(np.float32)
    y = (a[:, :1] - b[:, 1:2] > 0).astype(np.int64).reshape(-1)
    nnlab.manual_seed(0)
    model = _TwoInputs()
    trainer = Trainer(model, "cross_entropy", nnlab.optim.Adam(model.parameters(), lr=0.05),
                      metrics=["accuracy"], verbose=False)  # fmt: skip
    history = trainer.fit((a, b, y), epochs=30, batch_size=8)
    assert history.epochs[-1]["accuracy"] > 0.9
    assert trainer.predict((a, b)).shape == (40, 2)
    # the nested Keras form ((a, b), y) is the same data
    nnlab.manual_seed(0)
    twin = _TwoInputs()
    other = Trainer(twin, "cross_entropy", nnlab.optim.Adam(twin.parameters(), lr=0.05),
                    verbose=False)  # fmt: skip
    other.fit(((a, b), y), epochs=30, batch_size=8)
    for p, q in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(p.array, q.array)
