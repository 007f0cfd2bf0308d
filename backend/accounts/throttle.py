"""Throttling of failed sign-ins, per account and per address, counted in Redis.

Counters live for a window (15 minutes by default) from the first failure; a success clears the
account's counter. The address counter is higher, so a family behind one NAT is not locked out by
one child's typos, but a password-guessing script is.
"""

from __future__ import annotations

from redis.asyncio import Redis

from backend.core.errors import Throttled
from backend.settings import Settings

_ACCOUNT = "parta:auth:fail:acct:{key}"
_ADDRESS = "parta:auth:fail:addr:{key}"


class LoginThrottle:
    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.window = settings.login_failure_window_seconds
        self.per_account = settings.login_failures_per_account
        self.per_address = settings.login_failures_per_address

    async def check(self, account: str, address: str, *, what: str = "login") -> None:
        """Refuse before the password is even checked when either counter is spent.

        `what` names the attempt in the message: "login", "activation" or "reset"."""
        acct_key, addr_key = _ACCOUNT.format(key=account), _ADDRESS.format(key=address)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(acct_key)
            pipe.ttl(acct_key)
            pipe.get(addr_key)
            pipe.ttl(addr_key)
            acct_count, acct_ttl, addr_count, addr_ttl = await pipe.execute()
        if acct_count is not None and int(acct_count) >= self.per_account:
            raise Throttled(retry_after=max(int(acct_ttl), 1), key=f"auth.throttled_{what}")
        if addr_count is not None and int(addr_count) >= self.per_address:
            raise Throttled(retry_after=max(int(addr_ttl), 1), key=f"auth.throttled_{what}")

    async def failed(self, account: str, address: str) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            for key in (_ACCOUNT.format(key=account), _ADDRESS.format(key=address)):
                pipe.incr(key)
                pipe.expire(key, self.window, nx=True)
            await pipe.execute()

    async def succeeded(self, account: str) -> None:
        await self.redis.delete(_ACCOUNT.format(key=account))
