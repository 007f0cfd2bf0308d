"""What the journal needs to know about a lesson: where it sits, who teaches it, its pupils,
and whether it may be written now (teacher scope, marking window, closed period).

The pupils of a class on a date come from the book of movement
(`backend.schools.people.movement.students_of_class`); pupils of a study group from its membership
rows (the structure issue has no service for them yet, so they are read here, in one place).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from backend.core.context import Actor
from backend.core.days import today_in
from backend.core.errors import Conflict, Forbidden, NotFound
from backend.core.rights import Permission, Principal, Role, ScopeKind, ScopeTarget
from backend.schools.people import movement
from backend.schools.reads import (
    Lesson,
    Staff,
    StudyGroup,
    StudyGroupMember,
    StudyPeriod,
    TeachingAssignment,
)

DEFAULT_MARKING_WINDOW_DAYS = 14


class NotYourLesson(Forbidden):
    code = "not_your_lesson"
    message_key = "journal.not_your_lesson"


class MarkingWindowPassed(Forbidden):
    code = "marking_window_passed"
    message_key = "journal.window_passed"


class PeriodClosed(Conflict):
    code = "period_closed"
    message_key = "journal.period_closed"


@dataclass(frozen=True, slots=True)
class LessonContext:
    id: int
    school_id: int
    date: dt.date
    lesson_number: int
    class_id: int | None
    group_id: int | None
    subject_id: int
    subject_name: str
    teacher_id: int
    replacement_teacher_id: int | None
    status: str
    topic: str
    version: int
    grade: int | None
    academic_year_id: int | None
    school_settings: dict[str, Any]
    time_zone: str
    region_id: int
    municipality_id: int
    class_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def target(self) -> ScopeTarget:
        return ScopeTarget(
            region_id=self.region_id,
            municipality_id=self.municipality_id,
            school_id=self.school_id,
            class_id=self.class_id,
            class_ids=self.class_ids,
        )

    def today(self) -> dt.date:
        return today_in(self.time_zone)

    @property
    def marking_window_days(self) -> int:
        value = self.school_settings.get("marking_window_days", DEFAULT_MARKING_WINDOW_DAYS)
        return int(value) if isinstance(value, int | float | str) else DEFAULT_MARKING_WINDOW_DAYS


_LESSON_SQL = """
SELECT l."id", l."school", l."date", l."lesson_number", l."school_class", l."study_group",
       l."subject", subj."name" AS subject_name, l."teacher", l."replacement_teacher",
       l."status", l."topic", l."version", sch."settings", sch."time_zone",
       sch."municipality", m."region",
       coalesce(c."id", gc."id") AS class_id, coalesce(c."grade", gc."grade") AS grade,
       coalesce(c."academic_year", g."academic_year") AS academic_year
FROM "lesson" l
JOIN "subject" subj ON subj."id" = l."subject"
JOIN "school" sch ON sch."id" = l."school"
JOIN "municipality" m ON m."id" = sch."municipality"
LEFT JOIN "school_class" c ON c."id" = l."school_class"
LEFT JOIN "study_group" g ON g."id" = l."study_group"
LEFT JOIN "school_class" gc ON gc."id" = g."school_class"
WHERE l."id" = {}
"""


async def lesson_spans(lesson_ids: Sequence[int]) -> dict[int, tuple[date, date]]:
    """The first and last date of these lessons, per school (a few statements for thousands)."""
    spans: dict[int, tuple[date, date]] = {}
    ids = list(lesson_ids)
    for start in range(0, len(ids), 2000):  # bound the statement's parameters
        rows = await Lesson.select(Lesson.school, Lesson.date).where(
            Lesson.id.is_in(ids[start : start + 2000])
        )
        for row in rows:
            day = row["date"]
            if isinstance(day, str):
                day = dt.date.fromisoformat(day)
            first, last = spans.get(row["school"], (day, day))
            spans[row["school"]] = (min(first, day), max(last, day))
    return spans


async def load_lesson(lesson_id: int) -> LessonContext:
    """One query (written out: Piccolo's join builder costs more than the query itself)."""
    rows = await Lesson.raw(_LESSON_SQL, lesson_id)
    if not rows:
        raise NotFound()
    row = rows[0]
    settings = row["settings"]
    if isinstance(settings, str):
        settings = json.loads(settings or "{}")
    day = row["date"]
    if isinstance(day, str):
        day = dt.date.fromisoformat(day)
    class_id = row["class_id"]
    return LessonContext(
        id=row["id"],
        school_id=row["school"],
        date=day,
        lesson_number=row["lesson_number"],
        class_id=class_id,
        group_id=row["study_group"],
        subject_id=row["subject"],
        subject_name=row["subject_name"],
        teacher_id=row["teacher"],
        replacement_teacher_id=row["replacement_teacher"],
        status=row["status"],
        topic=row["topic"] or "",
        version=row["version"],
        grade=row["grade"],
        academic_year_id=row["academic_year"],
        school_settings=settings or {},
        time_zone=row["time_zone"],
        region_id=row["region"],
        municipality_id=row["municipality"],
        class_ids=frozenset({class_id}) if class_id else frozenset(),
    )


def can_read(actor: Actor, ctx: LessonContext) -> None:
    """Staff who may read or write this lesson's journal; anyone else gets 404."""
    principal = actor.principal
    if principal is None:
        return
    if not any(
        principal.allows(p, ctx.target)
        for p in (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
    ):
        raise NotFound()


async def check_reads_lesson(actor: Actor, ctx: LessonContext) -> None:
    """Who reads a lesson's journal with its marks and attendance (decision 0352): the
    coordinator (`journal.manage`), the lesson's teacher or replacement, a teacher of its class
    or group, and the class teacher of its class. Anyone else gets 404."""
    can_read(actor, ctx)
    principal = actor.principal
    if principal is None or principal.allows(Permission.JOURNAL_MANAGE, ctx.target):
        return
    if ctx.class_id is not None and is_class_teacher(principal, ctx.class_id):
        return
    if await is_lesson_teacher(actor, ctx):
        return
    if ctx.class_id is not None and await teaches_class(
        principal.user_id, ctx.school_id, ctx.class_id
    ):
        return
    if ctx.group_id is not None and await teaches_group(
        principal.user_id, ctx.school_id, ctx.group_id
    ):
        return
    raise NotFound()


def is_class_teacher(principal: Principal, class_id: int) -> bool:
    """Does the principal hold a live class-teacher grant for this class?"""
    return any(
        g.role is Role.CLASS_TEACHER and g.scope_kind is ScopeKind.CLASS and g.scope_id == class_id
        for g in principal.live_grants()
    )


class NotYourFinalSheet(Forbidden):
    code = "not_your_class"
    message_key = "journal.final_sheet_not_yours"


async def check_reads_final_sheet(
    actor: Actor, target: ScopeTarget, class_id: int, subject_id: int
) -> None:
    """Who reads a class's final marks in a subject (decisions 0351, 0352, 0355): the
    coordinator (`journal.manage`), the class teacher of the class, and who teaches the subject
    to the class. Another reader of the school's journal gets 403 with no details (the caller
    has already answered 404 to anyone outside the class's scope)."""
    principal = actor.principal
    if principal is None or principal.allows(Permission.JOURNAL_MANAGE, target):
        return
    if is_class_teacher(principal, class_id):
        return
    if target.school_id is not None and await teaches_class(
        principal.user_id, target.school_id, class_id, subject_id
    ):
        return
    raise NotYourFinalSheet()


async def teaches_group(user_id: int, school_id: int, group_id: int) -> bool:
    mine = list(await staff_ids_of(user_id, school_id))
    if not mine:
        return False
    ta = TeachingAssignment
    return bool(
        await ta.exists().where(ta.teacher.is_in(mine) & (ta.study_group == group_id))
    ) or bool(
        await Lesson.exists().where(
            (Lesson.teacher.is_in(mine) | Lesson.replacement_teacher.is_in(mine))
            & (Lesson.study_group == group_id)
        )
    )


async def staff_ids_of(user_id: int, school_id: int) -> set[int]:
    rows = await Staff.select(Staff.id).where(
        (Staff.user_id == user_id) & (Staff.school == school_id)
    )
    return {r["id"] for r in rows}


async def is_lesson_teacher(actor: Actor, ctx: LessonContext) -> bool:
    if actor.principal is None:
        return False
    mine = await staff_ids_of(actor.principal.user_id, ctx.school_id)
    return ctx.teacher_id in mine or (ctx.replacement_teacher_id in mine)


async def teaches_class(
    user_id: int, school_id: int, class_id: int, subject_id: int | None = None
) -> bool:
    """Does this user teach the class (in `subject_id`, when given)? A teaching assignment to
    the class or one of its groups, or a lesson of the class they teach or replace in."""
    mine = await staff_ids_of(user_id, school_id)
    if not mine:
        return False
    groups = [
        r["id"]
        for r in await StudyGroup.select(StudyGroup.id).where(StudyGroup.school_class == class_id)
    ]
    ta = TeachingAssignment
    where = ta.teacher.is_in(list(mine)) & (
        (ta.school_class == class_id) | ta.study_group.is_in(groups or [-1])
    )
    if subject_id is not None:
        where &= ta.subject == subject_id
    if await ta.exists().where(where):
        return True
    where = (Lesson.teacher.is_in(list(mine)) | Lesson.replacement_teacher.is_in(list(mine))) & (
        (Lesson.school_class == class_id) | Lesson.study_group.is_in(groups or [-1])
    )
    if subject_id is not None:
        where &= Lesson.subject == subject_id
    return bool(await Lesson.exists().where(where))


async def check_can_write(actor: Actor, ctx: LessonContext) -> tuple[bool, bool]:
    """Refuse a write the rules forbid. Answers (manager, teacher): whether the writer holds
    JOURNAL_MANAGE here (a coordinator: past the window; an office correction unless they
    also teach the lesson) and whether they teach or replace on this lesson."""
    principal = actor.principal
    manager = principal is None or principal.allows(Permission.JOURNAL_MANAGE, ctx.target)
    teacher = await is_lesson_teacher(actor, ctx)
    if not manager:
        can_read(actor, ctx)
        assert principal is not None
        if not principal.allows(Permission.JOURNAL_WRITE, ctx.target):
            raise Forbidden()
        if not teacher:
            raise NotYourLesson()
    if await period_closed(ctx):
        raise PeriodClosed()
    if not manager and ctx.date < ctx.today() - timedelta(days=ctx.marking_window_days):
        raise MarkingWindowPassed(days=ctx.marking_window_days)
    return manager, teacher


async def period_closed(ctx: LessonContext) -> bool:
    if ctx.academic_year_id is None:
        return False
    rows = await StudyPeriod.select(StudyPeriod.grades, StudyPeriod.closed_at).where(
        (StudyPeriod.academic_year == ctx.academic_year_id)
        & (StudyPeriod.starts_on <= ctx.date)
        & (StudyPeriod.ends_on >= ctx.date)
    )
    for row in rows:
        grades = row["grades"]
        if isinstance(grades, str):
            grades = json.loads(grades or "[]")
        applies = not grades or ctx.grade is None or ctx.grade in grades
        if applies and row["closed_at"] is not None:
            return True
    return False


async def pupils_of(ctx: LessonContext) -> list[int]:
    """The pupils of the lesson's class or group on its date."""
    return await pupils_on(ctx.class_id, ctx.group_id, ctx.date)


async def pupils_on(class_id: int | None, group_id: int | None, day: date) -> list[int]:
    """The pupils of a class's or a group's lesson on `day` (the group decides when given)."""
    if group_id is not None:
        rows = await StudyGroupMember.select(StudyGroupMember.student).where(
            (StudyGroupMember.group == group_id)
            & (StudyGroupMember.valid_from <= day)
            & (StudyGroupMember.valid_to.is_null() | (StudyGroupMember.valid_to >= day))
        )
        return sorted({r["student"] for r in rows})
    if class_id is None:
        return []
    return await students_of_class(class_id, day)


async def students_of_class(class_id: int, on: date) -> list[int]:
    return [pupil.id for pupil in await movement.students_of_class(class_id, on)]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())
