"""Every process starts through `backend.bootstrap`: a change made by a command has the same
effects as one made through the API (here: the diary follows the timetable, decision 0354)."""

from __future__ import annotations

import asyncio
from typing import Any

from backend.schools.tables import Lesson, TimetableEntry
from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world, today
from tests.support import parta


async def test_lessons_made_by_the_command_show_in_the_diary_at_once(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil, school, day = jw.pupils[0], jw.ids["school_a"], today()
    mother = await guardian_of(world, pupil)
    week = f"/api/v1/diary/students/{pupil}/week?date={day.isoformat()}"

    async def lessons_of_the_day() -> tuple[str, list[dict[str, Any]]]:
        response = await world.client.get(week, headers=mother.headers)
        assert response.status_code == 200, response.text
        days = [d for d in response.json()["days"] if d["date"] == day.isoformat()]
        return response.headers["etag"], [i for d in days for i in d["lessons"]]

    etag, before = await lessons_of_the_day()
    assert [i["lesson_id"] for i in before] == [jw.lessons["today"]]
    cached = await world.client.get(week, headers={**mother.headers, "If-None-Match": etag})
    assert cached.status_code == 304  # the week is stored and cached now

    entry = TimetableEntry(
        school=school,
        weekday=day.isoweekday(),
        lesson_number=2,
        school_class=jw.class_id,
        subject=jw.subject_id,
        teacher=jw.teacher_staff,
        valid_from=day,
        valid_to=day,
    )
    await entry.save()
    done = await asyncio.to_thread(
        parta, world, "lessons", "--school", str(school), "--from", str(day), "--to", str(day)
    )
    assert done.returncode == 0, done.stderr
    made = await Lesson.select(Lesson.id).where(Lesson.timetable_entry == entry.id)
    assert len(made) == 1

    again = await world.client.get(week, headers={**mother.headers, "If-None-Match": etag})
    assert again.status_code == 200
    _, after = await lessons_of_the_day()
    assert sorted(i["lesson_id"] for i in after) == sorted([jw.lessons["today"], made[0]["id"]])
