"""Indexes of the meals context's standing orders and cut-off runs (backend.core.db_index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-07T00:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "standing order indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "standing_order_live" ON "standing_order" '
    '("student", "meal_kind", "live")',
    'CREATE INDEX IF NOT EXISTS "standing_order_school" ON "standing_order" ("school", "live")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "standing_order_day_once" ON "standing_order_day" '
    '("standing_order", "date")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_cutoff_run_once" ON "meal_cutoff_run" '
    '("school", "date")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
