"""Transfer learning: reuse what a network learned on one task for another.

A network trained on a large *source* task has learned, in its lower layers, features that
are not specific to that task (edges, strokes, corners for images; word meaning and
context for text). A *target* task with only a few labelled examples can start from those
features instead of from random weights. Three ways to do it, each a line or two here:

* **feature extraction** — :func:`freeze` the pretrained body, :func:`replace_head` with a
  new, randomly initialised output layer for the target classes, and train only the head.
  Few parameters are fitted, so it works from very few examples and cannot forget;
* **fine-tuning** — replace the head, then train *everything*, the body with a smaller
  learning rate than the new head (:func:`param_groups`), so the good features are
  adjusted rather than overwritten by the large, noisy gradients of a random head;
* **training from scratch** — the baseline both are measured against.

:func:`param_groups_by_name` builds the groups from parameter-name patterns instead (what a
run config's ``[[optimizer.param_groups]]`` gives). The experiments that measure the three
ways are in the repository's ``experiments/`` folder (``vision_transfer.py``,
``text_transfer.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fnmatch import fnmatchcase
from typing import Any

from nnlab.nn.module import Module

__all__ = [
    "freeze",
    "unfreeze",
    "head_name",
    "replace_head",
    "param_groups",
    "param_groups_by_name",
]


def freeze(module: Module) -> Module:
    """Stop training ``module``: every parameter gets ``requires_grad=False``, so backward
    computes no gradient for it and an optimizer leaves it unchanged. Returns ``module``.

    Freezing does not change the mode: a frozen body with batch norm or dropout still
    behaves as in training under ``model.train()``; call ``module.eval()`` as well to fix
    its running statistics.

    Example:
        >>> from nnlab import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> _ = freeze(model[0])
        >>> model.num_parameters(trainable_only=True), model.num_parameters()
        (18, 58)
    """
    if not isinstance(module, Module):
        raise TypeError(f"freeze: expected an nnlab.nn.Module, got {type(module).__name__}")
    return module.requires_grad_(False)


def unfreeze(module: Module) -> Module:
    """Train ``module`` again: every parameter gets ``requires_grad=True``. Returns it.

    Example:
        >>> from nnlab import nn
        >>> layer = freeze(nn.Linear(3, 2))
        >>> unfreeze(layer).num_parameters(trainable_only=True)
        8
    """
    if not isinstance(module, Module):
        raise TypeError(f"unfreeze: expected an nnlab.nn.Module, got {type(module).__name__}")
    return module.requires_grad_(True)


def head_name(model: Module) -> str:
    """The attribute name of ``model``'s output layer: its last direct child that holds
    parameters (``fc3`` of :class:`~nnlab.models.LeNet5`, ``fc`` of a ResNet, ``"2"`` of
    ``Sequential(Linear, ReLU, Linear)``).

    Example:
        >>> from nnlab import nn
        >>> head_name(nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2), nn.ReLU()))
        '2'
    """
    names = [
        name
        for name, child in model.named_children()
        if child is not None and any(True for _ in child.parameters())
    ]
    if not names:
        raise ValueError(
            f"{type(model).__name__} has no child module with parameters, so it has no head "
            "to find; pass the head's attribute name explicitly"
        )
    return names[-1]


def replace_head(model: Module, new_head: Module, name: str | None = None) -> Module:
    """Swap ``model``'s output layer for ``new_head`` (in place) and return the old head.

    The new head is usually a freshly initialised ``Linear`` with the target task's number
    of classes; it takes the old head's place, so a ``Sequential`` keeps its order and the
    ``state_dict`` keys keep their names.

    Args:
        model: the pretrained network.
        new_head: the module to put in place of the head.
        name: the head's attribute name (default: :func:`head_name` of ``model``).

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> from nnlab.models import LeNet5
        >>> model = LeNet5(num_classes=10)
        >>> old = replace_head(model, nn.Linear(84, 3))
        >>> old.out_features, model(nnlab.randn(2, 1, 32, 32)).shape
        (10, nnlab.Size([2, 3]))
    """
    if not isinstance(new_head, Module):
        raise TypeError(
            f"replace_head: new_head must be an nnlab.nn.Module, got {type(new_head).__name__}"
        )
    name = head_name(model) if name is None else name
    if name not in model._modules:
        children = ", ".join(model._modules) or "none"
        raise ValueError(
            f"replace_head: {type(model).__name__} has no child module {name!r} "
            f"(its children: {children})"
        )
    old = model._modules[name]
    setattr(model, name, new_head)
    return old


def param_groups(
    model: Module,
    base_lr: float,
    head_lr: float,
    head: str | Module | None = None,
    **group_options: Any,
) -> list[dict[str, Any]]:
    """Optimizer parameter groups for fine-tuning: the body at ``base_lr``, the head at
    ``head_lr``.

    A freshly initialised head sends large, random gradients into the body during the first
    steps; a body learning rate several times smaller than the head's lets the pretrained
    features move only a little (``base_lr=0`` is feature extraction). Frozen parameters
    (``requires_grad=False``) are left out; an empty group is dropped.

    Args:
        model: the network to fine-tune.
        base_lr: learning rate of every parameter outside the head.
        head_lr: learning rate of the head.
        head: the head module, or its attribute name (default: :func:`head_name`).
        **group_options: other hyper-parameters set in both groups (e.g. weight_decay).

    Returns:
        ``[{"params": body, "lr": base_lr}, {"params": head, "lr": head_lr}]``, ready for
        any ``nnlab.optim`` optimizer.

    Example:
        >>> from nnlab import nn, optim
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> opt = optim.Adam(param_groups(model, base_lr=1e-4, head_lr=1e-2))
        >>> [(g["lr"], len(g["params"])) for g in opt.param_groups]
        [(0.0001, 2), (0.01, 2)]
    """
    if head is None:
        head = head_name(model)
    head_module = model._modules.get(head) if isinstance(head, str) else head
    if not isinstance(head_module, Module):
        raise ValueError(
            f"param_groups: {type(model).__name__} has no head {head!r}; pass the head module "
            "or the attribute name of one of its children"
        )
    head_ids = {id(p) for p in head_module.parameters()}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    top = [p for p in head_module.parameters() if p.requires_grad]
    groups = [
        {"params": body, "lr": base_lr, **group_options},
        {"params": top, "lr": head_lr, **group_options},
    ]
    return [g for g in groups if g["params"]]


def param_groups_by_name(
    model: Module, groups: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Optimizer parameter groups chosen by parameter name.

    Each entry of ``groups`` is a torch-style group whose ``"params"`` is a glob pattern
    (:func:`fnmatch.fnmatchcase`, e.g. ``"encoder.layer.5.*"``) or a list of them. In order,
    each entry takes the parameters whose names match one of its patterns and that no
    earlier entry took, and keeps its other options (``lr``, ``weight_decay``, ...). The
    parameters no entry takes form a first group without options, so the optimizer's
    defaults apply to them; it is left out when empty.

    Raises:
        ValueError: an entry matches no parameter left (the message names the entry by its
            index, ``param_groups[i]``, and shows some parameter names).

    Example:
        >>> from nnlab import nn, optim
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> opt = optim.Adam(param_groups_by_name(model, [{"params": "2.*", "lr": 1e-2}]),
        ...                  lr=1e-4)
        >>> [(g["lr"], len(g["params"])) for g in opt.param_groups]
        [(0.0001, 2), (0.01, 2)]
    """
    named = list(model.named_parameters())
    taken: set[str] = set()
    chosen = []
    for i, group in enumerate(groups):
        patterns = group["params"]
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        members = [
            (n, p)
            for n, p in named
            if n not in taken and any(fnmatchcase(n, pat) for pat in patterns)
        ]
        if not members:
            examples = ", ".join(n for n, _ in named[:4])
            raise ValueError(
                f"param_groups[{i}].params: {patterns} match no parameter not already in an "
                f"earlier group; parameter names look like: {examples}, ..."
            )
        taken.update(n for n, _ in members)
        options = {k: v for k, v in group.items() if k != "params"}
        chosen.append({"params": [p for _, p in members], **options})
    rest = [p for n, p in named if n not in taken]
    return ([{"params": rest}] if rest else []) + chosen
