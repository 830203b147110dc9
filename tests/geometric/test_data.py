"""Graph containers and batching (nnlab.geometric.data, loader, utils): PyG's Batch as the
reference for the collated tensors, plus the self-loop utilities."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnlab
from nnlab.geometric.data import Batch, Data
from nnlab.geometric.loader import DataLoader
from nnlab.geometric.utils import (
    add_remaining_self_loops,
    add_self_loops,
    degree,
    remove_self_loops,
)

pyg_data = pytest.importorskip("torch_geometric.data")


def graphs(n_graphs: int = 3):
    rng = np.random.default_rng(0)
    out = []
    for g in range(n_graphs):
        n = 2 + g
        ei = rng.integers(0, n, size=(2, 3))
        out.append((rng.standard_normal((n, 2)), ei, rng.standard_normal((3, 1)), [float(g)]))
    return out


def test_batch_matches_pyg():
    raw = graphs()
    ours = Batch.from_data_list([Data(x=x, edge_index=e, edge_attr=a, y=y) for x, e, a, y in raw])
    theirs = pyg_data.Batch.from_data_list([
        pyg_data.Data(x=torch.tensor(x), edge_index=torch.tensor(e), edge_attr=torch.tensor(a),
                      y=torch.tensor(y))
        for x, e, a, y in raw
    ])  # fmt: skip
    for key in ("x", "edge_index", "edge_attr", "y", "batch", "ptr"):
        np.testing.assert_array_equal(getattr(ours, key).numpy(), getattr(theirs, key).numpy())
    assert ours.num_graphs == theirs.num_graphs == 3 and ours.num_nodes == theirs.num_nodes


def test_non_tensor_attributes_become_lists_and_mismatches_are_named():
    a = Data(x=np.ones((1, 1)), smiles="C")
    b = Data(x=np.ones((2, 1)), smiles="CC")
    assert Batch.from_data_list([a, b]).smiles == ["C", "CC"]
    with pytest.raises(ValueError, match="graph 1 has attributes"):
        Batch.from_data_list([a, Data(x=np.ones((1, 1)))])
    with pytest.raises(AttributeError, match="no attribute 'colour'"):
        a.colour  # noqa: B018


def test_loader_shuffles_reproducibly_and_keeps_every_graph():
    data = [
        Data(x=np.full((i + 1, 1), float(i)), edge_index=np.zeros((2, 0), int)) for i in range(5)
    ]
    order = []
    for _ in range(2):
        loader = DataLoader(
            data, batch_size=2, shuffle=True, generator=nnlab.Generator().manual_seed(3)
        )
        batches = list(loader)
        assert [b.num_graphs for b in batches] == [2, 2, 1]
        order.append([float(b.x.numpy()[p, 0]) for b in batches for p in b.ptr.numpy()[:-1]])
    assert order[0] == order[1] and sorted(order[0]) == [0, 1, 2, 3, 4]


def test_self_loop_utilities():
    ei = np.array([[0, 1, 1, 2], [1, 1, 2, 2]])
    w = nnlab.tensor([1.0, 5.0, 2.0, 7.0])
    kept, kept_w = remove_self_loops(ei, w)
    assert kept.tolist() == [[0, 1], [1, 2]] and kept_w.tolist() == [1.0, 2.0]
    looped, looped_w = add_remaining_self_loops(ei, w, fill_value=3.0, num_nodes=4)
    assert looped.tolist() == [[0, 1, 0, 1, 2, 3], [1, 2, 0, 1, 2, 3]]
    assert looped_w.tolist() == [1.0, 2.0, 3.0, 5.0, 7.0, 3.0]
    attr = nnlab.tensor([[2.0], [4.0], [6.0], [8.0]])
    _, mean_attr = add_self_loops(ei, attr, fill_value="mean", num_nodes=3)
    assert mean_attr.tolist()[4:] == [[0.0], [3.0], [7.0]]  # node 0 has no incoming edge
    assert degree(ei[1], 4).tolist() == [0.0, 2.0, 2.0, 0.0]
