"""The family bot's inbox (decision 0609): every update a messenger hands over is written here
before the messenger is told it arrived (the webhook's 200, the polling offset or marker moved
past it), and marked answered once the bot has answered it. A bot killed at any moment finds
the unanswered ones when it starts again; an update handed over twice (the messenger's
redelivery, a poll repeated) is one row, answered once.

The bot alone calls these (as the system, no person's rights: the rows are the messenger's
own updates, read back only by the bot).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from backend.core.db import transaction
from backend.messaging.tables import BotUpdate

ANSWERED, GAVE_UP = "answered", "gave_up"


def _now() -> datetime:
    return datetime.now(UTC)


def _loaded(row: dict[str, Any]) -> dict[str, Any]:
    payload = row["payload"]
    if isinstance(payload, str):
        payload = json.loads(payload)
    return {**row, "payload": payload}


_FIELDS = (
    BotUpdate.id,
    BotUpdate.update_key,
    BotUpdate.payload,
    BotUpdate.received_at,
    BotUpdate.attempts,
)


async def record(
    messenger: str, updates: Sequence[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """Keep the updates (key, payload) in one transaction; returns those of them still waiting
    for an answer (`id`, `update_key`, `payload`, `received_at`, `attempts`), oldest first.
    An update kept before is not kept twice, and one already answered is not returned."""
    if not updates:
        return []
    now = _now()
    keys = list(dict.fromkeys(key for key, _ in updates))
    rows = [
        BotUpdate(messenger=messenger, update_key=key, payload=payload, received_at=now)
        for key, payload in {key: payload for key, payload in updates}.items()
    ]
    async with transaction():
        await BotUpdate.insert(*rows).on_conflict(
            target=(BotUpdate.messenger, BotUpdate.update_key), action="DO NOTHING"
        )
        waiting = (
            await BotUpdate.select(*_FIELDS)
            .where(
                (BotUpdate.messenger == messenger)
                & BotUpdate.update_key.is_in(keys)
                & BotUpdate.answered_at.is_null()
            )
            .order_by(BotUpdate.id)
        )
    return [_loaded(r) for r in waiting]


async def waiting(messenger: str, limit: int = 500) -> list[dict[str, Any]]:
    """The updates not answered yet, oldest first (a restart's unfinished work)."""
    rows = (
        await BotUpdate.select(*_FIELDS)
        .where((BotUpdate.messenger == messenger) & BotUpdate.answered_at.is_null())
        .order_by(BotUpdate.id)
        .limit(limit)
    )
    return [_loaded(r) for r in rows]


async def answered(update_ids: Sequence[int], outcome: str = ANSWERED) -> None:
    """The updates are answered (or given up: `GAVE_UP`); they are never handled again."""
    if update_ids:
        await BotUpdate.update({BotUpdate.answered_at: _now(), BotUpdate.outcome: outcome}).where(
            BotUpdate.id.is_in(list(update_ids)) & BotUpdate.answered_at.is_null()
        )


async def failed(update_id: int) -> None:
    """One try of the update failed for a passing reason; it waits for the next."""
    await BotUpdate.update({BotUpdate.attempts: BotUpdate.attempts + 1}).where(
        BotUpdate.id == update_id
    )


async def purge(older_than: timedelta = timedelta(days=2)) -> int:
    """Forget updates answered long ago (a messenger redelivers for a day at most)."""
    before = _now() - older_than
    gone = (
        await BotUpdate.delete()
        .where(BotUpdate.answered_at.is_not_null() & (BotUpdate.answered_at < before))
        .returning(BotUpdate.id)
    )
    return len(gone)
