"""The read replica (decision 1111): the diary's stored weeks and the reports are read from it,
writes and everything else from the primary, and a replica that is down is passed over.

A real streaming replica is too heavy for the suite: a second PostgreSQL database stands in
for it, holding rows the primary does not have, so that an answer shows where it was read."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from backend import bootstrap
from backend.app import create_app
from backend.core import db
from backend.core.db import replica_reads, transaction
from backend.core.redis import make_redis
from backend.journal.lessons import week_start
from backend.schools.tables import Region
from backend.settings import Settings
from tests.conftest import (
    POSTGRES_URL,
    Backend,
    _claim_redis_db,
    _reachable,
    _services_required,
    running,
)
from tests.integration.journal.arrange import guardian_of, make_journal_world, today

pytestmark = pytest.mark.integration

BASE = POSTGRES_URL.rsplit("/", 1)[0]
DOWN = "postgresql://postgres@127.0.0.1:9/nowhere"  # nothing listens on the discard port


async def _create(name: str) -> str:
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    return f"{BASE}/{name}"


async def _drop(name: str) -> None:
    admin = await asyncpg.connect(POSTGRES_URL)
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@asynccontextmanager
async def _world(primary: str, replica: str) -> AsyncIterator[Backend]:
    redis_url, release = await _claim_redis_db()
    settings = Settings(
        environment="test",
        database_url=primary,
        database_replica_url=replica,
        redis_url=redis_url,
        secret_key=secrets.token_urlsafe(48),
        api_rate_limit_per_minute=100_000,
        database_pool_max=5,
    )
    engine = db.make_engine(settings)
    assert isinstance(engine, db.ReadRoutingEngine)
    redis = make_redis(settings)
    await redis.flushdb()
    await bootstrap.create_tables(engine)
    app = create_app(settings, engine=engine, redis=redis)
    try:
        async with running(app):
            transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as c:
                yield Backend("postgres", settings, engine, redis, app, c)
    finally:
        await redis.aclose()
        await db.close_engine(engine)
        release()


@pytest.fixture
async def databases() -> AsyncIterator[tuple[str, str]]:
    problem = await _reachable()
    if problem:
        if _services_required():
            pytest.fail(f"integration services unreachable: {problem}")
        pytest.skip(f"integration services unreachable: {problem}")
    tag = uuid.uuid4().hex[:10]
    names = (f"parta_test_primary_{tag}", f"parta_test_replica_{tag}")
    primary, replica = await _create(names[0]), await _create(names[1])
    # The stand-in has the same tables (a streaming replica would have them from the primary).
    settings = Settings(environment="test", database_url=replica)
    stand_in = db.make_engine(settings)
    await db.open_engine(stand_in, settings)
    await bootstrap.create_tables(stand_in)
    await db.close_engine(stand_in)
    yield primary, replica
    for name in names:
        await _drop(name)


async def _rows_in(url: str) -> dict[str, int]:
    """Every table's row count."""
    conn = await asyncpg.connect(url)
    tables = [
        r["tablename"]
        for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    counts = {t: await conn.fetchval(f'SELECT count(*) FROM "{t}"') for t in tables}
    await conn.close()
    return {t: n for t, n in counts.items() if n}


async def _on_replica_only(url: str, statement: str, *args: Any) -> None:
    """A row only the stand-in has (its foreign keys unchecked: the rows they name are on the
    primary)."""
    conn = await asyncpg.connect(url)
    await conn.execute("SET session_replication_role = replica")
    await conn.execute(statement, *args)
    await conn.close()


async def test_the_diary_and_the_reports_read_from_the_replica_and_never_write_there(
    databases: tuple[str, str],
) -> None:
    primary, replica = databases
    async with _world(primary, replica) as world:
        engine = world.engine
        assert isinstance(engine, db.ReadRoutingEngine)
        assert engine.replica.usable
        jw = await make_journal_world(world)
        pupil, monday = jw.pupils[0], week_start(today())
        mother = await guardian_of(world, pupil)
        await _on_replica_only(
            replica,
            'INSERT INTO "diary_week" ("student", "week_start", "version", "body") '
            "VALUES ($1, $2, 7, $3)",
            pupil,
            monday,
            '{"read_from": "the replica"}',
        )
        await _on_replica_only(
            replica,
            'INSERT INTO "school" ("id", "municipality", "full_name", "short_name", "address", '
            '"time_zone", "settings", "is_active", "created_at") '
            "VALUES ($1, 1, 'Школа на реплике', 'Школа на реплике', '', 'Europe/Moscow', '{}', "
            "true, now())",
            jw.ids["school_a"],
        )
        before = await _rows_in(replica)
        assert before == {"diary_week": 1, "school": 1}

        # The week the replica has ready is answered from there.
        week = f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}"
        read = await world.client.get(week, headers=mother.headers)
        assert read.status_code == 200, read.text
        assert read.json() == {"read_from": "the replica"}
        assert f"-{monday.isoformat()}-7-" in read.headers["etag"]

        # A week it lacks is looked up on the primary, built and stored there.
        later = today() + timedelta(days=7)
        built = await world.client.get(
            f"/api/v1/diary/students/{pupil}/week?date={later.isoformat()}", headers=mother.headers
        )
        assert built.status_code == 200, built.text
        assert "days" in built.json()
        conn = await asyncpg.connect(primary)
        stored = await conn.fetchval(
            'SELECT count(*) FROM "diary_week" WHERE "student" = $1 AND "week_start" = $2 '
            'AND "body" IS NOT NULL',
            pupil,
            week_start(later),
        )
        await conn.close()
        assert stored == 1

        # A report's data come from the replica; its rights and its audit entry do not.
        report = await world.client.get(
            f"/api/v1/reports/schools/{jw.ids['school_a']}/attendance",
            headers=jw.coordinator.headers,
        )
        assert report.status_code == 200, report.text
        assert report.json()["school"] == "Школа на реплике"

        # Through the ORM: a marked read goes to the replica; unmarked reads, reads in a
        # transaction and writes go to the primary.
        with replica_reads():
            on_replica = await Region.select(Region.id)
            async with transaction():
                in_transaction = await Region.select(Region.id)
            await Region.insert(Region(name="Новый край", code="r1111"))
        on_primary = await Region.select(Region.id)
        assert on_replica == []
        assert in_transaction and len(on_primary) == len(in_transaction) + 1

        assert await _rows_in(replica) == before  # nothing was written to the replica


async def test_reads_go_to_the_primary_when_the_replica_is_down(
    databases: tuple[str, str],
) -> None:
    primary, _ = databases
    async with _world(primary, DOWN) as world:
        engine = world.engine
        assert isinstance(engine, db.ReadRoutingEngine)
        assert not engine.replica.usable  # the process started all the same
        jw = await make_journal_world(world)
        pupil = jw.pupils[0]
        mother = await guardian_of(world, pupil)
        week = f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}"
        read = await world.client.get(week, headers=mother.headers)
        assert read.status_code == 200, read.text
        assert "days" in read.json()
        with replica_reads():
            assert len(await Region.select(Region.id)) == 2  # the tenancy's two regions


async def test_a_replica_lost_between_two_reads_is_passed_over_in_the_request(
    databases: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, replica = databases
    # No check between the two reads: the second finds the replica gone by itself.
    monkeypatch.setattr(db, "REPLICA_CHECK_SECONDS", 3600.0)
    async with _world(primary, replica) as world:
        engine = world.engine
        assert isinstance(engine, db.ReadRoutingEngine)
        jw = await make_journal_world(world)
        pupil, monday = jw.pupils[0], week_start(today())
        mother = await guardian_of(world, pupil)
        await _on_replica_only(
            replica,
            'INSERT INTO "diary_week" ("student", "week_start", "version", "body") '
            "VALUES ($1, $2, 7, $3)",
            pupil,
            monday,
            '{"read_from": "the replica"}',
        )
        week = f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}"
        first = await world.client.get(week, headers=mother.headers)
        assert first.json() == {"read_from": "the replica"}

        await _drop(replica.rsplit("/", 1)[1])  # its connections are cut
        again = await world.client.get(week, headers=mother.headers)
        assert again.status_code == 200, again.text
        assert "days" in again.json()  # built on the primary
        assert not engine.replica.usable
        with replica_reads():
            assert len(await Region.select(Region.id)) == 2
