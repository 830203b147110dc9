"""Containers: modules that hold other modules, with PyTorch's semantics and key names.

``Sequential`` chains its children (keys "0", "1", ... or the names of an OrderedDict),
``ModuleList`` and ``ModuleDict`` only register them, so their parameters are found by
``parameters()`` and saved by ``state_dict()`` under ``<index or key>.<name>``.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from nnlab.nn.module import Module

__all__ = ["Sequential", "ModuleList", "ModuleDict"]


def _index(n: int, idx: Any, what: str) -> int:
    """A valid non-negative position from a (possibly negative) integer index."""
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for a {what} of length {n}")
    return idx % n


def _renumber(container: Module, modules: Iterable[Module]) -> None:
    """Re-register ``modules`` under the keys "0", "1", ... (after a delete or insert)."""
    container._modules.clear()
    for i, module in enumerate(modules):
        container.add_module(str(i), module)


class Sequential(Module):
    """A chain of modules: the output of each is the input of the next.

    Children are named "0", "1", ... in order, or by the keys of an ``OrderedDict``; the
    names are the ``state_dict`` prefixes, as in PyTorch, so a ``torch.nn.Sequential``'s
    weights load into the twin ``nnlab.nn.Sequential``.

    Args:
        *args: the modules in order, or a single ``OrderedDict`` of name → module.

    Example:
        >>> import nnlab
        >>> from nnlab import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> model(nnlab.randn(5, 4)).shape
        nnlab.Size([5, 2])
        >>> len(model), type(model[-1]).__name__, len(model[:2])
        (3, 'Linear', 2)
        >>> list(model.state_dict())
        ['0.weight', '0.bias', '2.weight', '2.bias']
    """

    def __init__(self, *args: Module | OrderedDict[str, Module]) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input: Any) -> Any:
        for module in self:
            input = module(input)
        return input

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(len(self), idx, "Sequential")]

    def __setitem__(self, idx: int, module: Module) -> None:
        key = list(self._modules)[_index(len(self), idx, "Sequential")]
        self.add_module(key, module)

    def __delitem__(self, idx: int | slice) -> None:
        keys = list(self._modules)
        doomed = (
            keys[idx] if isinstance(idx, slice) else [keys[_index(len(self), idx, "Sequential")]]
        )
        for key in doomed:
            del self._modules[key]
        _renumber(self, list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end (key ``str(len(self))``); returns self."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Insert ``module`` before position ``index``; children are renumbered."""
        modules = list(self._modules.values())
        n = len(modules)
        if not -n <= index <= n:
            raise IndexError(f"index {index} is out of range for a Sequential of length {n}")
        modules.insert(index % (n + 1) if index < 0 else index, module)
        _renumber(self, modules)
        return self

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module


class ModuleList(Module):
    """A list of modules, registered so their parameters belong to the parent.

    Unlike a plain Python list (whose modules would be invisible to ``parameters()``
    and ``state_dict()``), children are registered under "0", "1", ....
    ``ModuleList`` has no ``forward``: the parent decides how to use its items.

    Args:
        modules: an iterable of modules (default: empty).

    Example:
        >>> from nnlab import nn
        >>> layers = nn.ModuleList([nn.Linear(3, 3) for _ in range(2)])
        >>> layers.append(nn.ReLU())
        ModuleList(
          (0): Linear(in_features=3, out_features=3, bias=True)
          (1): Linear(in_features=3, out_features=3, bias=True)
          (2): ReLU()
        )
        >>> len(layers), len(list(layers.parameters()))
        (3, 4)
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx: int | slice) -> Any:
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[_index(len(self), idx, "ModuleList")]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(str(_index(len(self), idx, "ModuleList")), module)

    def __delitem__(self, idx: int | slice) -> None:
        modules = list(self._modules.values())
        if isinstance(idx, slice):
            del modules[idx]
        else:
            del modules[_index(len(self), idx, "ModuleList")]
        _renumber(self, modules)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        if isinstance(modules, Module) or not isinstance(modules, Iterable):
            raise TypeError(
                f"ModuleList.extend should be called with an iterable of modules, "
                f"got {type(modules).__name__}"
            )
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> None:
        modules = list(self._modules.values())
        modules.insert(index, module)
        _renumber(self, modules)

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module


class ModuleDict(Module):
    """A dict of modules, registered under their keys (which become ``state_dict``
    prefixes). Keys keep their insertion order.

    Args:
        modules: a mapping or an iterable of (key, module) pairs (default: empty).

    Example:
        >>> from nnlab import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "reg": nn.Linear(8, 1)})
        >>> list(heads), "cls" in heads, list(heads.state_dict())[:2]
        (['cls', 'reg'], True, ['cls.weight', 'cls.bias'])
    """

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> list[str]:
        return list(self._modules)

    def items(self) -> list[tuple[str, Module]]:
        return list(self._modules.items())

    def values(self) -> list[Module]:
        return list(self._modules.values())

    def clear(self) -> None:
        self._modules.clear()

    def pop(self, key: str) -> Module:
        module = self[key]
        del self[key]
        return module

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        pairs = modules.items() if isinstance(modules, Mapping) else modules
        for j, pair in enumerate(pairs):
            if len(pair) != 2:
                raise ValueError(
                    f"ModuleDict update sequence element #{j} has length {len(pair)}; 2 is required"
                )
            self[pair[0]] = pair[1]
