"""Use cases of the messaging context: devices, linked chats, preferences, the inbox, delivery
statistics, the dead-letter list and school announcements.

The notifications worker reads preferences and writes deliveries; the apps use these through
the API. An operator's replay goes through the outbox like everything the worker must hear.
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

from backend.audit.services import AuditAction, record
from backend.core.context import Actor
from backend.core.db import any_of, transaction
from backend.core.errors import NotFound, ValidationFailed
from backend.core.forms import clean_text
from backend.core.rights import Permission, Principal, ScopeKind, ScopeTarget
from backend.events.kinds import (
    ANNOUNCEMENT_CREATED,
    CHANNELS,
    DELIVERY_REPLAY,
    MESSENGERS,
    NOTIFIED,
    PASSWORD_RESET_CODE,
    PUSH,
    SMS,
)
from backend.events.services import emit
from backend.messaging.deliveries import PUSH_RECEIPTS_KEY, PUSHED_PREFIX
from backend.messaging.tables import (
    Delivery,
    DeviceToken,
    MessengerChat,
    Notification,
    NotificationPreference,
)
from backend.schools.people.services import class_target
from backend.schools.services import school_target

MODES = ("instant", "digest")
# Quiet hours switched off, as stored: a rule whose quiet hours start and end at midnight
# (`notifications.preferences.quiet_release` finds no quiet time between equal ends).
QUIET_OFF = "00:00"
REPLAY_KIND = DELIVERY_REPLAY
# Where the app posts a push's receipt (`confirm_push`; the route is in `api`); the receipts
# wait in Redis (`deliveries.PUSH_RECEIPTS_KEY`) for the notifications worker.
PUSH_RECEIPTS_PATH = "/api/v1/messaging/push-receipts"


def token_digest(token: str) -> str:
    """A device token as kept beside a push: enough to tell tokens apart, not the token."""
    return hashlib.sha256(token.strip().encode()).hexdigest()[:32]


ANNOUNCEMENT_KIND = ANNOUNCEMENT_CREATED
# Kinds a person may set preferences for ("*" is every kind).
PREFERENCE_KINDS = ("*", *NOTIFIED)


def _now() -> datetime:
    return datetime.now(UTC)


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _check_hhmm(value: str | None) -> None:
    if value is None:
        return
    try:
        hours, minutes = value.split(":")
        ok = len(value) == 5 and 0 <= int(hours) < 24 and 0 <= int(minutes) < 60
    except ValueError:
        ok = False
    if not ok:
        raise ValidationFailed(key="notify.error.bad_time", value=value)


# ---- devices and chats -----------------------------------------------------------------------


async def register_device(actor: Actor, token: str, platform: str) -> dict[str, Any]:
    """Register (or move to this person, and switch on again) a push token."""
    assert actor.user_id is not None
    token = token.strip()
    if not token or len(token) > 512:
        raise ValidationFailed(key="notify.error.token_invalid")
    now = _now()
    async with transaction():
        existing = (
            await DeviceToken.select(DeviceToken.id).where(DeviceToken.token == token).first()
        )
        if existing:
            await DeviceToken.update(
                {
                    DeviceToken.user_id: actor.user_id,
                    DeviceToken.platform: platform,
                    DeviceToken.is_active: True,
                    DeviceToken.last_seen_at: now,
                    DeviceToken.disabled_at: None,
                    DeviceToken.disabled_reason: "",
                }
            ).where(DeviceToken.id == existing["id"])
            device_id = existing["id"]
        else:
            rows = await DeviceToken.insert(
                DeviceToken(
                    user_id=actor.user_id,
                    token=token,
                    platform=platform,
                    created_at=now,
                    last_seen_at=now,
                )
            ).returning(DeviceToken.id)
            device_id = rows[0]["id"]
        await record(actor, AuditAction.CREATE, object_type="device_token", object_id=device_id)
    return {"id": device_id, "platform": platform, "is_active": True}


async def unregister_device(actor: Actor, device_id: int) -> None:
    async with transaction():
        row = (
            await DeviceToken.select(DeviceToken.id)
            .where((DeviceToken.id == device_id) & (DeviceToken.user_id == actor.user_id))
            .first()
        )
        if row is None:
            raise NotFound()
        await DeviceToken.update(
            {
                DeviceToken.is_active: False,
                DeviceToken.disabled_at: _now(),
                DeviceToken.disabled_reason: "signed_out",
            }
        ).where(DeviceToken.id == device_id)
        await record(actor, AuditAction.DELETE, object_type="device_token", object_id=device_id)


# KEYS: the note of the devices a push went to, the receipts waiting. ARGV: the token's digest,
# the delivery id, the time. The receipt waits if the push went to that device: 1; to others:
# 0; no note (expired): -1, and the database decides. One round trip for the busiest request.
_CONFIRM = """
local pushed = redis.call('GET', KEYS[1])
if not pushed then return -1 end
for digest in string.gmatch(pushed, '%S+') do
  if digest == ARGV[1] then
    redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
    return 1
  end
end
return 0
"""
_CONFIRM_SHA = hashlib.sha1(_CONFIRM.encode()).hexdigest()  # noqa: S324 - Redis names scripts so


async def confirm_push(redis: Redis, delivery_id: int, token: str) -> None:
    """A phone's word that a push arrived: the app, given the push, posts back the delivery's
    id and its own device token (which only the phone, FCM and we know). A worker that finds
    the delivery unfinished after a crash then does not send it again (FCM takes no
    idempotency key: without this word a resend is the only safe guess).

    The word waits in Redis (`PUSH_RECEIPTS_KEY`: delivery id -> when) and the notifications
    worker writes it to the deliveries as "delivered" in batches: a commit a batch, not one
    for every phone. The token must be one the push went to (`PUSHED_PREFIX`: checked and the
    word kept in one Redis script, as every push is answered by a receipt); once that note has
    expired, one of the delivery's person's devices (the database). Unknown id, another
    person's device or another channel: `NotFound`, telling nothing."""
    keys = (f"{PUSHED_PREFIX}{delivery_id}", PUSH_RECEIPTS_KEY)
    args = (token_digest(token), str(delivery_id), str(time.time()))
    try:
        found = int(await redis.evalsha(_CONFIRM_SHA, 2, *keys, *args))
    except NoScriptError:
        found = int(await redis.eval(_CONFIRM, 2, *keys, *args))
    if found == 1:
        return
    if found == 0 or not await _pushed_to_owner(delivery_id, token):
        raise NotFound(key="notify.error.receipt_unknown")
    await redis.hset(PUSH_RECEIPTS_KEY, str(delivery_id), str(time.time()))


async def _pushed_to_owner(delivery_id: int, token: str) -> bool:
    """The database's word, once the worker's note has expired: a push delivery to the
    person who owns this device token."""
    row = (
        await Delivery.select(Delivery.user_id, Delivery.channel, Delivery.status)
        .where(Delivery.id == delivery_id)
        .first()
    )
    if row is None or row["channel"] != PUSH or row["status"] == "skipped":
        return False
    return bool(
        await DeviceToken.exists().where(
            (DeviceToken.token == token.strip()) & (DeviceToken.user_id == row["user_id"])
        )
    )


async def list_devices(actor: Actor) -> list[dict[str, Any]]:
    return list(
        await DeviceToken.select(
            DeviceToken.id, DeviceToken.platform, DeviceToken.is_active, DeviceToken.created_at
        )
        .where(DeviceToken.user_id == actor.user_id)
        .order_by(DeviceToken.id)
    )


async def link_chat(actor: Actor, user_id: int, messenger: str, chat_id: int) -> None:
    """The family bot links a chat of a messenger (telegram, max) to a person, after the
    person proved who they are (a one-time code). A person has one linked chat per
    messenger: linking another one unlinks the previous; a chat linked to someone else
    before is now this person's."""
    if messenger not in MESSENGERS:
        raise ValidationFailed(key="notify.error.unknown_channel", channel=messenger)
    async with transaction():
        await MessengerChat.update(
            {MessengerChat.unlinked_at: _now(), MessengerChat.unlinked_reason: "relinked"}
        ).where(
            (MessengerChat.user_id == user_id)
            & (MessengerChat.messenger == messenger)
            & MessengerChat.unlinked_at.is_null()
        )
        await MessengerChat.delete().where(
            (MessengerChat.messenger == messenger) & (MessengerChat.chat_id == chat_id)
        )
        await MessengerChat.insert(
            MessengerChat(user_id=user_id, messenger=messenger, chat_id=chat_id, linked_at=_now())
        )
        await record(
            actor,
            AuditAction.CREATE,
            object_type=f"{messenger}_chat",
            object_id=chat_id,
            user_id=user_id,
        )


async def unlink_chat(actor: Actor, messenger: str, chat_id: int, reason: str) -> int | None:
    """Unlink a chat: `/stop` ("stopped"), or the person blocked or stopped the bot
    ("blocked"). Returns the person it was linked to, or None when it was not linked."""
    async with transaction():
        row = (
            await MessengerChat.select(MessengerChat.id, MessengerChat.user_id)
            .where(
                (MessengerChat.messenger == messenger)
                & (MessengerChat.chat_id == chat_id)
                & MessengerChat.unlinked_at.is_null()
            )
            .first()
        )
        if row is None:
            return None
        await MessengerChat.update(
            {MessengerChat.unlinked_at: _now(), MessengerChat.unlinked_reason: reason[:64]}
        ).where(MessengerChat.id == row["id"])
        await record(
            actor,
            AuditAction.DELETE,
            object_type=f"{messenger}_chat",
            object_id=chat_id,
            user_id=row["user_id"],
            details={"reason": reason[:64]},
        )
        return int(row["user_id"])


async def chat_owner(messenger: str, chat_id: int) -> int | None:
    """The person a chat of this messenger is linked to now, or None."""
    row = (
        await MessengerChat.select(MessengerChat.user_id)
        .where(
            (MessengerChat.messenger == messenger)
            & (MessengerChat.chat_id == chat_id)
            & MessengerChat.unlinked_at.is_null()
        )
        .first()
    )
    return int(row["user_id"]) if row else None


# ---- preferences -----------------------------------------------------------------------------


async def load_preferences(user_ids: set[int]) -> dict[int, list[dict[str, Any]]]:
    """Every preference row of these people, by person (the worker's read)."""
    if not user_ids:
        return {}
    rows = await NotificationPreference.select().where(
        any_of(NotificationPreference.user_id, user_ids)
    )
    out: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        row["channels"] = _json(row["channels"])
        out.setdefault(row["user_id"], []).append(row)
    return out


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    """A preference as the API shows it: quiet hours switched off say so."""
    off = row["quiet_from"] is not None and row["quiet_from"] == row["quiet_to"]
    return {**row, "quiet_hours": False if off else None}


async def list_preferences(actor: Actor) -> list[dict[str, Any]]:
    assert actor.user_id is not None
    return [_shown(r) for r in (await load_preferences({actor.user_id})).get(actor.user_id, [])]


async def set_preference(actor: Actor, values: dict[str, Any]) -> dict[str, Any]:
    """Create or replace the preference of (kind, child) for the signed-in person."""
    assert actor.user_id is not None and actor.principal is not None
    kind = str(values.get("kind") or "*")[:64]
    if kind not in PREFERENCE_KINDS:
        raise ValidationFailed(key="notify.error.unknown_kind", value=kind)
    student_id = values.get("student_id") or 0
    if student_id:
        # Only for a child the person may read about: otherwise the child "does not exist".
        from backend.schools.people import services as people

        try:
            target = await people.scope_target(ScopeKind.STUDENT, student_id)
        except NotFound:  # the structure issue resolves pupils; a child grant still covers
            target = ScopeTarget(student_id=student_id)
        if not actor.principal.allows(Permission.DIARY_READ, target):
            raise NotFound()
    channels = values.get("channels")
    if channels is not None:
        for channel in channels:
            if channel not in CHANNELS:
                raise ValidationFailed(key="notify.error.unknown_channel", channel=channel)
        channels = list(dict.fromkeys(channels))
    mode = values.get("mode")
    if mode is not None and mode not in MODES:
        raise ValidationFailed(key="notify.error.bad_mode", value=mode)
    for field in ("digest_at", "quiet_from", "quiet_to"):
        _check_hhmm(values.get(field))
    if channels == []:
        # "No channel" is what muting says; an empty list would silently mean the default.
        raise ValidationFailed(key="notify.error.no_channels")
    quiet_from, quiet_to = values.get("quiet_from"), values.get("quiet_to")
    if values.get("quiet_hours") is False:
        # Switched off: said so, not as an interval (equal ends are what is stored).
        if quiet_from is not None or quiet_to is not None:
            raise ValidationFailed(key="notify.error.quiet_off_with_times")
        quiet_from = quiet_to = QUIET_OFF
    elif quiet_from is not None and quiet_from == quiet_to:
        raise ValidationFailed(key="notify.error.quiet_empty", value=quiet_from)
    row = {
        "channels": channels,
        "mode": mode,
        "digest_at": values.get("digest_at"),
        "quiet_from": quiet_from,
        "quiet_to": quiet_to,
        "muted": bool(values.get("muted", False)),
    }
    async with transaction():
        await NotificationPreference.delete().where(
            (NotificationPreference.user_id == actor.user_id)
            & (NotificationPreference.kind == kind)
            & (NotificationPreference.student_id == student_id)
        )
        await NotificationPreference.insert(
            NotificationPreference(
                user_id=actor.user_id,
                kind=kind,
                student_id=student_id,
                updated_at=_now(),
                channels=row["channels"],
                mode=row["mode"],
                digest_at=row["digest_at"],
                quiet_from=row["quiet_from"],
                quiet_to=row["quiet_to"],
                muted=row["muted"],
            )
        )
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="notification_preference",
            object_id=f"{kind}:{student_id}",
            details={k: v for k, v in row.items() if v is not None},
        )
    return _shown({"kind": kind, "student_id": student_id, **row})


# ---- the inbox -------------------------------------------------------------------------------

INBOX_COLUMNS = (
    Notification.id,
    Notification.kind,
    Notification.student_id,
    Notification.title,
    Notification.body,
    Notification.urgent,
    Notification.created_at,
    Notification.read_at,
)


async def inbox(
    actor: Actor, *, student_id: int | None, unread: bool, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int, int]:
    """The person's own notifications, newest first; also how many are unread."""
    where: Any = (Notification.user_id == actor.user_id) & (
        Notification.kind != PASSWORD_RESET_CODE
    )
    if student_id is not None:
        where &= Notification.student_id == student_id
    listed = where & Notification.read_at.is_null() if unread else where
    rows = (
        await Notification.select(*INBOX_COLUMNS)
        .where(listed)
        .order_by(Notification.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    total = await Notification.count().where(listed)
    unread_count = await Notification.count().where(where & Notification.read_at.is_null())
    if student_id is not None and rows:
        # The child's marks and absences are personal data: the read is audited.
        await record(
            actor,
            AuditAction.READ_PERSONAL,
            object_type="inbox",
            student_id=student_id,
            details={"count": len(rows)},
        )
    return rows, total, unread_count


async def inbox_item(actor: Actor, notification_id: int) -> dict[str, Any]:
    row = (
        await Notification.select(*INBOX_COLUMNS)
        .where((Notification.id == notification_id) & (Notification.user_id == actor.user_id))
        .first()
    )
    if row is None:
        raise NotFound()
    return row


async def mark_read(actor: Actor, ids: list[int] | None, read: bool = True) -> int:
    """Mark some (or, with None, all) of the person's notifications read or unread."""
    where: Any = Notification.user_id == actor.user_id
    if ids is not None:
        if not ids:
            return 0
        where &= Notification.id.is_in(ids)
    async with transaction():
        changed = await Notification.count().where(where)
        await Notification.update({Notification.read_at: _now() if read else None}).where(where)
        await record(
            actor,
            AuditAction.UPDATE,
            object_type="inbox",
            details={"read": read, "ids": ids[:50] if ids else "all"},
        )
    return changed


# ---- operators: statistics, dead letters, replays, announcements -----------------------------


async def _check_school(principal: Principal, permission: Permission, school_id: int) -> None:
    target = await school_target(school_id)
    if not principal.allows(permission, target):
        raise NotFound()


async def school_statistics(
    actor: Actor, school_id: int, since: datetime | None
) -> list[dict[str, Any]]:
    assert actor.principal is not None
    await _check_school(actor.principal, Permission.NOTIFY_SCHOOL, school_id)
    # Counted by the database: a school's week is tens of thousands of deliveries.
    sql = (
        'SELECT "channel", "status", COUNT(*) AS "n", COALESCE(SUM("parts"), 0) AS "p" '
        'FROM "delivery" WHERE "school_id" = {}'
    )
    params: list[Any] = [school_id]
    if since is not None:
        sql += ' AND "created_at" >= {}'
        params.append(since)
    rows = await Delivery.raw(sql + ' GROUP BY "channel", "status"', *params)
    stats = {(r["channel"], r["status"]): (int(r["n"]), int(r["p"])) for r in rows}
    await record(
        actor, "read.delivery_stats", object_type="school", object_id=school_id, school_id=school_id
    )
    return [
        {"channel": c, "status": s, "count": n, "sms_parts": p if c == SMS else 0}
        for (c, s), (n, p) in sorted(stats.items())
    ]


async def dead_letters(
    actor: Actor, school_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    assert actor.principal is not None
    await _check_school(actor.principal, Permission.NOTIFY_SCHOOL, school_id)
    where = (Delivery.school_id == school_id) & (Delivery.status == "failed")
    rows = (
        await Delivery.select(
            Delivery.id,
            Delivery.event_id,
            Delivery.user_id,
            Delivery.channel,
            Delivery.status,
            Delivery.reason,
            Delivery.attempts,
            Delivery.dead,
            Delivery.updated_at,
        )
        .where(where)
        .order_by(Delivery.id, ascending=False)
        .limit(limit)
        .offset(offset)
    )
    total = await Delivery.count().where(where)
    return rows, total


async def replay(actor: Actor, delivery_id: int) -> None:
    """Send a failed delivery again: the worker hears of it through the outbox."""
    assert actor.principal is not None
    row = (
        await Delivery.select(Delivery.id, Delivery.school_id, Delivery.status)
        .where(Delivery.id == delivery_id)
        .first()
    )
    if row is None or row["school_id"] is None:
        raise NotFound()
    await _check_school(actor.principal, Permission.NOTIFY_SCHOOL, row["school_id"])
    if row["status"] != "failed":
        raise ValidationFailed(key="notify.error.not_failed")
    async with transaction():
        await Delivery.update(
            {
                Delivery.status: "queued",
                Delivery.dead: False,
                Delivery.reason: "replayed",
                Delivery.scheduled_for: None,
                Delivery.updated_at: _now(),
            }
        ).where(Delivery.id == delivery_id)
        await emit(REPLAY_KIND, {"delivery_id": delivery_id}, school_id=row["school_id"])
        await record(
            actor,
            "messaging.replay",
            object_type="delivery",
            object_id=delivery_id,
            school_id=row["school_id"],
        )


async def announce(
    actor: Actor,
    school_id: int,
    title: str,
    text: str,
    urgent: bool,
    class_id: int | None = None,
) -> int:
    """An announcement to every family of the school, or of one of its classes (the class's
    pupils on the day it is sent, by the book of movement); returns the event id."""
    assert actor.principal is not None
    await _check_school(actor.principal, Permission.NOTIFY_SCHOOL, school_id)
    if class_id is not None:
        target = await class_target(class_id)
        if target.school_id != school_id:
            raise NotFound()
    # Every family of the school reads it: no blank title, no control characters.
    title = clean_text(title, field="title")
    text = clean_text(text, field="text", multiline=True)
    payload: dict[str, Any] = {"school_id": school_id, "title": title, "text": text}
    payload["urgent"] = urgent
    if class_id is not None:
        payload["class_id"] = class_id
    async with transaction():
        event_id = await emit(ANNOUNCEMENT_KIND, payload, school_id=school_id)
        await record(
            actor,
            AuditAction.CREATE,
            object_type="announcement",
            object_id=event_id,
            school_id=school_id,
            details={"title": title, "class_id": class_id},
        )
    return event_id
