"""Benchmark: import a school's pupils from CSV and XLSX, then export them (run by hand).

    uv run python tests/load/bench_import.py                      # PostgreSQL, 1,000 pupils
    uv run python tests/load/bench_import.py --pupils 3000        # a big school
    uv run python tests/load/bench_import.py --database sqlite    # the embedded engine

Builds a fresh database with one school (11 grades x 3 classes), then times: checking and writing
a CSV of N pupils with full personal files and consent, the same as XLSX in a second school, a
failing file of N lines (one bad line near the end: checked whole, nothing written), and the CSV
and XLSX exports. Prints the figures; the database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backend import bootstrap
from backend.core import db
from backend.core.context import Actor
from backend.schools.people import imports
from backend.schools.tables import AcademicYear, Municipality, Region, School, SchoolClass, Student
from backend.settings import Settings
from tests.integration.schools.import_files import as_csv, as_xlsx, pupil_rows

POSTGRES_URL = os.environ.get(
    "PARTA_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
LETTERS = "АБВ"


async def make_school(region: int, n: int) -> int:
    municipality = Municipality(region=region, name=f"Город {n}")
    await municipality.save()
    school = School(municipality=municipality.id, full_name=f"Школа {n}", short_name=f"Школа {n}")
    await school.save()
    year = AcademicYear(
        school=school.id, name="2026/2027", starts_on=date(2026, 9, 1), ends_on=date(2027, 8, 31)
    )
    await year.save()
    for grade in range(1, 12):
        for letter in LETTERS:
            await SchoolClass(
                school=school.id, academic_year=year.id, grade=grade, letter=letter
            ).save()
    return int(school.id)


def timed(label: str, started: float) -> float:
    seconds = time.perf_counter() - started
    print(f"{label:<52} {seconds:7.2f} s")
    return seconds


async def run(kind: str, pupils: int) -> None:
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
        region = Region(name="Регион", code="99")
        await region.save()
        first, second = await make_school(region.id, 1), await make_school(region.id, 2)
        classes = tuple(f"{g}{letter}" for g in range(1, 12) for letter in LETTERS)
        rows = pupil_rows(pupils, classes=classes)
        system = Actor.system()
        print(f"{kind}: {pupils} pupils, 33 classes")

        bad = [dict(r) for r in rows]
        bad[-5]["СНИЛС"] = "112-233-445 96"
        started = time.perf_counter()
        try:
            await imports.import_file(system, first, "pupils", as_csv(bad), "bad.csv")
        except imports.ImportFailed as exc:
            assert [p.line for p in exc.report.problems] == [pupils - 3]
        timed(f"failing CSV ({pupils} lines, bad line {pupils - 3}): report", started)
        assert await Student.count() == 0

        started = time.perf_counter()
        report = await imports.import_file(system, first, "pupils", as_csv(rows), "pupils.csv")
        timed(f"CSV import ({report.created} pupils, files, consent, admission)", started)

        content = as_xlsx(pupil_rows(pupils, classes=classes, start=pupils))
        started = time.perf_counter()
        report = await imports.import_file(system, second, "pupils", content, "pupils.xlsx")
        timed(f"XLSX import ({report.created} pupils)", started)

        started = time.perf_counter()
        csv_bytes = await imports.export_file(system, first, "pupils", "csv")
        timed(f"CSV export ({len(csv_bytes) // 1024} KiB)", started)
        started = time.perf_counter()
        xlsx_bytes = await imports.export_file(system, first, "pupils", "xlsx")
        timed(f"XLSX export ({len(xlsx_bytes) // 1024} KiB)", started)
    finally:
        await db.close_engine(engine)
        if database:
            admin = await asyncpg.connect(POSTGRES_URL)
            await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--pupils", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(run(args.database, args.pupils))


if __name__ == "__main__":
    main()
