"""Ready-made datasets: classic tabular sets, MNIST-1D, synthetic toys and a synthetic
segmentation task (all offline)."""

from nnlab.data.datasets.mnist1d import load_mnist1d
from nnlab.data.datasets.shapes import SHAPE_CLASSES, make_shapes_segmentation
from nnlab.data.datasets.synthetic import (
    make_circles,
    make_imbalanced,
    make_linearly_separable,
    make_moons,
    make_noisy_sine,
    make_spirals,
    make_xor,
)
from nnlab.data.datasets.tabular import (
    Split,
    load_breast_cancer,
    load_digits,
    load_iris,
    load_wine,
    standardized_split,
)

__all__ = [
    "SHAPE_CLASSES",
    "Split",
    "load_breast_cancer",
    "load_digits",
    "load_iris",
    "load_wine",
    "standardized_split",
    "load_mnist1d",
    "make_circles",
    "make_imbalanced",
    "make_linearly_separable",
    "make_moons",
    "make_noisy_sine",
    "make_shapes_segmentation",
    "make_spirals",
    "make_xor",
]
