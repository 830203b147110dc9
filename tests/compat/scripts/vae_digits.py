"""A variational autoencoder on the 8×8 digits, after pytorch/examples' MNIST VAE: the
reparameterisation ``mu + eps * std`` with ``torch.randn_like``, a binary cross-entropy
reconstruction term plus the KL divergence, a shuffling DataLoader seeded by
``torch.manual_seed``. The noise differs between libraries, so the runs agree only to
within a band; weights start from NumPy."""

import json

import numpy as np
import torch
import torch.utils.data
from sklearn.datasets import load_digits
from torch import nn, optim
from torch.nn import functional as F

torch.manual_seed(1)
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

pixels = load_digits().data.astype(np.float32) / 16.0
train_set = torch.utils.data.TensorDataset(torch.from_numpy(pixels[:1500]))
test_data = torch.from_numpy(pixels[1500:]).to(device)
train_loader = torch.utils.data.DataLoader(train_set, batch_size=100, shuffle=True)


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 48)
        self.fc21 = nn.Linear(48, 8)
        self.fc22 = nn.Linear(48, 8)
        self.fc3 = nn.Linear(8, 48)
        self.fc4 = nn.Linear(48, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


model = VAE().to(device)
rng = np.random.default_rng(0)
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.from_numpy(rng.normal(0.0, 0.15, tuple(p.shape)).astype(np.float32)))
optimizer = optim.Adam(model.parameters(), lr=3e-3)


def loss_function(recon_x, x, mu, logvar):
    BCE = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    KLD = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return BCE + KLD


def train(epoch):
    model.train()
    train_loss = 0
    for (data,) in train_loader:
        data = data.to(device)
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        train_loss += loss.item()
        optimizer.step()
    average = train_loss / len(train_loader.dataset)
    print(f"====> Epoch: {epoch} Average loss: {average:.4f}")
    return average


losses = [train(epoch) for epoch in range(1, 9)]
model.eval()
with torch.no_grad():
    mu, logvar = model.encode(test_data)
    recon = model.decode(mu)  # the mean code: no sampling noise
    test_bce = F.binary_cross_entropy(recon, test_data, reduction="sum").item() / len(test_data)
    kld = (-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())).item() / len(test_data)
    sample = model.decode(torch.randn(16, 8).to(device))
results = {
    "first_epoch_loss": losses[0],
    "last_epoch_loss": losses[-1],
    "test_reconstruction": test_bce,
    "test_kl": kld,
    "test_loss": test_bce + kld,
    "sample_shape": list(sample.shape),
    "sample_in_unit_interval": bool(((sample >= 0) & (sample <= 1)).all()),
}
print(json.dumps(results))
