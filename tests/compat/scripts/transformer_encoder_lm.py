"""A small causal language model on ``nn.TransformerEncoder``, in the style of PyTorch's
"Language Modeling with nn.Transformer" tutorial: sinusoidal ``PositionalEncoding`` kept
by ``register_buffer``, ``nn.Transformer.generate_square_subsequent_mask``, embeddings scaled
by √d_model, ``clip_grad_norm_``, SGD under StepLR, then evaluation. Weights from NumPy."""

import json
import math

import numpy as np
import torch
from torch import Tensor, nn


class PositionalEncoding(nn.Module):
    def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
        super().__init__()
        self.dropout = nn.Dropout(p=dropout)
        position = torch.arange(max_len).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, 1, d_model)
        pe[:, 0, 0::2] = torch.sin(position * div_term)
        pe[:, 0, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe)

    def forward(self, x: Tensor) -> Tensor:
        """x: Tensor, shape ``[seq_len, batch_size, embedding_dim]``"""
        x = x + self.pe[: x.size(0)]
        return self.dropout(x)


class TransformerModel(nn.Module):
    def __init__(self, ntoken: int, d_model: int, nhead: int, d_hid: int, nlayers: int,
                 dropout: float = 0.5):  # fmt: skip
        super().__init__()
        self.model_type = "Transformer"
        self.pos_encoder = PositionalEncoding(d_model, dropout)
        encoder_layers = nn.TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
        self.transformer_encoder = nn.TransformerEncoder(encoder_layers, nlayers,
                                                         enable_nested_tensor=False)  # fmt: skip
        self.embedding = nn.Embedding(ntoken, d_model)
        self.d_model = d_model
        self.linear = nn.Linear(d_model, ntoken)

    def forward(self, src: Tensor, src_mask: Tensor = None) -> Tensor:
        src = self.embedding(src) * math.sqrt(self.d_model)
        src = self.pos_encoder(src)
        if src_mask is None:
            src_mask = nn.Transformer.generate_square_subsequent_mask(len(src))
        output = self.transformer_encoder(src, src_mask, is_causal=True)
        return self.linear(output)


ntokens = 12
model = TransformerModel(ntokens, d_model=32, nhead=4, d_hid=64, nlayers=2, dropout=0.0)
rng = np.random.default_rng(0)
state = {}
for name, tensor in model.state_dict().items():
    if name.endswith("pe"):
        state[name] = tensor
    elif "norm" in name:
        ones = name.endswith("weight")
        state[name] = torch.ones_like(tensor) if ones else torch.zeros_like(tensor)
    else:
        bound = 1 / math.sqrt(tensor.shape[-1])
        state[name] = torch.tensor(rng.uniform(-bound, bound, tuple(tensor.shape)),
                                   dtype=torch.float32)  # fmt: skip
model.load_state_dict(state)

# Sequences that count up modulo ntokens from a random start: (seq_len, batch).
starts = np.random.default_rng(1).integers(0, ntokens, 64)
tokens = (starts[None, :] + np.arange(17)[:, None]) % ntokens
data = torch.from_numpy(tokens).long()
bptt = 16
src, targets = data[:bptt], data[1 : bptt + 1]

criterion = nn.CrossEntropyLoss()
lr = 0.5
optimizer = torch.optim.SGD(model.parameters(), lr=lr)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 1.0, gamma=0.95)
src_mask = nn.Transformer.generate_square_subsequent_mask(bptt)
model.train()
losses, norms = [], []
for step in range(25):
    batch = slice((step % 4) * 16, (step % 4) * 16 + 16)
    output = model(src[:, batch], src_mask)
    loss = criterion(output.view(-1, ntokens), targets[:, batch].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)))
    optimizer.step()
    scheduler.step()
    losses.append(loss.item())
    if step % 5 == 4:
        print(f"| step {step:3d} | lr {scheduler.get_last_lr()[0]:02.2f} | loss {loss.item():5.2f} "
              f"| ppl {math.exp(loss.item()):8.2f}")  # fmt: skip

model.eval()
with torch.no_grad():
    output = model(src)
    eval_loss = criterion(output.view(-1, ntokens), targets.reshape(-1)).item()
    accuracy = (output.argmax(-1) == targets).float().mean().item()
results = {
    "losses": losses[::5] + [losses[-1]],
    "grad_norms": norms[::5],
    "eval_loss": eval_loss,
    "eval_accuracy": accuracy,
    "mask_row_1": src_mask[1, :3].tolist(),
    "layer_keys": [k for k in model.state_dict() if k.startswith("transformer_encoder.layers.0.")],
}
print(json.dumps(results))
