"""The degradation problem (He et al. 2016, Fig. 1 and 4) in miniature: a 20-layer plain
CNN trains to a clearly higher training loss than its residual twin (the same layers, the
same initialisation, the same data order, plus identity/projection shortcuts).

Task: the 8×8 digits (1 × 8 × 8 images, 10 classes), 512 training images, 12 epochs of
SGD with momentum (96 steps of 64). Both networks are ``resnet(20, widths=(8, 16, 32))``,
3 stages of 3 BasicBlocks, batch norm everywhere; ``plain=True`` removes the shortcuts.
Measured on 2 CPU cores (seed 0): residual ≈ 0.01 final training loss, plain ≈ 0.2, about
3–5 s per network when the machine is otherwise idle.
"""

import time

import numpy as np

import nnlab
from nnlab import optim
from nnlab.data.datasets import load_digits
from nnlab.models import resnet
from nnlab.train import fit

EPOCHS, BATCH, TRAIN = 12, 64, 512


def _digits() -> tuple[np.ndarray, np.ndarray]:
    x, y = load_digits()
    order = np.random.default_rng(0).permutation(len(x))[:TRAIN]
    return (x[order] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8), y[order]


def _train(plain: bool, seed: int = 0) -> tuple[float, float, float]:
    x, y = _digits()
    nnlab.manual_seed(seed)  # the same initial weights (shortcuts aside) and batch order
    model = resnet(20, in_channels=1, widths=(8, 16, 32), plain=plain)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    start = time.perf_counter()
    history = fit(model, "cross_entropy", opt, (x, y), epochs=EPOCHS, batch_size=BATCH,
                  metrics=["accuracy"], verbose=False)  # fmt: skip
    return history["loss"][-1], history["accuracy"][-1], time.perf_counter() - start


def test_twins_have_the_same_depth_and_layers():
    residual = resnet(20, in_channels=1, widths=(8, 16, 32))
    plain = resnet(20, in_channels=1, widths=(8, 16, 32), plain=True)
    assert residual.depth == plain.depth == 20
    keys = set(residual.state_dict())
    extra = {k for k in keys if ".downsample." in k}
    assert extra and set(plain.state_dict()) == keys - extra  # only the projections differ


def test_plain_20_layers_train_worse_than_residual_twin():
    res_loss, res_acc, res_time = _train(plain=False)
    plain_loss, plain_acc, plain_time = _train(plain=True)
    print(
        f"\n20 layers, digits 1×8×8, {EPOCHS} epochs: "
        f"residual loss {res_loss:.4f} acc {res_acc:.3f} ({res_time:.1f} s) | "
        f"plain loss {plain_loss:.4f} acc {plain_acc:.3f} ({plain_time:.1f} s)"
    )
    assert res_loss < 0.5 * plain_loss
    assert plain_loss - res_loss > 0.05
    assert res_acc > plain_acc
