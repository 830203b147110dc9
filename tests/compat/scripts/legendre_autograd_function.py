"""A custom ``torch.autograd.Function``: the Legendre polynomial P3 of PyTorch's tutorial
("PyTorch: Defining New autograd Functions"), fitted to sin(x) with the tutorial's
deterministic initial values, then checked by ``torch.autograd.gradcheck``."""

import json
import math

import numpy as np
import torch


class LegendrePolynomial3(torch.autograd.Function):
    """P3(x) = ½(5x³ - 3x);  P3'(x) = 1.5(5x² - 1)."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


dtype = torch.float
device = torch.device("cpu")

x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
y = torch.sin(x)

# Weights initialised not too far from the answer so that the fit converges.
a = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
b = torch.full((), -1.0, device=device, dtype=dtype, requires_grad=True)
c = torch.full((), 0.0, device=device, dtype=dtype, requires_grad=True)
d = torch.full((), 0.3, device=device, dtype=dtype, requires_grad=True)

learning_rate = 5e-6
for t in range(1000):
    P3 = LegendrePolynomial3.apply
    y_pred = a + b * P3(c + d * x)
    loss = (y_pred - y).pow(2).sum()
    if t % 200 == 199:
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

print(f"Result: y = {a.item()} + {b.item()} * P3({c.item()} + {d.item()} x)")

out = LegendrePolynomial3.apply(torch.tensor([0.5, -1.0, 2.0], requires_grad=True))
inputs = torch.tensor(np.random.default_rng(1).uniform(-1, 1, 6), requires_grad=True)
results = {
    "loss": loss.item(),
    "coefficients": [a.item(), b.item(), c.item(), d.item()],
    "output_values": out.tolist(),
    "output_requires_grad": out.requires_grad,
    "output_has_grad_fn": out.grad_fn is not None,
    "gradcheck": torch.autograd.gradcheck(LegendrePolynomial3.apply, (inputs,)),
}
print(json.dumps(results))
