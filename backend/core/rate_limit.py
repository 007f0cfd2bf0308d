"""The API's rate limit: Litestar's `RateLimitConfig` (headers, exclusions, identifier) with a
counter per client and window in Redis instead of Litestar's default storage.

Litestar's `RateLimitMiddleware` keeps, per client, a JSON list of the timestamps of every
request in the window, read and rewritten under one process-wide lock on each request: every
request of a worker waits in line for two Redis round trips, and the list (up to the limit's
length) is decoded and encoded each time. Here one Lua call increments a fixed-window counter
(`INCR`, `EXPIRE` on the first hit): one round trip, no lock, constant work. A fixed window lets
a client send up to twice the limit across a window boundary, which is fine for a flood guard
(sign-in throttling has its own, stricter counters). See docs/decisions/0007-rate-limit.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from time import time
from typing import Any, cast

from litestar.connection import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    RateLimitMiddleware,
)
from litestar.stores.redis import RedisStore
from litestar.types import Receive, Scope, Send

_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@dataclass(slots=True)
class _Window:
    count: int
    reset: int


class CounterRateLimitMiddleware(RateLimitMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = scope["litestar_app"]
        request: Request[Any, Any, Any] = app.request_class(scope)
        if await self.should_check_request(request=request):
            store = cast(RedisStore, self.config.get_store_from_app(app))
            duration = DURATION_VALUES[self.unit]
            now = int(time())
            start = now - now % duration
            key = f"{store.namespace}:{self.cache_key_from_request(request)}:{start}"
            count = int(await store._redis.eval(_HIT, 1, key, duration + 1))
            window = _Window(count, start + duration)
            if count > self.max_requests:
                raise TooManyRequestsException(
                    headers=self._headers(window) if self.config.set_rate_limit_headers else None
                )
            if self.config.set_rate_limit_headers:
                send = self.create_send_wrapper(send=send, cache_object=window)  # type: ignore[arg-type]
        await self.app(scope, receive, send)

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
