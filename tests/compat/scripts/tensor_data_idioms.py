"""``Tensor.data`` and in-place idioms found in older and current PyTorch code: initialising
through ``p.data.normal_()`` / ``uniform_()`` / ``fill_()``, ``p.grad.data.zero_()``,
swapping storage with ``p.data = other``, ``p.data.copy_()``, weight tying, and the in-place
and ``new_*`` tensor methods that optimizers written by hand use."""

import json

import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(0)
results = {}

# Initialisation through .data (random: compared as statistics).
layer = nn.Linear(200, 100)
for name, p in layer.named_parameters():
    if "weight" in name:
        p.data.normal_(0.0, 0.02)
    else:
        p.data.fill_(0.1)
w = layer.weight.detach().numpy()
results["normal_mean"] = float(w.mean())
results["normal_std"] = float(w.std())
results["bias_filled"] = layer.bias.tolist()[:3]
other = nn.Linear(200, 100)
other.weight.data.uniform_(-0.05, 0.05)
u = other.weight.detach().numpy()
results["uniform_within_bounds"] = [bool(u.min() >= -0.05), bool(u.max() <= 0.05)]
results["uniform_std"] = float(u.std())

# .data is a tensor that shares storage, does not require grad, and is writable.
rng = np.random.default_rng(0)
lin = nn.Linear(4, 3)
lin.weight.data.copy_(torch.from_numpy(rng.standard_normal((3, 4)).astype(np.float32)))
lin.bias.data.zero_()
d = lin.weight.data
results["data_is_tensor"] = [isinstance(d, torch.Tensor), d.requires_grad, lin.weight.requires_grad]
d[0, 0] = 5.0
results["data_shares_storage"] = lin.weight[0, 0].item()
x = torch.tensor(rng.standard_normal((2, 4)), dtype=torch.float32)
lin(x).pow(2).sum().backward()
results["grad_before_zero"] = lin.weight.grad.abs().sum().item()
lin.weight.grad.data.zero_()
results["grad_after_zero"] = lin.weight.grad.abs().sum().item()
lin.weight.data = torch.ones(3, 4)
results["data_swapped"] = [lin(torch.ones(1, 4)).tolist(), lin.weight.requires_grad]
lin.weight.data.mul_(0.5).add_(1.0).clamp_(max=1.2)
results["chained_inplace"] = lin.weight[0].tolist()
results["detached_clone"] = lin.weight.detach().clone().sum().item()

# Weight tying shares one Parameter.
embed = nn.Embedding(10, 4)
head = nn.Linear(4, 10, bias=False)
head.weight = embed.weight
model = nn.ModuleDict({"embed": embed, "head": head})
results["tied"] = [head.weight is embed.weight, len(list(model.parameters()))]

# In-place tensor methods, as in hand-written optimizers.
a = torch.tensor([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]])
b = torch.tensor([[0.5, 0.5, 0.5], [2.0, 2.0, 2.0]])
buf = torch.zeros(2, 3)
buf.addcmul_(a, b, value=0.5)
results["addcmul"] = buf.tolist()
buf.addcdiv_(a, b, value=-0.1)
results["addcdiv"] = buf.tolist()
masked = a.clone()
masked.masked_fill_(masked < 0, 0.0)
results["masked_fill"] = masked.tolist()
acc = torch.zeros(3, 3)
acc.index_add_(0, torch.tensor([0, 2, 0]), torch.ones(3, 3))
results["index_add"] = acc.tolist()
exp_avg = torch.ones(3)
exp_avg.mul_(0.9).add_(torch.tensor([1.0, 2.0, 3.0]), alpha=0.1)
results["mul_add_alpha"] = exp_avg.tolist()
p = torch.tensor([1.0, 2.0, 3.0])
p.sub_(torch.tensor([0.5, 0.5, 0.5]) * 2).div_(2).pow_(2)
results["sub_div_pow"] = p.tolist()

# new_* factories keep dtype (and device) of the source tensor.
src = torch.tensor([1.5, 2.5], dtype=torch.float64)
zeros = src.new_zeros(2, 3)
results["new_zeros"] = [zeros.shape == (2, 3), zeros.dtype == torch.float64, zeros.sum().item()]
results["new_ones"] = src.new_ones((2,)).tolist()
results["new_full"] = src.new_full((2, 2), 7.0).tolist()
nt = src.new_tensor([1, 2])
results["new_tensor"] = [nt.tolist(), nt.dtype == torch.float64]
results["narrow"] = torch.arange(12).view(3, 4).narrow(1, 1, 2).tolist()
results["repeat"] = torch.tensor([[1, 2]]).repeat(2, 3).tolist()
results["expand_contiguous"] = torch.tensor([[1], [2]]).expand(2, 3).contiguous().view(-1).tolist()
print(json.dumps(results))
