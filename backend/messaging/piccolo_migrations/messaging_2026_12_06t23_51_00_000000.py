"""A chat is unique per messenger (see backend.core.db_index.Index): the same number may be
a Telegram chat and a MAX dialog."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-12-06T23:51:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "messenger chats unique per messenger"

STATEMENTS = [
    'DROP INDEX IF EXISTS "telegram_chat_chat"',
    'CREATE UNIQUE INDEX IF NOT EXISTS "messenger_chat_chat" ON "messenger_chat" ("messenger", "chat_id")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "messaging", DESCRIPTION, STATEMENTS)
