"""Graphs for nnlab, after PyTorch Geometric: graph data and batching
(:mod:`~nnlab.geometric.data`, :mod:`~nnlab.geometric.loader`), edge-list utilities
(:mod:`~nnlab.geometric.utils`) and message-passing layers (:mod:`~nnlab.geometric.nn`)."""

from nnlab.geometric import data, loader, nn, utils
from nnlab.geometric.data import Batch, Data
from nnlab.geometric.loader import DataLoader

__all__ = ["Batch", "Data", "DataLoader", "data", "loader", "nn", "utils"]
