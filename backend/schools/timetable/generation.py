"""Lesson generation: concrete lessons from the timetable entries, set-based.

A lesson is *untouched* while it is as generation made it: version 1, no topic, scheduled, no
replacement, and no row of any other table refers to it (marks, attendance, homework...: found
through the foreign keys that point at `lesson`, so the journal needs no hook here). Generation
adds missing lessons, brings untouched ones in line with their entry, and removes untouched
ones whose entry no longer applies; everything else is left alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.columns import ForeignKey
from piccolo.engine.postgres import PostgresEngine

from backend.core.context import Actor
from backend.core.db import current_engine, transaction
from backend.core.errors import ValidationFailed
from backend.core.forms import ru_date
from backend.schools.structure import schemas as s
from backend.schools.structure.common import MANAGE, audit_write, authorize_school
from backend.schools.tables import (
    AcademicYear,
    Holiday,
    Lesson,
)
from backend.schools.timetable import changes as lesson_changes
from backend.schools.timetable.conflicts import (
    INSERT_CHUNK,
    MAX_GENERATION_DAYS,
    entries_overlapping,
)

# ---- lesson generation -----------------------------------------------------------------------


def chunks(items: Sequence[Any], size: int = INSERT_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def generated_lessons(where: Any, columns: Sequence[Any] = ()) -> list[dict[str, Any]]:
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
        for chunk in chunks(list(lesson_ids)):
            rows = await table.select(fk.as_alias("lesson_id")).where(fk.is_in(list(chunk)))
            found.update(r["lesson_id"] for r in rows)
    return found


async def untouched_of(rows: Sequence[dict[str, Any]]) -> set[int]:
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
        entries = await entries_overlapping(school_id, date_from, date_to)
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

        existing = await generated_lessons(
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
        untouched = await untouched_of([*stale, *changed])

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
        for ids in chunks(removed):
            await Lesson.delete().where(Lesson.id.is_in(list(ids)))
        updated = 0
        by_entry: dict[int, list[int]] = defaultdict(list)
        for r in changed:
            if r["id"] in untouched:
                by_entry[r["timetable_entry"]].append(r["id"])
        for entry_id, ids in by_entry.items():
            e = wanted[(entry_id, next(r["date"] for r in changed if r["id"] == ids[0]))]
            for chunk in chunks(ids):
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
