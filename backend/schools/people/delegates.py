"""Delegates (доверенные лица): a legal representative lets a trusted adult use parts of one
child's access (diary, meals, entries) until a date, and can take it back.

A delegation is a `Delegate` row plus a `delegate` role grant at the child with `parts` and
`valid_until`. Tokens carry the grant with its end, so expiry needs no job: a check after
`valid_until` finds no live grant. Revocation revokes the grant and ends the delegate's sessions.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from backend.accounts.identifiers import normalize_phone
from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.core.rights import Grant, Permission, Role, ScopeKind
from backend.events.services import emit
from backend.i18n import t
from backend.schools.people.movement import ensure, student_target
from backend.schools.tables import Delegate, StudentGuardian

if TYPE_CHECKING:
    from backend.accounts.services import AccountsService

# What a delegate may be given. The vocabulary is the permission names, the same that
# `GET .../delegates` and `/accounts/me` show; the short words are kept as aliases.
PART_PERMISSIONS: dict[str, Permission] = {
    Permission.DIARY_READ.value: Permission.DIARY_READ,
    Permission.MEALS_ORDER.value: Permission.MEALS_ORDER,
    Permission.ACCESS_READ.value: Permission.ACCESS_READ,
}
PART_ALIASES: dict[str, str] = {
    "diary": Permission.DIARY_READ.value,
    "meals": Permission.MEALS_ORDER.value,
    "entries": Permission.ACCESS_READ.value,
}


def canonical_part(part: str) -> str:
    """`diary` -> `diary.read`; a permission name stays as it is."""
    text = part.strip().lower()
    return PART_ALIASES.get(text, text)


def canonical_parts(parts: Any) -> list[str]:
    return sorted({canonical_part(str(p)) for p in parts or ()})


MAX_DAYS = 366


def _now() -> datetime:
    return datetime.now(UTC)


def _fail(key: str, field: str, **params: Any) -> ValidationFailed:
    message = t(key, **params)
    return ValidationFailed(message, details=[{"field": field, "message": message}])


async def legal_representative(actor: Actor, student_id: int) -> int:
    """The Guardian row of the signed-in person, if they are a legal representative of the
    child. Someone with no guardian grant for the child learns nothing (404)."""
    principal = actor.principal
    if principal is None:
        raise Forbidden()
    holds = any(
        g.role is Role.GUARDIAN and g.scope_kind is ScopeKind.STUDENT and g.scope_id == student_id
        for g in principal.live_grants()
    )
    if not holds:
        raise NotFound()
    row = (
        await StudentGuardian.select(StudentGuardian.guardian)
        .where(
            (StudentGuardian.student == student_id)
            & (StudentGuardian.guardian.user_id == principal.user_id)
            & (StudentGuardian.is_legal_representative == True)  # noqa: E712
        )
        .first()
    )
    if row is None:
        raise Forbidden(key="delegate.not_legal_representative")
    return int(row["guardian"])


async def grant_delegate(
    actor: Actor,
    accounts: AccountsService,
    student_id: int,
    *,
    full_name: str,
    parts: list[str],
    valid_until: datetime,
    phone: str | None,
) -> dict[str, Any]:
    """Name a trusted adult. With the phone of an existing account the grant is given at once;
    otherwise an activation code is issued for them (returned once, to hand over)."""
    guardian_id = await legal_representative(actor, student_id)
    clean_parts = canonical_parts(parts)
    if not clean_parts:
        raise _fail("delegate.parts_required", "parts")
    for part in clean_parts:
        if part not in PART_PERMISSIONS:
            raise _fail("delegate.part_invalid", "parts", value=part)
    if valid_until.tzinfo is None:
        valid_until = valid_until.replace(tzinfo=UTC)
    now = _now()
    if valid_until <= now:
        raise _fail("delegate.until_past", "valid_until")
    if valid_until > now + timedelta(days=MAX_DAYS):
        raise _fail("delegate.until_too_far", "valid_until", days=MAX_DAYS)
    if not phone:
        raise _fail("delegate.contact_required", "phone")
    try:
        phone = normalize_phone(phone)
    except ValidationFailed as exc:
        raise _fail("auth.phone_invalid", "phone", value=phone) from exc
    name = " ".join(full_name.split())[:300]
    target = await student_target(student_id)
    grant = Grant(
        Role.DELEGATE,
        ScopeKind.STUDENT,
        student_id,
        valid_until=valid_until,
        parts=frozenset(PART_PERMISSIONS[p] for p in clean_parts),
    )
    existing = await accounts.user_id_by_phone(phone)
    if existing is not None and actor.principal and existing == actor.principal.user_id:
        raise _fail("delegate.self_delegate", "phone")
    code: str | None = None
    async with transaction():
        row = Delegate(
            student=student_id,
            granted_by=guardian_id,
            full_name=name,
            phone=phone,
            parts=clean_parts,
            valid_from=now,
            valid_until=valid_until,
        )
        if existing is not None:
            row.delegate_user_id = existing
            row.role_grant_id = await accounts.add_grant(actor, existing, grant, check_rights=False)
        else:
            issued = await accounts.issue_activation_codes(
                actor, [(name, [grant], target.school_id)], check_rights=False
            )
            row.activation_code_id = issued[0].id
            code = issued[0].code
        await row.save()
        details = {
            "parts": clean_parts,
            "valid_until": valid_until.isoformat(),
            "invited": existing is None,
        }
        await record(
            actor,
            AuditAction.CREATE,
            object_type="delegate",
            object_id=row.id,
            school_id=target.school_id,
            student_id=student_id,
            details=details,
        )
        await emit(
            "delegate.granted",
            {"delegate_id": row.id, "student_id": student_id, "full_name": name, **details},
            school_id=target.school_id,
            student_id=student_id,
        )
    return {**delegate_out(row), "activation_code": code}


async def revoke_delegate(
    actor: Actor, accounts: AccountsService, delegate_id: int
) -> dict[str, Any]:
    """Any legal representative of the child may end a delegation, effective at once."""
    row = await Delegate.objects().where(Delegate.id == delegate_id).output(load_json=True).first()
    if row is None:
        raise NotFound()
    await legal_representative(actor, row.student)
    if row.revoked_at is not None:
        raise Conflict(key="delegate.already_revoked")
    target = await student_target(row.student)
    async with transaction():
        claimed = (
            await Delegate.update({Delegate.revoked_at: _now()})
            .where((Delegate.id == delegate_id) & Delegate.revoked_at.is_null())
            .returning(Delegate.id)
        )
        if not claimed:
            raise Conflict(key="delegate.already_revoked")
        if row.role_grant_id is not None:
            await accounts.revoke_grants(actor, [row.role_grant_id])
        elif row.activation_code_id is not None:
            await accounts.withdraw_activation_code(actor, row.activation_code_id)
        await record(
            actor,
            AuditAction.DELETE,
            object_type="delegate",
            object_id=delegate_id,
            school_id=target.school_id,
            student_id=row.student,
        )
        await emit(
            "delegate.revoked",
            {"delegate_id": delegate_id, "student_id": row.student, "full_name": row.full_name},
            school_id=target.school_id,
            student_id=row.student,
        )
    row.revoked_at = _now()
    return delegate_out(row)


async def delegates_of_student(actor: Actor, student_id: int) -> list[dict[str, Any]]:
    """Every delegation of the child, past and present: for its guardians and the school staff
    who read the personal file (who may collect the child, who sees the diary)."""
    ensure(actor, Permission.PERSONAL_FILE_READ, await student_target(student_id))
    rows = (
        await Delegate.objects()
        .where(Delegate.student == student_id)
        .order_by(Delegate.id)
        .output(load_json=True)
    )
    return [delegate_out(r) for r in rows]


def delegate_out(row: Delegate) -> dict[str, Any]:
    return {
        "id": row.id,
        "student_id": row.student,
        "full_name": row.full_name,
        "phone": row.phone,
        "parts": canonical_parts(row.parts),
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
        "revoked_at": row.revoked_at,
        "has_account": row.delegate_user_id is not None,
    }
