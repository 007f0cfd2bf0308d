"""The relay: unpublished outbox events to the queue, as fan-out jobs."""

from __future__ import annotations

from backend.core.db import transaction
from backend.events import services as events
from backend.events.kinds import ANNOUNCEMENT_CREATED
from backend.settings import Settings
from notifications.jobs import Jobs


class Relay:
    def __init__(self, settings: Settings, jobs: Jobs) -> None:
        self.settings = settings
        self.jobs = jobs

    async def relay_once(self) -> int:
        """Move one batch of unpublished outbox events to the queue, as fan-out jobs of up to
        `notify_fanout_batch` events each (an announcement alone: it is big on its own). The
        job key names its events: a relay that dies after enqueueing and before marking
        re-enqueues the same events, and the fan-out is idempotent whatever the grouping."""
        async with transaction():
            rows = await events.claim_unpublished(self.settings.notify_relay_batch)
            if not rows:
                return 0
            size = max(1, self.settings.notify_fanout_batch)
            groups: list[list[int]] = []
            small: list[int] = []
            for row in rows:
                if row["kind"] == ANNOUNCEMENT_CREATED:
                    groups.append([row["id"]])
                    continue
                small.append(row["id"])
                if len(small) >= size:
                    groups.append(small)
                    small = []
            if small:
                groups.append(small)
            await self.jobs.enqueue_many(
                [self.jobs.job("fanout", f"fanout:{g[0]}:{g[-1]}", event_ids=g) for g in groups]
            )
            await events.mark_published([r["id"] for r in rows])
        return len(rows)
