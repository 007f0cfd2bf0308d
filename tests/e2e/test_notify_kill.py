"""A notifications worker killed with SIGKILL in the middle of a run loses no mark's push and
pushes none twice (the phones confirm what they got: decision 0502).

Real processes: two `parta worker` processes on a PostgreSQL database and a Redis queue of this
test's own, `parta serve` for the phones' receipts (posted by `tests/load/phones.py`), the
stand-ins (FCM, Telegram, ...) in this process. Marks go into the outbox at a
low rate; one worker is killed mid-run and a new one started; every mark's push must reach the
FCM stand-in. Everything the test made is removed at the end: the processes, the database,
and the Redis keys of its queue and pacing (other suites may share the Redis database).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from redis.asyncio import Redis

from backend.settings import Settings
from notifications.standins.suite import StandIns
from tests.e2e.support import drop_database, own_database
from tests.integration.notifications.helpers import wait_for
from tests.load.bench_notify import ROOT, Phones, Workers, fix_sequences, make_families

pytestmark = pytest.mark.e2e

REDIS_URL = os.environ.get("PARTA_E2E_REDIS_URL", "redis://127.0.0.1:6379/13")
FAMILIES, RATE, SECONDS = 40, 20, 8


async def _migrate(env: dict[str, str]) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "backend.cli", "migrate", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode == 0, out.decode()[-2000:]


def _read(directory: Path, name: str) -> str:
    return (directory / name).read_text(errors="replace")


async def _forget_keys(redis: Redis, queue: str) -> None:
    for pattern in (f"saq:*{queue}*", "parta:pace:*"):
        async for key in redis.scan_iter(match=pattern, count=500):
            await redis.delete(key)


async def _holds_a_job(redis: Redis, queue: str, pid: int) -> bool:
    """Whether the worker process `pid` is running a job now (SAQ's active list; the job
    names its worker: host, process, tag)."""
    for job_id in await redis.lrange(f"saq:{queue}:active", 0, -1):
        raw = await redis.get(job_id)
        if raw and f":{pid}:" in (json.loads(raw).get("worker_id") or ""):
            return True
    return False


async def test_a_killed_worker_loses_no_push(tmp_path: Path) -> None:
    database, url = await own_database("parta_e2e_notify")
    queue = f"parta-e2e-{secrets.token_hex(4)}"
    redis = Redis.from_url(REDIS_URL)
    standins = StandIns(tmp_path / "standins")
    standins.start_in_thread()
    workers: Workers | None = None
    phones: Phones | None = None
    try:
        pointed = standins.settings(Settings(environment="test"))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
        values = {
            **pointed,
            "environment": "production",
            "secret_key": SecretStr(secrets.token_urlsafe(32)),
            "database_url": url,
            "redis_url": REDIS_URL,
            "notify_queue": queue,
            "notify_concurrency": 10,
            "log_level": "WARNING",
        }
        env["PYTHONUNBUFFERED"] = "1"
        for name, value in values.items():
            plain = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"PARTA_{name.upper()}"] = str(plain)
        await _migrate(env)

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
        students = await make_families(conn, school, 1, FAMILIES, "push")
        await fix_sequences(conn)

        # A slow provider: at the kill the worker holds sends in flight, which another worker
        # must take over (and which may then reach the stand-in twice).
        standins.fcm.delay = 0.4
        phones = Phones(env, standins, tmp_path)
        await phones.start()
        workers = Workers(env, 2, tmp_path)
        workers.start()
        # Both workers up (each registers itself in the queue's stats when it starts).
        # (90 s: two fresh interpreters importing the stack on a busy 2-core machine.)
        deadline = time.monotonic() + 90
        while await redis.zcard(f"saq:{queue}:stats") < 2:
            assert time.monotonic() < deadline, "the workers did not start"
            await asyncio.sleep(0.2)
        fcm = standins.fcm.received
        events: list[int] = []
        started = time.monotonic()
        killed = False
        victim = workers.procs[0].pid
        while len(events) < RATE * SECONDS:
            # Past half the run, the kill comes the moment the victim holds a job.
            if (
                not killed
                and time.monotonic() - started > SECONDS / 2
                and await _holds_a_job(redis, queue, victim)
            ):
                workers.kill_one(0)
                killed = True
            student = students[len(events) % len(students)]
            async with conn.transaction():
                events.append(
                    await conn.fetchval(
                        "INSERT INTO outbox_event (kind, payload, school_id, student_id, "
                        "occurred_at) VALUES ('mark.created', $1, $2, $3, $4) RETURNING id",
                        json.dumps({"student_id": student, "subject": "Физика", "value": "4"}),
                        school,
                        student,
                        datetime.now(UTC),
                    )
                )
            await asyncio.sleep(1 / RATE)
        assert killed, "the victim held no job in the run's second half"
        assert workers.started == 3

        # A killed worker's jobs come back after the heartbeat (6 s) and a sweep or two; its
        # sends in flight may have reached the stand-in (and the phone: "delivered"), or not
        # ("sending" until another worker sends them, 10 s after the first try).
        deadline = time.monotonic() + 50
        sent = 0
        while sent < len(events) and time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            sent = await conn.fetchval(
                "SELECT count(*) FROM delivery WHERE event_id = ANY($1) "
                "AND status IN ('sent', 'delivered')",
                events,
            )

        # The dead worker's job may have finished its sends before the kill and still be
        # "active": the sweep hands it on all the same, after the heartbeat.
        async def released() -> bool:
            return not await _holds_a_job(redis, queue, victim)

        await wait_for(released, seconds=60, interval=0.25)  # the sweep, on a busy machine
        await asyncio.sleep(1)
        notes = dict(
            await conn.fetch(
                "SELECT id, event_id FROM notification WHERE event_id = ANY($1)", events
            )
        )
        pushed: dict[int, int] = {}
        for item in fcm.items:
            event = notes.get(int(item["data"]["notification_id"]))
            if event is not None:
                pushed[event] = pushed.get(event, 0) + 1
        lost = [e for e in events if e not in pushed]
        assert lost == [], f"{len(lost)} of {len(events)} marks got no push"
        twice = [e for e, n in pushed.items() if n > 1]
        assert twice == [], f"{len(twice)} marks pushed more than once"
        assert sent == len(events)
        await conn.close()
        workers.stop()
        logs = "".join(_read(tmp_path, f"worker-{n}.log") for n in (1, 2, 3))
        handed_on = logs.count("handed on a job whose worker is gone")
        assert handed_on > 0, "the kill found no job in flight: the test proved nothing" + logs
    finally:
        if workers is not None:
            workers.stop()
            assert all(p.poll() is not None for p in workers.procs)
        if phones is not None:
            phones.stop()
        standins.stop_thread()
        await _forget_keys(redis, queue)
        await redis.aclose()
        await drop_database(database)
