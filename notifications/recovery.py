"""After the queue's Redis lost its data (restarted empty, failed over to an empty replica, or
flushed), the jobs it held are gone: fan-outs of published events and the deliveries' sends and
retries. The database still knows what was owed, and every job is idempotent, so they are
enqueued again from it (decision 1100).

A key of its own marks the queue as whole. A worker that finds it missing enqueues again, and
sets the mark once that is done (two workers doing it at once enqueue nothing twice: the jobs'
keys are the same): the events published in the last `RECOVERY_WINDOW` that have no
notification yet (the relay takes them again), and the deliveries of that window still to be
sent, at their scheduled time. A fresh install's first worker finds nothing to do. Digests are
not re-planned here: their deliveries wait for the person's next digest.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from redis.asyncio import Redis

from backend.events import services as events
from backend.messaging import deliveries as records
from notifications.jobs import Jobs

log = logging.getLogger("parta.notify.recovery")

QUEUE_MARK = "parta:notify:queue-whole:{queue}"
RECOVERY_WINDOW = timedelta(hours=24)
CHUNK = 5000


async def recover_if_emptied(
    redis: Redis, queue: str, jobs: Jobs, now: datetime, *, force: bool = False
) -> bool:
    """Enqueue again what a lost queue held, if the queue's mark is gone (or `force`: a
    delivery's job could not be enqueued); whether it was."""
    mark = QUEUE_MARK.format(queue=queue)
    if not force and await redis.exists(mark):
        return False
    since = now - RECOVERY_WINDOW
    published = await events.published_since(since)
    lost_events: list[int] = []
    for start in range(0, len(published), CHUNK):
        chunk = published[start : start + CHUNK]
        fanned = await records.events_with_notifications(chunk)
        lost_events += [e for e in chunk if e not in fanned]
    for start in range(0, len(lost_events), CHUNK):
        await events.republish(lost_events[start : start + CHUNK])
    live = await records.live_since(since)
    await jobs.enqueue_many(
        [jobs.delivery_job(r["id"], r["attempts"], r["scheduled_for"]) for r in live]
    )
    if lost_events or live:
        log.warning(
            "the queue had lost its jobs: enqueued again",
            extra={"events": len(lost_events), "deliveries": len(live)},
        )
    await redis.set(mark, "1")
    return True
