"""Indexes of the meals context's benefits (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T21:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "benefits indexes"

STATEMENTS = [
    'CREATE INDEX IF NOT EXISTS "benefit_cover_school" ON "benefit_cover" ("school", "category")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "benefit_refusal_day" ON "benefit_refusal" ("student", "date", "meal_kind")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
