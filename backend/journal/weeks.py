"""The diary's weeks: the projection rows' versions, their reads, and their rebuilds.

Each pupil-week has a row in `DiaryWeek`: a version (bumped by every write that changes the
week, in the writer's transaction, which also clears the body) and the body the API sends.
The row is the cache: a read finds the body ready, or builds it and stores it if the version
is unchanged (`backend.journal.diary`). Reads of the same moment share one query
(`backend.core.batching.Coalescer`): one trip to the database answers the reads a process
is serving at once. There is no second copy to keep honest (decision 0301).

After a write's commit the writer announces the weeks it bumped, and they are built again in
the background (`refresh`, a lesson's pupils together, a moment later), so that the family's
first read after a change finds the body instead of building the week from the journal
tables. A process that stops before it gets there loses nothing: the reader builds the week.

With a read replica (decision 1111) the lookup asks the replica first: a week it has ready is
answered from there (as it was up to a few seconds ago); a week it lacks, or whose body a write
cleared, is looked up again on the primary, where it is built and stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import date
from typing import Any

from backend.core.batching import Coalescer
from backend.core.db import postgres_pool, replica_fetch, replica_pool
from backend.journal.tables import DiaryWeek

# The background rebuild starts this long after an announcement: a writer that announces
# before its commit (a timetable change) has committed by then.
REFRESH_DELAY = 0.3
REFRESH_BATCH = 40  # pupils' weeks built together
REFRESH_YIELD = 4  # the rebuild sleeps this many times as long as it worked

log = logging.getLogger(__name__)

Stored = tuple[int, bytes | None]  # a row's version and body (None: to be built)
WeekKey = tuple[int, date]  # pupil, Monday

# The bodies come back as the bytes the API sends (no text decoding and encoding again).
_STORED_WEEKS = (
    'SELECT w."student", w."week_start", w."version", convert_to(w."body", \'UTF8\') AS "body" '
    'FROM unnest($1::integer[], $2::date[]) AS k("student", "week_start") '
    'JOIN "diary_week" w ON w."student" = k."student" AND w."week_start" = k."week_start"'
)

# A read's lookup not answered within this many seconds is asked again on another connection
# (`Coalescer`): a stalled fetch no longer sets the diary's p99.
HEDGE_AFTER = 0.05


def etag_of(student_id: int, monday: date, version: int, body: bytes) -> str:
    """The version says which write the week reflects; the checksum guards against a version
    number used twice (a projection row purged and built again starts at 1)."""
    return f'"{student_id}-{monday.isoformat()}-{version}-{zlib.crc32(body):08x}"'


def _day(value: Any) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


async def stored_weeks(keys: list[WeekKey]) -> dict[WeekKey, Stored]:
    """The projection rows of these pupil-weeks, in one query: on PostgreSQL straight from the
    pool as a prepared statement (the hottest query of the API; the ORM's query building cost
    as much as the query), elsewhere through the ORM. A week with no row is left out."""
    pool = postgres_pool(DiaryWeek._meta.db)
    if pool is not None:
        async with pool.acquire() as connection:
            rows = await connection.fetch(_STORED_WEEKS, [s for s, _ in keys], [m for _, m in keys])
        return {(r["student"], r["week_start"]): (r["version"], r["body"]) for r in rows}
    values = ", ".join("({}, {})" for _ in keys)
    args: list[object] = [x for key in keys for x in key]
    rows = await DiaryWeek.raw(
        'SELECT "student", "week_start", "version", "body" FROM "diary_week" '  # noqa: S608
        f'WHERE ("student", "week_start") IN (VALUES {values})',
        *args,
    )
    return {
        (r["student"], _day(r["week_start"])): (
            r["version"],
            None if r["body"] is None else r["body"].encode(),
        )
        for r in rows
    }


async def replica_weeks(keys: list[WeekKey]) -> dict[WeekKey, Stored]:
    """The same lookup on the read replica; nothing when there is no usable one or it failed
    (the caller then asks the primary)."""
    rows = await replica_fetch(
        DiaryWeek._meta.db, _STORED_WEEKS, [s for s, _ in keys], [m for _, m in keys]
    )
    return {(r["student"], r["week_start"]): (r["version"], r["body"]) for r in rows or ()}


class DiaryWeeks:
    def __init__(
        self, refresh: Callable[[list[int], date], Awaitable[object]] | None = None
    ) -> None:
        """`refresh(student_ids, monday)`: builds the projection rows of those pupils' week
        that a write cleared; called in the background for the weeks announced."""
        self._reads: Coalescer[WeekKey, Stored] = Coalescer(stored_weeks, hedge_after=HEDGE_AFTER)
        self._replica_reads: Coalescer[WeekKey, Stored] = Coalescer(
            replica_weeks, hedge_after=HEDGE_AFTER
        )
        self._refresh = refresh
        self._stale: set[WeekKey] = set()
        self._refreshing: asyncio.Task[None] | None = None

    async def stored(self, student_id: int, monday: date) -> Stored | None:
        """The week's projection row (version, body), None when it has none yet. A body
        the replica has is answered from there; anything else from the primary."""
        key = (student_id, monday)
        if replica_pool(DiaryWeek._meta.db) is not None:
            found = await self._replica_reads.get(key)
            if found is not None and found[1] is not None:
                return found
        return await self._reads.get(key)

    def announce(self, versions: dict[WeekKey, int]) -> None:
        """After a writer's commit: have the weeks it cleared built again in the background."""
        if not versions or self._refresh is None:
            return
        self._stale.update(versions)
        if self._refreshing is None or self._refreshing.done():
            # A context of its own: the writer's transaction must not follow the task.
            self._refreshing = asyncio.get_running_loop().create_task(
                self._refresh_stale(), context=contextvars.Context()
            )

    async def _refresh_stale(self) -> None:
        await asyncio.sleep(REFRESH_DELAY)
        while self._stale and self._refresh is not None:
            # A lesson's pupils share a week: their weeks are built together.
            monday = min(week for _, week in self._stale)
            students = sorted(s for s, week in self._stale if week == monday)[:REFRESH_BATCH]
            self._stale.difference_update((s, monday) for s in students)
            started = time.monotonic()
            try:
                await self._refresh(students, monday)
            except Exception:
                log.exception("rebuilding the diary weeks of %s failed", monday)
            # Background work yields to requests: it takes at most a fifth of the process's
            # time. Under a burst of saves the weeks left over are built by their readers.
            await asyncio.sleep(REFRESH_YIELD * (time.monotonic() - started))

    async def close(self) -> None:
        """Stop rebuilding what was announced so far (a stopping process): the weeks left
        are built by their readers. Later announcements start again."""
        self._stale.clear()
        task, self._refreshing = self._refreshing, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def settled(self) -> None:
        """Wait until the weeks announced so far are rebuilt (tests)."""
        while self._refreshing is not None and not self._refreshing.done():
            await asyncio.shield(self._refreshing)


async def bump_weeks(pairs: Iterable[WeekKey]) -> dict[WeekKey, int]:
    """Inside a writer's transaction: a new version for each pupil-week, its body cleared.
    Returns the new versions, to announce after the commit."""
    unique = sorted(set(pairs))
    if not unique:
        return {}
    values = ", ".join("({}, {}, 1, NULL)" for _ in unique)
    args: list[object] = []
    for student_id, monday in unique:
        args += [student_id, monday]
    rows = await DiaryWeek.raw(
        'INSERT INTO "diary_week" ("student", "week_start", "version", "body") '  # noqa: S608
        f"VALUES {values} "
        'ON CONFLICT ("student", "week_start") DO UPDATE SET '
        '"version" = "diary_week"."version" + 1, "body" = NULL '
        'RETURNING "student", "week_start", "version"',
        *args,
    )
    return {(row["student"], _day(row["week_start"])): row["version"] for row in rows}


async def bump_school_weeks(
    school_id: int, first_monday: date, last_day: date
) -> dict[WeekKey, int]:
    """Inside a writer's transaction: a new version, body cleared, for every stored week of the
    school's pupils from `first_monday` to `last_day` (the timetable was generated again).
    Weeks with no row are built when read. Returns the new versions, to announce."""
    rows = await DiaryWeek.raw(
        'UPDATE "diary_week" SET "version" = "version" + 1, "body" = NULL '
        'WHERE "week_start" >= {} AND "week_start" <= {} '
        'AND "student" IN (SELECT "id" FROM "student" WHERE "school" = {}) '
        'RETURNING "student", "week_start", "version"',
        first_monday,
        last_day,
        school_id,
    )
    return {(row["student"], _day(row["week_start"])): row["version"] for row in rows}
