"""`parta migrate` builds the schema the tables declare, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg
import pytest

from backend.bootstrap import all_indexes, all_tables, all_triggers
from tests.conftest import POSTGRES_URL, Backend


def _run_migrate(database_url: str) -> str:
    env = {**os.environ, "PARTA_DATABASE_URL": database_url, "PARTA_LOG_LEVEL": "WARNING"}
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=480,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def _expected() -> dict[str, set[str]]:
    return {
        t._meta.tablename: {c._meta.db_column_name for c in t._meta.columns} for t in all_tables()
    }


async def test_migrations_match_tables(backend_world: Backend, tmp_path: Path) -> None:
    expected = _expected()
    expected_indexes = {i.name for i in all_indexes()}
    if backend_world.kind == "sqlite":
        path = tmp_path / "migrated.sqlite"
        _run_migrate(f"sqlite:///{path}")
        conn = sqlite3.connect(path)
        actual = {
            name: {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
            for name in expected
        }
        indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
        }
        triggers = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        expected_triggers = {n for t in all_triggers() for n in t.sqlite_names}
        conn.close()
    else:
        name = f"parta_migr_{uuid.uuid4().hex[:8]}"
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
            _run_migrate(url)
            conn = await asyncpg.connect(url)
            rows = await conn.fetch(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
            index_rows = await conn.fetch(
                "SELECT indexname FROM pg_indexes WHERE schemaname='public'"
            )
            trigger_rows = await conn.fetch("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            await conn.close()
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.close()
        actual = {t: set() for t in expected}
        for row in rows:
            if row["table_name"] in actual:
                actual[row["table_name"]].add(row["column_name"])
        indexes = {r["indexname"] for r in index_rows}
        triggers = {r["tgname"] for r in trigger_rows}
        expected_triggers = {t.name for t in all_triggers()}
    for table, columns in expected.items():
        assert actual[table] == columns, f"migrations of {table!r} differ from its table"
    missing = expected_indexes - indexes
    assert not missing, f"indexes without a migration: {sorted(missing)}"
    missing_triggers = expected_triggers - triggers
    assert not missing_triggers, f"triggers without a migration: {sorted(missing_triggers)}"


@pytest.mark.parametrize("kind", ["sqlite"])
def test_migrate_twice_is_a_no_op(kind: str, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.sqlite'}"
    first = _run_migrate(url)
    second = _run_migrate(url)
    # In Russian, our own words (trial 2026-12-07: Piccolo's «👍 4 migrations already complete»)
    total = len(
        sqlite3.connect(tmp_path / "twice.sqlite").execute("SELECT id FROM migration").fetchall()
    )
    assert total > 10
    assert first == f"Миграции применены: новых — {total}, всего в базе — {total}.\n", first
    assert second == f"Новых миграций нет: все {total} уже применены.\n", second
