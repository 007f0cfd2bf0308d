"""Client operation ids are unique per lesson, not globally (decision 0350)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "client ids unique per lesson"

STATEMENTS = [
    'DROP INDEX IF EXISTS "mark_client_id"',
    'DROP INDEX IF EXISTS "homework_client_id"',
    'DROP INDEX IF EXISTS "remark_client_id"',
    'DROP INDEX IF EXISTS "sync_operation_client_op"',
    'CREATE UNIQUE INDEX IF NOT EXISTS "mark_lesson_client_id" ON "mark" ("lesson", "client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "homework_lesson_client_id" ON "homework" ("lesson", "client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "remark_lesson_client_id" ON "remark" ("lesson", "client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "sync_operation_lesson_op" ON "sync_operation" ("lesson_id", "client_op_id")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "journal", DESCRIPTION, STATEMENTS)
