"""An LSTM that predicts the next value of a sine wave: ``nn.LSTM(batch_first=True)``
returning ``output, (h_n, c_n)``, a linear head on the last step, Adam, then a free-running
forecast under ``torch.no_grad()`` that feeds its predictions back with ``torch.cat``.
Initial weights come from NumPy through ``p.data.copy_``."""

import json

import numpy as np
import torch
import torch.nn as nn

t = np.linspace(0, 8 * np.pi, 400, dtype=np.float32)
wave = np.sin(t) + 0.3 * np.sin(3 * t)
window = 20
xs = np.stack([wave[i : i + window] for i in range(len(wave) - window)])
ys = wave[window:]
X = torch.tensor(xs, dtype=torch.float32).unsqueeze(-1)  # (N, L, 1)
Y = torch.tensor(ys, dtype=torch.float32).unsqueeze(-1)  # (N, 1)


class SinePredictor(nn.Module):
    def __init__(self, hidden_size=16):
        super().__init__()
        self.lstm = nn.LSTM(input_size=1, hidden_size=hidden_size, num_layers=1, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)

    def forward(self, x):
        out, (h_n, c_n) = self.lstm(x)
        return self.fc(out[:, -1, :])


model = SinePredictor()
rng = np.random.default_rng(0)
for p in model.parameters():
    p.data.copy_(torch.from_numpy(rng.uniform(-0.25, 0.25, tuple(p.shape)).astype(np.float32)))

optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
loss_fn = nn.MSELoss()
losses = []
for step in range(60):
    optimizer.zero_grad()
    loss = loss_fn(model(X), Y)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
    if step % 20 == 19:
        print(f"step {step + 1}: {loss.item():.5f}")

model.eval()
with torch.no_grad():
    seq = X[-1:].clone()
    forecast = []
    for _ in range(10):
        nxt = model(seq)
        forecast.append(nxt.item())
        seq = torch.cat([seq[:, 1:, :], nxt.unsqueeze(1)], dim=1)
    out, (h_n, c_n) = model.lstm(X[:3])

results = {
    "losses": losses[::10] + [losses[-1]],
    "forecast": forecast,
    "state_shapes": [list(out.shape), list(h_n.shape), list(c_n.shape)],
    "parameter_names": [name for name, _ in model.named_parameters()],
}
print(json.dumps(results))
