"""Micro-batching: requests that arrive within a short window share one forward pass.

A single worker task takes the first waiting request, then keeps collecting for at most
``max_wait_ms`` (or until ``max_batch_size`` rows are in hand), stacks the rows of the
requests that can share an input array, calls the prediction function once per stack and
hands every request its own slice of the answer. A request larger than ``max_batch_size``
runs alone: it is never split, so its rows see one forward pass as in ``nnlab predict``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["MicroBatcher"]

#: ``predict(inputs) -> {name: array with one entry per input}``
PredictFn = Callable[[Any], dict[str, np.ndarray]]


@dataclass
class _Pending:
    inputs: Any  # an array (N, ...) or a list of N texts
    key: Hashable  # requests stack only with requests of the same key (same row shape)
    future: asyncio.Future = field(repr=False)

    def __len__(self) -> int:
        return len(self.inputs)


def _stack(items: Sequence[_Pending]) -> Any:
    if isinstance(items[0].inputs, np.ndarray):
        return np.concatenate([item.inputs for item in items])
    return [row for item in items for row in item.inputs]


class MicroBatcher:
    """Stack concurrent prediction requests into shared calls of ``predict``.

    Args:
        predict: the batch prediction function; it runs in a worker thread, one call at a
            time, so the event loop keeps accepting requests meanwhile.
        max_batch_size: rows per stacked forward pass (default 64); a larger request runs
            alone.
        max_wait_ms: how long the first request of a batch waits for company (default 5).

    ``forward_passes`` counts the calls of ``predict`` made so far.
    """

    def __init__(self, predict: PredictFn, max_batch_size: int = 64, max_wait_ms: float = 5):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be non-negative, got {max_wait_ms}")
        self.predict = predict
        self.max_batch_size = max_batch_size
        self.max_wait_ms = max_wait_ms
        self.forward_passes = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task | None = None
        self._held: _Pending | None = None  # the request that did not fit the last batch
        self._active: list[_Pending] = []  # the batch being answered

    async def submit(self, inputs: Any, key: Hashable = None) -> dict[str, np.ndarray]:
        """The prediction for ``inputs`` (N rows), computed in a shared forward pass; an
        error of ``predict`` on these rows is raised here."""
        loop = asyncio.get_running_loop()
        # started in the loop that serves (a test may run several loops one after another)
        if self._worker is None or self._worker.done() or loop is not self._loop:
            self._loop, self._queue, self._held = loop, asyncio.Queue(), None
            self._worker = asyncio.create_task(self._run())
        future = loop.create_future()
        await self._queue.put(_Pending(inputs, key, future))
        return await future

    async def close(self) -> None:
        """Stop the worker; requests still waiting get a ``RuntimeError``."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
            self._worker = None
        waiting = [*self._active, *([self._held] if self._held is not None else [])]
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for item in waiting:
            _settle(item.future, error=RuntimeError("the server stopped"))
        self._held, self._active = None, []

    async def _run(self) -> None:
        while True:
            self._active = batch = await self._collect()
            groups: dict[Hashable, list[_Pending]] = {}
            for item in batch:
                groups.setdefault(item.key, []).append(item)
            for items in groups.values():
                await self._answer(items)

    async def _collect(self) -> list[_Pending]:
        """The next batch: the first request, then whatever arrives within the window,
        up to ``max_batch_size`` rows."""
        first, self._held = self._held or await self._queue.get(), None
        batch, rows = [first], len(first)
        deadline = asyncio.get_running_loop().time() + self.max_wait_ms / 1000
        while rows < self.max_batch_size:
            timeout = deadline - asyncio.get_running_loop().time()
            try:
                item = (self._queue.get_nowait() if timeout <= 0 or not self._queue.empty()
                        else await asyncio.wait_for(self._queue.get(), timeout))  # fmt: skip
            except (asyncio.QueueEmpty, TimeoutError):
                break
            if rows + len(item) > self.max_batch_size:
                self._held = item  # first in the next batch: arrival order is kept
                break
            batch.append(item)
            rows += len(item)
        return batch

    async def _answer(self, items: list[_Pending]) -> None:
        """One forward pass for ``items``, each given its slice. If the stacked pass
        fails (a row with a non-finite output, say), each request is retried alone so that
        only the requests at fault get the error."""
        try:
            result = await self._forward(_stack(items))
        except Exception as exc:  # noqa: BLE001 - handed to the waiting request(s)
            if len(items) == 1:
                _settle(items[0].future, error=exc)
                return
            for item in items:
                await self._answer([item])
            return
        start = 0
        for item in items:
            stop = start + len(item)
            _settle(item.future, {name: value[start:stop] for name, value in result.items()})
            start = stop

    async def _forward(self, inputs: Any) -> dict[str, np.ndarray]:
        self.forward_passes += 1
        return await asyncio.to_thread(self.predict, inputs)


def _settle(future: asyncio.Future, result: Any = None, error: Exception | None = None) -> None:
    if future.done():  # the client went away and its request was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
