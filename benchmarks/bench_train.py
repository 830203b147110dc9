"""Training benchmark: nnlab vs PyTorch (CPU, 2 threads) on the same models and data.

Workloads (targets from the issue):
  * a 784-512-256-10 ReLU MLP training step at batch 128 with Adam     (≤ 1.0× torch)
  * a tiny 64-128-10 MLP step at batch 32 with Adam                     (≤ 0.7× torch)
  * one full epoch of the digits MLP (64-256-128-10, batch 32, Adam, shuffled loader)

Each step is zero_grad → forward → cross-entropy → backward → optimizer step, written
the same way in both libraries with their own nn.Linear, loss and Adam. Run:
``.venv/bin/python benchmarks/bench_train.py``.
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _harness import measure, report, training_steps  # noqa: E402

import nnlab  # noqa: E402

torch.set_num_threads(2)


def build(lib, sizes, seed=0):
    """The same MLP in both libraries, with identical initial weights."""
    nn = lib.nn
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(seed)
    state = {}
    for a, b, i in zip(sizes[:-1], sizes[1:], range(0, 2 * len(sizes), 2)):
        bound = 1 / np.sqrt(a)
        state[f"{i}.weight"] = rng.uniform(-bound, bound, (b, a)).astype(np.float32)
        state[f"{i}.bias"] = rng.uniform(-bound, bound, b).astype(np.float32)
    if lib is torch:
        model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    else:
        model.load_state_dict(state)
    return model


def step_case(sizes, batch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)
    models = {lib: build(lib, sizes) for lib in (nnlab, torch)}
    return training_steps(models, x, y, "CrossEntropyLoss", lr=1e-3)


def digits_epoch_case():
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    x = ((x - x.mean(0)) / (x.std(0) + 1e-8)).astype(np.float32)
    sizes = (64, 256, 128, 10)
    epochs = {}
    for lib in (nnlab, torch):
        model = build(lib, sizes)
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = lib.nn.CrossEntropyLoss()
        if lib is torch:
            ds = torch.utils.data.TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
            loader = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
        else:
            ds = nnlab.data.TensorDataset(nnlab.from_numpy(x), nnlab.from_numpy(y))
            loader = nnlab.data.DataLoader(ds, batch_size=32, shuffle=True)

        def epoch(model=model, opt=opt, loss_fn=loss_fn, loader=loader):
            for xb, yb in loader:
                opt.zero_grad()
                loss_fn(model(xb), yb).backward()
                opt.step()

        epochs[lib.__name__] = epoch
    return epochs["nnlab"], epochs["torch"]


def main() -> None:
    rows = []
    ours, theirs = step_case((784, 512, 256, 10), 128)
    rows.append(("MLP 784-512-256-10 b128 Adam step", measure(ours, 60, 5),
                 measure(theirs, 60, 5), "≤ 1.0x"))  # fmt: skip
    ours, theirs = step_case((64, 128, 10), 32)
    rows.append(("tiny MLP 64-128-10 b32 Adam step", measure(ours, 500, 20),
                 measure(theirs, 500, 20), "≤ 0.7x"))  # fmt: skip
    ours, theirs = digits_epoch_case()
    rows.append(("digits MLP epoch (57 batches)", measure(ours, 20, 2),
                 measure(theirs, 20, 2), "-"))  # fmt: skip
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    report(rows)


if __name__ == "__main__":
    main()
