"""The gateway's uploader against a server whose `/health` answers while its ingest fails: the
health probe must not turn the backoff into a retry every probe (decision 0907). A real HTTP
server (aiohttp) on a local port and the real `Uploader.run`; the API coming back after an
outage is tests/e2e/test_gateway_outage.py."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiohttp import web

from gateway.events import ControllerEvent
from gateway.outbox import Outbox
from gateway.uploader import HEALTH_PATH, INGEST_PATH, Uploader
from tests.demo_server import free_port


async def test_a_failing_ingest_behind_a_healthy_server_keeps_its_backoff(
    tmp_path: Path,
) -> None:
    posts: list[float] = []
    probes: list[float] = []

    async def ingest(request: web.Request) -> web.Response:
        posts.append(time.monotonic())
        return web.json_response({"error": "unavailable"}, status=503)

    async def health(request: web.Request) -> web.Response:
        probes.append(time.monotonic())
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_post(INGEST_PATH, ingest)
    app.router.add_get(HEALTH_PATH, health)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    outbox = Outbox(tmp_path / "outbox.sqlite")
    outbox.add([ControllerEvent("t:1", "200,1", "wiegand26", 1, "in", "denied", datetime.now(UTC))])
    stop = asyncio.Event()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            uploader = Uploader(outbox, client, 1, "k" * 32, max_backoff=4.0, probe_every=0.1)
            task = asyncio.create_task(uploader.run(interval=0.5, stop=stop))
            await asyncio.sleep(6.0)
            stop.set()
            await asyncio.wait_for(task, 5)
    finally:
        await runner.cleanup()
    # Waits of 0.25-0.5, 0.5-1, 1-2, 2-4, 2-4 s: at most 6 posts in 6 s. A probe ending each
    # wait would have posted every ~0.1 s.
    assert 3 <= len(posts) <= 6, len(posts)
    assert len(probes) >= 10  # it did probe meanwhile
    gaps = [b - a for a, b in itertools.pairwise(posts)]
    assert max(gaps) >= 1.0, gaps
    assert outbox.counts()["pending"] == 1  # nothing was marked sent
