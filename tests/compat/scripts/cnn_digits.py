"""A small CNN on scikit-learn's 8×8 digits as 1×8×8 images: ``nn.Conv2d``, ``nn.MaxPool2d``,
``torch.flatten``, ``DataLoader(TensorDataset)`` without shuffling, Adam, cross-entropy,
then accuracy under ``model.eval()`` and ``torch.no_grad()``. The initial weights come from
NumPy through ``load_state_dict``, so both runs start alike."""

import json

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset

digits = load_digits()
order = np.random.default_rng(0).permutation(len(digits.target))
images = (digits.images[order] / 16.0).astype(np.float32)
labels = digits.target[order]
x_train = torch.tensor(images[:1200]).unsqueeze(1)
y_train = torch.tensor(labels[:1200], dtype=torch.long)
x_test = torch.from_numpy(images[1200:]).reshape(-1, 1, 8, 8)
y_test = torch.from_numpy(labels[1200:]).long()

train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=False)
test_loader = DataLoader(TensorDataset(x_test, y_test), batch_size=200)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(16 * 2 * 2, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        return self.fc2(x)


model = Net()
rng = np.random.default_rng(1)
state = {}
for name, tensor in model.state_dict().items():
    fan_in = tensor[0].numel() if tensor.dim() > 1 else 16
    bound = 1.0 / np.sqrt(fan_in)
    state[name] = torch.tensor(rng.uniform(-bound, bound, tuple(tensor.shape)), dtype=torch.float)
model.load_state_dict(state)

criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
epoch_losses = []
for epoch in range(3):
    model.train()
    running_loss = 0.0
    for inputs, targets in train_loader:
        optimizer.zero_grad()
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()
        running_loss += loss.item() * inputs.size(0)
    epoch_losses.append(running_loss / len(train_loader.dataset))
    print(f"epoch {epoch + 1}: loss {epoch_losses[-1]:.4f}")

model.eval()
correct, total = 0, 0
with torch.no_grad():
    for inputs, targets in test_loader:
        outputs = model(inputs)
        _, predicted = torch.max(outputs.data, 1)
        total += targets.size(0)
        correct += (predicted == targets).sum().item()
print(f"Accuracy on the {total} test images: {100 * correct / total:.1f} %")
results = {
    "epoch_losses": epoch_losses,
    "test_accuracy": correct / total,
    "batches": len(train_loader),
    "output_shape": list(outputs.shape),
}
print(json.dumps(results))
