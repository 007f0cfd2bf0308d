"""The diary finds homework due on a day (no due lesson) by subject and date."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-21T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "homework by subject and due date"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "homework_subject_due_date" ON "homework" ("subject", "due_date")',
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
