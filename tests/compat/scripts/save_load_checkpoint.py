"""Saving and loading, as in PyTorch's "Saving and Loading Models" recipe: ``torch.save`` of
a ``state_dict`` and ``load_state_dict(torch.load(PATH, weights_only=True))`` into a fresh
model, then a general checkpoint (epoch, model and optimizer state, loss) that resumes
training exactly where an uninterrupted run goes. Initial weights and data from NumPy."""

import json
import os
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x))))


rng = np.random.default_rng(0)
x = torch.tensor(rng.standard_normal((64, 10)), dtype=torch.float32)
y = torch.tensor(rng.integers(0, 3, 64))
initial = {name: torch.tensor(rng.normal(0, 0.3, tuple(t.shape)), dtype=t.dtype)
           for name, t in Net().state_dict().items() if t.dtype == torch.float32}  # fmt: skip


def make():
    model = Net()
    model.load_state_dict(initial, strict=False)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer


def step(model, optimizer):
    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


tmp = tempfile.mkdtemp()
model, optimizer = make()
for epoch in range(5):  # noqa: B007 (the checkpoint records the last epoch)
    loss = step(model, optimizer)

# Save and load only the state_dict (the recommended way).
PATH = os.path.join(tmp, "model_weights.pth")
torch.save(model.state_dict(), PATH)
restored = Net()
missing = restored.load_state_dict(torch.load(PATH, weights_only=True))
model.eval()
restored.eval()
with torch.no_grad():
    same_output = torch.equal(model(x), restored(x))
    max_difference = (model(x) - restored(x)).abs().max().item()
model.train()

# A general checkpoint for resuming training.
CKPT = os.path.join(tmp, "checkpoint.tar")
torch.save({"epoch": epoch, "model_state_dict": model.state_dict(),
            "optimizer_state_dict": optimizer.state_dict(), "loss": loss}, CKPT)  # fmt: skip
straight = [step(model, optimizer).item() for _ in range(5)]

model2, optimizer2 = make()
checkpoint = torch.load(CKPT, weights_only=True)
model2.load_state_dict(checkpoint["model_state_dict"])
optimizer2.load_state_dict(checkpoint["optimizer_state_dict"])
epoch2 = checkpoint["epoch"]
model2.train()
resumed = [step(model2, optimizer2).item() for _ in range(5)]

tensor_path = os.path.join(tmp, "tensors.pt")
torch.save({"x": x[:2], "labels": y[:2]}, tensor_path)
loaded = torch.load(tensor_path)
results = {
    "incompatible_keys": [list(missing.missing_keys), list(missing.unexpected_keys)],
    "same_output": same_output,
    "max_difference": max_difference,
    "checkpoint_epoch": epoch2,
    "checkpoint_loss": checkpoint["loss"].item(),
    "straight": straight,
    "resumed_equals_straight": resumed == straight,
    "running_mean_saved": torch.equal(
        restored.bn.running_mean, checkpoint["model_state_dict"]["bn.running_mean"]
    ),
    "num_batches_tracked": int(restored.bn.num_batches_tracked),
    "loaded_tensors": [loaded["x"].shape[0], loaded["labels"].dtype == torch.int64],
    "files": sorted(os.listdir(tmp)),
}
print(json.dumps(results))
