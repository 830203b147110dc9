"""Einstein summation: ``einsum("ij,jk->ik", a, b)`` is ``a @ b``.

The forward is one ``np.einsum``. Its gradient is einsum again: for
``y[out] = Σ x₁[s₁] · x₂[s₂] · …`` the derivative with respect to ``xᵢ`` is the output
gradient contracted with every other operand, written in ``xᵢ``'s subscripts,

    dL/dxᵢ[sᵢ] = Σ  g[out] · Πⱼ≠ᵢ xⱼ[sⱼ]   (summing over the letters not in sᵢ).

Three cases need care after that einsum: a letter that only ``xᵢ`` has was summed away in
the forward, so the gradient is the same along it (a contraction with ones puts it back);
a size-1 axis that broadcast against a longer one collects the sum of the gradient along
it; and a letter repeated within ``sᵢ`` (``"ii->i"``, a diagonal) sends the gradient to
the diagonal only (a contraction with an identity matrix). The backward uses nothing but
einsum and a sum, so it is itself differentiable.
"""

from __future__ import annotations

import string
from typing import Any, Sequence

import numpy as np

from nnlab.autograd.function import Function
from nnlab.tensor import Tensor

__all__ = ["einsum"]


def _parse(equation: str, ndims: Sequence[int]) -> tuple[list[str], str]:
    """Explicit subscripts: each ``...`` replaced by letters of its own, and the implicit
    output (ellipsis letters, then letters used once, in alphabetical order) written out."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    inputs = lhs.split(",")
    if len(inputs) != len(ndims):
        raise ValueError(
            f"einsum(): {equation!r} names {len(inputs)} operands but {len(ndims)} were given"
        )
    for part in [*inputs, rhs]:
        bad = set(part.replace("...", "")) - set(string.ascii_letters)
        if bad:
            raise ValueError(f"einsum(): invalid subscript {sorted(bad)[0]!r} in {equation!r}")
    spare = [c for c in string.ascii_letters if c not in equation]
    n_ellipsis = max(
        (nd - len(s.replace("...", "")) for s, nd in zip(inputs, ndims) if "..." in s), default=0
    )
    ellipsis = "".join(spare[:n_ellipsis])
    explicit = []
    for s, nd in zip(inputs, ndims):
        if "..." in s:
            k = nd - len(s.replace("...", ""))
            s = s.replace("...", ellipsis[n_ellipsis - k :] if k else "")
        if len(s) != nd:
            raise ValueError(
                f"einsum(): the subscripts {s!r} name {len(s)} dimensions but the operand has {nd}"
            )
        explicit.append(s)
    if arrow:
        out = rhs.replace("...", ellipsis)
    else:
        letters = "".join(explicit)
        out = ellipsis + "".join(
            sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ellipsis)
        )
    return explicit, out


class Einsum(Function):
    """y = einsum(spec, x₁, …, xₙ);  dxᵢ = einsum(out, others → sᵢ) (see the module)."""

    @staticmethod
    def forward(ctx, subscripts, out, *operands):
        ctx.subscripts, ctx.out = subscripts, out
        ctx.save_for_backward(*operands)
        return np.einsum(f"{','.join(subscripts)}->{out}", *operands, optimize=True)

    @staticmethod
    def backward(ctx, g):
        operands = ctx.saved_tensors
        on_tensors = isinstance(g, Tensor)  # create_graph: the backward is recorded too
        contract = einsum if on_tensors else _numpy_einsum
        letters = set(ctx.out).union(*ctx.subscripts)
        fresh = iter(c for c in string.ascii_letters if c not in letters)
        grads = []
        for i, (s, x) in enumerate(zip(ctx.subscripts, operands)):
            if not ctx.needs_input_grad[2 + i]:
                grads.append(None)
                continue
            others = [(t, o) for j, (t, o) in enumerate(zip(ctx.subscripts, operands)) if j != i]
            available = set(ctx.out).union(*(t for t, _ in others))
            unique = "".join(dict.fromkeys(s))
            reached = "".join(c for c in unique if c in available)
            spec = ",".join([ctx.out, *(t for t, _ in others)]) + "->" + reached
            gu = contract(spec, g, *(o for _, o in others))
            sizes = {c: n for c, n in zip(s, x.shape)}
            # Size-1 axes that broadcast in the forward: sum the gradient along them.
            summed = tuple(k for k, c in enumerate(reached) if sizes[c] == 1 and gu.shape[k] != 1)
            if summed:
                gu = gu.sum(summed, True) if on_tensors else gu.sum(summed, keepdims=True)
            # Back to sᵢ's layout, by one more contraction with constants: ones along the
            # letters only xᵢ had (the gradient is the same along them), and an identity
            # matrix for each repeated letter (the gradient lands on the diagonal only).
            target, specs, constants, seen = "", [reached], [], set()
            for c in s:
                if c in seen:
                    d = next(fresh)
                    specs.append(c + d)
                    constants.append(np.eye(sizes[c], dtype=x.dtype))
                    target += d
                    continue
                seen.add(c)
                if c not in available:
                    specs.append(c)
                    constants.append(np.ones(sizes[c], dtype=x.dtype))
                target += c
            if constants or target != reached:
                gu = contract(",".join(specs) + "->" + target, gu, *constants)
            grads.append(gu)
        return (None, None, *grads)


def _numpy_einsum(spec: str, *operands: np.ndarray) -> np.ndarray:
    return np.einsum(spec, *operands, optimize=True)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sum of products over the letters of ``equation``, as ``torch.einsum``.

    Example:
        >>> import nnlab
        >>> a, b = nnlab.ones(2, 3), nnlab.ones(3, 4)
        >>> nnlab.einsum("ij,jk->ik", a, b).shape, nnlab.einsum("ii", nnlab.eye(3)).item()
        (nnlab.Size([2, 4]), 3.0)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [o if isinstance(o, Tensor) else Tensor(o) for o in operands]
    subscripts, out = _parse(equation, [t.ndim for t in tensors])
    for s, t in zip(subscripts, tensors):
        for c in set(s):
            sizes = {t.shape[k] for k, d in enumerate(s) if d == c}
            if len(sizes) > 1:
                raise RuntimeError(
                    f"einsum(): subscript {c!r} is repeated for operand of shape "
                    f"{tuple(t.shape)} but the sizes don't match"
                )
    return Einsum.apply(tuple(subscripts), out, *tensors)
