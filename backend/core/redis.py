"""Redis: a real server in production, an in-process substitute (fakeredis) when embedded."""

from __future__ import annotations

from redis.asyncio import Redis

from backend.settings import Settings


def make_redis(settings: Settings) -> Redis:
    if settings.redis_in_memory:
        # The embedded default runs everything in one process with no servers installed:
        # fakeredis speaks the same API (strings, hashes, streams, Lua) in memory.
        from fakeredis import FakeAsyncRedis

        return FakeAsyncRedis()
    return Redis.from_url(settings.redis_url, health_check_interval=30)
