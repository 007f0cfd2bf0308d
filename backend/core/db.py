"""Storage: the engine chosen by settings, bound to the tables it is given.

Piccolo finds its engine through `piccolo_conf` by default, a global read at import. Parta builds
the engine from a `Settings` object instead and binds it to each table here, so an app, a test or
a command can each run on the database it was given (see docs/decisions/0002-storage.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.columns import Column
from piccolo.columns.combination import Combinable, WhereRaw
from piccolo.conf.apps import AppConfig
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from piccolo.engine.sqlite import SQLiteEngine, TransactionType
from piccolo.table import Table, create_db_tables

from backend.core.db_index import Index, Trigger
from backend.settings import Settings

log = logging.getLogger("parta.db")
CLOSE_TIMEOUT = 10.0  # seconds a closing pool waits for connections to come back

_engine: Engine | None = None


def make_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        path = Path(settings.sqlite_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A generous busy timeout: SQLite serialises writers, and the embedded default may see a
        # few concurrent ones (API + worker in one process).
        return SQLiteEngine(path=str(path), timeout=30)
    dsn = settings.database_url.replace("postgresql+asyncpg://", "postgresql://")
    return PostgresEngine(config={"dsn": dsn}, extensions=(), log_queries=False)


def bind_engine(engine: Engine, tables: Iterable[type[Table]]) -> None:
    """Make `tables` (every context's: `backend.bootstrap.all_tables()`) use `engine`."""
    global _engine
    _engine = engine
    for table in tables:
        table._meta.db = engine


def current_engine() -> Engine:
    if _engine is None:
        raise RuntimeError("no database engine is bound; call bind_engine() first")
    return _engine


def transaction() -> Any:
    """A transaction on the bound engine; nested calls join the outer one.

    On SQLite the transaction takes the write lock at once (`BEGIN IMMEDIATE`), so two writers
    queue instead of failing with "database is locked" when one upgrades from reading.
    """
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    if isinstance(engine, PostgresEngine):
        return ReleasingTransaction(engine)
    return engine.transaction()


def before_commit_hooks() -> list[Callable[[], Awaitable[None]]] | None:
    """The list of coroutines the current outermost PostgreSQL transaction runs just before
    it commits (in order; a failure rolls it back), or None outside one or on SQLite, where
    the caller does the work at once. For writes to rows every transaction of a school
    touches (the meals ledger's school accounts): written last, their row locks are held for
    the commit only, not for the whole transaction."""
    engine = current_engine()
    if not isinstance(engine, PostgresEngine):
        return None
    current = engine.current_transaction.get()
    return current.before_commit if isinstance(current, ReleasingTransaction) else None


class ReleasingTransaction(PostgresTransaction):
    """Piccolo's PostgreSQL transaction, giving its connection back to the pool whatever
    happens. Piccolo's own keeps the connection when the task is cancelled while the
    transaction begins, or when the rollback fails (a worker job cancelled at its timeout, a
    stopping process): each such connection was lost to the pool for good, and a pool that
    loses them all stops the API."""

    async def __aenter__(self) -> PostgresTransaction:
        if self._parent is not None:
            return self._parent
        self.before_commit: list[Callable[[], Awaitable[None]]] = []
        self.connection = await self.get_connection()
        try:
            self.transaction = self.connection.transaction()
            await self.begin()
        except BaseException:
            await self._give_back()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self._parent:
            return exception is None
        try:
            if exception:
                if not self._rolled_back:
                    await self.rollback()
            elif not self._committed and not self._rolled_back:
                try:
                    for hook in self.before_commit:
                        await hook()
                except BaseException:
                    await self.rollback()
                    raise
                await self.commit()
        finally:
            await self._give_back()
            self.engine.current_transaction.reset(self.context)
        return exception is None

    async def _give_back(self) -> None:
        if self.engine.pool:
            await self.engine.pool.release(self.connection)  # asyncpg shields the release
        else:
            await self.connection.close()


async def _keep_session(connection: Any) -> None:
    """Given back to the pool, a connection is not reset by a query (asyncpg's default sends
    `RESET ALL`, `UNLISTEN *`, ... each time: a round trip per query). Parta sets no session
    state, listens to nothing and takes no advisory locks; an open transaction is still rolled
    back by asyncpg either way."""


async def open_engine(engine: Engine, settings: Settings) -> None:
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
            reset=_keep_session,
        )
    elif isinstance(engine, SQLiteEngine):
        # WAL lets readers go on while one writer writes; it persists in the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def close_engine(engine: Engine) -> None:
    """Close the pool; connections still held after `CLOSE_TIMEOUT` seconds (a task that never
    gave its connection back) are cut, so that a shutdown never waits forever."""
    if isinstance(engine, PostgresEngine) and engine.pool is not None:
        pool = engine.pool
        try:
            await asyncio.wait_for(pool.close(), CLOSE_TIMEOUT)
        except TimeoutError:
            log.warning("database connections still in use at shutdown: cut")
            pool.terminate()
        engine.pool = None


def postgres_pool(engine: Engine) -> Any | None:
    """The asyncpg pool behind a started PostgreSQL engine (None on SQLite, or before start),
    for the few hot reads that skip the ORM's query building (`backend.journal.diary`)."""
    return getattr(engine, "pool", None) if isinstance(engine, PostgresEngine) else None


def is_postgres() -> bool:
    """The bound engine is PostgreSQL's (else SQLite's)."""
    return isinstance(current_engine(), PostgresEngine)


def any_of(column: Column, values: Iterable[Any]) -> Combinable:
    """`column IN values`, written so that its SQL does not depend on how many values there
    are: on PostgreSQL `column = ANY($n)` with the values as one array. asyncpg keeps a prepared
    statement per SQL text; `IN ($1, ..., $k)` is a new text for every k, so each such query
    took a round trip to prepare it (and a plan) before the one that ran it, and pushed
    statements that do repeat out of the cache. For the notifications worker's queries, which
    run on batches of every size. SQLite: `IN`, as Piccolo writes it (not empty)."""
    values = list(values)
    if is_postgres():
        name = column._meta.get_full_name(with_alias=False)
        return WhereRaw(f"{name} = ANY({{}})", values)
    return column.is_in(values)


async def ping(engine: Engine) -> None:
    await engine.run_ddl("SELECT 1")


def trigger_statements(engine: Engine, triggers: Iterable[Trigger]) -> list[str]:
    """The statements creating `triggers` on this engine."""
    postgres = isinstance(engine, PostgresEngine)
    return [s for t in triggers for s in (t.postgres if postgres else t.sqlite)]


async def create_tables(
    engine: Engine,
    tables: Sequence[type[Table]],
    indexes: Iterable[Index],
    triggers: Iterable[Trigger] = (),
) -> None:
    """Create tables, indexes and triggers directly (tests); production and demo use
    `migrate`."""
    bind_engine(engine, tables)
    await create_db_tables(*tables, if_not_exists=True)
    for index in indexes:
        await engine.run_ddl(index.ddl)
    for statement in trigger_statements(engine, triggers):
        await engine.run_ddl(statement)


async def migrate(configs: Iterable[AppConfig]) -> None:
    """Apply the migrations of `configs` (every context's: `backend.bootstrap.app_configs()`) to
    the engine `backend.piccolo_conf` builds from the environment. The `parta migrate` command
    sets the environment from its settings first."""
    for config in configs:
        response = await run_forwards(app_name=config.app_name, fake=False)
        if not response.success:
            raise RuntimeError(f"migrations of {config.app_name} failed: {response.message}")


# PostgreSQL takes at most 32,767 parameters in one statement (a 16-bit count in the protocol).
PG_MAX_PARAMETERS = 32_767


async def insert_rows(
    table: type[Table], columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows through the driver, skipping rows that clash with a unique index
    (`ON CONFLICT DO NOTHING`), inside the current transaction.

    Piccolo's `insert()` builds an object and a query string per row, which costs seconds at a
    few thousand rows. On PostgreSQL this sends multi-row `INSERT ... VALUES` statements of as
    many rows as fit under the parameter limit; on SQLite one `executemany`. JSON columns must
    be passed already encoded (a `str`), as Piccolo itself stores them.
    """
    if not rows:
        return
    engine = current_engine()
    current = engine.current_transaction.get()
    if current is None:
        raise RuntimeError("insert_rows needs a transaction")
    connection = current.connection
    name = table._meta.tablename
    names = ", ".join(f'"{c}"' for c in columns)
    width = len(columns)
    if isinstance(engine, PostgresEngine):
        per_statement = PG_MAX_PARAMETERS // width
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            values = ", ".join(
                "(" + ", ".join(f"${i * width + j + 1}" for j in range(width)) + ")"
                for i in range(len(chunk))
            )
            params = [value for row in chunk for value in row]
            await connection.execute(
                f'INSERT INTO "{name}" ({names}) VALUES {values} ON CONFLICT DO NOTHING',  # noqa: S608
                *params,
            )
        return
    marks = ", ".join("?" for _ in columns)
    await connection.executemany(
        f'INSERT INTO "{name}" ({names}) VALUES ({marks}) ON CONFLICT DO NOTHING',  # noqa: S608
        rows,
    )
