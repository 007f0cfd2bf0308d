"""One generated lesson per timetable entry and date (see backend.schools.timetable)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-21T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique generated lesson per timetable entry and date"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "lesson_entry_date" ON "lesson" ("timetable_entry", "date")',
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="schools", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        assert engine is not None
        for statement in STATEMENTS:
            await engine.run_ddl(statement)

    manager.add_raw(run)
    return manager
