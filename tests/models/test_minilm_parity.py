"""nnlab's all-MiniLM-L6-v2 against transformers on torch (the independent reference):
same tokens, same hidden states, same sentence embeddings, same fine-tuning gradients."""

from __future__ import annotations

import numpy as np
import pytest
from minilm_data import SENTENCES

import nnlab

HIDDEN_ATOL = 1e-4  # max |nnlab - torch| over real tokens, float32 through 6 layers
COSINE_MIN = 0.99999


def reference_tokens(transformers, texts):
    """transformers' own fast tokenizer on tokenizer.json, truncating at 256."""
    from nnlab.models.bert import minilm_path

    tok = transformers.AutoTokenizer.from_pretrained(str(minilm_path()))
    batch = tok(texts, padding=True, truncation=True, max_length=256, return_tensors="np")
    return batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)


def torch_hidden(hf_model, ids, mask, token_type_ids=None):
    import torch

    with torch.no_grad():
        out = hf_model(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            token_type_ids=None if token_type_ids is None else torch.from_numpy(token_type_ids),
        )
    return out.last_hidden_state.numpy(), out.pooler_output.numpy()


def mean_pool_normalize(hidden, mask):
    m = mask[:, :, None].astype(np.float64)
    e = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return e / np.linalg.norm(e, axis=1, keepdims=True)


@pytest.fixture(scope="module")
def batch(transformers, encoder, hf_model):
    ids, mask = encoder.tokenize(SENTENCES)
    with nnlab.no_grad():
        ours = encoder.model(ids, mask).numpy()
    theirs, _ = torch_hidden(hf_model, ids, mask)
    return ids, mask, ours, theirs


def test_tokenizer_matches_transformers(transformers, encoder):
    ids, mask = encoder.tokenize(SENTENCES)
    ref_ids, ref_mask = reference_tokens(transformers, SENTENCES)
    assert ids.dtype == mask.dtype == np.int64
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(mask, ref_mask)
    lengths = mask.sum(1)
    assert lengths.max() == 256 and ids.shape[1] == 256  # the long text is truncated
    assert lengths.min() == 2  # "" is [CLS] [SEP]: the batch is padded
    assert ids[lengths.argmax(), 255] == 102  # truncation keeps the closing [SEP]


def test_last_hidden_states_match_transformers(batch):
    ids, mask, ours, theirs = batch
    assert ours.shape == theirs.shape == (len(SENTENCES), ids.shape[1], 384)
    assert ours.dtype == np.float32
    real = mask.astype(bool)
    diff = np.abs(ours - theirs)[real]
    assert diff.max() <= HIDDEN_ATOL, f"max |diff| on real tokens = {diff.max():.2e}"


def test_sentence_embeddings_match_transformers(batch, encoder):
    ids, mask, _, theirs = batch
    reference = mean_pool_normalize(theirs, mask)
    ours = encoder.encode(SENTENCES, batch_size=4)  # sorted batches, padded differently
    assert ours.shape == (len(SENTENCES), 384) and ours.dtype == np.float32
    cosine = (ours * reference).sum(1) / np.linalg.norm(ours, axis=1)
    assert cosine.min() >= COSINE_MIN, f"worst cosine {cosine.min():.7f}"
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)


def test_token_types_and_pooler_match_transformers(minilm, hf_model):
    model, tok = minilm
    pair = tok.encode("Is this a question?", "Yes, and this is the answer.")
    ids = np.array([pair.ids], dtype=np.int64)
    types = np.array([pair.type_ids], dtype=np.int64)
    assert types.max() == 1
    mask = np.ones_like(ids)
    theirs, pooled = torch_hidden(hf_model, ids, mask, types)
    with nnlab.no_grad():
        ours = model(ids, mask, token_type_ids=types)
        ours_pooled = model.pool(ours).numpy()
    assert np.abs(ours.numpy() - theirs).max() <= HIDDEN_ATOL
    assert np.abs(ours_pooled - pooled).max() <= HIDDEN_ATOL


def test_encode_sorts_batches_and_restores_order(encoder):
    texts = SENTENCES[:6]
    model = encoder.model.train()
    out = encoder.encode(texts, batch_size=4)
    assert model.training, "encode must restore the model's mode"
    model.eval()
    with nnlab.no_grad():
        for i, text in enumerate(texts):
            one = encoder.embed(*encoder.tokenize([text])).numpy()[0]
            np.testing.assert_allclose(out[i], one, atol=2e-6)
    raw = encoder.encode(texts[:2], normalize=False)
    assert np.linalg.norm(raw, axis=1).min() > 1.5  # not unit length
    assert encoder.encode([]).shape == (0, 384)
    with pytest.raises(TypeError, match="list of strings"):
        encoder.encode("one string")


def test_progress_bar_on_request(encoder, capsys):
    encoder.encode(SENTENCES[:3], batch_size=1, show_progress_bar=True)
    assert "encoded 3 sentences" in capsys.readouterr().err  # not a terminal: one line


def test_fine_tuning_gradients_match_transformers(encoder, hf_model):
    """One fine-tuning step's gradients: the top layer unfrozen in both libraries, the same
    batch, loss = MSE(normalised mean-pooled embedding, fixed target)."""
    import torch

    texts = SENTENCES[:5]
    ids, mask = encoder.tokenize(texts)
    target = np.random.default_rng(0).standard_normal((len(texts), 384)).astype(np.float32)
    target /= np.linalg.norm(target, axis=1, keepdims=True)
    model = encoder.model.eval()  # no dropout: both sides compute the same function
    top = len(model.encoder.layer) - 1

    model.requires_grad_(False)
    model.encoder.layer[top].requires_grad_(True)
    model.zero_grad()
    loss = nnlab.nn.functional.mse_loss(encoder.embed(ids, mask), nnlab.tensor(target))
    loss.backward()
    ours = {n: p.grad.numpy() for n, p in model.encoder.layer[top].named_parameters()}
    assert all(p.grad is None for p in model.encoder.layer[top - 1].parameters())

    hf_model.requires_grad_(False)
    hf_model.encoder.layer[top].requires_grad_(True)
    hf_model.zero_grad()
    m = torch.from_numpy(mask)
    hidden = hf_model(input_ids=torch.from_numpy(ids), attention_mask=m).last_hidden_state
    pooled = (hidden * m[:, :, None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1e-9)
    t_loss = torch.nn.functional.mse_loss(
        torch.nn.functional.normalize(pooled, dim=1), torch.from_numpy(target)
    )
    t_loss.backward()
    theirs = {n: p.grad.numpy() for n, p in hf_model.encoder.layer[top].named_parameters()}

    assert abs(loss.item() - t_loss.item()) <= 1e-6 * abs(t_loss.item())
    assert sorted(ours) == sorted(theirs) and len(ours) == 16
    # The key bias gets a zero gradient in exact arithmetic (q·(k + b) shifts a query's
    # scores by a constant, which the softmax ignores), so each tensor is compared
    # relative to the largest gradient of the layer as well as to its own.
    layer_scale = max(np.abs(g).max() for g in theirs.values())
    for name, g in theirs.items():
        scale = max(np.abs(g).max(), 1e-3 * layer_scale)
        err = np.abs(ours[name] - g).max() / scale
        assert err <= 1e-4, f"{name}: relative gradient error {err:.2e}"
    model.requires_grad_(True)
    model.zero_grad()


def test_a_fine_tuning_step_lowers_the_loss(encoder):
    model = encoder.model.eval()
    ids, mask = encoder.tokenize(SENTENCES[:4])
    target = nnlab.tensor(np.eye(4, 384, dtype=np.float32))
    model.requires_grad_(False)
    params = list(model.encoder.layer[-1].parameters())
    for p in params:
        p.requires_grad_(True)
    before = {id(p): p.array.copy() for p in params}
    opt = nnlab.optim.SGD(params, lr=1.0)
    losses = []
    try:
        for _ in range(2):
            opt.zero_grad()
            loss = nnlab.nn.functional.mse_loss(encoder.embed(ids, mask), target)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        for p in params:  # the session's model goes back to its pretrained weights
            p.array[...] = before[id(p)]
        model.requires_grad_(True)
        model.zero_grad()
    assert losses[1] < losses[0]
