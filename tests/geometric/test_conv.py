"""Graph layers (nnlab.geometric.nn) against PyTorch Geometric: the same weights (PyG's
``state_dict`` loaded into nnlab), the same random graphs (isolated nodes, self-loops,
multi-edges), forward and every gradient in float32 and float64; float64 gradcheck of each
layer; GCN's normalisation by hand on a 3-node graph; batching invariance."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from parity import DTYPES, compare_to_torch, load_from_torch, to_lib

import nnlab
from nnlab.autograd import gradcheck
from nnlab.geometric.data import Batch, Data
from nnlab.geometric.nn import (
    AttentionalAggregation,
    GATConv,
    GCNConv,
    GINConv,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)
from nnlab.geometric.nn.conv import gcn_norm

pyg = pytest.importorskip("torch_geometric.nn")

IN, OUT, EDGE = 3, 4, 2


def random_graph(seed: int, n: int = 7, e: int = 12) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Node features (n, IN), edges (2, e+2) among the first n-2 nodes (so the last two are
    isolated) with a forced self-loop and a repeated edge, edge features (e+2, EDGE)."""
    rng = np.random.default_rng(seed)
    ei = rng.integers(0, n - 2, size=(2, e))
    ei = np.concatenate([ei, [[1, ei[0, 0]], [1, ei[1, 0]]]], axis=1)  # loop 1→1, copy of edge 0
    return rng.standard_normal((n, IN)), ei, rng.standard_normal((ei.shape[1], EDGE))


def mlp(lib):
    return lib.nn.Sequential(lib.nn.Linear(IN, 5), lib.nn.ReLU(), lib.nn.Linear(5, OUT))


#: name → (build (lib, pyg-or-nnlab namespace) → layer, uses edge features, edge weights)
LAYERS = {
    "gcn": (lambda lib, ns: ns.GCNConv(IN, OUT), "none"),
    "gcn-weighted-improved": (lambda lib, ns: ns.GCNConv(IN, OUT, improved=True), "weight"),
    "gcn-raw-no-bias": (lambda lib, ns: ns.GCNConv(IN, OUT, normalize=False, bias=False), "weight"),
    "sage-mean": (lambda lib, ns: ns.SAGEConv(IN, OUT), "none"),
    "sage-max-normalize": (
        lambda lib, ns: ns.SAGEConv(IN, OUT, aggr="max", normalize=True),
        "none",
    ),
    "sage-add-no-root": (
        lambda lib, ns: ns.SAGEConv(IN, OUT, aggr="add", root_weight=False),
        "none",
    ),
    "gin": (lambda lib, ns: ns.GINConv(mlp(lib)), "none"),
    "gin-train-eps": (lambda lib, ns: ns.GINConv(mlp(lib), eps=0.3, train_eps=True), "none"),
    "gine": (lambda lib, ns: ns.GINEConv(mlp(lib), train_eps=True, edge_dim=EDGE), "attr"),
    "gat": (lambda lib, ns: ns.GATConv(IN, OUT), "none"),
    "gat-heads-mean": (lambda lib, ns: ns.GATConv(IN, OUT, heads=3, concat=False), "none"),
    "gat-edges-residual": (
        lambda lib, ns: ns.GATConv(IN, OUT, heads=2, edge_dim=EDGE, residual=True),
        "attr",
    ),
}


def _edge_input(kind, lib, attr, dtype):
    if kind == "none":
        return ()
    if kind == "weight":
        return (to_lib(np.abs(attr[:, 0]) + 0.1, lib, dtype),)
    return (to_lib(attr, lib, dtype, grad=True),)


def _setup(name, dtype, seed):
    build, kind = LAYERS[name]
    torch.manual_seed(seed)
    theirs = build(torch, pyg).to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = build(nnlab, nnlab.geometric.nn)
    ours = ours.double() if dtype == np.float64 else ours
    load_from_torch(ours, theirs)
    return ours, theirs, kind


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_pyg(name, seed, dtype):
    ours, theirs, kind = _setup(name, dtype, seed)
    x, ei, attr = random_graph(seed)
    xo, xt = to_lib(x, nnlab, dtype, grad=True), to_lib(x, torch, dtype, grad=True)
    eo, et = _edge_input(kind, nnlab, attr, dtype), _edge_input(kind, torch, attr, dtype)
    out = ours(xo, nnlab.tensor(ei), *eo)
    ref = theirs(xt, torch.from_numpy(ei), *et)
    compare_to_torch(out, ref, dtype, f"{name} output")
    upstream = np.random.default_rng(seed + 10).standard_normal(tuple(ref.shape))
    out.backward(to_lib(upstream, nnlab, dtype))
    ref.backward(to_lib(upstream, torch, dtype))
    compare_to_torch(xo.grad, xt.grad, dtype, f"{name} grad x")
    if kind == "attr":
        compare_to_torch(eo[0].grad, et[0].grad, dtype, f"{name} grad edge_attr")
    ours_params = dict(ours.named_parameters())
    for key, p in theirs.named_parameters():
        compare_to_torch(ours_params[key].grad, p.grad, dtype, f"{name} grad {key}")


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_gradcheck(name):
    build, kind = LAYERS[name]
    nnlab.manual_seed(0)
    layer = build(nnlab, nnlab.geometric.nn).double()
    x, ei, attr = random_graph(3, n=5, e=6)
    extra = _edge_input(kind, nnlab, attr, np.float64)
    params = [p for p in layer.parameters()][:2]

    def fn(x, *rest):
        return layer(x, ei, *extra)

    assert gradcheck(fn, (nnlab.tensor(x, requires_grad=True), *params))


def test_gcn_normalisation_by_hand():
    """Path 0 – 1 – 2 (both directions): with self-loops the degrees are 2, 3, 2, so the
    edge 0→1 gets 1/√6, the loop at 1 gets 1/3 and the loop at 0 gets 1/2."""
    ei = np.array([[0, 1, 1, 2], [1, 0, 2, 1]])
    out_ei, w = gcn_norm(ei, num_nodes=3, dtype=np.float64)
    weights = {(int(s), int(t)): v for s, t, v in zip(*out_ei, w.numpy())}
    expected = {(0, 1): 6**-0.5, (1, 0): 6**-0.5, (1, 2): 6**-0.5, (2, 1): 6**-0.5}
    expected.update({(0, 0): 1 / 2, (1, 1): 1 / 3, (2, 2): 1 / 2})
    assert weights.keys() == expected.keys()
    for key, value in expected.items():
        assert weights[key] == pytest.approx(value, rel=1e-14)
    # the whole layer is D^-1/2 (A + I) D^-1/2 X Θ with Θ = I
    layer = GCNConv(3, 3, bias=False).double()
    layer.lin.weight.data = nnlab.eye(3, dtype=np.float64)
    a_hat = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=float)
    d = np.diag(a_hat.sum(1) ** -0.5)
    x = np.arange(9.0).reshape(3, 3)
    out = layer(nnlab.tensor(x), ei).detach().numpy()
    np.testing.assert_allclose(out, d @ a_hat @ d @ x, rtol=1e-13)


def test_improved_follows_the_documented_formula():
    """Â = A + 2I without edge weights. One edge 0 → 1: in-degrees with the loops are 2 and
    3, so the edge weighs 1/√6, the loop at 0 weighs 2/2 and the loop at 1 weighs 2/3."""
    _, w = gcn_norm(np.array([[0], [1]]), num_nodes=2, improved=True, dtype=np.float64)
    np.testing.assert_allclose(w.numpy(), [6**-0.5, 1.0, 2 / 3], rtol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_pools_match_pyg(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 3))
    batch = np.array([0, 0, 0, 2, 2, 2, 2, 3, 3])  # graph 1 is empty
    tb = torch.from_numpy(batch)
    for ours_fn, theirs_fn in [
        (global_add_pool, pyg.global_add_pool),
        (global_mean_pool, pyg.global_mean_pool),
        (global_max_pool, pyg.global_max_pool),
    ]:
        xo, xt = to_lib(x, nnlab, dtype, grad=True), to_lib(x, torch, dtype, grad=True)
        out, ref = ours_fn(xo, batch, 4), theirs_fn(xt, tb, 4)
        compare_to_torch(out, ref, dtype, ours_fn.__name__)
        (out * out).sum().backward()
        (ref * ref).sum().backward()
        compare_to_torch(xo.grad, xt.grad, dtype, f"{ours_fn.__name__} grad")
    no_batch = global_mean_pool(to_lib(x, nnlab, dtype))
    compare_to_torch(no_batch, pyg.global_mean_pool(to_lib(x, torch, dtype), None), dtype, "one")


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_attentional_aggregation_matches_pyg(dtype):
    torch.manual_seed(0)
    theirs = pyg.AttentionalAggregation(torch.nn.Linear(3, 1), torch.nn.Linear(3, 2))
    theirs = theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    ours = AttentionalAggregation(nnlab.nn.Linear(3, 1), nnlab.nn.Linear(3, 2))
    ours = ours.double() if dtype == np.float64 else ours
    load_from_torch(ours, theirs)
    x = np.random.default_rng(5).standard_normal((6, 3))
    batch = np.array([0, 0, 1, 1, 1, 2])
    xo, xt = to_lib(x, nnlab, dtype, grad=True), to_lib(x, torch, dtype, grad=True)
    out, ref = ours(xo, batch, dim_size=3), theirs(xt, torch.from_numpy(batch), dim_size=3)
    compare_to_torch(out, ref, dtype, "attention pool")
    out.sum().backward()
    ref.sum().backward()
    compare_to_torch(xo.grad, xt.grad, dtype, "attention pool grad x")
    compare_to_torch(ours.gate_nn.weight.grad, theirs.gate_nn.weight.grad, dtype, "gate grad")


def test_a_batch_gives_each_graph_its_own_output():
    """GIN + GAT + sum pooling over a batch of three graphs equals the graphs run alone."""
    nnlab.manual_seed(0)
    conv1, conv2 = GINConv(mlp(nnlab)), GATConv(OUT, 2, heads=2)
    graphs = []
    for seed, n in [(0, 7), (1, 4), (2, 6)]:
        x, ei, _ = random_graph(seed, n=n, e=5)
        graphs.append(Data(x=x.astype(np.float32), edge_index=ei))

    def readout(g):
        h = conv2(conv1(g.x, g.edge_index).relu(), g.edge_index)
        return global_add_pool(h, g.batch, g.num_graphs if isinstance(g, Batch) else None)

    with nnlab.no_grad():
        alone = np.concatenate([readout(g).numpy() for g in graphs])
        together = readout(Batch.from_data_list(graphs)).numpy()
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)


def test_bad_node_features_are_named():
    with pytest.raises(ValueError, match=r"GCNConv.*\(num_nodes, 3\).*\(4, 2\)"):
        GCNConv(3, 2)(nnlab.ones(4, 2), np.array([[0], [1]]))
    with pytest.raises(ValueError, match="edge_index must be an integer array of shape"):
        GCNConv(3, 2)(nnlab.ones(4, 3), np.array([0, 1]))
