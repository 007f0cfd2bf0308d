"""The family bot's inbox (decision 0609): every update a messenger hands over is written here
before the messenger is told it arrived (the webhook's 200, the polling offset or marker moved
past it), and marked answered once the bot has answered it. A bot killed at any moment finds
the unanswered ones when it starts again; an update handed over twice (the messenger's
redelivery, a poll repeated) is one row, answered once.

A process answering an update holds it (`claimed_at`, renewed when its handler starts): the
sweep of any process takes only rows nobody has held for `lease` (a killed process's, a
failed try's), so two copies of the bot never answer one update at once.

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
LEASE = timedelta(seconds=30)


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
    BotUpdate.claimed_at,
)


def _free(now: datetime, lease: timedelta) -> Any:
    """Rows waiting and held by nobody (never, or not for `lease`)."""
    return BotUpdate.answered_at.is_null() & (
        BotUpdate.claimed_at.is_null() | (BotUpdate.claimed_at < now - lease)
    )


async def _claim(ids: list[int], now: datetime, lease: timedelta) -> list[dict[str, Any]]:
    if not ids:
        return []
    rows = (
        await BotUpdate.update({BotUpdate.claimed_at: now})
        .where(BotUpdate.id.is_in(ids) & _free(now, lease))
        .returning(*_FIELDS)
    )
    return sorted((_loaded(r) for r in rows), key=lambda r: r["id"])


async def record(
    messenger: str, updates: Sequence[tuple[str, dict[str, Any]]], lease: timedelta = LEASE
) -> list[dict[str, Any]]:
    """Keep the updates (key, payload) in one transaction and hold them; returns the ones this
    call holds (`id`, `update_key`, `payload`, `received_at`, `attempts`), oldest first: the
    new ones, and ones kept before, not answered, that nobody holds. An update kept before is
    not kept twice, and one answered is not returned."""
    if not updates:
        return []
    now = _now()
    payloads = dict(updates)
    async with transaction():
        new = (
            await BotUpdate.insert(
                *(
                    BotUpdate(
                        messenger=messenger,
                        update_key=key,
                        payload=payload,
                        received_at=now,
                        claimed_at=now,
                    )
                    for key, payload in payloads.items()
                )
            )
            .on_conflict(target=(BotUpdate.messenger, BotUpdate.update_key), action="DO NOTHING")
            .returning(*_FIELDS)
        )
        kept = {r["update_key"] for r in new}
        again = [key for key in payloads if key not in kept]
        older: list[dict[str, Any]] = []
        if again:
            ids = await BotUpdate.select(BotUpdate.id).where(
                (BotUpdate.messenger == messenger) & BotUpdate.update_key.is_in(again)
            )
            older = await _claim([r["id"] for r in ids], now, lease)
    return sorted([*(_loaded(r) for r in new), *older], key=lambda r: r["id"])


async def claim_waiting(
    messenger: str, lease: timedelta = LEASE, limit: int = 500
) -> list[dict[str, Any]]:
    """Hold and return the updates not answered that nobody holds, oldest first (a killed
    process's unfinished work, a failed try's)."""
    now = _now()
    ids = (
        await BotUpdate.select(BotUpdate.id)
        .where((BotUpdate.messenger == messenger) & _free(now, lease))
        .order_by(BotUpdate.id)
        .limit(limit)
    )
    return await _claim([r["id"] for r in ids], now, lease)


async def hold(update_id: int, since: datetime) -> datetime | None:
    """Renew the hold taken at `since` on an update whose handler starts only now (it waited
    its turn); None when it is not held from then any more (another process took it after the
    lease): it is then not answered here. Returns the new hold's time."""
    now = _now()
    renewed = (
        await BotUpdate.update({BotUpdate.claimed_at: now})
        .where((BotUpdate.id == update_id) & (BotUpdate.claimed_at == since))
        .returning(BotUpdate.id)
    )
    return now if renewed else None


async def answered(update_ids: Sequence[int], outcome: str = ANSWERED) -> None:
    """The updates are answered (or given up: `GAVE_UP`); they are never handled again."""
    if update_ids:
        await BotUpdate.update({BotUpdate.answered_at: _now(), BotUpdate.outcome: outcome}).where(
            BotUpdate.id.is_in(list(update_ids)) & BotUpdate.answered_at.is_null()
        )


async def failed(update_id: int) -> None:
    """One try of the update failed for a passing reason; it is let go for the next sweep."""
    await BotUpdate.update(
        {BotUpdate.attempts: BotUpdate.attempts + 1, BotUpdate.claimed_at: None}
    ).where(BotUpdate.id == update_id)


async def purge(older_than: timedelta = timedelta(days=2)) -> int:
    """Forget updates answered long ago (a messenger redelivers for a day at most)."""
    before = _now() - older_than
    gone = (
        await BotUpdate.delete()
        .where(BotUpdate.answered_at.is_not_null() & (BotUpdate.answered_at < before))
        .returning(BotUpdate.id)
    )
    return len(gone)
