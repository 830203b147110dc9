"""``Module``: the base class of every layer and model.

A module owns parameters, buffers and submodules, all registered by plain attribute
assignment (``self.fc = Linear(4, 8)``), exactly as in PyTorch. Their attribute paths
become the ``state_dict`` keys (``fc.weight``, ``block.0.bias``), so weights saved from
a PyTorch twin of a model load into the nnlab model and back.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

import numpy as np

from nnlab.nn.parameter import Buffer, Parameter
from nnlab.tensor import Tensor, _to_args

__all__ = ["Module", "ShapeError", "IncompatibleKeys"]


class ShapeError(ValueError):
    """A layer received an input of the wrong shape. The message names the layer's path in
    the model (e.g. ``model.fc2``), the expected and received shapes, and a hint."""


class IncompatibleKeys(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class Module:
    """Base class for all neural-network modules.

    Subclasses create their parameters and submodules in ``__init__`` and define
    ``forward``; calling the module runs ``forward`` (and any hooks).

    Example:
        >>> import nnlab
        >>> from nnlab.nn import Module, Parameter
        >>> class Scale(Module):
        ...     def __init__(self, n):
        ...         super().__init__()
        ...         self.weight = Parameter(nnlab.ones(n))
        ...     def forward(self, x):
        ...         return x * self.weight
        >>> m = Scale(3)
        >>> [name for name, _ in m.named_parameters()]
        ['weight']
        >>> m(nnlab.ones(2, 3)).shape
        nnlab.Size([2, 3])
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_parent", None)
        object.__setattr__(self, "_path_name", None)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward() method")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in self._forward_pre_hooks.values():
            result = hook(self, args)
            if result is not None:
                args = result if isinstance(result, tuple) else (result,)
        out = self.forward(*args, **kwargs)
        for hook in self._forward_hooks.values():
            result = hook(self, args, out)
            if result is not None:
                out = result
        return out

    # -- registration -------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"cannot assign {name!r} before {type(self).__name__}.__init__() called "
                "super().__init__()"
            )
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name)
            self.register_parameter(name, value)
        elif name in params:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as parameter {name!r} of "
                    f"{type(self).__name__} (nnlab.nn.Parameter or None expected)"
                )
            params[name] = None
        elif isinstance(value, Module):
            self._forget(name)
            self.add_module(name, value)
        elif name in modules:
            if value is not None:
                raise TypeError(
                    f"cannot assign {type(value).__name__} as child module {name!r} "
                    "(Module or None expected)"
                )
            modules[name] = None
        elif isinstance(value, Buffer):
            self._forget(name)
            self.register_buffer(name, value, value.persistent)
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r}")
            buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        self.__dict__.pop(name, None)
        for d in (self._parameters, self._buffers, self._modules):
            d.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a None placeholder, e.g. ``bias=False``)."""
        self._check_name(name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign {type(param).__name__} as parameter {name!r} "
                "(nnlab.nn.Parameter or None expected)"
            )
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Any, persistent: bool = True) -> None:
        """Add a buffer: state that is saved (if persistent) but not trained."""
        self._check_name(name)
        if tensor is not None and not isinstance(tensor, Tensor):
            tensor = Tensor(tensor)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module; it becomes reachable as an attribute and in ``state_dict``."""
        self._check_name(name)
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module
        if module is not None:
            object.__setattr__(module, "_parent", weakref.ref(self))
            object.__setattr__(module, "_path_name", name)

    register_module = add_module

    def _check_name(self, name: str) -> None:
        if not isinstance(name, str):
            raise TypeError(f"attribute name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f"attribute name can't contain '.' or be empty, got {name!r}")

    # -- traversal ----------------------------------------------------------------------

    def named_modules(
        self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """Yield (path, module) for this module and every descendant, depth first."""
        memo = set() if memo is None else memo
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            path, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield path, module
            children = [(n, m) for n, m in module._modules.items() if m is not None]
            for name, child in reversed(children):
                stack.append((f"{path}.{name}" if path else name, child))

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool):
        seen: set[int] = set()
        modules = (
            self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
            if recurse
            else [(prefix, self)]
        )
        for path, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield (f"{path}.{name}" if path else name), value

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """Yield (state_dict key, parameter); a parameter shared by two layers appears once."""
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        module = self
        for part in target.split(".") if target else []:
            if part not in module._modules:
                raise AttributeError(
                    f"{type(module).__name__} has no submodule {part!r} ({target})"
                )
            module = module._modules[part]
        return module

    # -- modes and bulk changes -----------------------------------------------------------

    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch norm uses batch statistics)."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter, e.g. for transfer learning."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear the gradients of all parameters (to None by default, as PyTorch)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad = Tensor(np.zeros_like(p.grad.array))

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self, as PyTorch."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Module:
        """Convert floating parameters and buffers to a floating dtype in place; returns self.

        Takes torch's signatures: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(device=..., dtype=...)`` and ``to(tensor)`` (its dtype). nnlab runs on the CPU
        only: ``to("cpu")`` changes nothing, any other device raises a RuntimeError.

        Example:
            >>> import nnlab
            >>> from nnlab import nn
            >>> nn.Linear(2, 1).to("cpu", dtype=nnlab.float64).weight.dtype
            nnlab.float64
        """
        target, _ = _to_args(f"{type(self).__name__}.to", args, kwargs)
        if target is None:
            return self
        if target.kind not in "fc":
            raise TypeError(
                f"{type(self).__name__}.to only accepts floating point dtypes, got {target}"
            )
        for t in [*self.parameters(), *self.buffers()]:
            if t.array.dtype.kind == "f":
                t.array = t.array.astype(target)
                if t.grad is not None:
                    t.grad = Tensor(t.grad.array.astype(target))
        return self

    def cpu(self) -> Module:
        """The module itself: nnlab keeps every parameter on the CPU."""
        return self

    def float(self) -> Module:
        return self.to(np.float32)

    def double(self) -> Module:
        return self.to(np.float64)

    def half(self) -> Module:
        return self.to(np.float16)

    # -- hooks --------------------------------------------------------------------------

    def register_forward_hook(self, hook: Callable[..., Any]) -> Callable[[], None]:
        """``hook(module, inputs, output)`` runs after forward; returns a remover."""
        key = object()
        self._forward_hooks[key] = hook
        return lambda: self._forward_hooks.pop(key, None)

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> Callable[[], None]:
        """``hook(module, inputs)`` runs before forward; returns a remover."""
        key = object()
        self._forward_pre_hooks[key] = hook
        return lambda: self._forward_pre_hooks.pop(key, None)

    # -- state ----------------------------------------------------------------------------

    def state_dict(
        self, destination: dict[str, Any] | None = None, prefix: str = "", keep_vars: bool = False
    ) -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted path, as PyTorch names them."""
        out: OrderedDict[str, Tensor] = OrderedDict() if destination is None else destination
        for path, module in self.named_modules(prefix=prefix.rstrip(".")):
            base = f"{path}." if path else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[base + name] = b if keep_vars else b.detach()
        return out

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True
    ) -> IncompatibleKeys:
        """Copy values (Tensors or NumPy arrays) into this module's parameters and buffers.

        Every problem is collected before raising one error: missing keys, unexpected keys
        (both only when ``strict``) and mis-shaped tensors (always). Values are copied in
        place, so optimizers holding the parameters keep working.
        """
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for key, target in own.items():
            if key in state_dict:
                src = state_dict[key]
                value = src.array if isinstance(src, Tensor) else np.asarray(src)
                if value.shape != target.shape:
                    mismatched.append(
                        f"size mismatch for {key}: copying a param with shape {value.shape} "
                        f"from checkpoint, the shape in current model is {target.shape}."
                    )
        errors = list(mismatched)
        if strict and unexpected:
            errors.insert(
                0,
                "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".",
            )
        if strict and missing:
            errors.insert(
                0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + "."
            )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        for key, target in own.items():
            if key in state_dict:
                src = state_dict[key]
                value = src.array if isinstance(src, Tensor) else np.asarray(src)
                target.array[...] = value.astype(target.array.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # -- introspection --------------------------------------------------------------------

    def path(self) -> str:
        """Where this module sits in its model, e.g. ``model.encoder.fc2``."""
        parts = []
        module: Module | None = self
        while module is not None and module._path_name is not None:
            parts.append(module._path_name)
            parent = module._parent
            module = parent() if parent is not None else None
        return ".".join(["model", *reversed(parts)])

    def shape_error(self, expected: str, received: tuple[int, ...], hint: str = "") -> ShapeError:
        """Build the error a layer raises for a wrong input shape."""
        message = (
            f"{self.path()} ({type(self).__name__}): expected input of shape {expected}, "
            f"got {tuple(received)}."
        )
        return ShapeError(message + (f" Hint: {hint}" if hint else ""))

    def extra_repr(self) -> str:
        """The configuration shown inside the parentheses of ``repr``."""
        return ""

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _repr_lines(self) -> str:
        lines = []
        for name, module in self._modules.items():
            body = repr(module) if module is None else module._repr_lines()
            body = body.replace("\n", "\n  ")
            lines.append(f"({name}): {body}")
        extra = self.extra_repr()
        head = f"{type(self).__name__}({extra}" if extra or lines else f"{type(self).__name__}("
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __repr__(self) -> str:
        # torch's layout exactly, so print(model) and logs read the same in both libraries;
        # the parameter counts are in num_parameters() and nnlab.summary(model).
        return self._repr_lines()

    def __getstate__(self) -> dict[str, Any]:
        """Copies and pickles drop the weak link to the parent; ``__setstate__`` relinks."""
        state = dict(self.__dict__)
        state["_parent"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        for name, child in self._modules.items():
            if child is not None:
                object.__setattr__(child, "_parent", weakref.ref(self))
                object.__setattr__(child, "_path_name", name)

    def __dir__(self) -> list[str]:
        return sorted(
            set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules)
        )
