"""Timetable slots and conflicts: who occupies a slot, when two clash, names for messages.

A *slot* is a day (a weekday for entries, a date for lessons) and a time: the bells of the
class's shift when the school has them, else the shift and lesson number. Two things conflict
when they share a slot and a teacher, a room, or a class (a whole-class lesson clashes with any
group of that class; two different groups of one class may sit at the same time).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from backend.core.errors import Conflict, ValidationFailed
from backend.core.forms import class_name, short_person_name
from backend.i18n import t
from backend.schools.people import movement
from backend.schools.structure import services as structure
from backend.schools.tables import (
    BellSchedule,
    Room,
    Staff,
    StudyGroupMember,
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


async def names_for_messages(school_id: int) -> dict[str, str]:
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


ENTRY_COLUMNS = (
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
ENTRY_CONTEXT = (
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


def who_of(row: dict[str, Any], prefix: str = "") -> str:
    if row.get(f"{prefix}class_grade") is not None and row.get("school_class") is not None:
        return class_name(row[f"{prefix}class_grade"], row[f"{prefix}class_letter"])
    group = row.get("group_name") or ""
    if row.get("group_grade") is not None:
        return f"{class_name(row['group_grade'], row['group_letter'])} ({group})"
    return f"группы «{group}»"


def entry_occupant(row: dict[str, Any]) -> Occupant:
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
        who=who_of(row),
        subject=row["subject_name"],
        group_name=row["group_name"] or "",
    )


async def entries_overlapping(
    school_id: int, starts: date, ends: date, weekdays: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    query = TimetableEntry.select(*ENTRY_COLUMNS, *ENTRY_CONTEXT).where(
        (TimetableEntry.school == school_id)
        & (TimetableEntry.valid_from <= ends)
        & (TimetableEntry.valid_to >= starts)
    )
    if weekdays is not None:
        query = query.where(TimetableEntry.weekday.is_in(sorted(set(weekdays))))
    return await query
