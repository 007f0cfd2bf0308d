"""Writing domain events to the outbox, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime as datetime_t
from typing import Any

from backend.core.db import any_of
from backend.events.tables import OutboxEvent


async def emit(
    kind: str,
    payload: dict[str, Any],
    *,
    school_id: int | None = None,
    student_id: int | None = None,
) -> int:
    """Record an event; it is delivered only if the surrounding transaction commits."""
    rows = await OutboxEvent.insert(
        OutboxEvent(kind=kind, payload=payload, school_id=school_id, student_id=student_id)
    ).returning(OutboxEvent.id)
    return int(rows[0]["id"])


# ---- reading the outbox (the notifications worker's relay) -----------------------------------


async def claim_unpublished(limit: int) -> list[dict[str, Any]]:
    """Unpublished events, oldest first, locked for this transaction.

    Call inside `transaction()`. On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several relays
    take disjoint batches; SQLite has one writer at a time (its transaction takes the lock).
    """
    from piccolo.engine.postgres import PostgresEngine

    if isinstance(OutboxEvent._meta.db, PostgresEngine):
        return list(
            await OutboxEvent.raw(
                "SELECT id, kind, school_id, student_id FROM outbox_event "
                "WHERE published_at IS NULL ORDER BY id LIMIT {} FOR UPDATE SKIP LOCKED",
                limit,
            )
        )
    return list(
        await OutboxEvent.select(
            OutboxEvent.id, OutboxEvent.kind, OutboxEvent.school_id, OutboxEvent.student_id
        )
        .where(OutboxEvent.published_at.is_null())
        .order_by(OutboxEvent.id)
        .limit(limit)
    )


async def mark_published(ids: list[int]) -> None:
    if ids:
        from datetime import UTC, datetime

        await OutboxEvent.update({OutboxEvent.published_at: datetime.now(UTC)}).where(
            any_of(OutboxEvent.id, ids)
        )


async def published_since(since: datetime_t) -> list[int]:
    """Events published to the queue from `since` on, oldest first."""
    rows = await (
        OutboxEvent.select(OutboxEvent.id)
        .where(OutboxEvent.published_at >= since)
        .order_by(OutboxEvent.id)
    )
    return [r["id"] for r in rows]


async def republish(ids: list[int]) -> None:
    """Hand these events to the relay again (their fan-out jobs were lost with the queue)."""
    if ids:
        await OutboxEvent.update({OutboxEvent.published_at: None}).where(OutboxEvent.id.is_in(ids))


async def load(event_id: int) -> dict[str, Any] | None:
    row = await OutboxEvent.select().where(OutboxEvent.id == event_id).first()
    if row is not None and isinstance(row["payload"], str):
        import json

        row["payload"] = json.loads(row["payload"] or "{}")
    return row


async def load_many(event_ids: list[int]) -> list[dict[str, Any]]:
    """Several events in one query, in id order, payloads decoded."""
    if not event_ids:
        return []
    rows = (
        await OutboxEvent.select()
        .where(any_of(OutboxEvent.id, set(event_ids)))
        .order_by(OutboxEvent.id)
        .output(load_json=True)
    )
    for row in rows:
        if isinstance(row["payload"], str):
            import json

            row["payload"] = json.loads(row["payload"] or "{}")
    return list(rows)


async def redact(event_id: int, fields: tuple[str, ...]) -> None:
    """Blank secrets (a password reset code) in a delivered event's payload."""
    row = await load(event_id)
    if row is None:
        return
    payload = dict(row["payload"] or {})
    for name in fields:
        if name in payload:
            payload[name] = ""
    await OutboxEvent.update({OutboxEvent.payload: payload}).where(OutboxEvent.id == event_id)


async def emit_many(events: list[tuple[str, dict[str, Any], int | None, int | None]]) -> None:
    """Record several events in one statement: (kind, payload, school_id, student_id) each.
    Same guarantees as `emit`; used where one command reports many changes (a lesson save)."""
    if not events:
        return
    from piccolo.engine.postgres import PostgresEngine

    if isinstance(OutboxEvent._meta.db, PostgresEngine) and len(events) > 1:
        # One array per column: a few hundred events (a turnstile batch in the morning rush)
        # cost the ORM more to render as VALUES than PostgreSQL to insert.
        from piccolo.utils.encoding import dump_json

        kinds, payloads, schools, students = zip(*events, strict=True)
        await OutboxEvent.raw(
            "INSERT INTO outbox_event (kind, payload, school_id, student_id, occurred_at) "
            "SELECT k, p::jsonb, s, st, now() "
            "FROM unnest({}::varchar[], {}::text[], {}::int[], {}::int[]) AS t(k, p, s, st)",
            list(kinds),
            [dump_json(p) for p in payloads],  # as the ORM writes a JSONB value
            list(schools),
            list(students),
        )
        return
    await OutboxEvent.insert(
        *(
            OutboxEvent(kind=kind, payload=payload, school_id=school_id, student_id=student_id)
            for kind, payload, school_id, student_id in events
        )
    )
