"""Index for homework due at a lesson (the diary shows it at the lesson it is due for)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-21T09:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "homework due lesson index"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "homework_due_lesson" ON "homework" ("due_lesson")',
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="journal", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
