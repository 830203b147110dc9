"""Ensembles of classifiers: several members' predictions combined into one, and the two
cheap ways of getting the members besides training from different seeds.

Combination rules, for K members with outputs z_k (logits, classes on dim 1):

- ``"mean_logits"``: the mean logit z̄ = (1/K) Σ_k z_k. Its softmax is the normalised
  geometric mean of the members' probabilities.
- ``"mean_probs"``: the mean probability p̄ = (1/K) Σ_k softmax(z_k), the usual deep
  ensemble (Lakshminarayanan et al. 2017). Returned as log p̄, computed stably as
  logsumexp_k(log_softmax(z_k)) − log K, so that ``nll_loss`` and ``argmax`` apply
  directly and ``exp`` gives p̄.
- ``"vote"``: each member votes for its argmax class; the output is the fraction of
  members voting for each class (no gradient). Its ``argmax`` is the majority class, ties
  going to the lowest class index.

Every rule returns scores of the members' shape whose ``argmax(1)`` is the ensemble's
prediction.

Where the members come from:

- *Deep ensembles*: the same architecture trained from different random initialisations
  (and batch orders); nothing to provide beyond the seeds.
- *Bagging* (Breiman 1996): each member trains on a bootstrap sample of the training set,
  n draws with replacement (:func:`bootstrap_indices`); about 1 − 1/e ≈ 63% of the
  examples appear in each sample.
- *Snapshot ensembles* (Huang et al., "Snapshot Ensembles: Train 1, get M for free", ICLR
  2017): one training run under a cyclic cosine learning rate with warm restarts (SGDR);
  the weights at the end of each cycle, where the learning rate is lowest, are the
  members (:class:`SnapshotCollector`), and the restart's large learning rate moves the
  model to a different minimum for the next one.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

from nnlab.nn import functional as F
from nnlab.nn.module import Module
from nnlab.nn.modules.container import ModuleList
from nnlab.ops.shape import stack
from nnlab.optim.lr_scheduler import CosineAnnealingWarmRestarts
from nnlab.optim.optimizer import Optimizer
from nnlab.tensor import Tensor

__all__ = [
    "COMBINE_RULES",
    "Ensemble",
    "SnapshotCollector",
    "bootstrap_indices",
    "combine_predictions",
]

#: The names :func:`combine_predictions` and :class:`Ensemble` accept.
COMBINE_RULES: tuple[str, ...] = ("mean_logits", "mean_probs", "vote")


def _check_rule(combine: str, where: str) -> None:
    if combine not in COMBINE_RULES:
        raise ValueError(f"{where}: combine must be one of {list(COMBINE_RULES)}, got {combine!r}")


def combine_predictions(outputs: Sequence[Tensor], combine: str = "mean_logits") -> Tensor:
    """Combine the logits of K members, each (N, C, *) with classes on dim 1, into one
    (N, C, *) score whose argmax over dim 1 is the ensemble's prediction.

    ``"mean_logits"`` gives (1/K) Σ_k z_k; ``"mean_probs"`` gives log((1/K) Σ_k softmax(z_k))
    (log-probabilities); ``"vote"`` gives, per class, the fraction of members whose argmax it
    is (ties in the vote go to the lowest class index under ``argmax``; no gradient).

    Example:
        >>> import nnlab
        >>> a = nnlab.tensor([[2.0, 0.0, 0.0]])
        >>> b = nnlab.tensor([[0.0, 3.0, 0.0]])
        >>> combine_predictions([a, b], "mean_logits")
        tensor([[1. , 1.5, 0. ]])
        >>> combine_predictions([a, b], "vote")
        tensor([[0.5, 0.5, 0. ]])
    """
    _check_rule(combine, "combine_predictions")
    if isinstance(outputs, Tensor) or len(outputs) == 0:
        raise ValueError(
            "combine_predictions: outputs must be a non-empty sequence of member outputs, "
            f"got {type(outputs).__name__ if isinstance(outputs, Tensor) else 'an empty one'}"
        )
    first = outputs[0]
    for k, z in enumerate(outputs):
        if not isinstance(z, Tensor):
            raise TypeError(
                f"combine_predictions: member {k}'s output must be a Tensor, got {type(z).__name__}"
            )
        if z.ndim < 2 or z.shape != first.shape:
            raise ValueError(
                f"combine_predictions: every member must output logits (N, C, *) of one shape; "
                f"member 0 gave {tuple(first.shape)}, member {k} gave {tuple(z.shape)}"
            )
    logits = stack(list(outputs))  # (K, N, C, *)
    if combine == "mean_logits":
        return logits.mean(0)
    if combine == "mean_probs":
        # log mean exp of the log-probabilities: never forms a probability that underflows
        return F.log_softmax(logits, dim=2).logsumexp(0) - math.log(len(outputs))
    labels = logits.array.argmax(axis=2)  # (K, N, *)
    classes = np.arange(first.shape[1]).reshape((-1,) + (1,) * (first.ndim - 2))
    votes = (labels[:, :, None] == classes).mean(axis=0)  # (N, C, *)
    return Tensor(votes.astype(first.array.dtype))


class Ensemble(Module):
    """K member models whose outputs are combined by ``combine`` (see
    :func:`combine_predictions`): ``"mean_logits"``, ``"mean_probs"`` (returns log of the
    mean probability) or ``"vote"`` (returns the fraction of votes per class).

    The members are held in a :class:`ModuleList` named ``members``, so the ``state_dict``
    keys are ``members.0.weight``, ``members.1.weight``, ... as in PyTorch, and ``train()``,
    ``eval()`` and ``parameters()`` reach every member.

    Args:
        members: the member models (at least one); each maps the same input to logits
            (N, C, *) of one shape.
        combine: the combination rule (default: ``"mean_logits"``).

    Shape:
        - Input: whatever the members take.
        - Output: (N, C, *), the members' output shape.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> ensemble = Ensemble([nn.Linear(4, 3) for _ in range(5)], combine="mean_probs")
        >>> ensemble(nnlab.randn(2, 4)).exp().sum(1)
        tensor([1., 1.], grad_fn=<SumBackward>)
        >>> list(ensemble.state_dict())[:2]
        ['members.0.weight', 'members.0.bias']
    """

    def __init__(self, members: Iterable[Module], combine: str = "mean_logits") -> None:
        super().__init__()
        if isinstance(members, Module) or not isinstance(members, Iterable):
            raise TypeError(
                f"Ensemble: members must be an iterable of modules, got {type(members).__name__}"
            )
        members = list(members)
        if not members:
            raise ValueError("Ensemble: members must hold at least one model, got none")
        for k, member in enumerate(members):
            if not isinstance(member, Module):
                raise TypeError(
                    f"Ensemble: member {k} must be an nnlab Module, got {type(member).__name__}"
                )
        _check_rule(combine, "Ensemble")
        self.combine = combine
        self.members = ModuleList(members)

    @classmethod
    def from_state_dicts(
        cls,
        build: Callable[[], Module],
        state_dicts: Iterable[Mapping[str, Tensor]],
        combine: str = "mean_logits",
    ) -> Ensemble:
        """An ensemble of ``build()`` models, one per state dict (e.g. the snapshots of a
        :class:`SnapshotCollector`), each loaded strictly."""
        members = []
        for state in state_dicts:
            member = build()
            member.load_state_dict(state)
            members.append(member)
        return cls(members, combine)

    def forward(self, *args: object, **kwargs: object) -> Tensor:
        outputs = [member(*args, **kwargs) for member in self.members]
        return combine_predictions(outputs, self.combine)

    def extra_repr(self) -> str:
        return f"combine={self.combine!r}"


def bootstrap_indices(n_samples: int, n_members: int, rng: np.random.Generator) -> np.ndarray:
    """Bagging's training sets: for each of ``n_members`` members, ``n_samples`` indices
    drawn uniformly with replacement from range(n_samples).

    Each example is left out of a given member's sample with probability (1 − 1/n)ⁿ ≈ 1/e,
    so each member sees about 63% of the distinct examples, some of them several times.
    The draws depend only on ``rng``'s state: the same seed gives the same sets.

    Returns:
        int64 array (n_members, n_samples); row k indexes member k's training set.

    Example:
        >>> import numpy as np
        >>> bootstrap_indices(5, 2, np.random.default_rng(0))
        array([[4, 3, 2, 1, 1],
               [0, 0, 0, 0, 4]])
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"bootstrap_indices: rng must be a numpy.random.Generator (np.random.default_rng), "
            f"got {type(rng).__name__}"
        )
    for name, value in (("n_samples", n_samples), ("n_members", n_members)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"bootstrap_indices: {name} must be a positive int, got {value!r}")
    return rng.integers(0, n_samples, size=(n_members, n_samples), dtype=np.int64)


class SnapshotCollector:
    """Drive a cyclic cosine learning rate (SGDR, :class:`CosineAnnealingWarmRestarts`
    with a period of ``cycle_length`` optimiser steps) and keep a copy of the model's
    ``state_dict`` at the end of every cycle: a snapshot ensemble's members.

    Within a cycle the learning rate falls from the optimiser's ``lr`` to ``eta_min`` along
    half a cosine, lr_t = eta_min + (lr − eta_min)·(1 + cos(π·t/T))/2, t = 0, ..., T − 1;
    a snapshot is taken after the cycle's last step, where it is lowest, and the next
    step restarts at ``lr``.

    Call :meth:`step` once after every ``optimizer.step()``.

    Args:
        model: the model whose weights are collected.
        optimizer: its optimiser; its learning rate is the top of every cycle.
        cycle_length: optimiser steps per cycle (positive int).
        eta_min: the learning rate at the bottom of a cycle (default: 0).

    Attributes:
        snapshots: the collected state dicts (copies), oldest first.
        scheduler: the :class:`CosineAnnealingWarmRestarts` that sets the learning rate.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> model = nn.Linear(2, 1)
        >>> opt = nnlab.optim.SGD(model.parameters(), lr=0.1)
        >>> collector = SnapshotCollector(model, opt, cycle_length=3)
        >>> for _ in range(7):
        ...     opt.zero_grad(); model(nnlab.ones(1, 2)).sum().backward(); opt.step()
        ...     collector.step()
        >>> len(collector.snapshots)
        2
    """

    def __init__(
        self, model: Module, optimizer: Optimizer, cycle_length: int, eta_min: float = 0.0
    ) -> None:
        if not isinstance(model, Module):
            raise TypeError(
                f"SnapshotCollector: model must be an nnlab Module, got {type(model).__name__}"
            )
        if isinstance(cycle_length, bool) or not isinstance(cycle_length, int) or cycle_length < 1:
            raise ValueError(
                f"SnapshotCollector: cycle_length must be a positive int, got {cycle_length!r}"
            )
        self.model = model
        self.cycle_length = cycle_length
        self.scheduler = CosineAnnealingWarmRestarts(optimizer, T_0=cycle_length, eta_min=eta_min)
        self.snapshots: list[OrderedDict[str, Tensor]] = []
        self._steps = 0

    def step(self) -> None:
        """Advance the learning rate by one optimiser step; at the end of a cycle, store a
        copy of the model's weights."""
        self.scheduler.step()
        self._steps += 1
        if self._steps % self.cycle_length == 0:
            state = self.model.state_dict()
            self.snapshots.append(OrderedDict((k, v.detach().clone()) for k, v in state.items()))
