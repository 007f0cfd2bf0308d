"""Figures of the outbox for the operators' metrics (`backend.ops.metrics`)."""

from __future__ import annotations

from datetime import datetime

from backend.events.tables import OutboxEvent


async def backlog() -> tuple[int, datetime | None]:
    """Events not yet relayed, and when the oldest of them happened."""
    waiting = OutboxEvent.published_at.is_null()
    count = await OutboxEvent.count().where(waiting)
    oldest = (
        await OutboxEvent.select(OutboxEvent.occurred_at)
        .where(waiting)
        .order_by(OutboxEvent.id)
        .first()
    )
    return int(count), (oldest["occurred_at"] if oldest else None)
