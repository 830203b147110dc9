"""Data augmentation: random, label-preserving changes to training images.

A network that saw each training image in one position, one orientation and one lighting
learns those accidents along with the object. Augmentation shows it a slightly different
version of every image each epoch (flipped, shifted, rotated, cropped, noisier, darker),
changes that leave the label alone. That enlarges the training set for free and encodes
what we know about the task ("a cat flipped left-right is still a cat"), so the model
must rely on features that survive the changes: less overfitting, better generalisation.
Augment the *training* data only: validation and test images measure the model on the
data as it comes.

Conventions, stated once for every transform here:

* **Images** are NumPy arrays or nnlab Tensors shaped (N, C, H, W), a batch, or (C, H, W),
  one image (add a channel axis to grayscale images: ``x[:, None]``). The result has the
  input's type, dtype and shape (crops: the crop's height and width). Inputs are never
  modified in place.
* **Calls**: ``t(images, generator=None)`` returns the images; ``t(images, target,
  generator=None)`` returns ``(images, target)``.
* **Targets follow by rank.** A target with at least one dimension fewer than the images,
  (N, H, W) or (N, K, H, W) for a batch ((H, W) or (K, H, W) for one image), is a *mask*:
  geometric transforms (flips, crops, shifts, rotations, zooms) give it the very same
  geometry as its image, with nearest-neighbour sampling so no new class values appear,
  and pixels that come from outside the image get ``mask_fill`` (0, background, by default;
  pass your loss's ``ignore_index`` to leave them out). A smaller target, class labels
  (N,) or label vectors (N, K), passes unchanged: geometry does not change a class.
  Photometric transforms (noise, erasing, brightness, normalisation) leave every target
  unchanged; :class:`MixUp` mixes it.
* **Randomness** comes from ``generator`` (an :class:`nnlab.Generator`) or, by default,
  the global generator, so ``nnlab.manual_seed`` fixes every augmented batch. Each sample
  of a batch draws its own parameters, all at once (no Python loop over pixels or samples).

To augment a training set, wrap it in a :class:`TransformDataset` and give only the
training :class:`~nnlab.data.DataLoader` that dataset; a
:class:`~nnlab.data.TensorDataset` underneath keeps the loader's one-batch fast path (the
transform runs once per batch). Call ``.eval()`` on the wrapper to switch augmentation off.
"""

from nnlab.data.transforms.base import Compose, Transform
from nnlab.data.transforms.dataset import TransformDataset
from nnlab.data.transforms.geometric import (
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomScale,
    RandomTranslation,
    RandomVerticalFlip,
)
from nnlab.data.transforms.mixing import MixUp
from nnlab.data.transforms.photometric import ColorJitter, GaussianNoise, Normalize, RandomErasing

__all__ = [
    "Transform",
    "Compose",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "RandomRotation",
    "RandomTranslation",
    "RandomScale",
    "RandomCrop",
    "RandomResizedCrop",
    "GaussianNoise",
    "RandomErasing",
    "ColorJitter",
    "Normalize",
    "MixUp",
    "TransformDataset",
]
