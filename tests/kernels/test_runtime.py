"""The kernel machinery: the backend switch (``NNLAB_KERNELS``), threads and the cache."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import nnlab
from nnlab import kernels
from nnlab.kernels import optim as kernel_optim
from nnlab.kernels import runtime

needs_numba = pytest.mark.skipif(not kernels.numba_available(), reason="numba is not installed")


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_nnlab_kernels_numpy_is_honoured_and_never_loads_numba():
    code = (
        "import sys, numpy as np, nnlab, nnlab.kernels as k\n"
        "w = nnlab.tensor(np.ones(100000, np.float32), requires_grad=True)\n"
        "w.grad = nnlab.tensor(np.ones(100000, np.float32))\n"
        "nnlab.optim.Adam([w]).step()\n"
        "print(k.get_backend(), 'numba' in sys.modules)"
    )
    result = _python(code, NNLAB_KERNELS="numpy")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "False"]


def test_a_bad_nnlab_kernels_value_is_a_clear_error():
    """``import nnlab`` works; the first kernel raises the error, quoting the value as
    written; the CLI says it in one line and exits 2, without a traceback."""
    message = "NNLAB_KERNELS: expected one of numba, numpy, got 'CUDA'"
    use = "import numpy as np, nnlab\nprint('imported')\nnnlab.relu(nnlab.ones(3))"
    result = _python(use, NNLAB_KERNELS="CUDA")
    assert result.returncode != 0 and result.stdout.split() == ["imported"]
    assert f"ValueError: {message}" in result.stderr
    cli = "import sys\nfrom nnlab.cli import main\nsys.argv = ['nnlab', '--help']\nmain()"
    result = _python(cli, NNLAB_KERNELS="CUDA")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip() == f"error: {message}"


def test_the_default_backend_is_numba_when_installed():
    result = _python("import nnlab.kernels as k; print(k.get_backend())", NNLAB_KERNELS="")
    expected = "numba" if kernels.numba_available() else "numpy"
    assert result.stdout.strip() == expected, result.stderr


def test_use_backend_switches_and_restores():
    before = kernels.get_backend()
    with pytest.raises(RuntimeError):
        with kernels.use_backend("numpy"):
            assert kernels.get_backend() == "numpy"
            raise RuntimeError
    assert kernels.get_backend() == before
    with pytest.raises(ValueError, match=r"set_backend: expected one of numba, numpy, got 'c'"):
        kernels.set_backend("c")
    assert kernels.get_backend() == before


@needs_numba
def test_nnlab_set_num_threads_sets_the_kernels_threads_too():
    before = nnlab.get_num_threads()
    pool = min(runtime.load_numba().config.NUMBA_NUM_THREADS, len(os.sched_getaffinity(0)))
    try:
        nnlab.set_num_threads(1)
        assert runtime.get_num_threads() == 1
        nnlab.set_num_threads(64)
        assert runtime.get_num_threads() == pool, "capped by the cores numba may use"
    finally:
        nnlab.set_num_threads(before)


@needs_numba
def test_parallel_kernels_run_on_the_workqueue_layer_with_nnlabs_thread_count(monkeypatch):
    numba = runtime.load_numba()
    if "NUMBA_THREADING_LAYER" in os.environ or numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("the threading layer or pool was chosen outside nnlab")
    monkeypatch.setattr(runtime, "_num_threads", 2)
    p = np.zeros(runtime.PARALLEL_MIN_SIZE, np.float64)
    with kernels.use_backend("numba"):
        kernel_optim.sgd_(
            p, np.ones_like(p), None, lambda n: [],
            lr=0.5, momentum=0, dampening=0, weight_decay=0, nesterov=False, maximize=False,
            first_step=True,
        )  # fmt: skip
    assert np.all(p == -0.5)
    assert numba.threading_layer() == "workqueue"
    assert numba.get_num_threads() == 2


@needs_numba
def test_kernels_are_cached_on_disk():
    kernel_optim.adagrad_numba._build()
    for build in (kernel_optim.adagrad_numba._serial, kernel_optim.adagrad_numba._parallel):
        assert build._cache.__class__.__name__ == "FunctionCache"
        assert build.stats.cache_path is not None


def test_without_a_writable_cache_folder_the_kernel_compiles_uncached_with_a_warning():
    class FakeNumba:
        """Stands for numba where no cache folder is writable (as numba raises it)."""

        def njit(self, cache=False, **options):
            if cache:
                raise RuntimeError("cannot cache function 'k': no locator available")
            return lambda function: ("compiled", function, options)

    def kernel(x):
        return x

    with pytest.warns(RuntimeWarning, match="compiled without an on-disk cache"):
        built = runtime._compile(FakeNumba(), kernel, parallel=True)
    assert built == ("compiled", kernel, {"parallel": True, "error_model": "numpy", "nogil": True})


@needs_numba
def test_a_kernel_launched_during_another_parallel_kernel_runs_on_one_thread(monkeypatch):
    """workqueue aborts on concurrent parallel launches: while the launch lock is held
    (another thread's parallel kernel), a kernel takes its one-thread build."""
    monkeypatch.setattr(runtime, "PARALLEL_MIN_SIZE", 0)
    monkeypatch.setattr(runtime, "_num_threads", 2)
    p = np.ones(1000)
    with runtime._parallel_launch, kernels.use_backend("numba"):
        kernel_optim.adagrad_(
            p, np.full_like(p, 2.0), np.zeros_like(p), lambda n: [],
            step=1.0, lr=0.5, lr_decay=0, eps=0, weight_decay=0, maximize=False,
        )  # fmt: skip
    np.testing.assert_array_equal(p, 0.5)  # the first step is lr·sign(g)
