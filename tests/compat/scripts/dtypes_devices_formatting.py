"""dtypes, devices, sizes and number formatting as PyTorch code uses them: device selection
with ``torch.cuda.is_available()`` and ``torch.accelerator``, ``.to(device)``, ``torch.float``
and ``torch.long``, ``.long()`` / ``.to(torch.float64)``, dtype comparisons and promotion,
``torch.Size``, and ``f"{loss.item():.4f}"`` / ``f"{loss:.4f}"``."""

import json

import torch
import torch.nn as nn

results = {}
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
accelerator = (
    torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
)
results["device"] = [str(device), device.type, accelerator]
results["mps"] = torch.backends.mps.is_available()

x = torch.ones(2, 3, device=device)
model = nn.Linear(3, 2).to(device)
y = model(x.to(device))
results["on_device"] = [x.device.type, y.device == device, next(model.parameters()).device.type]
results["is_cuda"] = x.is_cuda

# dtypes
results["float_is_float32"] = [torch.float == torch.float32, x.dtype == torch.float32]
results["default_dtype"] = torch.get_default_dtype() == torch.float32
print(x.dtype, torch.long, torch.float64)
i = torch.tensor([1, 2, 3])
f = torch.tensor([1.0, 2.0])
results["inferred"] = [i.dtype == torch.long, i.dtype == torch.int64, f.dtype == torch.float]
results["conversions"] = [
    x.long().dtype == torch.int64,
    x.to(torch.float64).dtype == torch.float64,
    x.double().dtype == torch.double,
    i.float().dtype == torch.float32,
    i.to(dtype=torch.float).dtype == torch.float32,
    x.int().dtype == torch.int32,
    (x > 0).dtype == torch.bool,
    x.type(torch.float64).dtype == torch.float64,
]
results["promotion"] = [
    (i / 2).dtype == torch.float32,
    (i // 2).dtype == torch.int64,
    (i * 1.5).dtype == torch.float32,
    (i + f[:1].double()).dtype == torch.float64,
    (torch.tensor(True) + i).dtype == torch.int64,
    (f + 1).dtype == torch.float32,
]
results["is_floating_point"] = [x.is_floating_point(), i.is_floating_point()]
results["finfo_eps"] = torch.finfo(torch.float32).eps
results["zeros_long"] = torch.zeros(2, dtype=torch.long).tolist()
results["labels"] = torch.tensor([0.0, 2.0]).long().tolist()

# sizes
s = torch.zeros(4, 5, 6).size()
results["size"] = [
    isinstance(s, torch.Size),
    s == torch.Size([4, 5, 6]),
    list(s),
    s[1],
    tuple(s[1:]),
    torch.Size([2, 3]).numel(),
    torch.zeros(4, 5).shape == (4, 5),
    torch.zeros(4, 5).size(-1),
    torch.zeros(4, 5).dim(),
    torch.zeros(4, 5).ndim,
]
print(torch.Size([2, 3]))

# formatting
loss = torch.tensor(0.123456)
results["format"] = [
    f"{loss.item():.4f}",
    f"{loss:.4f}",
    "{:.3f}".format(loss),  # noqa: UP032 (str.format goes through Tensor.__format__)
    f"{loss.item():>7f}",
    f"{float(loss):.2e}",
    f"{int(torch.tensor(7)):d}",
    f"{torch.tensor(3)}",
    round(loss.item(), 3),
]
print(f"loss: {loss:>7f}  [{64:>5d}/{1000:>5d}]")
print(json.dumps(results))
