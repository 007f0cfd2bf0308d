"""Storage: the engine chosen by settings, bound to the tables it is given.

Piccolo finds its engine through `piccolo_conf` by default, a global read at import. Parta builds
the engine from a `Settings` object instead and binds it to each table here, so an app, a test or
a command can each run on the database it was given (see docs/decisions/0002-storage.md).

With `PARTA_DATABASE_REPLICA_URL` the PostgreSQL engine also holds a read replica: the reads a
caller marks as allowed to be a little stale (`replica_reads()`) go there while it is reachable
and not too far behind, everything else to the primary (decision 1111).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg
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
        # The replica setting is ignored: an embedded school has one file.
        path = Path(settings.sqlite_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A generous busy timeout: SQLite serialises writers, and the embedded default may see a
        # few concurrent ones (API + worker in one process).
        return SQLiteEngine(path=str(path), timeout=30)
    dsn = _dsn(settings.database_url)
    if settings.has_replica:
        # Every connection to the replica gives up after REPLICA_TIMEOUT: Piccolo connects
        # once when the engine is built (its version check), and a replica that does not
        # answer must not hold a process's start for asyncpg's default of a minute.
        replica = PostgresEngine(
            config={"dsn": _dsn(settings.database_replica_url), "timeout": REPLICA_TIMEOUT},
            extensions=(),
            log_queries=False,
        )
        return ReadRoutingEngine(
            config={"dsn": dsn},
            replica=Replica(replica, settings.database_replica_max_lag_seconds),
        )
    return PostgresEngine(config={"dsn": dsn}, extensions=(), log_queries=False)


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


# ---- the read replica (decision 1111) ---------------------------------------------------------

_replica_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "parta_replica_reads", default=False
)

REPLICA_CHECK_SECONDS = 1.0  # how often the replica's state is asked
REPLICA_TIMEOUT = 2.0  # seconds a replica's connection or check may take before it counts down

# What a standby says of itself: whether it is one, whether its WAL receiver is streaming, and
# how many seconds its replay is behind what it received (0 when it has replayed everything it
# received: an idle primary sends nothing, so the age of the last replayed transaction is not
# lag then). A database that is not in recovery (a test's stand-in) is always up to date.
_REPLICA_STATE = (
    "SELECT pg_is_in_recovery() AS standby, "
    "EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming, "
    "CASE WHEN NOT pg_is_in_recovery() "
    "OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0.0 "
    "ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 END AS behind"
)
# Statements a replica may run: a SELECT (or WITH) that neither writes nor locks rows.
_WRITES_OR_LOCKS = re.compile(
    r"\b(INSERT|UPDATE|DELETE|MERGE|TRUNCATE|CREATE|ALTER|DROP|LOCK|NEXTVAL|SETVAL|SHARE)\b",
    re.IGNORECASE,
)


def replica_usable(standby: bool, streaming: bool, behind: float, max_lag: float) -> bool:
    """Whether reads may go to a replica in this state: a standby must be streaming from its
    primary (one that lost it replays nothing and falls behind without knowing by how much)
    and at most `max_lag` seconds behind."""
    if not standby:
        return True
    return streaming and behind <= max_lag


def is_read_only(query: str) -> bool:
    """A statement a read replica can answer (and that may be answered a little stale)."""
    head = query.lstrip().upper()
    return head.startswith(("SELECT", "WITH")) and _WRITES_OR_LOCKS.search(query) is None


class Replica:
    """A streaming replica and what is known of it: usable or not, asked once a second. A
    replica that fails a query is left alone until the next check finds it well again."""

    def __init__(self, engine: PostgresEngine, max_lag: float) -> None:
        self.engine = engine
        self.max_lag = max_lag
        self.usable = False  # until the first check says otherwise
        self.behind: float | None = None  # seconds, at the last check (None: unreachable)
        self._watching: asyncio.Task[None] | None = None

    @property
    def pool(self) -> Any | None:
        """The replica's pool when reads may go there now, else None."""
        return self.engine.pool if self.usable else None

    async def open(self, settings: Settings) -> None:
        """Start the pool (no connection is made yet: a replica that is down does not stop
        the process from starting) and the checks."""
        await self.engine.start_connection_pool(
            min_size=0,
            max_size=settings.database_pool_max,
            reset=_keep_session,
        )
        await self.check()
        self._watching = asyncio.get_running_loop().create_task(
            self._watch(), context=contextvars.Context()
        )

    async def close(self) -> None:
        task, self._watching = self._watching, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.usable = False
        await close_engine(self.engine)

    async def check(self) -> bool:
        pool = self.engine.pool
        if pool is None:
            return False
        try:
            async with asyncio.timeout(REPLICA_TIMEOUT):
                row = await pool.fetchrow(_REPLICA_STATE)
        except Exception as exc:
            self._set(False, None, f"unreachable ({exc!r})")
            return False
        behind = float(row["behind"] or 0.0)
        usable = replica_usable(row["standby"], row["streaming"], behind, self.max_lag)
        reason = (
            ""
            if usable
            else (
                f"{behind:.1f} s behind" if row["streaming"] else "not streaming from its primary"
            )
        )
        self._set(usable, behind, reason)
        return usable

    def failed(self, exc: BaseException) -> None:
        """A read on the replica failed for want of a connection: its reads go to the primary
        until the next check finds it well."""
        self._set(False, None, f"a read failed ({exc!r})")

    def _set(self, usable: bool, behind: float | None, reason: str) -> None:
        if usable and not self.usable:
            log.info("read replica in use (%.1f s behind)", behind or 0.0)
        elif not usable and self.usable:
            log.warning("read replica left alone, reads go to the primary: %s", reason)
        self.usable, self.behind = usable, behind

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(REPLICA_CHECK_SECONDS)
            await self.check()


# The errors of a query the replica refuses while it is well: cancelled by a conflict with
# recovery (40001, or 57014), or one the primary would refuse as well (classes 22 and 42). The
# read is asked again of the primary; the replica stays in use. Anything else (a connection
# lost or refused, the server shutting down, the database gone) leaves it alone until the
# next check finds it well.
_REFUSED_QUERY = ("40", "22", "42", "57014")


def _refused_query(exc: BaseException) -> bool:
    state = str(getattr(exc, "sqlstate", "") or "")
    return isinstance(exc, asyncpg.PostgresError) and state.startswith(_REFUSED_QUERY)


class ReadRoutingEngine(PostgresEngine):
    """The primary's engine, sending the reads marked with `replica_reads()` that run outside
    a transaction to the replica while it is usable. Everything else (writes, reads inside a
    transaction, reads not marked, locking reads) goes to the primary, as without a replica;
    a read the replica fails is asked of the primary."""

    def __init__(self, config: dict[str, Any], replica: Replica) -> None:
        super().__init__(config=config, extensions=(), log_queries=False)
        self.replica = replica

    async def _run_in_pool(self, query: str, args: Sequence[Any] | None = None) -> Any:
        # Piccolo calls this only outside a transaction (inside one it uses its connection).
        if _replica_allowed.get() and is_read_only(query):
            result = await replica_fetch(self, query, *(args or ()))
            if result is not None:
                return result
        return await super()._run_in_pool(query, args)


@contextlib.contextmanager
def replica_reads() -> Iterator[None]:
    """Within this block (and the tasks it starts), reads outside a transaction may be
    answered by the read replica. Only for reads whose answer may be a few seconds old: not a
    read of what the same request has just written, not a rights check (decision 1111)."""
    token = _replica_allowed.set(True)
    try:
        yield
    finally:
        _replica_allowed.reset(token)


def replica_pool(engine: Engine) -> Any | None:
    """The replica's asyncpg pool when `engine` has a usable one, else None (the caller reads
    from the primary)."""
    return engine.replica.pool if isinstance(engine, ReadRoutingEngine) else None


async def replica_fetch(engine: Engine, query: str, *args: Any) -> list[Any] | None:
    """`query`'s rows from the replica, or None when there is none usable or it failed (the
    caller asks the primary)."""
    pool = replica_pool(engine)
    if pool is None:
        return None
    assert isinstance(engine, ReadRoutingEngine)
    try:
        async with pool.acquire() as connection:
            rows: list[Any] = await connection.fetch(query, *args)
            return rows
    except Exception as exc:
        if _refused_query(exc):
            log.info("a read the replica refused goes to the primary: %r", exc)
        else:
            engine.replica.failed(exc)
    return None


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
        if isinstance(engine, ReadRoutingEngine):
            await engine.replica.open(settings)
    elif isinstance(engine, SQLiteEngine):
        # WAL lets readers go on while one writer writes; it persists in the file.
        await engine.run_ddl("PRAGMA journal_mode=WAL")


async def close_engine(engine: Engine) -> None:
    """Close the pool; connections still held after `CLOSE_TIMEOUT` seconds (a task that never
    gave its connection back) are cut, so that a shutdown never waits forever."""
    if isinstance(engine, ReadRoutingEngine):
        await engine.replica.close()
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
