"""Benchmark: a pupil's diary week on PostgreSQL with a region slice (run by hand).

Starts the API with uvicorn (2 workers) on the slice made by `tests/load/region_slice.py`,
then drives it with `wrk` from this machine (127.0.0.1 only), each run bounded in time:

  health       GET /health: the server's ceiling in this run
  cold build   no projection rows: each request a new pupil-week, built from the journal
               tables (a few indexed queries) and stored
  first read   the week's projection row present (as the background rebuild leaves it after
               a write), never read before: each request a new pupil-week with its pupil's
               own token, one indexed lookup shared with the reads of the same moment
  warm         the same 2,000 weeks read again and again (rows in PostgreSQL's memory,
               tokens already verified by the process)
  304          If-None-Match matching the week: 304

    PARTA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/parta_bench \
    PARTA_BENCH_REDIS_URL=redis://127.0.0.1:6379/4 \
        uv run python -m tests.load.bench_diary [--seconds 15] [--reads-only]

`--reads-only` keeps the projection rows a previous run built and measures health, first
read, warm and 304 only (a minute instead of six). Either way, projection rows are first
added up to `--weeks` (60,000) the way writes leave them: a class's weeks bumped, then built
by the background rebuild (a few minutes the first time).

Needs `wrk` (Debian package `wrk`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
from redis.asyncio import Redis

from backend import bootstrap
from backend.accounts.tokens import AccessTokens, build_jwt_auth
from backend.core.rights import Grant, Role, ScopeKind

DB = os.environ.get("PARTA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/parta_bench")
REDIS = os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/4")
PORT = int(os.environ.get("PARTA_BENCH_PORT", "8811"))
BASE = f"http://127.0.0.1:{PORT}"
HERE = Path(__file__).parent
YEAR_START = date(2025, 9, 1)
WEEKS = 38


def server_env(secret: str) -> dict[str, str]:
    return {
        **os.environ,
        "PARTA_ENVIRONMENT": "production",
        "PARTA_DATABASE_URL": DB,
        "PARTA_REDIS_URL": REDIS,
        "PARTA_SECRET_KEY": secret,
        "PARTA_API_RATE_LIMIT_PER_MINUTE": "100000000",
        "PARTA_LOG_LEVEL": "WARNING",
        "PARTA_DATABASE_POOL_MAX": "20",
        "PARTA_ACCESS_TOKEN_MINUTES": "120",
    }


def start_server(secret: str, workers: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "backend.asgi:app_factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(PORT),
            "--workers",
            str(workers),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ],
        env=server_env(secret),
    )


def wait_ready() -> None:
    for _ in range(100):
        try:
            if httpx.get(BASE + "/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become ready")


def wrk(
    name: str, lines: list[str] | None, seconds: int, connections: int, path: str = "/health"
) -> dict[str, float]:
    threads = 2
    env = {**os.environ, "WRK_THREADS": str(threads)}
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    if lines is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False) as handle:
            handle.write("\n".join(lines) + "\n")
        env["WRK_PATHS"] = handle.name
        cmd += ["-s", str(HERE / "wrk_paths.lua")]
    out = subprocess.run(
        [*cmd, BASE + path], env=env, capture_output=True, text=True, check=True
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = {}
    for pct, value, unit in re.findall(r"\s+(50|90|99)%\s+([\d.]+)(us|ms|s)\b", out):
        factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
        latency[pct] = float(value) * factor
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    total = re.search(r"(\d+) requests in", out)
    result = {
        "rate": rate,
        "p50": latency.get("50", 0),
        "p90": latency.get("90", 0),
        "p99": latency.get("99", 0),
        "non2xx": float(errors.group(1)) if errors else 0,
        "requests": float(total.group(1)) if total else 0,
    }
    print(
        f"{name:12s} {rate:9.0f} req/s  p50 {result['p50']:6.2f} ms  p90 {result['p90']:6.2f} ms  "
        f"p99 {result['p99']:6.2f} ms  non-2xx/3xx {int(result['non2xx'])}",
        flush=True,
    )
    return result


async def cold_build(
    args: argparse.Namespace,
    keys: list[tuple[int, int]],
    line: Callable[..., str],
    results: dict[str, dict[str, float]],
) -> None:
    """The cold-build run: each request a pupil-week with no projection row, built from the
    journal tables by its reader."""
    results["cold build"] = wrk(
        "cold build",
        [line(s, w) for s, w in keys[:80_000]],
        2 * args.seconds,
        args.connections,
    )


async def rebuild_after_writes(conn: asyncpg.Connection, target: int) -> None:
    """More projection rows for the first-read run (not measured), made the way a write leaves
    them: a class's pupil-weeks bumped as a lesson save bumps them (`bump_weeks`), then built
    together by the background rebuild (`refresh_projections`), until `target` rows hold a
    body."""
    from backend.core import db
    from backend.journal.diary import refresh_projections
    from backend.journal.weeks import bump_weeks
    from backend.settings import Settings

    built = await conn.fetchval("SELECT count(*) FROM diary_week WHERE body IS NOT NULL")
    if built >= target:
        return
    taken = {
        (r["student"], r["week_start"])
        for r in await conn.fetch("SELECT student, week_start FROM diary_week")
    }
    classes = [
        list(r["pupils"])
        for r in await conn.fetch(
            "SELECT array_agg(DISTINCT student) AS pupils FROM enrollment GROUP BY school_class"
        )
    ]
    todo = [(pupils, w) for pupils in classes for w in range(WEEKS)]
    random.Random(11).shuffle(todo)
    engine = db.make_engine(Settings(database_url=DB, database_pool_max=4))
    db.bind_engine(engine, bootstrap.all_tables())
    await db.open_engine(engine, Settings(database_url=DB, database_pool_max=4))
    started = time.perf_counter()
    try:
        for pupils, w in todo:
            if built >= target:
                break
            monday = YEAR_START + timedelta(weeks=w)
            fresh = [s for s in pupils if (s, monday) not in taken]
            if not fresh:
                continue
            async with db.transaction():
                await bump_weeks((s, monday) for s in fresh)
            built += await refresh_projections(fresh, monday)
    finally:
        await db.close_engine(engine)
    print(f"{built} weeks built after writes in {time.perf_counter() - started:.0f} s", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--weeks", type=int, default=60_000, help="projection rows to read")
    parser.add_argument("--reads-only", action="store_true")
    args = parser.parse_args()
    secret = secrets.token_urlsafe(48)
    tokens = AccessTokens(build_jwt_auth(secret, timedelta(hours=2), []), timedelta(hours=2))
    conn = await asyncpg.connect(DB)
    students = [r["id"] for r in await conn.fetch("SELECT id FROM student ORDER BY id")]
    print(
        f"{len(students)} pupils, {await conn.fetchval('SELECT count(*) FROM mark')} marks, "
        f"{await conn.fetchval('SELECT count(*) FROM attendance_record')} attendance records"
    )
    token_of = {
        s: tokens.issue(
            2_000_000 + s, [Grant(Role.GUARDIAN, ScopeKind.STUDENT, s)], str(uuid.uuid4()), "bench"
        )
        for s in students
    }
    rng = random.Random(7)
    keys = [(s, w) for s in students for w in range(WEEKS)]
    rng.shuffle(keys)

    def line(s: int, w: int, etag: str = "") -> str:
        day = YEAR_START + timedelta(weeks=w, days=2)
        return f"/api/v1/diary/students/{s}/week?date={day.isoformat()}\t{token_of[s]}\t{etag}"

    redis = Redis.from_url(REDIS)
    await redis.flushdb()
    if not args.reads_only:
        await conn.execute("TRUNCATE diary_week")
    server = start_server(secret, args.workers)
    try:
        wait_ready()
        results = {"health": wrk("health", None, args.seconds, args.connections)}
        if not args.reads_only:
            await cold_build(args, keys, line, results)
        await rebuild_after_writes(conn, args.weeks)
        built = await conn.fetch(
            "SELECT student, week_start FROM diary_week WHERE body IS NOT NULL"
        )
        print(f"{len(built)} weeks in the projection", flush=True)
        await redis.flushdb()
        built_keys = [(r["student"], (r["week_start"] - YEAR_START).days // 7) for r in built]
        rng.shuffle(built_keys)
        # Each request must be a week not read before: the run ends before the list runs out
        # at up to 7,000 reads a second (a faster server would wrap around into weeks read
        # before, with tokens the process has verified: see the wrap count).
        first_seconds = max(2, min(args.seconds, len(built_keys) // 7000))
        results["first read"] = wrk(
            "first read", [line(s, w) for s, w in built_keys], first_seconds, args.connections
        )
        wrapped = results["first read"]["requests"] > len(built_keys)
        print(
            f"first read: {int(results['first read']['requests'])} requests over "
            f"{len(built_keys)} distinct weeks"
            + (" (WRAPPED: some were read before)" if wrapped else "")
        )
        warm_keys = built_keys[:2000]
        async with httpx.AsyncClient(base_url=BASE) as client:
            etags = []
            for s, w in warm_keys:
                path, token, _ = line(s, w).split("\t")
                r = await client.get(path, headers={"Authorization": f"Bearer {token}"})
                etags.append(r.headers["etag"])
        results["warm"] = wrk(
            "warm", [line(s, w) for s, w in warm_keys], args.seconds, args.connections
        )
        results["304"] = wrk(
            "304",
            [line(s, w, e) for (s, w), e in zip(warm_keys, etags, strict=True)],
            args.seconds,
            args.connections,
        )
        health = results["health"]["rate"]
        print(
            f"warm / health = {results['warm']['rate'] / health:.2f}, "
            f"304 / health = {results['304']['rate'] / health:.2f}"
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
        await redis.aclose()
        await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
