"""Pruning: set chosen weights to zero through a mask, as ``torch.nn.utils.prune`` does.

Pruning ``module.weight`` re-parametrises it the PyTorch way:

* the original values move to a parameter ``weight_orig`` (the same ``Parameter`` object,
  so an optimizer that holds it keeps working);
* a buffer ``weight_mask`` (1 = kept, 0 = pruned, in the parameter's dtype) is saved with
  the ``state_dict``;
* ``weight`` becomes a plain attribute, recomputed as ``weight_orig * weight_mask`` by a
  forward pre-hook before every call, so gradients reach ``weight_orig`` only through kept
  entries.

Pruning a parameter again prunes among the entries (or channels) still kept: ``amount`` is
a fraction of what remains, as in PyTorch's ``PruningContainer``. ``amount`` is a float in
[0, 1] (that fraction, rounded half to even like Python's ``round``) or an int (that many).
:func:`remove` makes the pruning permanent: ``weight`` is a parameter again, holding zeros.

Unstructured zeros do not make a dense matmul cheaper. Two ways to real savings live here
too: :func:`shrink_linear_pair` removes pruned hidden units and returns smaller dense
layers, and :class:`SparseLinear` runs a pruned layer's weight as a ``scipy.sparse`` CSR
matrix.
"""

from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np
import scipy.sparse

import nnlab
from nnlab.nn.module import Module
from nnlab.nn.modules.linear import Linear
from nnlab.nn.parameter import Parameter
from nnlab.tensor import Tensor

__all__ = [
    "L1Unstructured",
    "LnStructured",
    "SparseLinear",
    "custom_from_mask",
    "global_unstructured",
    "is_pruned",
    "l1_unstructured",
    "ln_structured",
    "remove",
    "shrink_linear_pair",
]


def _n_to_prune(amount: float | int, size: int, arg: str = "amount") -> int:
    """How many of ``size`` entries ``amount`` removes: round(amount * size) for a float
    fraction, the number itself for an int."""
    if isinstance(amount, numbers.Integral) and not isinstance(amount, bool):
        if not 0 <= amount <= size:
            raise ValueError(
                f"prune: {arg}={amount} must lie in [0, {size}] (the number of entries "
                "or channels still kept)"
            )
        return int(amount)
    if isinstance(amount, numbers.Real) and not isinstance(amount, bool):
        if not 0.0 <= amount <= 1.0:
            raise ValueError(f"prune: {arg}={amount} must be a fraction in [0, 1]")
        return round(amount * size)
    raise TypeError(f"prune: {arg} must be a float in [0, 1] or an int, got {amount!r}")


def _check_amount(amount: Any) -> None:
    """Reject an ``amount`` that no tensor could satisfy (a negative count, a fraction
    outside [0, 1], a non-number) when the method is built."""
    if isinstance(amount, numbers.Integral) and not isinstance(amount, bool) and amount < 0:
        raise ValueError(f"prune: amount={amount} must be a non-negative number of entries")
    _n_to_prune(amount, amount if isinstance(amount, numbers.Integral) else 1)


class L1Unstructured:
    """Zero the ``amount`` entries of smallest absolute value among those still kept."""

    def __init__(self, amount: float | int) -> None:
        _check_amount(amount)
        self.amount = amount

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The new mask: ``default_mask`` with the k smallest |t| among its kept entries
        set to 0, k counted on the kept entries."""
        mask = default_mask.copy()
        kept = np.flatnonzero(default_mask.reshape(-1) == 1)
        k = _n_to_prune(self.amount, kept.size)
        if k:
            order = np.argsort(np.abs(t.reshape(-1)[kept]), kind="stable")
            mask.reshape(-1)[kept[order[:k]]] = 0
        return mask


class LnStructured:
    """Zero whole slices along ``dim`` (e.g. the output units of a Linear for dim=0): the
    ``amount`` slices of smallest L``n`` norm ‖t[..., i, ...]‖_n among those still kept."""

    def __init__(self, amount: float | int, n: float | str, dim: int = -1) -> None:
        _check_amount(amount)
        self.amount, self.n, self.dim = amount, n, dim

    def _norms(self, t: np.ndarray, dim: int) -> np.ndarray:
        moved = np.moveaxis(t, dim, 0).reshape(t.shape[dim], -1)
        order = {"fro": 2, "inf": np.inf, "-inf": -np.inf}.get(self.n, self.n)
        return np.linalg.norm(moved, ord=order, axis=1)

    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The new mask: ``default_mask`` with the k lowest-norm kept slices along ``dim``
        set to 0 (a slice counts as kept while any of its entries is)."""
        if t.ndim == 0:
            raise ValueError("ln_structured: cannot prune slices of a 0-d tensor")
        dim = self.dim % t.ndim
        others = tuple(d for d in range(t.ndim) if d != dim)
        kept = np.flatnonzero(default_mask.sum(axis=others) != 0)
        k = _n_to_prune(self.amount, kept.size)
        mask = default_mask.copy()
        if k:
            norms = self._norms(t, dim)[kept]
            # the kept slices are the (size - k) largest norms, as torch.topk picks them
            drop = kept[np.argsort(-norms, kind="stable")[kept.size - k :]]
            index = [slice(None)] * t.ndim
            index[dim] = drop
            mask[tuple(index)] = 0
        return mask


class _ApplyMask:
    """The forward pre-hook of a pruned parameter: ``name = name_orig * name_mask``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def masked(self, module: Module) -> Tensor:
        return getattr(module, self.name + "_orig") * getattr(module, self.name + "_mask")

    def __call__(self, module: Module, inputs: tuple[Any, ...]) -> None:
        setattr(module, self.name, self.masked(module))


def _hook_of(module: Module, name: str) -> _ApplyMask | None:
    for hook in module._forward_pre_hooks.values():
        if isinstance(hook, _ApplyMask) and hook.name == name:
            return hook
    return None


def _effective(module: Module, name: str) -> np.ndarray:
    """The current value of ``module.name``: ``name_orig * name_mask`` when pruned (the
    ``name`` attribute is only refreshed by the next forward, so it is stale after an
    optimizer step), the parameter itself otherwise."""
    if _hook_of(module, name) is not None:
        orig = getattr(module, name + "_orig").detach().numpy()
        return orig * getattr(module, name + "_mask").numpy()
    return getattr(module, name).detach().numpy()


def _prune(module: Module, name: str, compute: Any, importance_scores: Tensor | None) -> Module:
    """Replace the mask of ``module.name`` by ``compute(scores, current mask)`` (the scores
    default to the original, unmasked values), re-parametrising it on first use. The mask
    is computed first, so a bad argument leaves the module untouched."""
    hook = _hook_of(module, name)
    if hook is None:
        orig = module._parameters.get(name)
        if not isinstance(orig, Parameter):
            raise AttributeError(
                f"prune: {type(module).__name__} has no parameter {name!r} to prune "
                f"(parameters: {[k for k, v in module._parameters.items() if v is not None]})"
            )
        mask = np.ones(orig.shape, dtype=orig.array.dtype)
    else:
        orig = getattr(module, name + "_orig")
        mask = getattr(module, name + "_mask").numpy()
    scores = orig if importance_scores is None else importance_scores
    if tuple(scores.shape) != tuple(orig.shape):
        raise ValueError(
            f"prune: importance_scores for {name!r} must have shape {tuple(orig.shape)}, "
            f"got {tuple(scores.shape)}"
        )
    new_mask = compute(np.asarray(scores.detach().numpy()), mask)
    if hook is None:
        del module._parameters[name]
        module.register_parameter(name + "_orig", orig)
        module.register_buffer(name + "_mask", nnlab.tensor(new_mask))
        hook = _ApplyMask(name)
        module.register_forward_pre_hook(hook)
    else:
        getattr(module, name + "_mask").array[...] = new_mask
    setattr(module, name, hook.masked(module))
    return module


def l1_unstructured(
    module: Module, name: str, amount: float | int, importance_scores: Tensor | None = None
) -> Module:
    """Prune the ``amount`` entries of ``module.name`` with the smallest absolute value
    (of ``importance_scores`` if given). Returns ``module``."""
    return _prune(module, name, L1Unstructured(amount).compute_mask, importance_scores)


def ln_structured(
    module: Module,
    name: str,
    amount: float | int,
    n: float | str,
    dim: int,
    importance_scores: Tensor | None = None,
) -> Module:
    """Prune the ``amount`` slices of ``module.name`` along ``dim`` with the smallest
    L``n`` norm (dim=0 of a Linear's weight: whole output units). Returns ``module``."""
    return _prune(module, name, LnStructured(amount, n, dim).compute_mask, importance_scores)


def custom_from_mask(module: Module, name: str, mask: Any) -> Module:
    """Prune ``module.name`` with a given 0/1 ``mask`` (multiplied into any existing mask)."""
    mask = np.asarray(mask.numpy() if isinstance(mask, Tensor) else mask)
    return _prune(module, name, lambda t, default: default * mask.astype(default.dtype), None)


def global_unstructured(
    parameters: Iterable[tuple[Module, str]],
    pruning_method: type[L1Unstructured] = L1Unstructured,
    importance_scores: dict[tuple[Module, str], Tensor] | None = None,
    **kwargs: Any,
) -> None:
    """Prune across all of ``parameters`` (``(module, name)`` pairs) as if they were one
    vector: e.g. ``global_unstructured(pairs, L1Unstructured, amount=0.9)`` removes the
    90 % smallest-magnitude weights of the whole network, so layers end up with different
    sparsities. Scores are each parameter's current (masked) values unless given."""
    parameters = list(parameters)
    if not parameters:
        raise ValueError("global_unstructured: parameters is empty")
    importance_scores = importance_scores or {}
    scores, masks = [], []
    for module, name in parameters:
        score = importance_scores.get((module, name))
        score = _effective(module, name) if score is None else score.detach().numpy()
        scores.append(np.asarray(score).reshape(-1))
        existing = getattr(module, name + "_mask", None)
        masks.append(
            np.ones(scores[-1].size, scores[-1].dtype)
            if existing is None
            else existing.numpy().reshape(-1).astype(scores[-1].dtype)
        )
    flat_mask = pruning_method(**kwargs).compute_mask(np.concatenate(scores), np.concatenate(masks))
    start = 0
    for (module, name), score in zip(parameters, scores):
        shape = tuple(getattr(module, name).shape)
        custom_from_mask(module, name, flat_mask[start : start + score.size].reshape(shape))
        start += score.size


def remove(module: Module, name: str) -> Module:
    """Make the pruning of ``module.name`` permanent: ``name`` becomes a parameter again
    (the ``name_orig`` Parameter object, now holding ``orig * mask``); ``name_orig``,
    ``name_mask`` and the hook are gone."""
    hook = _hook_of(module, name)
    if hook is None:
        raise ValueError(f"prune.remove: parameter {name!r} of {module} has to be pruned first")
    for key, value in list(module._forward_pre_hooks.items()):
        if value is hook:
            del module._forward_pre_hooks[key]
    orig = module._parameters.pop(name + "_orig")
    mask = module._buffers.pop(name + "_mask")
    orig.array[...] = orig.array * mask.array
    module.__dict__.pop(name, None)
    module.register_parameter(name, orig)
    return module


def is_pruned(module: Module) -> bool:
    """True when ``module`` or any module inside it carries a pruning hook."""
    return any(
        isinstance(hook, _ApplyMask)
        for m in module.modules()
        for hook in m._forward_pre_hooks.values()
    )


def shrink_linear_pair(first: Linear, second: Linear, keep: Any = None) -> tuple[Linear, Linear]:
    """Remove hidden units between two Linear layers and return smaller dense copies.

    Unit i is ``first``'s output i and ``second``'s input i; ``keep`` lists the kept units
    (indices or a boolean vector). By default they are the rows of ``first.weight`` not
    wholly pruned (e.g. by ``ln_structured(first, "weight", amount, n=2, dim=0)``). The
    copies hold the effective (masked) weights and are not pruned. The kept units'
    activations are unchanged; the next layer loses the removed units' contribution
    ``W2[:, i] · act(b1_i)``, which is zero only if their bias is zero too.
    """
    if not isinstance(first, Linear) or not isinstance(second, Linear):
        raise TypeError(
            "shrink_linear_pair: expected two nnlab.nn.Linear layers, got "
            f"{type(first).__name__} and {type(second).__name__}"
        )
    if first.out_features != second.in_features:
        raise ValueError(
            f"shrink_linear_pair: first.out_features={first.out_features} must equal "
            f"second.in_features={second.in_features}"
        )
    w1, w2 = _effective(first, "weight"), _effective(second, "weight")
    if keep is None:
        keep = np.flatnonzero(np.any(w1 != 0, axis=1))
    keep = np.asarray(keep)
    keep = np.flatnonzero(keep) if keep.dtype == bool else keep.astype(np.int64)
    if keep.size and (keep.min() < 0 or keep.max() >= first.out_features):
        raise IndexError(
            f"shrink_linear_pair: keep must index units in [0, {first.out_features}), "
            f"got {keep.min()}..{keep.max()}"
        )
    dtype = w1.dtype
    small1 = Linear(first.in_features, keep.size, bias=first.bias is not None, dtype=dtype)
    small2 = Linear(keep.size, second.out_features, bias=second.bias is not None, dtype=dtype)
    with nnlab.no_grad():
        small1.weight.array[...] = w1[keep]
        small2.weight.array[...] = w2[:, keep]
        if first.bias is not None:
            small1.bias.array[...] = _effective(first, "bias")[keep]
        if second.bias is not None:
            small2.bias.array[...] = _effective(second, "bias")
    return small1, small2


class SparseLinear(Module):
    """Inference-only y = x Wᵀ + b with W stored as a ``scipy.sparse`` CSR matrix.

    The product is computed as (W xᵀ)ᵀ, a CSR-times-dense kernel whose cost grows with the
    number of nonzeros instead of in × out, so it beats a dense matmul only once most
    weights are zero. No gradient flows through it.
    """

    def __init__(self, weight: scipy.sparse.csr_matrix, bias: np.ndarray | None) -> None:
        super().__init__()
        self.weight_csr = scipy.sparse.csr_matrix(weight)
        self.out_features, self.in_features = self.weight_csr.shape
        self.bias_array = None if bias is None else np.asarray(bias)

    @classmethod
    def from_dense(cls, linear: Linear) -> SparseLinear:
        """The CSR form of a (pruned) Linear's effective weight."""
        if not isinstance(linear, Linear):
            raise TypeError(f"SparseLinear.from_dense: expected a Linear, got {type(linear)}")
        bias = None if linear.bias is None else _effective(linear, "bias")
        return cls(scipy.sparse.csr_matrix(_effective(linear, "weight")), bias)

    @property
    def density(self) -> float:
        """Fraction of the weight's entries stored (nonzero)."""
        return self.weight_csr.nnz / max(1, self.out_features * self.in_features)

    def forward(self, input: Tensor) -> Tensor:
        x = input.detach().numpy() if isinstance(input, Tensor) else np.asarray(input)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"SparseLinear: expected input of shape (N, {self.in_features}), "
                f"got {tuple(x.shape)}"
            )
        y = np.asarray(self.weight_csr @ x.T).T
        if self.bias_array is not None:
            y = y + self.bias_array
        return nnlab.tensor(np.ascontiguousarray(y, dtype=x.dtype))

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"density={self.density:.3f}"
        )
