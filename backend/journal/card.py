"""A pupil's card for the staff (the staff web's «карточка ученика»): every subject's marks with
their averages and final marks, and the attendance, for a study period or a span of dates; and
the study periods a class's pages offer.

Who reads the card is who reads the pupil's journal (decision 0352, applied to the pupil): the
coordinator (`journal.manage` at the pupil's school), the class teacher of the pupil's class, a
teacher who teaches that class (any subject: the card is for the teachers' council). Anyone
else, a teacher of another class included, gets 404. A read is audited (it names a pupil's
marks), as the diary's staff reads are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import class_name
from backend.core.rights import Permission, Role, ScopeKind
from backend.journal.lessons import teaches_class
from backend.journal.scales import plain_average, weighted_average
from backend.journal.tables import AttendanceRecord, FinalMark, Mark
from backend.schools.people import movement
from backend.schools.reads import SchoolClass, Student, StudyPeriod, Subject

READ = (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
ABSENCES = ("absent", "sick", "excused", "late")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    id: int
    name: str
    starts_on: date
    ends_on: date
    closed: bool


@dataclass(slots=True)
class CardMark:
    value: str
    date: date
    work_kind: str
    weight: int


@dataclass(slots=True)
class CardSubject:
    id: int
    name: str
    marks: list[CardMark] = field(default_factory=list)
    average: float | None = None
    weighted_average: float | None = None
    finals: dict[str, str] = field(default_factory=dict)  # "period" / "year" → value
    lessons: int = 0  # lessons with a register taken for the pupil
    absences: dict[str, int] = field(default_factory=dict)  # status → lessons


@dataclass(slots=True)
class PupilCard:
    student_id: int
    name: str
    class_id: int | None
    class_name: str
    date_from: date
    date_to: date
    period_id: int | None
    periods: list[PeriodChoice]
    subjects: list[CardSubject]
    absences: dict[str, int]
    lessons: int


async def class_periods(class_id: int) -> list[PeriodChoice]:
    """The study periods of the class's year that apply to its grade, in order."""
    cls = await (
        SchoolClass.select(SchoolClass.grade, SchoolClass.academic_year)
        .where(SchoolClass.id == class_id)
        .first()
    )
    if cls is None:
        return []
    rows = (
        await StudyPeriod.select(
            StudyPeriod.id,
            StudyPeriod.name,
            StudyPeriod.starts_on,
            StudyPeriod.ends_on,
            StudyPeriod.grades,
            StudyPeriod.closed_at,
        )
        .where(StudyPeriod.academic_year == cls["academic_year"])
        .order_by(StudyPeriod.starts_on)
    )
    return [
        PeriodChoice(r["id"], r["name"], r["starts_on"], r["ends_on"], r["closed_at"] is not None)
        for r in rows
        if not _json(r["grades"]) or cls["grade"] in _json(r["grades"])
    ]


async def school_periods(school_id: int) -> list[PeriodChoice]:
    """The study periods of the school's current academic year (all grades), in order: the
    reports' choice of span."""
    today = await movement.school_today(school_id)
    rows = (
        await StudyPeriod.select(
            StudyPeriod.id,
            StudyPeriod.name,
            StudyPeriod.starts_on,
            StudyPeriod.ends_on,
            StudyPeriod.closed_at,
            StudyPeriod.academic_year.starts_on.as_alias("year_start"),
            StudyPeriod.academic_year.ends_on.as_alias("year_end"),
        )
        .where(StudyPeriod.academic_year.school == school_id)
        .order_by(StudyPeriod.starts_on)
    )
    current = [r for r in rows if r["year_start"] <= today <= r["year_end"]]
    if not current and rows:
        last_start = max(r["year_start"] for r in rows)
        current = [r for r in rows if r["year_start"] == last_start]
    return [
        PeriodChoice(r["id"], r["name"], r["starts_on"], r["ends_on"], r["closed_at"] is not None)
        for r in current
    ]


async def current_period(class_id: int, periods: list[PeriodChoice]) -> int | None:
    """The period of today on the school's clock, else the last one begun, else the first."""
    if not periods:
        return None
    row = await SchoolClass.select(SchoolClass.school).where(SchoolClass.id == class_id).first()
    today = await movement.school_today(row["school"]) if row else date.today()
    begun = [p for p in periods if p.starts_on <= today] or periods
    return begun[-1].id


async def class_and_subject(class_id: int, subject_id: int) -> tuple[str, str]:
    """A class's name and a subject's name, for a page's title ("" when not found: the service
    that reads the page's data refuses a wrong id)."""
    cls = await (
        SchoolClass.select(SchoolClass.grade, SchoolClass.letter)
        .where(SchoolClass.id == class_id)
        .first()
    )
    subject = await Subject.select(Subject.name).where(Subject.id == subject_id).first()
    return (
        class_name(cls["grade"], cls["letter"]) if cls else "",
        subject["name"] if subject else "",
    )


async def _check_card_reader(actor: Actor, student_id: int) -> None:
    principal = actor.principal
    if principal is None:
        return
    target = await movement.student_target(student_id)
    if not any(principal.allows(p, target) for p in READ):
        raise NotFound()
    if principal.allows(Permission.JOURNAL_MANAGE, target):
        return
    classes = set(target.class_ids)
    if any(
        g.role is Role.CLASS_TEACHER and g.scope_kind is ScopeKind.CLASS and g.scope_id in classes
        for g in principal.live_grants()
    ):
        return
    assert target.school_id is not None
    for class_id in sorted(classes):
        if await teaches_class(principal.user_id, target.school_id, class_id):
            return
    raise NotFound()


async def pupil_card(
    actor: Actor,
    student_id: int,
    period_id: int | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
) -> PupilCard:
    await _check_card_reader(actor, student_id)
    pupil = await (
        Student.select(Student.id, Student.last_name, Student.first_name, Student.school)
        .where(Student.id == student_id)
        .first()
    )
    if pupil is None:
        raise NotFound()
    today = await movement.pupil_today(student_id)
    class_id = await movement.class_on(student_id, today)
    if class_id is None:
        class_id = next(iter(sorted(await movement.classes_from(student_id, today))), None)
    cls = (
        await SchoolClass.select(SchoolClass.grade, SchoolClass.letter)
        .where(SchoolClass.id == class_id)
        .first()
        if class_id is not None
        else None
    )
    periods = await class_periods(class_id) if class_id is not None else []
    if period_id is not None:
        chosen = next((p for p in periods if p.id == period_id), None)
        if chosen is None:
            raise ValidationFailed(key="journal.period_not_found")
        start, end = chosen.starts_on, chosen.ends_on
    elif date_from is None and date_to is None:
        current = next((p for p in periods if p.starts_on <= today <= p.ends_on), None)
        if current is not None:
            period_id, start, end = current.id, current.starts_on, current.ends_on
        else:
            start, end = today - timedelta(days=90), today
    else:
        start, end = date_from or (date_to or today) - timedelta(days=90), date_to or today
    if start > end:
        raise ValidationFailed(key="reports.range_invalid")
    marks = (
        await Mark.select(
            Mark.subject,
            Mark.value,
            Mark.points,
            Mark.weight,
            Mark.lesson_date,
            Mark.work_kind.name,
        )
        .where(
            (Mark.student == student_id)
            & (Mark.lesson_date >= start)
            & (Mark.lesson_date <= end)
            & Mark.deleted_at.is_null()
        )
        .order_by(Mark.lesson_date)
    )
    finals = await FinalMark.select(
        FinalMark.subject, FinalMark.kind, FinalMark.study_period, FinalMark.value
    ).where(
        (FinalMark.student == student_id)
        & (
            (FinalMark.kind != "period")
            | (FinalMark.study_period == (period_id if period_id is not None else -1))
        )
    )
    registers = await AttendanceRecord.select(
        AttendanceRecord.lesson.subject.as_alias("subject"), AttendanceRecord.status
    ).where(
        (AttendanceRecord.student == student_id)
        & (AttendanceRecord.lesson_date >= start)
        & (AttendanceRecord.lesson_date <= end)
    )
    subject_ids = (
        {m["subject"] for m in marks}
        | {f["subject"] for f in finals}
        | {r["subject"] for r in registers}
    )
    names = {
        r["id"]: r["name"]
        for r in (
            await Subject.select(Subject.id, Subject.name).where(
                Subject.id.is_in(sorted(subject_ids))
            )
            if subject_ids
            else []
        )
    }
    subjects = {s: CardSubject(s, names.get(s, "")) for s in subject_ids}
    for m in marks:
        subjects[m["subject"]].marks.append(
            CardMark(m["value"], m["lesson_date"], m["work_kind.name"] or "", m["weight"])
        )
    for f in finals:
        subjects[f["subject"]].finals[f["kind"]] = f["value"]
    totals: dict[str, int] = dict.fromkeys(ABSENCES, 0)
    for r in registers:
        subject = subjects[r["subject"]]
        subject.lessons += 1
        if r["status"] in ABSENCES:
            subject.absences[r["status"]] = subject.absences.get(r["status"], 0) + 1
            totals[r["status"]] += 1
    points = {s: [(m["points"], m["weight"]) for m in marks if m["subject"] == s] for s in subjects}
    for s, subject in subjects.items():
        subject.average = plain_average([p for p, _ in points[s]])
        subject.weighted_average = weighted_average(points[s])
    await record(
        actor,
        AuditAction.READ_DIARY,
        object_type="pupil_card",
        object_id=student_id,
        school_id=pupil["school"],
        student_id=student_id,
    )
    return PupilCard(
        student_id=student_id,
        name=f"{pupil['last_name']} {pupil['first_name']}",
        class_id=class_id,
        class_name=class_name(cls["grade"], cls["letter"]) if cls else "",
        date_from=start,
        date_to=end,
        period_id=period_id,
        periods=periods,
        subjects=sorted(subjects.values(), key=lambda s: (s.name, s.id)),
        absences=totals,
        lessons=len(registers),
    )
