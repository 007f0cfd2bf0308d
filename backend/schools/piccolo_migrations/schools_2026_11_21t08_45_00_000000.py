"""Composite and unique indexes of the schools context (see backend.core.db_index.Index)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from backend.core.migrations import ddl_migration

ID = "2026-11-21T08:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite and unique indexes"

STATEMENTS = [
    'CREATE UNIQUE INDEX IF NOT EXISTS "academic_year_school_name" ON "academic_year" ("school", "name")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "student_guardian_pair" ON "student_guardian" ("student", "guardian")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "school_class_year_grade_letter" ON "school_class" ("academic_year", "grade", "letter")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "subject_school_name" ON "subject" ("school", "name")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "room_school_name" ON "room" ("school", "name")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "bell_schedule_school_shift_number" ON "bell_schedule" ("school", "shift", "lesson_number")',
    'CREATE INDEX IF NOT EXISTS "enrollment_student_date" ON "enrollment" ("student", "date")',
    'CREATE INDEX IF NOT EXISTS "lesson_class_date" ON "lesson" ("school_class", "date")',
    'CREATE INDEX IF NOT EXISTS "lesson_group_date" ON "lesson" ("study_group", "date")',
    'CREATE INDEX IF NOT EXISTS "lesson_teacher_date" ON "lesson" ("teacher", "date")',
    'CREATE INDEX IF NOT EXISTS "lesson_school_date" ON "lesson" ("school", "date", "lesson_number")',
    'CREATE INDEX IF NOT EXISTS "timetable_entry_school_weekday" ON "timetable_entry" ("school", "weekday", "lesson_number")',
]


async def forwards() -> MigrationManager:
    return ddl_migration(ID, "schools", DESCRIPTION, STATEMENTS)
