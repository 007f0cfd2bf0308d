"""The timetable and its lessons: weekly entries with validity dates, conflict checks, set-based
generation of concrete lessons, and changes to one lesson (replacement teacher, room change,
cancellation, moving).

A *slot* is a day (a weekday for entries, a date for lessons) and a time: the bells of the
class's shift when the school has them, else the shift and lesson number. Two things conflict
when they share a slot and a teacher, a room, or a class (a whole-class lesson clashes with any
group of that class; two different groups of one class may sit at the same time).

A lesson is *untouched* while it is as generation made it: version 1, no topic, scheduled, no
replacement, and no row of any other table refers to it (marks, attendance, homework...: found
through the foreign keys that point at `lesson`, so the journal needs no hook here). Generation
adds missing lessons, brings untouched ones in line with their entry, and removes untouched
ones whose entry no longer applies; everything else is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import msgspec
from piccolo.columns import ForeignKey
from piccolo.engine.postgres import PostgresEngine

from backend.audit.services import AuditAction
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import current_engine, transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.forms import ru_date
from backend.core.rights import Permission, ScopeTarget
from backend.events.services import emit
from backend.i18n import t
from backend.schools import lesson_changes, movement, structure
from backend.schools import structure_schemas as s
from backend.schools.services import school_target
from backend.schools.structure import (
    MANAGE,
    READ,
    audit_write,
    authorize_school,
    check,
    class_name,
    short_person_name,
)
from backend.schools.tables import (
    AcademicYear,
    BellSchedule,
    Holiday,
    Lesson,
    Room,
    SchoolClass,
    Staff,
    StudyGroup,
    StudyGroupMember,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)

MAX_GENERATION_DAYS = 400
MAX_LIST_DAYS = 62
INSERT_CHUNK = 1000

# ---- slots and conflicts ---------------------------------------------------------------------


@dataclass(slots=True)
class Occupant:
    """A timetable entry or a lesson, reduced to what conflict checks need."""

    id: int
    day: int | date  # weekday (entries) or date (lessons)
    lesson_number: int
    shift: int
    class_id: int | None  # the class, or the class of the group
    group_id: int | None
    teacher_id: int
    room_id: int | None
    subject_id: int
    valid_from: date
    valid_to: date
    who: str = ""
    subject: str = ""
    kind: str = "entry"
    group_name: str = ""
    # For a group: which classes' pupils (and which pupils) it holds, and when.
    reach: GroupReach | None = None


Span = tuple[date, date]


def _meets(spans: Iterable[Span], first: date, last: date) -> bool:
    return any(s <= last and e >= first for s, e in spans)


@dataclass(slots=True)
class GroupReach:
    """The pupils of a study group and the classes they are in, with dates (membership is
    dated, and the book of movement says which class a pupil is in on a day)."""

    classes: dict[int, list[Span]]
    pupils: dict[int, list[Span]]

    def has_class(self, class_id: int, first: date, last: date) -> bool:
        return _meets(self.classes.get(class_id, ()), first, last)

    def shares_pupils(self, other: GroupReach, first: date, last: date) -> bool:
        for pupil, spans in self.pupils.items():
            theirs = other.pupils.get(pupil)
            if not theirs:
                continue
            for start, end in spans:
                start, end = max(start, first), min(end, last)
                if start <= end and _meets(theirs, start, end):
                    return True
        return False


async def load_group_reach(
    group_ids: Iterable[int], starts: date, ends: date
) -> dict[int, GroupReach]:
    """`GroupReach` of each group between two dates: two queries for any number of groups.
    A member is in the group from `valid_from` to the day before `valid_to`."""
    ids = sorted(set(group_ids))
    if not ids:
        return {}
    members = await StudyGroupMember.select(
        StudyGroupMember.group,
        StudyGroupMember.student,
        StudyGroupMember.valid_from,
        StudyGroupMember.valid_to,
    ).where(
        StudyGroupMember.group.is_in(ids)
        & (StudyGroupMember.valid_from <= ends)
        & (StudyGroupMember.valid_to.is_null() | (StudyGroupMember.valid_to > starts))
    )
    classes_of = await movement.class_spans({m["student"] for m in members}, starts, ends)
    reach = {i: GroupReach(defaultdict(list), defaultdict(list)) for i in ids}
    for m in members:
        first = max(m["valid_from"], starts)
        last = min(m["valid_to"] - timedelta(days=1), ends) if m["valid_to"] else ends
        if first > last:
            continue
        group = reach[m["group"]]
        group.pupils[m["student"]].append((first, last))
        for class_id, c_first, c_last in classes_of.get(m["student"], ()):
            if c_first <= last and c_last >= first:
                group.classes[class_id].append((max(first, c_first), min(last, c_last)))
    return reach


async def attach_group_reach(occupants: Iterable[Occupant]) -> None:
    """Fill `reach` of the group occupants among these (timetable entries or lessons)."""
    groups = [o for o in occupants if o.group_id is not None]
    if not groups:
        return
    reach = await load_group_reach(
        {o.group_id for o in groups if o.group_id is not None},
        min(o.valid_from for o in groups),
        max(o.valid_to for o in groups),
    )
    for o in groups:
        o.reach = reach.get(o.group_id or 0)


class Bells:
    """Lesson times per shift, in minutes from midnight; a shift without bells falls back to
    comparing lesson numbers within the shift."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.times: dict[tuple[int, int], tuple[int, int]] = {
            (r["shift"], r["lesson_number"]): (_minutes(r["starts_at"]), _minutes(r["ends_at"]))
            for r in rows
        }

    def span(self, shift: int, number: int) -> tuple[int, int]:
        found = self.times.get((shift, number))
        if found is not None:
            return found
        base = 10_000 * shift + 10 * number  # never overlaps a real time or another number
        return base, base + 5

    def check_number(self, shift: int, number: int) -> None:
        """A lesson number must have a bell in its shift when the shift has bells at all;
        without bells, numbering starts at 1 (a «zero» lesson needs its own bell)."""
        numbers = sorted(n for (sh, n) in self.times if sh == shift)
        if numbers and number not in numbers:
            raise ValidationFailed(
                key="slot.no_bell",
                number=number,
                shift=shift,
                allowed=", ".join(map(str, numbers)),
            )
        if not numbers and number < 1:
            raise ValidationFailed(key="slot.zero_lesson")

    def clock(self, shift: int, number: int) -> tuple[time | None, time | None]:
        found = self.times.get((shift, number))
        if found is None:
            return None, None
        return time(found[0] // 60, found[0] % 60), time(found[1] // 60, found[1] % 60)


def _minutes(value: time) -> int:
    return value.hour * 60 + value.minute


async def check_study_day(school_id: int, weekday: int, day: date | None = None) -> None:
    """Refuse a weekday (or a date) the school does not teach on (its `study_days`)."""
    days = (await structure.school_settings(school_id)).study_days
    if weekday not in days:
        raise ValidationFailed(
            key="slot.not_study_day",
            day=(
                f"{t(f'timetable.weekday.{weekday}')} ({day.strftime('%d.%m.%Y')})"
                if day
                else t(f"timetable.weekday.{weekday}")
            ),
            days=", ".join(t(f"slot.day.{d}") for d in days),
        )


async def load_bells(school_id: int) -> Bells:
    return Bells(
        await BellSchedule.select(
            BellSchedule.shift,
            BellSchedule.lesson_number,
            BellSchedule.starts_at,
            BellSchedule.ends_at,
        ).where(BellSchedule.school == school_id)
    )


def _class_clash(a: Occupant, b: Occupant) -> str | None:
    """Whether `a` and `b` (sharing a slot) take the same pupils, and how: `same` (one class or
    group, or a class and a group of that class), `via_group` (a class and a group holding some
    of its pupils), `pupils` (two groups with pupils in common). Two different groups of one
    class with no pupil in common may sit at the same time (English split in two)."""
    first, last = max(a.valid_from, b.valid_from), min(a.valid_to, b.valid_to)
    if a.group_id is not None and a.group_id == b.group_id:
        return "same"
    if a.group_id is None and b.group_id is None:
        return "same" if a.class_id is not None and a.class_id == b.class_id else None
    if a.group_id is None or b.group_id is None:
        whole, group = (a, b) if a.group_id is None else (b, a)
        if whole.class_id is None:
            return None
        if group.class_id == whole.class_id:
            return "same"
        if group.reach is not None and group.reach.has_class(whole.class_id, first, last):
            return "via_group"
        return None
    if a.reach is not None and b.reach is not None and a.reach.shares_pupils(b.reach, first, last):
        return "pupils"
    return None


def _in_whom(o: Occupant) -> str:
    """Where a lesson is held, after «ведёт урок»: «в 5«А»», «у группы «Физика 10»»."""
    if o.group_id is not None and o.class_id is None:
        return f"у группы «{o.group_name}»"
    return f"в {o.who}"


def _whom(o: Occupant) -> str:
    if o.group_id is not None and o.class_id is None:
        return f"группа «{o.group_name}»"
    return o.who


def _when(o: Occupant) -> str:
    if isinstance(o.day, date):
        return f"{o.day.strftime('%d.%m.%Y')}, {o.lesson_number}-й урок"
    return f"{t(f'timetable.weekday.{o.day}')}, {o.lesson_number}-й урок"


def describe_conflict(kind: str, new: Occupant, old: Occupant, names: dict[str, str]) -> Conflict:
    details = {"conflict": kind, "with": old.kind, "id": old.id}
    if kind == "teacher":
        return Conflict(
            key="timetable.conflict_teacher",
            teacher=names.get(f"teacher:{new.teacher_id}", str(new.teacher_id)),
            what=f"{_in_whom(old)} ({old.subject})",
            when=_when(old),
            details=details,
        )
    if kind == "room":
        return Conflict(
            key="timetable.conflict_room",
            room=names.get(f"room:{new.room_id}", str(new.room_id)),
            what=f"{_whom(old)}, {old.subject},",
            when=_when(old),
            details=details,
        )
    how = _class_clash(new, old)
    if how == "via_group" and new.group_id is None:
        return Conflict(
            key="timetable.conflict_class_in_group",
            who=new.who,
            group=old.group_name,
            subject=old.subject,
            when=_when(old),
            details={**details, "school_class_id": new.class_id, "study_group_id": old.group_id},
        )
    if how == "via_group":
        return Conflict(
            key="timetable.conflict_group_has_class",
            group=new.group_name,
            who=old.who,
            subject=old.subject,
            when=_when(old),
            details={**details, "school_class_id": old.class_id, "study_group_id": new.group_id},
        )
    if how == "pupils":
        return Conflict(
            key="timetable.conflict_group_pupils",
            group=new.group_name,
            other=old.group_name,
            subject=old.subject,
            when=_when(old),
            details={**details, "study_group_id": old.group_id},
        )
    return Conflict(
        key="timetable.conflict_class",
        who=old.who,
        subject=old.subject,
        when=_when(old),
        details=details,
    )


def find_conflict(
    new: Occupant, others: Iterable[Occupant], bells: Bells
) -> tuple[str, Occupant] | None:
    start, end = bells.span(new.shift, new.lesson_number)
    for old in others:
        if old.day != new.day or (old.kind == new.kind and old.id == new.id):
            continue
        if old.valid_from > new.valid_to or old.valid_to < new.valid_from:
            continue
        o_start, o_end = bells.span(old.shift, old.lesson_number)
        if o_start >= end or start >= o_end:
            continue
        if _class_clash(new, old) is not None:
            return "class", old
        if old.teacher_id == new.teacher_id:
            return "teacher", old
        if new.room_id is not None and old.room_id == new.room_id:
            return "room", old
    return None


class ConflictIndex:
    """Occupants grouped by day, so that checking many new ones stays cheap."""

    def __init__(self, bells: Bells, occupants: Iterable[Occupant] = ()) -> None:
        self.bells = bells
        self.by_day: dict[int | date, list[Occupant]] = defaultdict(list)
        for o in occupants:
            self.add(o)

    def add(self, o: Occupant) -> None:
        self.by_day[o.day].append(o)

    def check(self, new: Occupant, names: dict[str, str], *, ignore: Iterable[int] = ()) -> None:
        skip = set(ignore)
        found = find_conflict(
            new, (o for o in self.by_day.get(new.day, ()) if o.id not in skip), self.bells
        )
        if found is not None:
            raise describe_conflict(found[0], new, found[1], names)


# ---- names for messages ----------------------------------------------------------------------


async def _names(school_id: int) -> dict[str, str]:
    names: dict[str, str] = {}
    for r in await Staff.select(
        Staff.id, Staff.last_name, Staff.first_name, Staff.middle_name
    ).where(Staff.school == school_id):
        names[f"teacher:{r['id']}"] = short_person_name(
            r["last_name"], r["first_name"], r["middle_name"]
        )
    for r in await Room.select(Room.id, Room.name).where(Room.school == school_id):
        names[f"room:{r['id']}"] = f"«{r['name']}»"
    return names


# ---- timetable entries -----------------------------------------------------------------------


_ENTRY_COLUMNS = (
    TimetableEntry.id,
    TimetableEntry.weekday,
    TimetableEntry.lesson_number,
    TimetableEntry.school_class,
    TimetableEntry.study_group,
    TimetableEntry.subject,
    TimetableEntry.teacher,
    TimetableEntry.room,
    TimetableEntry.valid_from,
    TimetableEntry.valid_to,
)
_ENTRY_CONTEXT = (
    TimetableEntry.school_class.grade.as_alias("class_grade"),
    TimetableEntry.school_class.letter.as_alias("class_letter"),
    TimetableEntry.school_class.shift.as_alias("class_shift"),
    TimetableEntry.school_class.academic_year.as_alias("class_year"),
    TimetableEntry.study_group.name.as_alias("group_name"),
    TimetableEntry.study_group.academic_year.as_alias("group_year"),
    TimetableEntry.study_group.school_class.as_alias("group_class"),
    TimetableEntry.study_group.school_class.grade.as_alias("group_grade"),  # type: ignore[union-attr]
    TimetableEntry.study_group.school_class.letter.as_alias("group_letter"),  # type: ignore[union-attr]
    TimetableEntry.study_group.school_class.shift.as_alias("group_shift"),  # type: ignore[union-attr]
    TimetableEntry.subject.name.as_alias("subject_name"),
)


def _who(row: dict[str, Any], prefix: str = "") -> str:
    if row.get(f"{prefix}class_grade") is not None and row.get("school_class") is not None:
        return class_name(row[f"{prefix}class_grade"], row[f"{prefix}class_letter"])
    group = row.get("group_name") or ""
    if row.get("group_grade") is not None:
        return f"{class_name(row['group_grade'], row['group_letter'])} ({group})"
    return f"группы «{group}»"


def _entry_occupant(row: dict[str, Any]) -> Occupant:
    return Occupant(
        id=row["id"],
        day=row["weekday"],
        lesson_number=row["lesson_number"],
        shift=row["class_shift"] or row["group_shift"] or 1,
        class_id=row["school_class"] or row["group_class"],
        group_id=row["study_group"],
        teacher_id=row["teacher"],
        room_id=row["room"],
        subject_id=row["subject"],
        valid_from=row["valid_from"],
        valid_to=row["valid_to"],
        who=_who(row),
        subject=row["subject_name"],
        group_name=row["group_name"] or "",
    )


async def _entries_overlapping(
    school_id: int, starts: date, ends: date, weekdays: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    query = TimetableEntry.select(*_ENTRY_COLUMNS, *_ENTRY_CONTEXT).where(
        (TimetableEntry.school == school_id)
        & (TimetableEntry.valid_from <= ends)
        & (TimetableEntry.valid_to >= starts)
    )
    if weekdays is not None:
        query = query.where(TimetableEntry.weekday.is_in(sorted(set(weekdays))))
    return await query


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
        await TimetableEntry.select(*_ENTRY_COLUMNS)
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
        existing = await _entries_overlapping(school_id, starts, ends, {i.weekday for i in items})
        bells = await load_bells(school_id)
        for weekday in sorted({i.weekday for i in items}):
            await check_study_day(school_id, weekday)
        for occupant in news:
            bells.check_number(occupant.shift, occupant.lesson_number)
        others = [_entry_occupant(r) for r in existing]
        await attach_group_reach([*others, *news])
        index = ConflictIndex(bells, others)
        names = await _names(school_id)
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
    return await TimetableEntry.select(*_ENTRY_COLUMNS).where(TimetableEntry.id.is_in(ids))


async def _entry_in_school(school_id: int, entry_id: int) -> dict[str, Any]:
    row = (
        await TimetableEntry.select(*_ENTRY_COLUMNS, *_ENTRY_CONTEXT)
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
        occupant = _entry_occupant(row)
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
        existing = await _entries_overlapping(
            school_id,
            occupant.valid_from,
            occupant.valid_to,
            [occupant.day],  # type: ignore[list-item]
        )
        others = [_entry_occupant(r) for r in existing]
        await attach_group_reach([*others, occupant])
        index = ConflictIndex(await load_bells(school_id), others)
        index.check(occupant, await _names(school_id), ignore={entry_id})
        await TimetableEntry.update(
            {
                TimetableEntry.teacher: occupant.teacher_id,
                TimetableEntry.room: occupant.room_id,
                TimetableEntry.valid_to: occupant.valid_to,
            }
        ).where(TimetableEntry.id == entry_id)
        # Untouched lessons follow the entry; those past its new end go.
        lessons = await _generated_lessons(
            Lesson.timetable_entry == entry_id, columns=(Lesson.teacher, Lesson.room)
        )
        untouched = await _untouched(lessons)
        follow = [
            r["id"]
            for r in lessons
            if r["id"] in untouched
            and r["date"] <= occupant.valid_to
            and (r["teacher"] != occupant.teacher_id or r["room"] != occupant.room_id)
        ]
        gone = [r["id"] for r in lessons if r["id"] in untouched and r["date"] > occupant.valid_to]
        for chunk in _chunks(follow):
            await Lesson.update(
                {
                    Lesson.teacher: occupant.teacher_id,
                    Lesson.room: occupant.room_id,
                    Lesson.updated_at: datetime.now(UTC),
                }
            ).where(Lesson.id.is_in(chunk))
        for chunk in _chunks(gone):
            await Lesson.delete().where(Lesson.id.is_in(chunk))
        await audit_write(
            actor,
            AuditAction.UPDATE,
            "timetable_entry",
            entry_id,
            school_id,
            lessons_updated=len(follow),
            lessons_removed=len(gone),
            **{k: v for k, v in structure._changes(data).items()},
        )
    return await _entry_in_school(school_id, entry_id)


async def delete_entry(actor: Actor, school_id: int, entry_id: int) -> None:
    """Delete an entry with its untouched lessons; refused while any of its lessons has journal
    content or a change (end the entry with a date instead)."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _entry_in_school(school_id, entry_id)
        lessons = await _generated_lessons(Lesson.timetable_entry == entry_id)
        untouched = await _untouched(lessons)
        kept = len(lessons) - len(untouched)
        if kept:
            raise Conflict(key="timetable.entry_has_lessons", count=kept)
        for chunk in _chunks([r["id"] for r in lessons]):
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


# ---- lesson generation -----------------------------------------------------------------------


def _chunks(items: Sequence[Any], size: int = INSERT_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def _generated_lessons(where: Any, columns: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return await Lesson.select(
        Lesson.id,
        Lesson.timetable_entry,
        Lesson.date,
        Lesson.version,
        Lesson.topic,
        Lesson.status,
        Lesson.replacement_teacher,
        *columns,
    ).where(where)


def _referencing_columns() -> list[ForeignKey]:
    """Foreign keys of other tables that point at `lesson` (journal content and the like)."""
    return [fk for fk in Lesson._meta.foreign_key_references if fk._meta.table is not Lesson]


async def lessons_with_content(lesson_ids: Sequence[int]) -> set[int]:
    """Which of these lessons some other table refers to (marks, attendance, homework...)."""
    found: set[int] = set()
    for fk in _referencing_columns():
        table = fk._meta.table
        for chunk in _chunks(list(lesson_ids)):
            rows = await table.select(fk.as_alias("lesson_id")).where(fk.is_in(list(chunk)))
            found.update(r["lesson_id"] for r in rows)
    return found


async def _untouched(rows: Sequence[dict[str, Any]]) -> set[int]:
    candidates = [
        r["id"]
        for r in rows
        if r["version"] == 1
        and not r["topic"]
        and r["status"] == "scheduled"
        and r["replacement_teacher"] is None
    ]
    return set(candidates) - await lessons_with_content(candidates)


def _days(starts: date, ends: date) -> Iterable[date]:
    day = starts
    while day <= ends:
        yield day
        day += timedelta(days=1)


class HolidayCalendar:
    """Holidays of a school's years: whether a grade has lessons on a date."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.all_grades: set[date] = set()
        self.some_grades: dict[date, set[int]] = defaultdict(set)
        self.names: dict[date, str] = {}
        for r in rows:
            grades = set(r["grades"] or [])
            for day in _days(r["starts_on"], r["ends_on"]):
                self.names.setdefault(day, r["name"])
                if grades:
                    self.some_grades[day] |= grades
                else:
                    self.all_grades.add(day)

    def is_off(self, day: date, grade: int | None) -> bool:
        if day in self.all_grades:
            return True
        return grade is not None and grade in self.some_grades.get(day, ())


async def load_holidays(school_id: int, starts: date, ends: date) -> HolidayCalendar:
    return HolidayCalendar(
        await Holiday.select(Holiday.name, Holiday.starts_on, Holiday.ends_on, Holiday.grades)
        .where(
            (Holiday.academic_year.school == school_id)
            & (Holiday.starts_on <= ends)
            & (Holiday.ends_on >= starts)
        )
        .output(load_json=True)
    )


_LESSON_INSERT_COLUMNS = (
    "school",
    "date",
    "lesson_number",
    "school_class",
    "study_group",
    "subject",
    "teacher",
    "room",
    "timetable_entry",
    "status",
    "topic",
    "version",
    "updated_at",
)


async def insert_lessons(rows: Sequence[tuple[Any, ...]]) -> None:
    """Insert many lessons inside the current transaction, through the driver: COPY on
    PostgreSQL, `executemany` on SQLite. Piccolo's `insert()` builds an object and a query
    string per row, which costs seconds for a year of a big school (docs/performance.md)."""
    if not rows:
        return
    engine = current_engine()
    current = engine.current_transaction.get()
    if current is None:  # pragma: no cover - generation always runs in a transaction
        raise RuntimeError("insert_lessons needs a transaction")
    connection = current.connection
    if isinstance(engine, PostgresEngine):
        await connection.copy_records_to_table(
            Lesson._meta.tablename, records=rows, columns=_LESSON_INSERT_COLUMNS
        )
        return
    names = ", ".join(f'"{c}"' for c in _LESSON_INSERT_COLUMNS)
    marks = ", ".join("?" for _ in _LESSON_INSERT_COLUMNS)
    await connection.executemany(
        f'INSERT INTO "{Lesson._meta.tablename}" ({names}) VALUES ({marks})',  # noqa: S608
        rows,
    )


async def _lock_school(school_id: int) -> None:
    """One generation per school at a time (PostgreSQL; SQLite already serialises writers)."""
    if isinstance(current_engine(), PostgresEngine):
        await AcademicYear.raw("SELECT id FROM school WHERE id = {} FOR UPDATE", school_id)


async def generate_lessons(
    actor: Actor, school_id: int, date_from: date, date_to: date
) -> s.GenerationResult:
    """Make the concrete lessons of `date_from..date_to` from the timetable, skipping holidays.

    Idempotent: a second run creates nothing. Set-based: one read of the entries, one of the
    existing lessons, then inserts of up to `INSERT_CHUNK` rows at a time.
    """
    await authorize_school(actor, school_id, MANAGE)
    if date_from > date_to:
        raise ValidationFailed(
            key="structure.dates_order",
            starts_on=ru_date(date_from),
            ends_on=ru_date(date_to),
        )
    if (date_to - date_from).days >= MAX_GENERATION_DAYS:
        raise ValidationFailed(key="timetable.range_too_long", days=MAX_GENERATION_DAYS)
    async with transaction():
        await _lock_school(school_id)
        years = {
            r["id"]: r
            for r in await AcademicYear.select(
                AcademicYear.id, AcademicYear.starts_on, AcademicYear.ends_on
            ).where(
                (AcademicYear.school == school_id)
                & (AcademicYear.starts_on <= date_to)
                & (AcademicYear.ends_on >= date_from)
            )
        }
        if not years:
            raise ValidationFailed(
                key="timetable.no_year",
                date_from=ru_date(date_from),
                date_to=ru_date(date_to),
            )
        entries = await _entries_overlapping(school_id, date_from, date_to)
        holidays = await load_holidays(school_id, date_from, date_to)
        by_weekday: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for e in entries:
            by_weekday[e["weekday"]].append(e)

        wanted: dict[tuple[int, date], dict[str, Any]] = {}
        for day in _days(date_from, date_to):
            for e in by_weekday.get(day.isoweekday(), ()):
                if not (e["valid_from"] <= day <= e["valid_to"]):
                    continue
                year = years.get(e["class_year"] or e["group_year"])
                if year is None or not (year["starts_on"] <= day <= year["ends_on"]):
                    continue
                if holidays.is_off(day, e["class_grade"] or e["group_grade"]):
                    continue
                wanted[(e["id"], day)] = e

        existing = await _generated_lessons(
            (Lesson.school == school_id)
            & (Lesson.date >= date_from)
            & (Lesson.date <= date_to)
            & Lesson.timetable_entry.is_not_null(),
            columns=(Lesson.teacher, Lesson.room),
        )
        have = {(r["timetable_entry"], r["date"]): r for r in existing}
        stale = [r for key, r in have.items() if key not in wanted]
        changed = [
            r
            for key, r in have.items()
            if key in wanted
            and (r["teacher"] != wanted[key]["teacher"] or r["room"] != wanted[key]["room"])
        ]
        untouched = await _untouched([*stale, *changed])

        now = datetime.now(UTC)
        missing = [(key, e) for key, e in wanted.items() if key not in have]
        await insert_lessons(
            [
                (
                    school_id,
                    day,
                    e["lesson_number"],
                    e["school_class"],
                    e["study_group"],
                    e["subject"],
                    e["teacher"],
                    e["room"],
                    entry_id,
                    "scheduled",
                    "",
                    1,
                    now,
                )
                for (entry_id, day), e in missing
            ]
        )
        removed = [r["id"] for r in stale if r["id"] in untouched]
        for ids in _chunks(removed):
            await Lesson.delete().where(Lesson.id.is_in(list(ids)))
        updated = 0
        by_entry: dict[int, list[int]] = defaultdict(list)
        for r in changed:
            if r["id"] in untouched:
                by_entry[r["timetable_entry"]].append(r["id"])
        for entry_id, ids in by_entry.items():
            e = wanted[(entry_id, next(r["date"] for r in changed if r["id"] == ids[0]))]
            for chunk in _chunks(ids):
                await Lesson.update(
                    {Lesson.teacher: e["teacher"], Lesson.room: e["room"], Lesson.updated_at: now}
                ).where(Lesson.id.is_in(list(chunk)))
            updated += len(ids)
        kept_with_content = len(stale) - len(removed) + len(changed) - updated
        days = [day for (_, day), _ in missing]
        days += [r["date"] for r in [*stale, *changed] if r["id"] in untouched]
        if days:
            await lesson_changes.notify_span(school_id, min(days), max(days))
        result = s.GenerationResult(
            created=len(missing),
            updated=updated,
            removed=len(removed),
            kept=len(have) - len(removed),
            kept_with_content=kept_with_content,
        )
        await audit_write(
            actor,
            "lessons.generate",
            "lesson",
            f"{date_from.isoformat()}..{date_to.isoformat()}",
            school_id,
            **msgspec.to_builtins(result),
        )
    return result


# ---- lessons ---------------------------------------------------------------------------------


_LESSON_COLUMNS = (
    Lesson.id,
    Lesson.date,
    Lesson.lesson_number,
    Lesson.school_class,
    Lesson.study_group,
    Lesson.subject,
    Lesson.subject.name.as_alias("subject_name"),
    Lesson.teacher,
    Lesson.replacement_teacher,
    Lesson.room,
    Lesson.timetable_entry,
    Lesson.status,
    Lesson.moved_to,
    Lesson.topic,
    Lesson.version,
)
_LESSON_CONTEXT = (
    Lesson.school_class.grade.as_alias("class_grade"),
    Lesson.school_class.letter.as_alias("class_letter"),
    Lesson.school_class.shift.as_alias("class_shift"),
    Lesson.school_class.academic_year.as_alias("class_year"),
    Lesson.study_group.name.as_alias("group_name"),
    Lesson.study_group.academic_year.as_alias("group_year"),
    Lesson.study_group.school_class.as_alias("group_class"),
    Lesson.study_group.school_class.grade.as_alias("group_grade"),  # type: ignore[union-attr]
    Lesson.study_group.school_class.letter.as_alias("group_letter"),  # type: ignore[union-attr]
    Lesson.study_group.school_class.shift.as_alias("group_shift"),  # type: ignore[union-attr]
)


def _lesson_occupant(row: dict[str, Any]) -> Occupant:
    return Occupant(
        id=row["id"],
        day=row["date"],
        lesson_number=row["lesson_number"],
        shift=row["class_shift"] or row["group_shift"] or 1,
        class_id=row["school_class"] or row["group_class"],
        group_id=row["study_group"],
        teacher_id=row["replacement_teacher"] or row["teacher"],
        room_id=row["room"],
        subject_id=row["subject"],
        valid_from=row["date"],
        valid_to=row["date"],
        who=_who(row),
        subject=row["subject_name"],
        kind="lesson",
        group_name=row["group_name"] or "",
    )


def lesson_out(row: dict[str, Any], bells: Bells | None = None) -> s.Lesson:
    starts_at = ends_at = None
    if bells is not None:
        starts_at, ends_at = bells.clock(
            row.get("class_shift") or row.get("group_shift") or 1, row["lesson_number"]
        )
    fields = {k: row[k] for k in s.Lesson.__struct_fields__ if k in row}
    return s.Lesson(**fields, starts_at=starts_at, ends_at=ends_at)


async def list_lessons(
    actor: Actor,
    school_id: int,
    date_from: date,
    date_to: date,
    *,
    class_id: int | None = None,
    group_id: int | None = None,
    teacher_id: int | None = None,
    room_id: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[s.Lesson], int]:
    """A page of the lessons of a school in a date range (at most `MAX_LIST_DAYS`), and how
    many there are in all. With `class_id` a class teacher of that class may read them too
    (the class's own lessons and its groups')."""
    target = await school_target(school_id)
    if class_id is not None:
        target = ScopeTarget(
            region_id=target.region_id,
            municipality_id=target.municipality_id,
            school_id=school_id,
            class_id=class_id,
            class_ids=frozenset({class_id}),
        )
    check(actor, READ, target)
    if date_from > date_to:
        raise ValidationFailed(
            key="structure.dates_order",
            starts_on=ru_date(date_from),
            ends_on=ru_date(date_to),
        )
    if (date_to - date_from).days >= MAX_LIST_DAYS:
        raise ValidationFailed(key="timetable.range_too_long", days=MAX_LIST_DAYS)
    where = (Lesson.school == school_id) & (Lesson.date >= date_from) & (Lesson.date <= date_to)
    if class_id is not None:
        if not await SchoolClass.exists().where(
            (SchoolClass.id == class_id) & (SchoolClass.school == school_id)
        ):
            raise NotFound()
        where &= (Lesson.school_class == class_id) | (Lesson.study_group.school_class == class_id)
    if group_id is not None:
        where &= Lesson.study_group == group_id
    if teacher_id is not None:
        where &= (Lesson.teacher == teacher_id) | (Lesson.replacement_teacher == teacher_id)
    if room_id is not None:
        where &= Lesson.room == room_id
    total = await Lesson.count().where(where)
    rows = (
        await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT)
        .where(where)
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
        .order_by(Lesson.id)
        .limit(limit)
        .offset(offset)
    )
    bells = await load_bells(school_id)
    return [lesson_out(r, bells) for r in rows], total


async def my_staff(actor: Actor) -> list[dict[str, Any]]:
    """The signed-in person's own staff records (one per school they work at)."""
    if actor.principal is None:
        raise NotFound()
    return list(
        await Staff.select(
            Staff.id,
            Staff.school,
            Staff.school.short_name.as_alias("school_name"),
            Staff.last_name,
            Staff.first_name,
            Staff.middle_name,
            Staff.positions,
            Staff.left_on,
        )
        .where(Staff.user_id == actor.principal.user_id)
        .order_by(Staff.id)
        .output(load_json=True)
    )


async def my_lessons(
    actor: Actor, date_from: date, date_to: date, limit: int, offset: int
) -> tuple[list[s.Lesson], int]:
    """Lessons the signed-in staff member teaches or replaces in, in a date range (at most
    `MAX_LIST_DAYS`), a page at a time. Someone with no staff record has none."""
    if date_from > date_to:
        raise ValidationFailed(
            key="structure.dates_order", starts_on=ru_date(date_from), ends_on=ru_date(date_to)
        )
    if (date_to - date_from).days >= MAX_LIST_DAYS:
        raise ValidationFailed(key="timetable.range_too_long", days=MAX_LIST_DAYS)
    staff_ids = [r["id"] for r in await my_staff(actor)]
    if not staff_ids:
        return [], 0
    where = (
        (Lesson.teacher.is_in(staff_ids) | Lesson.replacement_teacher.is_in(staff_ids))
        & (Lesson.date >= date_from)
        & (Lesson.date <= date_to)
    )
    total = await Lesson.count().where(where)
    rows = (
        await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT, Lesson.school)
        .where(where)
        .order_by(Lesson.date)
        .order_by(Lesson.lesson_number)
        .order_by(Lesson.id)
        .limit(limit)
        .offset(offset)
    )
    bells: dict[int, Bells] = {}
    out: list[s.Lesson] = []
    for r in rows:
        if r["school"] not in bells:
            bells[r["school"]] = await load_bells(r["school"])
        out.append(lesson_out(r, bells[r["school"]]))
    return out, total


async def _lesson_in_school(school_id: int, lesson_id: int) -> dict[str, Any]:
    row = (
        await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT)
        .where((Lesson.id == lesson_id) & (Lesson.school == school_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def get_lesson(actor: Actor, school_id: int, lesson_id: int) -> s.Lesson:
    await authorize_school(actor, school_id, READ)
    return lesson_out(await _lesson_in_school(school_id, lesson_id), await load_bells(school_id))


def _check_changeable(row: dict[str, Any], version: int | None) -> None:
    if version is not None and version != row["version"]:
        raise Conflict(key="timetable.version_mismatch", current=row["version"], given=version)
    if row["status"] != "scheduled":
        raise Conflict(
            key="timetable.lesson_not_scheduled", state=t(f"timetable.state.{row['status']}")
        )


async def _lessons_on(school_id: int, day: date) -> list[Occupant]:
    rows = await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT).where(
        (Lesson.school == school_id) & (Lesson.date == day) & (Lesson.status == "scheduled")
    )
    return [_lesson_occupant(r) for r in rows]


async def _check_lesson_slot(school_id: int, occupant: Occupant, ignore: set[int]) -> None:
    others = await _lessons_on(school_id, occupant.day)  # type: ignore[arg-type]
    await attach_group_reach([*others, occupant])
    index = ConflictIndex(await load_bells(school_id), others)
    index.check(occupant, await _names(school_id), ignore=ignore)


async def _bump(lesson_id: int, version: int, values: dict[Any, Any]) -> None:
    """Write a change only over the version it was checked against."""
    rows = (
        await Lesson.update(
            {**values, Lesson.version: version + 1, Lesson.updated_at: datetime.now(UTC)}
        )
        .where((Lesson.id == lesson_id) & (Lesson.version == version))
        .returning(Lesson.id)
    )
    if not rows:
        current = await Lesson.select(Lesson.version).where(Lesson.id == lesson_id).first()
        raise Conflict(
            key="timetable.version_mismatch",
            current=current["version"] if current else "?",
            given=version,
        )
    await lesson_changes.notify([lesson_id])


def _event_payload(row: dict[str, Any], names: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "lesson_id": row["id"],
        "date": row["date"].isoformat(),
        "lesson_number": row["lesson_number"],
        "school_class_id": row["school_class"] or row["group_class"],
        "study_group_id": row["study_group"],
        "who": _who(row),
        "subject": row["subject_name"],
        "teacher": names.get(f"teacher:{row['teacher']}", ""),
        **extra,
    }


async def set_replacement(
    actor: Actor, school_id: int, lesson_id: int, data: s.ReplacementSet
) -> s.Lesson:
    """Замена: another teacher takes this one lesson (None gives it back)."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        names = await _names(school_id)
        if data.teacher_id is not None:
            if data.teacher_id == row["teacher"]:
                raise ValidationFailed(key="timetable.replacement_same")
            await structure.staff_in_school(school_id, data.teacher_id)
            occupant = _lesson_occupant(row)
            occupant.teacher_id = data.teacher_id
            occupant.room_id = None  # the room is not what changes here
            occupant.class_id = occupant.group_id = None
            await _check_lesson_slot(school_id, occupant, {lesson_id})
        await _bump(lesson_id, row["version"], {Lesson.replacement_teacher: data.teacher_id})
        await audit_write(
            actor,
            "lesson.replace",
            "lesson",
            lesson_id,
            school_id,
            before=row["replacement_teacher"],
            after=data.teacher_id,
        )
        await emit(
            "lesson.replaced",
            _event_payload(
                row,
                names,
                replacement_teacher=names.get(f"teacher:{data.teacher_id}", "")
                if data.teacher_id
                else None,
            ),
            school_id=school_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def change_room(actor: Actor, school_id: int, lesson_id: int, data: s.RoomChange) -> s.Lesson:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        if data.room_id is not None:
            await structure.room_in_school(school_id, data.room_id)
            occupant = _lesson_occupant(row)
            occupant.room_id = data.room_id
            occupant.teacher_id = 0  # only the room is checked here
            occupant.class_id = occupant.group_id = None
            await _check_lesson_slot(school_id, occupant, {lesson_id})
        await _bump(lesson_id, row["version"], {Lesson.room: data.room_id})
        await audit_write(
            actor,
            "lesson.room",
            "lesson",
            lesson_id,
            school_id,
            before=row["room"],
            after=data.room_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def cancel_lesson(
    actor: Actor, school_id: int, lesson_id: int, data: s.Cancellation
) -> s.Lesson:
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        await _bump(lesson_id, row["version"], {Lesson.status: "cancelled"})
        await audit_write(
            actor, "lesson.cancel", "lesson", lesson_id, school_id, reason=data.reason
        )
        await emit(
            "lesson.cancelled",
            _event_payload(row, await _names(school_id), reason=data.reason),
            school_id=school_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def cancel_for_holiday(
    actor: Actor, school_id: int, holiday: dict[str, Any]
) -> tuple[list[int], list[s.Lesson]]:
    """A holiday was added (in the caller's transaction): its days' scheduled lessons without
    journal content are cancelled (kept, marked `cancelled`, so the diary shows why); those
    with content (a topic, or rows of other tables such as marks) are left as they are and
    returned, for the coordinator to move or cancel by hand."""
    rows = await Lesson.select(*_LESSON_COLUMNS, *_LESSON_CONTEXT).where(
        (Lesson.school == school_id)
        & (Lesson.date >= holiday["starts_on"])
        & (Lesson.date <= holiday["ends_on"])
        & (Lesson.status == "scheduled")
    )
    grades = set(holiday["grades"] or [])
    hit = [r for r in rows if not grades or (r["class_grade"] or r["group_grade"]) in grades]
    with_content = await lessons_with_content([r["id"] for r in hit])
    with_content |= {r["id"] for r in hit if r["topic"]}
    cancelled = sorted(r["id"] for r in hit if r["id"] not in with_content)
    now = datetime.now(UTC)
    for chunk in _chunks(cancelled):
        await Lesson.update(
            {Lesson.status: "cancelled", Lesson.version: Lesson.version + 1, Lesson.updated_at: now}
        ).where(Lesson.id.is_in(list(chunk)) & (Lesson.status == "scheduled"))
    if cancelled:
        # The diary hears of these as of any other cancellation (decision 0354).
        await lesson_changes.notify(cancelled)
    kept = [r for r in hit if r["id"] in with_content]
    if hit:
        await audit_write(
            actor,
            "lesson.cancel",
            "holiday",
            holiday["id"],
            school_id,
            reason=holiday["name"],
            cancelled=cancelled[:500],
            kept_with_content=[r["id"] for r in kept][:500],
        )
    if cancelled:
        await emit(
            "lessons.cancelled_for_holiday",
            {
                "holiday_id": holiday["id"],
                "name": holiday["name"],
                "starts_on": holiday["starts_on"].isoformat(),
                "ends_on": holiday["ends_on"].isoformat(),
                "grades": sorted(grades),
                "lesson_ids": cancelled[:2000],
                "count": len(cancelled),
            },
            school_id=school_id,
        )
    bells = await load_bells(school_id)
    kept.sort(key=lambda r: (r["date"], r["lesson_number"], r["id"]))
    return cancelled, [lesson_out(r, bells) for r in kept]


async def restore_lesson(
    actor: Actor, school_id: int, lesson_id: int, data: s.Restoration
) -> s.Lesson:
    """Un-cancel a cancelled lesson (by a holiday or by hand), if its day is a study day, not
    a holiday, and its slot is still free."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        if data.version is not None and data.version != row["version"]:
            raise Conflict(
                key="timetable.version_mismatch", current=row["version"], given=data.version
            )
        if row["status"] != "cancelled":
            raise Conflict(key="slot.restore.not_cancelled")
        day = row["date"]
        holidays = await load_holidays(school_id, day, day)
        if holidays.is_off(day, row["class_grade"] or row["group_grade"]):
            raise ValidationFailed(
                key="slot.restore.holiday", date=ru_date(day), name=holidays.names.get(day, "")
            )
        await check_study_day(school_id, day.isoweekday(), day)
        await _check_lesson_slot(school_id, _lesson_occupant(row), {lesson_id})
        await _bump(lesson_id, row["version"], {Lesson.status: "scheduled"})
        await audit_write(actor, "lesson.restore", "lesson", lesson_id, school_id)
        await emit(
            "lesson.restored",
            _event_payload(row, await _names(school_id)),
            school_id=school_id,
        )
    return await get_lesson(actor, school_id, lesson_id)


async def move_lesson(
    actor: Actor, school_id: int, lesson_id: int, data: s.LessonMove
) -> s.MoveResult:
    """Move one lesson to another date and lesson number (and maybe room). The original stays,
    marked `moved` and pointing at the new lesson, so the diary can show where it went."""
    await authorize_school(actor, school_id, MANAGE)
    async with transaction():
        row = await _lesson_in_school(school_id, lesson_id)
        _check_changeable(row, data.version)
        if row["date"] == data.date and row["lesson_number"] == data.lesson_number:
            raise ValidationFailed(key="timetable.lesson_same_slot")
        if await lessons_with_content([lesson_id]):
            raise Conflict(key="timetable.lesson_has_content")
        room_id = row["room"] if data.room_id is msgspec.UNSET else data.room_id
        if room_id is not None:
            await structure.room_in_school(school_id, room_id)
        year_id = row["class_year"] or row["group_year"]
        year = await structure.year_in_school(school_id, year_id)
        if not (year["starts_on"] <= data.date <= year["ends_on"]):
            raise ValidationFailed(
                key="structure.outside_year",
                starts_on=ru_date(data.date),
                ends_on=ru_date(data.date),
                year=year["name"],
                year_starts=ru_date(year["starts_on"]),
                year_ends=ru_date(year["ends_on"]),
            )
        holidays = await load_holidays(school_id, data.date, data.date)
        if holidays.is_off(data.date, row["class_grade"] or row["group_grade"]):
            raise ValidationFailed(
                key="timetable.move_holiday",
                date=data.date.strftime("%d.%m.%Y"),
                name=holidays.names.get(data.date, ""),
            )
        await check_study_day(school_id, data.date.isoweekday(), data.date)
        occupant = _lesson_occupant(row)
        (await load_bells(school_id)).check_number(occupant.shift, data.lesson_number)
        occupant.day, occupant.valid_from, occupant.valid_to = data.date, data.date, data.date
        occupant.lesson_number = data.lesson_number
        occupant.room_id = room_id
        await _check_lesson_slot(school_id, occupant, {lesson_id})
        new_rows = await Lesson.insert(
            Lesson(
                school=school_id,
                date=data.date,
                lesson_number=data.lesson_number,
                school_class=row["school_class"],
                study_group=row["study_group"],
                subject=row["subject"],
                teacher=row["teacher"],
                replacement_teacher=row["replacement_teacher"],
                room=room_id,
                topic=row["topic"],
                updated_at=datetime.now(UTC),
            )
        ).returning(Lesson.id)
        new_id = new_rows[0]["id"]
        await _bump(lesson_id, row["version"], {Lesson.status: "moved", Lesson.moved_to: new_id})
        await lesson_changes.notify([new_id])
        await audit_write(
            actor,
            "lesson.move",
            "lesson",
            lesson_id,
            school_id,
            moved_to=new_id,
            date=data.date,
            lesson_number=data.lesson_number,
            room=room_id,
        )
        await emit(
            "lesson.moved",
            _event_payload(
                row,
                await _names(school_id),
                moved_to_lesson_id=new_id,
                new_date=data.date.isoformat(),
                new_lesson_number=data.lesson_number,
            ),
            school_id=school_id,
        )
    return s.MoveResult(
        original=await get_lesson(actor, school_id, lesson_id),
        moved_to=await get_lesson(actor, school_id, new_id),
    )


READ_PERMISSION = Permission.STRUCTURE_READ
