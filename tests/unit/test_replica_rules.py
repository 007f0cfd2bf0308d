"""Which statements a read replica may answer, and when a replica may be read (decision 1111)."""

from __future__ import annotations

import pytest

from backend.core.db import is_read_only, make_engine, replica_usable
from backend.settings import Settings


@pytest.mark.parametrize(
    "query",
    [
        'SELECT "id" FROM "school"',
        '  select "updated_at", "created_at" FROM "lesson" WHERE "id" = $1',
        "WITH w AS (SELECT 1) SELECT * FROM w",
    ],
)
def test_plain_reads_may_go_to_the_replica(query: str) -> None:
    assert is_read_only(query)


@pytest.mark.parametrize(
    "query",
    [
        'INSERT INTO "audit_entry" ("action") VALUES ($1)',
        'UPDATE "diary_week" SET "body" = $1',
        'DELETE FROM "mark"',
        'SELECT "id" FROM "pupil_account" WHERE "id" = $1 FOR UPDATE',
        'SELECT "id" FROM "pupil_account" FOR NO KEY UPDATE',
        'SELECT "id" FROM "school" FOR SHARE',
        "SELECT nextval('lesson_id_seq')",
        'WITH moved AS (DELETE FROM "x" RETURNING *) SELECT * FROM moved',
        'WITH new AS (INSERT INTO "x" VALUES (1) RETURNING *) SELECT * FROM new',
        "CREATE INDEX i ON t (c)",
    ],
)
def test_writes_and_locking_reads_never_go_to_the_replica(query: str) -> None:
    assert not is_read_only(query)


def test_a_replica_is_read_only_while_streaming_and_close_behind() -> None:
    assert replica_usable(standby=True, streaming=True, behind=0.0, max_lag=5)
    assert replica_usable(standby=True, streaming=True, behind=4.9, max_lag=5)
    assert not replica_usable(standby=True, streaming=True, behind=5.1, max_lag=5)
    # A standby that lost its primary replays nothing: how far behind it is cannot be known.
    assert not replica_usable(standby=True, streaming=False, behind=0.0, max_lag=5)
    # A database that is no standby (a promoted replica, a test's stand-in) is up to date.
    assert replica_usable(standby=False, streaming=False, behind=0.0, max_lag=5)


def test_without_the_setting_or_on_sqlite_there_is_no_replica() -> None:
    primary = "postgresql://u@127.0.0.1:5432/p"
    plain = make_engine(Settings(database_url=primary))
    assert type(plain).__name__ == "PostgresEngine"
    routed = make_engine(
        Settings(database_url=primary, database_replica_url="postgresql://u@127.0.0.1:5433/p")
    )
    assert type(routed).__name__ == "ReadRoutingEngine"
    embedded = Settings(
        database_url="sqlite:////tmp/parta-replica-rules.sqlite",
        database_replica_url="postgresql://u@127.0.0.1:5433/p",
    )
    assert not embedded.has_replica
    assert type(make_engine(embedded)).__name__ == "SQLiteEngine"


def test_a_lost_replica_is_left_alone_but_a_refused_query_only_goes_to_the_primary() -> None:
    import asyncpg

    from backend.core.db import _refused_query

    # Cancelled by a conflict with recovery, or refused as the primary would: the replica stays.
    assert _refused_query(asyncpg.exceptions.SerializationError("conflict with recovery"))
    assert _refused_query(asyncpg.exceptions.QueryCanceledError("canceling statement"))
    assert _refused_query(asyncpg.exceptions.UndefinedColumnError("no such column"))
    # The server shutting down, the database gone, the connection lost: left alone.
    assert not _refused_query(asyncpg.exceptions.AdminShutdownError("terminating connection"))
    assert not _refused_query(asyncpg.exceptions.InvalidCatalogNameError("no such database"))
    assert not _refused_query(asyncpg.exceptions.ConnectionDoesNotExistError("closed"))
    assert not _refused_query(ConnectionRefusedError(111, "refused"))
