"""Pacing through Redis keeps the provider's count under its limit whatever the jitter."""

from __future__ import annotations

import asyncio
import random
import time
import uuid

from notifications.pacing import Pacer, Rate
from notifications.standins.common import SlidingWindow
from tests.conftest import Backend


async def test_jittery_sends_never_exceed_the_providers_window(world: Backend) -> None:
    """Sends leave their slots late and reach the provider at a random moment before their
    answer: counted as the provider counts (at most 5 in any 0.25 s), none is one too many.
    Slots alone, spaced exactly at the limit, put a sixth in a window under this jitter."""
    provider = SlidingWindow(5, window=0.25)
    refused: list[float] = []
    pacer = Pacer(world.redis, prefix=f"parta:test-pace:{uuid.uuid4().hex[:6]}")
    rate = Rate("bot", 5, 0.25, strict=True)
    rng = random.Random(7)

    async def send() -> None:
        await pacer.acquire(rate)
        ticket = await pacer.enter(rate)
        await asyncio.sleep(rng.uniform(0, 0.03))  # late out of its slot, on the way
        if provider.hit("bot"):
            refused.append(time.monotonic())
        await asyncio.sleep(rng.uniform(0, 0.02))  # the answer on its way back
        await pacer.leave(ticket)

    started = time.monotonic()
    await asyncio.gather(*(send() for _ in range(30)))
    elapsed = time.monotonic() - started
    assert refused == []
    # ... and the limit is used, not wasted: 30 sends at 5 per 0.25 s take about 1.5 s.
    assert elapsed < 2.6, elapsed


async def test_a_send_in_flight_holds_its_place_until_it_leaves(world: Backend) -> None:
    """A place counts while its send is in flight (it may reach the provider any moment), and
    one window after the answer; a worker that died in flight holds it until its deadline."""
    pacer = Pacer(world.redis, prefix=f"parta:test-pace:{uuid.uuid4().hex[:6]}")
    rate = Rate("chat", 1, 0.2, strict=True)
    ticket = await pacer.enter(rate)
    blocked = asyncio.create_task(pacer.enter(rate))
    await asyncio.sleep(0.4)  # twice the window: still in flight, still counted
    assert not blocked.done()
    left = time.monotonic()
    await pacer.leave(ticket)
    await asyncio.wait_for(blocked, 2)
    assert time.monotonic() - left >= 0.19


def test_a_rate_per_second_becomes_a_window() -> None:
    assert Rate.per_second("t", 30, strict=True) == Rate("t", 30, 1.0, True)
    assert Rate.per_second("s", 0.5) == Rate("s", 1, 2.0)
