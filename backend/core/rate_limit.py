"""The API's rate limit: Litestar's `RateLimitConfig` (headers, exclusions, identifier) with a
counter per client and window shared through Redis instead of Litestar's default storage.

Litestar's `RateLimitMiddleware` keeps, per client, a JSON list of the timestamps of every
request in the window, read and rewritten under one process-wide lock on each request: every
request of a worker waits in line for two Redis round trips, and the list (up to the limit's
length) is decoded and encoded each time. Here each process counts its requests per client and
fixed window itself and adds them to Redis's counters in batches (`SharedCounts`: one Lua call
for all the clients seen since the last one, with at most one call under way), learning the
other processes' counts from the answer. A request waits for no round trip; a client spread
over several processes is seen whole a round trip later. A fixed window lets a client send up
to twice the limit across a window boundary, which is fine for a flood guard (sign-in
throttling has its own, stricter counters). See docs/decisions/0007-rate-limit.md.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from dataclasses import dataclass
from time import monotonic, time
from typing import Any, cast

from litestar.connection import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    RateLimitMiddleware,
)
from litestar.stores.redis import RedisStore
from litestar.types import Message, Receive, Scope, Send

from backend.core.http import add_headers

# KEYS: the counters; ARGV: each counter's increment, then the seconds they live.
_ADD = """
local out = {}
for i = 1, #KEYS do
  local count = redis.call('INCRBY', KEYS[i], ARGV[i])
  if count == tonumber(ARGV[i]) then redis.call('EXPIRE', KEYS[i], ARGV[#ARGV]) end
  out[i] = count
end
return out
"""

log = logging.getLogger(__name__)
BATCH_PAUSE = 0.1  # seconds between a process's batches while requests keep coming


class SharedCounts:
    """Requests per counter (client and window) of all processes: what Redis said at the last
    exchange, plus this process's requests since. `hit` answers at once; the requests it
    counted go to Redis in the next batch."""

    def __init__(self, redis: Any, lifetime: int) -> None:
        self._redis = redis
        self._add = redis.register_script(_ADD)
        self._lifetime = lifetime  # seconds a window's counter lives
        self._known: dict[str, tuple[int, float]] = {}  # Redis's count, and until when
        self._pending: dict[str, int] = {}  # counted here, not yet sent
        self._sending: dict[str, int] = {}  # sent, not yet answered
        self._task: asyncio.Task[None] | None = None
        self._last_batch = -BATCH_PAUSE  # monotonic time the last batch left

    def hit(self, key: str) -> int:
        """Count a request; the answer is the count of all processes as far as known."""
        self._pending[key] = pending = self._pending.get(key, 0) + 1
        if self._task is None or self._task.done():
            # A context of its own: the batch belongs to no request.
            self._task = asyncio.get_running_loop().create_task(
                self._send(), context=contextvars.Context()
            )
        known = self._known.get(key)
        return (known[0] if known else 0) + self._sending.get(key, 0) + pending

    async def _send(self) -> None:
        # At most one batch every `BATCH_PAUSE`: the first count after a quiet spell goes at
        # once; while requests keep coming, each batch takes everything counted during the
        # pause (one Lua call per request was a few per cent of a diary read's time, and a
        # count reaching the other processes a tenth of a second later changes nothing for a
        # per-minute limit).
        while self._pending:
            wait = self._last_batch + BATCH_PAUSE - monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            self._last_batch = monotonic()
            await self._exchange()

    async def _exchange(self) -> None:
        self._sending, self._pending = self._pending, {}
        keys = list(self._sending)
        try:
            counts = await self._add(
                keys=keys, args=[*(self._sending[k] for k in keys), self._lifetime]
            )
        except Exception:
            # Redis away: each process goes on counting its own requests.
            log.warning("the rate limit counters could not reach Redis", exc_info=True)
            counts = None
        now = time()
        self._known = {k: v for k, v in self._known.items() if v[1] > now}
        for key, count in zip(keys, counts or (), strict=False):
            self._known[key] = (int(count), now + self._lifetime)
        if counts is None:
            for key, sent in self._sending.items():
                was = self._known.get(key, (0, now + self._lifetime))
                self._known[key] = (was[0] + sent, was[1])
        self._sending = {}

    async def settled(self) -> None:
        """Wait until every request counted so far is in Redis (tests)."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)


class RateLimitStore(RedisStore):
    """Litestar's Redis store of the rate limit, holding the app's `SharedCounts` (Litestar
    builds a middleware per route; they all count together)."""

    def __init__(self, redis: Any, namespace: str) -> None:
        super().__init__(redis, namespace=namespace)
        self.counts: SharedCounts | None = None

    def shared_counts(self, lifetime: int) -> SharedCounts:
        if self.counts is None:
            self.counts = SharedCounts(self._redis, lifetime)
        return self.counts


@dataclass(slots=True)
class _Window:
    count: int
    reset: int


class CounterRateLimitMiddleware(RateLimitMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] = app.request_class(scope)
        if await self.should_check_request(request=request):
            store = cast(RateLimitStore, self.config.get_store_from_app(app))
            duration = DURATION_VALUES[self.unit]
            now = int(time())
            start = now - now % duration
            key = f"{store.namespace}:{self.cache_key_from_request(request)}:{start}"
            count = store.shared_counts(duration + 1).hit(key)
            window = _Window(count, start + duration)
            if count > self.max_requests:
                raise TooManyRequestsException(
                    headers=self._headers(window) if self.config.set_rate_limit_headers else None
                )
            if self.config.set_rate_limit_headers:
                send = self._with_headers(send, window)
        await self.app(scope, receive, send)

    def _with_headers(self, send: Send, window: _Window) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_headers(
                    message, [(k.encode(), v.encode()) for k, v in self._headers(window).items()]
                )
            await send(message)

        return send_with_headers

    def create_response_headers(self, cache_object: CacheObject) -> dict[str, str]:
        return self._headers(cast(Any, cache_object))

    def _headers(self, window: _Window) -> dict[str, str]:
        config = self.config
        return {
            config.rate_limit_policy_header_key: (
                f"{self.max_requests}; w={DURATION_VALUES[self.unit]}"
            ),
            config.rate_limit_limit_header_key: str(self.max_requests),
            config.rate_limit_remaining_header_key: str(max(0, self.max_requests - window.count)),
            config.rate_limit_reset_header_key: str(max(0, window.reset - int(time()))),
        }
