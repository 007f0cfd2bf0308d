"""Index of the illness reports by school and first day (the office's list)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T21:27:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "illness report index"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "illness_report_school_dates" ON "illness_report" ("school", "date_from")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "journal", DESCRIPTION, STATEMENTS)
