# Over 600 lines: every kind of operation shares one batch written in one transaction.
"""Quick marking: one call saves a whole lesson (attendance, marks, topic, homework, remarks).

It is also the sync endpoint of the offline tablet app. Every operation carries a client id
(a repeat returns the stored result and changes nothing) and the version it was based on (a
cell changed since then is reported back as a conflict with both values; the rest of the batch
still applies). One transaction per call; the lesson `version` grows by one per call that
changed anything. Invalid input refuses the whole call, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from piccolo.engine.postgres import PostgresEngine

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import current_engine, transaction
from backend.core.errors import Conflict, ValidationFailed
from backend.events.kinds import (
    ATTENDANCE_ABSENT,
    ATTENDANCE_CHANGED,
    ATTENDANCE_LATE,
    HOMEWORK_CHANGED,
    HOMEWORK_CREATED,
    MARK_CHANGED,
    MARK_CREATED,
    MARK_DELETED,
    REMARK_CREATED,
)
from backend.events.services import emit_many
from backend.journal.bulk import insert_rows
from backend.journal.lessons import (
    LessonContext,
    check_can_write,
    load_lesson,
    pupils_of,
    week_start,
)
from backend.journal.scales import GradingScale, scale_for
from backend.journal.schemas import OpResult, SyncOp, SyncRequest, SyncResponse
from backend.journal.services import changed_by
from backend.journal.tables import (
    Attachment,
    AttendanceRecord,
    Homework,
    JournalChange,
    LessonRecord,
    Mark,
    Remark,
    SyncOperation,
)
from backend.journal.weeks import DiaryWeeks, bump_weeks
from backend.journal.work_kinds import Kind, work_kinds_of
from backend.schools.reads import Lesson, LessonPlan
from backend.schools.timetable import services as timetable

ABSENCES = ("absent", "sick", "excused")
TURNSTILE = "turnstile"  # the source of presence marked from the entry log


class OpIdTaken(Conflict):
    code = "op_id_taken"
    message_key = "journal.op_id_taken"


def _now() -> datetime:
    return datetime.now(UTC)


def _attendance_values(row: Any) -> dict[str, Any]:
    get = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
    return {
        "status": get("status"),
        "late_minutes": get("late_minutes"),
        "reason": get("reason") or "",
    }


def _mark_values(row: Any, kinds_by_id: dict[int, str]) -> dict[str, Any]:
    return {
        "value": row["value"],
        "work_kind": kinds_by_id.get(row["work_kind"], ""),
        "comment": row["comment"] or "",
        "deleted": row["deleted_at"] is not None,
    }


@dataclass
class Batch:
    """What one call is about to write, gathered before anything is written."""

    ctx: LessonContext
    actor: Actor
    source: str
    new_version: int
    now: datetime
    results: dict[str, OpResult] = field(default_factory=dict)
    changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any], int | None]] = field(default_factory=list)
    students: set[int] = field(default_factory=set)
    weeks: set[date] = field(default_factory=set)
    lesson_wide: bool = False
    lesson_changed: bool = False
    applied: int = 0
    topic: tuple[str, str] | None = None  # (topic, source) when the call sets it
    # Inserts are gathered while the operations are looked at and written together after.
    flushers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def change(
        self,
        entity: str,
        entity_id: int,
        action: str,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
        student_id: int | None = None,
    ) -> None:
        self.changes.append(
            {
                "entity": entity,
                "entity_id": entity_id,
                "action": action,
                "old": old,
                "new": new,
                "student_id": student_id,
            }
        )

    def event(self, kind: str, student_id: int | None, **payload: Any) -> None:
        base = {
            "lesson_id": self.ctx.id,
            "date": self.ctx.date.isoformat(),
            "subject_id": self.ctx.subject_id,
            "subject": self.ctx.subject_name,
        }
        self.events.append((kind, {**base, **payload, "student_id": student_id}, student_id))

    def done(self, op: SyncOp, status: str, entity: str, **kw: Any) -> None:
        self.results[op.op_id] = OpResult(op_id=op.op_id, status=status, entity=entity, **kw)
        if status == "applied":
            self.applied += 1
            self.lesson_changed = True

    def next_version(
        self,
        op: SyncOp,
        req: SyncRequest,
        entity: str,
        row: dict[str, Any],
        old: dict[str, Any],
        new: dict[str, Any],
        *,
        unchanged: bool | None = None,
        gone: bool = False,
    ) -> int | None:
        """The step every edit of an existing versioned cell takes: nothing to do when it holds
        `new` already (`unchanged`, by default `old == new`), a conflict when it is gone or
        changed after the state the client edited, else the version to write. None when the
        operation has its answer already."""
        if old == new if unchanged is None else unchanged:
            self.done(op, "unchanged", entity, id=row["id"], version=row["version"])
            return None
        if gone or _stale(row["version"], row["lesson_version"], op, req):
            self.done(
                op,
                "conflict",
                entity,
                id=row["id"],
                version=row["version"],
                server=old,
                client=new,
            )
            return None
        return int(row["version"]) + 1

    def wrote(
        self,
        op: SyncOp,
        entity: str,
        row: dict[str, Any],
        version: int,
        action: str,
        old: dict[str, Any],
        new: dict[str, Any] | None,
        student_id: int | None = None,
        **stored: Any,
    ) -> None:
        """After the cell's row was written at `version`: the copy in hand, the history, the
        operation's answer."""
        row.update(stored, version=version, lesson_version=self.new_version)
        self.change(entity, row["id"], action, old, new, student_id)
        self.done(op, "applied", entity, id=row["id"], version=version)
        if student_id is not None:
            self.students.add(student_id)


def _stale(cell_version: int, cell_lesson_version: int, op: SyncOp, req: SyncRequest) -> bool:
    """Did the cell change after the state the client edited?"""
    if op.base_version is not None:
        return cell_version != op.base_version
    if req.base_version is not None:
        return cell_lesson_version > req.base_version
    return True  # an existing cell edited blind: never overwrite silently


def _bad(op: SyncOp, key: str, **params: Any) -> ValidationFailed:
    return ValidationFailed(key=key, details={"op_id": op.op_id}, **params)


async def _lock_lesson(lesson_id: int) -> None:
    """Serialise concurrent calls on one lesson (SQLite already holds the write lock)."""
    if isinstance(current_engine(), PostgresEngine):
        await Lesson.raw('SELECT "id" FROM "lesson" WHERE "id" = {} FOR UPDATE', lesson_id)


async def sync_lesson(
    actor: Actor, lesson_id: int, req: SyncRequest, weeks: DiaryWeeks | None
) -> SyncResponse:
    ids = [op.op_id for op in req.operations]
    if len(ids) != len(set(ids)):
        raise ValidationFailed(key="journal.duplicate_op_id")
    async with transaction():
        await _lock_lesson(lesson_id)
        ctx = await load_lesson(lesson_id)
        manager, teacher = await check_can_write(actor, ctx)
        source = "office" if manager and not teacher else "teacher"
        batch = Batch(ctx, actor, source, ctx.version + 1, _now())
        # Operation ids are unique per lesson: a repeat is only ever answered from the same
        # user's earlier call on this lesson; an id another user took here is refused.
        stored = await SyncOperation.select(
            SyncOperation.client_op_id, SyncOperation.result, SyncOperation.user_id
        ).where(
            (SyncOperation.lesson_id == ctx.id) & SyncOperation.client_op_id.is_in(ids)
            if ids
            else SyncOperation.id < 0
        )
        for row in stored:
            if row["user_id"] != actor.user_id:
                raise OpIdTaken(details={"op_id": row["client_op_id"]})
            result = msgspec.convert(_json(row["result"]), OpResult)
            result.status = "repeat" if result.status != "conflict" else "conflict"
            batch.results[row["client_op_id"]] = result
        new_ops = [op for op in req.operations if op.op_id not in batch.results]
        if new_ops:
            await _apply(batch, req, new_ops, manager)
            await _name_conflicts(batch, [batch.results[op.op_id] for op in new_ops])
        versions = await _write(batch, new_ops)
    if weeks is not None:
        weeks.announce(versions)
    results = [batch.results[i] for i in ids]
    return SyncResponse(
        lesson_id=ctx.id,
        lesson_version=batch.new_version if batch.lesson_changed else ctx.version,
        applied=batch.applied,
        conflicts=sum(1 for r in results if r.status == "conflict"),
        results=results,
    )


async def _name_conflicts(batch: Batch, results: list[OpResult]) -> None:
    """Each conflict says who last changed the server's value and when (the cell's latest
    history entry), so the teacher can judge which value is right."""
    conflicts = [r for r in results if r.status == "conflict" and r.id is not None]
    if not conflicts:
        return
    rows = (
        await JournalChange.select(
            JournalChange.entity,
            JournalChange.entity_id,
            JournalChange.changed_by,
            JournalChange.source,
            JournalChange.changed_at,
        )
        .where(
            (JournalChange.lesson_id == batch.ctx.id)
            & JournalChange.entity.is_in(sorted({r.entity for r in conflicts}))
            & JournalChange.entity_id.is_in(sorted({r.id for r in conflicts if r.id}))
        )
        .order_by(JournalChange.id)
    )
    latest = {(r["entity"], r["entity_id"]): r for r in rows}
    who = await changed_by({(r["changed_by"], r["source"]) for r in latest.values()})
    for result in conflicts:
        row = latest.get((result.entity, result.id))
        if row is not None:
            result.changed_by = who[(row["changed_by"], row["source"])]
            result.changed_at = row["changed_at"]


def _json(value: Any) -> Any:
    if isinstance(value, str):
        return msgspec.json.decode(value)
    return value


async def _apply(batch: Batch, req: SyncRequest, ops: list[SyncOp], manager: bool) -> None:
    ctx = batch.ctx
    kinds = {op.kind for op in ops}
    pupils = set(await pupils_of(ctx))
    if kinds & {"attendance", "mark", "remark", "topic"} and ctx.status == "cancelled":
        raise ValidationFailed(key="journal.lesson_cancelled_write")
    if kinds & {"attendance", "mark", "remark"} and ctx.date > ctx.today():
        # Only the topic and homework may be planned ahead (the school's own date).
        raise ValidationFailed(key="journal.lesson_not_started", date=ctx.date.strftime("%d.%m.%Y"))
    for op in ops:
        update = op.kind == "mark" and (op.mark_id is not None or op.mark_client_id is not None)
        if op.kind in ("attendance", "mark", "remark") and not update:
            if op.student_id is None:
                raise _bad(op, "journal.student_required")
            if op.student_id not in pupils:
                raise _bad(op, "journal.student_not_in_lesson", student_id=op.student_id)
    scale: GradingScale | None = None
    if kinds & {"mark"}:
        scale = scale_for(ctx.school_settings, ctx.grade, ctx.subject_id)
    handlers: dict[str, Callable[..., Any]] = {}
    if "attendance" in kinds:
        handlers["attendance"] = await _attendance_handler(batch, req)
    if kinds & {"mark", "mark_delete"}:
        handlers["mark"] = handlers["mark_delete"] = await _mark_handler(batch, req, scale)
    if "topic" in kinds:
        handlers["topic"] = await _topic_handler(batch, req)
    if kinds & {"homework", "homework_delete"}:
        handlers["homework"] = handlers["homework_delete"] = await _homework_handler(batch, req)
    if "remark" in kinds:
        handlers["remark"] = _remark_handler(batch)
    for op in ops:
        await handlers[op.kind](op)


async def _attendance_handler(batch: Batch, req: SyncRequest) -> Callable[..., Any]:
    ctx = batch.ctx
    rows = await AttendanceRecord.select().where(AttendanceRecord.lesson == ctx.id)
    existing = {r["student"]: r for r in rows}
    pending: dict[int, dict[str, Any]] = {}

    async def handle(op: SyncOp) -> None:
        if op.status is None:
            raise _bad(op, "journal.status_required")
        if op.status == "late" and op.late_minutes is None:
            raise _bad(op, "journal.late_minutes_required")
        student = op.student_id
        assert student is not None
        new: dict[str, Any] = {
            "status": op.status,
            "late_minutes": op.late_minutes if op.status == "late" else None,
            "reason": op.reason or "",
        }
        row = existing.get(student)
        if row is None:
            if student in pending:
                # Two marks for the same pupil in one call: the later one wins before writing.
                pending[student].update(new)
            else:
                pending[student] = {
                    "lesson": ctx.id,
                    "student": student,
                    "school": ctx.school_id,
                    "lesson_date": ctx.date,
                    "source": batch.source,
                    "version": 1,
                    "lesson_version": batch.new_version,
                    "recorded_by": batch.actor.user_id,
                    "updated_at": batch.now,
                    **new,
                }
            batch.done(op, "applied", "attendance", version=1)
            new_ops[op.op_id] = student
            batch.students.add(student)
            _attendance_event(batch, student, None, new)
            return
        old = _attendance_values(row)
        version: int | None
        if row["source"] == TURNSTILE and batch.source != TURNSTILE:
            # The turnstile's mark is a default (journal/turnstile.py): a person's mark
            # replaces it whatever state the client saw, and takes the source over.
            version = int(row["version"]) + 1
        else:
            version = batch.next_version(op, req, "attendance", row, old, new)
        if version is None:
            return
        await AttendanceRecord.update(
            {
                AttendanceRecord.status: new["status"],
                AttendanceRecord.late_minutes: new["late_minutes"],
                AttendanceRecord.reason: new["reason"],
                AttendanceRecord.source: batch.source,
                AttendanceRecord.version: version,
                AttendanceRecord.lesson_version: batch.new_version,
                AttendanceRecord.recorded_by: batch.actor.user_id,
                AttendanceRecord.updated_at: batch.now,
            }
        ).where(AttendanceRecord.id == row["id"])
        batch.wrote(op, "attendance", row, version, "update", old, new, student, **new)
        _attendance_event(batch, student, old, new)

    async def flush() -> None:
        if not pending:
            return
        inserted = await insert_rows(
            AttendanceRecord, list(pending.values()), returning=("id", "student")
        )
        for row in inserted:
            rec = pending[row["student"]]
            batch.change(
                "attendance", row["id"], "create", None, _attendance_values(rec), row["student"]
            )
        id_of = {row["student"]: row["id"] for row in inserted}
        for op_id, student in new_ops.items():
            batch.results[op_id].id = id_of.get(student)

    new_ops: dict[str, int] = {}  # op id -> pupil, for operations that insert a record
    batch.flushers.append(flush)
    return handle


def _attendance_event(
    batch: Batch, student: int, old: dict[str, Any] | None, new: dict[str, Any]
) -> None:
    if new["status"] in ABSENCES:
        batch.event(ATTENDANCE_ABSENT, student, status=new["status"], reason=new["reason"])
    elif new["status"] == "late":
        batch.event(ATTENDANCE_LATE, student, late_minutes=new["late_minutes"])
    elif old is not None and old["status"] != "present":
        batch.event(ATTENDANCE_CHANGED, student, status=new["status"], old=old["status"])


async def _mark_handler(
    batch: Batch, req: SyncRequest, scale: GradingScale | None
) -> Callable[..., Any]:
    ctx = batch.ctx
    kinds = await work_kinds_of(ctx.school_id)
    kinds_by_id = {k.id: k.code for k in kinds.values()}
    rows = await Mark.select().where(Mark.lesson == ctx.id)
    by_id = {r["id"]: r for r in rows}
    by_client = {r["client_id"]: r for r in rows if r["client_id"]}
    pending: list[tuple[SyncOp, dict[str, Any]]] = []

    def find(op: SyncOp) -> dict[str, Any]:
        row = by_id.get(op.mark_id) if op.mark_id is not None else None
        if row is None and op.mark_client_id is not None:
            row = by_client.get(op.mark_client_id)
        if row is None:
            raise _bad(op, "journal.mark_not_found")
        return row

    async def handle(op: SyncOp) -> None:
        if op.kind == "mark_delete":
            row = find(op)
            old = _mark_values(row, kinds_by_id)
            gone = row["deleted_at"] is not None
            version = batch.next_version(
                op, req, "mark", row, old, {**old, "deleted": True}, unchanged=gone
            )
            if version is None:
                return
            await Mark.update(
                {
                    Mark.deleted_at: batch.now,
                    Mark.version: version,
                    Mark.lesson_version: batch.new_version,
                    Mark.updated_by: batch.actor.user_id,
                    Mark.updated_at: batch.now,
                }
            ).where(Mark.id == row["id"])
            batch.wrote(
                op, "mark", row, version, "delete", old, None, row["student"], deleted_at=batch.now
            )
            batch.event(MARK_DELETED, row["student"], mark_id=row["id"], value=old["value"])
            return
        assert scale is not None
        updating = op.mark_id is not None or op.mark_client_id is not None
        found = find(op) if updating else None
        if found is not None and op.student_id not in (None, found["student"]):
            raise _bad(op, "journal.mark_not_found")
        # An update changes only the fields it gives; the rest stay as stored.
        value = op.value if op.value is not None else (found["value"] if found else None)
        if value is None:
            raise _bad(op, "journal.value_required")
        points = _points(op, scale, value)
        if found is not None and op.work_kind is None:
            code = kinds_by_id.get(found["work_kind"], "")
            name = kinds[code].name if code in kinds else ""
            kind = Kind(found["work_kind"], code, name, found["weight"])
        else:
            code = op.work_kind or "answer"
            known = kinds.get(code)
            if known is None:
                raise _bad(op, "journal.work_kind_unknown", code=code)
            kind = known
        comment = op.comment if op.comment is not None else (found["comment"] if found else "")
        new = {"value": value, "work_kind": kind.code, "comment": comment or "", "deleted": False}
        if found is None:
            mark = {
                "lesson": ctx.id,
                "student": op.student_id,
                "school": ctx.school_id,
                "subject": ctx.subject_id,
                "lesson_date": ctx.date,
                "work_kind": kind.id,
                "weight": kind.weight,
                "scale": scale.code,
                "value": value,
                "points": points,
                "comment": comment or "",
                "client_id": op.op_id,
                "version": 1,
                "lesson_version": batch.new_version,
                "created_by": batch.actor.user_id,
                "created_at": batch.now,
                "updated_by": batch.actor.user_id,
                "updated_at": batch.now,
            }
            pending.append((op, mark))
            batch.done(op, "applied", "mark", version=1)
            batch.students.add(op.student_id or 0)
            return
        row = found
        old = _mark_values(row, kinds_by_id)
        gone = row["deleted_at"] is not None
        version = batch.next_version(op, req, "mark", row, old, new, gone=gone)
        if version is None:
            return
        await Mark.update(
            {
                Mark.value: value,
                Mark.points: points,
                Mark.work_kind: kind.id,
                Mark.weight: kind.weight,
                Mark.comment: comment or "",
                Mark.version: version,
                Mark.lesson_version: batch.new_version,
                Mark.updated_by: batch.actor.user_id,
                Mark.updated_at: batch.now,
            }
        ).where(Mark.id == row["id"])
        batch.wrote(
            op,
            "mark",
            row,
            version,
            "update",
            old,
            new,
            row["student"],
            value=value,
            work_kind=kind.id,
            weight=kind.weight,
            comment=comment or "",
        )
        batch.event(
            MARK_CHANGED,
            row["student"],
            mark_id=row["id"],
            value=value,
            old=old["value"],
            work_kind=kind.name,
        )

    async def flush() -> None:
        if not pending:
            return
        inserted = await insert_rows(Mark, [m for _, m in pending], returning=("id", "client_id"))
        id_of = {r["client_id"]: r["id"] for r in inserted}
        for op, mark in pending:
            mark_id = id_of[op.op_id]
            batch.results[op.op_id].id = mark_id
            kind_name = next((k.name for k in kinds.values() if k.id == mark["work_kind"]), "")
            new = {
                "value": mark["value"],
                "work_kind": op.work_kind or "answer",
                "comment": mark["comment"],
                "deleted": False,
            }
            batch.change("mark", mark_id, "create", None, new, mark["student"])
            batch.event(
                MARK_CREATED,
                mark["student"],
                mark_id=mark_id,
                value=mark["value"],
                work_kind=kind_name,
                weight=mark["weight"],
            )

    batch.flushers.append(flush)
    return handle


def _points(op: SyncOp, scale: GradingScale, value: str) -> float | None:
    try:
        return scale.points(value)
    except ValidationFailed as exc:
        exc.details = {"op_id": op.op_id}
        raise


async def _topic_handler(batch: Batch, req: SyncRequest) -> Callable[..., Any]:
    ctx = batch.ctx
    record_ = await LessonRecord.select().where(LessonRecord.lesson == ctx.id).first()
    state = {"topic": ctx.topic, "version": record_["topic_version"] if record_ else 0}

    async def handle(op: SyncOp) -> None:
        topic = (op.topic or "").strip()
        source = "typed"
        if op.plan_id is not None:
            plan = (
                await LessonPlan.select(LessonPlan.topic)
                .where((LessonPlan.id == op.plan_id) & (LessonPlan.subject == ctx.subject_id))
                .first()
            )
            if plan is None:
                raise _bad(op, "journal.plan_not_found")
            topic, source = plan["topic"], "plan"
        if not topic:
            raise _bad(op, "journal.topic_required")
        if topic == state["topic"]:
            batch.done(op, "unchanged", "topic", id=ctx.id, version=state["version"])
            return
        version = int(state["version"])
        if state["topic"] and (
            (op.base_version is not None and op.base_version != version)
            or (
                op.base_version is None and (req.base_version is None or version > req.base_version)
            )
        ):
            batch.done(
                op,
                "conflict",
                "topic",
                id=ctx.id,
                version=version,
                server={"topic": state["topic"]},
                client={"topic": topic},
            )
            return
        batch.change("topic", ctx.id, "update", {"topic": state["topic"]}, {"topic": topic})
        state.update(topic=topic, version=batch.new_version, source=source)
        batch.topic = (topic, source)
        batch.lesson_wide = True
        batch.done(op, "applied", "topic", id=ctx.id, version=batch.new_version)

    return handle


# Homework is due within a school year of its lesson (a date like 9999-12-31 is a typo).
DUE_WITHIN = timedelta(days=366)


async def _homework_handler(batch: Batch, req: SyncRequest) -> Callable[..., Any]:
    ctx = batch.ctx
    rows = await Homework.select().where(Homework.lesson == ctx.id)
    by_id = {r["id"]: r for r in rows}

    async def due_of(op: SyncOp) -> tuple[date | None, int | None]:
        if op.due_lesson_id is None:
            if op.due_date is not None and op.due_date < ctx.date:
                raise _bad(op, "journal.due_in_past")
            latest = ctx.date + DUE_WITHIN
            if op.due_date is not None and op.due_date > latest:
                raise _bad(op, "journal.due_too_far", date=latest.strftime("%d.%m.%Y"))
            return op.due_date, None
        due = (
            await Lesson.select(Lesson.date, Lesson.school)
            .where(Lesson.id == op.due_lesson_id)
            .first()
        )
        if due is None or due["school"] != ctx.school_id or due["date"] < ctx.date:
            raise _bad(op, "journal.due_lesson_invalid")
        return due["date"], op.due_lesson_id

    async def attachments_of(op: SyncOp, homework_id: int | None) -> list[dict[str, Any]]:
        if not op.attachment_ids:
            return []
        found = await Attachment.select().where(
            Attachment.id.is_in(op.attachment_ids) & (Attachment.school == ctx.school_id)
        )
        if len(found) != len(set(op.attachment_ids)) or any(
            f["homework"] not in (None, homework_id) for f in found
        ):
            raise _bad(op, "journal.attachment_invalid")
        return [
            {
                "id": f["id"],
                "file_name": f["file_name"],
                "content_type": f["content_type"],
                "size": f["size"],
            }
            for f in found
        ]

    async def handle(op: SyncOp) -> None:
        if op.kind == "homework_delete":
            row = by_id.get(op.homework_id or -1)
            if row is None:
                raise _bad(op, "journal.homework_not_found")
            if row["deleted_at"] is not None:
                batch.done(op, "unchanged", "homework", id=row["id"], version=row["version"])
                return
            old = {"text": row["text"], "due_date": _iso(row["due_date"])}
            if _stale(row["version"], row["lesson_version"], op, req):
                batch.done(
                    op,
                    "conflict",
                    "homework",
                    id=row["id"],
                    version=row["version"],
                    server=old,
                    client=None,
                )
                return
            version = row["version"] + 1
            await Homework.update(
                {
                    Homework.deleted_at: batch.now,
                    Homework.version: version,
                    Homework.lesson_version: batch.new_version,
                    Homework.updated_at: batch.now,
                }
            ).where(Homework.id == row["id"])
            batch.change("homework", row["id"], "delete", old, None)
            batch.done(op, "applied", "homework", id=row["id"], version=version)
            batch.lesson_wide = True
            return
        text = (op.text or "").strip()
        if not text and not op.attachment_ids:
            raise _bad(op, "journal.homework_text_required")
        due_date, due_lesson = await due_of(op)
        if due_date is not None:
            batch.weeks.add(week_start(due_date))
        if op.homework_id is None:
            files = await attachments_of(op, None)
            inserted = await Homework.insert(
                Homework(
                    lesson=ctx.id,
                    school=ctx.school_id,
                    subject=ctx.subject_id,
                    lesson_date=ctx.date,
                    text=text,
                    due_date=due_date,
                    due_lesson=due_lesson,
                    attachments=files,
                    client_id=op.op_id,
                    version=1,
                    lesson_version=batch.new_version,
                    created_by=batch.actor.user_id,
                    created_at=batch.now,
                    updated_at=batch.now,
                )
            ).returning(Homework.id)
            hw_id = inserted[0]["id"]
            if files:
                await Attachment.update({Attachment.homework: hw_id}).where(
                    Attachment.id.is_in([f["id"] for f in files])
                )
            new = {"text": text, "due_date": _iso(due_date), "attachments": len(files)}
            batch.change("homework", hw_id, "create", None, new)
            batch.event(
                HOMEWORK_CREATED,
                None,
                homework_id=hw_id,
                text=text[:200],
                due_date=_iso(due_date),
            )
            batch.done(op, "applied", "homework", id=hw_id, version=1)
            batch.lesson_wide = True
            return
        row = by_id.get(op.homework_id)
        if row is None:
            raise _bad(op, "journal.homework_not_found")
        new_files: list[dict[str, Any]] | None = (
            await attachments_of(op, row["id"]) if op.attachment_ids is not None else None
        )
        old = {"text": row["text"], "due_date": _iso(row["due_date"])}
        new = {"text": text, "due_date": _iso(due_date)}
        version = batch.next_version(
            op,
            req,
            "homework",
            row,
            old,
            new,
            unchanged=old == new and new_files is None,
            gone=row["deleted_at"] is not None,
        )
        if version is None:
            return
        values: dict[Any, Any] = {
            Homework.text: text,
            Homework.due_date: due_date,
            Homework.due_lesson: due_lesson,
            Homework.version: version,
            Homework.lesson_version: batch.new_version,
            Homework.updated_at: batch.now,
        }
        if new_files is not None:
            values[Homework.attachments] = new_files
        await Homework.update(values).where(Homework.id == row["id"])
        batch.wrote(op, "homework", row, version, "update", old, new, text=text)
        batch.event(
            HOMEWORK_CHANGED,
            None,
            homework_id=row["id"],
            text=text[:200],
            due_date=_iso(due_date),
        )
        batch.lesson_wide = True

    return handle


def _remark_handler(batch: Batch) -> Callable[..., Any]:
    ctx = batch.ctx

    async def handle(op: SyncOp) -> None:
        text = (op.text or "").strip()
        if not text:
            raise _bad(op, "journal.remark_text_required")
        if len(text) > 1000:
            raise _bad(op, "journal.remark_too_long")
        inserted = await Remark.insert(
            Remark(
                lesson=ctx.id,
                student=op.student_id,
                school=ctx.school_id,
                subject=ctx.subject_id,
                lesson_date=ctx.date,
                text=text,
                client_id=op.op_id,
                created_by=batch.actor.user_id,
                created_at=batch.now,
            )
        ).returning(Remark.id)
        remark_id = inserted[0]["id"]
        batch.change("remark", remark_id, "create", None, {"text": text}, op.student_id)
        batch.event(REMARK_CREATED, op.student_id, remark_id=remark_id, text=text[:200])
        batch.done(op, "applied", "remark", id=remark_id, version=1)
        batch.students.add(op.student_id or 0)

    return handle


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


async def _write(batch: Batch, new_ops: list[SyncOp]) -> dict[tuple[int, date], int]:
    """Write what the call gathered: inserts, the lesson's version, history, events, the
    operations log, the audit entry and the diary versions."""
    ctx = batch.ctx
    for flush in batch.flushers:
        await flush()
    if not new_ops:
        return {}
    if batch.lesson_changed:
        topic = None if batch.topic is None else batch.topic[0]
        await timetable.journal_wrote(ctx.id, batch.new_version, batch.now, topic)
        await _touch_lesson_record(batch, batch.topic)
    if batch.changes:
        await insert_rows(
            JournalChange,
            [
                {
                    "lesson_id": ctx.id,
                    "school_id": ctx.school_id,
                    "source": batch.source,
                    "changed_by": batch.actor.user_id,
                    "changed_at": batch.now,
                    **change,
                }
                for change in batch.changes
            ],
        )
    # A lesson-wide event (homework) is each pupil's news: one event per pupil of the lesson,
    # so that the notifications find each pupil's family.
    everyone = await pupils_of(ctx) if any(sid is None for _, _, sid in batch.events) else []
    await emit_many(
        [
            (kind, {**payload, "student_id": sid}, ctx.school_id, sid)
            for kind, payload, student_id in batch.events
            for sid in ([student_id] if student_id is not None else everyone)
        ]
    )
    await insert_rows(
        SyncOperation,
        [
            {
                "client_op_id": op.op_id,
                "user_id": batch.actor.user_id,
                "lesson_id": ctx.id,
                "result": msgspec.to_builtins(batch.results[op.op_id]),
                "created_at": batch.now,
            }
            for op in new_ops
        ],
    )
    await record(
        batch.actor,
        AuditAction.UPDATE,
        object_type="lesson_journal",
        object_id=ctx.id,
        school_id=ctx.school_id,
        details={
            "operations": len(new_ops),
            "applied": batch.applied,
            "conflicts": sum(1 for op in new_ops if batch.results[op.op_id].status == "conflict"),
            "source": batch.source,
        },
    )
    if not batch.lesson_changed:
        return {}
    students = set(batch.students)
    if batch.lesson_wide:
        students |= set(await pupils_of(ctx))
    weeks = {week_start(ctx.date), *batch.weeks}
    return await bump_weeks((s, w) for s in students if s for w in weeks)


async def _touch_lesson_record(batch: Batch, topic: tuple[str, str] | None) -> None:
    ctx = batch.ctx
    took_register = any(c["entity"] == "attendance" for c in batch.changes) or any(
        r.entity == "attendance" and r.status == "applied" for r in batch.results.values()
    )
    existing = (
        await LessonRecord.select(LessonRecord.id, LessonRecord.attendance_taken_at)
        .where(LessonRecord.lesson == ctx.id)
        .first()
    )
    values: dict[Any, Any] = {LessonRecord.updated_at: batch.now}
    if topic is not None:
        values[LessonRecord.topic_source] = topic[1]
        values[LessonRecord.topic_version] = batch.new_version
    if took_register and (existing is None or existing["attendance_taken_at"] is None):
        values[LessonRecord.attendance_taken_at] = batch.now
        values[LessonRecord.attendance_taken_by] = batch.actor.user_id
    if existing is None:
        await LessonRecord.insert(
            LessonRecord(
                lesson=ctx.id,
                school=ctx.school_id,
                lesson_date=ctx.date,
                **{column._meta.name: value for column, value in values.items()},
            )
        )
    else:
        await LessonRecord.update(values).where(LessonRecord.id == existing["id"])
