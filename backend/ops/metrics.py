"""The system's own figures on `/metrics`, beside the request metrics: the outbox's backlog and
lag, the notification queue, deliveries by channel and status, dead letters, the turnstile
ingest, the ledger's balance check and the database pool.

They are read when Prometheus scrapes (from the database and Redis), at most once every
`REFRESH_SECONDS` per process, so an idle system does no work for them between scrapes and a
burst of scrapes costs one read. Every API process reports the same system-wide figures
(take `max` over instances in queries); the pool's figures are the process's own.
Alert rules and a Grafana dashboard on these names: `infra/monitoring/`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Gauge
from redis.asyncio import Redis
from saq.queue.redis import RedisQueue

from backend.access import stats as access_stats
from backend.core.db import postgres_pool
from backend.events import stats as events_stats
from backend.meals import stats as meals_stats
from backend.messaging import stats as messaging_stats

REFRESH_SECONDS = 15.0
RECENT = timedelta(hours=1)
INGEST_WINDOW = timedelta(minutes=5)

OUTBOX_WAITING = Gauge("parta_outbox_waiting_events", "Outbox events not yet relayed")
OUTBOX_LAG = Gauge(
    "parta_outbox_lag_seconds", "Age of the oldest outbox event not yet relayed (0: none)"
)
QUEUE_JOBS = Gauge("parta_queue_jobs", "Jobs in the notifications queue", ["state"])
DELIVERIES = Gauge(
    "parta_deliveries_recent",
    "Deliveries created in the last hour, by channel and status",
    ["channel", "status"],
)
DEAD_LETTERS = Gauge("parta_dead_letters", "Failed deliveries an operator may replay")
INGEST = Gauge(
    "parta_access_passes_per_second", "Turnstile passes stored per second over the last 5 minutes"
)
LEDGER = Gauge(
    "parta_ledger_imbalance_kopecks",
    "Debits minus credits over all ledger accounts (0 when the books balance)",
    ["side"],
)
POOL = Gauge("parta_db_pool_connections", "This process's database pool connections", ["state"])
REFRESHED = Gauge("parta_system_metrics_refreshed_timestamp_seconds", "When they were read")
READ_OK = Gauge("parta_system_metrics_up", "1 when the last reading of these figures succeeded")

log = logging.getLogger("parta.metrics")


class SystemMetrics:
    def __init__(self, engine: Any, redis: Redis, queue_name: str) -> None:
        self.engine = engine
        self.queue = RedisQueue(redis, name=queue_name)  # only counted, never used for jobs
        self._at = float("-inf")
        self._lock = asyncio.Lock()

    async def refresh(self, now: datetime | None = None) -> None:
        """Read the figures unless they were read less than `REFRESH_SECONDS` ago."""
        async with self._lock:
            if time.monotonic() - self._at < REFRESH_SECONDS and now is None:
                return
            try:
                await self._read(now or datetime.now(UTC))
            except Exception:  # the database or Redis is down: /metrics still answers
                log.exception("reading the system metrics failed")
                READ_OK.set(0)
            else:
                READ_OK.set(1)
            self._at = time.monotonic()

    async def _read(self, now: datetime) -> None:
        waiting, oldest = await events_stats.backlog()
        OUTBOX_WAITING.set(waiting)
        OUTBOX_LAG.set(max(0.0, (now - oldest).total_seconds()) if oldest else 0.0)
        for state in ("queued", "active"):
            QUEUE_JOBS.labels(state).set(await self.queue.count(state))
        DELIVERIES.clear()  # a channel and status that had none this hour disappear
        for (channel, status), count in (
            await messaging_stats.by_channel_and_status(now - RECENT)
        ).items():
            DELIVERIES.labels(channel, status).set(count)
        DEAD_LETTERS.set(await messaging_stats.dead_letters())
        passes = await access_stats.passes_received_since(now - INGEST_WINDOW)
        INGEST.set(passes / INGEST_WINDOW.total_seconds())
        for side, value in (await meals_stats.imbalance()).items():
            LEDGER.labels(side).set(value)
        pool = postgres_pool(self.engine)
        if pool is not None:
            size, idle = pool.get_size(), pool.get_idle_size()
            POOL.labels("in_use").set(size - idle)
            POOL.labels("idle").set(idle)
            POOL.labels("max").set(pool.get_max_size())
        REFRESHED.set(now.timestamp())
