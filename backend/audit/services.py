"""Writing and searching the audit log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.errors import ValidationFailed
from backend.core.rights import Permission, ScopeKind


class AuditAction:
    """The names of audited actions (free-form strings are allowed; these are the common ones)."""

    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    REFRESH_REUSE = "auth.refresh_reuse"
    ACTIVATE = "auth.activate"
    PASSWORD_RESET_REQUEST = "auth.password_reset_request"
    PASSWORD_RESET = "auth.password_reset"
    PASSWORD_CHANGE = "auth.password_change"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ_PERSONAL = "read.personal_file"
    READ_HEALTH = "read.health"
    READ_AUDIT = "read.audit"
    READ_DIARY = "read.diary"  # staff reading a pupil's diary (not the personal file)
    READ_MEALS_ACCOUNT = "read.meals_account"  # staff reading a pupil's meals account


async def record(
    actor: Actor,
    action: str,
    *,
    object_type: str = "",
    object_id: Any = "",
    school_id: int | None = None,
    student_id: int | None = None,
    details: dict[str, Any] | None = None,
    user_id: int | None = None,
) -> None:
    """Append one entry. Call it inside the service's transaction so it commits with the change."""
    await AuditEntry.insert(
        AuditEntry(
            actor_user_id=user_id if user_id is not None else actor.user_id,
            actor_ip=actor.ip[:64],
            request_id=actor.request_id[:64],
            action=action,
            object_type=object_type,
            object_id=str(object_id)[:64],
            school_id=school_id,
            student_id=student_id,
            details=details or {},
        )
    )


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry for `record_many`: what `record` takes, without the actor."""

    action: str
    object_type: str = ""
    object_id: Any = ""
    school_id: int | None = None
    student_id: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


_MANY_COLUMNS = (
    "at",
    "actor_user_id",
    "actor_ip",
    "request_id",
    "action",
    "object_type",
    "object_id",
    "school_id",
    "student_id",
    "details",
)


async def record_many(actor: Actor, entries: Sequence[Entry]) -> None:
    """Append several entries of one actor in one INSERT (one raw statement: a meal order's
    holds and the order itself are logged in one round trip, decision 0810). Call it inside
    the service's transaction, like `record`."""
    if not entries:
        return
    at = datetime.now(UTC)
    names = ", ".join(f'"{c}"' for c in _MANY_COLUMNS)
    row = "(" + ", ".join("{}" for _ in _MANY_COLUMNS) + ")"
    values: list[Any] = []
    for e in entries:
        values += (
            at,
            actor.user_id,
            actor.ip[:64],
            actor.request_id[:64],
            e.action,
            e.object_type,
            str(e.object_id)[:64],
            e.school_id,
            e.student_id,
            json.dumps(e.details, ensure_ascii=False),
        )
    rows = ", ".join(row for _ in entries)
    await AuditEntry.raw(f"INSERT INTO audit_entry ({names}) VALUES {rows}", *values)  # noqa: S608


async def record_reads(
    actor: Actor,
    action: str,
    *,
    object_type: str,
    object_ids: list[Any],
    school_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry per object in one INSERT: a report that names the pupils of many
    classes logs each class without a round trip each."""
    if not object_ids:
        return
    await AuditEntry.insert(
        *(
            AuditEntry(
                actor_user_id=actor.user_id,
                actor_ip=actor.ip[:64],
                request_id=actor.request_id[:64],
                action=action,
                object_type=object_type,
                object_id=str(object_id)[:64],
                school_id=school_id,
                student_id=None,
                details=details or {},
            )
            for object_id in object_ids
        )
    )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    school_id: int | None = None
    student_id: int | None = None
    actor_user_id: int | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    offset: int = 0


async def search(
    actor: Actor, query: AuditQuery, *, school_ids_in_scope: set[int] | None
) -> tuple[list[dict[str, Any]], int]:
    """Entries matching `query` that the actor may see.

    `school_ids_in_scope` is None for a system-wide auditor, else the schools they audit.
    A non-system auditor must stay within their schools; entries with no school (sign-ins of
    people with no school, system actions) are visible only system-wide.
    """
    where = []
    if school_ids_in_scope is not None:
        if query.school_id is not None and query.school_id not in school_ids_in_scope:
            return [], 0
        ids = [query.school_id] if query.school_id is not None else sorted(school_ids_in_scope)
        if not ids:
            raise ValidationFailed(key="audit.scope_required")
        where.append(AuditEntry.school_id.is_in(ids))
    elif query.school_id is not None:
        where.append(AuditEntry.school_id == query.school_id)
    if query.student_id is not None:
        where.append(AuditEntry.student_id == query.student_id)
    if query.actor_user_id is not None:
        where.append(AuditEntry.actor_user_id == query.actor_user_id)
    if query.action:
        where.append(AuditEntry.action == query.action)
    if query.object_type:
        where.append(AuditEntry.object_type == query.object_type)
    if query.object_id:
        where.append(AuditEntry.object_id == query.object_id)
    if query.since:
        where.append(AuditEntry.at >= query.since)
    if query.until:
        where.append(AuditEntry.at < query.until)

    select = AuditEntry.select().order_by(AuditEntry.id, ascending=False).output(load_json=True)
    count = AuditEntry.count()
    for clause in where:
        select = select.where(clause)
        count = count.where(clause)
    rows = await select.limit(query.limit).offset(query.offset)
    total = await count
    await record(
        actor,
        AuditAction.READ_AUDIT,
        object_type="audit",
        details={k: str(v) for k, v in vars_of(query).items() if v not in (None, "")},
    )
    return rows, total


def vars_of(query: AuditQuery) -> dict[str, Any]:
    return {name: getattr(query, name) for name in query.__dataclass_fields__}


async def reads_of_student(
    actor: Actor, student_id: int, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Who read this child's personal data: for the child's legal representatives."""
    actions = [
        AuditAction.READ_PERSONAL,
        AuditAction.READ_HEALTH,
        AuditAction.READ_DIARY,
        AuditAction.READ_MEALS_ACCOUNT,
    ]
    where = (AuditEntry.student_id == student_id) & AuditEntry.action.is_in(actions)
    rows = (
        await AuditEntry.select(
            AuditEntry.at,
            AuditEntry.actor_user_id,
            AuditEntry.action,
            AuditEntry.object_type,
            AuditEntry.details,
        )
        .where(where)
        .order_by(AuditEntry.id, ascending=False)
        .output(load_json=True)
        .limit(limit)
        .offset(offset)
    )
    total = await AuditEntry.count().where(where)
    return rows, total


AUDIT_SCOPES = (ScopeKind.SCHOOL, ScopeKind.MUNICIPALITY, ScopeKind.REGION)
AUDIT_PERMISSION = Permission.AUDIT_READ
