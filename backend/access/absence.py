"""Scheduled checks on the entry log, run every minute by the worker (`run_checks`):

- **"has not arrived"** (``access.not_arrived``): a pupil with no entry by the start of their
  class's first lesson plus the school's margin, who is not excused (sick or excused in the
  journal that day), is reported to the family once a day;
- **absent but inside** (``access.absent_inside``): a pupil marked absent in a lesson that has
  begun while the log says they were inside the building is flagged to the class teacher;
- **presence in the journal** (`journal_presence`, for a school that chose it): the pupils'
  first entries mark them present or late in the lessons that have begun, where nobody has
  marked them yet (backend/journal/turnstile.py writes, never over a person's mark).

`class_absent_inside` reads the second list for one class (the class teacher's tablet view).

A school whose gateways have been silent for `GATEWAY_SILENT` gets no "has not arrived": with
the turnstile's passes not reaching the server, every pupil would look absent. A deadline that
passed more than `CATCH_UP` ago (the worker was down) raises nothing: it would be stale.
The journal and the timetable are read through their services, never their tables.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from backend.access.alerts import claim
from backend.access.presence import (
    READ_ACCESS_LOG,
    first_entries,
    inside_at,
    school_first_entries,
)
from backend.access.registry import settings_of
from backend.access.tables import AccessGateway
from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import NotFound
from backend.core.rights import Permission, Role, ScopeKind
from backend.events import kinds as k
from backend.events.services import emit
from backend.journal.attendance import absences_on, excused_on
from backend.journal.turnstile import BegunLesson, mark_from_entries
from backend.schools.people.contacts import school_info
from backend.schools.people.movement import class_target, students_of_class
from backend.schools.timetable.services import list_lessons

log = logging.getLogger("parta.access")

NOT_ARRIVED, ABSENT_INSIDE = k.ACCESS_NOT_ARRIVED, k.ACCESS_ABSENT_INSIDE
GATEWAY_SILENT = timedelta(minutes=10)
CATCH_UP = timedelta(hours=2)
INSIDE_AFTER_START = timedelta(minutes=5)  # the pupil was inside 5 minutes into the lesson
MAX_LESSONS = 500
PRESENCE_AFTER_END = timedelta(minutes=15)  # a batch a little late still marks its lesson


async def schools_with_live_gateways(now: datetime) -> list[int]:
    rows = await AccessGateway.select(AccessGateway.school_id).where(
        (AccessGateway.is_active == True)  # noqa: E712
        & (AccessGateway.last_seen_at >= now - GATEWAY_SILENT)
    )
    return sorted({r["school_id"] for r in rows})


async def _lessons_today(school_id: int, day: date) -> list[Any]:
    lessons, _ = await list_lessons(Actor.system(), school_id, day, day, limit=MAX_LESSONS)
    return [lesson for lesson in lessons if lesson.status != "cancelled" and lesson.starts_at]


def _at(day: date, clock: Any, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


async def check_school(school_id: int, now: datetime) -> tuple[int, int]:
    """Both checks for one school; returns (not arrived raised, absent-inside raised)."""
    info = await school_info(school_id)
    if info is None:
        return 0, 0
    zone = ZoneInfo(info.time_zone)
    day = now.astimezone(zone).date()
    lessons = await _lessons_today(school_id, day)
    if not lessons:
        return 0, 0
    return (
        await _not_arrived(school_id, day, zone, lessons, now),
        await _absent_inside(school_id, day, zone, lessons, now),
    )


async def _not_arrived(
    school_id: int, day: date, zone: ZoneInfo, lessons: list[Any], now: datetime
) -> int:
    rules = await settings_of(school_id)
    if not rules["not_arrived_enabled"]:
        return 0
    margin = timedelta(minutes=int(rules["not_arrived_margin_minutes"]))
    first_start: dict[int, Any] = {}
    for lesson in lessons:
        if lesson.school_class is None:
            continue  # a group's lesson: its class's own first lesson decides
        known = first_start.get(lesson.school_class)
        if known is None or lesson.starts_at < known:
            first_start[lesson.school_class] = lesson.starts_at
    raised = 0
    for class_id, starts in sorted(first_start.items()):
        deadline = _at(day, starts, zone) + margin
        if not (deadline <= now < deadline + CATCH_UP):
            continue
        pupils = [p.id for p in await students_of_class(class_id, day)]
        entered = await first_entries(pupils, day)
        excused = await excused_on(pupils, day)
        missing = [p for p in pupils if p not in entered and p not in excused]
        for student_id in missing:
            async with transaction():
                if await claim(school_id, student_id, day, NOT_ARRIVED, "", None, now):
                    await emit(
                        NOT_ARRIVED,
                        {
                            "student_id": student_id,
                            "date": day.isoformat(),
                            "time": starts.strftime("%H:%M"),
                            "deadline": deadline.astimezone(zone).strftime("%H:%M"),
                        },
                        school_id=school_id,
                        student_id=student_id,
                    )
                    raised += 1
    return raised


async def absent_but_inside(
    school_id: int,
    day: date,
    zone: ZoneInfo,
    lessons: list[Any],
    now: datetime,
    pupils_only: set[int] | None = None,
) -> list[tuple[Any, int]]:
    """(lesson, pupil) for each pupil marked absent in a lesson that has begun while the log
    says they were inside the building 5 minutes into it; `pupils_only` narrows to a class."""
    started = {
        lesson.id: lesson
        for lesson in lessons
        if _at(day, lesson.starts_at, zone) + INSIDE_AFTER_START <= now
    }
    by_lesson: dict[int, list[int]] = {}
    for absence in await absences_on(school_id, day):
        if absence["lesson_id"] in started and (
            pupils_only is None or absence["student_id"] in pupils_only
        ):
            by_lesson.setdefault(absence["lesson_id"], []).append(absence["student_id"])
    found = []
    for lesson_id, pupils in sorted(by_lesson.items()):
        lesson = started[lesson_id]
        moment = _at(day, lesson.starts_at, zone) + INSIDE_AFTER_START
        found += [(lesson, p) for p in sorted(await inside_at(pupils, day, moment))]
    return found


async def _absent_inside(
    school_id: int, day: date, zone: ZoneInfo, lessons: list[Any], now: datetime
) -> int:
    raised = 0
    for lesson, student_id in await absent_but_inside(school_id, day, zone, lessons, now):
        lesson_id = lesson.id
        async with transaction():
            if await claim(school_id, student_id, day, ABSENT_INSIDE, str(lesson_id), None, now):
                await emit(
                    ABSENT_INSIDE,
                    {
                        "student_id": student_id,
                        "lesson_id": lesson_id,
                        "subject": lesson.subject_name,
                        "lesson_number": lesson.lesson_number,
                        "date": day.isoformat(),
                        "time": lesson.starts_at.strftime("%H:%M"),
                    },
                    school_id=school_id,
                    student_id=student_id,
                )
                raised += 1
    return raised


async def journal_presence(school_id: int, now: datetime) -> int:
    """The turnstile's marks in the journal for the lessons in progress (or ended less than
    `PRESENCE_AFTER_END` ago), if the school chose it; returns the records written."""
    if not (await settings_of(school_id))["journal_presence"]:
        return 0
    info = await school_info(school_id)
    if info is None:
        return 0
    zone = ZoneInfo(info.time_zone)
    day = now.astimezone(zone).date()
    begun = []
    for lesson in await _lessons_today(school_id, day):
        if lesson.ends_at is None:
            continue
        starts, ends = _at(day, lesson.starts_at, zone), _at(day, lesson.ends_at, zone)
        if starts <= now < ends + PRESENCE_AFTER_END:
            begun.append(
                BegunLesson(lesson.id, lesson.school_class, lesson.study_group, starts, ends)
            )
    if not begun:
        return 0
    return await mark_from_entries(
        school_id, day, begun, await school_first_entries(school_id, day), now
    )


def _may_read_class(actor: Actor, class_id: int, target: Any) -> bool:
    """The class's class teacher, or school staff who read the entry log or run the journal."""
    principal = actor.principal
    if principal is None:
        return True  # the system
    if any(
        g.role is Role.CLASS_TEACHER and g.scope_kind is ScopeKind.CLASS and g.scope_id == class_id
        for g in principal.live_grants()
    ):
        return True
    return any(
        principal.allows(p, target)
        for p in (Permission.ACCESS_READ, Permission.ACCESS_MANAGE, Permission.JOURNAL_MANAGE)
    )


async def class_absent_inside(
    actor: Actor, class_id: int, day: date | None, now: datetime | None = None
) -> dict[str, Any]:
    """The class's pupils marked absent in a lesson of `day` (today by default) that has begun,
    while the entry log says they were inside. Audited like every read of the log."""
    target = await class_target(class_id)
    if not _may_read_class(actor, class_id, target):
        raise NotFound()
    school_id = target.school_id
    assert school_id is not None
    info = await school_info(school_id)
    zone = ZoneInfo(info.time_zone if info else "Europe/Moscow")
    now = now or datetime.now(UTC)
    day = day or now.astimezone(zone).date()
    pupils = {p.id: p for p in await students_of_class(class_id, day)}
    lessons = await _lessons_today(school_id, day)
    found = await absent_but_inside(school_id, day, zone, lessons, now, set(pupils))
    async with transaction():
        await record(
            actor, READ_ACCESS_LOG, object_type="class_absent_inside", object_id=class_id,
            school_id=school_id, details={"date": day.isoformat(), "pupils": len(found)},
        )  # fmt: skip
    return {
        "class_id": class_id,
        "date": day,
        "items": [
            {
                "student_id": student_id,
                "name": _name(pupils[student_id]),
                "lesson_id": lesson.id,
                "lesson_number": lesson.lesson_number,
                "subject": lesson.subject_name,
                "starts_at": lesson.starts_at,
            }
            for lesson, student_id in found
        ],
    }


def _name(pupil: Any) -> str:
    return " ".join(x for x in (pupil.last_name, pupil.first_name) if x)


async def run_checks(now: datetime | None = None) -> dict[str, int]:
    """Every school with a live gateway, once (the worker's cron calls this every minute)."""
    now = now or datetime.now(UTC)
    totals = {"not_arrived": 0, "absent_inside": 0, "journal_presence": 0}
    for school_id in await schools_with_live_gateways(now):
        try:
            not_arrived, absent_inside = await check_school(school_id, now)
            totals["journal_presence"] += await journal_presence(school_id, now)
        except Exception:  # one school's failure must not stop the others' alerts
            log.exception("access checks failed for school %s", school_id)
            continue
        totals["not_arrived"] += not_arrived
        totals["absent_inside"] += absent_inside
    return totals
