"""Graph neural network layers (PyTorch Geometric's ``torch_geometric.nn``): the
message-passing base, graph convolutions and graph-level pooling."""

from nnlab.geometric.nn.conv import GCNConv, GINConv, GINEConv, SAGEConv
from nnlab.geometric.nn.gat_conv import GATConv
from nnlab.geometric.nn.message_passing import MessagePassing
from nnlab.geometric.nn.pool import (
    AttentionalAggregation,
    global_add_pool,
    global_max_pool,
    global_mean_pool,
)

__all__ = [
    "AttentionalAggregation", "GATConv", "GCNConv", "GINConv", "GINEConv", "MessagePassing",
    "SAGEConv", "global_add_pool", "global_max_pool", "global_mean_pool",
]  # fmt: skip
