"""Benchmark: entry -> push received, during a simulated morning rush (run by hand, not by pytest).

Real processes on a PostgreSQL database of its own (dropped afterwards): the API under uvicorn
and `--workers` notification workers (`parta worker`), the FCM stand-in in this process. One
school of `--pupils` carded pupils, each with a guardian whose phone has a push token. The
rush is `backend.access.simulate.rush` (about 40 minutes, a bell-shaped curve, `--lanes`
lanes at 28 a minute), replayed live `--speed` times faster (`live_schedule`): every
`--interval` seconds this script, as the school's gateway, posts a signed batch of the passes
whose time has come. For each pupil it measures from the moment the pass happened (its time on
the controller) to the moment the FCM stand-in accepted the guardian's push «вошёл в ...».
Reports p50 / p95 / max, how many pushes arrived, the load average, and the `/health` ceiling
of the same server in the same run.

It also counts the alerts the data call for and checks every stage against that count
(`check_alerts`): the pupils with a fresh granted entry (decision 0902: within 10 minutes of
happening, not 2 minutes ahead), their day's first-entry claims, the outbox events, the
notifications (one per guardian with an account) and the pushes received. A stage short of
the count is an error naming the missing pupils and their passes, and the script exits 1.

    uv run python -m tests.load.bench_access_rush                   # 1,000 pupils, speed 20
    uv run python -m tests.load.bench_access_rush --pupils 300 --speed 40
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from pydantic import SecretStr
from redis.asyncio import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend.access.alerts import is_fresh
from backend.access.cards import parse
from backend.access.ingest import sign
from backend.access.simulate import Holder, live_schedule, rush
from backend.settings import Settings
from notifications.standins.common import free_port
from notifications.standins.suite import StandIns
from tests.load.bench_access_ingest import health_ceiling, loadavg, wait_ready
from tests.load.bench_notify import Workers, fix_sequences, make_families

POSTGRES_URL = os.environ.get(
    "PARTA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ROOT = Path(__file__).resolve().parents[2]


def noon_zone() -> str:
    """A fixed-offset zone where it is about midday now: no quiet hours, one local date."""
    offset = 12 - datetime.now(UTC).hour
    if offset == 0:
        return "Etc/GMT"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"


async def arrange(url: str, pupils: int, lanes: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    region = await conn.fetchval("INSERT INTO region (name, code) VALUES ('Р', '99') RETURNING id")
    municipality = await conn.fetchval(
        "INSERT INTO municipality (region, name) VALUES ($1, 'Город') RETURNING id", region
    )
    school = await conn.fetchval(
        "INSERT INTO school (municipality, full_name, short_name, time_zone, created_at) "
        "VALUES ($1, 'Школа', 'Школа', $2, now()) RETURNING id",
        municipality,
        noon_zone(),
    )
    students = await make_families(conn, school, 1, pupils, "push")
    await fix_sequences(conn)
    points = [
        await conn.fetchval(
            "INSERT INTO access_point (school_id, name, direction, lane, is_active, created_at) "
            "VALUES ($1, $2, 'in', $3, true, now()) RETURNING id",
            school,
            f"Турникет {lane}",
            lane,
        )
        for lane in range(1, lanes + 1)
    ]
    key = secrets.token_urlsafe(32)
    gateway = await conn.fetchval(
        "INSERT INTO access_gateway (school_id, name, signing_key, is_active, "
        "clock_skew_seconds, skew_reported, created_at) "
        "VALUES ($1, 'Шлюз', $2, true, 0, false, now()) RETURNING id",
        school,
        key,
    )
    card_of: dict[int, str] = {}
    rows = []
    for i, student in enumerate(students):
        raw = f"{i // 60000 + 1},{i % 60000}"
        card = parse(raw, "wiegand26")
        card_of[student] = raw
        rows.append((school, raw, "wiegand26", card.canonical, card.key24, "student", student))
    await conn.executemany(
        "INSERT INTO access_card (school_id, raw_value, card_format, canonical, key24, "
        "holder_kind, holder_id, status, blocked_reason, issued_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', '', now())",
        rows,
    )
    await conn.close()
    return {"school": school, "gateway": gateway, "key": key, "points": points, "cards": card_of}


def environment(standins: StandIns, url: str, queue: str, port: int) -> dict[str, str]:
    pointed = standins.settings(Settings(environment="test"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    values = {
        **pointed,
        "environment": "production",
        "secret_key": SecretStr(secrets.token_urlsafe(32)),
        "database_url": url,
        "redis_url": REDIS_URL,
        "notify_queue": queue,
        "log_level": "WARNING",
        "port": port,
        "api_rate_limit_per_minute": 100_000_000,
    }
    for name, value in values.items():
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        env[f"PARTA_{name.upper()}"] = str(plain)
    env["PYTHONUNBUFFERED"] = "1"
    return env


async def run(args: argparse.Namespace, work: Path) -> None:
    name = f"parta_bench_rush_{uuid.uuid4().hex[:8]}"
    server_url = POSTGRES_URL.rsplit("/", 1)[0]
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = f"{server_url}/{name}"
    queue = f"parta-bench-rush-{uuid.uuid4().hex[:6]}"
    port = free_port()
    standins = StandIns(work / "standins")
    standins.start_in_thread()
    redis = Redis.from_url(REDIS_URL)
    api: Any = None
    workers: Workers | None = None
    failed = False
    try:
        env = environment(standins, url, queue, port)
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli", "migrate", env=env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        if await migrate.wait() != 0:
            raise RuntimeError("migrations failed")
        school = await arrange(url, args.pupils, args.lanes)
        api = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli", "serve", env=env, cwd=ROOT,
            stdout=(work / "api.log").open("wb"), stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        workers = Workers(env, args.workers, work)
        workers.start()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            await wait_ready(client)
            deadline = time.monotonic() + 180
            while await redis.zcard(f"saq:{queue}:stats") < args.workers:
                if time.monotonic() > deadline:
                    raise RuntimeError("the workers did not start")
                await asyncio.sleep(0.3)
            ceiling = await health_ceiling(client)
            print(f"/health ceiling {ceiling:.0f} req/s; load {loadavg()}", flush=True)

            student_of = {card: student for student, card in school["cards"].items()}
            holders = [Holder(card, "wiegand26") for card in student_of]
            passes = rush(holders, school["points"], datetime.now(UTC), unknown_share=0.0)
            plan = live_schedule(passes, datetime.now(UTC), speed=args.speed)
            happened: dict[int, float] = {}
            started = time.monotonic()
            sent = 0
            batch_ms: list[float] = []
            while sent < len(plan):
                due = []
                while sent < len(plan) and plan[sent].after <= time.monotonic() - started:
                    due.append(plan[sent].item)
                    sent += 1
                if due:
                    now = datetime.now(UTC)
                    body = json.dumps(
                        {
                            "sent_at": now.isoformat(),
                            "events": [
                                {
                                    "device_event_id": p.id,
                                    "card": p.card,
                                    "card_format": p.card_format,
                                    "access_point_id": p.access_point_id,
                                    "direction": p.direction,
                                    "result": p.result,
                                    "controller_time": p.time.isoformat(),
                                }
                                for p in due
                            ],
                        }
                    ).encode()
                    ts = int(time.time())
                    t0 = time.monotonic()
                    response = await client.post(
                        "/api/v1/access/ingest",
                        content=body,
                        headers={
                            "X-Parta-Gateway": str(school["gateway"]),
                            "X-Parta-Timestamp": str(ts),
                            "X-Parta-Signature": sign(school["key"], ts, body),
                            "Content-Type": "application/json",
                        },
                    )
                    batch_ms.append((time.monotonic() - t0) * 1000)
                    response.raise_for_status()
                    for p in due:
                        happened[student_of[p.card]] = p.time.timestamp()
                await asyncio.sleep(args.interval)
            rush_seconds = time.monotonic() - started
            received = standins.fcm.received.items
            expected_pushes = len(await expected_alerts(url))
            for _ in range(240):  # two minutes at most for the last pushes
                if len(received) >= expected_pushes:
                    break
                await asyncio.sleep(0.5)
            load_after = loadavg()
            errors = await check_alerts(url, list(standins.fcm.received.items))

        conn = await asyncpg.connect(url)
        rows = await conn.fetch(
            "SELECT id, student_id FROM notification WHERE kind = 'access.entered'"
        )
        await conn.close()
        student_of_note = {r["id"]: r["student_id"] for r in rows}
        latencies = sorted(
            item["at"] - happened[student_of_note[int(item["data"]["notification_id"])]]
            for item in list(standins.fcm.received.items)
            if int(item["data"].get("notification_id") or 0) in student_of_note
        )
        if not latencies:
            raise RuntimeError("no push arrived")
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(
            f"{len(happened)} entries over {rush_seconds:.0f} s (speed {args.speed}, "
            f"{args.lanes} lanes); {len(latencies)} pushes received; entry -> push "
            f"p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, "
            f"max {latencies[-1]:.2f} s; batch p50 {statistics.median(batch_ms):.0f} ms; "
            f"load after {load_after}",
            flush=True,
        )
        for line in errors:
            print(f"ERROR: {line}", flush=True)
        if errors:
            failed = True
    finally:
        if workers is not None:
            workers.stop()
        if api is not None and api.returncode is None:
            api.terminate()
            await api.wait()
        standins.stop_thread()
        async for key in redis.scan_iter(match=f"saq:*{queue}*", count=500):
            await redis.delete(key)
        await redis.aclose()
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    if failed:
        raise SystemExit(1)


async def expected_alerts(url: str) -> dict[int, int]:
    """From the stored passes and the families: each pupil with a fresh granted entry today
    (decision 0902) -> how many notifications «вошёл» it calls for (its guardians with an
    account; each has a push token and no quiet hours in this data)."""
    conn = await asyncpg.connect(url)
    try:
        passes = await conn.fetch(
            "SELECT holder_id, occurred_at, received_at FROM access_event "
            "WHERE holder_kind = 'student' AND result = 'granted' AND direction = 'in'"
        )
        guardians = await conn.fetch(
            "SELECT sg.student, count(*) AS n FROM student_guardian sg "
            "JOIN guardian g ON g.id = sg.guardian WHERE g.user_id IS NOT NULL "
            "GROUP BY sg.student"
        )
    finally:
        await conn.close()
    families = {r["student"]: r["n"] for r in guardians}
    fresh = {r["holder_id"] for r in passes if is_fresh(dict(r), r["received_at"])}
    return {pupil: families.get(pupil, 0) for pupil in fresh if families.get(pupil, 0)}


async def check_alerts(url: str, pushes: list[dict[str, Any]]) -> list[str]:
    """Each stage from pass to push against the count the data call for; the lines of what
    is missing or extra (none when every stage holds exactly what it should)."""
    expected = await expected_alerts(url)
    want = sum(expected.values())
    conn = await asyncpg.connect(url)
    try:
        entered = await conn.fetch(
            "SELECT holder_id, count(*) AS n, min(occurred_at) AS first FROM access_event "
            "WHERE holder_kind = 'student' AND result = 'granted' AND direction = 'in' "
            "GROUP BY holder_id"
        )
        claims = [
            r["student_id"]
            for r in await conn.fetch(
                "SELECT student_id FROM access_alert WHERE kind = 'access.entered'"
            )
        ]
        events = [
            r["student_id"]
            for r in await conn.fetch(
                "SELECT student_id FROM outbox_event WHERE kind = 'access.entered'"
            )
        ]
        notes = await conn.fetch(
            "SELECT id, student_id FROM notification WHERE kind = 'access.entered'"
        )
    finally:
        await conn.close()
    student_of_note = {r["id"]: r["student_id"] for r in notes}
    pushed = [
        student_of_note[int(p["data"]["notification_id"])]
        for p in pushes
        if int(p["data"].get("notification_id") or 0) in student_of_note
    ]
    passes_of = {r["holder_id"]: (r["n"], r["first"]) for r in entered}
    stale = len(passes_of) - len(expected)
    print(
        f"alerts: {len(passes_of)} pupils entered ({stale} stale or without a family), "
        f"{len(expected)} «вошёл» alerts and {want} notifications expected; "
        f"claims {len(claims)}, outbox events {len(events)}, notifications {len(notes)}, "
        f"pushes {len(pushed)}",
        flush=True,
    )
    errors = []
    for stage, students, per_pupil in (
        ("first-entry claims", claims, False),
        ("outbox events", events, False),
        ("notifications", [r["student_id"] for r in notes], True),
        ("pushes received", pushed, True),
    ):
        counted: dict[int, int] = {}
        for student in students:
            counted[student] = counted.get(student, 0) + 1
        should = {p: (n if per_pupil else 1) for p, n in expected.items()}
        missing = sorted(p for p, n in should.items() if counted.get(p, 0) < n)
        extra = sorted(p for p, n in counted.items() if n > should.get(p, 0))
        if missing or extra:
            named = ", ".join(
                f"pupil {p} ({passes_of.get(p, (0, None))[0]} entries, first "
                f"{passes_of.get(p, (0, None))[1]})"
                for p in missing[:10]
            )
            errors.append(
                f"{stage}: {len(students)} of {sum(should.values())} expected; "
                f"missing {len(missing)}{': ' + named if named else ''}; "
                f"extra {len(extra)}{': ' + str(extra[:10]) if extra else ''}"
            )
    return errors


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pupils", type=int, default=1000)
    parser.add_argument("--lanes", type=int, default=4)
    parser.add_argument("--speed", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        asyncio.run(run(args, Path(work)))


if __name__ == "__main__":
    main()
