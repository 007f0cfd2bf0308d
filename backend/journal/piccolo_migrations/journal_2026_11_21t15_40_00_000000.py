"""The diary finds homework due on a day (no due lesson) by subject and date."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "homework by subject and due date"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "homework_subject_due_date" ON "homework" ("subject", "due_date")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "journal", DESCRIPTION, STATEMENTS)
