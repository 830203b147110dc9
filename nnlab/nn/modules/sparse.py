"""torch's path for the embedding layer (``torch.nn.modules.sparse.Embedding``); it lives
in :mod:`nnlab.nn.modules.embedding`."""

from nnlab.nn.modules.embedding import Embedding

__all__ = ["Embedding"]
