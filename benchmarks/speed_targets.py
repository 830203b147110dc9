"""Issue 20's speed targets in one run: nnlab on its NumPy references, nnlab on its numba
kernels, and torch (2 threads), on the same machine, models, weights and data.

Workloads and targets (ratio of nnlab's median step time to torch's, on the kernels):

  * MLP 784-512-256-10, batch 128, SGD step                                     ≤ 0.8×
  * tiny MLP 64-128-10, batch 32, Adam step                                     ≤ 0.4×
  * LeNet-5, batch 64, SGD-with-momentum step                                   ≤ 1.1×
  * LSTM 32→128, 50 steps, batch 64, Adam step                                  ≤ 1.1×
  * MiniLM-shaped encoder (all-MiniLM-L6-v2), 8 × 128 tokens, inference         ≤ 1.0×
  * Adam update alone, 535,818 float32 parameters in six tensors                ≤ 0.5×

Each round times the three in turn (nnlab-numpy, nnlab-numba, torch; one block each after
an idle pause, see ``_harness``); a ratio is the median over rounds of each round's ratio,
so a slow spell of the shared machine lands on all three alike. The backend switches with
:func:`nnlab.kernels.set_backend` inside the process: the ``refs`` column is what the ops
computed before the kernels existed (their NumPy references). Run on an otherwise idle
machine:

    python benchmarks/speed_targets.py [--rounds 5] [--only lenet,lstm]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from _harness import Timing, fmt_time, measure  # noqa: E402

import nnlab  # noqa: E402
from nnlab import kernels  # noqa: E402
from nnlab.kernels import runtime  # noqa: E402

torch.set_num_threads(2)


def mlp_case():
    import bench_train
    from _harness import training_steps

    rng = np.random.default_rng(1)
    x = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    sizes = (784, 512, 256, 10)
    models = {lib: bench_train.build(lib, sizes) for lib in (nnlab, torch)}
    return training_steps(models, x, y, "CrossEntropyLoss", optimizer="SGD", lr=0.01)


def tiny_mlp_case():
    import bench_train

    return bench_train.step_case((64, 128, 10), 32)


def lenet_case():
    import bench_conv

    rng = np.random.default_rng(0)
    mnist = rng.standard_normal((64, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, 64)
    return bench_conv.step_case(bench_conv.lenet, mnist, labels, "CrossEntropyLoss")


def lstm_case():
    import bench_seq

    return bench_seq.recurrent_case("LSTM")


def encoder_case():
    import transformers

    transformers.utils.logging.disable_progress_bar()

    from nnlab.models.bert import minilm_path
    from nnlab.text import SentenceEncoder

    encoder = SentenceEncoder()
    hf = transformers.AutoModel.from_pretrained(str(minilm_path())).eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(1000, 20000, (8, 128)).astype(np.int64)
    ids[:, 0], ids[:, -1] = 101, 102  # [CLS] … [SEP]
    mask = np.ones_like(ids)
    t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)
    with nnlab.no_grad():
        ours = encoder.model(ids, mask)
    ours = (ours[0] if isinstance(ours, tuple) else ours).numpy()
    with torch.no_grad():
        theirs = hf(input_ids=t_ids, attention_mask=t_mask).last_hidden_state.numpy()
    assert np.abs(ours - theirs).max() < 1e-3, np.abs(ours - theirs).max()

    def nnlab_forward():
        with nnlab.no_grad():
            encoder.model(ids, mask)

    def torch_forward():
        with torch.no_grad():
            hf(input_ids=t_ids, attention_mask=t_mask)

    return nnlab_forward, torch_forward


def adam_update_case():
    import bench_optim

    weights, grads = bench_optim._arrays(0)
    ours = [nnlab.tensor(w, requires_grad=True) for w in weights]
    theirs = [torch.tensor(w, requires_grad=True) for w in weights]
    for a, b, g in zip(ours, theirs, grads):
        a.grad, b.grad = nnlab.tensor(g), torch.tensor(g)
    return nnlab.optim.Adam(ours, lr=1e-3).step, torch.optim.Adam(theirs, lr=1e-3).step


#: (key, label, builder of (nnlab_step, torch_step), samples per block, target)
CASES: list[tuple[str, str, Callable[[], tuple[Callable, Callable]], int, float]] = [
    ("mlp", "MLP 784-512-256-10 b128 SGD step", mlp_case, 60, 0.8),
    ("tiny", "tiny MLP 64-128-10 b32 Adam step", tiny_mlp_case, 400, 0.4),
    ("lenet", "LeNet-5 b64 SGD-momentum step", lenet_case, 50, 1.1),
    ("lstm", "LSTM 32→128 T50 b64 Adam step", lstm_case, 20, 1.1),
    ("encoder", "MiniLM encoder 8×128 tokens, inference", encoder_case, 8, 1.0),
    ("adam", "Adam update, 535,818 parameters", adam_update_case, 50, 0.5),
]


def run_case(build, repeats: int, rounds: int) -> dict[str, list[Timing]]:
    ours, theirs = build()
    times: dict[str, list[Timing]] = {"numpy": [], "numba": [], "torch": []}
    for _ in range(rounds):
        for backend in ("numpy", "numba"):
            kernels.set_backend(backend)
            times[backend].append(measure(ours, repeats, warmup=3))
        kernels.set_backend("numba")
        times["torch"].append(measure(theirs, repeats, warmup=3))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated keys: " +
                        ", ".join(c[0] for c in CASES))  # fmt: skip
    args = parser.parse_args()
    wanted = set(filter(None, args.only.split(",")))
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.machine())  # fmt: skip
    print(
        f"{cpu}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}; "
        f"nnlab kernel threads {runtime.get_num_threads()}, BLAS threads "
        f"{nnlab.get_num_threads()}, torch {torch.__version__} threads "
        f"{torch.get_num_threads()}; {args.rounds} rounds"
    )
    head = (
        f"{'workload':<40} {'numpy':>11} {'numba':>11} {'torch':>11} {'refs':>7} "
        f"{'kernels':>7} {'target':>7}"
    )
    print(head)
    print("-" * len(head))
    for key, label, build, repeats, target in CASES:
        if wanted and key not in wanted:
            continue
        times = run_case(build, repeats, args.rounds)
        median = {k: statistics.median(t.median_s for t in v) for k, v in times.items()}
        ratio = {
            k: statistics.median(a.median_s / b.median_s for a, b in zip(times[k], times["torch"]))
            for k in ("numpy", "numba")
        }
        print(
            f"{label:<40} {fmt_time(median['numpy']):>11} {fmt_time(median['numba']):>11} "
            f"{fmt_time(median['torch']):>11} {ratio['numpy']:6.2f}x {ratio['numba']:6.2f}x "
            f"{'≤' if ratio['numba'] <= target else '>'}{target:.1f}x",
            flush=True,
        )
    print(
        "refs: nnlab on its NumPy references / torch; kernels: on its numba kernels / torch; "
        "target: ≤ met by the kernels, > not"
    )


if __name__ == "__main__":
    main()
