"""The rate limit's shared counts when Redis cannot be reached: each process goes on counting."""

from __future__ import annotations

import socket

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from backend.core.rate_limit import SharedCounts


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_without_redis_a_process_still_counts_its_own_requests() -> None:
    redis = Redis(host="127.0.0.1", port=_closed_port(), retry=Retry(NoBackoff(), 0))
    counts = SharedCounts(redis, lifetime=61)
    assert [counts.hit("client-a") for _ in range(3)] == [1, 2, 3]
    await counts.settled()  # the batch failed: it is kept as this process's own count
    assert counts.hit("client-a") == 4
    assert counts.hit("client-b") == 1
    await counts.settled()
    await redis.aclose()
