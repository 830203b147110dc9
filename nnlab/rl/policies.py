"""The networks agents learn: an actor-critic with a categorical head, and a Q-network.

Both are built from :class:`nnlab.nn.MLP`, so their ``state_dict`` keys are those of the
equivalent ``torch.nn.Sequential``. ``net_arch=[]`` (no hidden layer) makes each a
linear function of the observation: the linear-policy baseline.

For discrete actions the policy is a categorical distribution over ``n_actions`` given
by logits ``z``: :math:`\\pi(a \\mid s) = \\mathrm{softmax}(z)_a`, with
:math:`\\log \\pi(a \\mid s) = \\mathrm{log\\_softmax}(z)_a` and entropy
:math:`H = -\\sum_a \\pi_a \\log \\pi_a`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

import nnlab
import nnlab.nn.functional as F
from nnlab import nn
from nnlab.tensor import Tensor

__all__ = [
    "ActorCriticPolicy", "QNetwork", "categorical_log_prob", "categorical_entropy",
    "sample_categorical",
]  # fmt: skip


def categorical_log_prob(logits: Tensor, actions: np.ndarray) -> Tensor:
    """``log π(a|s)`` of each row's action: ``log_softmax(logits)[i, actions[i]]``, shape (N,)."""
    index = nnlab.tensor(np.asarray(actions, dtype=np.int64).reshape(-1, 1))
    return F.log_softmax(logits, dim=-1).gather(1, index).squeeze(1)


def categorical_entropy(logits: Tensor) -> Tensor:
    """``H = -Σ_a π_a log π_a`` of each row, shape (N,)."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(-1)


def sample_categorical(logits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One action per row drawn from ``softmax(logits)`` by inverse CDF with ``rng``."""
    z = np.asarray(logits, dtype=np.float64)
    p = np.exp(z - z.max(axis=-1, keepdims=True))
    cdf = np.cumsum(p / p.sum(axis=-1, keepdims=True), axis=-1)
    u = rng.random((len(z), 1))
    return np.minimum((cdf < u).sum(axis=-1), z.shape[-1] - 1).astype(np.int64)


def _orthogonal_init(mlp: nn.Module, last_gain: float) -> None:
    """Orthogonal weights (gain √2 on hidden layers, ``last_gain`` on the output layer)
    and zero biases, as in the PPO/A2C baselines: a small policy gain starts the policy
    near uniform, which keeps early exploration broad."""
    linears = [m for m in mlp.modules() if isinstance(m, nn.Linear)]
    for i, layer in enumerate(linears):
        gain = last_gain if i == len(linears) - 1 else math.sqrt(2)
        nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)


class ActorCriticPolicy(nn.Module):
    """Separate policy and value MLPs on the same observation.

    ``net_arch`` gives both networks' hidden sizes, or each its own as Stable-Baselines3's
    ``{"pi": [...], "vf": [...]}``: ``{"pi": [], "vf": [64, 64]}`` is a linear policy with
    a deep critic (the critic's quality matters most where advantages are bootstrapped).

    ``forward(obs)`` returns ``(logits, values)``: logits ``(N, n_actions)`` of π(·|s) and
    ``V(s)`` of shape ``(N,)``.

    Args:
        obs_dim: size of an observation vector.
        n_actions: number of discrete actions.
        net_arch: hidden sizes of each network, or ``{"pi": ..., "vf": ...}`` (default
            (64, 64); ``[]``: linear).
        activation: the hidden non-linearity (default "tanh").
        ortho_init: orthogonal initialisation (default True).
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        net_arch: Sequence[int] | Mapping[str, Sequence[int]] = (64, 64),
        activation: str = "tanh",
        ortho_init: bool = True,
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions
        if isinstance(net_arch, Mapping):
            if set(net_arch) != {"pi", "vf"}:
                raise ValueError(
                    f"ActorCriticPolicy: net_arch as a dict needs exactly the keys 'pi' and "
                    f"'vf', got {sorted(net_arch)}"
                )
            pi_arch, vf_arch = list(net_arch["pi"]), list(net_arch["vf"])
        else:
            pi_arch = vf_arch = list(net_arch)
        self.pi = nn.MLP(obs_dim, pi_arch, n_actions, activation=activation)
        self.vf = nn.MLP(obs_dim, vf_arch, 1, activation=activation)
        if ortho_init:
            _orthogonal_init(self.pi, last_gain=0.01)
            _orthogonal_init(self.vf, last_gain=1.0)

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return self.pi(obs), self.vf(obs).squeeze(-1)

    def evaluate_actions(self, obs: Tensor, actions: np.ndarray) -> tuple[Tensor, Tensor, Tensor]:
        """``(log π(a|s), H[π(·|s)], V(s))`` for a batch of taken actions, each (N,)."""
        logits, values = self(obs)
        return categorical_log_prob(logits, actions), categorical_entropy(logits), values

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, n_actions={self.n_actions}"


class QNetwork(nn.Module):
    """``Q(s, ·)``: one output per action, shape ``(N, n_actions)``.

    Args:
        obs_dim: size of an observation vector.
        n_actions: number of discrete actions.
        net_arch: hidden sizes (default (64, 64)).
        activation: the hidden non-linearity (default "relu").
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        net_arch: Sequence[int] = (64, 64),
        activation: str = "relu",
    ) -> None:
        super().__init__()
        self.obs_dim, self.n_actions = obs_dim, n_actions
        self.q_net = nn.MLP(obs_dim, list(net_arch), n_actions, activation=activation)

    def forward(self, obs: Tensor) -> Tensor:
        return self.q_net(obs)

    def extra_repr(self) -> str:
        return f"obs_dim={self.obs_dim}, n_actions={self.n_actions}"
