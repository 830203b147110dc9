"""The loss table: one :class:`~parity.OpInfo` per loss function, each with named samples and
the bad inputs torch rejects.

This is the loss section of the op table: ``op_db.OPS`` ends with :data:`LOSSES`, so
``test_ops_parity`` runs every sample through nnlab and PyTorch (values, dtypes and the
gradient of every floating input, in float32 and float64, with the tolerances of
``parity.TOLERANCES``, and NumPy warnings as errors) and checks the error cases, and
``test_ops_gradcheck`` checks the same samples against finite differences in float64.
``test_losses_parity`` and ``test_losses_gradcheck`` keep what only losses have (module
forms, signatures, fused vs composed twins, the nnlab-only losses). The conventions are those of
``parity.py``: a floating array is a differentiable input, :class:`~parity.Const` a floating
tensor without gradient (class weights, and targets torch does not differentiate), an
integer array a tensor of class indices or labels.

Every loss meets each ``reduction``; shapes include a 0-d tensor, a batch of 1, odd sizes and
a non-contiguous view. Classification losses add class weights, ``ignore_index`` (some and
all entries ignored), label smoothing with and without weights, probability targets,
(N, C, d₁, ...) inputs and unbatched (C,) inputs. Where nnlab raises a Python exception class
on purpose (``ValueError`` for a bad value or shape, ``TypeError`` for a wrong dtype) and
torch a ``RuntimeError``, the error case says so with ``nnlab_exc``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as TF
from parity import Const, ErrorCase, OpInfo, Sample, View

import nnlab.nn.functional as F

__all__ = ["LOSSES", "LOSSES_BY_NAME", "REDUCTIONS"]

Rng = np.random.Generator
REDUCTIONS = ("mean", "sum", "none")
#: Shapes of the elementwise losses: 0-d, a single element, odd sizes, a batch of 1, 3-D.
SHAPES = {
    "0d": (),
    "one": (1,),
    "odd": (7,),
    "batch_of_1": (1, 5),
    "matrix": (3, 5),
    "3d": (2, 3, 4),
}


def _quiet(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Call ``fn`` with warnings silenced: broadcasting and kl_div's 'mean' warn in both
    libraries (those warnings are tested on their own)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fn(*args, **kwargs)

    return call


# -- input domains -------------------------------------------------------------------------


def real(rng: Rng, *shape: int, scale: float = 1.5) -> np.ndarray:
    return np.asarray(rng.standard_normal(shape) * scale)


def unit(rng: Rng, *shape: int) -> np.ndarray:
    """Probabilities away from 0 and 1, where BCE's derivative blows up."""
    return np.asarray(rng.uniform(0.05, 0.95, shape))


def signs(rng: Rng, *shape: int) -> np.ndarray:
    return np.asarray(rng.choice([-1.0, 1.0], shape))


def simplex(rng: Rng, *shape: int) -> np.ndarray:
    """Probability vectors along axis 1 (axis 0 for a 1-D shape), all entries > 0."""
    axis = 0 if len(shape) == 1 else 1
    p = rng.uniform(0.1, 1.0, shape)
    return p / p.sum(axis=axis, keepdims=True)


def classes(rng: Rng, n_classes: int, *shape: int) -> np.ndarray:
    return np.asarray(rng.integers(0, n_classes, shape))


def transposed(a: np.ndarray) -> np.ndarray:
    return a.T


def each_reduction(
    name: str, args: tuple[Any, ...], kwargs: dict[str, Any] | None = None, **flags: Any
) -> list[Sample]:
    return [
        Sample(f"{name}-{r}", args, {**(kwargs or {}), "reduction": r}, **flags) for r in REDUCTIONS
    ]


# -- regression ----------------------------------------------------------------------------


def regression(weighted: bool, int_target: bool = True, **kwargs: Any):
    """Elementwise (input, target) losses: every shape and reduction, a transposed view, an
    int64 target (promoted like torch; torch's huber_loss rejects one), a broadcast target,
    and per-element weights."""

    def build(rng: Rng) -> list[Sample]:
        samples = []
        for name, shape in SHAPES.items():
            samples += each_reduction(name, (real(rng, *shape), real(rng, *shape)), kwargs)
        samples += each_reduction(
            "transposed", (View(real(rng, 5, 3), transposed), real(rng, 3, 5)), kwargs
        )
        if int_target:
            target = rng.integers(-2, 3, (3, 4))
            samples.append(Sample("int_target", (real(rng, 3, 4), target), kwargs))
        samples.append(Sample("broadcast_target", (real(rng, 3, 4), real(rng, 4)), kwargs))
        if weighted:
            w = rng.uniform(0.1, 2.0, (3, 5))
            samples += each_reduction(
                "weight", (real(rng, 3, 5), real(rng, 3, 5)), {**kwargs, "weight": w}
            )
            samples += each_reduction(
                "const_weight", (real(rng, 3, 5), real(rng, 3, 5)), {**kwargs, "weight": Const(w)}
            )
        return samples

    return build


def with_params(build: Callable[[Rng], list[Sample]], name: str, values: list[float]):
    """More samples of ``build``'s first entries with each value of a parameter."""

    def more(rng: Rng) -> list[Sample]:
        samples = build(rng)
        for v in values:
            samples += each_reduction(
                f"{name}={v}", (real(rng, 4, 3, scale=2.0), real(rng, 4, 3, scale=2.0)), {name: v}
            )
        return samples

    return more


def regression_errors(op: str, weighted: bool) -> Callable[[], list[ErrorCase]]:
    def build() -> list[ErrorCase]:
        x = np.ones((3, 4))
        cases = [
            # torch's broadcasting error is a RuntimeError; a bad shape is a ValueError here
            ErrorCase(
                "incompatible_shapes",
                (x, np.ones(5)),
                mentions=(op, "(3, 4)", "(5,)"),
                nnlab_exc=ValueError,
            ),
            ErrorCase("bad_reduction", (x, x), {"reduction": "avg"}, mentions=(op, "'avg'")),
        ]
        if weighted:
            cases.append(
                ErrorCase(
                    "weight_shape",
                    (x, x),
                    {"weight": Const(np.ones(4))},
                    mentions=(op, "(4,)", "(3, 4)"),
                )
            )
        return cases

    return build


# -- binary classification -----------------------------------------------------------------


def bce_samples(rng: Rng) -> list[Sample]:
    samples = []
    for name, shape in SHAPES.items():
        samples += each_reduction(name, (unit(rng, *shape), rng.uniform(0, 1, shape)))
    x, hard = unit(rng, 4, 3), rng.integers(0, 2, (4, 3)).astype(np.float64)
    samples += each_reduction("hard_targets", (x, Const(hard)))
    samples += each_reduction(
        "class_weight", (x, Const(hard)), {"weight": Const(rng.uniform(0.5, 2, 3))}
    )
    samples += each_reduction(
        "full_weight",
        (x, rng.uniform(0.1, 0.9, (4, 3))),
        {"weight": Const(rng.uniform(0.5, 2, (4, 3)))},
    )
    # x = 0 or 1: the logs clamp at -100 and the gradient is floored like torch's (±1e12, ±inf)
    edge = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    samples += each_reduction(
        "saturated", (edge, np.array([1.0, 0.0, 0.0, 1.0, 1.0])), gradcheck=False
    )
    return samples


def bce_errors() -> list[ErrorCase]:
    op, p = "binary_cross_entropy", np.full((2, 3), 0.5)
    return [
        # torch raises RuntimeError for out-of-range values; a bad value is a ValueError here
        ErrorCase(
            "input_above_1",
            (p + 0.6, p),
            mentions=(op, "input", "between 0 and 1"),
            nnlab_exc=ValueError,
        ),
        ErrorCase("input_negative", (p - 0.6, p), mentions=(op, "input"), nnlab_exc=ValueError),
        ErrorCase("input_nan", (p * np.nan, p), mentions=(op, "input"), nnlab_exc=ValueError),
        ErrorCase("target_above_1", (p, p * 3), mentions=(op, "target"), nnlab_exc=ValueError),
        ErrorCase("target_shape", (p, np.full(3, 0.5)), mentions=(op, "(3,)", "(2, 3)")),
        ErrorCase(
            "weight_shape",
            (p, p),
            {"weight": Const(np.ones(2))},
            mentions=(op, "(2,)", "(2, 3)"),
            nnlab_exc=ValueError,
        ),
    ]


def bce_logits_samples(rng: Rng) -> list[Sample]:
    samples = []
    for name, shape in SHAPES.items():
        samples += each_reduction(name, (real(rng, *shape, scale=3.0), rng.uniform(0, 1, shape)))
    x, t = real(rng, 4, 3, scale=3.0), rng.uniform(0, 1, (4, 3))
    samples += each_reduction("pos_weight", (x, t), {"pos_weight": Const(rng.uniform(0.5, 3, 3))})
    samples += each_reduction(
        "pos_weight_rows", (x, t), {"pos_weight": Const(rng.uniform(0.5, 3, (4, 1)))}
    )
    samples += each_reduction(
        "weight_and_pos_weight",
        (x, t),
        {"weight": Const(rng.uniform(0.5, 2, 3)), "pos_weight": Const(rng.uniform(0.5, 3, 3))},
    )
    large = np.array([-80.0, -30.0, -5.0, 5.0, 30.0, 80.0])
    samples += each_reduction(
        "large_logits", (large, rng.uniform(0, 1, 6)), {"pos_weight": Const(np.full(6, 2.0))}
    )
    samples.append(Sample("transposed", (View(real(rng, 3, 4), transposed), t)))
    return samples


def bce_logits_errors() -> list[ErrorCase]:
    op, x = "binary_cross_entropy_with_logits", np.zeros((3, 4))
    return [
        ErrorCase("target_shape", (x, np.zeros(4)), mentions=(op, "(4,)", "(3, 4)")),
        ErrorCase(
            "pos_weight_shape",
            (x, x),
            {"pos_weight": Const(np.ones(3))},
            mentions=(op, "pos_weight", "(3,)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase("bad_reduction", (x, x), {"reduction": "batchmean"}, mentions=(op,)),
    ]


# -- multi-class classification ------------------------------------------------------------


def ce_samples(rng: Rng) -> list[Sample]:
    samples = []
    for n, c in [(1, 5), (7, 3), (16, 10)]:
        samples += each_reduction(f"{n}x{c}", (real(rng, n, c), classes(rng, c, n)))
    x, t, w = real(rng, 6, 4), classes(rng, 4, 6), Const(rng.uniform(0.2, 2.0, 4))
    some = t.copy()
    some[[1, 4]] = -100
    options: dict[str, tuple[Any, dict[str, Any]]] = {
        "weight": (t, {"weight": w}),
        "ignored": (some, {}),
        "ignored_weight": (some, {"weight": w}),
        "ignore_index_in_range": (t, {"ignore_index": int(t[0])}),
        "all_ignored": (np.full(6, -100), {}),
        "all_ignored_smoothing": (np.full(6, -100), {"label_smoothing": 0.2, "weight": w}),
        "smoothing": (t, {"label_smoothing": 0.1}),
        "smoothing_weight": (t, {"label_smoothing": 0.3, "weight": w}),
        "smoothing_weight_ignored": (some, {"label_smoothing": 0.3, "weight": w}),
        "full_smoothing": (t, {"label_smoothing": 1.0}),
        "probs": (simplex(rng, 6, 4), {}),
        "probs_weight": (simplex(rng, 6, 4), {"weight": w}),
        "probs_smoothing_weight": (simplex(rng, 6, 4), {"label_smoothing": 0.2, "weight": w}),
        "probs_const": (Const(simplex(rng, 6, 4)), {"label_smoothing": 0.1}),
        "uint8_targets": (t.astype(np.uint8), {}),
    }
    for name, (target, kwargs) in options.items():
        samples += each_reduction(name, (x, target), kwargs)
    t3 = classes(rng, 4, 2, 5)
    t3[0, 1] = -100
    samples += each_reduction("3d", (real(rng, 2, 4, 5), t3), {"weight": w, "label_smoothing": 0.1})
    samples += each_reduction("4d", (real(rng, 2, 3, 3, 2), classes(rng, 3, 2, 3, 2)))
    samples += each_reduction(
        "4d_probs",
        (real(rng, 2, 3, 2, 2), simplex(rng, 2, 3, 2, 2)),
        {"weight": Const(rng.uniform(0.5, 2, 3))},
    )
    samples += each_reduction("probs_target_grad_only", (Const(x), simplex(rng, 6, 4)))
    samples += each_reduction("unbatched", (real(rng, 5), np.array(3)), {"label_smoothing": 0.1})
    samples += each_reduction("unbatched_probs", (real(rng, 5), simplex(rng, 5)))
    samples += each_reduction("large_logits", (real(rng, 4, 6, scale=50.0), classes(rng, 6, 4)))
    samples.append(Sample("transposed", (View(real(rng, 5, 4), transposed), classes(rng, 5, 4))))
    return samples


def ce_errors(op: str) -> Callable[[], list[ErrorCase]]:
    def build() -> list[ErrorCase]:
        x = np.zeros((3, 4))
        cases = [
            ErrorCase(
                "target_too_large", (x, np.array([0, 5, 1])), mentions=(op, "target 5", "4 classes")
            ),
            ErrorCase(
                "target_negative",
                (x, np.array([0, -1, 1])),
                mentions=(op, "target -1", "4 classes"),
            ),
            ErrorCase("batch_mismatch", (x, np.array([0, 1])), mentions=(op, "3", "2")),
            # the rest: torch raises RuntimeError, nnlab ValueError (bad value or shape) or
            # TypeError (wrong dtype)
            ErrorCase(
                "nd_target_shape",
                (np.zeros((2, 4, 5)), np.zeros((2, 6), dtype=np.int64)),
                mentions=(op, "(2, 5)", "(2, 6)"),
                nnlab_exc=ValueError,
            ),
            ErrorCase(
                "2d_target_for_2d_input",
                (x, np.zeros((3, 1), dtype=np.int64)),
                mentions=(op, "(3, 1)"),
                nnlab_exc=ValueError,
            ),
            ErrorCase(
                "weight_size",
                (x, np.array([0, 1, 2])),
                {"weight": Const(np.ones(3))},
                mentions=(op, "(4,)", "(3,)"),
                nnlab_exc=ValueError,
            ),
            ErrorCase(
                "float_class_indices",
                (x, np.array([0.0, 1.0, 2.0])),
                mentions=(op, "float"),
                nnlab_exc=TypeError,
            ),
            ErrorCase(
                "bad_reduction",
                (x, np.array([0, 1, 2])),
                {"reduction": "batchmean"},
                mentions=(op, "'batchmean'"),
            ),
        ]
        if op == "cross_entropy":
            cases += [
                ErrorCase(
                    "label_smoothing_above_1",
                    (x, np.array([0, 1, 2])),
                    {"label_smoothing": 1.5},
                    mentions=(op, "1.5"),
                    nnlab_exc=ValueError,
                ),
                ErrorCase(
                    "integer_probabilities",
                    (x, np.zeros((3, 4), dtype=np.int64)),
                    mentions=(op, "int64"),
                    nnlab_exc=TypeError,
                ),
                ErrorCase(
                    "probs_weight_size",
                    (x, np.full((3, 4), 0.25)),
                    {"weight": Const(np.ones(3))},
                    mentions=(op, "(3,)"),
                    nnlab_exc=ValueError,
                ),
            ]
        else:
            cases.append(ErrorCase("0d_input", (np.zeros(()), np.array(0)), mentions=(op,)))
        return cases

    return build


def nll_samples(rng: Rng) -> list[Sample]:
    def log_probs(*shape: int) -> np.ndarray:
        return np.log(simplex(rng, *shape))

    x, t, w = log_probs(6, 4), classes(rng, 4, 6), Const(rng.uniform(0.2, 2.0, 4))
    some = t.copy()
    some[[0, 3]] = -100
    samples = each_reduction("1x5", (log_probs(1, 5), classes(rng, 5, 1)))
    samples += each_reduction("plain", (x, t))
    samples += each_reduction("weight", (x, t), {"weight": w})
    samples += each_reduction("ignored_weight", (x, some), {"weight": w})
    samples += each_reduction("all_ignored", (x, np.full(6, 7)), {"ignore_index": 7})
    samples += each_reduction("any_scores", (real(rng, 5, 3), classes(rng, 3, 5)))
    t3 = classes(rng, 3, 2, 4)
    t3[1, 2] = -100
    samples += each_reduction("3d", (log_probs(2, 3, 4), t3), {"weight": Const(np.ones(3) * 0.5)})
    samples += each_reduction("4d", (log_probs(2, 3, 2, 2), classes(rng, 3, 2, 2, 2)))
    samples += each_reduction("unbatched", (log_probs(5), np.array(2)))
    # torch's own backward fails on this shape pair ("size mismatch"): values only
    samples += each_reduction("unbatched_target_1", (log_probs(5), np.array([4])), grad=False)
    return samples


def kl_samples(rng: Rng) -> list[Sample]:
    samples = []
    for name, shape in [("matrix", (4, 5)), ("batch_of_1", (1, 3)), ("3d", (2, 3, 4))]:
        for log_target in (False, True):
            target = simplex(rng, *shape)
            target = np.log(target) if log_target else target
            for r in (*REDUCTIONS, "batchmean"):
                samples.append(
                    Sample(
                        f"{name}-log_target={log_target}-{r}",
                        (np.log(simplex(rng, *shape)), target),
                        {"reduction": r, "log_target": log_target},
                    )
                )
    samples.append(
        Sample("0d-batchmean", (np.asarray(-0.5), np.asarray(0.3)), {"reduction": "batchmean"})
    )
    samples.append(
        Sample(
            "zero_target",
            (np.log(simplex(rng, 2, 3)), Const(np.array([[0.0, 0.4, 0.6], [0.5, 0.0, 0.5]]))),
            {"reduction": "sum"},
        )
    )
    samples.append(
        Sample(
            "broadcast_target", (np.log(simplex(rng, 3, 4)), simplex(rng, 4)), {"reduction": "sum"}
        )
    )
    return samples


def kl_errors() -> list[ErrorCase]:
    x = np.zeros((3, 4))
    return [
        ErrorCase("bad_reduction", (x, x), {"reduction": "avg"}, mentions=("kl_div", "'avg'")),
        ErrorCase(
            "incompatible_shapes",
            (x, np.ones(5)),
            mentions=("kl_div", "(3, 4)", "(5,)"),
            nnlab_exc=ValueError,
        ),
    ]


# -- margins and embeddings ----------------------------------------------------------------


def hinge_embedding_samples(rng: Rng) -> list[Sample]:
    samples = []
    for name, shape in SHAPES.items():
        distances = np.asarray(np.abs(real(rng, *shape)))
        samples += each_reduction(name, (distances, Const(signs(rng, *shape))))
    x = np.abs(real(rng, 3, 4))
    samples += each_reduction("margin=0.5", (x, Const(signs(rng, 3, 4))), {"margin": 0.5})
    samples += each_reduction("int_labels", (x, rng.choice([-1, 1], (3, 4))), {"margin": 2.0})
    # labels other than ±1 get both terms (torch's composition)
    samples += each_reduction("other_labels", (x, Const(rng.choice([-1.0, 0.0, 1.0, 2.0], (3, 4)))))
    samples.append(Sample("broadcast_target", (x, Const(signs(rng, 4)))))
    return samples


def multi_margin_samples(rng: Rng) -> list[Sample]:
    samples = []
    x, t = real(rng, 5, 4), classes(rng, 4, 5)
    w = Const(rng.uniform(0.3, 2.0, 4))
    for p in (1, 2):
        samples += each_reduction(f"p={p}", (x, t), {"p": p})
        samples += each_reduction(
            f"p={p}-margin-weight", (x, t), {"p": p, "margin": 0.7, "weight": w}
        )
    samples += each_reduction("batch_of_1", (real(rng, 1, 3), classes(rng, 3, 1)))
    samples += each_reduction("unbatched", (real(rng, 4), np.array(1)), {"p": 2})
    samples += each_reduction("unbatched_target_1", (real(rng, 4), np.array([2])))
    return samples


def multi_margin_errors() -> list[ErrorCase]:
    op, x = "multi_margin_loss", np.zeros((3, 4))
    t = np.array([0, 1, 2])
    return [
        ErrorCase("p=3", (x, t), {"p": 3}, mentions=(op, "p=3")),
        # below: torch raises RuntimeError; nnlab IndexError for a class out of range (as
        # cross_entropy), ValueError for a bad shape, TypeError for a wrong dtype
        ErrorCase(
            "target_out_of_range",
            (x, np.array([0, 1, 4])),
            mentions=(op, "target 4"),
            nnlab_exc=IndexError,
        ),
        ErrorCase(
            "weight_size",
            (x, t),
            {"weight": Const(np.ones(3))},
            mentions=(op, "(3,)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase(
            "target_shape",
            (x, np.array([0, 1])),
            mentions=(op, "(2,)", "(3, 4)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase(
            "3d_input",
            (np.zeros((2, 3, 4)), np.array([0, 1])),
            mentions=(op, "(2, 3, 4)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase(
            "float_target",
            (x, np.array([0.0, 1.0, 2.0])),
            mentions=(op, "float"),
            nnlab_exc=TypeError,
        ),
    ]


def soft_margin_samples(rng: Rng) -> list[Sample]:
    samples = []
    for name, shape in SHAPES.items():
        samples += each_reduction(name, (real(rng, *shape), Const(signs(rng, *shape))))
    samples.append(Sample("broadcast_target", (real(rng, 3, 4), Const(signs(rng, 4)))))
    samples.append(
        Sample(
            "moderately_large",
            (np.array([-60.0, -20.0, 20.0, 60.0]), Const(np.array([1.0, -1.0, 1.0, -1.0]))),
        )
    )
    return samples


def cosine_samples(rng: Rng) -> list[Sample]:
    samples = []
    for n, d in [(1, 3), (5, 4), (4, 1)]:
        target = rng.choice([-1, 1], n)
        # with D = 1, cos = ±1 and its gradient is rounding noise: values only
        samples += each_reduction(
            f"{n}x{d}", (real(rng, n, d), real(rng, n, d), target), grad=d > 1
        )
    x1, x2, t = real(rng, 6, 3), real(rng, 6, 3), Const(signs(rng, 6))
    for margin in (0.3, -0.4):
        samples += each_reduction(f"margin={margin}", (x1, x2, t), {"margin": margin})
    samples += each_reduction("unbatched", (real(rng, 4), real(rng, 4), np.array(-1)))
    samples.append(
        Sample("labels_0", (x1, x2, np.array([0, 1, -1, 0, 1, -1])), {"reduction": "none"})
    )
    return samples


def cosine_errors() -> list[ErrorCase]:
    op, x = "cosine_embedding_loss", np.ones((3, 4))
    return [
        ErrorCase(
            "2d_target", (x, x, np.ones((3, 1))), mentions=(op, "(3, 1)"), nnlab_exc=ValueError
        ),
        ErrorCase(
            "0d_target_2d_inputs",
            (x, x, np.array(1.0)),
            mentions=(op, "(3, 4)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase(
            "feature_mismatch",
            (x, np.ones((3, 5)), np.ones(3)),
            mentions=(op, "(3, 4)", "(3, 5)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase(
            "batch_mismatch", (x, x, np.ones(2)), mentions=(op, "(2,)"), nnlab_exc=ValueError
        ),
    ]


def ranking_samples(rng: Rng) -> list[Sample]:
    samples = each_reduction("odd", (real(rng, 7), real(rng, 7), signs(rng, 7)))
    samples += each_reduction(
        "margin", (real(rng, 5), real(rng, 5), signs(rng, 5)), {"margin": 0.5}
    )
    samples += each_reduction("0d", (real(rng), real(rng), np.asarray(-1.0)), {"margin": 0.3})
    samples += each_reduction("broadcast", (real(rng, 4), real(rng, 1), signs(rng, 4)))
    samples.append(Sample("int_target", (real(rng, 4), real(rng, 4), rng.choice([-1, 1], 4))))
    return samples


def ranking_errors() -> list[ErrorCase]:
    op = "margin_ranking_loss"
    return [
        ErrorCase(
            "dims",
            (np.ones(3), np.ones(3), np.ones((3, 1))),
            mentions=(op, "(3, 1)"),
            nnlab_exc=ValueError,
        ),
        ErrorCase(
            "shapes",
            (np.ones(3), np.ones(4), np.ones(3)),
            mentions=(op, "(3,)", "(4,)"),
            nnlab_exc=ValueError,
        ),
    ]


def triplet_samples(rng: Rng) -> list[Sample]:
    samples = []
    a, p, n = real(rng, 5, 4), real(rng, 5, 4), real(rng, 5, 4)
    for norm in (2, 1, 3, 1.5, float("inf")):
        for swap in (False, True):
            samples.append(Sample(f"p={norm}-swap={swap}", (a, p, n), {"p": norm, "swap": swap}))
    samples += each_reduction("margin", (a, p, n), {"margin": 2.5, "eps": 1e-3})
    samples += each_reduction("batch_of_1", (real(rng, 1, 3), real(rng, 1, 3), real(rng, 1, 3)))
    samples += each_reduction(
        "unbatched", (real(rng, 4), real(rng, 4), real(rng, 4)), {"margin": 3.0}
    )
    samples.append(Sample("broadcast_positive", (a, real(rng, 1, 4), n), {"reduction": "none"}))
    samples.append(
        Sample(
            "3d",
            (real(rng, 2, 3, 4), real(rng, 2, 3, 4), real(rng, 2, 3, 4)),
            {"reduction": "none", "swap": True},
        )
    )
    return samples


def triplet_errors() -> list[ErrorCase]:
    op, x = "triplet_margin_loss", np.ones((3, 4))
    return [
        ErrorCase("margin_0", (x, x, x), {"margin": 0.0}, mentions=(op, "margin", "0.0")),
        ErrorCase(
            "dims", (x, x, np.ones(4)), mentions=(op, "(3, 4)", "(4,)"), nnlab_exc=ValueError
        ),
        ErrorCase("shapes", (x, np.ones((3, 5)), x), mentions=(op, "(3, 5)"), nnlab_exc=ValueError),
    ]


def broadcast_errors(op: str) -> Callable[[], list[ErrorCase]]:
    return lambda: [
        ErrorCase(
            "incompatible_shapes",
            (np.ones((3, 4)), Const(np.ones(5))),
            mentions=(op, "(3, 4)", "(5,)"),
            nnlab_exc=ValueError,
        ),
    ]


def _smooth_l1_errors() -> list[ErrorCase]:
    x = np.ones(3)
    return regression_errors("smooth_l1_loss", False)() + [
        ErrorCase(
            "negative_beta",
            (x, x),
            {"beta": -1.0},
            mentions=("smooth_l1_loss", "-1.0"),
            nnlab_exc=ValueError,
        ),
    ]


def _huber_errors() -> list[ErrorCase]:
    x = np.ones(3)
    return regression_errors("huber_loss", True)() + [
        ErrorCase(
            "zero_delta",
            (x, x),
            {"delta": 0.0},
            mentions=("huber_loss", "0.0"),
            nnlab_exc=ValueError,
        ),
    ]


LOSSES: list[OpInfo] = [
    OpInfo(
        "mse_loss",
        _quiet(F.mse_loss),
        _quiet(TF.mse_loss),
        regression(weighted=True),
        errors=regression_errors("mse_loss", True),
    ),
    OpInfo(
        "l1_loss",
        _quiet(F.l1_loss),
        _quiet(TF.l1_loss),
        regression(weighted=True),
        errors=regression_errors("l1_loss", True),
    ),
    OpInfo(
        "smooth_l1_loss",
        _quiet(F.smooth_l1_loss),
        _quiet(TF.smooth_l1_loss),
        with_params(regression(weighted=False), "beta", [0.5, 2.0, 0.0]),
        errors=_smooth_l1_errors,
    ),
    OpInfo(
        "huber_loss",
        _quiet(F.huber_loss),
        _quiet(TF.huber_loss),
        with_params(regression(weighted=True, int_target=False), "delta", [0.5, 2.0]),
        errors=_huber_errors,
    ),
    OpInfo(
        "binary_cross_entropy",
        F.binary_cross_entropy,
        TF.binary_cross_entropy,
        bce_samples,
        errors=bce_errors,
    ),
    OpInfo(
        "binary_cross_entropy_with_logits",
        F.binary_cross_entropy_with_logits,
        TF.binary_cross_entropy_with_logits,
        bce_logits_samples,
        errors=bce_logits_errors,
    ),
    OpInfo(
        "cross_entropy",
        F.cross_entropy,
        TF.cross_entropy,
        ce_samples,
        errors=ce_errors("cross_entropy"),
    ),
    OpInfo("nll_loss", F.nll_loss, TF.nll_loss, nll_samples, errors=ce_errors("nll_loss")),
    OpInfo("kl_div", _quiet(F.kl_div), _quiet(TF.kl_div), kl_samples, errors=kl_errors),
    OpInfo(
        "hinge_embedding_loss",
        F.hinge_embedding_loss,
        TF.hinge_embedding_loss,
        hinge_embedding_samples,
        errors=broadcast_errors("hinge_embedding_loss"),
    ),
    OpInfo(
        "multi_margin_loss",
        F.multi_margin_loss,
        TF.multi_margin_loss,
        multi_margin_samples,
        errors=multi_margin_errors,
    ),
    OpInfo(
        "soft_margin_loss",
        F.soft_margin_loss,
        TF.soft_margin_loss,
        soft_margin_samples,
        errors=broadcast_errors("soft_margin_loss"),
    ),
    OpInfo(
        "cosine_embedding_loss",
        F.cosine_embedding_loss,
        TF.cosine_embedding_loss,
        cosine_samples,
        errors=cosine_errors,
    ),
    OpInfo(
        "margin_ranking_loss",
        F.margin_ranking_loss,
        TF.margin_ranking_loss,
        ranking_samples,
        errors=ranking_errors,
    ),
    OpInfo(
        "triplet_margin_loss",
        F.triplet_margin_loss,
        TF.triplet_margin_loss,
        triplet_samples,
        errors=triplet_errors,
    ),
]

LOSSES_BY_NAME = {op.name: op for op in LOSSES}

assert torch.__version__.startswith("2.13"), "the table describes PyTorch 2.13's behaviour"
