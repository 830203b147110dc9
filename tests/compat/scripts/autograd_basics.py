"""Autograd as PyTorch's "Automatic Differentiation with torch.autograd" tutorial and
everyday code use it: ``requires_grad_``, ``retain_grad`` on a non-leaf, gradient
accumulation with ``retain_graph=True``, ``backward(gradient)`` for a vector output,
``torch.autograd.grad`` with ``create_graph=True`` for a second derivative, tensor hooks,
``detach``, ``no_grad`` and ``set_grad_enabled``, and ``torch.autograd.functional.jacobian``."""

import json

import torch

results = {}
x = torch.ones(5)
y = torch.zeros(3)
w = torch.tensor([[0.1, -0.2, 0.3], [0.0, 0.5, -0.1], [0.2, 0.2, 0.2], [-0.3, 0.1, 0.0],
                  [0.4, -0.4, 0.1]], requires_grad=True)  # fmt: skip
b = torch.tensor([0.1, 0.2, 0.3], requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
results["grad_fn"] = [type(z.grad_fn).__name__ != "", loss.grad_fn is not None]
loss.backward()
results["w_grad"] = w.grad.tolist()
results["b_grad"] = b.grad.tolist()

with torch.no_grad():
    z = torch.matmul(x, w) + b
results["no_grad"] = z.requires_grad
z_det = (torch.matmul(x, w) + b).detach()
results["detach"] = [z_det.requires_grad, z_det.is_leaf]

# Accumulation and retain_graph, as in the tutorial's Jacobian-product example.
inp = torch.eye(4, 5, requires_grad=True)
out = (inp + 1).pow(2).t()
out.backward(torch.ones_like(out), retain_graph=True)
first = inp.grad.clone()
out.backward(torch.ones_like(out), retain_graph=True)
second = inp.grad.clone()
inp.grad.zero_()
out.backward(torch.ones_like(out))
results["accumulated"] = [first.sum().item(), second.sum().item(), inp.grad.sum().item()]

# Non-leaf gradients and hooks.
a = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
h = a * 2
h.retain_grad()
a.register_hook(lambda grad: grad * 10)
(h**2).sum().backward()
results["retain_grad"] = h.grad.tolist()
results["hooked_leaf_grad"] = a.grad.tolist()
results["leaves"] = [a.is_leaf, h.is_leaf]

# Higher derivatives.
t = torch.tensor(2.0, requires_grad=True)
f = t**3 + torch.sin(t)
(df,) = torch.autograd.grad(f, t, create_graph=True)
(d2f,) = torch.autograd.grad(df, t)
results["derivatives"] = [df.item(), d2f.item()]

u = torch.zeros(2).requires_grad_()
results["requires_grad_"] = u.requires_grad
with torch.set_grad_enabled(False):
    results["set_grad_enabled"] = (u * 2).requires_grad
results["enabled_again"] = (u * 2).requires_grad


def exp_reducer(v):
    return v.exp().sum(dim=1)


inputs = torch.tensor([[0.0, 1.0], [0.5, -0.5]])
jac = torch.autograd.functional.jacobian(exp_reducer, inputs)
results["jacobian_shape"] = list(jac.shape)
results["jacobian"] = jac.sum(dim=(0,)).tolist()
print(json.dumps(results))
