"""Sending the outbox to the server in signed batches, catching up after an outage.

Each batch is signed (HMAC-SHA256 over "<timestamp>." + body, docs/decisions/0901) and carries
`sent_at`, the controllers' clock, so the server can measure the skew. A batch is marked sent
only when the server answered 200; a timeout, a dropped connection or a 5xx leaves it pending
and it goes again (the server stores each pass once). A 401 for a stale timestamp corrects the
signing clock by the server's time. A 400 means a malformed pass: the batch is split until the
pass is found, and that pass alone is set aside, so one bad pass never blocks the rest.

While the server cannot be reached the gateway backs off, doubling from `interval` up to
`max_backoff` (8 s) with jitter, so the gateways of a region do not come back in step; and
while it waits it asks `/health` every `probe_every` seconds: the first answer after a failed
probe means the server is back, and the queue goes at once (decision 0907). Passes queued in an
outage therefore wait a few seconds after the server returns, not a minute.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from gateway.outbox import Outbox

log = logging.getLogger("parta.gateway")
INGEST_PATH = "/api/v1/access/ingest"
HEALTH_PATH = "/health"
BATCH = 500
MAX_BACKOFF = 8.0  # seconds: a pupil's parent should hear of the entry within seconds
PROBE_EVERY = 2.0  # seconds between health probes while backing off
PROBE_TIMEOUT = 2.0
# Decision 0909: a connection that is not up in 5 s is lost (packets dropped silently by a cut
# network are otherwise retried by the kernel for ~2 minutes); a batch of 500 (~100 KB) that has
# no answer within 30 s all told is retried. The server answers one in ~0.1 s, seconds when busy.
CONNECT_TIMEOUT = 5.0
SEND_TIMEOUT = 30.0  # seconds, the whole request of one batch: connect, upload, answer
TIMEOUTS = httpx.Timeout(connect=CONNECT_TIMEOUT, read=20.0, write=20.0, pool=CONNECT_TIMEOUT)


def make_client(url: str, **options: Any) -> httpx.AsyncClient:
    """The gateway's HTTP client to the server at `url`, with the timeouts above."""
    return httpx.AsyncClient(base_url=url, timeout=TIMEOUTS, **options)


def sign(key: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(key.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


class Refused(Exception):
    """The server refused the gateway itself (wrong key or gateway id): retrying won't help."""


@dataclass
class Uploader:
    outbox: Outbox
    client: httpx.AsyncClient  # its base_url is the server
    gateway_id: int
    key: str
    batch_size: int = BATCH
    controller_clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    signing_offset: float = 0.0  # seconds added to this computer's clock when signing
    sent_batches: int = field(default=0)
    max_backoff: float = MAX_BACKOFF
    probe_every: float = PROBE_EVERY
    send_timeout: float = SEND_TIMEOUT

    async def post(self, events: list[dict[str, Any]]) -> httpx.Response:
        """One attempt. `sent_at` is read now, for this attempt: a retry carries its own."""
        body = json.dumps(
            {"sent_at": self.controller_clock().isoformat(), "events": events}
        ).encode()
        timestamp = int(time.time() + self.signing_offset)
        headers = {
            "X-Parta-Gateway": str(self.gateway_id),
            "X-Parta-Timestamp": str(timestamp),
            "X-Parta-Signature": sign(self.key, timestamp, body),
            "Content-Type": "application/json",
        }
        try:
            async with asyncio.timeout(self.send_timeout):
                return await self.client.post(INGEST_PATH, content=body, headers=headers)
        except TimeoutError:
            request = self.client.build_request("POST", INGEST_PATH)
            raise httpx.TimeoutException(
                f"no answer within {self.send_timeout:g} s", request=request
            ) from None

    async def send(self, batch: list[tuple[int, dict[str, Any]]]) -> None:
        """One batch to the server; raises on a network failure (the batch stays pending)."""
        response = await self.post([event for _, event in batch])
        if response.status_code == 401:
            details = (response.json() or {}).get("details") or {}
            if "server_time" in details:
                self.signing_offset = float(details["server_time"]) - time.time()
                response = await self.post([event for _, event in batch])
            if response.status_code == 401:
                raise Refused(response.text[:300])
        if response.status_code == 400:
            if len(batch) == 1:
                self.outbox.reject(batch[0][0], response.text)
                log.warning("a pass was refused as malformed: %s", response.text[:300])
                return
            middle = len(batch) // 2
            await self.send(batch[:middle])
            await self.send(batch[middle:])
            return
        response.raise_for_status()
        self.outbox.mark_sent([seq for seq, _ in batch])
        self.sent_batches += 1

    async def flush(self) -> int:
        """Send everything pending, oldest first; returns how many passes went."""
        sent = 0
        while batch := self.outbox.next_batch(self.batch_size):
            await self.send(batch)
            sent += len(batch)
        return sent

    async def heartbeat(self) -> None:
        """An empty batch: the server learns the gateway is alive and its clock's skew."""
        response = await self.post([])
        response.raise_for_status()

    async def server_is_back(self) -> bool:
        """A cheap probe: does the server answer `/health` with 200?"""
        try:
            response = await self.client.get(HEALTH_PATH, timeout=PROBE_TIMEOUT)
        except (httpx.HTTPError, OSError):
            return False
        return response.status_code == 200

    async def wait_out(self, delay: float, stop: asyncio.Event, *, unreachable: bool) -> bool:
        """Wait up to `delay` seconds after a failure, probing `/health`; True when a probe
        answers after the server was seen unreachable (by the failed request, or by a failed
        probe): it came back, retry now. A server that answered the ingest with an error and
        `/health` all along gets no early retry, so a failing ingest is not hammered."""
        deadline = time.monotonic() + delay
        seen_down = unreachable
        while not stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            pause = min(left, self.probe_every * random.uniform(0.75, 1.25))  # noqa: S311
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)
            if stop.is_set() or time.monotonic() >= deadline:
                return False
            if await self.server_is_back():
                if seen_down:
                    return True
            else:
                seen_down = True
        return False

    async def run(
        self,
        *,
        interval: float = 1.0,
        heartbeat_every: float = 30.0,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Flush forever; a heartbeat when idle for `heartbeat_every`. While the server cannot
        be reached: back off from `interval` doubling up to `max_backoff` with jitter (half to
        all of the step), and retry at once when a health probe sees the server back."""
        stop = stop or asyncio.Event()
        step, last_contact = interval, 0.0
        while not stop.is_set():
            try:
                if await self.flush():
                    last_contact = time.monotonic()
                elif time.monotonic() - last_contact >= heartbeat_every:
                    await self.heartbeat()
                    last_contact = time.monotonic()
                step = interval
            except Refused:
                raise
            except (httpx.HTTPError, OSError) as exc:
                delay = step * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
                log.warning("server unreachable (%s); retrying in %.1f s", exc, delay)
                step = min(step * 2, self.max_backoff)
                unreachable = not isinstance(exc, httpx.HTTPStatusError)
                if await self.wait_out(delay, stop, unreachable=unreachable):
                    log.warning("server answers again; sending now")
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
