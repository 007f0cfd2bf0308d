"""The outbox's retention: events relayed before the deliveries' term (`backend.ops.retention`).
An event not yet relayed is never removed, whatever its age."""

from __future__ import annotations

from datetime import datetime

from backend.core.purge import purge_rows
from backend.events.tables import OutboxEvent


async def purge(before: datetime, *, dry_run: bool) -> dict[str, int]:
    old = OutboxEvent.published_at.is_not_null() & (OutboxEvent.published_at < before)
    return {"outbox_event": await purge_rows(OutboxEvent, old, dry_run=dry_run)}
