"""Concurrent lookups of one process answered by one query (the diary's hot read).

A request's trip to the database costs the API process more than the lookup costs the
database: on the diary benchmark each round trip was worth about a third of a millisecond of
the worker's time, more than the rest of the request. `Coalescer` lets the requests a process
is serving at the same moment share one trip: a key asked for goes out at the end of the
current turn of the event loop together with every other key asked for in that turn, and
while `concurrency` fetches are under way new keys wait for the next one. Alone, a lookup
waits for nothing; under load the batches grow by themselves.

A fetch that has not answered after `hedge_after` seconds is asked again, on another
connection, and whichever answers first is taken (a hedged request; the other is left to
finish and its answer dropped). For lookups that are safe to repeat: the diary's fetches are
reads. On the benchmark machine a few fetches in every ten seconds stalled for 0.1–0.8 s
(PostgreSQL's own log shows almost none of it: the time was spent around the statement,
not in it), which made a read's p99 ten times its median; hedged after 50 ms, the slowest
read took 0.1 s.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(
        self,
        fetch: Callable[[list[K]], Awaitable[dict[K, V]]],
        *,
        concurrency: int = 2,
        max_batch: int = 256,
        hedge_after: float | None = None,
    ) -> None:
        """`fetch(keys)` returns what it found, by key (a key it leaves out is `None`)."""
        self._fetch = fetch
        self._concurrency = concurrency
        self._max_batch = max_batch
        self._hedge_after = hedge_after
        self.hedged = 0  # fetches asked a second time
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

    async def _fetch_hedged(self, keys: list[K]) -> dict[K, V]:
        first = asyncio.ensure_future(self._fetch(keys))
        if self._hedge_after is None:
            return await first
        try:
            return await asyncio.wait_for(asyncio.shield(first), self._hedge_after)
        except TimeoutError:
            pass
        except BaseException:
            first.cancel()
            raise
        self.hedged += 1
        second = asyncio.ensure_future(self._fetch(keys))
        tasks = {first, second}
        try:
            while tasks:
                done, tasks = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    if task.exception() is None:
                        for slower in tasks:
                            slower.add_done_callback(_drop)
                        return task.result()
            return first.result()  # both failed: the first one's error
        except BaseException:
            for task in (first, second):
                task.cancel()
            raise

    async def _run(
        self, batch: list[tuple[K, asyncio.Future[V | None]]], loop: asyncio.AbstractEventLoop
    ) -> None:
        try:
            found = await self._fetch_hedged(list(dict.fromkeys(k for k, _ in batch)))
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


def _drop(task: asyncio.Future[Any]) -> None:
    """The slower of two hedged fetches: its answer, or its error, is not wanted."""
    if not task.cancelled():
        task.exception()


def _settle(futures: Iterable[asyncio.Future[V | None]], exc: BaseException) -> None:
    for future in futures:
        if not future.done():
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
