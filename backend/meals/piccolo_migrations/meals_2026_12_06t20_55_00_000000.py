"""Indexes of the meals context's menus and orders (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T20:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "menus and orders indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_plan_class" ON "meal_plan" ("school_class")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "menu_cycle_day_slot" ON "menu_cycle_day" ("school", "week", "weekday")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "pupil_diet_student" ON "pupil_diet" ("student")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_order_live" ON "meal_order" ("student", "date", "meal_kind", "live")',
    'CREATE INDEX IF NOT EXISTS "meal_order_school_date" ON "meal_order" ("school", "date")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
