"""Benchmark: the signed turnstile ingest on PostgreSQL (run by hand, not by pytest).

Creates a PostgreSQL database of its own (dropped afterwards), migrates it, arranges `--schools`
schools with `--pupils` carded pupils each, two turnstile lanes and one gateway per school,
starts the API under uvicorn (`--workers` processes) and has `--senders` concurrent gateways
post signed batches of `--batch` fresh passes (random pupils, both directions, a few unknown
cards) for `--seconds`. Reports the passes stored per second (each 10-second window, and the
median), the batch latency, the load average beside them, the same server's `/health`
ceiling measured in the same run, and the CPU the API's processes and the database's backends
spent per 1,000 passes (far steadier than the rate on a shared machine). Fresh passes raise
their entry/exit alerts, as in a rush.

    uv run python -m tests.load.bench_access_ingest                 # 60 s, 2 workers
    uv run python -m tests.load.bench_access_ingest --seconds 10 --senders 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from backend.access.cards import parse
from backend.access.ingest import sign

ADMIN_URL = os.environ.get("PARTA_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
PORT = int(os.environ.get("PARTA_BENCH_PORT", "8813"))
BASE = f"http://127.0.0.1:{PORT}"
ROOT = Path(__file__).resolve().parents[2]


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU of a process so far (0 once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


async def cpu_sample(server: subprocess.Popen[bytes], name: str) -> dict[str, dict[int, float]]:
    """CPU so far of the API's processes and of the PostgreSQL backends serving the bench
    database (those are the postmaster's children, found through pg_stat_activity)."""
    conn = await asyncpg.connect(ADMIN_URL)
    backends = [
        r["pid"]
        for r in await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            name,
        )
    ]
    await conn.close()
    api = [server.pid, *children_of(server.pid)]
    return {
        "api": {pid: cpu_seconds(pid) for pid in api},
        "db": {pid: cpu_seconds(pid) for pid in backends},
    }


def cpu_spent(
    before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
) -> dict[str, float]:
    return {
        side: sum(after[side].get(pid, 0.0) - before[side].get(pid, 0.0) for pid in after[side])
        for side in after
    }


def env_for(url: str) -> dict[str, str]:
    return {
        **os.environ,
        "PARTA_ENVIRONMENT": "production",
        "PARTA_DATABASE_URL": url,
        "PARTA_REDIS_URL": REDIS,
        "PARTA_SECRET_KEY": secrets.token_urlsafe(48),
        "PARTA_API_RATE_LIMIT_PER_MINUTE": "100000000",
        "PARTA_LOG_LEVEL": "WARNING",
        "PARTA_DATABASE_POOL_MAX": "20",
    }


async def arrange(url: str, schools: int, pupils: int) -> list[dict[str, object]]:
    conn = await asyncpg.connect(url)
    region = await conn.fetchval("INSERT INTO region (name, code) VALUES ('Р', '99') RETURNING id")
    municipality = await conn.fetchval(
        "INSERT INTO municipality (region, name) VALUES ($1, 'Город') RETURNING id", region
    )
    made = []
    for n in range(schools):
        school = await conn.fetchval(
            "INSERT INTO school (municipality, full_name, short_name, created_at) "
            "VALUES ($1, $2, $2, now()) RETURNING id",
            municipality,
            f"Школа {n + 1}",
        )
        points = [
            await conn.fetchval(
                "INSERT INTO access_point (school_id, name, direction, lane, is_active, "
                "created_at) VALUES ($1, $2, 'both', $3, true, now()) RETURNING id",
                school,
                f"Турникет {lane}",
                lane,
            )
            for lane in (1, 2)
        ]
        key = secrets.token_urlsafe(32)
        gateway = await conn.fetchval(
            "INSERT INTO access_gateway (school_id, name, signing_key, is_active, "
            "clock_skew_seconds, skew_reported, created_at) "
            "VALUES ($1, 'Шлюз', $2, true, 0, false, now()) RETURNING id",
            school,
            key,
        )
        students = await conn.fetch(
            "INSERT INTO student (school, last_name, first_name, created_at) "
            "SELECT $1, 'Ученик' || g, 'Иван', now() FROM generate_series(1, $2) g RETURNING id",
            school,
            pupils,
        )
        cards = []
        rows = []
        for i, row in enumerate(students):
            raw = f"{(n * 7 + i // 60000) % 256},{i % 60000}"
            card = parse(raw, "wiegand26")
            cards.append(raw)
            rows.append(
                (school, raw, "wiegand26", card.canonical, card.key24, "student", row["id"])
            )
        await conn.executemany(
            "INSERT INTO access_card (school_id, raw_value, card_format, canonical, key24, "
            "holder_kind, holder_id, status, blocked_reason, issued_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, 'active', '', now())",
            rows,
        )
        made.append({"gateway": gateway, "key": key, "points": points, "cards": cards})
    await conn.close()
    return made


def start_server(url: str, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "--factory", "backend.asgi:app_factory",
            "--host", "127.0.0.1", "--port", str(PORT), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--loop", "uvloop", "--http", "httptools",
        ],
        env=env_for(url),
        cwd=ROOT,
    )  # fmt: skip


async def wait_ready(client: httpx.AsyncClient) -> None:
    for _ in range(200):
        try:
            if (await client.get("/ready")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.3)
    raise RuntimeError("the server did not become ready")


async def health_ceiling(client: httpx.AsyncClient, seconds: float = 5.0) -> float:
    count, stop = 0, time.monotonic() + seconds

    async def one() -> None:
        nonlocal count
        while time.monotonic() < stop:
            (await client.get("/health")).raise_for_status()
            count += 1

    await asyncio.gather(*(one() for _ in range(16)))
    return count / seconds


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--schools", type=int, default=4)
    parser.add_argument("--pupils", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    name = f"parta_bench_access_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    server = None
    try:
        migrate = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "backend.cli", "migrate", env=env_for(url), cwd=ROOT
        )
        if await migrate.wait() != 0:
            raise RuntimeError("migrations failed")
        schools = await arrange(url, args.schools, args.pupils)
        server = start_server(url, args.workers)
        limits = httpx.Limits(max_connections=64)
        async with httpx.AsyncClient(base_url=BASE, timeout=60, limits=limits) as client:
            await wait_ready(client)
            ceiling = await health_ceiling(client)
            print(f"/health ceiling: {ceiling:.0f} req/s, load {loadavg()}", flush=True)
            cpu_before = await cpu_sample(server, name)
            stored: list[tuple[float, int]] = []
            latencies: list[float] = []
            errors = 0
            started = time.monotonic()
            stop = started + args.seconds

            async def sender(n: int) -> None:
                nonlocal errors
                school = schools[n % len(schools)]
                seq = 0
                while time.monotonic() < stop:
                    now = datetime.now(UTC)
                    events = []
                    for _ in range(args.batch):
                        seq += 1
                        card = (
                            random.choice(school["cards"])  # type: ignore[arg-type]
                            if random.random() > 0.01
                            else f"{random.randint(0, 255)},{random.randint(60000, 65535)}"
                        )
                        events.append(
                            {
                                "device_event_id": f"s{n}-{seq}",
                                "card": card,
                                "card_format": "wiegand26",
                                "access_point_id": random.choice(school["points"]),  # type: ignore[arg-type]
                                "direction": random.choice(("in", "out")),
                                "result": "granted",
                                "controller_time": now.isoformat(),
                            }
                        )
                    body = json.dumps({"sent_at": now.isoformat(), "events": events}).encode()
                    ts = int(time.time())
                    t0 = time.monotonic()
                    response = await client.post(
                        "/api/v1/access/ingest",
                        content=body,
                        headers={
                            "X-Parta-Gateway": str(school["gateway"]),
                            "X-Parta-Timestamp": str(ts),
                            "X-Parta-Signature": sign(str(school["key"]), ts, body),
                            "Content-Type": "application/json",
                        },
                    )
                    latencies.append(time.monotonic() - t0)
                    if response.status_code != 200:
                        errors += 1
                        print("error", response.status_code, response.text[:200], flush=True)
                        continue
                    stored.append((time.monotonic() - started, response.json()["stored"]))

            await asyncio.gather(*(sender(n) for n in range(args.senders)))
            elapsed = time.monotonic() - started
            load_after = loadavg()
            spent = cpu_spent(cpu_before, await cpu_sample(server, name))
        windows: dict[int, int] = {}
        for at, count in stored:
            windows[int(at // 10)] = windows.get(int(at // 10), 0) + count
        rates = [windows[w] / 10 for w in sorted(windows) if (w + 1) * 10 <= args.seconds]
        total = sum(c for _, c in stored)
        ms = sorted(t * 1000 for t in latencies)
        print(
            f"stored {total} passes in {elapsed:.1f} s: {total / elapsed:.0f}/s overall; "
            f"10-s windows {[round(r) for r in rates]}, "
            f"median {statistics.median(rates or [0]):.0f}/s",
            flush=True,
        )
        print(
            f"batch of {args.batch}: p50 {statistics.median(ms):.0f} ms, "
            f"p95 {ms[int(len(ms) * 0.95)]:.0f} ms; errors {errors}; load after {load_after}",
            flush=True,
        )
        per = 1000 / max(total, 1)
        print(
            f"CPU per 1,000 passes: API {spent['api'] * per * 1000:.0f} ms, "
            f"PostgreSQL {spent['db'] * per * 1000:.0f} ms "
            f"(API {spent['api']:.1f} s, PostgreSQL {spent['db']:.1f} s in all)",
            flush=True,
        )
        conn = await asyncpg.connect(url)
        in_db = await conn.fetchval("SELECT count(*) FROM access_event")
        alerts = await conn.fetchval("SELECT count(*) FROM outbox_event")
        await conn.close()
        print(f"in the database: {in_db} passes, {alerts} outbox events", flush=True)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        admin = await asyncpg.connect(ADMIN_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
