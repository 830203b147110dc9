"""The inference server's HTTP API, on FastAPI.

- ``GET /health``: ``{"status": "ok"}`` while the server answers.
- ``GET /metadata``: the run's name, task, classes, the nnlab version and the input
  schema (feature count, array shape, or text).
- ``POST /predict``: ``{"rows": [[...], ...]}`` (raw feature rows, or arrays of the run's
  input shape such as images) or ``{"texts": [...]}`` for a text run. The answer holds
  what ``nnlab predict`` computes for the same rows (``prediction``, and for a classifier
  ``confidence`` and the probabilities), made by :func:`nnlab.runner.predict_run` itself.

Bad requests get a 4xx that says what is wrong and where: 422 for a value of the wrong
type, shape or size (naming its row and column, counted from 0), 413 for too many rows
or too large a body, 400 for rows sent to a text run or texts to a numeric one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import numpy as np
from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictStr

import nnlab
from nnlab.config import parse_config
from nnlab.runner import predict_run, run_reads_texts
from nnlab.serve.batching import MicroBatcher

__all__ = ["PredictRequest", "create_app"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class PredictRequest(BaseModel):
    """The body of ``POST /predict``: ``rows`` for a numeric run, ``texts`` for a text run."""

    model_config = ConfigDict(extra="forbid")
    rows: list[list[Any]] | None = Field(
        default=None, description="raw feature rows, or arrays of the run's input shape"
    )
    texts: list[StrictStr] | None = Field(default=None, description="texts, for a text run")


def _invalid(loc: list[Any], msg: str, kind: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors."""
    return HTTPException(422, detail=[{"loc": ["body", *loc], "msg": msg, "type": kind}])


def _where(loc: list[Any]) -> str:
    return loc[0] + "".join(f"[{i}]" for i in loc[1:])


def _check_values(value: Any, shape: tuple[int, ...], loc: list[Any], what: str) -> None:
    """``value`` is a nested list of exactly ``shape`` whose leaves are finite float32
    numbers; else a 422 naming the first bad place (``rows[i][j]``)."""
    if not shape:
        # bool is an int in Python, but true/false are not pixel or feature values
        if isinstance(value, bool) or not isinstance(value, int | float):
            msg = f"{_where(loc)} is {json.dumps(value)}: every value must be a number"
            raise _invalid(loc, msg, "type_error.number")
        # written so that NaN fails too (every comparison with NaN is false)
        if not abs(value) <= _FLOAT32_MAX:
            msg = (f"{_where(loc)} is {value!r}: every value must be a finite float32 "
                   f"number (|x| <= {_FLOAT32_MAX:.4g})")  # fmt: skip
            raise _invalid(loc, msg, "value_error.finite")
        return
    if not isinstance(value, list) or len(value) != shape[0]:
        got = f"{len(value)} values" if isinstance(value, list) else json.dumps(value)
        msg = f"{_where(loc)} has {got}; the model expects {shape[0]} there ({what})"
        raise _invalid(loc, msg, "value_error.shape")
    for j, item in enumerate(value):
        _check_values(item, shape[1:], [*loc, j], what)


class _RunInfo:
    """What the server knows about its run without loading the model."""

    def __init__(self, run_dir: Path):
        for name in ("config.json", "preprocessing.json", "model.safetensors"):
            if not (run_dir / name).is_file():
                raise FileNotFoundError(
                    f"{run_dir} is not a finished run folder (no {name}); train it with "
                    "`nnlab train CONFIG`"
                )
        cfg = parse_config(json.loads((run_dir / "config.json").read_bytes()))
        prep = json.loads((run_dir / "preprocessing.json").read_bytes())
        self.run_dir = run_dir
        self.name, self.task = cfg.name, cfg.task
        self.reads_texts = run_reads_texts(run_dir)
        self.n_classes = int(prep["n_classes"])
        self.n_features = int(prep["n_features"])
        self.input_shape = tuple(int(n) for n in prep["input_shape"])

    def input_schema(self) -> dict[str, Any]:
        if self.reads_texts:
            return {"kind": "text", "field": "texts"}
        schema: dict[str, Any] = {"kind": "features", "field": "rows",
                                  "n_features": self.n_features}  # fmt: skip
        if self.input_shape != (self.n_features,):  # arrays of the model's own shape too
            schema["kind"] = "image" if len(self.input_shape) == 3 else "array"
            schema["shape"] = list(self.input_shape)
        return schema

    def classes(self) -> list[int] | None:
        has_classes = self.task in ("classification", "binary", "segmentation")
        return list(range(self.n_classes)) if has_classes else None

    def row_shape(self, first_row: list[Any]) -> tuple[tuple[int, ...], str]:
        """The shape every row of a request must have, chosen by its first row: a flat
        list is a feature row; nested lists are an array of the run's input shape."""
        flat = (self.n_features,)
        if self.input_shape == flat or not first_row or not isinstance(first_row[0], list):
            return flat, f"feature rows of {self.n_features} numbers"
        return self.input_shape, f"arrays of shape {list(self.input_shape)}"


class _BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes gets a 413 before it is
    parsed, whether it declares its length or streams."""

    def __init__(self, app: Any, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send, int(declared))
            return
        received, started = 0, False

        async def counting_receive() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge(received)
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge as exc:
            if not started:
                await self._refuse(scope, receive, send, exc.size)

    async def _refuse(self, scope: dict, receive: Any, send: Any, size: int) -> None:
        detail = f"the request body has {size} bytes or more; the limit is {self.limit} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


class _TooLarge(Exception):
    def __init__(self, size: int):
        self.size = size


def create_app(
    run_dir: str | Path,
    max_batch_size: int = 64,
    max_wait_ms: float = 5,
    max_request_rows: int = 1024,
    max_body_bytes: int = 8 * 2**20,
) -> FastAPI:
    """The FastAPI app serving the finished run in ``run_dir``.

    Args:
        run_dir: a run folder from ``nnlab train``.
        max_batch_size: rows stacked into one forward pass from concurrent requests.
        max_wait_ms: how long a request waits for others to share its forward pass.
        max_request_rows: the most rows (or texts) one request may hold (413 beyond).
        max_body_bytes: the largest request body accepted (413 beyond).
    """
    if max_request_rows < 1 or max_body_bytes < 1:
        raise ValueError(
            f"max_request_rows and max_body_bytes must be positive, got {max_request_rows} "
            f"and {max_body_bytes}"
        )
    info = _RunInfo(Path(run_dir))

    def predict(inputs: Any) -> dict[str, np.ndarray]:
        return predict_run(info.run_dir, inputs)

    batcher = MicroBatcher(predict, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await batcher.close()

    app = FastAPI(title=f"nnlab: {info.name}", version=nnlab.__version__, lifespan=lifespan)
    app.state.batcher = batcher
    app.add_middleware(_BodyLimit, limit=max_body_bytes)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata")
    def metadata() -> dict[str, Any]:
        return {
            "run": info.run_dir.name,
            "name": info.name,
            "task": info.task,
            "classes": info.classes(),
            "input": info.input_schema(),
            "nnlab_version": nnlab.__version__,
            "max_request_rows": max_request_rows,
        }

    @app.post("/predict")
    async def predict_endpoint(request: PredictRequest) -> dict[str, list[Any]]:
        inputs, key = _request_inputs(request, info, max_request_rows)
        try:
            result = await batcher.submit(inputs, key)
        except (ValueError, TypeError) as exc:  # predict_run's own checks, after scaling
            raise HTTPException(422, detail=str(exc)) from None
        return {name: value.tolist() for name, value in result.items()}

    return app


def _request_inputs(request: PredictRequest, info: _RunInfo, max_rows: int) -> tuple[Any, Any]:
    """The request's inputs for :func:`predict_run` and their batching key (the row
    shape), after checking the field, the count and every value."""
    field, other = ("texts", "rows") if info.reads_texts else ("rows", "texts")
    given: list[Any] | None = getattr(request, field)
    if getattr(request, other) is not None or given is None:
        raise HTTPException(
            400, detail=f"this run reads {'texts' if info.reads_texts else 'numbers'}: send "
            f'{{"{field}": [...]}} (and no "{other}")',
        )  # fmt: skip
    if not given:
        raise _invalid([field], f"{field} is empty: send at least one", "value_error.empty")
    if len(given) > max_rows:
        raise HTTPException(
            413, detail=f"{len(given)} {field} in one request; the limit is {max_rows}"
        )
    if info.reads_texts:
        return list(given), "texts"
    shape, what = info.row_shape(given[0])
    for i, row in enumerate(given):
        _check_values(row, shape, ["rows", i], what)
    return np.asarray(given, dtype=np.float64), shape
