"""Property tests: random chains of ops on random shapes.

Hypothesis draws a starting shape and 1-6 ops (elementwise, broadcasting binary ops with
a new leaf, reductions with and without keepdim, reshapes, transposes, softmax, matmul).
Every chain is checked (a) by ``gradcheck`` in float64 and (b) against torch: the same
values and the same gradient for every leaf. Each op is written once, with methods both
libraries share, so the two runs cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nnlab
from nnlab.autograd import gradcheck

MAX_ELEMENTS = 96

UNARY: dict[str, Callable[[Any], Any]] = {
    "tanh": lambda x: x.tanh(),
    "sin": lambda x: x.sin(),
    "sigmoid": lambda x: x.sigmoid(),
    "exp(tanh)": lambda x: x.tanh().exp(),
    "square": lambda x: x * x,
    "cube": lambda x: x**3,
    "log1p(x²)": lambda x: (x * x).log1p(),
    "sqrt(x²+1)": lambda x: (x * x + 1).sqrt(),
    "neg": lambda x: -x,
    "affine": lambda x: 0.5 * x - 0.25,
}

BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "rsub": lambda x, y: y - x,
    "mul": lambda x, y: x * y,
    "div": lambda x, y: x / (y * y + 0.5),
    "rdiv": lambda x, y: y / (x * x + 0.5),
}

REDUCTIONS: dict[str, Callable[[Any, int, bool], Any]] = {
    "sum": lambda x, d, k: x.sum(d, keepdim=k),
    "mean": lambda x, d, k: x.mean(d, keepdim=k),
    "amax": lambda x, d, k: x.amax(d, keepdim=k),
    "logsumexp": lambda x, d, k: x.logsumexp(d, keepdim=k),
    "var": lambda x, d, k: x.var(d, keepdim=k),
    "max values": lambda x, d, k: x.max(d, keepdim=k)[0],
}


@dataclass
class Op:
    kind: str
    name: str
    args: tuple = ()
    leaf: int | None = None  # index of the extra leaf a binary op or matmul uses

    def __call__(self, x: Any, leaves: list[Any]) -> Any:
        if self.kind == "unary":
            return UNARY[self.name](x)
        if self.kind == "binary":
            return BINARY[self.name](x, leaves[self.leaf])
        if self.kind == "reduce":
            return REDUCTIONS[self.name](x, *self.args)
        if self.kind == "sum all":
            return x.sum()
        if self.kind == "softmax":
            return getattr(x, self.name)(self.args[0])
        if self.kind == "reshape":
            return x.reshape(self.args)
        if self.kind == "transpose":
            return x.transpose(*self.args)
        if self.kind == "permute":
            return x.permute(*self.args)
        if self.kind == "unsqueeze":
            return x.unsqueeze(self.args[0])
        if self.kind == "slice":
            return x[::2]
        if self.kind == "matmul":
            return x @ leaves[self.leaf]
        if self.kind == "rmatmul":
            return leaves[self.leaf] @ x
        raise AssertionError(self.kind)

    def __repr__(self) -> str:
        extra = f"{self.args}" if self.args else ""
        return f"{self.name or self.kind}{extra}"


@dataclass
class Chain:
    leaf_values: list[np.ndarray]
    ops: list[Op] = field(default_factory=list)

    def run(self, leaves: list[Any]) -> Any:
        x = leaves[0]
        for op in self.ops:
            x = op(x, leaves)
        return x


def broadcast_partner(draw: Any, shape: tuple[int, ...]) -> tuple[int, ...]:
    """A shape that broadcasts with ``shape``: some dims set to 1, some leading dims dropped,
    or a new leading dim that makes the result larger."""
    dims = [n if draw(st.booleans()) else 1 for n in shape]
    choice = draw(st.sampled_from(["same rank", "drop leading", "new leading"]))
    if choice == "drop leading" and dims:
        dims = dims[draw(st.integers(1, len(dims))) :]
    elif choice == "new leading" and len(shape) < 4 and 2 * int(np.prod(shape)) <= MAX_ELEMENTS:
        dims = [2, *dims]
    return tuple(dims)


@st.composite
def chains(draw: Any) -> Chain:
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def new_leaf(s: tuple[int, ...]) -> int:
        chain.leaf_values.append(rng.uniform(-1.5, 1.5, size=s))
        return len(chain.leaf_values) - 1

    chain = Chain([])
    new_leaf(shape)
    current = nnlab.tensor(chain.leaf_values[0])
    for _ in range(draw(st.integers(1, 6))):
        nd = current.ndim
        kinds = ["unary", "binary"]
        if nd >= 1:
            kinds += ["reduce", "matmul", "softmax", "reshape", "unsqueeze", "slice", "sum all"]
        if nd >= 2:
            kinds += ["rmatmul", "transpose", "permute"]
        kind = draw(st.sampled_from(kinds))
        s = current.shape
        if kind == "unary":
            op = Op(kind, draw(st.sampled_from(sorted(UNARY))))
        elif kind == "binary":
            op = Op(
                kind,
                draw(st.sampled_from(sorted(BINARY))),
                leaf=new_leaf(broadcast_partner(draw, s)),
            )
        elif kind == "reduce":
            name = draw(st.sampled_from(sorted(REDUCTIONS)))
            d = draw(st.integers(-nd, nd - 1))
            if name == "var" and s[d] < 2:
                name = "mean"
            op = Op(kind, name, (d, draw(st.booleans())))
        elif kind == "softmax":
            op = Op(
                kind,
                draw(st.sampled_from(["softmax", "log_softmax"])),
                (draw(st.integers(-nd, nd - 1)),),
            )
        elif kind == "reshape":
            op = Op(kind, "reshape", (-1,) if nd > 1 else (1, s[0]))
        elif kind == "transpose":
            op = Op(
                kind, "transpose", (draw(st.integers(-nd, nd - 1)), draw(st.integers(-nd, nd - 1)))
            )
        elif kind == "permute":
            op = Op(kind, "permute", tuple(draw(st.permutations(range(nd)))))
        elif kind == "unsqueeze":
            op = Op(kind, "unsqueeze", (draw(st.integers(-nd - 1, nd)),))
        elif kind in ("matmul", "rmatmul"):
            k = draw(st.integers(1, 3))
            partner = (s[-1], k) if kind == "matmul" else (k, s[-2])
            op = Op(kind, kind, leaf=new_leaf(partner))
        else:
            op = Op(kind, kind)
        with nnlab.no_grad():
            candidate = op(current, [nnlab.tensor(v) for v in chain.leaf_values])
        if candidate.numel() > MAX_ELEMENTS:
            if op.leaf is not None:
                chain.leaf_values.pop()
            continue
        chain.ops.append(op)
        current = candidate
    return chain


SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)  # fmt: skip


@SETTINGS
@given(chains())
def test_random_chains_pass_gradcheck(chain):
    leaves = [nnlab.tensor(v, requires_grad=True) for v in chain.leaf_values]
    assert gradcheck(lambda *xs: chain.run(list(xs)), leaves)


@SETTINGS
@given(chains(), st.integers(0, 2**32 - 1))
def test_random_chains_match_torch(chain, seed):
    ours = [nnlab.tensor(v, requires_grad=True) for v in chain.leaf_values]
    theirs = [torch.tensor(v, requires_grad=True) for v in chain.leaf_values]
    out, out_t = chain.run(ours), chain.run(theirs)
    assert out.shape == tuple(out_t.shape), chain.ops
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), rtol=1e-10, atol=1e-12)
    weights = np.random.default_rng(seed).standard_normal(out.shape)
    (out * nnlab.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for k, (a, b) in enumerate(zip(ours, theirs)):
        if b.grad is None:  # a leaf the output does not depend on
            assert a.grad is None or not np.any(a.grad.array), k
            continue
        assert a.grad is not None and a.grad.shape == a.shape, k
        np.testing.assert_allclose(
            a.grad.array, b.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"leaf {k}: {chain.ops}"
        )


@SETTINGS
@given(
    st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
    st.data(),
    st.sampled_from(sorted(BINARY)),
)
def test_broadcasting_binary_ops_match_torch(shape, data, name):
    other = broadcast_partner(data.draw, shape)
    if data.draw(st.booleans()):
        shape, other = other, shape
    rng = np.random.default_rng(0)
    a0, b0 = rng.uniform(-1, 1, shape), rng.uniform(-1, 1, other)
    a, b = nnlab.tensor(a0, requires_grad=True), nnlab.tensor(b0, requires_grad=True)
    at, bt = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    out, out_t = BINARY[name](a, b), BINARY[name](at, bt)
    assert out.shape == tuple(out_t.shape)
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), rtol=1e-12)
    weights = rng.standard_normal(out.shape)
    (out * nnlab.tensor(weights)).sum().backward()
    (out_t * torch.tensor(weights)).sum().backward()
    for x, xt in ((a, at), (b, bt)):
        assert x.grad.shape == x.shape
        np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
