"""Run these tests with one BLAS thread.

The models here multiply small matrices (a GRU step is a (64, 64) @ (64, 192) GEMM), for
which a second OpenBLAS thread buys nothing; on a 2-core machine shared with other
processes it costs up to 10× (measured: the dates training test took 8 s with one thread
and 104 s with two while other jobs ran). This is a choice of the test harness, not of the
library, which leaves OpenBLAS at its default (see PERFORMANCE.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - a dependency of scikit-learn, normally present
    threadpool_limits = None


@pytest.fixture(autouse=True)
def _one_blas_thread() -> Iterator[None]:
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
