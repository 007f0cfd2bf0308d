"""Provider rate limits shared by every worker through Redis.

A provider counts the requests that reach it in a sliding window (Telegram: 30 a second per
bot, one a second per chat) and answers one too many with 429 and a pause. Two things keep
every worker together under that count:

- **Slots.** Each send first takes the next free slot of its provider in one Lua script. Slots
  are spaced a little wider than the limit (`headroom`), so the sends of all workers go out
  evenly instead of in bursts, and a provider's "retry after" pushes the next slot past the
  pause for everyone.
- **The window**, for a provider that counts strictly (`Rate.strict`). Spacing alone cannot
  promise the count: a send that leaves its slot late (an event loop busy for a few tens of
  milliseconds) arrives close to the next ones, and 30 slots spaced for 28.8 a second then fit
  in one second. So a send also takes a place in
  the provider's window, kept as a sorted set of the sends of the last window: a send counts
  from the moment it may leave until the moment its answer came back (it reached the provider
  somewhere in between), and a new send may leave only while fewer than `limit` sends count.
  The provider then never sees more than `limit` in any window, whatever the jitter: proof in
  docs/decisions/0501-pacing-window.md. A place taken by a worker that died in flight counts
  until its deadline.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import uuid
from dataclasses import dataclass, field

from redis.asyncio import Redis

from backend.core.batching import Coalescer

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

# KEYS[1]: the next free slot (ms). ARGV: interval_ms, n. Takes n slots in a row; returns the
# first one's wait in ms (the others follow one interval apart).
_RESERVE_MANY = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local interval = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
local ttl = math.ceil(slot + n * interval - now + 60000)
redis.call('SET', KEYS[1], tostring(slot + n * interval), 'PX', ttl)
return tostring(slot - now)
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

# KEYS: one window (sorted set: a send's id scored by when it stops counting) per rate.
# ARGV: the send's id, its deadline in ms from now, then (limit, window_ms) per key.
# Takes a place in every window or in none. Returns 0 when taken, else the ms to wait: until
# the first place frees, or a short poll while every place is still in flight.
_ENTER = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local deadline = now + tonumber(ARGV[2])
local wait = 0
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[1 + 2 * i])
  local window = tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  if redis.call('ZCARD', key) >= limit then
    local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    local free = tonumber(first[2]) + window - now
    if free > window then free = 5 end
    if free > wait then wait = free end
  end
end
if wait > 0 then return math.max(1, math.ceil(wait)) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, deadline, ARGV[1])
  redis.call('PEXPIRE', key, deadline - now + tonumber(ARGV[2 + 2 * i]))
end
return 0
"""

# KEYS: the windows the send entered. ARGV: its id. The answer came back: the send counts
# until one window from now, no longer until its deadline.
_LEAVE = """
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
for _, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now, ARGV[1])
end
return 0
"""

# Redis's clock: every worker on every machine agrees on it.
_NOW = "local t = redis.call('TIME') return t[1] * 1000 + math.floor(t[2] / 1000)"

# A send still in flight this long after it left is taken to have ended (longer than a send
# may take, `notifications.delivery.SEND_TIMEOUT`): the place of a worker killed in flight
# comes back.
IN_FLIGHT_MS = 25_000


@dataclass(frozen=True, slots=True)
class Rate:
    """At most `limit` sends in any `window` seconds. `strict`: the provider counts them in
    that window and pauses us for one too many (Telegram), so the window's count is kept too,
    not only the spacing of slots."""

    key: str
    limit: int
    window: float = 1.0
    strict: bool = False

    @classmethod
    def per_second(cls, key: str, rate: float, strict: bool = False) -> Rate:
        """`rate` a second as a window: 30/s is 30 in 1 s, 0.5/s is 1 in 2 s."""
        if rate >= 1:
            return cls(key, math.floor(rate), 1.0, strict)
        return cls(key, 1, 1.0 / rate if rate > 0 else 0.0, strict)


@dataclass(slots=True)
class Ticket:
    """A send's places in its providers' windows, given back by `Pacer.leave`."""

    keys: list[str]
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class Pacer:
    def __init__(self, redis: Redis, prefix: str = "parta:pace", headroom: float = 0.0) -> None:
        self.redis, self.prefix, self.headroom = redis, prefix, headroom
        self._reserve = redis.register_script(_RESERVE)
        self._hold = redis.register_script(_HOLD)
        self._enter = redis.register_script(_ENTER)
        self._leave = redis.register_script(_LEAVE)
        self._now = redis.register_script(_NOW)
        self._reserve_many = redis.register_script(_RESERVE_MANY)
        # The slots that many sends ask for at about the same moment are taken in one round
        # trip (`reserve`, rates that are not strict): key (rate, the asker's number) ->
        # seconds to wait.
        self._slots: Coalescer[tuple[Rate, int], float] = Coalescer(
            self._reserve_slots, concurrency=2, max_batch=1000
        )
        self._askers = itertools.count()

    async def now_ms(self) -> int:
        return int(await self._now())

    def _interval_ms(self, rate: Rate) -> float:
        return 1000.0 * rate.window / rate.limit / (1.0 - self.headroom)

    async def reserve(self, rate: Rate) -> float:
        """Take the next slot of `rate`; seconds to wait before using it."""
        if rate.limit <= 0 or rate.window <= 0:
            return 0.0
        if not rate.strict:
            # Many sends at once (a worker near its capacity runs dozens): their slots in one
            # round trip, each its own wait, one interval after the other's.
            return await self._slots.get((rate, next(self._askers))) or 0.0
        # A strict rate: one slot per round trip. Slots taken many at a time in one call were
        # handed out ahead of the sends that use them, and jittery sends then put a sixth into
        # the provider's window (tests/integration/notifications/test_pacing.py); the window
        # (`enter`) keeps the count, and slots taken late keep its sends from polling it.
        interval = self._interval_ms(rate)
        wait_ms = await self._reserve(keys=[f"{self.prefix}:{rate.key}"], args=[interval])
        return max(0.0, float(wait_ms) / 1000.0)

    async def _reserve_slots(self, asked: list[tuple[Rate, int]]) -> dict[tuple[Rate, int], float]:
        by_rate: dict[Rate, list[tuple[Rate, int]]] = {}
        for key in asked:
            by_rate.setdefault(key[0], []).append(key)
        waits: dict[tuple[Rate, int], float] = {}
        for rate, keys in by_rate.items():
            interval = self._interval_ms(rate)
            first = float(
                await self._reserve_many(
                    keys=[f"{self.prefix}:{rate.key}"], args=[interval, len(keys)]
                )
            )
            for n, key in enumerate(keys):
                waits[key] = max(0.0, (first + n * interval) / 1000.0)
        return waits

    async def acquire(self, *rates: Rate) -> None:
        """Wait for a slot of every rate (the provider's and the chat's)."""
        waits = [await self.reserve(rate) for rate in rates]
        delay = max(waits, default=0.0)
        if delay > 0:
            await asyncio.sleep(delay)

    async def enter(self, *rates: Rate) -> Ticket:
        """Wait for a place in every rate's window, right before the send leaves. Give the
        ticket back with `leave` once the provider has answered."""
        counted = [r for r in rates if r.strict and r.limit > 0 and r.window > 0]
        ticket = Ticket([f"{self.prefix}:window:{r.key}" for r in counted])
        if not counted:
            return ticket
        args: list[float | str] = [ticket.id, IN_FLIGHT_MS]
        for rate in counted:
            args += [rate.limit, round(rate.window * 1000)]
        # Polling is the point here: the place frees in Redis, shared by every worker.
        while wait_ms := int(await self._enter(keys=ticket.keys, args=args)):  # noqa: ASYNC110
            await asyncio.sleep(wait_ms / 1000.0)
        return ticket

    async def leave(self, ticket: Ticket, record: tuple[str, str, int] | None = None) -> None:
        """The provider answered (or the send failed): the send counts one window more.
        `record` (key, value, seconds to keep) is written in the same round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            if ticket.keys:
                await self._leave(keys=ticket.keys, args=[ticket.id], client=pipe)
            if record is not None:
                pipe.set(record[0], record[1], ex=record[2])
            if len(pipe):
                await pipe.execute()

    async def hold(self, key: str, seconds: float) -> None:
        """The provider asked us to wait: nobody sends on `key` for `seconds`."""
        now = await self.now_ms()
        await self._hold(keys=[f"{self.prefix}:{key}"], args=[now, int(seconds * 1000)])
