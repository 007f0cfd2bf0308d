"""Figures of the deliveries for the operators' metrics (`backend.ops.metrics`)."""

from __future__ import annotations

from datetime import datetime

from backend.messaging.tables import Delivery


async def by_channel_and_status(since: datetime) -> dict[tuple[str, str], int]:
    """Deliveries created since `since`, counted by channel and status."""
    rows = await Delivery.raw(
        'SELECT "channel", "status", COUNT(*) AS "n" FROM "delivery" '
        'WHERE "created_at" >= {} GROUP BY "channel", "status"',
        since,
    )
    return {(row["channel"], row["status"]): int(row["n"]) for row in rows}


async def dead_letters() -> int:
    return int(await Delivery.count().where(Delivery.dead == True))  # noqa: E712
