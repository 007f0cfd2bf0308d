"""The demo journal fill: a term of marks, absences, topics and homework, once."""

from __future__ import annotations

from backend.journal.seed import fill_term
from backend.journal.tables import AttendanceRecord, Homework, Mark
from backend.schools.tables import Lesson
from tests.conftest import Backend
from tests.integration.journal.arrange import make_journal_world


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
