"""Concurrent lookups of one process answered by one query (the diary's hot read).

A request's trip to the database costs the API process more than the lookup costs the
database: on the diary benchmark each round trip was worth about a third of a millisecond of
the worker's time, more than the rest of the request. `Coalescer` lets the requests a process
is serving at the same moment share one trip: a key asked for goes out at the end of the
current turn of the event loop together with every other key asked for in that turn, and
while `concurrency` fetches are under way new keys wait for the next one. Alone, a lookup
waits for nothing; under load the batches grow by themselves.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        *,
        concurrency: int = 2,
        max_batch: int = 256,
    ) -> None:
        """`fetch(keys)` returns what it found, by key (a key it leaves out is `None`)."""
        self._fetch = fetch
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._waiting: list[tuple[K, asyncio.Future[V | None]]] = []
        self._running: set[asyncio.Task[None]] = set()
        self._scheduled = False

    async def get(self, key: K) -> V | None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        self._waiting.append((key, future))
        self._schedule(loop)
        return await future

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._scheduled and len(self._running) < self._concurrency:
            self._scheduled = True
            loop.call_soon(self._flush, loop)

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        self._scheduled = False
        # Waiters that went away (a client that hung up) are not asked for.
        self._waiting = [(k, f) for k, f in self._waiting if not f.done()]
        if not self._waiting or len(self._running) >= self._concurrency:
            return
        batch, self._waiting = self._waiting[: self._max_batch], self._waiting[self._max_batch :]
        # A context of its own: the fetch must not run inside a caller's transaction.
        task = loop.create_task(self._run(batch, loop), context=contextvars.Context())
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(
        self, batch: list[tuple[K, asyncio.Future[V | None]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        try:
            found = await self._fetch(list(dict.fromkeys(k for k, _ in batch)))
        except Exception as exc:
            _settle((f for _, f in batch), exc)
        except BaseException as exc:  # cancelled: the waiters must not hang
            _settle((f for _, f in batch), exc)
            raise
        else:
            for key, future in batch:
                if not future.done():
                    future.set_result(found.get(key))
        finally:
            self._running.discard(asyncio.current_task())
            if self._waiting:
                self._schedule(loop)


def _settle(futures: Iterable[asyncio.Future[V | None]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
