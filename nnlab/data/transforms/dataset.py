"""Where augmentation meets the data: a dataset wrapper that the DataLoader batches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from nnlab.data.dataset import Dataset, _batch_getter
from nnlab.data.transforms.base import Transform
from nnlab.random import Generator

__all__ = ["TransformDataset"]


class TransformDataset(Dataset):
    """A dataset whose samples pass through ``transform`` on the way out: the way to
    augment a training set.

    Sample ``(x, y, *rest)`` becomes ``transform(x, y)`` (``paired=True``, the default:
    masks get the image's geometry and class labels pass, as :mod:`nnlab.data.transforms`
    explains) or
    ``transform(x)`` with ``y`` untouched (``paired=False``); ``target_transform(y)`` is then
    applied to the target if given, and the other fields pass. When the wrapped dataset
    has a vectorised ``get_batch`` (a :class:`~nnlab.data.TensorDataset`, or a Subset of
    one) so does this one: the :class:`~nnlab.data.DataLoader` fetches a whole batch and
    the transform runs once on it. That is also the only path that can feed
    :class:`~nnlab.data.transforms.MixUp`, which needs a batch.

    **Training only.** Wrap the training split only and give that dataset to the training
    loader; validation and test loaders read the plain data. ``eval()`` switches the
    transform off (samples come out as stored) and ``train()`` back on, should one wrapper
    serve both.

    **Reproducibility.** Draws come from ``generator`` (default: the global one). Give the
    loader the same generator (or leave both to the global one, seeded by
    ``nnlab.manual_seed``): then one seed fixes shuffling and augmentation, and a
    shuffling loader's ``state_dict`` (which saves that generator's state) resumes both.

    Args:
        dataset: the dataset to wrap.
        transform: applied to the first field of each sample, called as
            ``transform(x, y, generator=...)`` when paired (``transform(x, ...)`` when not;
            plain callables that are not nnlab transforms get no ``generator``).
        target_transform: applied to the second field afterwards (default: None).
        paired: hand the second field to ``transform`` as its target (default: True).
        generator: the source of randomness (default: the global generator).

    Example:
        >>> import nnlab, numpy as np
        >>> from nnlab.data import DataLoader, TensorDataset
        >>> from nnlab.data.transforms import RandomHorizontalFlip
        >>> x = np.random.default_rng(0).random((10, 1, 4, 4), dtype=np.float32)
        >>> y = np.arange(10)
        >>> g = nnlab.Generator(0)
        >>> train = TransformDataset(TensorDataset(x, y), RandomHorizontalFlip(), generator=g)
        >>> loader = DataLoader(train, batch_size=4, shuffle=True, generator=g)
        >>> xb, yb = next(iter(loader))
        >>> xb.shape, bool(np.array_equal(train.eval()[3][0].numpy(), x[3]))
        (nnlab.Size([4, 1, 4, 4]), True)
    """

    def __init__(
        self,
        dataset: Any,
        transform: Callable[..., Any],
        target_transform: Callable[[Any], Any] | None = None,
        *,
        paired: bool = True,
        generator: Generator | None = None,
    ) -> None:
        if not callable(transform):
            raise TypeError(f"TransformDataset: transform must be callable, got {transform!r}")
        if generator is not None and not isinstance(generator, Generator):
            raise TypeError(
                "TransformDataset: generator must be an nnlab.Generator or None, "
                f"got {type(generator).__name__}"
            )
        self.dataset = dataset
        self.transform = transform
        self.target_transform = target_transform
        self.paired = paired
        self.generator = generator
        self.training = True
        self._inner_batch = _batch_getter(dataset)
        if self._inner_batch is not None:
            # only then: the DataLoader takes the fast path when this attribute is callable
            self.get_batch = self._get_batch

    def train(self, mode: bool = True) -> TransformDataset:
        """Switch augmentation on (or off with ``mode=False``); returns self."""
        self.training = bool(mode)
        return self

    def eval(self) -> TransformDataset:
        """Switch augmentation off: samples come out as stored; returns self."""
        return self.train(False)

    def __len__(self) -> int:
        return len(self.dataset)

    def _apply(self, sample: Any) -> Any:
        if not self.training:
            return sample
        kw = {"generator": self.generator} if isinstance(self.transform, Transform) else {}
        if not isinstance(sample, (tuple, list)):
            return self.transform(sample, **kw)
        x, rest = sample[0], list(sample[1:])
        if rest and self.paired:
            x, rest[0] = self.transform(x, rest[0], **kw)
        else:
            x = self.transform(x, **kw)
        if rest and self.target_transform is not None:
            rest[0] = self.target_transform(rest[0])
        return type(sample)([x, *rest]) if isinstance(sample, list) else (x, *rest)

    def __getitem__(self, index: int) -> Any:
        return self._apply(self.dataset[index])

    def _get_batch(self, indices: np.ndarray) -> Any:
        return self._apply(self._inner_batch(indices))

    def __repr__(self) -> str:
        state = "train" if self.training else "eval"
        return f"TransformDataset({type(self.dataset).__name__}, {self.transform!r}, {state})"
