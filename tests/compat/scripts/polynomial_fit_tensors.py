"""Fit y = sin(x) by a third-order polynomial with raw tensors (PyTorch's "Learning PyTorch
with Examples"): gradients by hand, then by autograd with updates under ``torch.no_grad()``,
then through ``p.data`` and ``p.grad.data``. Initial coefficients come from NumPy."""

import json
import math

import numpy as np
import torch

dtype = torch.float
device = torch.device("cpu")
init = np.random.default_rng(0).standard_normal((3, 4))

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)
results = {}

# 1. Tensors, gradients computed by hand.
a, b, c, d = (torch.tensor(v, device=device, dtype=dtype) for v in init[0])
learning_rate = 1e-6
for t in range(1000):
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum().item()
    if t % 250 == 249:
        print(t, loss)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_a = grad_y_pred.sum()
    grad_b = (grad_y_pred * x).sum()
    grad_c = (grad_y_pred * x**2).sum()
    grad_d = (grad_y_pred * x**3).sum()
    a -= learning_rate * grad_a
    b -= learning_rate * grad_b
    c -= learning_rate * grad_c
    d -= learning_rate * grad_d
results["manual_loss"] = loss
results["manual_coefficients"] = [a.item(), b.item(), c.item(), d.item()]

# 2. Autograd; updates in place under no_grad, gradients reset to None.
a, b, c, d = (torch.tensor(v, dtype=dtype, requires_grad=True) for v in init[1])
for t in range(1000):
    y_pred = a + b * x + c * x**2 + d * x**3
    loss = (y_pred - y).pow(2).sum()
    if t % 250 == 249:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        a -= learning_rate * a.grad
        b -= learning_rate * b.grad
        c -= learning_rate * c.grad
        d -= learning_rate * d.grad
        a.grad = None
        b.grad = None
        c.grad = None
        d.grad = None
print(f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3")
results["autograd_loss"] = loss.item()
results["autograd_coefficients"] = [a.item(), b.item(), c.item(), d.item()]
results["leaf_after_update"] = [a.is_leaf, a.requires_grad, a.grad is None]

# 3. The older idiom: update p.data, zero p.grad.data.
params = [torch.tensor(v, dtype=dtype, requires_grad=True) for v in init[2]]
for _ in range(500):
    a, b, c, d = params
    loss = (a + b * x + c * x**2 + d * x**3 - y).pow(2).sum()
    loss.backward()
    for p in params:
        p.data -= learning_rate * p.grad.data
        p.grad.data.zero_()
results["data_loss"] = loss.item()
results["data_coefficients"] = [p.item() for p in params]
results["grad_zeroed"] = [p.grad.abs().sum().item() for p in params]

print(json.dumps(results))
