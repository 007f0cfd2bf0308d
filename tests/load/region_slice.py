"""Generate a region slice on PostgreSQL for the journal benchmarks (run by hand).

20 schools, 25 classes each (grades 1-11: А and Б, and В in grades 1-3), 30 pupils per class
(15,000 pupils), a full school year 2025/2026 (1 September - 29 May, Monday to Friday, 6 lessons
a day): ~513,000 lessons with topics, a full register for each (~15.4 million attendance
records, ~8% absent, sick or late), ~2.2 million marks (none in grade 1) and homework for most
lessons.

    PARTA_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/parta_bench \
        uv run python -m tests.load.region_slice

The bulk rows are made by `INSERT ... SELECT generate_series(...)` (PostgreSQL only): going
through the services row by row would take hours; the services' own speed is what
`bench_lesson_save.py` measures. The tables are created by `parta migrate`, as in production.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import date

import asyncpg

from backend import bootstrap
from backend.core import db
from backend.journal.work_kinds import work_kinds_of
from backend.settings import Settings

URL = os.environ.get("PARTA_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/parta_bench")
SCHOOLS = 20
GRADES = range(1, 12)
LETTERS = ("А", "Б", "В")
PUPILS_PER_CLASS = 30
YEAR_START, YEAR_END = date(2025, 9, 1), date(2026, 5, 29)
SUBJECTS = (
    "Русский язык",
    "Литература",
    "Математика",
    "Алгебра",
    "Геометрия",
    "Информатика",
    "История",
    "Обществознание",
    "География",
    "Биология",
    "Физика",
    "Химия",
    "Английский язык",
    "Физическая культура",
)
LAST = (
    "Иванов",
    "Петров",
    "Сидоров",
    "Смирнов",
    "Кузнецов",
    "Попов",
    "Васильев",
    "Соколов",
    "Михайлов",
    "Новиков",
    "Фёдоров",
    "Морозов",
    "Волков",
    "Алексеев",
    "Лебедев",
)
FIRST = (
    "Александр",
    "Максим",
    "Артём",
    "Михаил",
    "Иван",
    "Дмитрий",
    "Даниил",
    "Кирилл",
    "Андрей",
    "Егор",
    "Никита",
    "Матвей",
    "Тимофей",
    "Роман",
    "Илья",
)


def step(name: str, started: float) -> float:
    now = time.perf_counter()
    print(f"{name}: {now - started:.1f} s", flush=True)
    return now


async def recreate_database() -> None:
    admin_url, name = URL.rsplit("/", 1)
    admin = await asyncpg.connect(admin_url + "/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    env = {**os.environ, "PARTA_DATABASE_URL": URL, "PARTA_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], env=env, check=True)  # noqa: ASYNC221


async def main() -> None:
    t = time.perf_counter()
    await recreate_database()
    t = step("migrate", t)
    settings = Settings(database_url=URL)
    engine = db.make_engine(settings)
    db.bind_engine(engine, bootstrap.all_tables())
    await db.open_engine(engine, settings)
    conn = await asyncpg.connect(URL)
    await conn.execute("SET synchronous_commit = off")
    region = await conn.fetchval(
        "INSERT INTO region (name, code, time_zone) VALUES ('Бенчмарк', '99', 'Europe/Moscow') "
        "RETURNING id"
    )
    munis = [
        await conn.fetchval(
            "INSERT INTO municipality (region, name) VALUES ($1, $2) RETURNING id", region, name
        )
        for name in ("Город", "Район")
    ]
    schools = []
    for n in range(SCHOOLS):
        schools.append(
            await conn.fetchval(
                "INSERT INTO school (municipality, full_name, short_name, address, time_zone, "
                "settings, is_active, created_at) VALUES ($1, $2, $3, '', 'Europe/Moscow', "
                "'{}', true, now()) RETURNING id",
                munis[n % 2],
                f"Школа № {n + 1}",
                f"СОШ № {n + 1}",
            )
        )
    for school in schools:
        year = await conn.fetchval(
            "INSERT INTO academic_year (school, name, starts_on, ends_on) "
            "VALUES ($1, '2025/2026', $2, $3) RETURNING id",
            school,
            YEAR_START,
            date(2026, 8, 31),
        )
        quarters = [
            (date(2025, 9, 1), date(2025, 10, 24)),
            (date(2025, 11, 3), date(2025, 12, 26)),
            (date(2026, 1, 12), date(2026, 3, 20)),
            (date(2026, 3, 30), date(2026, 5, 29)),
        ]
        for i, (a, b) in enumerate(quarters, 1):
            await conn.execute(
                "INSERT INTO study_period (academic_year, kind, number, name, starts_on, ends_on, "
                "grades) VALUES ($1, 'quarter', $2, $3, $4, $5, '[]')",
                year,
                i,
                f"{i} четверть",
                a,
                b,
            )
        for name in SUBJECTS:
            await conn.execute(
                "INSERT INTO subject (school, name, short_name) VALUES ($1, $2, '')", school, name
            )
        await conn.execute(
            "INSERT INTO staff (school, last_name, first_name, middle_name, sex, positions, "
            "created_at) SELECT $1, 'Учитель' || g, 'Анна', 'Ивановна', 'ж', '[\"teacher\"]', "
            "now() FROM generate_series(1, 40) g",
            school,
        )
        await conn.execute(
            "INSERT INTO school_class (school, academic_year, grade, letter, shift) "
            "SELECT $1, $2, g, l, 1 FROM generate_series(1, 11) g, unnest($3::text[]) l "
            "WHERE l <> 'В' OR g <= 3",
            school,
            year,
            list(LETTERS),
        )
        await work_kinds_of(school)
    t = step("schools, classes, subjects, staff", t)
    await conn.execute(
        "INSERT INTO student (school, personal_file_number, last_name, first_name, middle_name, "
        "sex, citizenship, document_kind, document_series, document_number, document_issued_by, "
        "registration_address, residence_address, health_group, pe_group, archived, created_at, "
        "updated_at) "
        "SELECT c.school, c.id || '-' || p, ($1::text[])[1 + (c.id * 7 + p) % 15], "
        "($2::text[])[1 + (c.id + p * 3) % 15], '', 'м', 'RUS', '', '', '', '', '', '', 'II', "
        "'basic', false, now(), now() "
        "FROM school_class c, generate_series(1, $3) p ORDER BY c.id, p",
        list(LAST),
        list(FIRST),
        PUPILS_PER_CLASS,
    )
    # Pupils were made in class order: the n-th block of PUPILS_PER_CLASS belongs to class n.
    await conn.execute(
        "INSERT INTO enrollment (student, school, school_class, kind, date, order_number, "
        "reason, created_at) "
        "SELECT s.id, s.school, c.id, 'admitted', $1, '1', '', now() FROM student s "
        "JOIN school_class c ON c.id = split_part(s.personal_file_number, '-', 1)::int",
        YEAR_START,
    )
    t = step("pupils and enrollments", t)
    # Subject of lesson n on a weekday; the teacher is one of the school's 40 by subject.
    await conn.execute(
        "INSERT INTO lesson (school, date, lesson_number, school_class, subject, teacher, status, "
        "topic, version, updated_at) "
        "SELECT c.school, d::date, n, c.id, subj.id, st.id, 'scheduled', "
        "'Тема ' || (extract(doy from d)::int * 6 + n) % 70, 1, now() "
        "FROM school_class c "
        "CROSS JOIN generate_series($1::date, $2::date, interval '1 day') d "
        "CROSS JOIN generate_series(1, 6) n "
        "JOIN LATERAL (SELECT id FROM subject WHERE school = c.school ORDER BY id "
        "  OFFSET (extract(isodow from d)::int * 6 + n + c.grade) % 14 LIMIT 1) subj ON true "
        "JOIN LATERAL (SELECT id FROM staff WHERE school = c.school ORDER BY id "
        "  OFFSET ((extract(isodow from d)::int * 6 + n + c.grade) % 14 + c.id) % 40 LIMIT 1) "
        "  st ON true "
        "WHERE extract(isodow from d) < 6",
        YEAR_START,
        YEAR_END,
    )
    t = step("lessons", t)
    await conn.execute(
        "INSERT INTO lesson_record (lesson, school, lesson_date, attendance_taken_at, "
        "attendance_taken_by, topic_source, topic_version, updated_at) "
        "SELECT id, school, date, date + time '09:00', NULL, 'typed', 1, now() FROM lesson"
    )
    await conn.execute(
        "INSERT INTO homework (lesson, school, subject, lesson_date, text, due_date, "
        "attachments, version, lesson_version, created_at, updated_at) "
        "SELECT id, school, subject, date, 'Параграф ' || (id % 40 + 1) || ', упр. ' || "
        "(id % 300 + 1), date + 2, '[]', 1, 1, now(), now() FROM lesson WHERE id % 10 < 7"
    )
    t = step("lesson records and homework", t)
    await conn.execute(
        "INSERT INTO attendance_record (lesson, student, school, lesson_date, status, "
        "late_minutes, reason, source, version, lesson_version, updated_at) "
        "SELECT l.id, e.student, l.school, l.date, "
        "CASE WHEN r < 0.05 THEN 'absent' WHEN r < 0.07 THEN 'sick' WHEN r < 0.08 THEN 'late' "
        "ELSE 'present' END, CASE WHEN r >= 0.07 AND r < 0.08 THEN 5 ELSE NULL END, '', "
        "'teacher', 1, 1, now() "
        "FROM lesson l JOIN enrollment e ON e.school_class = l.school_class "
        "CROSS JOIN LATERAL (SELECT random() + 0 * l.id * e.student AS r) x"
    )
    t = step("attendance", t)
    await conn.execute(
        "INSERT INTO mark (lesson, student, school, subject, lesson_date, work_kind, weight, "
        "scale, value, points, comment, version, lesson_version, created_at, updated_at) "
        "SELECT l.id, e.student, l.school, l.subject, l.date, wk.id, wk.weight, 'five', "
        "v::text, v, '', 1, 1, now(), now() "
        "FROM lesson l JOIN school_class c ON c.id = l.school_class AND c.grade > 1 "
        "JOIN enrollment e ON e.school_class = l.school_class "
        "CROSS JOIN LATERAL (SELECT random() + 0 * l.id * e.student AS r) x "
        "JOIN work_kind wk ON wk.school = l.school "
        "  AND wk.code = CASE WHEN l.id % 17 = 0 THEN 'test' ELSE 'answer' END "
        "CROSS JOIN LATERAL (SELECT CASE WHEN x.r < 0.004 THEN 2 WHEN x.r < 0.04 THEN 3 "
        "  WHEN x.r < 0.10 THEN 4 ELSE 5 END AS v) val "
        "WHERE x.r < 0.16"
    )
    t = step("marks", t)
    await conn.execute("ANALYZE")
    counts = {
        table: await conn.fetchval(f'SELECT count(*) FROM "{table}"')
        for table in ("school", "student", "lesson", "attendance_record", "mark", "homework")
    }
    print(counts)
    await conn.close()
    await db.close_engine(engine)
    step("analyze", t)


if __name__ == "__main__":
    asyncio.run(main())
