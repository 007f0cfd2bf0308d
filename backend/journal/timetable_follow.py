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


def follow_timetable(cache: DiaryCache) -> Callable[[], None]:
    """Subscribe the diary to lesson changes; the answer unsubscribes."""

    async def changed(lesson_ids: Sequence[int]) -> None:
        pairs: list[tuple[int, date]] = []
        for lesson_id in lesson_ids:
            ctx = await load_lesson(lesson_id)
            monday = week_start(ctx.date)
            pairs += [(pupil, monday) for pupil in await pupils_of(ctx)]
        versions = await bump_weeks(pairs)
        await cache.announce(versions)

    return lesson_changes.subscribe(changed)
