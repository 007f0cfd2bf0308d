"""From an outbox event to deliveries: the worker's jobs call into one `Pipeline` built from
the settings, a thin facade over the parts:

- `relay`: unpublished outbox events to the queue, as fan-out jobs;
- `fanout`: recipients, preferences, notifications and deliveries, the jobs that send them;
- `delivery`: one delivery with pacing, retries, the wait for a send found in flight, fallback;
- `digest`: a person's day gathered into one message;
- `receipts`: sends on record, the phones' push receipts, the SMS centre's receipts.

Every read and write of the messaging tables goes through `backend.messaging.deliveries`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis
from saq.queue import Queue

from backend.messaging.deliveries import LEFT_PREFIX, SENT_PREFIX
from backend.settings import Settings
from notifications.channels.base import Channel
from notifications.delivery import SEND_TIMEOUT, Sender
from notifications.digest import Digests
from notifications.fanout import Fanout
from notifications.jobs import JOB_HEARTBEAT, Jobs, utcnow
from notifications.pacing import Pacer
from notifications.preferences import SchoolPolicy
from notifications.receipts import Receipts
from notifications.relay import Relay

__all__ = ["JOB_HEARTBEAT", "LEFT_PREFIX", "SEND_TIMEOUT", "SENT_PREFIX", "Pipeline", "utcnow"]


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        queue: Queue,
        channels: dict[str, Channel],
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.queue = queue
        self.channels = channels
        self.clock = clock
        self.pacer = Pacer(redis, headroom=settings.notify_rate_headroom)
        self.jobs = Jobs(queue, clock)
        self.receipts = Receipts(redis)
        self.relay = Relay(settings, self.jobs)
        self.fanouts = Fanout(settings, redis, self.jobs, clock)
        self.sender = Sender(settings, redis, self.jobs, channels, self.pacer, self.receipts, clock)
        self.digests = Digests(self.jobs, channels, self.pacer, self.sender, clock)

    @property
    def _policies(self) -> dict[int, tuple[float, SchoolPolicy, str]]:
        """The schools' policies the fan-out keeps for a while (a test clears them)."""
        return self.fanouts._policies

    def epoch(self, moment: datetime | None) -> int:
        return self.jobs.epoch(moment)

    async def enqueue_delivery(self, delivery_id: int, attempt: int, at: datetime | None) -> None:
        await self.jobs.enqueue_delivery(delivery_id, attempt, at)

    async def relay_once(self) -> int:
        return await self.relay.relay_once()

    async def fanout(self, event_id: int) -> int:
        return await self.fanouts.fanout_many([event_id])

    async def fanout_many(self, event_ids: list[int]) -> int:
        return await self.fanouts.fanout_many(event_ids)

    async def deliver(self, delivery_id: int) -> str:
        return await self.sender.deliver(delivery_id)

    async def deliver_many(self, delivery_ids: list[int]) -> list[str]:
        return await self.sender.deliver_many(delivery_ids)

    async def digest(self, user_id: int, channel: str) -> str:
        return await self.digests.digest(user_id, channel)

    async def flush_receipts(self, limit: int = 2000) -> int:
        return await self.receipts.flush(limit)

    async def on_receipt(self, provider_id: str, state: str) -> None:
        await self.receipts.on_sms_receipt(provider_id, state)
