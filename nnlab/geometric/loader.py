"""A DataLoader of graphs (PyTorch Geometric's ``torch_geometric.loader.DataLoader``): the
ordinary loader, whose collate function joins the sampled graphs into one :class:`Batch`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nnlab.data.dataloader import DataLoader as _BaseLoader
from nnlab.geometric.data import Batch, Data

__all__ = ["Collater", "DataLoader"]


class Collater:
    """Join a list of graphs into a :class:`Batch`."""

    def __call__(self, data_list: Sequence[Data]) -> Batch:
        return Batch.from_data_list(data_list)


class DataLoader(_BaseLoader):
    """Mini-batches of graphs from a sequence of :class:`Data`; every argument but
    ``collate_fn`` is that of :class:`nnlab.utils.data.DataLoader` (``shuffle``,
    ``generator``, ``drop_last``...).

    >>> import nnlab
    >>> from nnlab.geometric.data import Data
    >>> from nnlab.geometric.loader import DataLoader
    >>> graphs = [Data(x=nnlab.ones(n, 1), edge_index=nnlab.tensor([[0], [0]])) for n in (1, 2, 3)]
    >>> [b.num_graphs for b in DataLoader(graphs, batch_size=2)]
    [2, 1]
    """

    def __init__(
        self, dataset: Sequence[Data], batch_size: int = 1, shuffle: bool = False, **kwargs: Any
    ) -> None:
        if "collate_fn" in kwargs:
            raise TypeError("DataLoader of graphs: collate_fn is fixed (graphs become a Batch)")
        super().__init__(
            dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=Collater(), **kwargs
        )
