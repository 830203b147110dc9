"""Molecules as graphs, fingerprints and scaffold splits (nnlab.chem): known molecules by
hand, PyG's ``from_smiles`` for the graph structure, RDKit itself for the fingerprint, and
the split's defining properties (disjoint scaffolds, determinism, DeepChem's order)."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem

from nnlab.chem import (
    ATOM_FEATURES,
    BOND_FEATURES,
    from_smiles,
    from_smiles_list,
    load_chembl2321810,
    load_nci_tpsa,
    morgan_fingerprint,
    murcko_scaffold,
    scaffold_split,
)
from nnlab.geometric.data import Batch


def column(name: str) -> int:
    return ATOM_FEATURES.index(name)


def test_benzene_is_a_six_ring_of_aromatic_carbons():
    g = from_smiles("c1ccccc1")
    assert (g.num_nodes, g.num_edges) == (6, 12)
    x, attr = g.x.numpy(), g.edge_attr.numpy()
    assert x.shape == (6, len(ATOM_FEATURES)) and attr.shape == (12, len(BOND_FEATURES))
    assert np.all(x[:, column("element=C")] == 1) and np.all(x[:, column("aromatic")] == 1)
    assert np.all(x[:, column("hydrogens=1")] == 1) and np.all(x[:, column("in_ring")] == 1)
    assert np.all(x[:, column("hybridisation=SP2")] == 1)
    assert np.all(attr[:, BOND_FEATURES.index("bond=aromatic")] == 1)
    np.testing.assert_array_equal(np.bincount(g.edge_index.numpy()[1]), [2] * 6)
    # each block of one-hot columns holds exactly one 1 per atom
    assert x.sum(1).tolist() == [7.0] * 6  # 5 blocks + aromatic + in_ring


def test_acetate_ion_and_acetonitrile():
    g = from_smiles("CC(=O)[O-]")
    x = g.x.numpy()
    assert x[3, column("charge=-1")] == 1 and x[3, column("element=O")] == 1
    assert x[:, column("hydrogens=3")].tolist() == [1, 0, 0, 0]
    bonds = {tuple(e): a for e, a in zip(g.edge_index.numpy().T, g.edge_attr.numpy())}
    assert bonds[(1, 2)][BOND_FEATURES.index("bond=double")] == 1
    nitrile = from_smiles("CC#N")
    assert nitrile.edge_attr.numpy()[:, BOND_FEATURES.index("bond=triple")].sum() == 2
    assert nitrile.x.numpy()[2, column("hybridisation=SP")] == 1


def test_graph_structure_matches_pyg_from_smiles():
    pyg_utils = pytest.importorskip("torch_geometric.utils")
    for smiles in ["CC(=O)Oc1ccccc1C(=O)O", "C1CC1N", "[Na+].[Cl-]", "O"]:
        ours, theirs = from_smiles(smiles), pyg_utils.from_smiles(smiles)
        assert ours.num_nodes == theirs.num_nodes
        np.testing.assert_array_equal(ours.edge_index.numpy(), theirs.edge_index.numpy())
        np.testing.assert_array_equal(  # PyG's column 0 is the atomic number
            ours.x.numpy()[:, column("aromatic")], theirs.x.numpy()[:, 7]
        )


def test_an_ion_pair_without_bonds_batches():
    salt = from_smiles("[Na+].[Cl-]", y=1.0)
    assert (salt.num_nodes, salt.num_edges) == (2, 0)
    batch = Batch.from_data_list([salt, from_smiles("CO", y=2.0)])
    assert batch.batch.tolist() == [0, 0, 1, 1] and batch.y.numpy().ravel().tolist() == [1, 2]


def test_invalid_smiles_names_the_row():
    with pytest.raises(ValueError, match=r"row 1: RDKit could not parse the SMILES 'C1CC'"):
        from_smiles_list(["CCO", "C1CC"])
    with pytest.raises(ValueError, match=r"row 2"):
        morgan_fingerprint(["C", "N", "not a molecule"])
    with pytest.raises(ValueError, match=r"row 0"):
        scaffold_split(["c1ccc"], 1.0, 0.0, 0.0)


def test_morgan_matches_rdkit_bit_vectors():
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "c1ccc2ccccc2c1", "CCN(CC)CC"]
    fp = morgan_fingerprint(smiles, radius=2, n_bits=1024)
    assert fp.shape == (3, 1024) and fp.dtype == np.uint8
    for row, s in zip(fp, smiles):
        # the legacy API, an independent path to the same ECFP4 bits
        bits = AllChem.GetMorganFingerprintAsBitVect(Chem.MolFromSmiles(s), 2, nBits=1024)
        expected = np.zeros(1024, dtype=np.uint8)
        DataStructs.ConvertToNumpyArray(bits, expected)
        np.testing.assert_array_equal(row, expected)
    counts = morgan_fingerprint("CCCC", counts=True)
    assert counts.sum() > morgan_fingerprint("CCCC").sum()


def test_murcko_scaffold_strips_side_chains():
    assert murcko_scaffold("Cc1ccccc1CCO") == "c1ccccc1"
    assert murcko_scaffold("CCCCO") == ""


def test_scaffold_split_is_disjoint_deterministic_and_largest_first():
    smiles, _ = load_chembl2321810()
    smiles = smiles[:300]
    train, valid, test = scaffold_split(smiles, 0.8, 0.1, 0.1)
    assert len(train) + len(valid) + len(test) == len(smiles)
    assert len(np.unique(np.concatenate([train, valid, test]))) == len(smiles)
    scaffolds = [{murcko_scaffold(smiles[i]) for i in part} for part in (train, valid, test)]
    assert not (scaffolds[0] & scaffolds[1] or scaffolds[0] & scaffolds[2])
    assert not scaffolds[1] & scaffolds[2]
    assert len(train) <= 0.8 * len(smiles) and len(train) + len(valid) <= 0.9 * len(smiles)
    again = scaffold_split(list(smiles), 0.8, 0.1, 0.1)
    for a, b in zip((train, valid, test), again):
        np.testing.assert_array_equal(a, b)
    # the largest scaffold set lands in train
    sets: dict[str, int] = {}
    for s in smiles:
        sets[murcko_scaffold(s)] = sets.get(murcko_scaffold(s), 0) + 1
    largest = max(sets, key=sets.get)
    assert largest in scaffolds[0]


def test_scaffold_split_rejects_bad_fractions():
    with pytest.raises(ValueError, match="sum to 1"):
        scaffold_split(["C"], 0.8, 0.3, 0.1)


def test_shipped_data_sets_load():
    smiles, tpsa = load_nci_tpsa(limit=50)
    assert len(smiles) == 50 and tpsa.shape == (50,) and np.all(tpsa >= 0)
    smiles, pic50 = load_chembl2321810()
    assert len(smiles) == 1017 and 4 < pic50.min() < pic50.max() < 10
