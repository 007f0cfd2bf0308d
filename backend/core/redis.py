"""Redis: a real server in production, an in-process substitute (fakeredis) when embedded."""

from __future__ import annotations

from redis.asyncio import Redis

from backend.settings import Settings


def make_redis(settings: Settings, *, connections: int | None = None) -> Redis:
    """`connections`: a pool of that many connections where a caller waits for a free one
    (the worker, whose jobs each hold one for a moment), instead of redis-py's default of
    failing with "Too many connections" past 100."""
    if settings.redis_in_memory:
        # The embedded default runs everything in one process with no servers installed:
        # fakeredis speaks the same API (strings, hashes, streams, Lua) in memory.
        from fakeredis import FakeAsyncRedis

        return FakeAsyncRedis()
    if connections:
        from redis.asyncio import BlockingConnectionPool

        pool = BlockingConnectionPool.from_url(
            settings.redis_url, max_connections=connections, timeout=30, health_check_interval=30
        )
        return Redis(connection_pool=pool)
    return Redis.from_url(settings.redis_url, health_check_interval=30)
