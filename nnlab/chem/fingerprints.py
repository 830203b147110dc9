"""Morgan (extended-connectivity, ECFP-like) fingerprints through RDKit's fingerprint
generator API (``rdFingerprintGenerator``).

Each atom starts from an identifier of its own invariants (element, degree, charge,
hydrogens, ring membership...); at each of ``radius`` rounds it hashes in its neighbours'
identifiers, so after r rounds an identifier names the circular substructure of radius r
around the atom. Every identifier met is hashed into one of ``n_bits`` positions: radius
2 corresponds to ECFP4 (diameter 4), the usual baseline for molecular property models.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit.Chem import rdFingerprintGenerator

from nnlab.chem.graph import parse_smiles

__all__ = ["morgan_fingerprint"]


def morgan_fingerprint(
    smiles: str | Sequence[str], radius: int = 2, n_bits: int = 2048, counts: bool = False
) -> np.ndarray:
    """Morgan fingerprint bits (or counts) of one SMILES, shape (n_bits,), or of a list,
    shape (n, n_bits), as uint8 (counts as uint32). An unparsable SMILES raises an error
    naming its row.

    >>> from nnlab.chem.fingerprints import morgan_fingerprint
    >>> fp = morgan_fingerprint(["CCO", "c1ccccc1"], n_bits=1024)
    >>> fp.shape, fp.dtype.name, int(fp[1].sum())  # benzene: 3 distinct environments
    ((2, 1024), 'uint8', 3)
    """
    if radius < 0 or n_bits < 1:
        raise ValueError(
            f"morgan_fingerprint: need radius >= 0 and n_bits >= 1, got {radius}, {n_bits}"
        )
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    compute = generator.GetCountFingerprintAsNumPy if counts else generator.GetFingerprintAsNumPy
    if isinstance(smiles, str):
        return compute(parse_smiles(smiles))
    rows = [compute(parse_smiles(s, where=f" (row {i})")) for i, s in enumerate(smiles)]
    dtype = np.uint32 if counts else np.uint8
    return np.stack(rows).astype(dtype) if rows else np.zeros((0, n_bits), dtype=dtype)
