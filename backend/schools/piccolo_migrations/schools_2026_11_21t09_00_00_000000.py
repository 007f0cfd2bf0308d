"""One generated lesson per timetable entry and date (see backend.schools.timetable)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "unique generated lesson per timetable entry and date"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "lesson_entry_date" ON "lesson" ("timetable_entry", "date")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "schools", DESCRIPTION, STATEMENTS)
