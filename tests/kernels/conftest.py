"""Fixtures of the kernel tests."""

from __future__ import annotations

import pytest

from nnlab import kernels


@pytest.fixture(params=["serial", "parallel"])
def build(request, monkeypatch):
    """Which build of the kernels runs: the one-thread loop, or the ``prange`` loop forced
    onto the tests' small arrays with two threads."""
    if request.param == "parallel":
        from nnlab.kernels import runtime

        if not kernels.numba_available() or runtime.load_numba().config.NUMBA_NUM_THREADS < 2:
            pytest.skip("numba's pool has one thread")
        monkeypatch.setattr(runtime, "PARALLEL_MIN_SIZE", 0)
        monkeypatch.setattr(runtime, "_num_threads", 2)
    return request.param
