"""Optimizers and learning-rate schedulers on a small regression MLP with NumPy data and
initial weights: SGD with momentum, weight decay and two parameter groups under StepLR;
Adam under CosineAnnealingLR; AdamW under LambdaLR; the learning rates seen each epoch."""

import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LambdaLR, StepLR

rng = np.random.default_rng(0)
X = rng.standard_normal((128, 6)).astype(np.float32)
Y = (np.sin(X[:, :1]) + 0.5 * X[:, 1:2] * X[:, 2:3]).astype(np.float32)
inputs, targets = torch.from_numpy(X), torch.from_numpy(Y)
init_rng = np.random.default_rng(1)
initial = {}


class Regressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(6, 16)
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x)))


def make_model():
    model = Regressor()
    if not initial:
        for name, tensor in model.state_dict().items():
            initial[name] = torch.tensor(init_rng.uniform(-0.4, 0.4, tuple(tensor.shape)),
                                         dtype=torch.float32)  # fmt: skip
    model.load_state_dict(initial)
    return model


def train(model, optimizer, scheduler, epochs=30):
    lrs, losses = [], []
    for _ in range(epochs):
        for start in range(0, len(inputs), 32):
            optimizer.zero_grad()
            loss = F.mse_loss(model(inputs[start : start + 32]), targets[start : start + 32])
            loss.backward()
            optimizer.step()
        lrs.append(scheduler.get_last_lr()[0])
        scheduler.step()
        with torch.no_grad():
            losses.append(F.mse_loss(model(inputs), targets).item())
    return lrs, losses


results = {}

model = make_model()
optimizer = torch.optim.SGD(
    [{"params": [model.hidden.weight, model.out.weight]},
     {"params": [model.hidden.bias, model.out.bias], "lr": 0.01, "weight_decay": 0.0}],
    lr=0.05, momentum=0.9, weight_decay=1e-3,
)  # fmt: skip
scheduler = StepLR(optimizer, step_size=10, gamma=0.5)
lrs, losses = train(model, optimizer, scheduler)
results["sgd_lrs"] = lrs
results["sgd_bias_lr"] = optimizer.param_groups[1]["lr"]
results["sgd_losses"] = losses[::5] + [losses[-1]]
results["sgd_state_keys"] = sorted(optimizer.state_dict()["state"][0].keys())

model = make_model()
optimizer = torch.optim.Adam(model.parameters(), lr=0.02, betas=(0.9, 0.99))
scheduler = CosineAnnealingLR(optimizer, T_max=30, eta_min=1e-4)
lrs, losses = train(model, optimizer, scheduler)
results["adam_lrs"] = lrs
results["adam_losses"] = losses[::5] + [losses[-1]]
results["adam_state_keys"] = sorted(optimizer.state_dict()["state"][0].keys())
results["adam_step"] = float(optimizer.state_dict()["state"][0]["step"])

model = make_model()
optimizer = torch.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.05)
scheduler = LambdaLR(optimizer, lr_lambda=lambda epoch: 0.95**epoch)
lrs, losses = train(model, optimizer, scheduler)
results["adamw_lrs"] = lrs
results["adamw_losses"] = losses[::5] + [losses[-1]]
print(json.dumps(results))
