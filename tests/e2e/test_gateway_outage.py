"""The API goes away for a while and comes back: the passes the gateway queued meanwhile reach
it within seconds of its return, not after a minute of backoff (decision 0907).

Real processes and code: `parta serve` on a PostgreSQL database of this test's own, stopped and
started again on the same port; the gateway's own `Uploader.run` (gateway/uploader.py) with its
SQLite outbox, in this process, so the test sees exactly when the outbox empties.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import pytest

from gateway.events import ControllerEvent
from gateway.outbox import Outbox
from gateway.uploader import MAX_BACKOFF, PROBE_EVERY, Uploader
from tests.demo_server import free_port
from tests.e2e.support import drop_database, own_database
from tests.load.bench_notify import ROOT

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("PARTA_E2E_REDIS_URL", "redis://127.0.0.1:6379/13")
OUTAGE = 18.0  # seconds: the old backoff (1, 2, 4, 8, 16 s ...) would next try ~31 s in
# After `/health` answers again, the queued passes must be stored within this many seconds:
# one probe period with its jitter, and the batch's own time.
CATCH_UP = PROBE_EVERY * 1.25 + 2.0


def serve(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve"],
        env=env, cwd=ROOT, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


async def health(port: int) -> bool:
    with contextlib.suppress(httpx.TransportError):
        async with httpx.AsyncClient() as client:
            return (await client.get(f"http://127.0.0.1:{port}/health")).status_code == 200
    return False


def passes(first: int, count: int, point: int) -> list[ControllerEvent]:
    now = datetime.now(UTC)
    return [
        ControllerEvent(f"outage:{n}", f"200,{n}", "wiegand26", point, "in", "denied", now)
        for n in range(first, first + count)
    ]


async def test_queued_passes_go_within_seconds_of_the_api_coming_back(tmp_path: Path) -> None:
    database, url = await own_database("parta_e2e_outage")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env.update(
        PYTHONUNBUFFERED="1",
        PARTA_ENVIRONMENT="production",
        PARTA_SECRET_KEY=secrets.token_urlsafe(32),
        PARTA_DATABASE_URL=url,
        PARTA_REDIS_URL=REDIS_URL,
        PARTA_PORT=str(port),
        PARTA_LOG_LEVEL="WARNING",
    )
    log = tmp_path / "api.log"
    api: subprocess.Popen[bytes] | None = None
    halt = asyncio.Event()
    sending: asyncio.Task[None] | None = None
    conn: asyncpg.Connection | None = None
    try:
        migrated = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "backend.cli", "migrate"],
            env=env, cwd=ROOT, capture_output=True, timeout=300, check=False,
        )  # fmt: skip
        assert migrated.returncode == 0, migrated.stdout.decode()[-2000:]
        conn = await asyncpg.connect(url)
        region = await conn.fetchval(
            "INSERT INTO region (name, code) VALUES ('Р', '99') RETURNING id"
        )
        municipality = await conn.fetchval(
            "INSERT INTO municipality (region, name) VALUES ($1, 'Город') RETURNING id", region
        )
        school = await conn.fetchval(
            "INSERT INTO school (municipality, full_name, short_name, created_at) "
            "VALUES ($1, 'Школа', 'Школа', now()) RETURNING id",
            municipality,
        )
        point = await conn.fetchval(
            "INSERT INTO access_point (school_id, name, direction, lane, is_active, created_at) "
            "VALUES ($1, 'Турникет 1', 'both', 1, true, now()) RETURNING id",
            school,
        )
        key = secrets.token_urlsafe(32)
        gateway_id = await conn.fetchval(
            "INSERT INTO access_gateway (school_id, name, signing_key, is_active, "
            "clock_skew_seconds, skew_reported, created_at) "
            "VALUES ($1, 'Шлюз', $2, true, 0, false, now()) RETURNING id",
            school,
            key,
        )

        async def stored() -> int:
            assert conn is not None
            return int(await conn.fetchval("SELECT count(*) FROM access_event"))

        async def until(check: object, seconds: float, what: str) -> float:
            started = time.monotonic()
            while not await check():  # type: ignore[operator]
                assert time.monotonic() - started < seconds, what + "\n" + log.read_text()[-3000:]
                await asyncio.sleep(0.05)
            return time.monotonic() - started

        api = serve(env, log)
        await until(lambda: health(port), 180, "the API did not start")
        outbox = Outbox(tmp_path / "outbox.sqlite")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            uploader = Uploader(outbox, client, int(gateway_id), key)
            sending = asyncio.create_task(uploader.run(interval=0.2, stop=halt))
            outbox.add(passes(0, 1, point))

            async def first_stored() -> bool:
                return await stored() == 1

            await until(first_stored, 30, "the first pass was not stored")

            # The API goes away; the turnstiles go on, the gateway queues and backs off.
            stop(api)
            outage_started = time.monotonic()
            number = 1
            while time.monotonic() - outage_started < OUTAGE:
                outbox.add(passes(number, 1, point))
                number += 1
                await asyncio.sleep(1.0)
            queued = outbox.counts()
            assert queued["pending"] >= 10, queued
            assert not sending.done()

            api = serve(env, log)
            await until(lambda: health(port), 180, "the API did not start again")
            total = 1 + queued["pending"]

            async def caught_up() -> bool:
                return await stored() == total

            waited = await until(caught_up, 60, "the queued passes did not arrive")
            assert waited <= CATCH_UP, (
                f"the queue went {waited:.1f} s after the API answered again "
                f"(at most {CATCH_UP:.1f} s; backoff cap {MAX_BACKOFF} s)"
            )

            async def acknowledged() -> bool:  # the 200 reaches the gateway just after the commit
                return outbox.counts()["pending"] == 0

            await until(acknowledged, 10, "the gateway did not mark its queue sent")
            halt.set()
            await asyncio.wait_for(sending, 15)
    finally:
        halt.set()
        if sending is not None and not sending.done():
            sending.cancel()
        if api is not None:
            stop(api)
        if conn is not None:
            await conn.close()
        await drop_database(database)
