"""Composite and unique indexes of the access context (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T20:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite and unique indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "access_settings_school" ON "access_settings" ("school_id")',
    'CREATE INDEX IF NOT EXISTS "access_card_canonical" ON "access_card" ("school_id", "canonical")',
    'CREATE INDEX IF NOT EXISTS "access_card_key24" ON "access_card" ("school_id", "key24")',
    'CREATE INDEX IF NOT EXISTS "access_card_holder" ON "access_card" ("holder_kind", "holder_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "access_event_gateway_device" ON "access_event" ("gateway_id", "device_event_id")',
    'CREATE INDEX IF NOT EXISTS "access_event_school_day" ON "access_event" ("school_id", "local_date", "occurred_at")',
    'CREATE INDEX IF NOT EXISTS "access_event_holder_day" ON "access_event" ("holder_kind", "holder_id", "local_date", "occurred_at")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "access_alert_once" ON "access_alert" ("student_id", "local_date", "kind", "key")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "access", DESCRIPTION, STATEMENTS)
