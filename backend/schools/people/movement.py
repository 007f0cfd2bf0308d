"""The book of movement (движение контингента): admissions, transfers, leaving and graduation.

The book is append-only and is the truth of class membership: a pupil's class on a date is the
class of their latest entry on or before that date (none after `left` or `graduated`). An entry
dated before the pupil's latest one is refused, so what the book answered for a past date never
changes afterwards (see docs/decisions/0201-book-of-movement.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.db import transaction
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import class_name
from backend.core.rights import Permission, ScopeTarget
from backend.events.services import emit
from backend.schools.tables import Enrollment, School, SchoolClass, Student

MovementKind = Literal["admitted", "transferred", "left", "graduated"]
KINDS: tuple[str, ...] = ("admitted", "transferred", "left", "graduated")
ENDING = ("left", "graduated")
GRADUATION_GRADES = (9, 11)


def today() -> date:
    """Today where no school is named: the deployment's default zone (`backend.core.days`)."""
    return today_in()


async def school_today(school_id: int) -> date:
    """Today on the school's own clock."""
    row = await School.select(School.time_zone).where(School.id == school_id).first()
    return today_in(row["time_zone"] if row else None)


async def pupil_today(student_id: int) -> date:
    """Today on the clock of the pupil's school."""
    row = (
        await Student.select(Student.school.time_zone.as_alias("time_zone"))
        .where(Student.id == student_id)
        .first()
    )
    return today_in(row["time_zone"] if row else None)


def ensure(actor: Actor, permission: Permission, target: ScopeTarget) -> None:
    """The actor may use `permission` on the object at `target`; otherwise it does not exist
    for them (404). The system actor (commands, jobs) may do anything."""
    if actor.principal is not None and not actor.principal.allows(permission, target):
        raise NotFound()


def class_label(grade: int, letter: str) -> str:
    """A class as people read it (5«А»); files use `class_code` (5А), which imports read."""
    return class_name(grade, letter)


def class_code(grade: int, letter: str) -> str:
    return f"{grade}{letter}"


# ---- membership ----------------------------------------------------------------------------


def _entries_key(row: dict[str, Any]) -> tuple[date, int]:
    return (row["date"], row["id"])


def _class_at(rows: list[dict[str, Any]], on: date) -> int | None:
    """`rows` are one pupil's entries sorted by (date, id)."""
    current: int | None = None
    for row in rows:
        if row["date"] > on:
            break
        current = None if row["kind"] in ENDING else row["school_class"]
    return current


async def _entries(student_ids: Iterable[int], until: date | None = None) -> dict[int, list[Any]]:
    ids = list(set(student_ids))
    if not ids:
        return {}
    query = Enrollment.select(
        Enrollment.id,
        Enrollment.student,
        Enrollment.school,
        Enrollment.school_class,
        Enrollment.kind,
        Enrollment.date,
    ).where(Enrollment.student.is_in(ids))
    if until is not None:
        query = query.where(Enrollment.date <= until)
    by_student: dict[int, list[Any]] = {i: [] for i in ids}
    for row in await query:
        by_student[row["student"]].append(row)
    for rows in by_student.values():
        rows.sort(key=_entries_key)
    return by_student


async def class_on(student_id: int, on: date) -> int | None:
    """The class the pupil was in on `on` (None: not enrolled anywhere that day)."""
    rows = (await _entries([student_id], on))[student_id]
    return _class_at(rows, on)


async def classes_on(student_ids: Iterable[int], on: date) -> dict[int, int | None]:
    """`class_on` for many pupils in one query."""
    return {sid: _class_at(rows, on) for sid, rows in (await _entries(student_ids, on)).items()}


async def class_spans(
    student_ids: Iterable[int], starts: date, ends: date
) -> dict[int, list[tuple[int, date, date]]]:
    """For each pupil, the classes the book of movement puts them in between `starts` and
    `ends`: (class, first day, last day), in order, clipped to the range. One query."""
    out: dict[int, list[tuple[int, date, date]]] = {}
    for sid, rows in (await _entries(student_ids, ends)).items():
        spans: list[tuple[int, date, date]] = []
        for n, row in enumerate(rows):
            if row["kind"] in ENDING or row["school_class"] is None:
                continue
            first = max(row["date"], starts)
            last = rows[n + 1]["date"] - timedelta(days=1) if n + 1 < len(rows) else ends
            last = min(last, ends)
            if first <= last:
                spans.append((row["school_class"], first, last))
        out[sid] = spans
    return out


async def classes_from(student_id: int, on: date) -> set[int]:
    """The classes the pupil is in on `on` or will be in after it."""
    return classes_in((await _entries([student_id]))[student_id], on)


class_at = _class_at  # one pupil's entries (sorted by date, id) -> the class on a day


def classes_in(rows: list[dict[str, Any]], on: date) -> set[int]:
    """`classes_from` over one pupil's entries already read (sorted by date, id)."""
    result: set[int] = set()
    current = _class_at(rows, on)
    if current is not None:
        result.add(current)
    for row in rows:
        if row["date"] > on and row["kind"] not in ENDING and row["school_class"] is not None:
            result.add(row["school_class"])
    return result


@dataclass(frozen=True, slots=True)
class PupilRef:
    id: int
    last_name: str
    first_name: str
    middle_name: str
    user_id: int | None

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.last_name, self.first_name, self.middle_name) if p)


async def students_of_class(class_id: int, on: date) -> list[PupilRef]:
    """The pupils of a class on a date, by the book of movement, sorted by name."""
    candidates = await Enrollment.select(Enrollment.student).where(
        (Enrollment.school_class == class_id) & (Enrollment.date <= on)
    )
    current = await classes_on({r["student"] for r in candidates}, on)
    ids = [sid for sid, cid in current.items() if cid == class_id]
    if not ids:
        return []
    rows = await Student.select(
        Student.id, Student.last_name, Student.first_name, Student.middle_name, Student.user_id
    ).where(Student.id.is_in(ids))
    refs = [
        PupilRef(r["id"], r["last_name"], r["first_name"], r["middle_name"], r["user_id"])
        for r in rows
    ]
    return sorted(refs, key=lambda p: (p.last_name.lower(), p.first_name.lower(), p.id))


async def pupils_of_classes(class_ids: Iterable[int], on: date) -> dict[int, list[int]]:
    """`students_of_class` for many classes at once (ids only, unsorted): two queries."""
    wanted = set(class_ids)
    if not wanted:
        return {}
    candidates = await Enrollment.select(Enrollment.student).where(
        Enrollment.school_class.is_in(list(wanted)) & (Enrollment.date <= on)
    )
    out: dict[int, list[int]] = {c: [] for c in wanted}
    for sid, cid in (await classes_on({r["student"] for r in candidates}, on)).items():
        if cid in wanted:
            out[cid].append(sid)
    return out


# ---- where things sit ----------------------------------------------------------------------


async def class_target(class_id: int) -> ScopeTarget:
    """A class: its school, municipality and region."""
    row = (
        await SchoolClass.select(
            SchoolClass.school,
            SchoolClass.school.municipality,
            SchoolClass.school.municipality.region,  # type: ignore[union-attr]
        )
        .where(SchoolClass.id == class_id)
        .first()
    )
    if row is None:
        raise NotFound()
    return ScopeTarget(
        region_id=row["school.municipality.region"],
        municipality_id=row["school.municipality"],
        school_id=row["school"],
        class_id=class_id,
        class_ids=frozenset({class_id}),
    )


async def student_target(student_id: int) -> ScopeTarget:
    """A pupil: their current school, and the classes they are in today or will be (an
    admission recorded ahead of 1 September already lets the new class teacher in). A class
    they have left no longer counts: last year's class teacher does not keep the file."""
    row = (
        await Student.select(
            Student.school,
            Student.school.municipality,
            Student.school.municipality.region,  # type: ignore[union-attr]
        )
        .where(Student.id == student_id)
        .first()
    )
    if row is None:
        raise NotFound()
    classes = await classes_from(student_id, today())
    return ScopeTarget(
        region_id=row["school.municipality.region"],
        municipality_id=row["school.municipality"],
        school_id=row["school"],
        student_id=student_id,
        class_ids=frozenset(classes),
    )


# ---- recording movements -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClassInfo:
    id: int
    school_id: int
    grade: int
    letter: str
    year_starts: date
    year_ends: date

    @property
    def label(self) -> str:
        return class_label(self.grade, self.letter)


async def class_info(class_id: int) -> ClassInfo:
    row = (
        await SchoolClass.select(
            SchoolClass.id,
            SchoolClass.school,
            SchoolClass.grade,
            SchoolClass.letter,
            SchoolClass.academic_year.starts_on,
            SchoolClass.academic_year.ends_on,
        )
        .where(SchoolClass.id == class_id)
        .first()
    )
    if row is None:
        raise NotFound()
    return ClassInfo(
        row["id"],
        row["school"],
        row["grade"],
        row["letter"],
        row["academic_year.starts_on"],
        row["academic_year.ends_on"],
    )


def _fail(key: str, field: str, **params: Any) -> ValidationFailed:
    from backend.i18n import t

    message = t(key, **params)
    return ValidationFailed(message, details=[{"field": field, "message": message}])


async def record_movement(
    actor: Actor,
    student_id: int,
    kind: str,
    on: date,
    order_number: str,
    *,
    class_id: int | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """Append one entry to the book of movement. The actor needs the personal-file write right
    over the pupil (and over the destination class when it is in another school)."""
    if kind not in KINDS:
        raise _fail("movement.kind_invalid", "kind", kinds=", ".join(KINDS))
    order_number = order_number.strip()
    if not order_number:
        raise _fail("movement.order_required", "order_number")
    if len(order_number) > 64:
        raise _fail("movement.order_too_long", "order_number")
    student_target_ = await student_target(student_id)
    ensure(actor, Permission.PERSONAL_FILE_WRITE, student_target_)
    destination: ClassInfo | None = None
    if kind in ("admitted", "transferred"):
        if class_id is None:
            raise _fail("movement.class_required", "class_id")
        destination = await class_info(class_id)
        ensure(actor, Permission.PERSONAL_FILE_WRITE, await class_target(class_id))
        if not destination.year_starts <= on <= destination.year_ends:
            raise _fail(
                "movement.date_outside_year",
                "date",
                date=on.strftime("%d.%m.%Y"),
                class_name=destination.label,
            )
    elif class_id is not None:
        raise _fail("movement.class_not_expected", "class_id")

    async with transaction():
        # Touching the pupil's row first locks it on PostgreSQL (SQLite's transaction holds the
        # write lock already): two clerks recording at once queue instead of both passing the
        # checks below.
        await Student.update({Student.updated_at: datetime.now(UTC)}).where(
            Student.id == student_id
        )
        rows = (await _entries([student_id]))[student_id]
        last = rows[-1] if rows else None
        if last is not None and on < last["date"]:
            raise _fail("movement.before_last", "date", last=last["date"].strftime("%d.%m.%Y"))
        enrolled_in = _class_at(rows, last["date"]) if last is not None else None
        if kind == "admitted" and enrolled_in is not None:
            current = await class_info(enrolled_in)
            raise _fail("movement.already_enrolled", "kind", class_name=current.label)
        if kind != "admitted" and enrolled_in is None:
            raise _fail("movement.not_enrolled", "kind")
        if kind == "transferred" and enrolled_in == class_id:
            raise _fail("movement.same_class", "class_id")
        if kind == "graduated" and enrolled_in is not None:
            current = await class_info(enrolled_in)
            if current.grade not in GRADUATION_GRADES:
                raise _fail("movement.graduation_grade", "kind", class_name=current.label)
        school_id = destination.school_id if destination else student_target_.school_id
        assert school_id is not None
        entry = Enrollment(
            student=student_id,
            school=school_id,
            school_class=class_id,
            kind=kind,
            date=on,
            order_number=order_number,
            reason=reason.strip()[:300],
            recorded_by=actor.user_id,
        )
        await entry.save()
        if destination is not None:
            changes: dict[Any, Any] = {
                Student.school: destination.school_id,
                Student.archived: False,
            }
        else:
            changes = {Student.archived: True}
        await Student.update(changes).where(Student.id == student_id)
        details = {
            "kind": kind,
            "date": on.isoformat(),
            "order_number": order_number,
            "class_id": class_id,
            "from_class_id": enrolled_in,
        }
        await record(
            actor,
            AuditAction.CREATE,
            object_type="enrollment",
            object_id=entry.id,
            school_id=school_id,
            student_id=student_id,
            details=details,
        )
        await emit(
            f"student.{kind}",
            {"student_id": student_id, **details},
            school_id=school_id,
            student_id=student_id,
        )
    return {**details, "id": entry.id, "school_id": school_id, "reason": entry.reason}


async def history(actor: Actor, student_id: int) -> list[dict[str, Any]]:
    """The pupil's entries in the book of movement, oldest first, with class labels."""
    ensure(actor, Permission.PEOPLE_READ, await student_target(student_id))
    rows = (
        await Enrollment.select(
            Enrollment.id,
            Enrollment.kind,
            Enrollment.date,
            Enrollment.order_number,
            Enrollment.reason,
            Enrollment.school,
            Enrollment.school_class,
            Enrollment.school_class.grade,
            Enrollment.school_class.letter,
            Enrollment.created_at,
        )
        .where(Enrollment.student == student_id)
        .order_by(Enrollment.date)
        .order_by(Enrollment.id)
    )
    for row in rows:
        grade = row.pop("school_class.grade")
        letter = row.pop("school_class.letter")
        row["class_name"] = class_label(grade, letter) if grade is not None else None
    return rows


async def class_of_student_on(actor: Actor, student_id: int, on: date) -> ClassInfo | None:
    """What the book says about one pupil on one date, for someone allowed to see the pupil."""
    ensure(actor, Permission.PEOPLE_READ, await student_target(student_id))
    class_id = await class_on(student_id, on)
    return await class_info(class_id) if class_id is not None else None


__all__ = [
    "PupilRef",
    "class_on",
    "classes_on",
    "record_movement",
    "students_of_class",
]
