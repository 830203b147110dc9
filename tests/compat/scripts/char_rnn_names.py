"""Classifying names with a character-level RNN, in the style of PyTorch's "NLP From
Scratch" tutorial: one-hot letter tensors, a hand-written RNN module over
``torch.cat((input, hidden), 1)``, ``nn.LogSoftmax`` with ``nn.NLLLoss``, and the manual
update ``p.data.add_(p.grad.data, alpha=-learning_rate)``. Examples are drawn with
``random``, initial weights from NumPy."""

import json
import random
import string

import numpy as np
import torch
import torch.nn as nn

all_letters = string.ascii_letters + " .,;'"
n_letters = len(all_letters)
category_lines = {
    "English": ["Smith", "Johnson", "Williams", "Brown", "Taylor", "Walker", "Wright", "Hughes"],
    "Italian": ["Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci"],
    "Japanese": ["Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto",
                 "Nakamura"],
    "Polish": ["Nowak", "Kowalski", "Wisniewski", "Wojcik", "Kowalczyk", "Kaminski", "Lewandowski",
               "Zielinski"],
}  # fmt: skip
all_categories = list(category_lines)
n_categories = len(all_categories)


def letterToIndex(letter):
    return all_letters.find(letter)


def lineToTensor(line):
    tensor = torch.zeros(len(line), 1, n_letters)
    for li, letter in enumerate(line):
        tensor[li][0][letterToIndex(letter)] = 1
    return tensor


class RNN(nn.Module):
    def __init__(self, input_size, hidden_size, output_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.i2h = nn.Linear(input_size + hidden_size, hidden_size)
        self.h2o = nn.Linear(hidden_size, output_size)
        self.softmax = nn.LogSoftmax(dim=1)

    def forward(self, input, hidden):
        combined = torch.cat((input, hidden), 1)
        hidden = torch.tanh(self.i2h(combined))
        output = self.softmax(self.h2o(hidden))
        return output, hidden

    def initHidden(self):
        return torch.zeros(1, self.hidden_size)


n_hidden = 32
rnn = RNN(n_letters, n_hidden, n_categories)
rng = np.random.default_rng(0)
for p in rnn.parameters():
    p.data = torch.tensor(rng.normal(0.0, 0.1, tuple(p.shape)), dtype=torch.float32)

criterion = nn.NLLLoss()
learning_rate = 0.01


def train(category_tensor, line_tensor):
    hidden = rnn.initHidden()
    rnn.zero_grad()
    for i in range(line_tensor.size()[0]):
        output, hidden = rnn(line_tensor[i], hidden)
    loss = criterion(output, category_tensor)
    loss.backward()
    for p in rnn.parameters():
        p.data.add_(p.grad.data, alpha=-learning_rate)
    return output, loss.item()


def categoryFromOutput(output):
    top_n, top_i = output.topk(1)
    category_i = top_i[0].item()
    return all_categories[category_i], category_i


random.seed(0)
losses = []
for it in range(1, 401):
    category = random.choice(all_categories)
    line = random.choice(category_lines[category])
    category_tensor = torch.tensor([all_categories.index(category)], dtype=torch.long)
    output, loss = train(category_tensor, lineToTensor(line))
    losses.append(loss)
    if it % 100 == 0:
        guess, _ = categoryFromOutput(output)
        print(f"{it} {loss:.4f} {line} / {guess} {'✓' if guess == category else '✗'}")

correct = 0
with torch.no_grad():
    for category, lines in category_lines.items():
        for line in lines:
            hidden = rnn.initHidden()
            line_tensor = lineToTensor(line)
            for i in range(line_tensor.size()[0]):
                output, hidden = rnn(line_tensor[i], hidden)
            correct += categoryFromOutput(output)[0] == category
results = {
    "mean_loss_per_100": [float(np.mean(losses[i : i + 100])) for i in range(0, 400, 100)],
    "train_accuracy": correct / sum(len(v) for v in category_lines.values()),
    "one_hot_shape": list(lineToTensor("Jones").size()),
    "one_hot_sum": lineToTensor("Jones").sum().item(),
}
print(json.dumps(results))
