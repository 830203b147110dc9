"""PyTorch programs run unchanged on nnlab: each script in ``scripts/`` is written for
torch alone, runs once with real torch and once with nnlab under torch's module names (see
``run_script.py``), each in its own process, and the JSON of results that it prints last
must agree.

Where both runs start from the same NumPy-drawn weights and data, values agree to float
tolerances sized for float32 training (a few hundred steps keep rounding differences near
1e-6 relative; the tolerances allow 1e-4 to 1e-3). Where the libraries' random draws enter
(dropout-free noise, shuffling, default initialisation), both results must fall in a band.
The tolerances never depend on the CPU: no timing, and one BLAS/OpenMP thread per run.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "run_script.py"
SCRIPTS = sorted(p.stem for p in (HERE / "scripts").glob("*.py"))
TIMEOUT_S = 300


@dataclass(frozen=True)
class Close:
    """|nnlab - torch| <= atol + rtol·|torch| for every number; other leaves equal."""

    rtol: float = 1e-5
    atol: float = 1e-7

    def check(self, ours: float, theirs: float) -> bool:
        if math.isnan(theirs) or math.isinf(theirs):
            return ours == theirs or (math.isnan(ours) and math.isnan(theirs))
        return abs(ours - theirs) <= self.atol + self.rtol * abs(theirs)


@dataclass(frozen=True)
class Band:
    """Both runs' numbers lie in [lo, hi] (the libraries' random draws differ)."""

    lo: float
    hi: float

    def check(self, ours: float, theirs: float) -> bool:
        return self.lo <= ours <= self.hi and self.lo <= theirs <= self.hi


DEFAULT = Close()
TRAINED = Close(rtol=1e-4, atol=1e-6)  # the same float32 training steps in both runs

#: Per script, the rule for each key of its JSON; keys not named use DEFAULT (numbers to
#: 1e-5 relative, everything else exactly).
RULES: dict[str, dict[str, Close | Band]] = {
    "polynomial_fit_tensors": {
        key: Close(rtol=1e-4, atol=1e-5)
        for key in (
            "manual_loss",
            "manual_coefficients",
            "autograd_loss",
            "autograd_coefficients",
            "data_loss",
            "data_coefficients",
        )
    },
    "legendre_autograd_function": {"loss": TRAINED, "coefficients": Close(1e-4, 1e-6)},
    "custom_relu_function": {"loss": TRAINED, "w2_sum": Close(1e-4, 1e-5), "w1_norm": TRAINED},
    "nn_modules_polynomial": {
        key: Close(rtol=1e-4, atol=1e-5)
        for key in (
            "sequential_loss",
            "sequential_weights",
            "polynomial_loss",
            "polynomial_parameters",
            "dynamic_loss",
            "dynamic_parameters",
        )
    },
    "optimizers_schedulers": {
        "sgd_losses": TRAINED,
        "adam_losses": TRAINED,
        "adamw_losses": TRAINED,
    },
    "cnn_digits": {"epoch_losses": Close(rtol=1e-3), "test_accuracy": Close(0, atol=0.02)},
    "lstm_sine": {"losses": Close(rtol=1e-3, atol=1e-6), "forecast": Close(0, atol=1e-3)},
    "char_rnn_names": {"mean_loss_per_100": TRAINED, "train_accuracy": Close(0, atol=0.07)},
    "gpt_char_lm": {
        "train_losses": Close(rtol=1e-3),
        "final_train": Close(rtol=1e-3),
        "final_val": Close(rtol=1e-3),
    },
    "transformer_encoder_lm": {
        "losses": Close(rtol=1e-3, atol=1e-4),
        "grad_norms": Close(rtol=1e-3),
        "eval_loss": Close(rtol=2e-3, atol=1e-4),
        "eval_accuracy": Close(0, atol=0.01),
    },
    "vae_digits": {
        # torch over seeds 1-5: first 42.53-42.63, last 27.60-27.73, reconstruction
        # 24.9-25.6, KL 0.85-1.10.
        "first_epoch_loss": Close(rtol=0.02),
        "last_epoch_loss": Close(rtol=0.02),
        "test_reconstruction": Close(rtol=0.06),
        "test_kl": Band(0.3, 3.0),
        "test_loss": Close(rtol=0.04),
    },
    "save_load_checkpoint": {"checkpoint_loss": TRAINED, "straight": TRAINED},
    "tensor_data_idioms": {
        # 20,000 draws: the standard deviation's own spread is about 1e-4.
        "normal_mean": Band(-1e-3, 1e-3),
        "normal_std": Band(0.0195, 0.0205),
        "uniform_std": Band(0.0284, 0.0294),
    },
    "einsum_tril_inference": {
        "scores": Close(1e-5, 1e-5),
        "batched": Close(1e-5, 1e-5),
        "einsum_grad": Close(1e-5, 1e-5),
    },
    "lbfgs_closure": {
        "wolfe_losses": Close(rtol=1e-6),
        "wolfe_final": Close(rtol=1e-4),
        "wolfe_evaluations": Close(0, atol=3),
        "logistic_loss": Close(rtol=1e-4),
        "logistic_weights": Close(rtol=1e-3),
        "logistic_accuracy": Close(0, atol=0.02),
    },
    "quickstart_training_loop": {
        # torch over seeds 0-5: accuracy 0.93-0.98, test loss 0.09-0.27.
        "accuracy": Band(0.85, 1.0),
        "test_loss": Band(0.0, 0.5),
    },
}


def run(script: str, lib: str, cwd: Path) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``script`` under ``lib`` in a fresh process."""
    env = dict(os.environ, PYTHONHASHSEED="0", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", PYTHONWARNINGS="ignore")  # fmt: skip
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [sys.executable, str(RUNNER), lib, str(HERE / "scripts" / f"{script}.py")],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    return proc.returncode, proc.stdout, proc.stderr


def first_error(stderr: str) -> str:
    """The exception line of a traceback (``AttributeError: ...``), else the last line."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", line):
            return line
    return lines[-1] if lines else "(no output on stderr)"


def stderr_tail(stderr: str, script: str, limit: int = 20) -> str:
    """stderr from the script's own first traceback frame on (the runner's frames say
    nothing), at most ``limit`` lines."""
    lines = stderr.rstrip().splitlines()
    start = next((i for i, line in enumerate(lines) if f"{script}.py" in line), 0)
    return "\n".join(lines[start:][-limit:])


def results(script: str, lib: str, cwd: Path) -> dict[str, Any]:
    """The JSON object printed on the last line of stdout; a failed run fails the test."""
    status, out, err = run(script, lib, cwd)
    lines = out.strip().splitlines()
    try:
        value = json.loads(lines[-1]) if status == 0 and lines else None
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        pytest.fail(
            f"{script}.py under {lib}: exit status {status}, no JSON result line\n"
            f"first error: {first_error(err)}\n--- {lib} stderr, from the script's first frame "
            f"---\n{stderr_tail(err, script)}",
            pytrace=False,
        )
    return value


def differences(rule: Close | Band, theirs: Any, ours: Any, path: str) -> list[str]:
    """Where ``ours`` (nnlab) departs from ``theirs`` (torch) under ``rule``."""
    numbers = (int, float)
    if isinstance(theirs, bool) or isinstance(ours, bool) or isinstance(theirs, str):
        same = type(theirs) is type(ours) and theirs == ours
        return [] if same else [f"{path}: torch {theirs!r} vs nnlab {ours!r}"]
    if isinstance(theirs, numbers) and isinstance(ours, numbers):
        if rule is DEFAULT and (isinstance(theirs, int) or isinstance(ours, int)):
            if type(theirs) is type(ours) and theirs == ours:
                return []
            kinds = f" ({type(theirs).__name__} vs {type(ours).__name__})"
            return [f"{path}: torch {theirs!r} vs nnlab {ours!r}{kinds}"]
        ok = rule.check(float(ours), float(theirs))
        return [] if ok else [f"{path}: torch {theirs!r} vs nnlab {ours!r} ({rule})"]
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(theirs) != len(ours):
            return [f"{path}: torch has {len(theirs)} items, nnlab {len(ours)}"]
        found = []
        for i, (t, o) in enumerate(zip(theirs, ours)):
            found += differences(rule, t, o, f"{path}[{i}]")
        return found
    if isinstance(theirs, dict) and isinstance(ours, dict):
        if sorted(theirs) != sorted(ours):
            return [f"{path}: torch keys {sorted(theirs)} vs nnlab keys {sorted(ours)}"]
        found = []
        for k in theirs:
            found += differences(rule, theirs[k], ours[k], f"{path}.{k}")
        return found
    return [f"{path}: torch {theirs!r} vs nnlab {ours!r} (different kinds)"]


def test_every_script_is_known_and_every_rule_has_a_script():
    assert len(SCRIPTS) >= 12
    assert set(RULES) <= set(SCRIPTS), sorted(set(RULES) - set(SCRIPTS))


@pytest.mark.parametrize("script", SCRIPTS)
def test_script_agrees_with_torch(script, tmp_path):
    theirs = results(script, "torch", tmp_path / "torch")
    rules = RULES.get(script, {})
    unknown = sorted(set(rules) - set(theirs))
    assert not unknown, f"{script}.py: rules for keys the script does not print: {unknown}"
    ours = results(script, "nnlab", tmp_path / "nnlab")
    found = []
    missing = [k for k in theirs if k not in ours]
    if missing:
        found.append(f"keys missing from nnlab's result: {missing}")
    extra = [k for k in ours if k not in theirs]
    if extra:
        found.append(f"keys only in nnlab's result: {extra}")
    for key in theirs:
        if key in ours:
            found += differences(rules.get(key, DEFAULT), theirs[key], ours[key], key)
    if found:
        listing = "\n  ".join(found)
        pytest.fail(f"{script}.py: {len(found)} value(s) differ between torch and nnlab:\n"
                    f"  {listing}", pytrace=False)  # fmt: skip
