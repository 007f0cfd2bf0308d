"""The diary cache in Redis, and the projection versions that keep it honest.

Each pupil-week has a version in `DiaryWeek` (bumped by every write that changes the week, in
the writer's transaction). Redis keeps `diary:w:<student>:<monday>` = "<version>\\n<body>" and a
floor `diary:g:<student>:<monday>` = the newest version a writer announced after its commit.
A reader stores a body only if its version is not below the floor (one Lua call), so a reader
that built from data older than a concurrent write can never hide that write. A writer that
crashes between its commit and the announcement leaves the old body for at most `TTL` seconds.

After announcing, the cache has the weeks' projection rows built again in the background
(`refresh`, a lesson's pupils together, a moment after the writer's commit), so that the family's
first read after a change finds the row instead of building the week from the journal tables.
A process that stops before it gets there loses nothing: the reader builds the week then.
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

from redis.asyncio import Redis

from backend.journal.tables import DiaryWeek

TTL = 600
# The background rebuild starts this long after an announcement: a writer that announces
# before its commit (a timetable change) has committed by then.
REFRESH_DELAY = 0.3
REFRESH_BATCH = 40  # pupils' weeks built together
REFRESH_YIELD = 4  # the rebuild sleeps this many times as long as it worked

log = logging.getLogger(__name__)

_STORE_IF_CURRENT = """
local floor = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[1]) >= floor then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""

_ANNOUNCE = """
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('SET', KEYS[i + 1], ARGV[(i + 1) / 2], 'EX', ARGV[#ARGV])
end
return 1
"""


def body_key(student_id: int, monday: date) -> str:
    return f"diary:w:{student_id}:{monday.isoformat()}"


def floor_key(student_id: int, monday: date) -> str:
    return f"diary:g:{student_id}:{monday.isoformat()}"


def etag_of(student_id: int, monday: date, version: int, body: bytes) -> str:
    """The version says which write the week reflects; the checksum guards against a version
    number used twice (a projection row purged and built again starts at 1)."""
    return f'"{student_id}-{monday.isoformat()}-{version}-{zlib.crc32(body):08x}"'


class DiaryCache:
    def __init__(
        self, redis: Redis, refresh: Callable[[list[int], date], Awaitable[object]] | None = None
    ) -> None:
        """`refresh(student_ids, monday)`: builds the projection rows of those pupils' week
        that a write cleared; called in the background for the weeks announced."""
        self.redis = redis
        self._store = redis.register_script(_STORE_IF_CURRENT)
        self._announce = redis.register_script(_ANNOUNCE)
        self._refresh = refresh
        self._stale: set[tuple[int, date]] = set()
        self._refreshing: asyncio.Task[None] | None = None

    async def get(self, student_id: int, monday: date) -> tuple[int, bytes] | None:
        raw = await self.redis.get(body_key(student_id, monday))
        if raw is None:
            return None
        data = raw.encode() if isinstance(raw, str) else bytes(raw)
        version, _, body = data.partition(b"\n")
        return int(version), body

    async def put(self, student_id: int, monday: date, version: int, body: bytes) -> None:
        await self._store(
            keys=[body_key(student_id, monday), floor_key(student_id, monday)],
            args=[version, str(version).encode() + b"\n" + body, TTL],
        )

    async def announce(self, versions: dict[tuple[int, date], int]) -> None:
        """After a writer's commit: drop the cached weeks and raise their floors."""
        if not versions:
            return
        keys: list[str] = []
        args: list[int] = []
        for (student_id, monday), version in versions.items():
            keys += [body_key(student_id, monday), floor_key(student_id, monday)]
            args.append(version)
        await self._announce(keys=keys, args=[*args, TTL * 2])
        if self._refresh is not None:
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


async def bump_weeks(pairs: Iterable[tuple[int, date]]) -> dict[tuple[int, date], int]:
    """Inside a writer's transaction: a new version for each pupil-week, its body cleared.
    Returns the new versions, to announce to the cache after the commit."""
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
    out: dict[tuple[int, date], int] = {}
    for row in rows:
        week = row["week_start"]
        if isinstance(week, str):
            week = date.fromisoformat(week)
        out[(row["student"], week)] = row["version"]
    return out
