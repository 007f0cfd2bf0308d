"""The registry of a school's entry system: access points, cards (issue, block, replace) and
gateways (create, rotate the signing key), and the school's rules for entry alerts.

Staff with `access.manage` at the school write here; `access.read` reads the points. Schools,
pupils and staff are checked through the schools services.
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from backend.access import cards
from backend.access.tables import AccessCard, AccessGateway, AccessPoint, AccessSettings
from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import transaction
from backend.core.errors import Conflict, NotFound, ValidationFailed
from backend.core.forms import clean_text
from backend.core.rights import Permission
from backend.i18n import t
from backend.schools.people.movement import ensure, student_target
from backend.schools.services import school_target
from backend.schools.structure.services import staff_in_school

DIRECTIONS = ("in", "out", "both")
HOLDER_KINDS = ("student", "staff")
BLOCK_REASONS = ("lost", "withdrawn")
KEY_BYTES = 32  # a signing key: 256 random bits, URL-safe base64 (43 characters)
ROTATION_OVERLAP = timedelta(hours=24)  # how long the previous key keeps working


def now() -> datetime:
    return datetime.now(UTC)


def fail(key: str, field: str, **params: Any) -> ValidationFailed:
    message = t(key, **params)
    return ValidationFailed(message, details=[{"field": field, "message": message}])


async def check_school(actor: Actor, school_id: int, permission: Permission) -> None:
    """The school exists and the actor holds `permission` there (else 404: not revealed)."""
    ensure(actor, permission, await school_target(school_id))


async def check_reads_school(actor: Actor, school_id: int) -> None:
    target = await school_target(school_id)
    principal = actor.principal
    if principal is not None and principal.allows(Permission.ACCESS_MANAGE, target):
        return
    ensure(actor, Permission.ACCESS_READ, target)


# ---- access points ---------------------------------------------------------------------------

POINT_COLUMNS = (
    AccessPoint.id,
    AccessPoint.school_id,
    AccessPoint.name,
    AccessPoint.direction,
    AccessPoint.lane,
    AccessPoint.is_active,
)


async def create_point(
    actor: Actor, school_id: int, *, name: str, direction: str, lane: int
) -> dict[str, Any]:
    await check_school(actor, school_id, Permission.ACCESS_MANAGE)
    name = clean_text(name, field="name")
    if direction not in DIRECTIONS:
        raise fail("access.point.direction_invalid", "direction")
    async with transaction():
        rows = await AccessPoint.insert(
            AccessPoint(
                school_id=school_id, name=name, direction=direction, lane=lane, created_at=now()
            )
        ).returning(*POINT_COLUMNS)
        row = rows[0]
        await record(
            actor, AuditAction.CREATE, object_type="access_point", object_id=row["id"],
            school_id=school_id, details={"name": name, "direction": direction, "lane": lane},
        )  # fmt: skip
    return dict(row)


async def list_points(actor: Actor, school_id: int) -> list[dict[str, Any]]:
    await check_reads_school(actor, school_id)
    rows = (
        await AccessPoint.select(*POINT_COLUMNS)
        .where(AccessPoint.school_id == school_id)
        .order_by(AccessPoint.lane)
        .order_by(AccessPoint.id)
    )
    return list(rows)


async def update_point(actor: Actor, point_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    row = await AccessPoint.select(*POINT_COLUMNS).where(AccessPoint.id == point_id).first()
    if row is None:
        raise NotFound()
    await check_school(actor, row["school_id"], Permission.ACCESS_MANAGE)
    values: dict[Any, Any] = {}
    if "name" in changes:
        values[AccessPoint.name] = clean_text(changes["name"], field="name")
    if "direction" in changes:
        if changes["direction"] not in DIRECTIONS:
            raise fail("access.point.direction_invalid", "direction")
        values[AccessPoint.direction] = changes["direction"]
    if "lane" in changes:
        values[AccessPoint.lane] = changes["lane"]
    if "is_active" in changes:
        values[AccessPoint.is_active] = bool(changes["is_active"])
    async with transaction():
        if values:
            await AccessPoint.update(values).where(AccessPoint.id == point_id)
        await record(
            actor, AuditAction.UPDATE, object_type="access_point", object_id=point_id,
            school_id=row["school_id"], details={str(k._meta.name): v for k, v in values.items()},
        )  # fmt: skip
    updated = await AccessPoint.select(*POINT_COLUMNS).where(AccessPoint.id == point_id).first()
    return dict(updated or row)


async def points_of(school_id: int) -> dict[int, dict[str, Any]]:
    rows = await AccessPoint.select(*POINT_COLUMNS).where(AccessPoint.school_id == school_id)
    return {r["id"]: r for r in rows}


# ---- cards -----------------------------------------------------------------------------------

CARD_COLUMNS = (
    AccessCard.id,
    AccessCard.school_id,
    AccessCard.raw_value,
    AccessCard.card_format,
    AccessCard.canonical,
    AccessCard.holder_kind,
    AccessCard.holder_id,
    AccessCard.status,
    AccessCard.blocked_reason,
    AccessCard.issued_at,
    AccessCard.blocked_at,
    AccessCard.replaced_by,
)


def parse_card(raw: str, fmt: str, field: str = "raw_value") -> cards.CardId:
    if fmt not in cards.FORMATS:
        raise fail("access.card.format_unknown", "card_format")
    try:
        return cards.parse(raw, fmt)
    except cards.CardFormatError as exc:
        raise fail(f"access.card.{exc.reason}", field) from exc


async def _check_holder(school_id: int, holder_kind: str, holder_id: int) -> None:
    if holder_kind not in HOLDER_KINDS:
        raise fail("access.card.holder_kind_invalid", "holder_kind")
    if holder_kind == "student":
        try:
            target = await student_target(holder_id)
        except NotFound:
            raise fail("access.card.holder_not_in_school", "holder_id") from None
        if target.school_id != school_id:
            raise fail("access.card.holder_not_in_school", "holder_id")
    else:
        try:
            await staff_in_school(school_id, holder_id)
        except ValidationFailed:
            raise fail("access.card.holder_not_in_school", "holder_id") from None


async def _check_free(school_id: int, card: cards.CardId, except_id: int | None = None) -> None:
    """No other live card of the school reads the same: the same canonical id, or (proximity
    cards) the same low 24 bits, which a Wiegand-26 reader could not tell apart."""
    query = AccessCard.select(AccessCard.id, AccessCard.raw_value).where(
        (AccessCard.school_id == school_id) & (AccessCard.status == "active")
    )
    if card.key24 is not None:
        query = query.where(AccessCard.key24 == card.key24)
    else:
        query = query.where(AccessCard.canonical == card.canonical)
    rows = [r for r in await query if r["id"] != except_id]
    if rows:
        raise Conflict(
            t("access.card.taken", value=rows[0]["raw_value"]),
            details=[{"field": "raw_value", "message": t("access.card.taken_short")}],
        )


async def issue_card(
    actor: Actor,
    school_id: int,
    *,
    raw_value: str,
    card_format: str,
    holder_kind: str,
    holder_id: int,
) -> dict[str, Any]:
    """Give a card to a pupil or a staff member. A person may hold several."""
    await check_school(actor, school_id, Permission.ACCESS_MANAGE)
    raw = clean_text(raw_value, field="raw_value")
    card = parse_card(raw, card_format)
    await _check_holder(school_id, holder_kind, holder_id)
    async with transaction():
        await _check_free(school_id, card)
        row = await _insert_card(actor, school_id, raw, card_format, card, holder_kind, holder_id)
        await record(
            actor, AuditAction.CREATE, object_type="access_card", object_id=row["id"],
            school_id=school_id,
            student_id=holder_id if holder_kind == "student" else None,
            details={"canonical": card.canonical, "holder_kind": holder_kind},
        )  # fmt: skip
    return row


async def _insert_card(
    actor: Actor,
    school_id: int,
    raw: str,
    card_format: str,
    card: cards.CardId,
    holder_kind: str,
    holder_id: int,
) -> dict[str, Any]:
    rows = await AccessCard.insert(
        AccessCard(
            school_id=school_id,
            raw_value=raw,
            card_format=card_format,
            canonical=card.canonical,
            key24=card.key24,
            holder_kind=holder_kind,
            holder_id=holder_id,
            issued_at=now(),
            created_by=actor.user_id,
        )
    ).returning(*CARD_COLUMNS)
    return dict(rows[0])


async def _card_for_manage(actor: Actor, card_id: int) -> dict[str, Any]:
    row = await AccessCard.select(*CARD_COLUMNS).where(AccessCard.id == card_id).first()
    if row is None:
        raise NotFound()
    await check_school(actor, row["school_id"], Permission.ACCESS_MANAGE)
    return dict(row)


async def block_card(actor: Actor, card_id: int, reason: str) -> dict[str, Any]:
    """A lost or withdrawn card stops opening the turnstile; its passes are refused and
    reported. The row stays (the log refers to it)."""
    if reason not in BLOCK_REASONS:
        raise fail("access.card.block_reason_invalid", "reason")
    row = await _card_for_manage(actor, card_id)
    if row["status"] != "active":
        raise Conflict(key="access.card.already_blocked")
    async with transaction():
        await AccessCard.update(
            {AccessCard.status: "blocked", AccessCard.blocked_reason: reason,
             AccessCard.blocked_at: now()}
        ).where(AccessCard.id == card_id)  # fmt: skip
        await record(
            actor, AuditAction.UPDATE, object_type="access_card", object_id=card_id,
            school_id=row["school_id"],
            student_id=row["holder_id"] if row["holder_kind"] == "student" else None,
            details={"status": "blocked", "reason": reason},
        )  # fmt: skip
    return await card(card_id)


async def replace_card(
    actor: Actor, card_id: int, *, raw_value: str, card_format: str
) -> dict[str, Any]:
    """A new card for the same holder; the old one is blocked as replaced, in one step."""
    old = await _card_for_manage(actor, card_id)
    if old["status"] != "active":
        raise Conflict(key="access.card.already_blocked")
    raw = clean_text(raw_value, field="raw_value")
    new_card = parse_card(raw, card_format)
    school_id = old["school_id"]
    async with transaction():
        await _check_free(school_id, new_card, except_id=card_id)
        row = await _insert_card(
            actor, school_id, raw, card_format, new_card, old["holder_kind"], old["holder_id"]
        )
        await AccessCard.update(
            {AccessCard.status: "blocked", AccessCard.blocked_reason: "replaced",
             AccessCard.blocked_at: now(), AccessCard.replaced_by: row["id"]}
        ).where(AccessCard.id == card_id)  # fmt: skip
        await record(
            actor, AuditAction.UPDATE, object_type="access_card", object_id=card_id,
            school_id=school_id,
            student_id=old["holder_id"] if old["holder_kind"] == "student" else None,
            details={"replaced_by": row["id"], "canonical": new_card.canonical},
        )  # fmt: skip
    return row


async def card(card_id: int) -> dict[str, Any]:
    row = await AccessCard.select(*CARD_COLUMNS).where(AccessCard.id == card_id).first()
    if row is None:
        raise NotFound()
    return dict(row)


async def list_cards(
    actor: Actor,
    school_id: int,
    *,
    holder_kind: str | None,
    holder_id: int | None,
    limit: int,
    offset: int,
    holder_ids: Collection[int] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The school's cards, of one holder or of several (`holder_ids`: a class's pupils)."""
    await check_school(actor, school_id, Permission.ACCESS_MANAGE)
    where: Any = AccessCard.school_id == school_id
    if holder_kind is not None:
        where &= AccessCard.holder_kind == holder_kind
    if holder_id is not None:
        where &= AccessCard.holder_id == holder_id
    if holder_ids is not None:
        where &= AccessCard.holder_id.is_in(sorted(holder_ids) or [0])
    rows = (
        await AccessCard.select(*CARD_COLUMNS)
        .where(where)
        .order_by(AccessCard.id)
        .limit(limit)
        .offset(offset)
    )
    total = await AccessCard.count().where(where)
    return list(rows), int(total)


async def match_cards(school_id: int, readings: list[cards.CardId]) -> dict[str, dict[str, Any]]:
    """The school's card rows (live or blocked) that each reading belongs to, by the reading's
    canonical id. Two queries for a whole batch: proximity cards by their low 24 bits (then
    checked on every bit both sides know), Mifare cards by their canonical id. A live card
    wins over a blocked one with the same number."""
    key24s = sorted({c.key24 for c in readings if c.key24 is not None})
    mifare = sorted({c.canonical for c in readings if c.family == "mf"})
    candidates: list[dict[str, Any]] = []
    if isinstance(AccessCard._meta.db, PostgresEngine):
        # Arrays as one parameter each: a batch's 500 numbers as an IN list cost the ORM more
        # to render than PostgreSQL to answer.
        if key24s or mifare:
            candidates = list(
                await AccessCard.raw(
                    "SELECT id, status, holder_kind, holder_id, canonical FROM access_card "
                    "WHERE school_id = {} AND (key24 = ANY({}::varchar[]) "
                    "OR canonical = ANY({}::varchar[]))",
                    school_id,
                    key24s,
                    mifare,
                )
            )
    else:
        columns = (*CARD_COLUMNS, AccessCard.key24)
        if key24s:
            candidates += await AccessCard.select(*columns).where(
                (AccessCard.school_id == school_id) & AccessCard.key24.is_in(key24s)
            )
        if mifare:
            candidates += await AccessCard.select(*columns).where(
                (AccessCard.school_id == school_id) & AccessCard.canonical.is_in(mifare)
            )
    by_key: dict[str, list[tuple[cards.CardId, dict[str, Any]]]] = {}
    for row in candidates:
        known = cards.from_canonical(row["canonical"])
        key = known.key24 if known.key24 is not None else known.canonical
        by_key.setdefault(key, []).append((known, row))
    found: dict[str, dict[str, Any]] = {}
    for reading in readings:
        key = reading.key24 if reading.key24 is not None else reading.canonical
        matches = [row for known, row in by_key.get(key, []) if known.same_card(reading)]
        matches.sort(key=lambda r: (r["status"] != "active", -r["id"]))
        if matches:
            found[reading.canonical] = matches[0]
    return found


# ---- gateways --------------------------------------------------------------------------------

GATEWAY_COLUMNS = (
    AccessGateway.id,
    AccessGateway.school_id,
    AccessGateway.name,
    AccessGateway.is_active,
    AccessGateway.last_seen_at,
    AccessGateway.clock_skew_seconds,
    AccessGateway.key_rotated_at,
    AccessGateway.previous_key_until,
    AccessGateway.created_at,
)


def new_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


async def create_gateway(actor: Actor, school_id: int, *, name: str) -> dict[str, Any]:
    """A gateway and its signing key. The key is shown once, in this answer."""
    await check_school(actor, school_id, Permission.ACCESS_MANAGE)
    name = clean_text(name, field="name")
    key = new_key()
    async with transaction():
        rows = await AccessGateway.insert(
            AccessGateway(school_id=school_id, name=name, signing_key=key, created_at=now())
        ).returning(*GATEWAY_COLUMNS)
        row = dict(rows[0])
        await record(
            actor, AuditAction.CREATE, object_type="access_gateway", object_id=row["id"],
            school_id=school_id, details={"name": name},
        )  # fmt: skip
    return {**row, "signing_key": key}


async def rotate_key(actor: Actor, gateway_id: int) -> dict[str, Any]:
    """A new signing key; the old one keeps working for `ROTATION_OVERLAP`, so the gateway
    can be given the new key without losing a batch."""
    row = (
        await AccessGateway.select(AccessGateway.school_id, AccessGateway.signing_key)
        .where(AccessGateway.id == gateway_id)
        .first()
    )
    if row is None:
        raise NotFound()
    await check_school(actor, row["school_id"], Permission.ACCESS_MANAGE)
    key, at = new_key(), now()
    async with transaction():
        await AccessGateway.update(
            {AccessGateway.signing_key: key, AccessGateway.previous_key: row["signing_key"],
             AccessGateway.previous_key_until: at + ROTATION_OVERLAP,
             AccessGateway.key_rotated_at: at}
        ).where(AccessGateway.id == gateway_id)  # fmt: skip
        await record(
            actor, AuditAction.UPDATE, object_type="access_gateway", object_id=gateway_id,
            school_id=row["school_id"], details={"key": "rotated"},
        )  # fmt: skip
    updated = await AccessGateway.select(*GATEWAY_COLUMNS).where(AccessGateway.id == gateway_id)
    return {**updated[0], "signing_key": key}


async def list_gateways(actor: Actor, school_id: int) -> list[dict[str, Any]]:
    await check_school(actor, school_id, Permission.ACCESS_MANAGE)
    rows = (
        await AccessGateway.select(*GATEWAY_COLUMNS)
        .where(AccessGateway.school_id == school_id)
        .order_by(AccessGateway.id)
    )
    return list(rows)


# ---- the school's rules ----------------------------------------------------------------------


async def settings_of(school_id: int) -> dict[str, Any]:
    row = (
        await AccessSettings.select(
            AccessSettings.not_arrived_enabled,
            AccessSettings.not_arrived_margin_minutes,
            AccessSettings.journal_presence,
        )
        .where(AccessSettings.school_id == school_id)
        .first()
    )
    if row is None:
        return {
            "not_arrived_enabled": True,
            "not_arrived_margin_minutes": 15,
            "journal_presence": False,
        }
    return {**row, "journal_presence": bool(row["journal_presence"])}


async def get_settings(actor: Actor, school_id: int) -> dict[str, Any]:
    await check_reads_school(actor, school_id)
    return {"school_id": school_id, **await settings_of(school_id)}


async def update_settings(actor: Actor, school_id: int, changes: dict[str, Any]) -> dict[str, Any]:
    await check_school(actor, school_id, Permission.ACCESS_MANAGE)
    current = await settings_of(school_id)
    current.update({k: v for k, v in changes.items() if k in current})
    async with transaction():
        exists = await AccessSettings.exists().where(AccessSettings.school_id == school_id)
        if exists:
            await AccessSettings.update(
                {AccessSettings.not_arrived_enabled: current["not_arrived_enabled"],
                 AccessSettings.not_arrived_margin_minutes: current["not_arrived_margin_minutes"],
                 AccessSettings.journal_presence: current["journal_presence"],
                 AccessSettings.updated_at: now()}
            ).where(AccessSettings.school_id == school_id)  # fmt: skip
        else:
            await AccessSettings.insert(
                AccessSettings(school_id=school_id, updated_at=now(), **current)
            )
        await record(
            actor, AuditAction.UPDATE, object_type="access_settings", object_id=school_id,
            school_id=school_id, details=current,
        )  # fmt: skip
    return {"school_id": school_id, **current}
