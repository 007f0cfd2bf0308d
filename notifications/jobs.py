"""The worker's jobs on the queue: how each is built (key, schedule, retries, heartbeat) and
enqueued, and the clock they are scheduled by (a test may move it)."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time as _time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from saq import Job
from saq.queue import Queue

log = logging.getLogger("parta.notify.jobs")

ENQUEUE_CHUNK = 500
# Seconds a running job may go untouched before the sweep takes its worker for dead (the
# worker touches its jobs every third of it: notifications.worker._alive).
JOB_HEARTBEAT = 6

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime) -> datetime:
    """SQLite may hand back a naive timestamp; it is UTC as written."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def loaded(value: Any) -> Any:
    """A JSON column's value (a string unless the query decoded it)."""
    return json.loads(value) if isinstance(value, str) else value


class Jobs:
    def __init__(self, queue: Queue, clock: Callable[[], datetime] = utcnow) -> None:
        self.queue = queue
        self.clock = clock
        # A delivery written to the database whose job Redis refused (a restart under way):
        # the worker's queue watch enqueues every live delivery again from the database at
        # its next look (notifications/recovery.py), instead of leaving that one without a job.
        self.owed_recovery = False

    def epoch(self, moment: datetime | None) -> int:
        """Queue time (real epoch seconds) for an instant of our clock (a test may move it)."""
        if moment is None:
            return 0
        ahead = (moment - self.clock()).total_seconds()
        return 0 if ahead <= 0 else math.ceil(_time.time() + ahead)

    def job(self, function: str, key: str, scheduled: int = 0, **kwargs: Any) -> Job:
        return Job(
            function=function,
            kwargs=kwargs,
            key=key,
            scheduled=scheduled,
            timeout=120,
            retries=5,  # a worker killed mid-job: the sweep runs it again
            heartbeat=JOB_HEARTBEAT,
            retry_delay=1.0,
            retry_backoff=30,
            ttl=24 * 3600,
        )

    async def enqueue(self, function: str, key: str, scheduled: int = 0, **kwargs: Any) -> None:
        await self.queue.enqueue(self.job(function, key, scheduled, **kwargs))

    async def enqueue_many(self, jobs: list[Job]) -> None:
        """Enqueue many jobs at once. SAQ 0.26 has no batch enqueue (each `enqueue` is one Lua
        call, and a job's key must be checked against the queue), so the calls run
        concurrently; the queue's own semaphore (`max_concurrent_ops`) bounds the connections
        they take. A job whose key the queue already holds is skipped by SAQ, as one by one."""
        for start in range(0, len(jobs), ENQUEUE_CHUNK):
            await asyncio.gather(
                *(self.queue.enqueue(job) for job in jobs[start : start + ENQUEUE_CHUNK])
            )

    def delivery_job(self, delivery_id: int, attempt: int, at: datetime | None) -> Job:
        return self.job(
            "deliver", f"deliver:{delivery_id}:{attempt}", self.epoch(at), delivery_id=delivery_id
        )

    def deliveries_job(self, delivery_ids: list[int]) -> Job:
        """Deliveries due now, sent together by one worker."""
        key = f"deliver:{delivery_ids[0]}-{delivery_ids[-1]}:0"
        return self.job("deliver_many", key, delivery_ids=delivery_ids)

    def digest_job(self, user_id: int, channel: str, at: datetime, tag: str = "") -> Job:
        """The digest of one person on one channel at one instant. The key names the instant,
        not only the day: a person who moves the digest earlier the same day gets a job at the
        new time (a key of the day kept the first schedule of the day, and the queue skips a
        key it holds)."""
        moment = aware(at).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return self.job(
            "digest",
            f"digest:{user_id}:{channel}:{moment}{tag}",
            self.epoch(at),
            user_id=user_id,
            channel=channel,
        )

    async def enqueue_delivery(self, delivery_id: int, attempt: int, at: datetime | None) -> None:
        """Enqueue a delivery's send. The row is committed first; if Redis cannot take the
        job now, the delivery is owed to the next recovery rather than lost."""
        try:
            await self.queue.enqueue(self.delivery_job(delivery_id, attempt, at))
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.owed_recovery = True
            log.warning(
                "delivery not enqueued (%r): enqueued again from the database soon",
                exc,
                extra={"delivery": delivery_id},
            )
