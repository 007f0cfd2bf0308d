"""Raw DDL migrations: statements Piccolo's auto migrations do not write (composite and
unique indexes that must work on SQLite too, see backend.core.db_index.Index)."""

from __future__ import annotations

from collections.abc import Sequence

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder


def ddl_migration(
    migration_id: str, app_name: str, description: str, statements: Sequence[str]
) -> MigrationManager:
    """A migration that runs `statements` in order on the app's engine."""
    manager = MigrationManager(
        migration_id=migration_id, app_name=app_name, description=description
    )

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in statements:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
