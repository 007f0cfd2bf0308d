"""Benchmark: saving a whole lesson (30 pupils) through the quick-marking sync endpoint.

Uses the region slice (`tests/load/region_slice.py`) on PostgreSQL and the API under uvicorn
(2 workers). Makes fresh lessons for 30-pupil classes, then each call saves one whole lesson as
its teacher: 30 attendance marks (2 absent, 1 late), 6 marks, the topic and homework. Eight
teachers save at the same time. A second pass re-saves the same lessons on the version the first
pass returned (3 attendance corrections, 2 more marks): the update path.

    PARTA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/parta_bench \
        uv run python -m tests.load.bench_lesson_save [--lessons 400]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import time
import uuid
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx

from backend.accounts.tokens import AccessTokens, build_jwt_auth
from backend.core.rights import Grant, Role, ScopeKind
from tests.load.bench_diary import BASE, DB, start_server, wait_ready

DAY = date(2026, 5, 28)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, timings: list[float], seconds: float) -> None:
    ms = [t * 1000 for t in timings]
    print(
        f"{name:14s} {len(ms)} calls, {len(ms) / seconds:6.1f} calls/s, "
        f"p50 {statistics.median(ms):6.1f} ms  p95 {pct(ms, 95):6.1f} ms  "
        f"p99 {pct(ms, 99):6.1f} ms  max {max(ms):6.1f} ms",
        flush=True,
    )


async def run(
    client: httpx.AsyncClient, jobs: list[tuple[int, str, dict[str, Any]]], concurrency: int
) -> tuple[list[float], list[dict[str, Any]], float]:
    timings: list[float] = []
    answers: list[dict[str, Any]] = [{} for _ in jobs]
    queue = list(enumerate(jobs))

    async def worker() -> None:
        while queue:
            i, (lesson_id, token, body) = queue.pop()
            started = time.perf_counter()
            r = await client.post(
                f"/api/v1/journal/lessons/{lesson_id}/sync",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            timings.append(time.perf_counter() - started)
            if r.status_code != 200:
                raise RuntimeError(f"{r.status_code} {r.text[:300]}")
            answers[i] = r.json()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return timings, answers, time.perf_counter() - started


def op() -> str:
    return uuid.uuid4().hex


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lessons", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    conn = await asyncpg.connect(DB)
    await conn.execute("UPDATE staff SET user_id = 1000000 + id WHERE user_id IS NULL")
    await conn.execute("""UPDATE school SET settings = '{"marking_window_days": 100000}'""")
    # Lessons of an earlier run of this benchmark go, with what was written for them.
    old = "SELECT id FROM lesson WHERE date = $1 AND lesson_number > 6"
    for table, column in (
        ("attendance_record", "lesson"),
        ("mark", "lesson"),
        ("homework", "lesson"),
        ("lesson_record", "lesson"),
        ("remark", "lesson"),
        ("journal_change", "lesson_id"),
        ("sync_operation", "lesson_id"),
    ):
        await conn.execute(f'DELETE FROM "{table}" WHERE "{column}" IN ({old})', DAY)
    await conn.execute("DELETE FROM lesson WHERE date = $1 AND lesson_number > 6", DAY)
    classes = await conn.fetch(
        "SELECT c.id, c.school FROM school_class c WHERE c.grade > 1 ORDER BY random() LIMIT $1",
        args.lessons,
    )
    lessons = []
    for c in classes:
        row = await conn.fetchrow(
            "INSERT INTO lesson (school, date, lesson_number, school_class, subject, teacher, "
            "status, topic, version, updated_at) SELECT $1, $2, 7, $3, "
            "(SELECT id FROM subject WHERE school = $1 ORDER BY id LIMIT 1), "
            "(SELECT id FROM staff WHERE school = $1 ORDER BY id LIMIT 1), 'scheduled', '', 1, "
            "now() RETURNING id, teacher",
            c["school"],
            DAY,
            c["id"],
        )
        pupils = [
            r["student"]
            for r in await conn.fetch(
                "SELECT student FROM enrollment WHERE school_class = $1 ORDER BY student", c["id"]
            )
        ]
        lessons.append((row["id"], c["school"], 1_000_000 + row["teacher"], pupils))
    await conn.close()
    secret = secrets.token_urlsafe(48)
    tokens = AccessTokens(build_jwt_auth(secret, timedelta(hours=2), []), timedelta(hours=2))

    def token(school: int, user: int) -> str:
        return tokens.issue(user, [Grant(Role.TEACHER, ScopeKind.SCHOOL, school)], "s", "bench")

    first = []
    for lesson_id, school, user, pupils in lessons:
        ops: list[dict[str, Any]] = []
        for n, p in enumerate(pupils):
            status = "absent" if n in (3, 17) else "late" if n == 9 else "present"
            item = {"op_id": op(), "kind": "attendance", "student_id": p, "status": status}
            if status == "late":
                item["late_minutes"] = 7
            ops.append(item)
        ops += [
            {"op_id": op(), "kind": "mark", "student_id": p, "value": v, "work_kind": "answer"}
            for p, v in zip(pupils[::5], "543545", strict=False)
        ]
        ops.append({"op_id": op(), "kind": "topic", "topic": "Решение задач"})
        ops.append({"op_id": op(), "kind": "homework", "text": "№ 101-105"})
        first.append((lesson_id, token(school, user), {"operations": ops, "base_version": 1}))
    print(
        f"{len(first)} lessons, {len(lessons[0][3])} pupils each, "
        f"{len(first[0][2]['operations'])} operations per call"
    )
    server = start_server(secret, 2)
    try:
        wait_ready()
        async with httpx.AsyncClient(base_url=BASE, timeout=30) as client:
            await run(client, first[:10], 2)  # warm up the workers' pools
            timings, answers, seconds = await run(client, first[10:], args.concurrency)
            report("first save", timings, seconds)
            second = []
            for (lesson_id, tok, body), answer in zip(first[10:], answers, strict=True):
                results = answer["results"]
                ops = []
                for r, o in zip(results[:3], body["operations"][:3], strict=True):
                    ops.append(
                        {
                            "op_id": op(),
                            "kind": "attendance",
                            "student_id": o["student_id"],
                            "status": "sick",
                            "base_version": r["version"],
                        }
                    )
                ops += [
                    {"op_id": op(), "kind": "mark", "student_id": o["student_id"], "value": "4"}
                    for o in body["operations"][5:7]
                ]
                second.append(
                    (lesson_id, tok, {"operations": ops, "base_version": answer["lesson_version"]})
                )
            timings, answers, seconds = await run(client, second, args.concurrency)
            report("corrections", timings, seconds)
            repeat, _, seconds = await run(client, second, args.concurrency)
            report("repeat (no-op)", repeat, seconds)
    finally:
        server.terminate()
        server.wait(timeout=20)


if __name__ == "__main__":
    asyncio.run(main())
