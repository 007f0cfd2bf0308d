"""The bot's inbox: an update is kept once per messenger and key, and the waiting ones are
found by the messenger (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-07T05:48:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "bot updates unique per messenger and key"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "bot_update_key" ON "bot_update" ("messenger", "update_key")',
    'CREATE INDEX IF NOT EXISTS "bot_update_waiting" ON "bot_update" ("messenger", "answered_at", "id")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "messaging", DESCRIPTION, STATEMENTS)
