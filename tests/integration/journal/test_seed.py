"""The demo journal fill: a term of marks, absences, topics and homework, once."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from backend.journal.seed import fill_term
from backend.journal.tables import AttendanceRecord, Homework, LessonRecord, Mark
from backend.schools.tables import BellSchedule, Lesson
from tests.conftest import Backend
from tests.integration.journal.arrange import lesson, make_journal_world, today


async def test_fill_term_fills_past_lessons_once(world: Backend) -> None:
    jw = await make_journal_world(world, pupils=12)
    result = await fill_term(jw.ids["school_a"], weeks=9)
    assert result.lessons == 2
    assert await AttendanceRecord.count() == result.absences
    assert await Mark.count() == result.marks > 0
    assert await Homework.count() == result.homework
    topics = await Lesson.select(Lesson.topic)
    assert all(row["topic"] for row in topics)
    again = await fill_term(jw.ids["school_a"], weeks=9)
    assert again.lessons == 0 and await AttendanceRecord.count() == result.absences


async def test_grade_one_gets_no_marks(world: Backend) -> None:
    jw = await make_journal_world(world, grade=1, pupils=12)
    result = await fill_term(jw.ids["school_a"])
    assert result.lessons == 2 and result.marks == 0 and await Mark.count() == 0


async def test_today_is_filled_only_up_to_the_lesson_under_way(world: Backend) -> None:
    """Trial 2026-12-07: at 08:55 the demo already had marks and «оп» for lesson 5 (11:40).
    Lessons of today that have not begun on the school's clock are left empty; marks and
    homework carry the time their lesson ended; an absence's reason fits its kind."""
    jw = await make_journal_world(world, pupils=30)
    school = jw.ids["school_a"]
    for number, begins, ends in ((1, time(8, 0), time(8, 40)), (5, time(11, 40), time(12, 20))):
        await BellSchedule(
            school=school, shift=1, lesson_number=number, starts_at=begins, ends_at=ends
        ).save()
    later = await lesson(school, jw.class_id, jw.subject_id, jw.teacher_staff, today(), number=5)
    past = [
        await lesson(school, jw.class_id, jw.subject_id, jw.teacher_staff, day, number=1)
        for day in (today() - timedelta(days=n) for n in range(1, 40) if n != 30)
    ]
    moscow = ZoneInfo("Europe/Moscow")
    now = datetime.combine(today(), time(8, 55), moscow).astimezone(UTC)

    result = await fill_term(school, weeks=9, now=now)

    assert result.lessons == 2 + len(past)  # all but lesson 5 of today
    assert await LessonRecord.count().where(LessonRecord.lesson == later) == 0
    assert await Mark.count().where(Mark.lesson == later) == 0
    assert await AttendanceRecord.count().where(AttendanceRecord.lesson == later) == 0
    assert await LessonRecord.count().where(LessonRecord.lesson == jw.lessons["today"]) == 1
    written = await Mark.select(Mark.lesson_date, Mark.updated_at, Mark.created_at)
    assert written
    for mark in written:
        at = mark["updated_at"].astimezone(moscow)
        assert (at.date(), at.time()) == (mark["lesson_date"], time(8, 40)), mark
        assert mark["created_at"] == mark["updated_at"]
    homework = await Homework.select(Homework.lesson_date, Homework.updated_at)
    assert homework and all(
        h["updated_at"].astimezone(moscow).date() == h["lesson_date"] for h in homework
    )

    reasons: dict[str, set[str]] = {}
    for row in await AttendanceRecord.select(AttendanceRecord.status, AttendanceRecord.reason):
        reasons.setdefault(row["status"], set()).add(row["reason"])
    assert {"sick", "excused", "absent"} <= reasons.keys(), reasons
    assert "семейные обстоятельства" not in reasons["sick"]
    assert reasons["sick"] - {""} <= {"ОРВИ", "простуда", "справка от врача"}
    assert "" not in reasons["excused"]
    assert reasons["absent"] == {""}
