"""The scheduled checks: "has not arrived" and absent-but-inside, run at chosen instants."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

from backend.access.absence import check_school, run_checks
from backend.access.tables import AccessGateway
from backend.events.tables import OutboxEvent
from backend.journal.tables import AttendanceRecord
from backend.schools.tables import BellSchedule
from tests.conftest import Backend
from tests.integration.access.arrange import BASE, Turnstiles, turnstiles
from tests.integration.journal.arrange import JournalWorld, make_journal_world, today

MOSCOW = ZoneInfo("Europe/Moscow")


def at(clock: str) -> datetime:
    """An instant of today on the test school's clock (Moscow)."""
    hours, minutes = map(int, clock.split(":"))
    return datetime.combine(today(), time(hours, minutes), tzinfo=MOSCOW).astimezone(UTC)


async def school_day(world: Backend) -> tuple[JournalWorld, Turnstiles]:
    """The journal's class (4 pupils, lesson 1 today) with the first lesson at 08:00, and a
    turnstile whose cards belong to those pupils."""
    jw = await make_journal_world(world, pupils=4)
    school = jw.ids["school_a"]
    await BellSchedule(
        school=school, shift=1, lesson_number=1, starts_at=time(8, 0), ends_at=time(8, 45)
    ).save()
    t = await turnstiles(world, ids=jw.ids, existing=jw.pupils)
    return jw, t


async def kinds(kind: str) -> list[dict[str, object]]:
    rows = (
        await OutboxEvent.select()
        .where(OutboxEvent.kind == kind)
        .order_by(OutboxEvent.id)
        .output(load_json=True)
    )
    return list(rows)


async def test_has_not_arrived_fires_for_a_pupil_with_no_entry_and_not_for_an_excused_one(
    world: Backend,
) -> None:
    jw, t = await school_day(world)
    came, sick, missing, late = jw.pupils
    school = jw.ids["school_a"]
    response = await t.post([t.event(came, at("07:50")), t.event(late, at("08:14"))])
    assert response.status_code == 200, response.text
    await AttendanceRecord(
        lesson=jw.lessons["today"],
        student=sick,
        school=school,
        lesson_date=today(),
        status="sick",
        recorded_by=None,
    ).save()
    # The first lesson is at 08:00 and the school's margin is 15 minutes (the default).
    assert await check_school(school, at("08:10")) == (0, 0)
    assert await kinds("access.not_arrived") == []
    not_arrived, _ = await check_school(school, at("08:16"))
    assert not_arrived == 1
    raised = await kinds("access.not_arrived")
    assert [e["student_id"] for e in raised] == [missing]
    assert raised[0]["payload"]["time"] == "08:00"
    assert raised[0]["payload"]["deadline"] == "08:15"
    # The next minute's run raises nothing again.
    assert await check_school(school, at("08:17")) == (0, 0)
    assert len(await kinds("access.not_arrived")) == 1


async def test_a_school_can_move_the_margin_or_switch_the_alert_off(world: Backend) -> None:
    jw, t = await school_day(world)
    school = jw.ids["school_a"]
    changed = await world.client.put(
        f"{BASE}/schools/{school}/settings",
        json={"not_arrived_margin_minutes": 30},
        headers=t.security.headers,
    )
    assert changed.status_code == 200, changed.text
    assert await check_school(school, at("08:20")) == (0, 0)
    assert (await check_school(school, at("08:31")))[0] == 4
    off = await world.client.put(
        f"{BASE}/schools/{school}/settings",
        json={"not_arrived_enabled": False, "not_arrived_margin_minutes": 5000},
        headers=t.security.headers,
    )
    assert off.status_code == 400  # the margin is at most 240 minutes: nothing changed
    assert "запас времени" in off.json()["message"]


async def test_a_deadline_long_past_and_a_silent_gateway_raise_nothing(world: Backend) -> None:
    jw, _ = await school_day(world)
    school = jw.ids["school_a"]
    # The worker was down all morning: at 11:00 the 08:15 deadline is stale.
    assert await check_school(school, at("11:00")) == (0, 0)
    # The gateway has never been heard from: no school is checked at all.
    assert await run_checks(at("08:16")) == {
        "not_arrived": 0,
        "absent_inside": 0,
        "journal_presence": 0,
    }
    await AccessGateway.update({AccessGateway.last_seen_at: at("08:14")}).where(
        AccessGateway.id > 0
    )
    assert await run_checks(at("08:16")) == {
        "not_arrived": 4,
        "absent_inside": 0,
        "journal_presence": 0,
    }


async def test_absent_in_a_lesson_while_inside_the_building_is_flagged_to_the_class_teacher(
    world: Backend,
) -> None:
    jw, t = await school_day(world)
    inside, outside, left, _ = jw.pupils
    school = jw.ids["school_a"]
    await t.post(
        [
            t.event(inside, at("07:55")),
            t.event(left, at("07:40")),
            t.event(left, at("07:50"), "out"),
        ]
    )
    for pupil in (inside, outside, left):
        await AttendanceRecord(
            lesson=jw.lessons["today"],
            student=pupil,
            school=school,
            lesson_date=today(),
            status="absent",
            recorded_by=None,
        ).save()
    assert (await check_school(school, at("08:03")))[1] == 0  # the lesson has just begun
    _, flagged = await check_school(school, at("08:10"))
    assert flagged == 1
    raised = await kinds("access.absent_inside")
    assert [e["student_id"] for e in raised] == [inside]
    assert raised[0]["payload"]["lesson_id"] == jw.lessons["today"]
    assert raised[0]["payload"]["subject"] == "Математика"
    assert (await check_school(school, at("08:11")))[1] == 0  # once per lesson


async def test_the_class_teacher_reads_who_is_marked_absent_but_inside(world: Backend) -> None:
    from datetime import timedelta

    from backend.core.rights import Grant, Role, ScopeKind
    from backend.schools.tables import School
    from tests.integration.access.arrange import noon_zone
    from tests.integration.journal.arrange import lesson
    from tests.support import sign_in

    jw = await make_journal_world(world, pupils=4)
    school = jw.ids["school_a"]
    # Around noon on the school's clock now, so the 08:00 lesson has begun whenever this runs.
    zone = ZoneInfo(noon_zone())
    await School.update({School.time_zone: str(zone)}).where(School.id == school)
    day = datetime.now(UTC).astimezone(zone).date()
    lesson_id = await lesson(school, jw.class_id, jw.subject_id, jw.teacher_staff, day, number=2)
    await BellSchedule(
        school=school, shift=1, lesson_number=2, starts_at=time(8, 0), ends_at=time(8, 45)
    ).save()
    t = await turnstiles(world, ids=jw.ids, existing=jw.pupils)
    inside, outside, left, present = jw.pupils

    def local(clock: str) -> datetime:
        hours, minutes = map(int, clock.split(":"))
        return datetime.combine(day, time(hours, minutes), tzinfo=zone)

    posted = await t.post(
        [
            t.event(inside, local("07:55")),
            t.event(left, local("07:40")),
            t.event(left, local("07:50"), "out"),
            t.event(present, local("07:45")),
        ]
    )
    assert posted.status_code == 200, posted.text
    for pupil in (inside, outside, left):
        await AttendanceRecord(
            lesson=lesson_id, student=pupil, school=school, lesson_date=day, status="absent"
        ).save()
    class_teacher = await sign_in(
        world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id), name="Классная Мария"
    )
    url = f"{BASE}/classes/{jw.class_id}/absent-inside"
    answer = await world.client.get(url, headers=class_teacher.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["date"] == day.isoformat()
    assert [(i["student_id"], i["lesson_id"], i["lesson_number"]) for i in body["items"]] == [
        (inside, lesson_id, 2)
    ]
    first = body["items"][0]
    assert first["subject"] == "Математика" and first["starts_at"] == "08:00:00"
    assert body["items"][0]["name"]
    # The day before: nothing (the passes and the absence were today).
    earlier = await world.client.get(
        url, params={"date": (day - timedelta(days=1)).isoformat()}, headers=class_teacher.headers
    )
    assert earlier.status_code == 200 and earlier.json()["items"] == []
    # School staff who run the journal read it too; a subject teacher of the school does not,
    # nor the class teacher of another class; a bad date names the field.
    assert (await world.client.get(url, headers=jw.coordinator.headers)).status_code == 200
    assert (await world.client.get(url, headers=jw.teacher.headers)).status_code == 404
    other = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id + 999))
    assert (await world.client.get(url, headers=other.headers)).status_code == 404
    bad = await world.client.get(url, params={"date": "вчера"}, headers=jw.coordinator.headers)
    assert bad.status_code == 400 and "date" in bad.text
