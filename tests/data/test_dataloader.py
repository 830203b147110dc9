"""Contract tests for nnlab.data datasets, samplers, collation and the DataLoader."""

from __future__ import annotations

import json
import math
from collections import namedtuple

import numpy as np
import pytest

import nnlab
from nnlab.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    random_split,
)


class ListDataset(Dataset):
    """A generic (non-vectorised) dataset returning the same samples as a TensorDataset."""

    def __init__(self, *arrays: np.ndarray) -> None:
        self.arrays = arrays

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, i: int):
        return tuple(nnlab.from_numpy(np.asarray(a[i])) for a in self.arrays)


def _data(n: int = 10):
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n, dtype=np.int64)
    return x, y


def _labels(loader) -> list[list[int]]:
    return [batch[1].tolist() for batch in loader]


# -- length and batching --------------------------------------------------------------------

LEN_CASES = [
    # (n, batch_size, drop_last, expected batch sizes)
    (10, 1, False, [1] * 10),  # SGD
    (10, 3, False, [3, 3, 3, 1]),  # last partial batch
    (10, 3, True, [3, 3, 3]),  # drop_last
    (10, 5, True, [5, 5]),  # exact multiple
    (10, 10, False, [10]),  # full batch
    (10, 11, False, [10]),
    (10, 11, True, []),
]


@pytest.mark.parametrize("n,batch_size,drop_last,sizes", LEN_CASES)
@pytest.mark.parametrize("shuffle", [False, True])
def test_len_and_batch_sizes(n, batch_size, drop_last, sizes, shuffle):
    loader = DataLoader(
        TensorDataset(*_data(n)),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=nnlab.Generator(0),
    )
    assert len(loader) == len(sizes)
    assert [len(y) for _, y in loader] == sizes


def test_sequential_order_and_content():
    x, y = _data(7)
    batches = list(DataLoader(TensorDataset(x, y), batch_size=3))
    assert [b[1].tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    np.testing.assert_array_equal(batches[2][0].numpy(), x[6:7])
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    assert batches[0][0].shape == (3, 3)


def test_batches_are_copies_without_grad():
    x = nnlab.tensor(np.ones((4, 2), np.float32), requires_grad=True)
    xb, _ = next(iter(DataLoader(TensorDataset(x, np.zeros(4)), batch_size=2)))
    assert not xb.requires_grad
    xb.array[:] = 5.0
    assert float(x.array.max()) == 1.0


# -- shuffling ------------------------------------------------------------------------------


def test_shuffle_reproducible_and_different_across_epochs():
    def run(seed):
        loader = DataLoader(
            TensorDataset(*_data(20)), batch_size=6, shuffle=True, generator=nnlab.Generator(seed)
        )
        return [_labels(loader) for _ in range(3)]

    a, b = run(0), run(0)
    assert a == b
    assert a[0] != a[1] != a[2]
    assert run(1) != a
    for epoch in a:  # every epoch is a permutation of all samples
        assert sorted(sum(epoch, [])) == list(range(20))


def test_shuffle_follows_global_seed():
    ds = TensorDataset(*_data(20))
    nnlab.manual_seed(123)
    a = _labels(DataLoader(ds, batch_size=5, shuffle=True))
    nnlab.manual_seed(123)
    b = _labels(DataLoader(ds, batch_size=5, shuffle=True))
    assert a == b
    assert sorted(sum(a, [])) == list(range(20))


# -- fast path == generic path ----------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("drop_last", [False, True])
def test_fast_path_identical_to_generic_path(shuffle, drop_last):
    x, y = _data(23)
    w = np.linspace(0, 1, 23).astype(np.float64)
    fast = DataLoader(
        TensorDataset(x, y, w), batch_size=4, shuffle=shuffle, drop_last=drop_last,
        generator=nnlab.Generator(7),
    )  # fmt: skip
    slow = DataLoader(
        ListDataset(x, y, w), batch_size=4, shuffle=shuffle, drop_last=drop_last,
        generator=nnlab.Generator(7),
    )  # fmt: skip
    forced = DataLoader(
        TensorDataset(x, y, w), batch_size=4, shuffle=shuffle, drop_last=drop_last,
        generator=nnlab.Generator(7), collate_fn=default_collate,
    )  # fmt: skip
    assert fast._get_batch is not None and slow._get_batch is None and forced._get_batch is None
    for _ in range(2):
        for bf, bs, bc in zip(fast, slow, forced, strict=True):
            for tf, ts, tc in zip(bf, bs, bc, strict=True):
                assert tf.dtype == ts.dtype == tc.dtype
                assert tf.shape == ts.shape == tc.shape
                np.testing.assert_array_equal(tf.numpy(), ts.numpy())
                np.testing.assert_array_equal(tf.numpy(), tc.numpy())


def test_fast_path_through_subset():
    x, y = _data(12)
    sub = Subset(TensorDataset(x, y), [11, 3, 5, 0, 7])
    generic = Subset(ListDataset(x, y), [11, 3, 5, 0, 7])
    fast = DataLoader(sub, batch_size=2)
    slow = DataLoader(generic, batch_size=2)
    assert fast._get_batch is not None and slow._get_batch is None
    assert _labels(fast) == _labels(slow) == [[11, 3], [5, 0], [7]]


# -- collation ------------------------------------------------------------------------------

Pair = namedtuple("Pair", ["a", "b"])

COLLATE_CASES = {
    "python ints": ([1, 2, 3], lambda out: out.dtype == np.int64 and out.tolist() == [1, 2, 3]),
    "python floats (float64 as torch)": (
        [1.0, 2.5],
        lambda out: out.dtype == np.float64 and out.tolist() == [1.0, 2.5],
    ),
    "bools": ([True, False], lambda out: out.dtype == np.bool_),
    "numpy scalars keep dtype": (
        [np.float32(1), np.float32(2)],
        lambda out: out.dtype == np.float32 and out.shape == (2,),
    ),
    "arrays stack": (
        [np.zeros((2, 3), np.int32), np.ones((2, 3), np.int32)],
        lambda out: out.shape == (2, 2, 3) and out.dtype == np.int32,
    ),
    "strings stay a list": (["a", "b"], lambda out: out == ["a", "b"]),
    "tuple of fields": (
        [(np.zeros(2, np.float32), 0), (np.ones(2, np.float32), 1)],
        lambda out: isinstance(out, tuple) and out[0].shape == (2, 2) and out[1].tolist() == [0, 1],
    ),
    "list of fields": (
        [[1, 2.0], [3, 4.0]],
        lambda out: isinstance(out, list) and [t.tolist() for t in out] == [[1, 3], [2, 4]],
    ),
    "namedtuple": (
        [Pair(1, 2.0), Pair(3, 4.0)],
        lambda out: isinstance(out, Pair) and out.a.tolist() == [1, 3],
    ),
    "dict, nested": (
        [
            {"x": np.zeros(2), "meta": {"id": 1, "name": "p"}},
            {"x": np.ones(2), "meta": {"id": 2, "name": "q"}},
        ],
        lambda out: (
            out["x"].shape == (2, 2)
            and out["meta"]["id"].tolist() == [1, 2]
            and out["meta"]["name"] == ["p", "q"]
        ),
    ),
}


@pytest.mark.parametrize("case", list(COLLATE_CASES), ids=list(COLLATE_CASES))
def test_default_collate(case):
    batch, check = COLLATE_CASES[case]
    assert check(default_collate(batch))


def test_collate_dict_dataset_through_loader():
    class DictDataset(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": nnlab.tensor([float(i), 0.0]), "y": i}

    batches = list(DataLoader(DictDataset(), batch_size=2))
    assert [b["y"].tolist() for b in batches] == [[0, 1], [2, 3], [4]]
    assert batches[0]["x"].shape == (2, 2)


def test_collate_errors():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="NoneType"):
        default_collate([None, None])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


def test_custom_collate_fn():
    loader = DataLoader(TensorDataset(*_data(5)), batch_size=2, collate_fn=len)
    assert list(loader) == [2, 2, 1]


# -- state save / restore ---------------------------------------------------------------------


@pytest.mark.parametrize("own_generator", [True, False])
def test_state_between_epochs_gives_same_next_epochs(own_generator):
    ds = TensorDataset(*_data(17))
    nnlab.manual_seed(5)
    gen = nnlab.Generator(3) if own_generator else None
    loader = DataLoader(ds, batch_size=4, shuffle=True, generator=gen)
    _labels(loader)  # epoch 1
    state = loader.state_dict()
    expected = [_labels(loader), _labels(loader)]  # epochs 2 and 3

    nnlab.manual_seed(99)  # the resumed process starts from elsewhere
    resumed = DataLoader(
        ds, batch_size=4, shuffle=True, generator=nnlab.Generator(0) if own_generator else None
    )
    resumed.load_state_dict(state)
    assert [_labels(resumed), _labels(resumed)] == expected


def test_state_mid_epoch_resumes_the_same_batches():
    ds = TensorDataset(*_data(23))
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=nnlab.Generator(11))
    _labels(loader)
    it = iter(loader)
    seen = [next(it)[1].tolist(), next(it)[1].tolist()]
    state = loader.state_dict()
    assert state["batches_served"] == 2
    rest_of_epoch = [b[1].tolist() for b in it]
    next_epoch = _labels(loader)

    state = json.loads(json.dumps(state))  # checkpoints may store it as JSON
    resumed = DataLoader(ds, batch_size=5, shuffle=True, generator=nnlab.Generator(0))
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state  # loaded, not yet resumed: the same state
    assert _labels(resumed) == rest_of_epoch
    assert _labels(resumed) == next_epoch
    assert sorted(sum(seen + rest_of_epoch, [])) == list(range(23))


def test_state_of_sequential_loader_skips_served_batches():
    loader = DataLoader(TensorDataset(*_data(10)), batch_size=3)
    it = iter(loader)
    next(it)
    state = loader.state_dict()
    fresh = DataLoader(TensorDataset(*_data(10)), batch_size=3)
    fresh.load_state_dict(state)
    assert _labels(fresh) == [[3, 4, 5], [6, 7, 8], [9]]
    assert _labels(fresh) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]


def test_load_state_dict_missing_keys():
    loader = DataLoader(TensorDataset(*_data(4)))
    with pytest.raises(KeyError, match="batches_served"):
        loader.load_state_dict({"sampler": {}})


# -- samplers ---------------------------------------------------------------------------------


def test_samplers():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    rs = RandomSampler(range(6), generator=nnlab.Generator(0))
    assert sorted(rs) == list(range(6)) and len(rs) == 6
    rs2 = RandomSampler(range(4), num_samples=10, generator=nnlab.Generator(0))
    order = list(rs2)
    assert len(order) == 10 and sorted(order[:4]) == [0, 1, 2, 3]
    rep = RandomSampler(range(3), replacement=True, num_samples=50, generator=nnlab.Generator(0))
    assert set(rep) <= {0, 1, 2} and len(list(rep)) == 50
    assert sorted(SubsetRandomSampler([9, 4, 2], generator=nnlab.Generator(1))) == [2, 4, 9]


def test_weighted_sampler_follows_weights():
    w = np.array([1.0, 3.0, 0.0, 6.0])
    s = WeightedRandomSampler(w, num_samples=20000, generator=nnlab.Generator(0))
    counts = np.bincount(list(s), minlength=4) / 20000
    np.testing.assert_allclose(counts, w / w.sum(), atol=0.02)
    no_rep = WeightedRandomSampler(w, 3, replacement=False, generator=nnlab.Generator(0))
    assert sorted(no_rep) == [0, 1, 3]
    with pytest.raises(ValueError, match="non-zero weights"):
        WeightedRandomSampler(w, 4, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([-1.0, 1.0], 2)


def test_sampler_argument_and_its_exclusions():
    ds = TensorDataset(*_data(6))
    loader = DataLoader(
        ds, batch_size=2, sampler=SubsetRandomSampler([0, 1], generator=nnlab.Generator(0))
    )
    assert len(loader) == 1 and sorted(_labels(loader)[0]) == [0, 1]
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=SequentialSampler(ds), shuffle=True)


@pytest.mark.parametrize("bad", [0, -3])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        DataLoader(TensorDataset(*_data(3)), batch_size=bad)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader(TensorDataset(*_data(3)), batch_size=2.0)


# -- datasets and splits -----------------------------------------------------------------------


def test_tensor_dataset():
    x, y = _data(4)
    ds = TensorDataset(nnlab.from_numpy(x), y, [1.0, 2.0, 3.0, 4.0])
    assert len(ds) == 4
    xi, yi, zi = ds[2]
    np.testing.assert_array_equal(xi.numpy(), x[2])
    assert yi.item() == 2 and zi.dtype == np.float32
    with pytest.raises(ValueError, match=r"same size in dimension 0; got shapes \(4, 3\), \(3,\)"):
        TensorDataset(x, y[:3])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_subset_and_concat():
    a, b = TensorDataset(np.arange(3)), TensorDataset(np.arange(10, 14))
    both = a + b
    assert isinstance(both, ConcatDataset) and len(both) == 7
    assert [both[i][0].item() for i in range(7)] == [0, 1, 2, 10, 11, 12, 13]
    assert both[-1][0].item() == 13
    with pytest.raises(IndexError):
        both[7]
    sub = Subset(both, [6, 0])
    assert [sub[i][0].item() for i in range(len(sub))] == [13, 0]
    with pytest.raises(ValueError, match=r"indices must lie in \[-7, 7\)"):
        Subset(both, [7])
    assert _labels_concat(DataLoader(both, batch_size=4)) == [[0, 1, 2, 10], [11, 12, 13]]


def _labels_concat(loader):
    return [b[0].tolist() for b in loader]


@pytest.mark.parametrize(
    "n,lengths,expected",
    [
        (10, [7, 3], [7, 3]),
        (10, [0.7, 0.3], [7, 3]),
        (11, [0.5, 0.5], [6, 5]),  # leftover goes round-robin
        (10, [0.33, 0.33, 0.34], [4, 3, 3]),
        (5, [5, 0], [5, 0]),
    ],
)
def test_random_split_partition(n, lengths, expected):
    ds = TensorDataset(np.arange(n))
    parts = random_split(ds, lengths, generator=nnlab.Generator(0))
    assert [len(p) for p in parts] == expected
    all_idx = np.concatenate([p.indices for p in parts])
    assert sorted(all_idx.tolist()) == list(range(n))  # disjoint and complete
    again = random_split(ds, lengths, generator=nnlab.Generator(0))
    assert all(np.array_equal(p.indices, q.indices) for p, q in zip(parts, again))


def test_random_split_global_seed_and_errors():
    ds = TensorDataset(np.arange(20))
    nnlab.manual_seed(4)
    a = random_split(ds, [15, 5])
    nnlab.manual_seed(4)
    b = random_split(ds, [15, 5])
    assert np.array_equal(a[1].indices, b[1].indices)
    with pytest.raises(ValueError, match=r"sum to the length of the dataset \(20\)"):
        random_split(ds, [10, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.2])


def test_gradient_descent_flavours():
    ds = TensorDataset(*_data(8))
    assert len(DataLoader(ds, batch_size=1)) == 8  # SGD: one sample per step
    assert len(DataLoader(ds, batch_size=len(ds))) == 1  # full batch: one step per epoch
    assert math.ceil(8 / 3) == len(DataLoader(ds, batch_size=3))  # mini-batch
