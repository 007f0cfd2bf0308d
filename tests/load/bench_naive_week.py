"""Baselines for the diary benchmark, bare routes with nothing else (run by hand).

A bare Litestar app (no sign-in, no rights, no rate limit, no metrics, no ETag) with two
routes, each one asyncpg query per request:

  naive query      the journal issue's "naive single query on such data": the pupil's week
                   built by one SQL statement from the journal tables (the class's lessons of
                   the week with subject, teacher, topic, the pupil's marks and attendance and
                   the homework, as JSON from PostgreSQL);
  projection row   the week's stored projection row (`diary_week`), Parta's own design minus
                   everything around it: a ceiling for Parta's first read, not a naive design.

Parta's own figures (`tests/load/bench_diary.py`) are read against both, measured in the same
hour. Reads the same pupil-weeks as `bench_diary`'s first read (the projection rows it leaves
behind); needs `wrk`.

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


NAIVE_WEEK = """
SELECT coalesce(json_agg(w ORDER BY w.date, w.lesson_number), '[]')::text FROM (
  SELECT l.id, l.date, l.lesson_number, l.status, l.topic, s.name AS subject,
         t.last_name || ' ' || t.first_name AS teacher,
         (SELECT json_agg(json_build_object('value', m.value, 'weight', m.weight,
                                            'comment', m.comment))
            FROM mark m WHERE m.lesson = l.id AND m.student = $1 AND m.deleted_at IS NULL
         ) AS marks,
         (SELECT json_build_object('status', a.status, 'late_minutes', a.late_minutes,
                                   'reason', a.reason)
            FROM attendance_record a WHERE a.lesson = l.id AND a.student = $1
         ) AS attendance,
         (SELECT json_agg(json_build_object('text', h.text, 'due_date', h.due_date))
            FROM homework h WHERE h.lesson = l.id AND h.deleted_at IS NULL
         ) AS homework
    FROM lesson l
    JOIN subject s ON s.id = l.subject
    JOIN staff t ON t.id = l.teacher
   WHERE l.school_class = (SELECT e.school_class FROM enrollment e WHERE e.student = $1
                            ORDER BY e.date DESC LIMIT 1)
     AND l.date BETWEEN $2 AND $2 + 6
) w
"""


@get("/naive/students/{student_id:int}/week")
async def naive_week(
    student_id: int, day: Annotated[date, Parameter(query="date")]
) -> Response[bytes]:
    monday = day - timedelta(days=day.weekday())
    async with _pool.acquire() as connection:
        body = await connection.fetchval(NAIVE_WEEK, student_id, monday)
    return Response(body.encode(), media_type="application/json")


@get("/ready")
async def ready() -> str:
    return "ok"


app = Litestar([week, naive_week, ready], on_startup=[_startup])


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
        naive = [line.replace("/api/v1/diary/", "/naive/", 1) for line in lines]
        wrk("naive query", naive, args.seconds, args.connections)
        wrk("projection row", lines, args.seconds, args.connections)
        wrk("health", None, args.seconds, args.connections, path="/ready")
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    main()
