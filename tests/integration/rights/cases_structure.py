"""Rights cases of school structure, the year, the timetable and lessons."""

from __future__ import annotations

from datetime import date, time
from typing import Any

from backend.core.rights import Role
from backend.schools.tables import (
    CurriculumItem,
    Holiday,
    Lesson,
    Room,
    Staff,
    StudyGroup,
    StudyPeriod,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)
from tests.integration.rights import ALL_ROLES, Case, RightsWorld

# STRUCTURE_READ at school A (or above it in the tenancy tree).
READERS = frozenset(
    {
        Role.SYSTEM_ADMIN,
        Role.REGIONAL_OFFICIAL,
        Role.MUNICIPAL_OFFICIAL,
        Role.SCHOOL_COORDINATOR,
        Role.SCHOOL_ADMIN,
        Role.SECRETARY,
        Role.TEACHER,
        Role.NURSE,
        Role.CATERER,
        Role.SECURITY,
    }
)
MANAGERS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.SCHOOL_ADMIN})
SYSTEM = frozenset({Role.SYSTEM_ADMIN})
S = "/api/v1/schools/{school_id:int}"
A = "/api/v1/schools/{school_a}"


async def SETUP(world: Any, rw: RightsWorld) -> None:
    school, year, klass = rw.ids["school_a"], rw.ids["year_a"], rw.ids["class_a"]
    staff = Staff(school=school, last_name="Учитель", first_name="Матрица")
    await staff.save()
    subject = Subject(school=school, name="Математика")
    await subject.save()
    room = Room(school=school, name="101")
    await room.save()
    period = StudyPeriod(
        academic_year=year,
        kind="quarter",
        number=1,
        name="1 четверть",
        starts_on=date(2026, 9, 1),
        ends_on=date(2026, 10, 24),
        grades=[5],
    )
    await period.save()
    closable = StudyPeriod(
        academic_year=year,
        kind="quarter",
        number=2,
        name="2 четверть",
        starts_on=date(2026, 11, 5),
        ends_on=date(2026, 12, 28),
        grades=[5],
    )
    await closable.save()
    holiday = Holiday(
        academic_year=year,
        name="Осенние каникулы",
        starts_on=date(2026, 10, 26),
        ends_on=date(2026, 11, 3),
    )
    await holiday.save()
    group = StudyGroup(school=school, academic_year=year, name="5А англ. 1", school_class=klass)
    await group.save()
    item = CurriculumItem(academic_year=year, subject=subject.id, grade=5, hours_per_week=5)
    await item.save()
    assignment = TeachingAssignment(
        academic_year=year, teacher=staff.id, subject=subject.id, school_class=klass
    )
    await assignment.save()
    # The timetable cases add entries for this teacher, subject and class; they need an
    # assignment that outlives the DELETE case above (which removes `assignment`).
    await TeachingAssignment(
        academic_year=year, teacher=staff.id, subject=subject.id, school_class=klass
    ).save()
    entry = TimetableEntry(
        school=school,
        weekday=1,
        lesson_number=1,
        school_class=klass,
        subject=subject.id,
        teacher=staff.id,
        room=room.id,
        valid_from=date(2026, 9, 1),
        valid_to=date(2027, 5, 31),
    )
    await entry.save()
    spare_entry = TimetableEntry(
        school=school,
        weekday=2,
        lesson_number=1,
        school_class=klass,
        subject=subject.id,
        teacher=staff.id,
        room=room.id,
        valid_from=date(2026, 9, 1),
        valid_to=date(2027, 5, 31),
    )
    await spare_entry.save()
    lesson = Lesson(
        school=school,
        date=date(2026, 9, 7),
        lesson_number=1,
        school_class=klass,
        subject=subject.id,
        teacher=staff.id,
        room=room.id,
        timetable_entry=entry.id,
    )
    await lesson.save()
    movable = Lesson(
        school=school,
        date=date(2026, 9, 8),
        lesson_number=1,
        school_class=klass,
        subject=subject.id,
        teacher=staff.id,
        room=room.id,
        timetable_entry=spare_entry.id,
    )
    await movable.save()
    rw.ids["movable_lesson_a"] = movable.id
    rw.ids.update(
        staff_a=staff.id,
        subject_a=subject.id,
        room_a=room.id,
        period_a=period.id,
        closable_a=closable.id,
        holiday_a=holiday.id,
        group_a=group.id,
        curriculum_a=item.id,
        assignment_a=assignment.id,
        entry_a=entry.id,
        spare_entry_a=spare_entry.id,
        lesson_a=lesson.id,
    )
    _ = time


def _unique_year(rw: RightsWorld) -> dict[str, Any]:
    n = 2030 + 2 * rw.unique()
    return {"name": f"{n}/{n + 1}", "starts_on": f"{n}-09-01", "ends_on": f"{n + 1}-08-31"}


def _unique_period(rw: RightsWorld) -> dict[str, Any]:
    return {
        "kind": "half_year",
        "number": 1,
        "starts_on": "2027-01-11",
        "ends_on": "2027-05-31",
        "grades": [rw.unique() % 4 + 7],
    }


def _unique_class(rw: RightsWorld) -> dict[str, Any]:
    return {"academic_year_id": rw.ids["year_a"], "grade": 6, "letter": _letter(rw.unique())}


def _letter(n: int) -> str:
    """One or two Cyrillic capitals, different for each n below 32 * 32."""
    return f"{chr(0x410 + n % 32)}{chr(0x410 + n // 32 % 32)}"


def _named(rw: RightsWorld) -> dict[str, Any]:
    return {"name": f"Объект {rw.unique()}"}


def _curriculum(rw: RightsWorld) -> dict[str, Any]:
    return {
        "academic_year_id": rw.ids["year_a"],
        "subject_id": rw.ids["subject_a"],
        "grade": rw.unique() % 4 + 7,
        "hours_per_week": 3,
    }


def _assignment(rw: RightsWorld) -> dict[str, Any]:
    return {
        "academic_year_id": rw.ids["year_a"],
        "teacher_id": rw.ids["staff_a"],
        "subject_id": rw.ids["subject_a"],
        "study_group_id": rw.ids["group_a"],
    }


def _entries(rw: RightsWorld) -> dict[str, Any]:
    return {"entries": [{**_entry(rw), "weekday": 4}]}


def _entry(rw: RightsWorld) -> dict[str, Any]:
    return {
        "weekday": 3,
        "lesson_number": rw.unique() % 8 + 1,
        "school_class_id": rw.ids["class_a"],
        "subject_id": rw.ids["subject_a"],
        "teacher_id": rw.ids["staff_a"],
        "valid_from": "2026-09-01",
        "valid_to": "2026-12-28",
    }


CASES = [
    # tenancy
    Case(
        "POST",
        "/api/v1/regions",
        "/api/v1/regions",
        SYSTEM,
        body=lambda rw: {"name": f"Регион {rw.unique()}", "code": f"x{rw.unique()}"},
    ),
    Case(
        "POST",
        "/api/v1/regions/{region_id:int}/municipalities",
        "/api/v1/regions/{region}/municipalities",
        SYSTEM,
        body=_named,
    ),
    Case(
        "POST",
        "/api/v1/municipalities/{municipality_id:int}/schools",
        "/api/v1/municipalities/{m1}/schools",
        SYSTEM,
        body=lambda rw: {"full_name": "Школа", "short_name": f"Школа {rw.unique()}"},
    ),
    Case(
        "GET",
        "/api/v1/schools",
        "/api/v1/schools",
        READERS | {Role.CLASS_TEACHER, Role.PUPIL},
        note="filtered to the schools in scope; a class or pupil grant sees none",
    ),
    Case("GET", S, A, READERS),
    Case("GET", S + "/settings", A + "/settings", READERS),
    Case("PATCH", S + "/settings", A + "/settings", MANAGERS, body={"marking_window_days": 5}),
    # the year
    Case("GET", S + "/years", A + "/years", READERS),
    Case("POST", S + "/years", A + "/years", MANAGERS, body=_unique_year),
    Case(
        "PATCH",
        S + "/years/{year_id:int}",
        A + "/years/{year_a}",
        MANAGERS,
        body={"ends_on": "2027-08-31"},
    ),
    Case("GET", S + "/years/{year_id:int}/periods", A + "/years/{year_a}/periods", READERS),
    Case(
        "POST",
        S + "/years/{year_id:int}/periods",
        A + "/years/{year_a}/periods",
        MANAGERS,
        body=_unique_period,
        ok=(201, 409),
        note="the three managers add half-years for grades 7..10; a repeat is a clear 409",
    ),
    Case(
        "PATCH",
        S + "/periods/{period_id:int}",
        A + "/periods/{period_a}",
        MANAGERS,
        body={"name": "Первая четверть"},
    ),
    Case(
        "POST",
        S + "/periods/{period_id:int}/close",
        A + "/periods/{closable_a}/close",
        MANAGERS,
        ok=(200, 409),
        note="the first manager closes it; the next ones are told it is already closed",
    ),
    Case(
        "POST",
        S + "/periods/{period_id:int}/reopen",
        A + "/periods/{closable_a}/reopen",
        MANAGERS,
        ok=(200, 409),
    ),
    Case("GET", S + "/years/{year_id:int}/holidays", A + "/years/{year_a}/holidays", READERS),
    Case(
        "POST",
        S + "/years/{year_id:int}/holidays",
        A + "/years/{year_a}/holidays",
        MANAGERS,
        body={"name": "Праздник", "starts_on": "2026-11-04", "ends_on": "2026-11-04"},
    ),
    Case(
        "DELETE",
        S + "/holidays/{holiday_id:int}",
        A + "/holidays/{holiday_a}",
        MANAGERS,
        ok=(204, 404),
        note="the first manager deletes it; deletion itself is tested in test_structure",
    ),
    # structure
    Case("GET", S + "/classes", A + "/classes", READERS),
    Case("POST", S + "/classes", A + "/classes", MANAGERS, body=_unique_class),
    Case(
        "PATCH",
        S + "/classes/{class_id:int}",
        A + "/classes/{class_a}",
        MANAGERS,
        body={"shift": 1},
    ),
    Case("GET", S + "/groups", A + "/groups", READERS),
    Case(
        "POST",
        S + "/groups",
        A + "/groups",
        MANAGERS,
        body=lambda rw: {"academic_year_id": rw.ids["year_a"], "name": f"Группа {rw.unique()}"},
    ),
    Case("GET", S + "/groups/{group_id:int}/members", A + "/groups/{group_a}/members", READERS),
    Case(
        "POST",
        S + "/groups/{group_id:int}/members",
        A + "/groups/{group_a}/members",
        MANAGERS,
        body=lambda rw: {"student_ids": [rw.ids["student_a"]], "on": "2026-09-01"},
    ),
    Case(
        "POST",
        S + "/groups/{group_id:int}/members/remove",
        A + "/groups/{group_a}/members/remove",
        MANAGERS,
        body=lambda rw: {"student_ids": [rw.ids["student_a"]], "on": "2027-01-10"},
    ),
    Case("GET", S + "/subjects", A + "/subjects", READERS),
    Case("POST", S + "/subjects", A + "/subjects", MANAGERS, body=_named),
    Case(
        "PATCH",
        S + "/subjects/{subject_id:int}",
        A + "/subjects/{subject_a}",
        MANAGERS,
        body={"short_name": "Мат."},
    ),
    Case("GET", S + "/rooms", A + "/rooms", READERS),
    Case("POST", S + "/rooms", A + "/rooms", MANAGERS, body=_named),
    Case(
        "PATCH",
        S + "/rooms/{room_id:int}",
        A + "/rooms/{room_a}",
        MANAGERS,
        body={"capacity": 30},
    ),
    Case("GET", S + "/curriculum", A + "/curriculum?year_id={year_a}", READERS),
    Case(
        "POST",
        S + "/curriculum",
        A + "/curriculum",
        MANAGERS,
        body=_curriculum,
        ok=(201, 409),
        note="grades 7..10 in turn; a repeat is a clear 409",
    ),
    Case(
        "DELETE",
        S + "/curriculum/{item_id:int}",
        A + "/curriculum/{curriculum_a}",
        MANAGERS,
        ok=(204, 404),
        note="the first manager deletes it",
    ),
    Case("GET", S + "/assignments", A + "/assignments?year_id={year_a}", READERS),
    Case(
        "POST",
        S + "/assignments",
        A + "/assignments",
        MANAGERS,
        body=_assignment,
        ok=(201, 409),
        note="the first manager assigns it; a repeat is a clear 409",
    ),
    Case(
        "DELETE",
        S + "/assignments/{assignment_id:int}",
        A + "/assignments/{assignment_a}",
        MANAGERS,
        ok=(204, 404),
        note="the first manager deletes it",
    ),
    Case("GET", S + "/bells", A + "/bells", READERS),
    Case(
        "PUT",
        S + "/bells/{shift:int}",
        A + "/bells/1",
        MANAGERS,
        # Bells for lessons 1-8: later cases put entries and lessons on those numbers.
        body={
            "bells": [
                {"lesson_number": n, "starts_at": f"{7 + n:02}:00", "ends_at": f"{7 + n:02}:45"}
                for n in range(1, 9)
            ]
        },
    ),
    # timetable and lessons
    Case("GET", S + "/timetable", A + "/timetable", READERS),
    Case(
        "POST",
        S + "/timetable",
        A + "/timetable",
        MANAGERS,
        body=_entry,
        ok=(201, 409),
        note="lesson numbers 1..8 in turn; a number already taken is a clear 409",
    ),
    Case(
        "POST",
        S + "/timetable/bulk",
        A + "/timetable/bulk",
        MANAGERS,
        body=_entries,
        ok=(201, 409),
        note="lesson numbers 1..8 in turn; a number already taken is a clear 409",
    ),
    Case(
        "PATCH",
        S + "/timetable/{entry_id:int}",
        A + "/timetable/{entry_a}",
        MANAGERS,
        body={"valid_to": "2027-05-30"},
    ),
    Case(
        "POST",
        S + "/lessons/generate",
        A + "/lessons/generate",
        MANAGERS,
        body={"date_from": "2026-09-01", "date_to": "2026-09-30"},
    ),
    Case(
        "GET",
        S + "/lessons",
        A + "/lessons?date_from=2026-09-01&date_to=2026-09-30",
        READERS,
    ),
    Case(
        "GET",
        S + "/lessons",
        A + "/lessons?date_from=2026-09-01&date_to=2026-09-30&class_id={class_a}",
        READERS | {Role.CLASS_TEACHER},
        note="a class teacher reads their own class's lessons",
    ),
    Case("GET", S + "/lessons/{lesson_id:int}", A + "/lessons/{lesson_a}", READERS),
    Case(
        "POST",
        S + "/lessons/{lesson_id:int}/replacement",
        A + "/lessons/{lesson_a}/replacement",
        MANAGERS,
        body={"teacher_id": None},
    ),
    Case(
        "POST",
        S + "/lessons/{lesson_id:int}/room",
        A + "/lessons/{lesson_a}/room",
        MANAGERS,
        body=lambda rw: {"room_id": rw.ids["room_a"]},
    ),
    Case(
        "POST",
        S + "/lessons/{lesson_id:int}/move",
        A + "/lessons/{movable_lesson_a}/move",
        MANAGERS,
        body={"date": "2026-09-12", "lesson_number": 7},
        ok=(200, 409),
        note="the first manager moves it; a moved lesson cannot be moved again (409)",
    ),
    Case(
        "POST",
        S + "/lessons/{lesson_id:int}/cancel",
        A + "/lessons/{lesson_a}/cancel",
        MANAGERS,
        body={"reason": "Карантин"},
        ok=(200, 409),
        note="the first manager cancels it; the next ones are told it is already cancelled",
    ),
    Case(
        "POST",
        S + "/lessons/{lesson_id:int}/restore",
        A + "/lessons/{lesson_a}/restore",
        MANAGERS,
        body={},
        ok=(200, 409),
        note="after the cancel: the first manager restores it; the next ones are told it is "
        "not cancelled",
    ),
    Case(
        "DELETE",
        S + "/timetable/{entry_id:int}",
        A + "/timetable/{spare_entry_a}",
        MANAGERS,
        ok=(409,),
        note="listed after the move: the moved lesson keeps the entry (deletion: test_timetable)",
    ),
    # A signed-in person's own work: anyone signed in, answering only about themselves.
    Case("GET", "/api/v1/me/staff", "/api/v1/me/staff", ALL_ROLES),
    Case(
        "GET",
        "/api/v1/me/lessons",
        "/api/v1/me/lessons?date_from=2026-09-01&date_to=2026-09-30",
        ALL_ROLES,
    ),
]
