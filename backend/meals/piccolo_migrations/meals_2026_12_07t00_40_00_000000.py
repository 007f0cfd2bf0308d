"""Indexes of the meals context's requisitions (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-07T00:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "requisition indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_requisition_once" ON "meal_requisition" '
    '("school", "date", "caterer")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
