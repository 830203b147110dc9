"""The training loop of PyTorch's Quickstart on the 8×8 digits: a ``NeuralNetwork`` with
``nn.Flatten`` and ``nn.Sequential``, shuffling DataLoaders seeded by ``torch.manual_seed``,
torch's own default initialisation, ``train``/``test`` functions with the tutorial's
progress lines and accuracy idiom, then ``torch.save`` / ``load_state_dict``. Random draws
differ between libraries, so the accuracy is compared as a band."""

import json
import os
import tempfile

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

torch.manual_seed(0)
digits = load_digits()
order = np.random.default_rng(0).permutation(len(digits.target))
images = torch.tensor(digits.images[order] / 16.0, dtype=torch.float32)
targets = torch.tensor(digits.target[order])
training_data = TensorDataset(images[:1400], targets[:1400])
test_data = TensorDataset(images[1400:], targets[1400:])

batch_size = 64
train_dataloader = DataLoader(training_data, batch_size=batch_size, shuffle=True)
test_dataloader = DataLoader(test_data, batch_size=batch_size)
for X, y in test_dataloader:
    print(f"Shape of X [N, H, W]: {X.shape}")
    print(f"Shape of y: {y.shape} {y.dtype}")
    break

device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
print(f"Using {device} device")


class NeuralNetwork(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear_relu_stack = nn.Sequential(
            nn.Linear(8 * 8, 64),
            nn.ReLU(),
            nn.Linear(64, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, x):
        x = self.flatten(x)
        logits = self.linear_relu_stack(x)
        return logits


model = NeuralNetwork().to(device)
print(model)
loss_fn = nn.CrossEntropyLoss()
optimizer = torch.optim.SGD(model.parameters(), lr=3e-1)


def train(dataloader, model, loss_fn, optimizer):
    size = len(dataloader.dataset)
    model.train()
    for batch, (X, y) in enumerate(dataloader):
        X, y = X.to(device), y.to(device)
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if batch % 10 == 0:
            loss, current = loss.item(), (batch + 1) * len(X)
            print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")


def test(dataloader, model, loss_fn):
    size = len(dataloader.dataset)
    num_batches = len(dataloader)
    model.eval()
    test_loss, correct = 0, 0
    with torch.no_grad():
        for X, y in dataloader:
            X, y = X.to(device), y.to(device)
            pred = model(X)
            test_loss += loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    test_loss /= num_batches
    correct /= size
    print(f"Test Error: \n Accuracy: {(100 * correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    return correct, test_loss


epochs = 12
for t in range(epochs):
    print(f"Epoch {t + 1}\n-------------------------------")
    train(train_dataloader, model, loss_fn, optimizer)
    accuracy, test_loss = test(test_dataloader, model, loss_fn)
print("Done!")

path = os.path.join(tempfile.mkdtemp(), "model.pth")
torch.save(model.state_dict(), path)
model = NeuralNetwork().to(device)
model.load_state_dict(torch.load(path, weights_only=True))
model.eval()
with torch.no_grad():
    x, y = test_data[0][0], test_data[0][1]
    pred = model(x.unsqueeze(0).to(device))
    predicted = pred[0].argmax(0).item()
reloaded_accuracy, _ = test(test_dataloader, model, loss_fn)
results = {
    "accuracy": accuracy,
    "test_loss": test_loss,
    "reloaded_accuracy_same": reloaded_accuracy == accuracy,
    "prediction_is_label": isinstance(predicted, int) and 0 <= predicted < 10,
    "batches": [len(train_dataloader), len(test_dataloader)],
    "first_layer": str(model.linear_relu_stack[0]),
}
print(json.dumps(results))
