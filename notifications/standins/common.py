"""What the stand-ins share: free ports, a record of what arrived, a sliding-window limiter."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def on_a_free_port(owner: Any, bind: Callable[[], Awaitable[None]], tries: int = 5) -> None:
    """Run `bind` (which listens on `owner.port`); when another process took that port between
    `free_port()` and now (many servers start at once on a busy test machine), take another
    port and bind again."""
    for attempt in range(tries):
        try:
            await bind()
            return
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == tries - 1:
                raise
            owner.port = free_port()


@dataclass
class Received:
    """Everything a stand-in accepted, in order, with the time it arrived."""

    items: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def add(self, **item: Any) -> dict[str, Any]:
        item.setdefault("at", time.time())
        self.items.append(item)
        return item

    def reject(self, **item: Any) -> None:
        item.setdefault("at", time.time())
        self.rejected.append(item)

    def clear(self) -> None:
        self.items.clear()
        self.rejected.clear()


class SlidingWindow:
    """At most `limit` events in any `window` seconds (how a provider enforces its limits)."""

    def __init__(self, limit: float, window: float = 1.0) -> None:
        self.limit, self.window = limit, window
        self.times: dict[str, deque[float]] = {}

    def hit(self, key: str, now: float | None = None) -> float:
        """Record an event; 0 if allowed, else the seconds until it would have been."""
        now = time.monotonic() if now is None else now
        times = self.times.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return times[0] + self.window - now
        times.append(now)
        return 0.0


class SendHold:
    """Holds a stand-in's sends while `on` (tests): a bot can be killed with an answer in
    flight. A send whose sender went away meanwhile is dropped, not delivered, as a request
    that never reached the messenger; `waiting` counts the sends held now, `dropped` those
    dropped."""

    def __init__(self) -> None:
        self.on = False
        self.waiting = 0
        self.dropped = 0

    async def gone(self, request: Any) -> bool:
        """Wait while held; True when the sender is gone by then (the send is dropped)."""
        if not self.on:
            return False
        self.waiting += 1
        try:
            # `on` is set from the test's thread: an asyncio.Event of this loop cannot be.
            while self.on:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        finally:
            self.waiting -= 1
        transport = request.transport
        if transport is None or transport.is_closing():
            self.dropped += 1
            return True
        return False
