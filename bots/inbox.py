"""Updates kept until answered (decision 0609): one messenger's updates go through here from the
adapter's long polling or webhook to its handler.

    inbox = Inbox("telegram", handle, chat_of)   # handle(payload) answers one update
    await inbox.take([(key, payload), ...])       # kept in the database, then answered soon;
                                                  # raises when they could not be kept
    await inbox.start() / await inbox.stop()      # the sweep: what a killed process left

The adapter tells the messenger an update arrived (the webhook's 200, the polling offset or
marker moved past it) only after `take` returned: an update the process dies before keeping is
handed over again by the messenger, and one it dies after keeping is found by the next
process's sweep. Each update is answered once: the same key handed over again is one row, a
row is marked answered as soon as its handler returns, and a process never runs two handlers
of one key. Updates of one chat are answered in order, at most `CONCURRENCY` at once.

Every row being answered is held in the database (`bot_inbox`: a lease renewed when its
handler starts), so the sweep of another copy of the bot leaves it alone; a killed process's
rows are free again after the lease (30 s).

A handler that fails for a passing reason (`bots.core.transient`: the database, Redis or the
messenger out of reach) leaves its update waiting: the sweep tries it again every few seconds,
for an hour at most. Any other failure is logged and the update set aside (a malformed update
would fail each time). The one window left: a process killed after the messenger accepted an
answer and before the row is marked answers that update again after its restart (at least
once; decision 0609 says why nothing closes it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.messaging import bot_inbox
from bots.core import CONCURRENCY, transient

log = logging.getLogger("parta.bot.inbox")
SWEEP_SECONDS = 3.0  # how often what is waiting (a restart's, a failed try's) is looked for
GIVE_UP = timedelta(hours=1)  # an update still failing after this is set aside
PURGE_EVERY = 3600.0
RENEW_AFTER = 10.0  # seconds an update waited for its turn before its hold is renewed
FINISHED_SECONDS = 600.0  # keys answered lately: a sweep's stale read does not run them again

Handler = Callable[[dict[str, Any]], Awaitable[None]]
ChatOf = Callable[[dict[str, Any]], "int | None"]


class Inbox:
    def __init__(
        self,
        messenger: str,
        handle: Handler,
        chat_of: ChatOf,
        *,
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self.messenger, self.handle, self.chat_of = messenger, handle, chat_of
        self.sweep_seconds = sweep_seconds
        self._busy: set[str] = set()  # keys being answered, or answered and not yet marked
        self._finished: dict[str, float] = {}  # key -> when it was marked answered
        self._unmarked: dict[int, str] = {}  # row id -> key: answered, the mark not written
        self._slots = asyncio.Semaphore(CONCURRENCY)
        self._chats: dict[int, tuple[asyncio.Lock, int]] = {}  # chat -> its lock, users
        self._tasks: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    # -- the adapter's side -------------------------------------------------------------------

    async def take(self, updates: Sequence[tuple[str, dict[str, Any]]]) -> None:
        """Keep the updates; then answer each not answered before. Raises when the database
        cannot keep them (the adapter then does not confirm them to the messenger)."""
        rows = await bot_inbox.record(self.messenger, updates)
        self._schedule(rows)

    async def start(self) -> None:
        """Look for waiting updates now and every few seconds."""
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._mark()

    async def idle(self) -> None:
        """Wait until nothing taken is being answered (tests)."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- answering ----------------------------------------------------------------------------

    def _schedule(self, rows: Sequence[dict[str, Any]]) -> None:
        for row in rows:
            key = row["update_key"]
            if key in self._busy or key in self._finished:
                continue
            self._busy.add(key)
            task = asyncio.create_task(self._answer(row, time.monotonic()))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _answer(self, row: dict[str, Any], held_since: float) -> None:
        key, payload = row["update_key"], row["payload"]
        try:
            chat = self.chat_of(payload)
        except Exception:
            chat = None
        try:
            async with self._in_order(chat), self._slots:
                # It waited its turn: still ours? (another copy takes it after the lease)
                waited = time.monotonic() - held_since > RENEW_AFTER
                if waited and await bot_inbox.hold(row["id"], row["claimed_at"]) is None:
                    self._busy.discard(key)
                    return
                await self.handle(payload)
        except Exception as exc:
            self._busy.discard(key)
            if transient(exc):
                log.warning("bot update not answered yet (%r): tried again soon", exc)
                with contextlib.suppress(Exception):
                    await bot_inbox.failed(row["id"])
                await self._give_up_if_old(row)
                return
            log.exception("bot update failed", extra={"messenger": self.messenger, "key": key})
            self._unmarked[row["id"]] = key
            await self._mark(bot_inbox.GAVE_UP)
            return
        self._unmarked[row["id"]] = key
        await self._mark()

    @contextlib.asynccontextmanager
    async def _in_order(self, chat: int | None) -> AsyncIterator[None]:
        if chat is None:
            yield
            return
        lock, users = self._chats.get(chat, (asyncio.Lock(), 0))
        self._chats[chat] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._chats[chat]
            if users == 1:
                del self._chats[chat]
            else:
                self._chats[chat] = (lock, users - 1)

    async def _mark(self, outcome: str = bot_inbox.ANSWERED) -> None:
        """Write the marks of what was answered; kept for the next try if the database is
        out of reach (the keys stay busy meanwhile, so nothing answers them again)."""
        if not self._unmarked:
            return
        marking = dict(self._unmarked)
        try:
            await bot_inbox.answered(list(marking), outcome)
        except Exception as exc:
            log.warning("bot updates answered, not yet marked (%r): marked later", exc)
            self._wake.set()
            return
        now = time.monotonic()
        for row_id, key in marking.items():
            self._unmarked.pop(row_id, None)
            self._busy.discard(key)
            self._finished[key] = now

    async def _give_up_if_old(self, row: dict[str, Any]) -> None:
        received = row.get("received_at")
        if isinstance(received, datetime) and datetime.now(UTC) - received > GIVE_UP:
            log.error(
                "bot update set aside after an hour of failures",
                extra={"messenger": self.messenger, "key": row["update_key"]},
            )
            self._busy.add(row["update_key"])
            self._unmarked[row["id"]] = row["update_key"]
            await self._mark(bot_inbox.GAVE_UP)

    # -- the sweep ----------------------------------------------------------------------------

    async def _sweep_forever(self) -> None:
        purged = 0.0
        while True:
            try:
                await self._mark()
                if time.monotonic() - purged > PURGE_EVERY:
                    await bot_inbox.purge()
                    purged = time.monotonic()
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("bot inbox sweep failed (%r): again soon", exc)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.sweep_seconds)

    async def sweep(self) -> None:
        """Answer what waits in the database and nobody holds."""
        horizon = time.monotonic() - FINISHED_SECONDS
        for key in [k for k, at in self._finished.items() if at < horizon]:
            del self._finished[key]
        self._schedule(await bot_inbox.claim_waiting(self.messenger))
