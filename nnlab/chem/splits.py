"""Splitting molecules by scaffold, as MoleculeNet and DeepChem do.

A random split puts close analogues of each test molecule in the training set, so it
measures interpolation within known chemical series. The Bemis–Murcko scaffold (the ring
systems and the linkers between them, side chains removed) names a molecule's series; a
scaffold split keeps every series on one side, so the test set holds scaffolds the model
never saw, closer to the real use of predicting for new chemistry. The usual consequence
is a lower, more honest score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from rdkit.Chem.Scaffolds import MurckoScaffold

from nnlab.chem.graph import parse_smiles

__all__ = ["murcko_scaffold", "scaffold_split"]


def murcko_scaffold(smiles: str, include_chirality: bool = False) -> str:
    """The Bemis–Murcko scaffold's SMILES; ``""`` for a molecule without rings.

    >>> from nnlab.chem.splits import murcko_scaffold
    >>> murcko_scaffold("CCc1ccc(CC2CCNCC2)cc1")
    'c1ccc(CC2CCNCC2)cc1'
    """
    mol = parse_smiles(smiles)
    return MurckoScaffold.MurckoScaffoldSmiles(mol=mol, includeChirality=include_chirality)


def scaffold_split(
    smiles: Sequence[str],
    frac_train: float = 0.8,
    frac_valid: float = 0.1,
    frac_test: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Indices (train, valid, test) with no scaffold in two parts (DeepChem's
    ``ScaffoldSplitter``): scaffold sets go, largest first (ties by their first index),
    into train until it would exceed ``frac_train`` of the molecules, then into valid
    until train + valid would exceed ``frac_train + frac_valid``, the rest into test.
    Deterministic: no randomness at all.
    """
    if (
        min(frac_train, frac_valid, frac_test) < 0
        or abs(frac_train + frac_valid + frac_test - 1) > 1e-8
    ):
        raise ValueError(
            "scaffold_split: fractions must be non-negative and sum to 1, got "
            f"{frac_train}, {frac_valid}, {frac_test}"
        )
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(smiles):
        try:
            scaffold = murcko_scaffold(s)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"scaffold_split: row {i}: {exc}") from None
        groups.setdefault(scaffold, []).append(i)
    ordered = sorted(groups.values(), key=lambda g: (len(g), g[0]), reverse=True)
    n = len(smiles)
    train_cut, valid_cut = frac_train * n, (frac_train + frac_valid) * n
    train: list[int] = []
    valid: list[int] = []
    test: list[int] = []
    for group in ordered:
        if len(train) + len(group) > train_cut:
            if len(train) + len(valid) + len(group) > valid_cut:
                test += group
            else:
                valid += group
        else:
            train += group
    return tuple(np.array(sorted(part), dtype=np.int64) for part in (train, valid, test))
