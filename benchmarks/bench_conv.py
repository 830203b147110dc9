"""Convolution benchmark: nnlab vs PyTorch (CPU, 2 threads) on the same models and data.

Workloads (targets from the issue):
  * LeNet-5 training step, batch 64 of 1×28×28: conv(1→6, 5, pad 2)-relu-pool-conv(6→16, 5)
    -relu-pool-fc120-fc84-fc10, cross-entropy, SGD with momentum              (≤ 2.0× torch)
  * ResNet basic block step, batch 32 of 64×16×16: conv3×3-BN-relu-conv3×3-BN + identity,
    relu, MSE to a fixed target, SGD                                           (≤ 2.5× torch)
  * Conv1d on MNIST-1D shapes: batch 100 of 1×40 → 32 channels, k=5, relu, flatten,
    fc 10, cross-entropy, SGD

Pooling is ``nn.MaxPool2d(2)`` and normalisation ``nn.BatchNorm2d``. Each step is
zero_grad → forward → loss → backward → optimizer step, with identical initial weights
(torch's, loaded through ``load_state_dict``); the first losses are checked to agree.
Run: ``.venv/bin/python benchmarks/bench_conv.py`` (``--profile`` adds a cProfile of the
nnlab LeNet step).
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


def lenet(lib):
    nn = lib.nn
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
    )  # fmt: skip


def basic_block(lib, c=64):
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
            self.bn1, self.bn2 = nn.BatchNorm2d(c), nn.BatchNorm2d(c)
            self.relu = nn.ReLU()

        def forward(self, x):
            y = self.conv1(x)
            y = self.relu(self.bn1(y))
            y = self.conv2(y)
            y = self.bn2(y)
            return self.relu(y + x)

    return Block()


def conv1d_net(lib):
    nn = lib.nn
    return nn.Sequential(nn.Conv1d(1, 32, 5), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 36, 10))


def step_case(build, x, target, loss_name, lr=0.01):
    """The same model in both libraries (torch's initial weights) and one training step."""
    torch.manual_seed(0)
    theirs = build(torch)
    ours = build(nnlab)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    models = {nnlab: ours, torch: theirs}
    return training_steps(models, x, target, loss_name, optimizer="SGD", lr=lr, momentum=0.9)


def cases():
    rng = np.random.default_rng(0)
    mnist = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    feats = rng.standard_normal((32, 64, 16, 16)).astype(np.float32)
    target = rng.standard_normal((32, 64, 16, 16)).astype(np.float32)
    seq = rng.standard_normal((100, 1, 40)).astype(np.float32)
    seq_labels = rng.integers(0, 10, 100)
    return [
        ("LeNet-5 b64 step", step_case(lenet, mnist, labels, "CrossEntropyLoss"),
         50, "≤ 2.0x"),
        ("ResNet basic block b32 64x16x16",
         step_case(basic_block, feats, target, "MSELoss"), 20, "≤ 2.5x"),
        ("Conv1d 1->32 k5 MNIST-1D b100 step",
         step_case(conv1d_net, seq, seq_labels, "CrossEntropyLoss"), 200, "-"),
    ]  # fmt: skip


def profile_lenet() -> None:
    import cProfile
    import pstats

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    ours, _ = step_case(lenet, x, rng.integers(0, 10, 64), "CrossEntropyLoss")
    for _ in range(5):
        ours()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(100):
        ours()
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(15)


def main() -> None:
    rows = []
    for name, (ours, theirs), repeats, target in cases():
        rows.append((name, measure(ours, repeats, 5), measure(theirs, repeats, 5), target))
    print(f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads)")
    report(rows)
    if "--profile" in sys.argv:
        profile_lenet()


if __name__ == "__main__":
    main()
