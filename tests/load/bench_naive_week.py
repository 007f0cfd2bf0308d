"""Baseline for the diary benchmark: the naive single query, with nothing else (run by hand).

A bare Litestar app with one route that reads a pupil-week's projection row with one asyncpg
query and returns it: no sign-in, no rights, no rate limit, no metrics, no cache, no ETag.
This is the "naive single query" the journal issue compares against; Parta's own figures
(`tests/load/bench_diary.py`) are read against it. Needs the projection rows that a
`bench_diary` run leaves behind, and `wrk`.

    PARTA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/parta_bench \\
        uv run python -m tests.load.bench_naive_week [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
from datetime import date, timedelta
from typing import Annotated, Any

import asyncpg
from litestar import Litestar, Response, get
from litestar.params import Parameter

from tests.load.bench_diary import DB, wait_ready, wrk

PORT = int(os.environ.get("PARTA_BENCH_PORT", "8811"))
_pool: Any = None


async def _startup() -> None:
    global _pool
    _pool = await asyncpg.create_pool(DB, min_size=4, max_size=10)


@get("/api/v1/diary/students/{student_id:int}/week")
async def week(student_id: int, day: Annotated[date, Parameter(query="date")]) -> Response[bytes]:
    monday = day - timedelta(days=day.weekday())
    async with _pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT version, convert_to(body, 'UTF8') AS body FROM diary_week "
            "WHERE student = $1 AND week_start = $2",
            student_id,
            monday,
        )
    return Response(row["body"] if row else b"{}", media_type="application/json")


@get("/ready")
async def ready() -> str:
    return "ok"


app = Litestar([week, ready], on_startup=[_startup])


async def _built_weeks() -> list[Any]:
    conn = await asyncpg.connect(DB)
    try:
        return list(
            await conn.fetch("SELECT student, week_start FROM diary_week WHERE body IS NOT NULL")
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    rows = asyncio.run(_built_weeks())
    if not rows:
        raise SystemExit("no projection rows: run tests.load.bench_diary first")
    lines = [
        f"/api/v1/diary/students/{r['student']}/week?date={r['week_start'] + timedelta(days=2)}\t\t"
        for r in rows
    ]
    random.Random(7).shuffle(lines)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tests.load.bench_naive_week:app",
            "--port",
            str(PORT),
            "--workers",
            "2",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    )
    try:
        wait_ready()
        print(f"{len(rows)} pupil-weeks in the projection")
        wrk("naive query", lines, args.seconds, args.connections)
        wrk("health", None, args.seconds, args.connections, path="/ready")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
