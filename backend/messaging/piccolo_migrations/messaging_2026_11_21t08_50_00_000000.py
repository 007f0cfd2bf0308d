"""Composite and unique indexes of the messaging context (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T08:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite and unique indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "device_token_token" ON "device_token" ("token")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "telegram_chat_chat" ON "telegram_chat" ("chat_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "notification_preference_scope" ON "notification_preference" ("user_id", "kind", "student_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "notification_event_user" ON "notification" ("event_id", "user_id")',
    'CREATE INDEX IF NOT EXISTS "notification_user_id" ON "notification" ("user_id", "id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "delivery_event_user_channel" ON "delivery" ("event_id", "user_id", "channel")',
    'CREATE INDEX IF NOT EXISTS "delivery_status" ON "delivery" ("status", "dead")',
    'CREATE INDEX IF NOT EXISTS "delivery_school_created" ON "delivery" ("school_id", "created_at")',
    'CREATE INDEX IF NOT EXISTS "delivery_provider_id" ON "delivery" ("channel", "provider_id")',
    'CREATE INDEX IF NOT EXISTS "delivery_notification" ON "delivery" ("notification_id")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "messaging", DESCRIPTION, STATEMENTS)
