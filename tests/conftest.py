"""Test fixtures: the app on SQLite (with in-process Redis) and on PostgreSQL (with real Redis).

Tests marked `integration` run once per engine. PostgreSQL and Redis come from
`PARTA_TEST_POSTGRES_URL` (default `postgresql://postgres@127.0.0.1:5432/test`) and
`PARTA_TEST_REDIS_URL` (default: the first free of databases 15, 12, 11, 10, 9, 8 on
`redis://127.0.0.1:6379`, claimed for the session). When they are unreachable the
PostgreSQL runs are skipped, unless `CI` is set: then they fail, so CI can never pass without them.
Each session works in its own fresh PostgreSQL database, dropped at the end.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from piccolo.engine.base import Engine
from redis.asyncio import Redis

from backend import bootstrap
from backend.accounts.services import AccountsService
from backend.app import create_app
from backend.core import db
from backend.core.redis import make_redis
from backend.settings import Settings

POSTGRES_URL = os.environ.get(
    "PARTA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PARTA_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Redis databases a session may take when PARTA_TEST_REDIS_URL is not given: each test flushes
# its database, so two suites running at once on one machine must not share one. (4, 5, 13 and
# 14 belong to the benchmarks and the worker-kill test.)
FREE_REDIS_DBS = (15, 12, 11, 10, 9, 8)
SESSION_LOCK = "parta:test:redis-db:{db}"  # in database 0, which no test flushes
ENGINES = ["sqlite", "postgres"]
METRICS_TOKEN = secrets.token_urlsafe(16)  # what the scraper sends to /metrics


def _services_required() -> bool:
    return bool(os.environ.get("CI")) or os.environ.get("PARTA_REQUIRE_SERVICES") == "1"


async def _reachable() -> str | None:
    try:
        conn = await asyncpg.connect(POSTGRES_URL, timeout=3)
        await conn.close()
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_URL}: {exc!r}"
    try:
        redis = Redis.from_url(REDIS_URL)
        await redis.ping()
        await redis.aclose()
    except Exception as exc:
        return f"Redis at {REDIS_URL}: {exc!r}"
    return None


async def _claim_redis_db() -> tuple[str, Any]:
    """The Redis URL this session uses, and how to give it back."""
    if "PARTA_TEST_REDIS_URL" in os.environ:
        return REDIS_URL, lambda: None
    base = REDIS_URL.rsplit("/", 1)[0]
    owner = uuid.uuid4().hex
    lock = Redis.from_url(base + "/0")
    try:
        for db in FREE_REDIS_DBS:
            if await lock.set(SESSION_LOCK.format(db=db), owner, nx=True, ex=3 * 3600):

                def release(db: int = db) -> None:
                    import redis as sync_redis

                    client = sync_redis.Redis.from_url(base + "/0")
                    if client.get(SESSION_LOCK.format(db=db)) == owner.encode():
                        client.delete(SESSION_LOCK.format(db=db))
                    client.close()

                return f"{base}/{db}", release
    finally:
        await lock.aclose()
    return REDIS_URL, lambda: None  # all taken: share the default


@dataclass
class Backend:
    """One engine's world: settings, engine, Redis and the app built on them."""

    kind: str
    settings: Settings
    engine: Engine
    redis: Redis
    app: Litestar
    client: httpx.AsyncClient
    _counter: list[int] = field(default_factory=lambda: [0])

    @property
    def accounts(self) -> AccountsService:
        return self.app.state.accounts  # type: ignore[no-any-return]

    def unique(self, prefix: str = "u") -> str:
        self._counter[0] += 1
        return f"{prefix}{self._counter[0]}{secrets.token_hex(2)}"


async def _truncate(backend: Backend) -> None:
    tables = bootstrap.all_tables()
    if backend.kind == "postgres":
        names = ", ".join(f'"{t._meta.tablename}"' for t in tables)
        await backend.engine.run_ddl(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    else:
        # Append-only tables refuse DELETE (their triggers): drop the triggers, empty, restore.
        for trigger in bootstrap.all_triggers():
            for name in trigger.sqlite_names:
                await backend.engine.run_ddl(f'DROP TRIGGER IF EXISTS "{name}"')
        for table in reversed(tables):
            await backend.engine.run_ddl(f'DELETE FROM "{table._meta.tablename}"')
        for statement in db.trigger_statements(backend.engine, bootstrap.all_triggers()):
            await backend.engine.run_ddl(statement)
    await backend.redis.flushdb()


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[None]:
    """Hold the app's lifespan open in a task of its own: pytest may tear a session fixture down
    from another task than the one that set it up, and a lifespan must end where it began."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    await asyncio.wait([task, asyncio.create_task(started.wait())], return_when="FIRST_COMPLETED")
    if task.done():
        task.result()  # startup failed: raise its error here
    try:
        yield
    finally:
        stop.set()
        await task


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> Path:
    """Seeded `parta demo` data shared by the run's workers (tests/demo_server.py)."""
    from tests.demo_server import demo_template as make

    base = tmp_path_factory.getbasetemp()
    return make(base if worker_id == "master" else base.parent)


@pytest.fixture(scope="session")
def tmp_session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("parta")


@asynccontextmanager
async def _open_world(
    kind: str, tmp_session_dir: Path, release: list[Any]
) -> AsyncIterator[Backend]:
    database_name = ""
    if kind == "postgres":
        problem = await _reachable()
        if problem:
            if _services_required():
                pytest.fail(f"integration services unreachable: {problem}")
            pytest.skip(f"integration services unreachable: {problem}")
        redis_url, release_db = await _claim_redis_db()
        release.append(release_db)
        database_name = f"parta_test_{uuid.uuid4().hex[:10]}"
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'CREATE DATABASE "{database_name}"')
        await admin.close()
        url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + database_name
        settings = Settings(
            environment="test",
            database_url=url,
            redis_url=redis_url,
            secret_key=secrets.token_urlsafe(48),
            api_rate_limit_per_minute=100_000,
            metrics_token=METRICS_TOKEN,
            login_failures_per_address=100,  # the ceiling's test reaches it quicker
            database_pool_max=10,
            media_root=tmp_session_dir / "media-pg",
        )
    else:
        settings = Settings(
            environment="test",
            database_url=f"sqlite:///{tmp_session_dir / 'parta.sqlite'}",
            redis_url="memory://",
            secret_key=secrets.token_urlsafe(48),
            api_rate_limit_per_minute=100_000,
            metrics_token=METRICS_TOKEN,
            login_failures_per_address=100,  # the ceiling's test reaches it quicker
            media_root=tmp_session_dir / "media-sqlite",
        )
    engine = db.make_engine(settings)
    redis = make_redis(settings)
    await bootstrap.create_tables(engine)
    app = create_app(settings, engine=engine, redis=redis)
    async with running(app):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.10", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://parta.test") as client:
            yield Backend(kind, settings, engine, redis, app, client)
    await redis.aclose()
    await db.close_engine(engine)
    if database_name:
        admin = await asyncpg.connect(POSTGRES_URL)
        await admin.execute(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)')
        await admin.close()


@dataclass
class Worlds:
    """Each engine's world, opened at its first test and kept to the end of the session."""

    opened: dict[str, Backend | BaseException] = field(default_factory=dict)
    stack: AsyncExitStack = field(default_factory=AsyncExitStack)
    release: list[Any] = field(default_factory=list)


@pytest.fixture(scope="session")
async def worlds() -> AsyncIterator[Worlds]:
    held = Worlds()
    try:
        yield held
    finally:
        await held.stack.aclose()
        for release in held.release:
            release()


@pytest.fixture(params=ENGINES)
async def backend_world(
    request: pytest.FixtureRequest, tmp_session_dir: Path, worlds: Worlds
) -> Backend:
    """One engine's world. Both stay open for the whole session: a session-scoped fixture
    parametrized by engine was torn down and built again (tables, app, the PostgreSQL
    database) at every switch between engines, twice per file on each worker."""
    kind: str = request.param
    if kind not in worlds.opened:
        try:
            opening = _open_world(kind, tmp_session_dir, worlds.release)
            worlds.opened[kind] = await worlds.stack.enter_async_context(opening)
        except BaseException as exc:  # a skip or a failure: the same for every test after
            worlds.opened[kind] = exc
            raise
    opened = worlds.opened[kind]
    if isinstance(opened, BaseException):
        raise opened
    return opened


@pytest.fixture
async def world(backend_world: Backend, worlds: Worlds) -> AsyncIterator[Backend]:
    """A clean database and Redis for one test, on each engine."""
    db.bind_engine(backend_world.engine, bootstrap.all_tables())
    # The previous test's diary weeks are rebuilt in the background (on either engine's app:
    # the tables are bound to one engine at a time): stop that before the tables are emptied,
    # or a week built from its data lands in this test.
    for opened in worlds.opened.values():
        if isinstance(opened, Backend):
            await opened.app.state.diary_weeks.close()
    await _truncate(backend_world)
    yield backend_world


@pytest.fixture
def client(world: Backend) -> httpx.AsyncClient:
    return world.client


# The files that take longest, longest first (their times under `--durations` in
# docs/developing.md, "How long the suite takes"). xdist sends whole files to the workers
# (`--dist loadfile`) in the order they were collected (`--no-loadscope-reorder`: its default,
# the files with most tests first, sent these files of one to seven slow tests last, and one
# worker ran them alone at the end). They go first; the many short files fill in at the end.
SLOWEST_FIRST = (
    "tests/e2e/test_images.py",  # builds the image where Docker is; skipped at once elsewhere
    "tests/ui/test_teacher_app.py",
    "tests/e2e/test_faults.py",
    "tests/ui/test_family.py",
    "tests/integration/bots/test_conversation.py",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_cli.py",
    "tests/integration/test_rights_matrix.py",
    "tests/integration/test_migrations.py",
    "tests/integration/meals/test_ledger_properties.py",
    "tests/e2e/test_notify_kill.py",
    "tests/browser/test_staff_web.py",
    "tests/browser/test_web_year.py",
    "tests/unit/test_field_labels.py",
    "tests/e2e/test_gateway_kill.py",
    "tests/browser/test_web_people.py",
    "tests/browser/test_web_journal.py",
    "tests/browser/test_web_meals.py",
    "tests/browser/test_web_entries.py",
    "tests/e2e/test_gateway_zkteco.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that use the database world are integration tests; the rest are unit tests.
    Under xdist the slowest files come first (`-n 0` keeps the files' order)."""
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "backend_world" in fixtures:
            item.add_marker(pytest.mark.integration)
        elif not any(any(item.iter_markers(name)) for name in ("e2e", "ui", "integration")):
            item.add_marker(pytest.mark.unit)
    if os.environ.get("PYTEST_XDIST_WORKER"):
        rank = {path: n for n, path in enumerate(SLOWEST_FIRST)}
        items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
