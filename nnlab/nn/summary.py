"""``summary(model, input_shape)``: a table of a model's layers, output shapes and sizes.

It runs one forward pass on a zero input with a forward hook on every submodule, so the
shapes are the ones the model really produces (a wrong shape raises the layer's own
error, naming its path). The pass runs in evaluation mode and without recording a
graph, and every module's mode is restored afterwards: running statistics of batch norm
and the dropout generator are left untouched.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from rich.console import Console
from rich.table import Table

from nnlab import dtypes
from nnlab.autograd.grad_mode import no_grad
from nnlab.nn.module import Module
from nnlab.tensor import Tensor

__all__ = ["summary", "ModelSummary", "LayerRow"]


@dataclass
class LayerRow:
    """One call of one module during the summary's forward pass.

    Attributes:
        path: the module's name inside the model ("0", "encoder.fc1"), as in state_dict.
        type: its class name.
        output_shape: the output's shape (a list of shapes for several outputs).
        num_params: parameters the module owns directly (children's are on their rows).
        trainable: "yes", "no" (frozen), "partial", or "-" (no parameters of its own).
        depth: nesting depth (1 for the model's direct children).
    """

    path: str
    type: str
    output_shape: Any
    num_params: int
    trainable: str
    depth: int


@dataclass
class ModelSummary:
    """What :func:`summary` found; ``print(s)``, and ``s`` alone at a prompt, show it as a
    table."""

    model_type: str
    input_shape: tuple[int, ...]
    output_shape: Any
    rows: list[LayerRow] = field(default_factory=list)
    total_params: int = 0
    trainable_params: int = 0

    @property
    def frozen_params(self) -> int:
        return self.total_params - self.trainable_params

    def table(self) -> Any:
        """The rows as a :class:`rich.table.Table`."""
        table = Table(title=f"{self.model_type} summary, input {self.input_shape}")
        for name, justify in (("Layer", "left"), ("Type", "left"), ("Output shape", "left"),
                              ("Params", "right"), ("Trainable", "center")):  # fmt: skip
            table.add_column(name, justify=justify)
        for row in self.rows:
            table.add_row(
                "  " * (row.depth - 1) + row.path, row.type, _shape_text(row.output_shape),
                f"{row.num_params:,}", row.trainable,
            )  # fmt: skip
        table.caption = (
            f"Total params: {self.total_params:,}   Trainable: {self.trainable_params:,}   "
            f"Frozen: {self.frozen_params:,}"
        )
        return table

    def __str__(self) -> str:
        buffer = io.StringIO()
        Console(file=buffer, width=100, color_system=None).print(self.table())
        return buffer.getvalue()

    def __repr__(self) -> str:
        # the table, not the dataclass fields: a REPL would print every row's repr
        return str(self).rstrip("\n")


def _shape_text(shape: Any) -> str:
    if isinstance(shape, list):
        return ", ".join(_shape_text(s) for s in shape)
    return str(list(shape)) if shape is not None else "-"


def _output_shape(out: Any) -> Any:
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return [_output_shape(o) for o in out]
    return None


def _trainable(module: Module) -> tuple[int, str]:
    params = list(module.parameters(recurse=False))
    if not params:
        return 0, "-"
    flags = {p.requires_grad for p in params}
    label = "partial" if len(flags) == 2 else ("yes" if True in flags else "no")
    return sum(p.numel() for p in params), label


def _explain_missing_batch(
    model: Module, input_shape: tuple[int, ...], dtype: Any, exc: BaseException
) -> None:
    """When the model fails on ``input_shape`` but runs on ``(1, *input_shape)``, the batch
    dimension was left out: add that to the error's message (in place, same class)."""
    batched = (1, *input_shape)
    try:
        with no_grad():
            model(Tensor(np.zeros(batched, dtype=dtypes.to_dtype(dtype))))
    except Exception:  # noqa: BLE001 - the original error is the one to report
        return
    hint = (
        f"summary: input_shape must include the batch dimension, e.g. {batched} "
        f"instead of {input_shape}."
    )
    first = str(exc.args[0]) if exc.args else ""
    exc.args = (f"{first}\n{hint}" if first else hint, *exc.args[1:])


def summary(
    model: Module,
    input_shape: Sequence[int],
    dtype: Any = dtypes.float32,
    depth: int | None = None,
    verbose: bool = True,
) -> ModelSummary:
    """Run ``model`` on zeros of ``input_shape`` and tabulate every layer it calls.

    Each row gives a submodule's path, type, output shape, the number of parameters it
    owns and whether they train. Totals count each parameter once, even if shared.

    Args:
        model: the module to describe.
        input_shape: the full input shape, batch dimension included, e.g. (1, 784).
        dtype: the input's dtype (default: float32).
        depth: show modules nested at most this deep (default: all).
        verbose: print the table (default: True).

    Returns:
        A :class:`ModelSummary` with ``rows`` and the parameter totals.

    Example:
        >>> from nnlab import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> s = summary(model, (1, 4), verbose=False)
        >>> [(r.path, r.output_shape, r.num_params) for r in s.rows]
        [('0', (1, 8), 40), ('1', (1, 8), 0), ('2', (1, 2), 18)]
        >>> s.total_params, s.trainable_params
        (58, 58)
    """
    names = {id(m): name for name, m in model.named_modules() if m is not model}
    rows: list[LayerRow] = []
    pending: dict[int, list[LayerRow]] = {}
    removers = []

    def before(module: Module, args: Any) -> None:
        # Rows are created in call order (a parent before its children) and filled in
        # when the module returns.
        name = names[id(module)]
        count, trainable = _trainable(module)
        row = LayerRow(name, type(module).__name__, None, count, trainable, name.count(".") + 1)
        rows.append(row)
        pending.setdefault(id(module), []).append(row)

    def after(module: Module, args: Any, out: Any) -> None:
        pending[id(module)].pop().output_shape = _output_shape(out)

    modes = {id(m): m.training for m in model.modules()}
    for module in model.modules():
        if module is not model:
            removers.append(module.register_forward_pre_hook(before))
            removers.append(module.register_forward_hook(after))
    try:
        model.eval()
        with no_grad():
            out = model(Tensor(np.zeros(tuple(input_shape), dtype=dtypes.to_dtype(dtype))))
    except (ValueError, RuntimeError, TypeError, IndexError) as exc:
        for remove in removers:
            remove()
        removers = []
        _explain_missing_batch(model, tuple(input_shape), dtype, exc)
        raise
    finally:
        for remove in removers:
            remove()
        for module in model.modules():
            object.__setattr__(module, "training", modes[id(module)])
    params = list(model.parameters())
    result = ModelSummary(
        model_type=type(model).__name__,
        input_shape=tuple(input_shape),
        output_shape=_output_shape(out),
        rows=[r for r in rows if depth is None or r.depth <= depth],
        total_params=sum(p.numel() for p in params),
        trainable_params=sum(p.numel() for p in params if p.requires_grad),
    )
    if verbose:
        Console().print(result.table())
    return result
