"""Index for homework due at a lesson (the diary shows it at the lesson it is due for)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T09:35:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "homework due lesson index"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "homework_due_lesson" ON "homework" ("due_lesson")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "journal", DESCRIPTION, STATEMENTS)
