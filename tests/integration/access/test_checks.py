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
    assert await run_checks(at("08:16")) == {"not_arrived": 0, "absent_inside": 0}
    await AccessGateway.update({AccessGateway.last_seen_at: at("08:14")}).where(
        AccessGateway.id > 0
    )
    assert await run_checks(at("08:16")) == {"not_arrived": 4, "absent_inside": 0}


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
