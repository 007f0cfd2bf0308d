"""CPU per delivered push inside one worker (run by hand): the stand-ins on a thread, one
`NotifyWorker` in this process on PostgreSQL and Redis, `--marks` marks emitted in bursts, and
cProfile over the worker's thread. Prints the process CPU per push and the top functions.

    uv run python tests/load/profile_notify.py --marks 3000
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import secrets
import tempfile
import time
from pathlib import Path

import asyncpg
from redis.asyncio import Redis

from backend import bootstrap
from backend.core import db
from backend.core.redis import make_redis
from backend.events.services import emit
from backend.schools.tables import Region
from backend.settings import Settings
from notifications.standins.suite import StandIns
from notifications.worker import NotifyWorker
from tests.load.bench_notify import (
    POSTGRES_URL,
    fix_sequences,
    make_families,
    make_school,
)

REDIS_URL = os.environ.get("PARTA_BENCH_REDIS_URL", "redis://127.0.0.1:6379/6")


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--marks", type=int, default=3000)
    parser.add_argument("--burst", type=int, default=100)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    database = f"parta_prof_notify_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database
    plain = Redis.from_url(REDIS_URL)
    await plain.flushdb()
    standins = StandIns(Path(tempfile.mkdtemp(prefix="prof-notify-")), telegram_enforce=True)
    standins.start_in_thread()
    base = Settings(environment="test", database_url=url, redis_url=REDIS_URL)
    settings = Settings.model_validate(
        {
            **{n: getattr(base, n) for n in Settings.model_fields},
            **standins.settings(base),
            "notify_queue": "prof-notify",
        }
    )
    engine = db.make_engine(settings)
    db.bind_engine(engine, bootstrap.all_tables())
    worker = None
    redis = make_redis(settings, connections=settings.notify_concurrency + 100)
    try:
        await bootstrap.create_tables(engine)
        await db.open_engine(engine, settings)
        region = Region(name="Регион", code="99")
        await region.save()
        school = await make_school(region.id, 1)
        conn = await asyncpg.connect(url)
        students = await make_families(conn, school, 1, 2000, "push")
        await fix_sequences(conn)
        await conn.execute("ANALYZE")
        await conn.close()
        worker = NotifyWorker(settings, redis, cron_jobs=[])
        await worker.start()
        fcm = standins.fcm.received
        # warm up
        async with db.transaction():
            await emit("mark.created", {"student_id": students[0], "value": "5"},
                       school_id=school, student_id=students[0])  # fmt: skip
        while len(fcm.items) < 1:  # noqa: ASYNC110 (filled by the stand-in's thread)
            await asyncio.sleep(0.05)
        start_items = len(fcm.items)
        profiler = cProfile.Profile() if args.profile else None
        began, wall = cpu(), time.monotonic()
        if profiler:
            profiler.enable()
        sent = 0
        while sent < args.marks:
            for _ in range(min(args.burst, args.marks - sent)):
                student = students[sent % len(students)]
                async with db.transaction():
                    await emit(
                        "mark.created",
                        {"student_id": student, "subject": "Математика", "value": "5"},
                        school_id=school,
                        student_id=student,
                    )
                sent += 1
            await asyncio.sleep(0.2)
        emitted_cpu = cpu() - began
        while len(fcm.items) - start_items < args.marks:
            if time.monotonic() - wall > 600:
                break
            await asyncio.sleep(0.05)
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        spent = cpu() - began
        pushed = len(fcm.items) - start_items
        print(
            f"{pushed} pushes in {time.monotonic() - wall:.1f} s; this thread's CPU {spent:.2f} s "
            f"(emitting ~{emitted_cpu:.2f} s with the worker running alongside): "
            f"{1000 * spent / max(1, pushed):.2f} ms per push; load {os.getloadavg()[0]:.1f}"
        )
        if args.profile:
            pstats.Stats(args.profile).sort_stats("tottime").print_stats(35)
    finally:
        if worker is not None:
            await worker.stop()
        await redis.aclose()
        await db.close_engine(engine)
        standins.stop_thread()
        await plain.flushdb()
        await plain.aclose()
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
