"""Use cases of the journal besides quick marking: the teacher's lesson sheet, a mark's
history, final marks, work kinds and homework attachments."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from backend.accounts.services import AccountsService, live_grants
from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.core.forms import FILE_PART, clean_text
from backend.core.rights import Permission, Role, ScopeTarget
from backend.core.storage import Storage
from backend.events.kinds import FINAL_MARK_SET
from backend.events.services import emit
from backend.i18n import t
from backend.journal import file_types, schemas
from backend.journal.diary import check_diary_reader
from backend.journal.lessons import (
    LessonContext,
    PeriodClosed,
    check_can_write,
    check_reads_final_sheet,
    check_reads_lesson,
    load_lesson,
    pupils_of,
    students_of_class,
    teaches_class,
    week_start,
)
from backend.journal.scales import scale_for, weighted_average
from backend.journal.tables import (
    Attachment,
    AttendanceRecord,
    FinalMark,
    Homework,
    JournalChange,
    LessonRecord,
    Mark,
)
from backend.journal.weeks import DiaryWeeks, bump_weeks
from backend.journal.work_kinds import work_kinds_of
from backend.schools.people import movement
from backend.schools.reads import (
    SchoolClass,
    Student,
    StudyPeriod,
    Subject,
)
from backend.schools.services import school_target

MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def pupil_names(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await Student.select(Student.id, Student.last_name, Student.first_name).where(
        Student.id.is_in(ids)
    )
    return {r["id"]: f"{r['last_name']} {r['first_name']}" for r in rows}


async def lesson_sheet(actor: Actor, lesson_id: int) -> schemas.LessonSheet:
    ctx = await load_lesson(lesson_id)
    await check_reads_lesson(actor, ctx)
    pupils = await pupils_of(ctx)
    names = await pupil_names(pupils)
    kinds = await work_kinds_of(ctx.school_id)
    code_of = {k.id: k.code for k in kinds.values()}
    attendance = await AttendanceRecord.select().where(AttendanceRecord.lesson == lesson_id)
    marks = await Mark.select().where((Mark.lesson == lesson_id) & Mark.deleted_at.is_null())
    homework = await Homework.select().where(
        (Homework.lesson == lesson_id) & Homework.deleted_at.is_null()
    )
    record_ = (
        await LessonRecord.select(LessonRecord.attendance_taken_at)
        .where(LessonRecord.lesson == lesson_id)
        .first()
    )
    try:
        scale: str | None = scale_for(ctx.school_settings, ctx.grade, ctx.subject_id).code
    except ValidationFailed:
        scale = None
    return schemas.LessonSheet(
        id=ctx.id,
        date=ctx.date,
        lesson_number=ctx.lesson_number,
        subject_id=ctx.subject_id,
        subject=ctx.subject_name,
        class_id=ctx.class_id,
        group_id=ctx.group_id,
        status=ctx.status,
        topic=ctx.topic,
        version=ctx.version,
        scale=scale,
        pupils=[schemas.PupilOut(id=p, name=names.get(p, "")) for p in pupils],
        attendance=[
            schemas.AttendanceOut(
                id=a["id"],
                student_id=a["student"],
                status=a["status"],
                late_minutes=a["late_minutes"],
                reason=a["reason"],
                source=a["source"],
                version=a["version"],
            )
            for a in attendance
        ],
        marks=[
            schemas.MarkOut(
                id=m["id"],
                student_id=m["student"],
                value=m["value"],
                points=m["points"],
                scale=m["scale"],
                work_kind=code_of.get(m["work_kind"], ""),
                weight=m["weight"],
                comment=m["comment"],
                version=m["version"],
                client_id=m["client_id"],
            )
            for m in marks
        ],
        homework=[
            schemas.HomeworkOut(
                id=h["id"],
                text=h["text"],
                due_date=h["due_date"],
                due_lesson_id=h["due_lesson"],
                attachments=_json(h["attachments"]) or [],
                version=h["version"],
            )
            for h in homework
        ],
        attendance_taken=bool(record_ and record_["attendance_taken_at"]),
    )


async def mark_history(actor: Actor, mark_id: int) -> schemas.MarkHistory:
    """Every change of one mark: staff of the lesson and the pupil's family may see it."""
    mark = await Mark.select(Mark.id, Mark.student, Mark.lesson).where(Mark.id == mark_id).first()
    if mark is None:
        raise NotFound()
    ctx = await load_lesson(mark["lesson"])
    principal = actor.principal
    staff = principal is None or any(
        principal.allows(p, ctx.target)
        for p in (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
    )
    if staff:
        try:
            await check_reads_lesson(actor, ctx)
        except NotFound:
            staff = False  # a teacher of another class may still be the pupil's family
    if not staff:
        await check_diary_reader(actor, mark["student"])
    rows = (
        await JournalChange.select()
        .where((JournalChange.entity == "mark") & (JournalChange.entity_id == mark_id))
        .order_by(JournalChange.id)
    )
    kind_names = {k.code: k.name for k in (await work_kinds_of(ctx.school_id)).values()}
    who = await changed_by({(r["changed_by"], r["source"]) for r in rows})
    return schemas.MarkHistory(
        mark_id=mark_id,
        student_id=mark["student"],
        changes=[
            schemas.ChangeOut(
                action=r["action"],
                at=r["changed_at"],
                by=who[(r["changed_by"], r["source"])],
                source=r["source"],
                old=_named_kind(_json(r["old"]), kind_names),
                new=_named_kind(_json(r["new"]), kind_names),
            )
            for r in rows
        ],
    )


def _named_kind(values: dict[str, Any] | None, names: dict[str, str]) -> dict[str, Any] | None:
    if not values or "work_kind" not in values:
        return values
    code = values["work_kind"]
    return {**values, "work_kind": names.get(code, code)}


# The role a change is shown under: the lesson's teacher wrote it ("teacher"), else the writer's
# most senior staff role (office corrections).
_OFFICE_ROLES = (
    Role.SCHOOL_COORDINATOR,
    Role.SYSTEM_ADMIN,
    Role.SCHOOL_ADMIN,
    Role.SECRETARY,
    Role.CLASS_TEACHER,
    Role.TEACHER,
)


async def changed_by(pairs: set[tuple[int | None, str]]) -> dict[tuple[int | None, str], Any]:
    """Who made each change, by (user, source), as the history and the sync's conflicts show it."""
    names = await AccountsService.display_names({u for u, _ in pairs if u})
    out: dict[tuple[int | None, str], Any] = {}
    for user_id, source in pairs:
        if not user_id:
            who = "journal.turnstile" if source == "turnstile" else "journal.system"
            out[(user_id, source)] = schemas.ChangedBy(name=t(who), role="")
            continue
        if source == "teacher":
            role = Role.TEACHER
        else:
            held = {g.role for g in await live_grants(user_id)}
            role = next((r for r in _OFFICE_ROLES if r in held), Role.SCHOOL_COORDINATOR)
        out[(user_id, source)] = schemas.ChangedBy(
            name=names.get(user_id) or t("reports.no_name", user_id=user_id),
            role=t(f"role.{role.value}"),
        )
    return out


async def names_of_users(ids: set[int]) -> dict[int, str]:
    return await AccountsService.display_names(ids)


# ---- final marks -----------------------------------------------------------------------------


async def _class_context(actor: Actor, class_id: int, subject_id: int) -> dict[str, Any]:
    row = (
        await SchoolClass.select(
            SchoolClass.id,
            SchoolClass.school,
            SchoolClass.grade,
            SchoolClass.academic_year,
            SchoolClass.school.settings,
        )
        .where(SchoolClass.id == class_id)
        .first()
    )
    subject = await Subject.select(Subject.school).where(Subject.id == subject_id).first()
    if row is None or subject is None or subject["school"] != row["school"]:
        raise NotFound()
    target = await school_target(row["school"])
    target = ScopeTarget(
        region_id=target.region_id,
        municipality_id=target.municipality_id,
        school_id=target.school_id,
        class_id=class_id,
        class_ids=frozenset({class_id}),
    )
    if actor.principal is not None and not any(
        actor.principal.allows(p, target)
        for p in (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
    ):
        raise NotFound()
    return {**row, "target": target, "settings": _json(row["school.settings"]) or {}}


class NotYourClass(Forbidden):
    code = "not_your_class"
    message_key = "journal.not_your_class"


async def _period(
    kind: str, study_period_id: int | None, academic_year: int, grade: int | None = None
) -> dict[str, Any] | None:
    """The study period of a period mark: of the class's year, and applying to its grade."""
    if kind != "period":
        return None
    if study_period_id is None:
        raise ValidationFailed(key="journal.final_kind_period_required")
    period = (
        await StudyPeriod.select()
        .where((StudyPeriod.id == study_period_id) & (StudyPeriod.academic_year == academic_year))
        .first()
    )
    if period is None:
        raise ValidationFailed(key="journal.period_not_found")
    grades = _json(period["grades"]) or []
    if grade is not None and grades and grade not in grades:
        raise ValidationFailed(key="journal.period_not_for_grade", name=period["name"], grade=grade)
    return period


async def _proposals(
    students: list[int], subject_id: int, kind: str, period: dict[str, Any] | None, year: int
) -> dict[int, float | None]:
    """The weighted average each proposal rests on: the period's marks for a period mark; the
    period marks' average for the year mark (the marks' own average if none is set yet)."""
    if not students:
        return {}
    where = Mark.student.is_in(students) & (Mark.subject == subject_id) & Mark.deleted_at.is_null()
    if period is not None:
        where &= (Mark.lesson_date >= period["starts_on"]) & (Mark.lesson_date <= period["ends_on"])
    else:
        finals = await FinalMark.select(FinalMark.student, FinalMark.points).where(
            FinalMark.student.is_in(students)
            & (FinalMark.subject == subject_id)
            & (FinalMark.academic_year == year)
            & (FinalMark.kind == "period")
        )
        by_student: dict[int, list[tuple[float | None, int]]] = {}
        for f in finals:
            by_student.setdefault(f["student"], []).append((f["points"], 1))
        if by_student and kind == "year":
            return {s: weighted_average(by_student.get(s, [])) for s in students}
    marks = await Mark.select(Mark.student, Mark.points, Mark.weight).where(where)
    items: dict[int, list[tuple[float | None, int]]] = {}
    for m in marks:
        items.setdefault(m["student"], []).append((m["points"], m["weight"]))
    return {s: weighted_average(items.get(s, [])) for s in students}


async def final_mark_sheet(
    actor: Actor, class_id: int, subject_id: int, kind: str, study_period_id: int | None
) -> schemas.FinalMarkSheet:
    cls = await _class_context(actor, class_id, subject_id)
    await check_reads_final_sheet(actor, cls["target"], class_id, subject_id)
    period = await _period(kind, study_period_id, cls["academic_year"], cls["grade"])
    on = period["ends_on"] if period else await movement.school_today(cls["school"])
    students = await students_of_class(class_id, on)
    names = await pupil_names(students)
    scale = scale_for(cls["settings"], cls["grade"], subject_id)
    averages = await _proposals(students, subject_id, kind, period, cls["academic_year"])
    existing = await FinalMark.select().where(
        FinalMark.student.is_in(students or [-1])
        & (FinalMark.subject == subject_id)
        & (FinalMark.kind == kind)
        & (FinalMark.study_period == (study_period_id or 0))
        & (FinalMark.academic_year == cls["academic_year"])
    )
    by_student = {f["student"]: f for f in existing}
    threshold = float(cls["settings"].get("final_mark_rounding", 0.5))
    rows = []
    for s in sorted(students, key=lambda s: names.get(s, "")):
        avg = averages.get(s)
        current = by_student.get(s)
        rows.append(
            schemas.FinalMarkRow(
                student_id=s,
                name=names.get(s, ""),
                weighted_average=avg,
                proposed=scale.symbol_for(avg, threshold) if avg is not None else "",
                value=current["value"] if current else None,
                version=current["version"] if current else None,
            )
        )
    return schemas.FinalMarkSheet(
        class_id=class_id,
        subject_id=subject_id,
        kind=kind,
        study_period_id=study_period_id,
        rows=rows,
    )


async def set_final_mark(
    actor: Actor, class_id: int, data: schemas.FinalMarkIn, weeks: DiaryWeeks | None
) -> schemas.FinalMarkOut:
    """Confirm the proposed final mark or override it. Teachers of the class and subject, and
    coordinators; a closed period is locked; a stale `base_version` is refused (409)."""
    cls = await _class_context(actor, class_id, data.subject_id)
    principal = actor.principal
    if principal is not None and not principal.allows(Permission.JOURNAL_MANAGE, cls["target"]):
        # A teacher only for a subject they teach to this class (decision 0351).
        if not principal.allows(Permission.JOURNAL_WRITE, cls["target"]):
            raise Forbidden()
        if not await teaches_class(principal.user_id, cls["school"], class_id, data.subject_id):
            raise NotYourClass()
    period = await _period(data.kind, data.study_period_id, cls["academic_year"], cls["grade"])
    if period is not None and period["closed_at"] is not None:
        raise PeriodClosed()
    on = period["ends_on"] if period else await movement.school_today(cls["school"])
    if data.student_id not in await students_of_class(class_id, on):
        raise ValidationFailed(key="journal.student_not_in_lesson", student_id=data.student_id)
    scale = scale_for(cls["settings"], cls["grade"], data.subject_id)
    points = scale.points(data.value)
    averages = await _proposals(
        [data.student_id], data.subject_id, data.kind, period, cls["academic_year"]
    )
    avg = averages.get(data.student_id)
    threshold = float(cls["settings"].get("final_mark_rounding", 0.5))
    proposed = scale.symbol_for(avg, threshold) if avg is not None else ""
    now = datetime.now(UTC)
    period_key = data.study_period_id if data.kind == "period" else 0
    async with transaction():
        current = (
            await FinalMark.select()
            .where(
                (FinalMark.student == data.student_id)
                & (FinalMark.subject == data.subject_id)
                & (FinalMark.academic_year == cls["academic_year"])
                & (FinalMark.kind == data.kind)
                & (FinalMark.study_period == period_key)
            )
            .first()
        )
        new = {"value": data.value, "proposed": proposed, "weighted_average": avg}
        if current is None:
            if data.base_version not in (None, 0):
                raise ValidationFailed(key="journal.final_mark_stale")
            rows = await FinalMark.insert(
                FinalMark(
                    student=data.student_id,
                    subject=data.subject_id,
                    school=cls["school"],
                    academic_year=cls["academic_year"],
                    kind=data.kind,
                    study_period=period_key,
                    scale=scale.code,
                    value=data.value,
                    points=points,
                    proposed_value=proposed,
                    weighted_average=avg,
                    version=1,
                    confirmed_by=actor.user_id,
                    updated_at=now,
                )
            ).returning(FinalMark.id)
            mark_id, version, old = rows[0]["id"], 1, None
        else:
            if data.base_version is not None and data.base_version != current["version"]:
                raise Conflict(
                    key="journal.final_mark_stale",
                    details={"server": {"value": current["value"], "version": current["version"]}},
                )
            mark_id, version = current["id"], current["version"] + 1
            old = {"value": current["value"]}
            await FinalMark.update(
                {
                    FinalMark.value: data.value,
                    FinalMark.points: points,
                    FinalMark.proposed_value: proposed,
                    FinalMark.weighted_average: avg,
                    FinalMark.version: version,
                    FinalMark.confirmed_by: actor.user_id,
                    FinalMark.updated_at: now,
                }
            ).where(FinalMark.id == mark_id)
        await JournalChange.insert(
            JournalChange(
                entity="final_mark",
                entity_id=mark_id,
                student_id=data.student_id,
                school_id=cls["school"],
                action="create" if old is None else "update",
                old=old,
                new=new,
                source="teacher",
                changed_by=actor.user_id,
                changed_at=now,
            )
        )
        subject = await Subject.select(Subject.name).where(Subject.id == data.subject_id).first()
        await emit(
            FINAL_MARK_SET,
            {
                "student_id": data.student_id,
                "subject_id": data.subject_id,
                "subject": subject["name"] if subject else "",
                "kind": data.kind,
                "study_period_id": data.study_period_id,
                # What the family reads: «2-я четверть», «годовая», «экзаменационная»...
                "period": period["name"] if period else t(f"journal.final_kind.{data.kind}"),
                "value": data.value,
            },
            school_id=cls["school"],
            student_id=data.student_id,
        )
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="final_mark",
            object_id=mark_id,
            school_id=cls["school"],
            student_id=data.student_id,
            details=new,
        )
        versions = await bump_weeks([(data.student_id, week_start(now.date()))])
    if weeks is not None:
        weeks.announce(versions)
    return schemas.FinalMarkOut(
        id=mark_id,
        student_id=data.student_id,
        subject_id=data.subject_id,
        kind=data.kind,
        study_period_id=data.study_period_id,
        value=data.value,
        proposed=proposed,
        weighted_average=avg,
        version=version,
    )


# ---- attachments -----------------------------------------------------------------------------


async def upload_attachment(
    actor: Actor,
    lesson_id: int,
    file_name: str,
    data: bytes,
    storage: Storage,
) -> schemas.AttachmentOut:
    """Store a file for a homework of this lesson; the homework operation then names its id.
    Only the kinds of file in `file_types` are taken; the type it is served as follows from its
    name, not from what the uploader claimed."""
    file_name = clean_text(file_name, field=FILE_PART)  # "\u202e" could disguise a suffix
    ctx: LessonContext = await load_lesson(lesson_id)
    await check_can_write(actor, ctx)
    if not data:
        raise ValidationFailed(key="journal.file_empty")
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationFailed(key="journal.file_too_large", limit=MAX_ATTACHMENT_BYTES // 2**20)
    served_as = file_types.file_type(file_name)
    if served_as is None:
        raise ValidationFailed(
            key="journal.file_type_refused",
            name=file_name[:100],
            allowed=file_types.allowed_list(),
        )
    if file_types.looks_like_program(data):
        raise ValidationFailed(key="journal.file_is_program", name=file_name[:100])
    if not file_types.matches_name(file_name, data):
        message = t(
            "journal.file_content_mismatch",
            name=file_name[:100],
            kind=file_types.kind_name(file_types.extension(file_name)),
        )
        raise ValidationFailed(message, details=[{"field": FILE_PART, "message": message}])
    key = await storage.save(data, suffix=file_types.extension(file_name))
    async with transaction():
        rows = await Attachment.insert(
            Attachment(
                school=ctx.school_id,
                storage_key=key,
                file_name=file_name[:255],
                content_type=served_as,
                size=len(data),
                uploaded_by=actor.user_id,
                created_at=datetime.now(UTC),
            )
        ).returning(Attachment.id)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="attachment",
            object_id=rows[0]["id"],
            school_id=ctx.school_id,
            details={"file_name": file_name[:100], "size": len(data)},
        )
    return schemas.AttachmentOut(
        id=rows[0]["id"], file_name=file_name[:255], content_type=served_as, size=len(data)
    )


async def download_attachment(
    actor: Actor, attachment_id: int, storage: Storage
) -> tuple[dict[str, Any], bytes]:
    row = await Attachment.select().where(Attachment.id == attachment_id).first()
    if row is None or row["homework"] is None:
        raise NotFound()
    hw = await Homework.select(Homework.lesson).where(Homework.id == row["homework"]).first()
    if hw is None:
        raise NotFound()
    ctx = await load_lesson(hw["lesson"])
    principal = actor.principal
    if principal is not None and not any(
        principal.allows(p, ctx.target)
        for p in (Permission.JOURNAL_READ, Permission.JOURNAL_WRITE, Permission.JOURNAL_MANAGE)
    ):
        pupils = set(await pupils_of(ctx))
        if not any(
            principal.allows(Permission.DIARY_READ, ScopeTarget(student_id=s)) for s in pupils
        ):
            raise NotFound()
    return row, await storage.load(row["storage_key"])
