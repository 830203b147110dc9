"""Ready-made datasets: classic tabular sets, MNIST-1D, synthetic toys, a synthetic
segmentation task, and sequence data (dates to normalise, sentiment posts with negation,
seasonal time series, assistant requests with slot tags), and generated lesion images and
credit/fraud tables (all offline)."""

from nnlab.data.datasets.commands import (
    COMMAND_INTENTS,
    COMMAND_SLOT_TYPES,
    COMMAND_TAGS,
    COMMAND_TEMPLATES,
    HELD_OUT_TEMPLATES,
    SLOT_VALUES,
    Command,
    load_commands,
    make_commands,
)
from nnlab.data.datasets.credit import CREDIT_FEATURES, CreditData, make_credit
from nnlab.data.datasets.dates import (
    DATE_FORMATS,
    DATE_SOURCE_VOCAB,
    DATE_TARGET_VOCAB,
    HELD_OUT_FORMATS,
    EncodedDates,
    decode_dates,
    encode_date_sources,
    encode_dates,
    load_dates,
    make_dates,
)
from nnlab.data.datasets.lesions import LesionImages, fractal_texture, make_lesions
from nnlab.data.datasets.mnist1d import load_mnist1d
from nnlab.data.datasets.sentiment import (
    SENTIMENT_LABELS,
    SentimentSplit,
    load_sentiment,
    load_sentiment_test,
    make_sentiment,
    negation_subset,
)
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
from nnlab.data.datasets.timeseries import (
    forecast_errors,
    make_seasonal_series,
    make_windows,
    naive_forecast,
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
    "DATE_FORMATS",
    "HELD_OUT_FORMATS",
    "EncodedDates",
    "DATE_SOURCE_VOCAB",
    "DATE_TARGET_VOCAB",
    "decode_dates",
    "encode_date_sources",
    "encode_dates",
    "load_dates",
    "make_dates",
    "SENTIMENT_LABELS",
    "SentimentSplit",
    "load_sentiment",
    "load_sentiment_test",
    "make_sentiment",
    "negation_subset",
    "forecast_errors",
    "make_seasonal_series",
    "make_windows",
    "naive_forecast",
    "COMMAND_INTENTS",
    "COMMAND_SLOT_TYPES",
    "COMMAND_TAGS",
    "COMMAND_TEMPLATES",
    "HELD_OUT_TEMPLATES",
    "SLOT_VALUES",
    "Command",
    "load_commands",
    "make_commands",
    "CREDIT_FEATURES",
    "CreditData",
    "make_credit",
    "LesionImages",
    "fractal_texture",
    "make_lesions",
]
