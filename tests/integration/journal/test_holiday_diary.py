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


async def test_the_diary_shows_lessons_made_by_generating_the_timetable_again(
    world: Backend,
) -> None:
    """Generating lessons again (a new timetable entry) adds lessons to weeks a family has
    already read: the stored week is cleared in the same transaction."""
    from backend.core.rights import Grant, Role, ScopeKind
    from tests.integration.schools.people_world import add_pupil
    from tests.integration.schools.test_timetable import entry, timetable_world
    from tests.support import sign_in

    sw, ids = await timetable_world(world)
    ivanova = sw.staff["ivanova"]
    pupil = await add_pupil(sw.school_id, "Котов", "Миша", ids["5А"])
    mother = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil))
    week = f"/api/v1/diary/students/{pupil}/week?date=2026-09-07"

    async def lesson_days() -> tuple[str, list[str]]:
        response = await world.client.get(week, headers=mother.headers)
        assert response.status_code == 200, response.text
        days = [d["date"] for d in response.json()["days"] if d["lessons"]]
        return response.headers["etag"], days

    async def add_and_generate(weekday: int) -> None:
        r = await sw.post(
            "/timetable/bulk",
            {"entries": [entry(ids, weekday=weekday, teacher=ivanova, room="204")]},
        )
        assert r.status_code == 201, r.text
        r = await sw.post("/lessons/generate", {"date_from": "2026-09-07", "date_to": "2026-09-13"})
        assert r.status_code == 200 and r.json()["created"] == 1, r.text

    await add_and_generate(weekday=1)
    etag, days = await lesson_days()
    assert days == ["2026-09-07"]
    await add_and_generate(weekday=3)  # Wednesday's lesson, made after the family read
    new_etag, days = await lesson_days()
    assert days == ["2026-09-07", "2026-09-09"]
    assert new_etag != etag


async def test_a_holiday_over_many_lessons_shows_in_every_diary(world: Backend) -> None:
    """A holiday over a week of a whole school cancels hundreds of lessons at once; the diary
    renews the school's weeks over those dates in one statement, and every family's week shows
    its lessons cancelled."""
    from datetime import date, timedelta

    from backend.accounts.passwords import Passwords
    from backend.journal.timetable_follow import MANY_LESSONS
    from backend.schools.tables import AcademicYear, Lesson
    from backend.seed import DEMO_PASSWORD, seed_demo

    day = date(2026, 11, 23)  # a Monday
    result = await seed_demo(
        Passwords(fast=True), classes_per_grade=1, pupils_per_class=3, today=day
    )
    school_id = result.school_ids[0]
    year = await AcademicYear.select().where(AcademicYear.school == school_id).first()

    async def token(login: str) -> dict[str, str]:
        r = await world.client.post(
            "/api/v1/auth/login", json={"identifier": login, "password": DEMO_PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    parent = await token("parent")
    children = (await world.client.get("/api/v1/family/children", headers=parent)).json()
    child = children[0]["student_id"]
    monday = day + timedelta(days=7)
    week = f"/api/v1/diary/students/{child}/week?date={monday.isoformat()}"
    before = (await world.client.get(week, headers=parent)).json()
    lessons = [i for d in before["days"] for i in d["lessons"]]
    assert lessons and {i["status"] for i in lessons} == {"scheduled"}

    r = await world.client.post(
        f"/api/v1/schools/{school_id}/years/{year['id']}/holidays",
        json={
            "name": "Карантин",
            "starts_on": monday.isoformat(),
            "ends_on": (monday + timedelta(days=6)).isoformat(),
        },
        headers=await token("coordinator"),
    )
    assert r.status_code == 201, r.text
    assert len(r.json()["cancelled_lessons"]) > MANY_LESSONS
    after = (await world.client.get(week, headers=parent)).json()
    statuses = {i["lesson_id"]: i["status"] for d in after["days"] for i in d["lessons"]}
    assert set(statuses) == {i["lesson_id"] for i in lessons}
    assert set(statuses.values()) == {"cancelled"}
    # The lessons themselves were cancelled, not only the diary's view of them.
    assert (
        await Lesson.count().where(
            (Lesson.school == school_id)
            & (Lesson.date >= monday)
            & (Lesson.date <= monday + timedelta(days=6))
            & (Lesson.status == "scheduled")
        )
        == 0
    )
