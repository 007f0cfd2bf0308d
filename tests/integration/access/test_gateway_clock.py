"""The controllers' clock skew as the real uploader and the real ingest measure it (decision
0908): a batch held for seconds on its way is not read as skew; a clock five minutes fast is
corrected and reported; a retried batch carries its retry's send time."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from backend.access.tables import AccessEvent, AccessGateway
from backend.events.tables import OutboxEvent
from gateway.events import ControllerEvent
from gateway.outbox import Outbox
from gateway.uploader import Uploader
from tests.conftest import Backend
from tests.integration.access.arrange import Turnstiles, turnstiles

HOLD = 5.0  # seconds a held request waits before the server sees it


class SlowProxy(httpx.AsyncBaseTransport):
    """A proxy in front of the server: holds the request for `HOLD` seconds before passing it
    on while `holding` (a loaded proxy, or a server whose queue is long), or fails it before
    it leaves while `down`."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.holding = self.down = False
        self.held = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("no route to the server", request=request)
        if self.holding:
            self.held += 1
            await asyncio.sleep(HOLD)
        return await self.inner.handle_async_request(request)


def passes(t: Turnstiles, happened: datetime, skew: timedelta, count: int) -> list[ControllerEvent]:
    """`count` entries that happened at `happened` (true time), on a clock `skew` fast."""
    return [
        ControllerEvent(
            device_event_id=f"c1-{time.time_ns()}-{n}",
            card=t.cards[t.students[n % len(t.students)]],
            card_format="wiegand26",
            access_point_id=t.point_in,
            direction="in",
            result="granted",
            controller_time=happened + skew - timedelta(seconds=n),
        )
        for n in range(count)
    ]


async def stored_offsets(happened: datetime, count: int) -> list[float]:
    """Each stored pass's `occurred_at` minus when it truly happened, in seconds."""
    rows = await AccessEvent.select(AccessEvent.occurred_at, AccessEvent.device_event_id)
    assert len(rows) == count
    by_n = {int(r["device_event_id"].rsplit("-", 1)[1]): r["occurred_at"] for r in rows}
    return [(by_n[n] - (happened - timedelta(seconds=n))).total_seconds() for n in range(count)]


async def skew_reports() -> int:
    return await OutboxEvent.count().where(OutboxEvent.kind == "access.clock_skew")


async def gateway_skew(t: Turnstiles) -> int:
    row = (
        await AccessGateway.select(AccessGateway.clock_skew_seconds)
        .where(AccessGateway.id == t.gateway_id)
        .first()
    )
    assert row is not None
    return int(row["clock_skew_seconds"])


async def run_case(
    world: Backend, tmp_path: Path, skew: timedelta
) -> tuple[Turnstiles, list[float]]:
    """Heartbeats on time, then a batch of 20 passes held `HOLD` s by the proxy."""
    t = await turnstiles(world, pupils=4)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    proxy = SlowProxy(world.app)
    async with httpx.AsyncClient(transport=proxy, base_url="http://parta.test") as client:
        uploader = Uploader(outbox, client, t.gateway_id, t.key)
        uploader.controller_clock = lambda: datetime.now(UTC) + skew
        for _ in range(3):  # a gateway's heartbeats and batches before the delay
            await uploader.heartbeat()
        happened = datetime.now(UTC) - timedelta(seconds=30)
        outbox.add(passes(t, happened, skew, 20))
        proxy.holding = True
        await uploader.flush()
    assert proxy.held == 1
    assert outbox.counts()["sent"] == 20
    outbox.close()
    return t, await stored_offsets(happened, 20)


async def test_a_batch_held_five_seconds_on_its_way_keeps_its_passes_times(
    world: Backend, tmp_path: Path
) -> None:
    t, offsets = await run_case(world, tmp_path, timedelta(0))
    # Read as skew, the hold would have placed every pass ~5 s after it happened.
    assert all(abs(o) < 1 for o in offsets), offsets
    assert await gateway_skew(t) == 0
    assert await skew_reports() == 0


async def test_a_clock_five_minutes_fast_is_corrected_and_reported_even_when_held(
    world: Backend, tmp_path: Path
) -> None:
    t, offsets = await run_case(world, tmp_path, timedelta(minutes=5))
    assert all(abs(o) < 1 for o in offsets), offsets
    assert 299 <= await gateway_skew(t) <= 301
    assert await skew_reports() == 1


async def test_a_retried_batch_is_measured_by_its_retry(world: Backend, tmp_path: Path) -> None:
    # A new gateway (no earlier sample to lean on): its first attempt never reaches the
    # server, the retry goes 3 s later and must carry its own send time.
    t = await turnstiles(world, pupils=2)
    outbox = Outbox(tmp_path / "outbox.sqlite")
    proxy = SlowProxy(world.app)
    happened = datetime.now(UTC) - timedelta(seconds=10)
    outbox.add(passes(t, happened, timedelta(0), 6))
    async with httpx.AsyncClient(transport=proxy, base_url="http://parta.test") as client:
        uploader = Uploader(outbox, client, t.gateway_id, t.key)
        proxy.down = True
        try:
            await uploader.flush()
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the first attempt should have failed")
        await asyncio.sleep(3)
        proxy.down = False
        await uploader.flush()
    outbox.close()
    offsets = await stored_offsets(happened, 6)
    assert all(abs(o) < 1 for o in offsets), offsets
    assert await gateway_skew(t) == 0
