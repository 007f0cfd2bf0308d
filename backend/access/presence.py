"""Presence and the log: who is inside a school now, a pupil's passes and their first entry and
last exit of each day, the school's log for security.

Computed from the log itself (granted passes ordered by `occurred_at`), so a late batch changes
the answer to what really happened, with nothing to keep in step. A family member reads only
their own children (their grant is at the child); staff read their school and are audited.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from backend.access.registry import check_reads_school, fail
from backend.access.tables import AccessEvent
from backend.audit.services import record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.rights import Permission, Role, ScopeKind
from backend.schools.people.contacts import school_info
from backend.schools.people.movement import ensure, student_target
from backend.schools.people.services import family_cards

READ_ACCESS_LOG = "read.access_log"
MAX_DAYS = 31
FAMILY_ROLES = (Role.GUARDIAN, Role.DELEGATE, Role.PUPIL)

EVENT_COLUMNS = (
    AccessEvent.id,
    AccessEvent.access_point_id,
    AccessEvent.card_raw,
    AccessEvent.card_format,
    AccessEvent.holder_kind,
    AccessEvent.holder_id,
    AccessEvent.direction,
    AccessEvent.result,
    AccessEvent.problem,
    AccessEvent.occurred_at,
    AccessEvent.received_at,
    AccessEvent.local_date,
    AccessEvent.gateway_id,
)


async def zone_of(school_id: int) -> ZoneInfo:
    info = await school_info(school_id)
    return ZoneInfo(info.time_zone if info else "Europe/Moscow")


def _is_family_of(actor: Actor, student_id: int) -> bool:
    principal = actor.principal
    return principal is not None and any(
        g.role in FAMILY_ROLES and g.scope_kind is ScopeKind.STUDENT and g.scope_id == student_id
        for g in principal.live_grants()
    )


def check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise fail("access.log.dates_order", "date_from")
    if (date_to - date_from).days >= MAX_DAYS:
        raise fail("access.log.range_too_long", "date_to", days=MAX_DAYS)


def day_summary(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """First entry, last exit and whether inside at the end, from a day's passes in order."""
    granted = [p for p in passes if p["result"] == "granted"]
    entries = [p["occurred_at"] for p in granted if p["direction"] == "in"]
    exits = [p["occurred_at"] for p in granted if p["direction"] == "out"]
    return {
        "first_entry_at": entries[0] if entries else None,
        "last_exit_at": exits[-1] if exits else None,
        "inside": bool(granted) and granted[-1]["direction"] == "in",
    }


async def student_entries(
    actor: Actor, student_id: int, date_from: date, date_to: date
) -> dict[str, Any]:
    """A pupil's passes and each day's first entry and last exit (family: their own child;
    staff with access rights at the school: audited)."""
    check_range(date_from, date_to)
    target = await student_target(student_id)
    principal = actor.principal
    if principal is None or not principal.allows(Permission.ACCESS_MANAGE, target):
        ensure(actor, Permission.ACCESS_READ, target)
    rows = list(
        await AccessEvent.select(*EVENT_COLUMNS)
        .where(
            (AccessEvent.holder_kind == "student")
            & (AccessEvent.holder_id == student_id)
            & (AccessEvent.local_date >= date_from)
            & (AccessEvent.local_date <= date_to)
        )
        .order_by(AccessEvent.occurred_at)
        .order_by(AccessEvent.id)
    )
    if not _is_family_of(actor, student_id):
        async with transaction():
            await record(
                actor, READ_ACCESS_LOG, object_type="student", object_id=student_id,
                school_id=target.school_id, student_id=student_id,
                details={"date_from": date_from.isoformat(), "date_to": date_to.isoformat()},
            )  # fmt: skip
    by_day: dict[date, list[dict[str, Any]]] = {}
    for row in rows:
        by_day.setdefault(row["local_date"], []).append(row)
    days = [{"date": day, **day_summary(passes)} for day, passes in sorted(by_day.items())]
    return {"student_id": student_id, "days": days, "passes": rows}


def _today(zone: ZoneInfo) -> date:
    return datetime.now(UTC).astimezone(zone).date()


async def inside_now(actor: Actor, school_id: int) -> dict[str, Any]:
    """Who is inside the school now: everyone whose last granted pass today was an entry."""
    await check_reads_school(actor, school_id)
    day = _today(await zone_of(school_id))
    rows = (
        await AccessEvent.select(
            AccessEvent.holder_kind,
            AccessEvent.holder_id,
            AccessEvent.direction,
            AccessEvent.occurred_at,
        )
        .where(
            (AccessEvent.school_id == school_id)
            & (AccessEvent.local_date == day)
            & (AccessEvent.result == "granted")
            & AccessEvent.holder_id.is_not_null()
        )
        .order_by(AccessEvent.occurred_at)
        .order_by(AccessEvent.id)
    )
    last: dict[tuple[str, int], dict[str, Any]] = {}
    first_in: dict[tuple[str, int], datetime] = {}
    for row in rows:
        key = (row["holder_kind"], row["holder_id"])
        last[key] = row
        if row["direction"] == "in":
            first_in.setdefault(key, row["occurred_at"])
    inside = [k for k, row in last.items() if row["direction"] == "in"]
    students = {holder_id for kind, holder_id in inside if kind == "student"}
    names = await family_cards(students)
    people = [
        {
            "holder_kind": kind,
            "holder_id": holder_id,
            "name": (
                f"{names[holder_id]['last_name']} {names[holder_id]['first_name']}"
                if kind == "student" and holder_id in names
                else ""
            ),
            "class_name": names.get(holder_id, {}).get("class_name") if kind == "student" else None,
            "entered_at": first_in.get((kind, holder_id)),
            "last_pass_at": last[(kind, holder_id)]["occurred_at"],
        }
        for kind, holder_id in sorted(inside)
    ]
    async with transaction():
        await record(
            actor, READ_ACCESS_LOG, object_type="school_presence", object_id=school_id,
            school_id=school_id, details={"date": day.isoformat(), "inside": len(people)},
        )  # fmt: skip
    return {
        "school_id": school_id,
        "date": day,
        "students_inside": len(students),
        "staff_inside": len(people) - len(students),
        "people": people,
    }


async def school_log(
    actor: Actor,
    school_id: int,
    day: date | None,
    *,
    problems_only: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int, date]:
    """The school's passes of a day in time order (for security): refused ones with
    `problems_only`."""
    await check_reads_school(actor, school_id)
    day = day or _today(await zone_of(school_id))
    where = (AccessEvent.school_id == school_id) & (AccessEvent.local_date == day)
    if problems_only:
        where &= AccessEvent.problem != ""
    rows = (
        await AccessEvent.select(*EVENT_COLUMNS)
        .where(where)
        .order_by(AccessEvent.occurred_at)
        .order_by(AccessEvent.id)
        .limit(limit)
        .offset(offset)
    )
    total = await AccessEvent.count().where(where)
    async with transaction():
        await record(
            actor, READ_ACCESS_LOG, object_type="school_log", object_id=school_id,
            school_id=school_id, details={"date": day.isoformat()},
        )  # fmt: skip
    return list(rows), int(total), day


async def first_entries(student_ids: list[int], day: date) -> dict[int, datetime]:
    """The first granted entry of each pupil on a day (for the not-arrived check)."""
    if not student_ids:
        return {}
    rows = await AccessEvent.select(AccessEvent.holder_id, AccessEvent.occurred_at).where(
        (AccessEvent.holder_kind == "student")
        & AccessEvent.holder_id.is_in(student_ids)
        & (AccessEvent.local_date == day)
        & (AccessEvent.result == "granted")
        & (AccessEvent.direction == "in")
    )
    found: dict[int, datetime] = {}
    for row in rows:
        at = row["occurred_at"]
        if row["holder_id"] not in found or at < found[row["holder_id"]]:
            found[row["holder_id"]] = at
    return found


async def school_first_entries(school_id: int, day: date) -> dict[int, datetime]:
    """The first granted entry of each of a school's pupils who entered on `day`."""
    rows = await AccessEvent.select(AccessEvent.holder_id, AccessEvent.occurred_at).where(
        (AccessEvent.school_id == school_id)
        & (AccessEvent.local_date == day)
        & (AccessEvent.holder_kind == "student")
        & (AccessEvent.result == "granted")
        & (AccessEvent.direction == "in")
    )
    found: dict[int, datetime] = {}
    for row in rows:
        at = row["occurred_at"]
        if row["holder_id"] not in found or at < found[row["holder_id"]]:
            found[row["holder_id"]] = at
    return found


async def inside_at(student_ids: list[int], day: date, moment: datetime) -> set[int]:
    """Pupils whose last granted pass of `day` before `moment` was an entry."""
    if not student_ids:
        return set()
    rows = (
        await AccessEvent.select(
            AccessEvent.holder_id, AccessEvent.direction, AccessEvent.occurred_at
        )
        .where(
            (AccessEvent.holder_kind == "student")
            & AccessEvent.holder_id.is_in(student_ids)
            & (AccessEvent.local_date == day)
            & (AccessEvent.result == "granted")
            & (AccessEvent.occurred_at <= moment)
        )
        .order_by(AccessEvent.occurred_at)
        .order_by(AccessEvent.id)
    )
    last: dict[int, str] = {}
    for row in rows:
        last[row["holder_id"]] = row["direction"]
    return {student for student, direction in last.items() if direction == "in"}
