"""Indexes of the meals context's canteen counter (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T21:25:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "buffet indexes"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "buffet_sale_student_day" ON "buffet_sale" ("student", "local_date")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
