"""``torch.optim.LBFGS`` with a closure: a float64 least-squares fit of a small network
with the strong-Wolfe line search, and a float32 logistic regression with LBFGS's default
fixed step. Data and initial weights come from NumPy."""

import json

import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(0)
results = {}

# 1. A curve fit in float64 with the strong-Wolfe line search.
x = torch.tensor(np.linspace(-2, 2, 64)[:, None])
y = torch.tanh(2 * x) + 0.1 * x**2
model = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).double()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.from_numpy(rng.normal(0.0, 0.5, tuple(p.shape))))
criterion = nn.MSELoss()
optimizer = torch.optim.LBFGS(model.parameters(), lr=1, max_iter=20, history_size=10,
                              line_search_fn="strong_wolfe")  # fmt: skip


def closure():
    optimizer.zero_grad()
    loss = criterion(model(x), y)
    loss.backward()
    return loss


initial = closure().item()
losses = []
for i in range(4):
    loss = optimizer.step(closure)
    losses.append(loss.item())
    print(f"outer step {i}: loss {loss.item():.6e}")
results["wolfe_initial"] = initial
results["wolfe_losses"] = losses[:2]
results["wolfe_final"] = closure().item()
state = optimizer.state_dict()["state"][0]
results["wolfe_evaluations"] = state["func_evals"]
results["state_keys"] = sorted(state)

# 2. Logistic regression in float32, a fixed step (no line search).
X = torch.tensor(rng.standard_normal((100, 3)), dtype=torch.float32)
noise = torch.tensor(rng.logistic(size=100), dtype=torch.float32)  # not separable
labels = (X @ torch.tensor([1.5, -2.0, 0.5]) + 0.3 + noise > 0).float()
clf = nn.Linear(3, 1)
clf.weight.data.zero_()
clf.bias.data.zero_()
opt = torch.optim.LBFGS(clf.parameters(), lr=0.5, max_iter=10)
bce = nn.BCEWithLogitsLoss()


def closure2():
    opt.zero_grad()
    loss = bce(clf(X).squeeze(1), labels)
    loss.backward()
    return loss


for _ in range(3):
    opt.step(closure2)
results["logistic_loss"] = closure2().item()
results["logistic_weights"] = clf.weight.view(-1).tolist()
results["logistic_accuracy"] = ((clf(X).squeeze(1) > 0).float() == labels).float().mean().item()
print(json.dumps(results))
