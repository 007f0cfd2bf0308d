"""Timetable entries: weekly entries with validity dates, checked for conflicts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.forms import class_name, ru_date, short_person_name
from backend.schools.structure import schemas as s
from backend.schools.structure import services as structure
from backend.schools.structure.common import MANAGE, READ, audit_write, authorize_school
from backend.schools.tables import (
    AcademicYear,
    Lesson,
    Room,
    SchoolClass,
    Staff,
    StudyGroup,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)
from backend.schools.timetable.conflicts import (
    ENTRY_COLUMNS,
    ENTRY_CONTEXT,
    ConflictIndex,
    Occupant,
    attach_group_reach,
    check_study_day,
    entries_overlapping,
    entry_occupant,
    load_bells,
    names_for_messages,
)
from backend.schools.timetable.generation import chunks, generated_lessons, untouched_of


async def list_entries(
    actor: Actor,
    school_id: int,
    *,
    on: date | None = None,
    class_id: int | None = None,
    teacher_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of the school's timetable entries (by weekday, lesson number, id) and how many
    there are in all."""
    await authorize_school(actor, school_id, READ)
    where: Any = TimetableEntry.school == school_id
    if on is not None:
        where &= (TimetableEntry.valid_from <= on) & (TimetableEntry.valid_to >= on)
    if class_id is not None:
        where &= (TimetableEntry.school_class == class_id) | (
            TimetableEntry.study_group.school_class == class_id
        )
    if teacher_id is not None:
        where &= TimetableEntry.teacher == teacher_id
    total = await TimetableEntry.count().where(where)
    rows = (
        await TimetableEntry.select(*ENTRY_COLUMNS)
        .where(where)
        .order_by(TimetableEntry.weekday)
        .order_by(TimetableEntry.lesson_number)
        .order_by(TimetableEntry.id)
        .limit(limit)
        .offset(offset)
    )
    return rows, total


@dataclass(slots=True)
class _Refs:
    classes: dict[int, dict[str, Any]]
    groups: dict[int, dict[str, Any]]
    subjects: dict[int, str]
    staff: set[int]
    rooms: set[int]
    years: dict[int, dict[str, Any]]
    teacher_names: dict[int, str]
    # (teacher, subject, class, group) -> the date spans its teaching assignments cover
    assignments: dict[tuple[int, int, int | None, int | None], list[tuple[date, date]]]

    def check_assigned(self, occupant: Occupant, group_id: int | None, year_id: int) -> None:
        """The entry's teacher must hold a teaching assignment for its subject and class (or
        group) over its whole validity: the journal lets only assigned teachers mark."""
        key = (
            occupant.teacher_id,
            occupant.subject_id,
            None if group_id is not None else occupant.class_id,
            group_id,
        )
        year = self.years[year_id]
        spans = sorted(self.assignments.get(key, ()))
        covered_to = occupant.valid_from - timedelta(days=1)
        for starts, ends in spans:
            if starts > covered_to + timedelta(days=1):
                break
            covered_to = max(covered_to, ends)
        if covered_to >= occupant.valid_to:
            return
        if spans:
            gap = max(occupant.valid_from, covered_to + timedelta(days=1))
        else:
            gap = occupant.valid_from
        raise ValidationFailed(
            key="timetable.not_assigned",
            teacher=self.teacher_names.get(occupant.teacher_id, str(occupant.teacher_id)),
            subject=occupant.subject,
            place=(
                f"группе «{self.groups[group_id]['name']}»"
                if group_id is not None
                else class_name(
                    self.classes[occupant.class_id or 0]["grade"],
                    self.classes[occupant.class_id or 0]["letter"],
                )
            ),
            starts_on=ru_date(max(gap, year["starts_on"])),
            ends_on=ru_date(occupant.valid_to),
            details={
                "field": "teacher_id",
                "teacher_id": occupant.teacher_id,
                "subject_id": occupant.subject_id,
                "school_class_id": None if group_id is not None else occupant.class_id,
                "study_group_id": group_id,
            },
        )


async def _refs(school_id: int) -> _Refs:
    classes = {
        r["id"]: r
        for r in await SchoolClass.select(
            SchoolClass.id,
            SchoolClass.grade,
            SchoolClass.letter,
            SchoolClass.shift,
            SchoolClass.academic_year,
        ).where(SchoolClass.school == school_id)
    }
    groups = {
        r["id"]: r
        for r in await StudyGroup.select(
            StudyGroup.id, StudyGroup.name, StudyGroup.school_class, StudyGroup.academic_year
        ).where(StudyGroup.school == school_id)
    }
    subjects = {
        r["id"]: r["name"]
        for r in await Subject.select(Subject.id, Subject.name).where(Subject.school == school_id)
    }
    today = today_in()
    staff_rows = await Staff.select(
        Staff.id, Staff.left_on, Staff.last_name, Staff.first_name, Staff.middle_name
    ).where(Staff.school == school_id)
    staff = {r["id"] for r in staff_rows if r["left_on"] is None or r["left_on"] > today}
    teacher_names = {
        r["id"]: short_person_name(r["last_name"], r["first_name"], r["middle_name"])
        for r in staff_rows
    }
    rooms = {r["id"] for r in await Room.select(Room.id).where(Room.school == school_id)}
    years = {
        r["id"]: r
        for r in await AcademicYear.select(
            AcademicYear.id, AcademicYear.name, AcademicYear.starts_on, AcademicYear.ends_on
        ).where(AcademicYear.school == school_id)
    }
    assignments: dict[tuple[int, int, int | None, int | None], list[tuple[date, date]]] = (
        defaultdict(list)
    )
    for r in await TeachingAssignment.select(
        TeachingAssignment.teacher,
        TeachingAssignment.subject,
        TeachingAssignment.school_class,
        TeachingAssignment.study_group,
        TeachingAssignment.valid_from,
        TeachingAssignment.valid_to,
        TeachingAssignment.academic_year,
    ).where(TeachingAssignment.academic_year.school == school_id):
        year = years.get(r["academic_year"])
        if year is None:  # pragma: no cover - the join keeps to this school's years
            continue
        key = (r["teacher"], r["subject"], r["school_class"], r["study_group"])
        assignments[key].append(
            (r["valid_from"] or year["starts_on"], r["valid_to"] or year["ends_on"])
        )
    return _Refs(classes, groups, subjects, staff, rooms, years, teacher_names, assignments)


def _new_entry_occupant(
    n: int, item: s.TimetableEntryCreate, refs: _Refs
) -> tuple[Occupant, dict[str, Any]]:
    """Validate one new entry against the school's objects; -n is its temporary id."""
    if (item.school_class_id is None) == (item.study_group_id is None):
        raise ValidationFailed(key="structure.class_or_group")
    if item.valid_from > item.valid_to:
        raise ValidationFailed(
            key="timetable.entry_ends_before_start",
            valid_from=ru_date(item.valid_from),
            valid_to=ru_date(item.valid_to),
        )
    if item.subject_id not in refs.subjects:
        raise NotFound()
    if item.teacher_id not in refs.staff:
        raise ValidationFailed(key="structure.staff_not_in_school")
    if item.room_id is not None and item.room_id not in refs.rooms:
        raise NotFound()
    group = None
    if item.school_class_id is not None:
        klass = refs.classes.get(item.school_class_id)
        if klass is None:
            raise NotFound()
        year_id, who = klass["academic_year"], class_name(klass["grade"], klass["letter"])
        class_id, shift = item.school_class_id, klass["shift"]
    else:
        group = refs.groups.get(item.study_group_id or 0)
        if group is None:
            raise NotFound()
        klass = refs.classes.get(group["school_class"] or 0)
        year_id, class_id = group["academic_year"], group["school_class"]
        shift = klass["shift"] if klass else 1
        who = (
            f"{class_name(klass['grade'], klass['letter'])} ({group['name']})"
            if klass
            else f"группы «{group['name']}»"
        )
    year = refs.years[year_id]
    if item.valid_from < year["starts_on"] or item.valid_to > year["ends_on"]:
        raise ValidationFailed(
            key="structure.outside_year",
            starts_on=ru_date(item.valid_from),
            ends_on=ru_date(item.valid_to),
            year=year["name"],
            year_starts=ru_date(year["starts_on"]),
            year_ends=ru_date(year["ends_on"]),
        )
    occupant = Occupant(
        id=-n,
        day=item.weekday,
        lesson_number=item.lesson_number,
        shift=shift,
        class_id=class_id,
        group_id=item.study_group_id,
        teacher_id=item.teacher_id,
        room_id=item.room_id,
        subject_id=item.subject_id,
        valid_from=item.valid_from,
        valid_to=item.valid_to,
        who=who,
        subject=refs.subjects[item.subject_id],
        group_name=group["name"] if group is not None else "",
    )
    return occupant, {"year_id": year_id}


async def create_entries(
    actor: Actor, school_id: int, items: Sequence[s.TimetableEntryCreate]
) -> list[dict[str, Any]]:
    """Add timetable entries (one, or a whole week at once) after checking each against the
    existing timetable and against the others in the same request. All or nothing."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        refs = await _refs(school_id)
        news = []
        for n, item in enumerate(items, 1):
            occupant, extra = _new_entry_occupant(n, item, refs)
            refs.check_assigned(occupant, item.study_group_id, extra["year_id"])
            news.append(occupant)
        starts = min(i.valid_from for i in items)
        ends = max(i.valid_to for i in items)
        existing = await entries_overlapping(school_id, starts, ends, {i.weekday for i in items})
        bells = await load_bells(school_id)
        for weekday in sorted({i.weekday for i in items}):
            await check_study_day(school_id, weekday)
        for occupant in news:
            bells.check_number(occupant.shift, occupant.lesson_number)
        others = [entry_occupant(r) for r in existing]
        await attach_group_reach([*others, *news])
        index = ConflictIndex(bells, others)
        names = await names_for_messages(school_id)
        for occupant in news:
            index.check(occupant, names)
            index.add(occupant)
        rows = await TimetableEntry.insert(
            *[
                TimetableEntry(
                    school=school_id,
                    weekday=i.weekday,
                    lesson_number=i.lesson_number,
                    school_class=i.school_class_id,
                    study_group=i.study_group_id,
                    subject=i.subject_id,
                    teacher=i.teacher_id,
                    room=i.room_id,
                    valid_from=i.valid_from,
                    valid_to=i.valid_to,
                )
                for i in items
            ]
        ).returning(TimetableEntry.id)
        ids = [r["id"] for r in rows]
        await audit_write(
            actor,
            AuditAction.CREATE,
            "timetable_entry",
            ids[0] if len(ids) == 1 else f"{len(ids)} entries",
            school_id,
            ids=ids[:200],
        )
    return await TimetableEntry.select(*ENTRY_COLUMNS).where(TimetableEntry.id.is_in(ids))


async def _entry_in_school(school_id: int, entry_id: int) -> dict[str, Any]:
    row = (
        await TimetableEntry.select(*ENTRY_COLUMNS, *ENTRY_CONTEXT)
        .where((TimetableEntry.id == entry_id) & (TimetableEntry.school == school_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def update_entry(
    actor: Actor, school_id: int, entry_id: int, data: s.TimetableEntryUpdate
) -> dict[str, Any]:
    """Change an entry's teacher, room or last date. Its untouched lessons follow at once;
    lessons with journal content keep what they were."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _entry_in_school(school_id, entry_id)
        refs = await _refs(school_id)
        occupant = entry_occupant(row)
        if data.teacher_id is not msgspec.UNSET:
            if data.teacher_id not in refs.staff:
                raise ValidationFailed(key="structure.staff_not_in_school")
            occupant.teacher_id = data.teacher_id
        if data.room_id is not msgspec.UNSET:
            if data.room_id is not None and data.room_id not in refs.rooms:
                raise NotFound()
            occupant.room_id = data.room_id
        if data.valid_to is not msgspec.UNSET:
            if data.valid_to < occupant.valid_from:
                raise ValidationFailed(
                    key="timetable.entry_ends_before_start",
                    valid_from=ru_date(occupant.valid_from),
                    valid_to=ru_date(data.valid_to),
                )
            year = refs.years[row["class_year"] or row["group_year"]]
            if data.valid_to > year["ends_on"]:
                raise ValidationFailed(
                    key="structure.outside_year",
                    starts_on=ru_date(occupant.valid_from),
                    ends_on=ru_date(data.valid_to),
                    year=year["name"],
                    year_starts=ru_date(year["starts_on"]),
                    year_ends=ru_date(year["ends_on"]),
                )
            occupant.valid_to = data.valid_to
        if data.teacher_id is not msgspec.UNSET or data.valid_to is not msgspec.UNSET:
            refs.check_assigned(
                occupant, row["study_group"], row["class_year"] or row["group_year"]
            )
        existing = await entries_overlapping(
            school_id,
            occupant.valid_from,
            occupant.valid_to,
            [occupant.day],  # type: ignore[list-item]
        )
        others = [entry_occupant(r) for r in existing]
        await attach_group_reach([*others, occupant])
        index = ConflictIndex(await load_bells(school_id), others)
        index.check(occupant, await names_for_messages(school_id), ignore={entry_id})
        await TimetableEntry.update(
            {
                TimetableEntry.teacher: occupant.teacher_id,
                TimetableEntry.room: occupant.room_id,
                TimetableEntry.valid_to: occupant.valid_to,
            }
        ).where(TimetableEntry.id == entry_id)
        # Untouched lessons follow the entry; those past its new end go.
        lessons = await generated_lessons(
            Lesson.timetable_entry == entry_id, columns=(Lesson.teacher, Lesson.room)
        )
        untouched = await untouched_of(lessons)
        follow = [
            r["id"]
            for r in lessons
            if r["id"] in untouched
            and r["date"] <= occupant.valid_to
            and (r["teacher"] != occupant.teacher_id or r["room"] != occupant.room_id)
        ]
        gone = [r["id"] for r in lessons if r["id"] in untouched and r["date"] > occupant.valid_to]
        for chunk in chunks(follow):
            await Lesson.update(
                {
                    Lesson.teacher: occupant.teacher_id,
                    Lesson.room: occupant.room_id,
                    Lesson.updated_at: datetime.now(UTC),
                }
            ).where(Lesson.id.is_in(chunk))
        for chunk in chunks(gone):
            await Lesson.delete().where(Lesson.id.is_in(chunk))
        await audit_write(
            actor,
            AuditAction.UPDATE,
            "timetable_entry",
            entry_id,
            school_id,
            lessons_updated=len(follow),
            lessons_removed=len(gone),
            **{k: v for k, v in structure.changed_fields(data).items()},
        )
    return await _entry_in_school(school_id, entry_id)


async def delete_entry(actor: Actor, school_id: int, entry_id: int) -> None:
    """Delete an entry with its untouched lessons; refused while any of its lessons has journal
    content or a change (end the entry with a date instead)."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _entry_in_school(school_id, entry_id)
        lessons = await generated_lessons(Lesson.timetable_entry == entry_id)
        untouched = await untouched_of(lessons)
        kept = len(lessons) - len(untouched)
        if kept:
            raise Conflict(key="timetable.entry_has_lessons", count=kept)
        for chunk in chunks([r["id"] for r in lessons]):
            await Lesson.delete().where(Lesson.id.is_in(chunk))
        await TimetableEntry.delete().where(TimetableEntry.id == entry_id)
        await audit_write(
            actor,
            AuditAction.DELETE,
            "timetable_entry",
            entry_id,
            school_id,
            lessons_removed=len(lessons),
            **{k: row[k] for k in ("weekday", "lesson_number", "teacher", "subject")},
        )
