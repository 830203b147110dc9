"""The inputs ``nnlab predict`` reads: feature rows from a CSV or ``.npy`` file, or texts,
one per line. Row i of the predictions is always row i of the input, so nothing is
skipped or guessed: every cell that is not a finite float32 number is an error naming the
file, row and column.

The policy for a CSV file:

* values are separated by commas, one sample per row; rows and columns are counted from 1,
  as a spreadsheet or an editor shows them;
* the first row is a header of column names, and is skipped, when every one of its cells
  holds a letter and none is a number; any other first row is data (``nan`` and ``inf``
  count as numbers: they are reported, never skipped);
* a cell that is empty, not a number, NaN, ±inf, or beyond float32's range (``1e400``,
  ``1e39``) is an error; so is a row of another width, an empty line between rows, an
  empty file, and a binary file.

A ``.npy`` file is read with ``allow_pickle=False`` and must hold a numeric array: (N, F)
feature rows or (N, C, H, W) images; its bad values are named by their index.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Inputs", "read_feature_rows", "read_texts"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_NPY_MAGIC = b"\x93NUMPY"


@dataclass
class Inputs:
    """What was read: the values (an array, or a list of texts), a label per sample that
    says where it came from (its row in the file), and the header row if one was skipped."""

    values: np.ndarray | list[str]
    rows: list[str] = field(default_factory=list)
    header: str | None = None


def _text(path: Path, what: str) -> str:
    """The file's text; an error for an empty or binary file."""
    data = path.read_bytes()
    if not data.strip():
        raise ValueError(f"{path} is empty: expected {what}")
    if data.startswith(_NPY_MAGIC):
        raise ValueError(f"{path} is a NumPy .npy file, not text: give it the suffix .npy")
    if b"\x00" in data:
        raise ValueError(
            f"{path} is a binary file (a NUL byte at byte {data.index(0)}), not text: "
            f"expected {what}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"{path} is not UTF-8 text (byte {exc.start} cannot be decoded): expected {what}"
        ) from None


def _lines(path: Path, text: str) -> list[str]:
    """The file's lines without the trailing blank ones; a blank line between rows is an
    error, since skipping it would misnumber every row after it."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise ValueError(f"{path}, row {number} is empty (a blank line between rows)")
    return lines


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _value(path: Path, row: int, column: int, cell: str) -> float:
    """One CSV cell as a float, or an error naming the file, row and column."""
    where = f"{path}, row {row}, column {column}"
    if not cell:
        raise ValueError(f"{where} is empty; every cell must hold a number")
    try:
        value = float(cell)
    except ValueError:
        hint = " (values are separated by commas)" if any(c in cell for c in ";\t ") else ""
        raise ValueError(f"{where}: {cell!r} is not a number{hint}") from None
    if math.isnan(value) or (math.isinf(value) and "inf" in cell.lower()):
        raise ValueError(
            f"{where}: {cell!r} is not a finite number; NaN and ±inf have no prediction"
        )
    if abs(value) > _FLOAT32_MAX:
        raise ValueError(
            f"{where}: {cell!r} overflows float32, the model's number type "
            f"(largest {_FLOAT32_MAX:.4g})"
        )
    return value


def _read_csv(path: Path) -> Inputs:
    what = "comma-separated numbers, one row per sample"
    lines = _lines(path, _text(path, what))
    first = [c.strip() for c in lines[0].split(",")]
    header = None
    start = 1
    if all(any(ch.isalpha() for ch in c) and not _is_number(c) for c in first):  # names
        header, start = lines[0], 2
        if len(lines) == 1:
            raise ValueError(
                f"{path} has no data rows: its only row, {lines[0].strip()!r}, holds no "
                f"number (so it was read as a header of column names); expected {what}"
            )
    rows, width = [], None
    for number, line in enumerate(lines[start - 1 :], start):
        cells = [c.strip() for c in line.split(",")]
        if width is None:
            width = len(cells)
            if header is not None and len(first) != width:
                raise ValueError(
                    f"{path}: the header (row 1) names {len(first)} columns but row {number} "
                    f"has {width} values"
                )
        elif len(cells) != width:
            raise ValueError(
                f"{path}, row {number} has {len(cells)} values, row {start} has {width}"
            )
        rows.append([_value(path, number, col, c) for col, c in enumerate(cells, 1)])
    labels = [str(n) for n in range(start, start + len(rows))]
    return Inputs(np.asarray(rows, dtype=np.float64), labels, header)


def _read_npy(path: Path) -> Inputs:
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04"):
        raise ValueError(f"{path} is a zip archive (.npz?), not a .npy array")
    if not data.startswith(_NPY_MAGIC):
        raise ValueError(f"{path} is not a .npy file (it lacks the NumPy header)")
    try:
        x = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(
                f"{path} holds Python objects (dtype object), which would need unpickling; "
                "nnlab reads numeric arrays only"
            ) from None
        raise ValueError(f"{path} cannot be read as a .npy array (truncated?): {exc}") from None
    except (OSError, EOFError) as exc:
        raise ValueError(f"{path} cannot be read as a .npy array (truncated?): {exc}") from None
    if x.dtype.kind not in "biuf":
        raise ValueError(f"{path} holds dtype {x.dtype}; expected numbers (int or float)")
    if x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{path} holds an array of shape {x.shape}; expected (N, features) rows or "
            "(N, C, H, W) images with N ≥ 1"
        )
    x = x.astype(np.float64)
    for bad, problem in (
        (~np.isfinite(x), "is not a finite number; NaN and ±inf have no prediction"),
        (np.abs(x) > _FLOAT32_MAX, f"overflows float32 (largest {_FLOAT32_MAX:.4g})"),
    ):
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            count = int(bad.sum())
            more = f" ({count} such values in all)" if count > 1 else ""
            raise ValueError(
                f"{path}: the value at index {list(index)}, {float(x[index])!r}, {problem}{more}"
            )
    return Inputs(x, [str(i) for i in range(len(x))])


def read_feature_rows(path: str | Path) -> Inputs:
    """Feature rows (or images) from a ``.npy`` file, or from a CSV file by the policy in
    this module's docstring; a ValueError names the file, row and column of any problem."""
    path = Path(path)
    return _read_npy(path) if path.suffix.lower() == ".npy" else _read_csv(path)


def read_texts(path: str | Path) -> Inputs:
    """Texts from a UTF-8 file, one per line (rows counted from 1; no header)."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        raise ValueError(f"{path}: this run reads texts; give a text file, one text per line")
    lines = _lines(path, _text(path, "text, one sample per line"))
    return Inputs(lines, [str(n) for n in range(1, len(lines) + 1)])
