"""Molecules as graphs: atoms are nodes, bonds are edges in both directions (PyTorch
Geometric's ``utils.from_smiles``, with one-hot features ready for a network).

Node features (:data:`ATOM_FEATURES`, 36 columns), each a one-hot block with a last
"other" slot where a value can fall outside the list:

* element: C, N, O, F, P, S, Cl, Br, I, B, Si, Se, other (13)
* formal charge: -1, 0, +1, other (4)
* aromatic atom (1)
* total hydrogen count (implicit and explicit): 0, 1, 2, 3, 4 or more (5)
* degree (heavy-atom neighbours): 0, 1, 2, 3, 4, 5 or more (6)
* hybridisation: SP, SP2, SP3, SP3D, SP3D2, other (6)
* atom in a ring (1)

Edge features (:data:`BOND_FEATURES`, 6 columns): bond type one-hot (single, double,
triple, aromatic), conjugated, in a ring.

PyG's ``from_smiles`` stores integer codes (for embedding tables) instead of one-hot
columns, and a few more properties (chirality, radicals, bond stereo); the graph itself
(nodes in RDKit's atom order, edges sorted by source then target) is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from rdkit import Chem, rdBase

from nnlab.geometric.data import Data

__all__ = ["ATOM_FEATURES", "BOND_FEATURES", "from_smiles", "from_smiles_list", "parse_smiles"]

ELEMENTS = ("C", "N", "O", "F", "P", "S", "Cl", "Br", "I", "B", "Si", "Se")
CHARGES = (-1, 0, 1)
HYDROGENS = (0, 1, 2, 3)  # then "4 or more"
DEGREES = (0, 1, 2, 3, 4)  # then "5 or more"
HYBRIDISATIONS = ("SP", "SP2", "SP3", "SP3D", "SP3D2")
BONDS = ("SINGLE", "DOUBLE", "TRIPLE", "AROMATIC")

#: The name of each node-feature column, in order.
ATOM_FEATURES: tuple[str, ...] = (
    *(f"element={e}" for e in ELEMENTS), "element=other",
    *(f"charge={c:+d}" for c in CHARGES), "charge=other",
    "aromatic",
    *(f"hydrogens={h}" for h in HYDROGENS), "hydrogens>=4",
    *(f"degree={d}" for d in DEGREES), "degree>=5",
    *(f"hybridisation={h}" for h in HYBRIDISATIONS), "hybridisation=other",
    "in_ring",
)  # fmt: skip

#: The name of each edge-feature column, in order.
BOND_FEATURES: tuple[str, ...] = (*(f"bond={b.lower()}" for b in BONDS), "conjugated", "in_ring")


def _one_hot(value: Any, choices: Sequence[Any]) -> list[float]:
    """One slot per choice plus a last slot for anything else."""
    row = [0.0] * (len(choices) + 1)
    row[choices.index(value) if value in choices else len(choices)] = 1.0
    return row


def atom_features(atom: Chem.Atom) -> list[float]:
    """The 36 columns of :data:`ATOM_FEATURES` for one RDKit atom."""
    return [
        *_one_hot(atom.GetSymbol(), ELEMENTS),
        *_one_hot(atom.GetFormalCharge(), CHARGES),
        float(atom.GetIsAromatic()),
        *_one_hot(min(atom.GetTotalNumHs(), 4), HYDROGENS),
        *_one_hot(min(atom.GetDegree(), 5), DEGREES),
        *_one_hot(str(atom.GetHybridization()), HYBRIDISATIONS),
        float(atom.IsInRing()),
    ]


def bond_features(bond: Chem.Bond) -> list[float]:
    """The 6 columns of :data:`BOND_FEATURES` for one RDKit bond."""
    kind = _one_hot(str(bond.GetBondType()), BONDS)[:-1]  # dative and others: all zeros
    return [*kind, float(bond.GetIsConjugated()), float(bond.IsInRing())]


def parse_smiles(smiles: str, where: str = "") -> Chem.Mol:
    """The RDKit molecule of ``smiles``, or a ``ValueError`` naming it (and ``where``)."""
    if not isinstance(smiles, str):
        raise TypeError(
            f"parse_smiles: SMILES must be a string, got {type(smiles).__name__}{where}"
        )
    blocker = rdBase.BlockLogs()  # the error below says it better than RDKit's log line
    mol = Chem.MolFromSmiles(smiles)
    del blocker
    if mol is None or not smiles.strip():
        raise ValueError(f"RDKit could not parse the SMILES {smiles!r}{where}")
    return mol


def from_smiles(smiles: str, y: Any = None) -> Data:
    """The graph of a molecule: ``x`` (atoms, 36) float32, ``edge_index`` (2, 2·bonds) with
    each bond in both directions, ``edge_attr`` (2·bonds, 6), and ``smiles``; ``y`` if given.

    >>> from nnlab.chem.graph import from_smiles
    >>> g = from_smiles("c1ccccc1O")  # phenol: 7 heavy atoms, 7 bonds
    >>> g.num_nodes, g.num_edges, g.x.shape[1], g.edge_attr.shape[1]
    (7, 14, 36, 6)
    """
    mol = parse_smiles(smiles)
    x = np.array([atom_features(a) for a in mol.GetAtoms()], dtype=np.float32)
    pairs, attrs = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        feats = bond_features(bond)
        pairs += [(i, j), (j, i)]
        attrs += [feats, feats]
    edge_index = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    edge_attr = np.array(attrs, dtype=np.float32).reshape(-1, len(BOND_FEATURES))
    order = np.lexsort((edge_index[1], edge_index[0]))
    x = x.reshape(-1, len(ATOM_FEATURES))
    data = Data(x=x, edge_index=edge_index[:, order], edge_attr=edge_attr[order], smiles=smiles)
    data.num_nodes = mol.GetNumAtoms()  # kept when there are no bonds (a lone ion)
    if y is not None:
        data.y = np.asarray(y, dtype=np.float32).reshape(1, -1)
    return data


def from_smiles_list(smiles: Sequence[str], y: Any = None) -> list[Data]:
    """:func:`from_smiles` for each row; an unparsable SMILES raises an error naming its row.
    ``y`` gives one target (or row of targets) per molecule."""
    targets = [None] * len(smiles) if y is None else list(np.asarray(y))
    if len(targets) != len(smiles):
        raise ValueError(f"from_smiles_list: {len(smiles)} SMILES but {len(targets)} targets")
    graphs = []
    for row, (s, t) in enumerate(zip(smiles, targets)):
        try:
            graphs.append(from_smiles(s, t))
        except (ValueError, TypeError) as exc:
            raise ValueError(f"from_smiles_list: row {row}: {exc}") from None
    return graphs
