"""Chemistry for nnlab: molecules as graphs (RDKit), Morgan fingerprints, scaffold splits
and the molecule data sets that ship with RDKit."""

from nnlab.chem.datasets import load_chembl2321810, load_nci_tpsa
from nnlab.chem.fingerprints import morgan_fingerprint
from nnlab.chem.graph import ATOM_FEATURES, BOND_FEATURES, from_smiles, from_smiles_list
from nnlab.chem.splits import murcko_scaffold, scaffold_split

__all__ = [
    "ATOM_FEATURES", "BOND_FEATURES", "from_smiles", "from_smiles_list", "load_chembl2321810",
    "load_nci_tpsa", "morgan_fingerprint", "murcko_scaffold", "scaffold_split",
]  # fmt: skip
