"""Smaller pieces of the torch API that models lean on: ``torch.einsum`` (matrix products,
batched attention scores, traces, outer products), ``torch.tril`` / ``torch.triu``,
reproducibility through ``torch.manual_seed``, ``torch.inference_mode`` (context and
decorator), ``torch.set_num_threads``, and ``nn.utils.parameters_to_vector``."""

import json

import numpy as np
import torch
import torch.nn as nn

rng = np.random.default_rng(0)
A = torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float32)
B = torch.tensor(rng.standard_normal((4, 5)), dtype=torch.float32)
Q = torch.tensor(rng.standard_normal((2, 2, 3, 4)), dtype=torch.float32)
K = torch.tensor(rng.standard_normal((2, 2, 5, 4)), dtype=torch.float32)
S = torch.tensor(rng.standard_normal((4, 4)), dtype=torch.float32)
v = torch.tensor([1.0, 2.0, 3.0])
results = {
    "matmul": torch.einsum("ij,jk->ik", A, B).tolist(),
    "matches_at": torch.allclose(torch.einsum("ij,jk->ik", A, B), A @ B, atol=1e-6),
    "scores": torch.einsum("bhqd,bhkd->bhqk", Q, K).sum(dim=(0, 1)).tolist(),
    "trace": torch.einsum("ii", S).item(),
    "diagonal": torch.einsum("ii->i", S).tolist(),
    "transpose": torch.einsum("ij->ji", A).shape == (4, 3),
    "outer": torch.einsum("i,j->ij", v, v).tolist(),
    "dot": torch.einsum("i,i->", v, v).item(),
    "batched": torch.einsum("bij,bjk->bik", A.unsqueeze(0).repeat(2, 1, 1), B.expand(2, 4, 5))
    .sum()
    .item(),
}

# einsum is differentiable.
W = torch.tensor(rng.standard_normal((4, 5)), dtype=torch.float32, requires_grad=True)
torch.einsum("ij,jk->ik", A, W).pow(2).sum().backward()
results["einsum_grad"] = W.grad.sum().item()

ones = torch.ones(4, 4)
results["tril"] = torch.tril(ones).tolist()
results["triu_1"] = torch.triu(ones, diagonal=1).tolist()
results["tril_neg"] = ones.tril(-1).sum().item()
results["causal_mask"] = torch.triu(torch.full((3, 3), float("-inf")), diagonal=1).tolist()

# The same seed gives the same numbers within a library.
torch.manual_seed(42)
first = torch.randn(5)
torch.manual_seed(42)
second = torch.randn(5)
results["seeded"] = [torch.equal(first, second), bool((first != torch.randn(5)).any())]

model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.tensor(rng.uniform(-0.5, 0.5, tuple(p.shape)), dtype=torch.float32))
x = torch.tensor(rng.standard_normal((5, 3)), dtype=torch.float32)
with torch.inference_mode():
    out = model(x)
results["inference_mode"] = [out.requires_grad, torch.is_inference_mode_enabled()]


@torch.inference_mode()
def predict(inputs):
    return model(inputs).argmax(dim=1)


results["predict"] = predict(x).tolist()
results["grad_mode"] = [model(x).requires_grad, torch.is_grad_enabled()]

torch.set_num_threads(1)
results["threads"] = torch.get_num_threads()

vec = nn.utils.parameters_to_vector(model.parameters())
results["vector"] = [vec.numel(), vec.dim(), vec[:4].tolist()]
nn.utils.vector_to_parameters(vec * 2, model.parameters())
results["vector_to_parameters"] = model[0].weight[0].tolist()
results["norm"] = torch.linalg.norm(vec).item()
print(json.dumps(results))
