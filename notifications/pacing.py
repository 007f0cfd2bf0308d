"""Provider rate limits shared by every worker through Redis.

Each send reserves the next free slot of its provider (and, for Telegram, of its chat) in one
Lua script: slots are spaced by 1/rate seconds, so all workers together never exceed the rate,
and a provider's "retry after" pushes the next slot past the pause for everyone.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1]: the next free slot (ms). ARGV: interval_ms. Returns the slot's wait in ms. The time
# is Redis's own (every worker on every machine agrees on it), read inside the script: one
# round trip per slot.
_RESERVE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
local ttl = math.ceil(slot + interval - now + 60000)
redis.call('SET', KEYS[1], tostring(slot + interval), 'PX', ttl)
return slot - now
"""

# KEYS[1]: the next free slot. ARGV: now_ms, pause_ms. Nobody sends before now + pause.
_HOLD = """
local now = tonumber(ARGV[1])
local until_ms = now + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ms > tat then
  redis.call('SET', KEYS[1], tostring(until_ms), 'PX', tonumber(ARGV[2]) + 60000)
end
return 0
"""

# Redis's clock: every worker on every machine agrees on it.
_NOW = "local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000)"


@dataclass(frozen=True, slots=True)
class Rate:
    key: str
    per_second: float


class Pacer:
    def __init__(self, redis: Redis, prefix: str = "parta:pace") -> None:
        self.redis, self.prefix = redis, prefix
        self._reserve = redis.register_script(_RESERVE)
        self._hold = redis.register_script(_HOLD)
        self._now = redis.register_script(_NOW)

    async def now_ms(self) -> int:
        return int(await self._now())

    async def reserve(self, rate: Rate) -> float:
        """Take the next slot of `rate`; seconds to wait before using it."""
        if rate.per_second <= 0:
            return 0.0
        interval = 1000.0 / rate.per_second
        wait_ms = await self._reserve(keys=[f"{self.prefix}:{rate.key}"], args=[interval])
        return max(0.0, float(wait_ms) / 1000.0)

    async def acquire(self, *rates: Rate) -> None:
        """Wait for a slot of every rate (the provider's and the chat's)."""
        waits = [await self.reserve(rate) for rate in rates]
        delay = max(waits, default=0.0)
        if delay > 0:
            await asyncio.sleep(delay)

    async def hold(self, key: str, seconds: float) -> None:
        """The provider asked us to wait: nobody sends on `key` for `seconds`."""
        now = await self.now_ms()
        await self._hold(keys=[f"{self.prefix}:{key}"], args=[now, int(seconds * 1000)])
