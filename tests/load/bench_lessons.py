"""Benchmark: generate a school year's lessons for a school of 33 classes (run by hand).

    uv run python tests/load/bench_lessons.py                       # PostgreSQL (default URL)
    uv run python tests/load/bench_lessons.py --database sqlite     # the embedded engine
    PARTA_BENCH_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/postgres uv run python ...

Builds a fresh database, seeds one demo school (11 grades x 3 classes, the full weekly timetable,
no lessons yet), then times `generate_lessons` over the whole academic year, and a second run
over the same year (idempotent: it must create nothing). Prints the figures; the database is
dropped afterwards. The target (issue 3): under 5 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend import bootstrap
from backend.accounts.passwords import Passwords
from backend.core import db
from backend.core.context import Actor
from backend.schools.tables import AcademicYear, Lesson, SchoolClass
from backend.schools.timetable import services as timetable
from backend.seed import seed_demo
from backend.settings import Settings

POSTGRES_URL = os.environ.get(
    "PARTA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def run(kind: str, classes_per_grade: int, repeats: int) -> None:
    database = ""
    if kind == "postgres":
        database = f"parta_bench_{secrets.token_hex(4)}"
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{database}"')
        await admin.close()
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite"
    settings = Settings(environment="test", database_url=url, redis_url="memory://")
    engine = db.make_engine(settings)
    try:
        await bootstrap.create_tables(engine)
        await db.open_engine(engine, settings)
        started = time.perf_counter()
        seeded = await seed_demo(
            Passwords(fast=True), classes_per_grade=classes_per_grade, lessons=False
        )
        seed_seconds = time.perf_counter() - started
        school_id = seeded.school_ids[0]
        year = await AcademicYear.select().where(AcademicYear.school == school_id).first()
        classes = await SchoolClass.count().where(SchoolClass.school == school_id)
        print(
            f"engine={kind} classes={classes} timetable_entries="
            f"{seeded.counts['timetable_entries']} seed={seed_seconds:.1f}s"
        )
        for n in range(repeats):
            await Lesson.delete(force=True)
            started = time.perf_counter()
            result = await timetable.generate_lessons(
                Actor.system(), school_id, year["starts_on"], year["ends_on"]
            )
            first = time.perf_counter() - started
            started = time.perf_counter()
            again = await timetable.generate_lessons(
                Actor.system(), school_id, year["starts_on"], year["ends_on"]
            )
            second = time.perf_counter() - started
            assert again.created == 0 and again.kept == result.created
            print(
                f"run {n + 1}: generated {result.created} lessons "
                f"({year['starts_on']}..{year['ends_on']}) in {first:.2f} s; "
                f"regenerated (0 new, {again.kept} kept) in {second:.2f} s"
            )
    finally:
        await db.close_engine(engine)
        if database:
            admin = await asyncpg.connect(POSTGRES_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--classes-per-grade", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.classes_per_grade, args.repeats))


if __name__ == "__main__":
    main()
