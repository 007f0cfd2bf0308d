"""Messaging's retention: deliveries (the log of every send) and inbox notifications older
than the configured term (`backend.ops.retention`)."""

from __future__ import annotations

from datetime import datetime

from backend.core.purge import purge_rows
from backend.messaging.tables import Delivery, Notification


async def purge(before: datetime, *, dry_run: bool) -> dict[str, int]:
    return {
        "delivery": await purge_rows(Delivery, Delivery.created_at < before, dry_run=dry_run),
        "notification": await purge_rows(
            Notification, Notification.created_at < before, dry_run=dry_run
        ),
    }
