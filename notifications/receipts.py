"""What came back from a send, kept in Redis: the send's record (the provider answered), when its
request left, the phones' push receipts (written to the deliveries in batches) and the SMS
centre's delivery receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from backend.messaging import deliveries as records
from backend.messaging.deliveries import (
    LEFT_PREFIX,
    PUSH_RECEIPTS_KEY,
    SENT_PREFIX,
    SENT_RECORD_SECONDS,
)
from notifications.channels.base import Sent


class Receipts:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    @staticmethod
    def record(delivery_id: int, sent: Sent, address: str) -> tuple[str, str, int]:
        """A send's record (key, value, seconds to keep), written as its answer came back."""
        value = {
            "provider_id": sent.provider_id,
            "parts": sent.parts,
            "address": address,
            "gone": list(sent.gone),
        }
        return f"{SENT_PREFIX}{delivery_id}", json.dumps(value), SENT_RECORD_SECONDS

    async def recorded(self, delivery_ids: list[int]) -> dict[int, Sent]:
        """Sends on record (`record`) among deliveries found "sending": a worker sent them
        and died before their status was written."""
        if not delivery_ids:
            return {}
        values = await self.redis.mget([f"{SENT_PREFIX}{i}" for i in delivery_ids])
        found: dict[int, Sent] = {}
        for delivery_id, raw in zip(delivery_ids, values, strict=True):
            if raw:
                value = json.loads(raw)
                found[delivery_id] = Sent(
                    provider_id=value["provider_id"],
                    parts=value["parts"],
                    gone=tuple(value["gone"]),
                    meta={"address": value["address"]},
                )
        return found

    async def left(self, delivery_ids: list[int]) -> dict[int, datetime]:
        """When the last request of each of these deliveries left, where one did."""
        if not delivery_ids:
            return {}
        values = await self.redis.mget([f"{LEFT_PREFIX}{i}" for i in delivery_ids])
        return {
            i: datetime.fromtimestamp(float(v), UTC)
            for i, v in zip(delivery_ids, values, strict=True)
            if v
        }

    async def receipts(self, delivery_ids: list[int]) -> set[int]:
        """Deliveries among these whose phone said the push arrived, its word not yet written
        down (`flush`)."""
        if not delivery_ids:
            return set()
        found = await self.redis.hmget(PUSH_RECEIPTS_KEY, [str(i) for i in delivery_ids])
        return {i for i, at in zip(delivery_ids, found, strict=True) if at}

    async def flush(self, limit: int = 2000) -> int:
        """Write the phones' receipts waiting in Redis to their deliveries as "delivered", in
        one statement (one commit) for up to `limit` of them, then forget them. Two workers
        flushing the same receipts write the same thing. `delivered_at` is the latest receipt
        of the batch: within the worker's flush interval of each one's own."""
        _, found = await self.redis.hscan(PUSH_RECEIPTS_KEY, 0, count=limit)
        waiting: dict[Any, Any] = found if isinstance(found, dict) else {}
        if not waiting:
            return 0
        ids = [int(k) for k in waiting]
        at = datetime.fromtimestamp(max(float(v) for v in waiting.values()), UTC)
        await records.push_delivered(ids, at)
        await self.redis.hdel(PUSH_RECEIPTS_KEY, *waiting.keys())
        return len(ids)

    @staticmethod
    async def on_sms_receipt(provider_id: str, state: str) -> None:
        """A delivery receipt from the SMS centre."""
        await records.sms_receipt(provider_id, state)
