"""``nn.Module`` subclasses and containers from PyTorch's "Learning PyTorch with Examples":
the ``nn.Sequential`` polynomial with manual updates, the custom ``Polynomial3`` module
with ``torch.optim.SGD``, and ``DynamicNet`` (Python control flow, weight sharing) with SGD
and momentum. Initial weights come from NumPy; the control flow from ``random``."""

import json
import math
import random

import numpy as np
import torch

rng = np.random.default_rng(0)
x = torch.linspace(-math.pi, math.pi, 2000)
y = torch.sin(x)
results = {}

# 1. nn.Sequential with manual updates.
p = torch.tensor([1, 2, 3])
xx = x.unsqueeze(-1).pow(p)
model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
model.load_state_dict(
    {"0.weight": torch.tensor(rng.normal(0, 0.1, (1, 3)), dtype=torch.float32),
     "0.bias": torch.tensor(rng.normal(0, 0.1, (1,)), dtype=torch.float32)}
)  # fmt: skip
loss_fn = torch.nn.MSELoss(reduction="sum")
learning_rate = 1e-6
for t in range(1000):
    y_pred = model(xx)
    loss = loss_fn(y_pred, y)
    if t % 250 == 249:
        print(t, loss.item())
    model.zero_grad()
    loss.backward()
    with torch.no_grad():
        for param in model.parameters():
            param -= learning_rate * param.grad
linear_layer = model[0]
print(f"Result: y = {linear_layer.bias.item()} + {linear_layer.weight[:, 0].item()} x + ...")
results["sequential_loss"] = loss.item()
results["sequential_weights"] = linear_layer.weight.flatten().tolist() + [linear_layer.bias.item()]
results["xx_shape"] = list(xx.shape)
results["state_dict_keys"] = list(model.state_dict().keys())


# 2. A custom Module with Parameters and torch.optim.SGD.
class Polynomial3(torch.nn.Module):
    def __init__(self, init):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(init[0], dtype=torch.float32))
        self.b = torch.nn.Parameter(torch.tensor(init[1], dtype=torch.float32))
        self.c = torch.nn.Parameter(torch.tensor(init[2], dtype=torch.float32))
        self.d = torch.nn.Parameter(torch.tensor(init[3], dtype=torch.float32))

    def forward(self, x):
        return self.a + self.b * x + self.c * x**2 + self.d * x**3

    def string(self):
        return (
            f"y = {self.a.item()} + {self.b.item()} x + {self.c.item()} x^2 + {self.d.item()} x^3"
        )


model = Polynomial3(rng.standard_normal(4))
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-6)
for _ in range(1000):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
print(f"Result: {model.string()}")
results["polynomial_loss"] = loss.item()
results["polynomial_parameters"] = [p.item() for p in model.parameters()]
results["polynomial_names"] = [name for name, _ in model.named_parameters()]


# 3. Dynamic control flow; the e parameter is reused for the 4th and 5th powers.
class DynamicNet(torch.nn.Module):
    def __init__(self, init):
        super().__init__()
        self.a, self.b, self.c, self.d, self.e = (
            torch.nn.Parameter(torch.tensor(v, dtype=torch.float32)) for v in init
        )

    def forward(self, x):
        y = self.a + self.b * x + self.c * x**2 + self.d * x**3
        for exp in range(4, random.randint(4, 6)):
            y = y + self.e * x**exp
        return y


random.seed(0)
model = DynamicNet(rng.standard_normal(5) * 0.1)
criterion = torch.nn.MSELoss(reduction="sum")
optimizer = torch.optim.SGD(model.parameters(), lr=1e-8, momentum=0.9)
for _ in range(600):
    y_pred = model(x)
    loss = criterion(y_pred, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
results["dynamic_loss"] = loss.item()
results["dynamic_parameters"] = [p.item() for p in model.parameters()]
results["parameter_count"] = sum(p.numel() for p in model.parameters() if p.requires_grad)
print(json.dumps(results))
