"""What the end-to-end tests share: a PostgreSQL database of a test's own, made and dropped."""

from __future__ import annotations

import os
import secrets

import asyncpg
import pytest

from tests.conftest import POSTGRES_URL

SERVER = POSTGRES_URL.rsplit("/", 1)[0]


async def own_database(prefix: str) -> tuple[str, str]:
    """A fresh database named `prefix_<random>`: (its name, its URL). Skips the test where no
    PostgreSQL answers, except in CI, where that is a failure."""
    database = f"{prefix}_{secrets.token_hex(3)}"
    try:
        admin = await asyncpg.connect(f"{SERVER}/postgres")
    except (OSError, asyncpg.PostgresError) as exc:  # pragma: no cover - no services here
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL unreachable: {exc}")
    await admin.execute(f'CREATE DATABASE "{database}"')
    await admin.close()
    return database, f"{SERVER}/{database}"


async def drop_database(database: str) -> None:
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    await admin.close()
