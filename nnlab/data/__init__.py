"""Data: datasets, batching and preprocessing (the ``torch.utils.data`` of nnlab).

>>> import nnlab
>>> from nnlab.data import DataLoader, TensorDataset
>>> from nnlab.data.datasets import make_moons
>>> x, y = make_moons(100, noise=0.1, generator=nnlab.Generator(0))
>>> loader = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True)
>>> xb, yb = next(iter(loader))
>>> xb.shape, yb.dtype
(nnlab.Size([32, 2]), nnlab.int64)
"""

from nnlab.data import datasets, transforms
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
from nnlab.data.preprocessing import (
    KFold,
    MinMaxScaler,
    StandardScaler,
    StratifiedKFold,
    one_hot_encode,
    train_test_split,
)
from nnlab.data.transforms import Compose, TransformDataset

__all__ = [
    "Compose",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "GlobalBatchShardSampler",
    "KFold",
    "MinMaxScaler",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StandardScaler",
    "StratifiedKFold",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "TransformDataset",
    "WeightedRandomSampler",
    "datasets",
    "default_collate",
    "one_hot_encode",
    "random_split",
    "train_test_split",
    "transforms",
]
