"""Indexes of the meals context's serving marks (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-07T02:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "serving indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_serving_order" ON "meal_serving" ("order_id")',
    'CREATE INDEX IF NOT EXISTS "meal_serving_school_date" ON "meal_serving" '
    '("school", "date", "meal_kind")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
