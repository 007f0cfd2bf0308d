"""School structure: the rights check and helpers every structure module shares."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from backend.audit.services import record
from backend.core.context import Actor
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import ru_date
from backend.core.rights import Permission, ScopeTarget
from backend.schools.places import school_target

READ = Permission.STRUCTURE_READ
MANAGE = Permission.STRUCTURE_MANAGE


# ---- rights ----------------------------------------------------------------------------------


def check(actor: Actor, permission: Permission, target: ScopeTarget) -> None:
    """Refuse with 404 when the actor may not act on `target` (do not reveal it exists)."""
    if actor.principal is not None and not actor.principal.allows(permission, target):
        raise NotFound()


async def authorize_school(actor: Actor, school_id: int, permission: Permission) -> ScopeTarget:
    target = await school_target(school_id)
    check(actor, permission, target)
    return target


# ---- small helpers ---------------------------------------------------------------------------


def check_dates(starts_on: date, ends_on: date) -> None:
    if starts_on > ends_on:
        raise ValidationFailed(
            key="structure.dates_order",
            starts_on=ru_date(starts_on),
            ends_on=ru_date(ends_on),
        )


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationFailed(key="structure.time_zone_invalid", value=value[:64]) from None
    return value


async def one(query: Any) -> dict[str, Any]:
    row = await query.first()
    if row is None:
        raise NotFound()
    return row


async def audit_write(
    actor: Actor, action: str, object_type: str, object_id: Any, school_id: int, **details: Any
) -> None:
    await record(
        actor,
        action,
        object_type=object_type,
        object_id=object_id,
        school_id=school_id,
        details={k: jsonable(v) for k, v in details.items()},
    )


def jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def changed_fields(data: msgspec.Struct) -> dict[str, Any]:
    return {
        f: getattr(data, f) for f in data.__struct_fields__ if getattr(data, f) is not msgspec.UNSET
    }
