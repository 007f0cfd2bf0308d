"""The pupil-day read (decision 0810): one query answers what a meal order asked of schools in
four — the pupil's place for rights, the class and grade on a day, the school's clock — and
answers it exactly as those did, for pupils admitted, moved ahead, gone and never enrolled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.core.errors import NotFound
from backend.core.rights import ScopeKind
from backend.schools.people import movement
from backend.schools.people.movement import school_today
from backend.schools.services import scope_target
from backend.schools.structure import services as structure
from backend.schools.tables import AcademicYear, Enrollment, Holiday, SchoolClass, Student
from backend.schools.timetable import services as timetable
from tests.conftest import Backend
from tests.support import make_tenancy


async def test_pupil_day_answers_as_the_four_reads_did(world: Backend) -> None:
    ids = await make_tenancy(world)
    school = ids["school_a"]
    today = await school_today(school)
    start = today - timedelta(days=100)
    year = AcademicYear(
        school=school, name="Год", starts_on=start, ends_on=start + timedelta(days=364)
    )
    await year.save()
    classes = []
    for grade, letter in ((3, "А"), (4, "Б")):
        row = SchoolClass(school=school, academic_year=year.id, grade=grade, letter=letter)
        await row.save()
        classes.append(row.id)
    third, fourth = classes
    movements = {
        "stays": [("admitted", third, start)],
        "moves_ahead": [
            ("admitted", third, start),
            ("transferred", fourth, today + timedelta(days=10)),
        ],
        "left": [("admitted", fourth, start), ("left", None, today - timedelta(days=5))],
        "never": [],
    }
    pupils = {}
    for name, entries in movements.items():
        pupil = Student(school=school, last_name=name, first_name="Дети")
        await pupil.save()
        pupils[name] = pupil.id
        # Written out of order: the read sorts them by date.
        for kind, class_id, on in reversed(entries):
            await Enrollment(
                student=pupil.id,
                school=school,
                school_class=class_id,
                kind=kind,
                date=on,
                order_number="1",
            ).save()
    for name, starts, ends, grades in (
        ("Осенние", today - timedelta(days=40), today - timedelta(days=33), []),
        ("Праздник", today - timedelta(days=3), today - timedelta(days=3), [3]),
        ("Зимние", today + timedelta(days=15), today + timedelta(days=25), []),
    ):
        await Holiday(
            academic_year=year.id, name=name, starts_on=starts, ends_on=ends, grades=grades
        ).save()
    other_year = AcademicYear(
        school=ids["school_b"], name="Чужой", starts_on=start, ends_on=start + timedelta(days=364)
    )
    await other_year.save()
    await Holiday(academic_year=other_year.id, name="Чужие", starts_on=today, ends_on=today).save()
    clock = await structure.school_clock(school)
    seen_grades = set()
    holidays_seen: set[str] = set()
    for name, student_id in pupils.items():
        target = await scope_target(ScopeKind.STUDENT, student_id)
        for day in (start - timedelta(days=1), today, today + timedelta(days=20)):
            since = day - timedelta(days=31)
            found = await structure.pupil_day(student_id, day, since)
            assert found.target == target, (name, day)
            expected = await timetable.load_holidays(school, since, day)
            calendar = timetable.HolidayCalendar(found.holidays)
            assert (calendar.names, calendar.all_grades, dict(calendar.some_grades)) == (
                expected.names,
                expected.all_grades,
                dict(expected.some_grades),
            ), (name, day)
            holidays_seen.update(h["name"] for h in found.holidays)
            class_id = await movement.class_on(student_id, day)
            grade = (await movement.class_info(class_id)).grade if class_id else None
            assert (found.class_id, found.grade) == (class_id, grade), (name, day)
            assert found.clock == clock
            seen_grades.add(grade)
    assert seen_grades == {None, 3, 4}  # the cases differ: the comparison means something
    assert holidays_seen == {"Праздник", "Зимние"}  # not the other school's, nor out of span
    assert (await structure.pupil_day(pupils["moves_ahead"], today)).target.class_ids == {
        third,
        fourth,
    }
    with pytest.raises(NotFound):
        await structure.pupil_day(max(pupils.values()) + 1000, today)
