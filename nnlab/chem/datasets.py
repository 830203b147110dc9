"""Molecule data sets that ship inside the RDKit wheel (no download), with where each
comes from and what its label means.

* :func:`load_nci_tpsa`: the first 5,000 structures of the NCI open database
  (``rdkit/Data/NCI/first_5k.tpsa.csv``), each with its topological polar surface area
  (TPSA, Å²) as computed by Daylight's tools and Ertl's reference program ``tpsa.c``. A
  regression target computed from the structure itself: a sum of fragment contributions
  of the polar atoms, so a model that sees atoms and their neighbours can learn it
  closely; it tests the learner, not biology.
* :func:`load_chembl2321810`: the 1,017 compounds of one congeneric medicinal-chemistry
  series from ChEMBL (set CHEMBL2321810), shipped as the example of RDKit's Free–Wilson
  contribution (``rdkit/Contrib/FreeWilson/data``), with measured activities as pIC50
  (−log₁₀ of the molar half-maximal inhibitory concentration). A real assay label.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from rdkit import RDConfig

from nnlab.chem.graph import parse_smiles

__all__ = ["load_chembl2321810", "load_nci_tpsa", "rdkit_data_path"]


def rdkit_data_path(*parts: str) -> Path:
    """A file of the installed RDKit: ``("Data", ...)`` or ``("Contrib", ...)``."""
    roots = {"Data": RDConfig.RDDataDir, "Contrib": RDConfig.RDContribDir}
    if parts[0] not in roots:
        raise ValueError(
            f"rdkit_data_path: the first part must be 'Data' or 'Contrib', got {parts[0]!r}"
        )
    path = Path(roots[parts[0]], *parts[1:])
    if not path.exists():
        raise FileNotFoundError(f"rdkit_data_path: {path} is not in this RDKit installation")
    return path


def load_nci_tpsa(limit: int | None = None) -> tuple[list[str], np.ndarray]:
    """SMILES and TPSA (Å², float64) of the first ``limit`` (default all) NCI structures,
    in file order. The file's 4,999 rows include a few that today's RDKit rejects (e.g.
    a five-valent nitrogen written as ``[N+](=O)(=O)``); those rows are skipped.

    >>> from nnlab.chem.datasets import load_nci_tpsa
    >>> smiles, tpsa = load_nci_tpsa(limit=2)
    >>> smiles[0], float(tpsa[0])
    ('CC1=CC(=O)C=CC1=O', 34.14)
    """
    smiles, values = [], []
    path = rdkit_data_path("Data", "NCI", "first_5k.tpsa.csv")
    with open(path) as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            s, value = line.rstrip("\n").rsplit(",", 1)
            if not _parses(s):
                continue
            smiles.append(s)
            values.append(float(value))
            if limit is not None and len(smiles) >= limit:
                break
    return smiles, np.array(values)


def _parses(smiles: str) -> bool:
    try:
        parse_smiles(smiles)
    except ValueError:
        return False
    return True


def load_chembl2321810() -> tuple[list[str], np.ndarray]:
    """SMILES and pIC50 (float64) of the 1,017 compounds of ChEMBL set CHEMBL2321810, in
    the SMILES file's order (activities joined by compound id)."""
    folder = rdkit_data_path("Contrib", "FreeWilson", "data")
    with open(folder / "CHEMBL2321810_act.csv") as f:
        activity = {row["Name"]: float(row["Act"]) for row in csv.DictReader(f)}
    smiles, values = [], []
    with open(folder / "CHEMBL2321810.smi") as f:
        for line in f:
            if line.strip():
                s, name = line.split()
                smiles.append(s)
                values.append(activity[name])
    return smiles, np.array(values)
