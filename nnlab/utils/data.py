"""``torch.utils.data`` under its torch path: the datasets, samplers and DataLoader of
:mod:`nnlab.data`, so ``from torch.utils.data import DataLoader`` runs unchanged."""

from nnlab.data.dataloader import (
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
    default_collate,
)
from nnlab.data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from nnlab.data.distributed import DistributedSampler, GlobalBatchShardSampler

__all__ = [
    "ConcatDataset", "DataLoader", "Dataset", "DistributedSampler", "GlobalBatchShardSampler",
    "RandomSampler", "Sampler", "SequentialSampler",
    "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
    "random_split",
]  # fmt: skip
