"""A holiday added after the lessons were made: the diary shows its lessons cancelled at once,
as it does for a lesson cancelled by hand (decision 0354). Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend
from tests.integration.journal.arrange import guardian_of, make_journal_world, today


async def test_the_diary_shows_lessons_cancelled_by_a_new_holiday_at_once(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil, school, lesson_id = jw.pupils[0], jw.ids["school_a"], jw.lessons["today"]
    mother = await guardian_of(world, pupil)
    week = f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}"

    async def diary_lesson() -> tuple[str, dict[str, Any]]:
        response = await world.client.get(week, headers=mother.headers)
        assert response.status_code == 200, response.text
        items = [i for d in response.json()["days"] for i in d["lessons"]]
        return response.headers["etag"], next(i for i in items if i["lesson_id"] == lesson_id)

    etag, before = await diary_lesson()
    assert before["status"] == "scheduled"
    cached = await world.client.get(week, headers={**mother.headers, "If-None-Match": etag})
    assert cached.status_code == 304  # the week is cached now

    r = await world.client.post(
        f"/api/v1/schools/{school}/years/{jw.year_id}/holidays",
        json={
            "name": "Карантин",
            "starts_on": today().isoformat(),
            "ends_on": today().isoformat(),
        },
        headers=jw.coordinator.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["cancelled_lessons"] == [lesson_id]

    again = await world.client.get(week, headers={**mother.headers, "If-None-Match": etag})
    assert again.status_code == 200  # not the stale cached week
    _, after = await diary_lesson()
    assert after["status"] == "cancelled"
    # Another pupil of the class sees it too (the class's pupils are all told).
    other = await guardian_of(world, jw.pupils[1])
    r = await world.client.get(
        f"/api/v1/diary/students/{jw.pupils[1]}/week?date={today().isoformat()}",
        headers=other.headers,
    )
    statuses = {i["lesson_id"]: i["status"] for d in r.json()["days"] for i in d["lessons"]}
    assert statuses[lesson_id] == "cancelled"
