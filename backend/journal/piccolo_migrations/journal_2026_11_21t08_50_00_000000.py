"""Composite and unique indexes of the journal context (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T08:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "journal indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "work_kind_school_code" ON "work_kind" ("school", "code")',
    'CREATE INDEX IF NOT EXISTS "mark_student_date" ON "mark" ("student", "lesson_date")',
    'CREATE INDEX IF NOT EXISTS "mark_school_date" ON "mark" ("school", "lesson_date")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "mark_client_id" ON "mark" ("client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "attendance_lesson_student" ON "attendance_record" ("lesson", "student")',
    'CREATE INDEX IF NOT EXISTS "attendance_student_date" ON "attendance_record" ("student", "lesson_date")',
    'CREATE INDEX IF NOT EXISTS "attendance_school_date" ON "attendance_record" ("school", "lesson_date")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "lesson_record_lesson" ON "lesson_record" ("lesson")',
    'CREATE INDEX IF NOT EXISTS "lesson_record_school_date" ON "lesson_record" ("school", "lesson_date")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "homework_client_id" ON "homework" ("client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "homework_done_pair" ON "homework_done" ("homework", "student")',
    'CREATE INDEX IF NOT EXISTS "remark_student_date" ON "remark" ("student", "lesson_date")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "remark_client_id" ON "remark" ("client_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "final_mark_unique" ON "final_mark" ("student", "subject", "academic_year", "kind", "study_period")',
    'CREATE INDEX IF NOT EXISTS "journal_change_entity" ON "journal_change" ("entity", "entity_id")',
    'CREATE INDEX IF NOT EXISTS "journal_change_lesson" ON "journal_change" ("lesson_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "sync_operation_client_op" ON "sync_operation" ("client_op_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "diary_week_student_week" ON "diary_week" ("student", "week_start")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "diary_seen_reader" ON "diary_seen" ("user_id", "student")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "journal", DESCRIPTION, STATEMENTS)
