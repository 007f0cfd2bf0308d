"""The deliveries' records: every read and write of notifications, deliveries, device tokens and
linked chats that the notifications worker makes, and the Redis keys the worker and the API
share. The delivery state machine is written here alone (queued | waiting | digest ->
sending -> sent -> delivered, or failed / skipped); the worker decides, this module records.

This is the messaging context's published module for the worker: `notifications` imports it
(and `services`), never `backend.messaging.tables`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column

from backend.core.db import any_of, insert_rows, is_postgres, transaction
from backend.events.kinds import MESSENGERS, PUSH, SMS
from backend.messaging.tables import Delivery, DeviceToken, MessengerChat, Notification

# ---- Redis keys shared by the worker and the API ---------------------------------------------

# The phones' push receipts, waiting for the worker to write them: delivery id -> when.
PUSH_RECEIPTS_KEY = "parta:notify:receipts"
# The devices a push went to (`token_digest` of each, space-separated), written by the worker
# as the push leaves: a receipt is checked against them in Redis alone.
PUSHED_PREFIX = "parta:notify:pushed:"
# A send on record as soon as its provider answered (provider id, parts, address, tokens gone).
SENT_PREFIX = "parta:notify:sent:"
# When a send's request actually left (epoch seconds): a later run that finds the delivery
# "sending" waits for its outcome counting from here.
LEFT_PREFIX = "parta:notify:left:"
# Long enough for the job of a killed worker to come back (a heartbeat, or a retry's backoff of
# at most `notify_retry_max_seconds`), short enough that Redis holds only the last hour's sends.
SENT_RECORD_SECONDS = 3600
# Pub/sub channel of a person's inbox (the API's live stream): {"id": ..., "kind": ...}.
INBOX_CHANNEL = "parta:inbox:{}"

# ---- states ----------------------------------------------------------------------------------

DONE = ("sent", "delivered", "failed", "skipped")
PENDING = ("queued", "waiting", "digest", "sending")
LIVE = ("queued", "waiting", "sending")  # what a delivery job may still send

NOTIFICATION_COLUMNS = (
    "event_id",
    "user_id",
    "student_id",
    "school_id",
    "kind",
    "title",
    "body",
    "urgent",
    "created_at",
)
DELIVERY_COLUMNS = (
    "notification_id",
    "event_id",
    "user_id",
    "school_id",
    "channel",
    "status",
    "reason",
    "attempts",
    "provider_id",
    "address",
    "parts",
    "dead",
    "scheduled_for",
    "created_at",
    "updated_at",
    "meta",
)

# (channel, status, when, meta) of one delivery a fan-out plans for one person and event.
Plan = list[tuple[str, str, datetime | None, dict[str, Any]]]


def utcnow() -> datetime:
    return datetime.now(UTC)


# ---- fan-out ---------------------------------------------------------------------------------


async def create(
    notes: list[tuple[Any, ...]],
    plans: dict[tuple[int, int], Plan],
    schools: dict[int, int | None],
    now: datetime,
) -> dict[tuple[int, int], int]:
    """The notifications (rows of `NOTIFICATION_COLUMNS`) of some events and the deliveries
    planned for each (event, person), in one transaction; rows already there stay as they are
    (one notification per event and person, one delivery per event, person and channel).
    Returns the notification id of each (event, person) of these events."""
    if not notes:
        return {}
    event_ids = list(schools)
    async with transaction():
        await insert_rows(Notification, NOTIFICATION_COLUMNS, notes)
        rows = await Notification.select(
            Notification.id, Notification.event_id, Notification.user_id
        ).where(any_of(Notification.event_id, event_ids))
        ids = {(r["event_id"], r["user_id"]): r["id"] for r in rows}
        deliveries = [
            (
                ids[key],
                key[0],
                key[1],
                schools[key[0]],
                channel,
                status,
                "",
                0,
                "",
                "",
                0,
                False,
                at,
                now,
                now,
                json.dumps(meta, ensure_ascii=False),
            )
            for key, plan in plans.items()
            if key in ids
            for channel, status, at, meta in plan
        ]
        await insert_rows(Delivery, DELIVERY_COLUMNS, deliveries)
    return ids


async def pending_of_events(event_ids: list[int]) -> list[dict[str, Any]]:
    """The unfinished deliveries of these events, oldest first."""
    return list(
        await Delivery.select(
            Delivery.id,
            Delivery.status,
            Delivery.scheduled_for,
            Delivery.user_id,
            Delivery.channel,
            Delivery.meta,
        )
        .where(any_of(Delivery.event_id, event_ids) & any_of(Delivery.status, PENDING))
        .order_by(Delivery.id)
    )


async def events_with_notifications(event_ids: list[int]) -> set[int]:
    """Which of these events were fanned out (have a notification)."""
    if not event_ids:
        return set()
    rows = await Notification.select(Notification.event_id).where(
        Notification.event_id.is_in(event_ids)
    )
    return {r["event_id"] for r in rows}


async def live_since(since: datetime) -> list[dict[str, Any]]:
    """Deliveries made from `since` on that a delivery job may still send (their jobs are
    wanted on the queue), oldest first."""
    return list(
        await Delivery.select(
            Delivery.id, Delivery.attempts, Delivery.scheduled_for, Delivery.status
        )
        .where(
            (Delivery.created_at >= since)
            & Delivery.status.is_in(list(LIVE))
            & (Delivery.dead == False)  # noqa: E712 - a column comparison
        )
        .order_by(Delivery.id)
    )


# ---- reads for a delivery --------------------------------------------------------------------


async def deliveries(delivery_ids: list[int]) -> dict[int, dict[str, Any]]:
    return {r["id"]: r for r in await Delivery.select().where(any_of(Delivery.id, delivery_ids))}


async def delivery(delivery_id: int) -> dict[str, Any] | None:
    return await Delivery.select().where(Delivery.id == delivery_id).first()


async def notifications(notification_ids: list[int]) -> dict[int, dict[str, Any]]:
    if not notification_ids:
        return {}
    rows = await Notification.select().where(any_of(Notification.id, notification_ids))
    return {n["id"]: n for n in rows}


async def push_tokens(user_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Every active push token of these people."""
    users = list(set(user_ids))
    out: dict[int, tuple[str, ...]] = {}
    if not users:
        return out
    rows = await DeviceToken.select(DeviceToken.user_id, DeviceToken.token).where(
        any_of(DeviceToken.user_id, users) & DeviceToken.is_active.eq(True)
    )
    for r in rows:
        out[r["user_id"]] = (*out.get(r["user_id"], ()), r["token"])
    return out


async def messenger_chats(messenger: str, user_ids: Iterable[int]) -> dict[int, str]:
    """The latest linked chat of each of these people in this messenger (telegram, max)."""
    users = list(set(user_ids))
    out: dict[int, str] = {}
    if not users:
        return out
    rows = (
        await MessengerChat.select(MessengerChat.user_id, MessengerChat.chat_id)
        .where(
            (MessengerChat.messenger == messenger)
            & any_of(MessengerChat.user_id, users)
            & MessengerChat.unlinked_at.is_null()
        )
        .order_by(MessengerChat.id, ascending=False)
    )
    for r in rows:
        out.setdefault(r["user_id"], str(r["chat_id"]))
    return out


async def siblings(notification_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """The channel and status of every delivery of these notifications."""
    out: dict[int, list[dict[str, Any]]] = {}
    ids = list(set(notification_ids))
    if not ids:
        return out
    for o in await Delivery.select(
        Delivery.notification_id, Delivery.channel, Delivery.status
    ).where(any_of(Delivery.notification_id, ids)):
        out.setdefault(o["notification_id"], []).append(o)
    return out


async def due_digest(user_id: int, channel: str, until: datetime) -> list[dict[str, Any]]:
    """A person's deliveries gathered for a digest on one channel and due by `until`."""
    return list(
        await Delivery.select()
        .where(
            (Delivery.user_id == user_id)
            & (Delivery.channel == channel)
            & (Delivery.status == "digest")
            & (Delivery.scheduled_for <= until)
        )
        .order_by(Delivery.id)
    )


# ---- the state machine -----------------------------------------------------------------------


async def claim(rows: list[dict[str, Any]]) -> set[int]:
    """Mark these deliveries "sending", one more attempt each, but only those no other run
    changed since they were read (their status and attempts, the claim's version, are as
    read). Two runs may hold the same delivery: a fan-out run again after its worker died
    queues the deliveries still waiting in batches of other keys. Only one of them sends."""
    versions: dict[tuple[str, int], list[int]] = {}
    for r in rows:
        versions.setdefault((r["status"], r["attempts"]), []).append(r["id"])
    claimed: set[int] = set()
    now = utcnow()
    for (status, attempts), ids in versions.items():
        got = (
            await Delivery.update(
                {
                    Delivery.status: "sending",
                    Delivery.attempts: attempts + 1,
                    Delivery.updated_at: now,
                }
            )
            .where(
                any_of(Delivery.id, ids)
                & (Delivery.status == status)
                & (Delivery.attempts == attempts)
            )
            .returning(Delivery.id)
        )
        claimed.update(g["id"] for g in got)
    return claimed


async def set_state(delivery_id: int, **values: Any) -> None:
    """Write a delivery's state; a delivery the phone confirmed stays "delivered"."""
    values["updated_at"] = utcnow()
    await Delivery.update({getattr(Delivery, k): v for k, v in values.items()}).where(
        (Delivery.id == delivery_id) & (Delivery.status != "delivered")
    )


async def set_many(delivery_ids: list[int], **values: Any) -> None:
    """Write the same state to several deliveries (a digest's)."""
    await Delivery.update({getattr(Delivery, k): v for k, v in values.items()}).where(
        Delivery.id.is_in(delivery_ids)
    )


async def mark_sent(delivery_id: int, address: str, provider_id: str, parts: int) -> None:
    """The provider took the message. A delivery the phone confirmed meanwhile stays
    "delivered" (its receipt came before the provider's answer was written)."""
    now = utcnow()
    values: dict[Column | str, Any] = {
        Delivery.address: address[:300],
        Delivery.provider_id: provider_id[:200],
        Delivery.parts: parts,
        Delivery.sent_at: now,
        Delivery.reason: "",
        Delivery.updated_at: now,
    }
    changed = (
        await Delivery.update({Delivery.status: "sent", **values})
        .where((Delivery.id == delivery_id) & (Delivery.status != "delivered"))
        .returning(Delivery.id)
    )
    if not changed:
        await Delivery.update(values).where(Delivery.id == delivery_id)


# `mark_sent_many` on PostgreSQL. A delivery the phone confirmed before the provider's answer
# was written stays "delivered" (its other fields are written all the same).
_MARK_SENT_PG = (
    "UPDATE delivery SET "
    "status = CASE WHEN delivery.status = 'delivered' THEN delivery.status ELSE 'sent' END, "
    "address = s.address, provider_id = s.provider_id, parts = s.parts, "
    "sent_at = {}, reason = '', updated_at = {} "
    "FROM unnest({}::bigint[], {}::varchar[], {}::varchar[], {}::smallint[]) "
    "AS s(id, address, provider_id, parts) WHERE delivery.id = s.id"
)


async def mark_sent_many(sent: list[tuple[int, str, str, int]]) -> None:
    """`mark_sent` for many deliveries in one statement: (id, address, provider id, parts)
    each. The worker writes the sends that finished at about the same moment together."""
    if not sent:
        return
    now = utcnow()
    if is_postgres():
        # One array per column: the same statement whatever the batch's size, prepared once.
        columns = list(zip(*sent, strict=True))
        await Delivery.raw(_MARK_SENT_PG, now, now, *(list(c) for c in columns))
        return
    args: list[Any] = []

    def case(index: int, cast: str) -> str:
        parts = []
        for item in sent:
            parts.append("WHEN {} THEN CAST({} AS " + cast + ")")
            args.extend((item[0], item[index]))
        return "CASE id " + " ".join(parts) + " END"

    address = case(1, "VARCHAR(300)")
    provider = case(2, "VARCHAR(200)")
    parts = case(3, "SMALLINT")
    args.extend((now, now))
    args.extend(item[0] for item in sent)
    marks = ", ".join("{}" for _ in sent)
    # A delivery the phone confirmed before the provider's answer was written stays
    # "delivered" (its other fields are written all the same). Only placeholders are joined in.
    status = "CASE WHEN status = 'delivered' THEN status ELSE 'sent' END"
    sql = (
        f"UPDATE delivery SET status = {status}, "  # noqa: S608
        f"address = {address}, provider_id = {provider}, parts = {parts}, "
        "sent_at = {}, reason = '', updated_at = {} "
        f"WHERE id IN ({marks})"
    )
    await Delivery.raw(sql, *args)


async def mark_digest_sent(delivery_ids: list[int], provider_id: str, meta: dict[str, Any]) -> None:
    await Delivery.update(
        {
            Delivery.status: "sent",
            Delivery.provider_id: provider_id[:200],
            Delivery.sent_at: utcnow(),
            Delivery.attempts: Delivery.attempts + 1,
            Delivery.meta: meta,
        }
    ).where(Delivery.id.is_in(delivery_ids))


async def blank_notification(notification_id: int) -> None:
    """Keep no copy of a text that must not stay (a password reset code that arrived)."""
    await Notification.update({Notification.body: ""}).where(Notification.id == notification_id)


async def add(
    row: dict[str, Any],
    channel: str,
    meta: dict[str, Any],
    *,
    status: str = "queued",
    scheduled_for: datetime | None = None,
) -> int | None:
    """Another channel's delivery of `row`'s notification (a fallback), unless that one is
    there already; returns its id either way."""
    now = utcnow()
    await Delivery.insert(
        Delivery(
            notification_id=row["notification_id"],
            event_id=row["event_id"],
            user_id=row["user_id"],
            school_id=row["school_id"],
            channel=channel,
            status=status,
            scheduled_for=scheduled_for,
            created_at=now,
            updated_at=now,
            meta=meta,
        )
    ).on_conflict(action="DO NOTHING")
    new = (
        await Delivery.select(Delivery.id)
        .where(
            (Delivery.event_id == row["event_id"])
            & (Delivery.user_id == row["user_id"])
            & (Delivery.channel == channel)
        )
        .first()
    )
    return int(new["id"]) if new else None


async def switch_off(channel: str, gone: list[str]) -> None:
    """Addresses the provider said are gone: push tokens unregistered, chats that blocked
    the bot."""
    if not gone:
        return
    now = utcnow()
    if channel == PUSH:
        await DeviceToken.update(
            {
                DeviceToken.is_active: False,
                DeviceToken.disabled_at: now,
                DeviceToken.disabled_reason: "unregistered",
            }
        ).where(DeviceToken.token.is_in(gone))
    elif channel in MESSENGERS:
        await MessengerChat.update(
            {MessengerChat.unlinked_at: now, MessengerChat.unlinked_reason: "blocked"}
        ).where(
            (MessengerChat.messenger == channel)
            & MessengerChat.chat_id.is_in([int(g) for g in gone])
            & MessengerChat.unlinked_at.is_null()
        )


async def push_delivered(delivery_ids: list[int], at: datetime) -> None:
    """The phones said these pushes arrived."""
    await Delivery.update(
        {Delivery.status: "delivered", Delivery.delivered_at: at, Delivery.updated_at: utcnow()}
    ).where(
        any_of(Delivery.id, delivery_ids)
        & (Delivery.channel == PUSH)
        & (Delivery.status != "skipped")
    )


async def sms_receipt(provider_id: str, state: str) -> None:
    """The SMS centre's delivery receipt."""
    values: dict[Any, Any] = {Delivery.updated_at: utcnow()}
    if state == "delivered":
        values.update({Delivery.status: "delivered", Delivery.delivered_at: utcnow()})
    else:
        values.update({Delivery.status: "failed", Delivery.reason: f"receipt:{state}"})
    await Delivery.update(values).where(
        (Delivery.channel == SMS) & (Delivery.provider_id == provider_id)
    )
