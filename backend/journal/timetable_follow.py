"""The diary follows the timetable: a lesson moved, cancelled, replaced or given another room
shows in the diary at once (decision 0354).

`backend.schools.timetable.changes` tells us, inside the timetable service's transaction, which
lessons changed; the pupil-weeks of those lessons get new projection versions in the same
transaction, which clears their bodies. Announcing before the commit is safe: the background
rebuild starts a moment later, and a week it finds not yet cleared is left for its reader (see
`backend.journal.weeks`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from backend.journal.lessons import lesson_spans, load_lesson, pupils_of, week_start
from backend.journal.weeks import DiaryWeeks, bump_school_weeks, bump_weeks
from backend.schools.timetable import changes as lesson_changes

BUMP_CHUNK = 2000
# Past this many lessons at once (a holiday over weeks, a quarantine of the whole school), the
# school's weeks over the lessons' dates are renewed in one statement instead of looking up
# each lesson's pupils: a year-long holiday took 14 s lesson by lesson.
MANY_LESSONS = 200


def follow_timetable(weeks: DiaryWeeks) -> Callable[[], None]:
    """Subscribe the diary to lesson changes; the answer unsubscribes."""

    async def changed(lesson_ids: Sequence[int]) -> None:
        if len(lesson_ids) > MANY_LESSONS:
            for school_id, (first, last) in (await lesson_spans(lesson_ids)).items():
                weeks.announce(await bump_school_weeks(school_id, week_start(first), last))
            return
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
            weeks.announce(await bump_weeks(ordered[start : start + BUMP_CHUNK]))

    async def regenerated(school_id: int, date_from: date, date_to: date) -> None:
        weeks.announce(await bump_school_weeks(school_id, week_start(date_from), date_to))

    return lesson_changes.subscribe(changed, regenerated)
