"""Indexes of the meals context's payments (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T23:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "payment indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_payment_public_id" ON "meal_payment" ("public_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_payment_request_key" ON "meal_payment" ("request_key")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_payment_provider_id" ON "meal_payment" '
    '("provider_payment_id")',
    'CREATE INDEX IF NOT EXISTS "meal_payment_school_created" ON "meal_payment" '
    '("school", "created_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "meal_payment_refund_request_key" ON '
    '"meal_payment_refund" ("request_key")',
    'CREATE INDEX IF NOT EXISTS "meal_payment_refund_provider_id" ON "meal_payment_refund" '
    '("provider_refund_id")',
    'CREATE INDEX IF NOT EXISTS "meal_payment_refund_payment" ON "meal_payment_refund" '
    '("payment")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "meals", DESCRIPTION, STATEMENTS)
