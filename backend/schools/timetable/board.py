"""The timetable as a week board (the staff web's grid) and each teacher's load: read services.

One set-based read per table: the board of a class, a teacher or a room on a date is the
entries valid that day, laid out by weekday and lesson number, with the names a person reads;
the choices for the forms (classes, groups, subjects, teachers, rooms) come with it. A teacher's
load is what the curriculum plans through their teaching assignments and what the timetable
holds for them in a week (decision 1001).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from backend.core.context import Actor
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import class_name, short_person_name
from backend.schools.structure import services as structure
from backend.schools.structure.common import READ, authorize_school
from backend.schools.tables import (
    AcademicYear,
    BellSchedule,
    CurriculumItem,
    Room,
    SchoolClass,
    Staff,
    StudyGroup,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)

BY = ("class", "teacher", "room")
# A teacher's week above one rate (18 hours, order 1601 of the ministry) is shown; above two
# rates (36 hours, the teaching staff's working week) it is an over-load (decision 1001).
RATE_HOURS = 18.0
OVERLOAD_HOURS = 36.0


@dataclass(slots=True)
class BoardEntry:
    id: int
    weekday: int
    lesson_number: int
    class_id: int | None
    group_id: int | None
    who: str
    subject_id: int
    subject: str
    teacher_id: int
    teacher: str
    room_id: int | None
    room: str
    valid_from: date
    valid_to: date


@dataclass(slots=True)
class Board:
    school_id: int
    on: date
    by: str
    target_id: int | None
    title: str
    days: list[int]
    numbers: list[int]
    cells: dict[tuple[int, int], list[BoardEntry]]
    classes: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    subjects: list[dict[str, Any]]
    teachers: list[dict[str, Any]]
    rooms: list[dict[str, Any]]
    year: dict[str, Any] | None
    bells: dict[int, tuple[str, str]] = field(default_factory=dict)


async def _choices(school_id: int, year_id: int | None) -> dict[str, list[dict[str, Any]]]:
    class_where: Any = SchoolClass.school == school_id
    group_where: Any = StudyGroup.school == school_id
    if year_id is not None:
        class_where &= SchoolClass.academic_year == year_id
        group_where &= StudyGroup.academic_year == year_id
    classes = [
        {**r, "name": class_name(r["grade"], r["letter"])}
        for r in await SchoolClass.select(
            SchoolClass.id, SchoolClass.grade, SchoolClass.letter, SchoolClass.shift
        )
        .where(class_where)
        .order_by(SchoolClass.grade)
        .order_by(SchoolClass.letter)
    ]
    groups = (
        await StudyGroup.select(StudyGroup.id, StudyGroup.name, StudyGroup.school_class)
        .where(group_where)
        .order_by(StudyGroup.name)
    )
    subjects = (
        await Subject.select(Subject.id, Subject.name)
        .where(Subject.school == school_id)
        .order_by(Subject.name)
    )
    today = date.today()
    teachers = [
        {
            "id": r["id"],
            "name": short_person_name(r["last_name"], r["first_name"], r["middle_name"]),
        }
        for r in await Staff.select(
            Staff.id, Staff.last_name, Staff.first_name, Staff.middle_name, Staff.left_on
        )
        .where(Staff.school == school_id)
        .order_by(Staff.last_name)
        .order_by(Staff.first_name)
        if r["left_on"] is None or r["left_on"] > today
    ]
    rooms = (
        await Room.select(Room.id, Room.name).where(Room.school == school_id).order_by(Room.name)
    )
    return {
        "classes": classes,
        "groups": groups,
        "subjects": subjects,
        "teachers": teachers,
        "rooms": rooms,
    }


async def school_choices(actor: Actor, school_id: int, year_id: int | None) -> dict[str, Any]:
    """What the staff web's forms choose from: the year's classes and groups, the school's
    subjects, current staff and rooms (one read per table)."""
    await authorize_school(actor, school_id, READ)
    return await _choices(school_id, year_id)


async def _year_on(school_id: int, on: date) -> dict[str, Any] | None:
    return (
        await AcademicYear.select(
            AcademicYear.id, AcademicYear.name, AcademicYear.starts_on, AcademicYear.ends_on
        )
        .where(
            (AcademicYear.school == school_id)
            & (AcademicYear.starts_on <= on)
            & (AcademicYear.ends_on >= on)
        )
        .first()
    )


async def timetable_board(
    actor: Actor, school_id: int, on: date, by: str, target_id: int | None
) -> Board:
    """The week of a class (its own lessons and its groups'), a teacher or a room, as the
    timetable stands on `on`; 404 outside the reader's schools, as the API's list."""
    await authorize_school(actor, school_id, READ)
    if by not in BY:
        raise ValidationFailed(key="error.choice_field", field="by")
    year = await _year_on(school_id, on)
    choices = await _choices(school_id, year["id"] if year else None)
    names = {
        "class": {c["id"]: c["name"] for c in choices["classes"]},
        "teacher": {t["id"]: t["name"] for t in choices["teachers"]},
        "room": {r["id"]: f"каб. {r['name']}" for r in choices["rooms"]},
    }
    if target_id is None:
        first = choices[{"class": "classes", "teacher": "teachers", "room": "rooms"}[by]]
        target_id = first[0]["id"] if first else None
    title = ""
    if target_id is not None:
        title = names[by].get(target_id, "")
        if not title and by != "teacher":
            raise NotFound()
        if not title:  # a teacher who has left still has a week to read
            staff = await structure.staff_in_school(school_id, target_id)
            title = short_person_name(staff["last_name"], staff["first_name"], staff["middle_name"])
    where: Any = (
        (TimetableEntry.school == school_id)
        & (TimetableEntry.valid_from <= on)
        & (TimetableEntry.valid_to >= on)
    )
    if by == "class":
        where &= (TimetableEntry.school_class == target_id) | (
            TimetableEntry.study_group.school_class == target_id
        )
    elif by == "teacher":
        where &= TimetableEntry.teacher == target_id
    else:
        where &= TimetableEntry.room == target_id
    rows = (
        await TimetableEntry.select(
            TimetableEntry.id,
            TimetableEntry.weekday,
            TimetableEntry.lesson_number,
            TimetableEntry.school_class,
            TimetableEntry.study_group,
            TimetableEntry.study_group.name.as_alias("group_name"),
            TimetableEntry.study_group.school_class.as_alias("group_class"),
            TimetableEntry.subject,
            TimetableEntry.subject.name.as_alias("subject_name"),
            TimetableEntry.teacher,
            TimetableEntry.room,
            TimetableEntry.room.name.as_alias("room_name"),
            TimetableEntry.valid_from,
            TimetableEntry.valid_to,
        )
        .where(where)
        .order_by(TimetableEntry.weekday)
        .order_by(TimetableEntry.lesson_number)
        .order_by(TimetableEntry.id)
        if target_id is not None
        else []
    )
    teacher_names = names["teacher"]
    missing = {r["teacher"] for r in rows if r["teacher"] not in teacher_names}
    if missing:  # left the school but still on the timetable
        for r in await Staff.select(
            Staff.id, Staff.last_name, Staff.first_name, Staff.middle_name
        ).where(Staff.id.is_in(sorted(missing))):
            teacher_names[r["id"]] = short_person_name(
                r["last_name"], r["first_name"], r["middle_name"]
            )
    cells: dict[tuple[int, int], list[BoardEntry]] = defaultdict(list)
    for r in rows:
        class_id = r["school_class"] or r["group_class"]
        who = names["class"].get(class_id, "") if class_id else ""
        if r["study_group"] is not None:
            who = f"{who} ({r['group_name']})" if who else f"«{r['group_name']}»"
        cells[(r["weekday"], r["lesson_number"])].append(
            BoardEntry(
                id=r["id"],
                weekday=r["weekday"],
                lesson_number=r["lesson_number"],
                class_id=class_id,
                group_id=r["study_group"],
                who=who,
                subject_id=r["subject"],
                subject=r["subject_name"],
                teacher_id=r["teacher"],
                teacher=teacher_names.get(r["teacher"], ""),
                room_id=r["room"],
                room=r["room_name"] or "",
                valid_from=r["valid_from"],
                valid_to=r["valid_to"],
            )
        )
    settings = await structure.school_settings(school_id)
    days = sorted(set(settings.study_days) | {d for d, _ in cells})
    shift = next((c["shift"] for c in choices["classes"] if c["id"] == target_id), 1)
    bell_rows = await BellSchedule.select(
        BellSchedule.shift, BellSchedule.lesson_number, BellSchedule.starts_at, BellSchedule.ends_at
    ).where(BellSchedule.school == school_id)
    bells = {
        r["lesson_number"]: (r["starts_at"].strftime("%H:%M"), r["ends_at"].strftime("%H:%M"))
        for r in bell_rows
        if r["shift"] == shift or by != "class"
    }
    numbers = sorted({*bells, *(n for _, n in cells)} or range(1, 8))
    if by != "class":
        bells = {}  # a teacher's or a room's week spans shifts: numbers alone
        numbers = sorted({*(r["lesson_number"] for r in bell_rows), *(n for _, n in cells)}) or (
            list(range(1, 8))
        )
    return Board(
        school_id=school_id,
        on=on,
        by=by,
        target_id=target_id,
        title=title,
        days=days,
        numbers=numbers,
        cells=dict(cells),
        year=year,
        bells=bells,
        **choices,
    )


@dataclass(slots=True)
class TeacherLoad:
    teacher_id: int
    name: str
    planned: float  # hours a week the curriculum gives through their assignments
    timetabled: int  # entries a week in the timetable on the date
    lines: list[str]

    @property
    def overloaded(self) -> bool:
        return max(self.planned, self.timetabled) > OVERLOAD_HOURS

    @property
    def above_rate(self) -> bool:
        return max(self.planned, self.timetabled) > RATE_HOURS


async def teacher_loads(
    actor: Actor, school_id: int, year_id: int, on: date
) -> tuple[list[dict[str, Any]], list[TeacherLoad]]:
    """The year's curriculum (with names) and every teacher's load, heaviest first."""
    await authorize_school(actor, school_id, READ)
    year = await structure.year_in_school(school_id, year_id)
    choices = await _choices(school_id, year_id)
    subjects = {s["id"]: s["name"] for s in choices["subjects"]}
    classes = {c["id"]: c for c in choices["classes"]}
    groups = {g["id"]: g for g in choices["groups"]}
    items = await CurriculumItem.select(
        CurriculumItem.id,
        CurriculumItem.subject,
        CurriculumItem.hours_per_week,
        CurriculumItem.school_class,
        CurriculumItem.grade,
    ).where(CurriculumItem.academic_year == year_id)
    curriculum = sorted(
        (
            {
                **i,
                "hours_per_week": float(i["hours_per_week"]),
                "subject_name": subjects.get(i["subject"], ""),
                "whom": (
                    classes[i["school_class"]]["name"]
                    if i["school_class"] in classes
                    else f"{i['grade']}-е классы"
                ),
            }
            for i in items
        ),
        key=lambda i: (i["whom"], i["subject_name"]),
    )
    by_class = {(i["school_class"], i["subject"]): i["hours_per_week"] for i in curriculum}
    by_grade = {(i["grade"], i["subject"]): i["hours_per_week"] for i in curriculum}
    names = {t["id"]: t["name"] for t in choices["teachers"]}
    loads: dict[int, TeacherLoad] = {}

    def load_of(teacher_id: int) -> TeacherLoad:
        if teacher_id not in loads:
            loads[teacher_id] = TeacherLoad(teacher_id, names.get(teacher_id, ""), 0.0, 0, [])
        return loads[teacher_id]

    for a in await TeachingAssignment.select(
        TeachingAssignment.teacher,
        TeachingAssignment.subject,
        TeachingAssignment.school_class,
        TeachingAssignment.study_group,
        TeachingAssignment.valid_from,
        TeachingAssignment.valid_to,
    ).where(TeachingAssignment.academic_year == year_id):
        if (a["valid_from"] or year["starts_on"]) > on or (a["valid_to"] or year["ends_on"]) < on:
            continue
        class_id = a["school_class"]
        if class_id is None and a["study_group"] in groups:
            class_id = groups[a["study_group"]]["school_class"]
        klass = classes.get(class_id or 0)
        hours = by_class.get((class_id, a["subject"]))
        if hours is None and klass is not None:
            hours = by_grade.get((klass["grade"], a["subject"]))
        load = load_of(a["teacher"])
        load.planned += hours or 0.0
        where = groups[a["study_group"]]["name"] if a["study_group"] in groups else ""
        where = where or (klass["name"] if klass else "")
        load.lines.append(f"{where}: {subjects.get(a['subject'], '')} — {hours or 0:g} ч")
    for r in await TimetableEntry.select(TimetableEntry.teacher).where(
        (TimetableEntry.school == school_id)
        & (TimetableEntry.valid_from <= on)
        & (TimetableEntry.valid_to >= on)
    ):
        load_of(r["teacher"]).timetabled += 1
    ordered = sorted(loads.values(), key=lambda x: (-max(x.planned, x.timetabled), x.name))
    return curriculum, ordered
