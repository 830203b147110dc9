"""Embedding and F.embedding vs PyTorch: lookup values, the scatter-add gradient (repeated
ids, padding_idx, scale_grad_by_freq), max_norm renormalisation, from_pretrained, init,
errors, and the fused op vs plain indexing (its composed twin).

Values are copies of table rows, so they must agree exactly; gradients are sums of rows in
another order than torch's (float32: rtol 1e-6 relative to the sum's scale).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from parity import Tol, assert_close

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.ops.embedding import embedding_composed

DTYPES = (np.float32, np.float64)
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}

CASES = [
    ("plain", dict(num_embeddings=10, embedding_dim=4), (3, 5)),
    ("padding", dict(num_embeddings=10, embedding_dim=4, padding_idx=0), (4, 6)),
    ("padding-negative", dict(num_embeddings=10, embedding_dim=3, padding_idx=-1), (7,)),
    ("scale-grad", dict(num_embeddings=6, embedding_dim=3, scale_grad_by_freq=True), (2, 9)),
    ("max-norm", dict(num_embeddings=8, embedding_dim=5, max_norm=1.5), (3, 4)),
    ("max-norm-p1", dict(num_embeddings=8, embedding_dim=5, max_norm=2.0, norm_type=1.0),
     (2, 2, 3)),
    ("scalar-id", dict(num_embeddings=5, embedding_dim=2), ()),
    ("one-dim", dict(num_embeddings=3, embedding_dim=1, padding_idx=2), (8,)),
]  # fmt: skip


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name,kwargs,shape", CASES, ids=[c[0] for c in CASES])
def test_embedding_matches_torch(name: str, kwargs: dict, shape: tuple, dtype: type) -> None:
    torch.manual_seed(0)
    theirs = torch.nn.Embedding(**kwargs).to(TORCH_DTYPE[dtype])
    ours = nn.Embedding(**kwargs).to(dtype)
    ours.load_state_dict({k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(len(name))
    ids = rng.integers(0, kwargs["num_embeddings"], shape)
    if kwargs.get("padding_idx") is not None and ids.ndim:
        ids.reshape(-1)[::3] = kwargs["padding_idx"] % kwargs["num_embeddings"]
    out, tout = ours(nnlab.tensor(ids)), theirs(torch.tensor(ids))
    # exact copies of rows, except after max_norm rescaling (norms rounded differently)
    exact = Tol(0, 0) if "max_norm" not in kwargs else Tol(1e-6, 1e-7)
    assert_close(out.array, tout.detach().numpy(), exact, f"{name}: output")
    # max_norm renormalises the table in place: both tables changed the same way
    assert_close(ours.weight.array, theirs.weight.detach().numpy(), Tol(1e-6, 1e-7),
                 f"{name}: weight after the lookup")  # fmt: skip
    g = rng.standard_normal(tout.shape).astype(dtype)
    out.backward(g)
    tout.backward(torch.from_numpy(g))
    expected = theirs.weight.grad.numpy()
    scale = float(np.abs(expected).max()) or 1.0
    assert_close(ours.weight.grad.array, expected, Tol(1e-6, 1e-6 * scale), f"{name}: grad")


def test_padding_row_is_zero_and_gets_no_gradient() -> None:
    emb = nn.Embedding(5, 3, padding_idx=1)
    np.testing.assert_array_equal(emb.weight.array[1], 0)
    emb(nnlab.tensor([[1, 1, 2], [1, 0, 1]])).sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.array[1], 0)
    np.testing.assert_array_equal(emb.weight.grad.array[2], 1)


def test_fused_op_equals_plain_indexing() -> None:
    """The sparse-GEMM backward vs np.add.at through indexing: same gradient."""
    rng = np.random.default_rng(0)
    w1 = nnlab.tensor(rng.standard_normal((50, 6)), requires_grad=True)
    w2 = nnlab.tensor(w1.array.copy(), requires_grad=True)
    ids = nnlab.tensor(rng.integers(0, 50, (7, 30)))
    g = rng.standard_normal((7, 30, 6))
    F.embedding(ids, w1).backward(g)
    embedding_composed(ids, w2).backward(g)
    np.testing.assert_allclose(w1.grad.array, w2.grad.array, rtol=1e-12, atol=1e-12)


def test_from_pretrained_freeze() -> None:
    table = np.arange(12, dtype=np.float32).reshape(4, 3)
    frozen = nn.Embedding.from_pretrained(nnlab.tensor(table))
    theirs = torch.nn.Embedding.from_pretrained(torch.tensor(table))
    assert frozen.weight.requires_grad is False is theirs.weight.requires_grad
    out = frozen(nnlab.tensor([3, 0]))
    np.testing.assert_array_equal(out.array, table[[3, 0]])
    assert not out.requires_grad
    trainable = nn.Embedding.from_pretrained(table, freeze=False, padding_idx=0)
    np.testing.assert_array_equal(trainable.weight.array[0], table[0])  # not zeroed, as torch
    trainable(nnlab.tensor([0, 2])).sum().backward()
    np.testing.assert_array_equal(trainable.weight.grad.array[[0, 2]], [[0, 0, 0], [1, 1, 1]])
    table[0, 0] = 99  # the layer owns a copy
    assert trainable.weight.array[0, 0] == 0


def test_default_init_and_repr_match_torch() -> None:
    ours = nn.Embedding(1000, 64, padding_idx=3, max_norm=2.0)
    theirs = torch.nn.Embedding(1000, 64, padding_idx=3, max_norm=2.0)
    w = ours.weight.array
    assert w.dtype == np.float32 and abs(w.std() - 1) < 0.02 and abs(w.mean()) < 0.02
    assert repr(ours).splitlines()[0] == repr(theirs)


def test_bad_ids_raise_clear_errors() -> None:
    model = nn.Sequential(nn.Embedding(10, 4))
    with pytest.raises(IndexError, match=r"model\.0 \(Embedding\).*id 10 .*\[0, 10\)"):
        model(nnlab.tensor([[1, 10]]))
    with pytest.raises(IndexError, match="out of range"):
        model(nnlab.tensor([-1]))
    with pytest.raises(TypeError, match="integer ids"):
        model(nnlab.tensor([1.0, 2.0]))
    with pytest.raises(IndexError):  # torch raises the same class
        torch.nn.Embedding(10, 4)(torch.tensor([10]))
    with pytest.raises(IndexError, match="out of range"):
        F.embedding(nnlab.tensor([5]), nnlab.zeros(5, 2))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(5, 2, padding_idx=5)
