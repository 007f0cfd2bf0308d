"""The diary follows the timetable: a lesson moved, cancelled, replaced or given another room
shows in the diary at once (decision 0354).

`backend.schools.lesson_changes` tells us, inside the timetable service's transaction, which
lessons changed; the pupil-weeks of those lessons get new projection versions in the same
transaction and their cached bodies are dropped. Announcing before the commit is safe: a reader
that builds from the old rows meanwhile reads the old version, which is below the new floor, so
it cannot store its body (see `backend.journal.cache`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from backend.journal.cache import DiaryCache, bump_weeks
from backend.journal.lessons import load_lesson, pupils_of, week_start
from backend.schools import lesson_changes

BUMP_CHUNK = 2000


def follow_timetable(cache: DiaryCache) -> Callable[[], None]:
    """Subscribe the diary to lesson changes; the answer unsubscribes."""

    async def changed(lesson_ids: Sequence[int]) -> None:
        pairs: set[tuple[int, date]] = set()
        # A holiday cancels many lessons at once: the pupils of one class or group are looked
        # up once per date (its lessons of that day share them).
        seen: set[tuple[int | None, int | None, date]] = set()
        for lesson_id in lesson_ids:
            ctx = await load_lesson(lesson_id)
            key = (ctx.class_id, ctx.group_id, ctx.date)
            if key in seen:
                continue
            seen.add(key)
            monday = week_start(ctx.date)
            pairs.update((pupil, monday) for pupil in await pupils_of(ctx))
        ordered = sorted(pairs)
        for start in range(0, len(ordered), BUMP_CHUNK):  # bound the statement's parameters
            await cache.announce(await bump_weeks(ordered[start : start + BUMP_CHUNK]))

    return lesson_changes.subscribe(changed)
