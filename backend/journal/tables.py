"""Tables of the journal context: marks, attendance, lesson records, homework, remarks, final
marks, their history, the quick-marking sync log and the per-week diary projection.

Rows of the schools context (lessons, pupils) are referenced by id. Every journal fact carries
`lesson_date` and `school` copied from its lesson, so the diary and the reports read one table by
an index instead of joining lessons. `lesson_version` is the lesson `version` at which a cell
last changed: an offline client that edited on top of an older lesson version gets a conflict.
"""

from pathlib import Path

from piccolo.columns import (
    JSONB,
    BigInt,
    BigSerial,
    Boolean,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    SmallInt,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from backend.core.db_index import Index
from backend.schools.tables import Lesson, School, Student, Subject


class WorkKind(Table):
    """вид работы: the kind of work a mark is for, with its default weight, per school."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    code = Varchar(length=32)
    name = Varchar(length=200)
    weight = SmallInt(default=1)
    is_active = Boolean(default=True)


class Mark(Table):
    """отметка: a symbol on a grading scale plus its numeric value for averages. Soft-deleted;
    every change is in `JournalChange`."""

    id = BigSerial(primary_key=True)
    lesson = ForeignKey(Lesson, null=False, index=True, on_delete=OnDelete.restrict)
    student = ForeignKey(Student, null=False, on_delete=OnDelete.restrict)
    school = Integer()
    subject = Integer()
    lesson_date = Date()
    work_kind = ForeignKey(WorkKind, null=False, on_delete=OnDelete.restrict)
    weight = SmallInt(default=1)
    scale = Varchar(length=16)
    value = Varchar(length=8)
    points = DoublePrecision(null=True, default=None)
    comment = Varchar(length=500, default="")
    client_id = Varchar(length=64, null=True, default=None)
    version = Integer(default=1)
    lesson_version = Integer(default=0)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_by = Integer(null=True, default=None)
    updated_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class AttendanceRecord(Table):
    """посещаемость: one pupil at one lesson. Office and turnstile corrections change the row;
    the teacher's original stays in `JournalChange`."""

    id = BigSerial(primary_key=True)
    lesson = ForeignKey(Lesson, null=False, on_delete=OnDelete.restrict)
    student = ForeignKey(Student, null=False, on_delete=OnDelete.restrict)
    school = Integer()
    lesson_date = Date()
    status = Varchar(length=16)  # present | absent | sick | excused | late
    late_minutes = SmallInt(null=True, default=None)
    reason = Varchar(length=300, default="")
    source = Varchar(length=16, default="teacher")  # teacher | office | turnstile
    version = Integer(default=1)
    lesson_version = Integer(default=0)
    recorded_by = Integer(null=True, default=None)
    updated_at = Timestamptz()


class LessonRecord(Table):
    """The journal's own facts about a lesson: when the register was taken, where the topic came
    from and at which lesson version it last changed (the topic itself is `Lesson.topic`)."""

    lesson = ForeignKey(Lesson, null=False, on_delete=OnDelete.restrict)
    school = Integer()
    lesson_date = Date()
    attendance_taken_at = Timestamptz(null=True, default=None)
    attendance_taken_by = Integer(null=True, default=None)
    topic_source = Varchar(length=16, default="")  # plan | typed
    topic_version = Integer(default=0)
    updated_at = Timestamptz()


class Homework(Table):
    """домашнее задание: given at a lesson, due at a later lesson or on a date."""

    lesson = ForeignKey(Lesson, null=False, index=True, on_delete=OnDelete.restrict)
    school = Integer()
    subject = Integer()
    lesson_date = Date()
    text = Text(default="")
    due_date = Date(null=True, default=None)
    due_lesson = Integer(null=True, default=None)
    attachments = JSONB(default=[])
    client_id = Varchar(length=64, null=True, default=None)
    version = Integer(default=1)
    lesson_version = Integer(default=0)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class HomeworkDone(Table):
    """A pupil ticked a homework as done."""

    homework = ForeignKey(Homework, null=False, on_delete=OnDelete.restrict)
    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    done_at = Timestamptz()


class Attachment(Table):
    """A file attached to homework; the bytes live in the storage (`backend.core.storage`)."""

    school = Integer()
    homework = Integer(null=True, default=None, index=True)
    storage_key = Varchar(length=200)
    file_name = Varchar(length=255)
    content_type = Varchar(length=100)
    size = BigInt()
    uploaded_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class Remark(Table):
    """замечание: a note to the family about a pupil, usually at a lesson."""

    lesson = ForeignKey(Lesson, null=True, default=None, on_delete=OnDelete.restrict)
    student = ForeignKey(Student, null=False, on_delete=OnDelete.restrict)
    school = Integer()
    subject = Integer(null=True, default=None)
    lesson_date = Date()
    text = Varchar(length=1000)
    client_id = Varchar(length=64, null=True, default=None)
    created_by = Integer(null=True, default=None)
    created_at = Timestamptz()
    deleted_at = Timestamptz(null=True, default=None)


class FinalMark(Table):
    """итоговая отметка: for a period, the year, an exam or the final certificate. The proposed
    value is computed from the weighted average when the teacher confirms or overrides it."""

    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    subject = ForeignKey(Subject, null=False, on_delete=OnDelete.restrict)
    school = Integer()
    academic_year = Integer()
    kind = Varchar(length=16)  # period | year | exam | final
    study_period = Integer(default=0)  # the StudyPeriod id for kind=period, else 0
    scale = Varchar(length=16)
    value = Varchar(length=8)
    points = DoublePrecision(null=True, default=None)
    proposed_value = Varchar(length=8, default="")
    weighted_average = DoublePrecision(null=True, default=None)
    version = Integer(default=1)
    confirmed_by = Integer(null=True, default=None)
    updated_at = Timestamptz()


class JournalChange(Table):
    """History of every change to a journal fact (append-only): who, when, old, new."""

    id = BigSerial(primary_key=True)
    entity = Varchar(length=16)  # mark | attendance | topic | homework | remark | final_mark
    entity_id = BigInt()
    lesson_id = Integer(null=True, default=None)
    student_id = Integer(null=True, default=None)
    school_id = Integer()
    action = Varchar(length=16)  # create | update | delete
    old = JSONB(null=True, default=None)
    new = JSONB(null=True, default=None)
    source = Varchar(length=16, default="teacher")
    changed_by = Integer(null=True, default=None)
    changed_at = Timestamptz()


class SyncOperation(Table):
    """One applied quick-marking operation, by its client-generated id, unique per lesson: a
    repeat by the same user on the same lesson returns this (decision 0350)."""

    id = BigSerial(primary_key=True)
    client_op_id = Varchar(length=64)
    user_id = Integer(null=True, default=None)
    lesson_id = Integer()
    result = JSONB(default={})
    created_at = Timestamptz()


class DiaryWeek(Table):
    """The diary projection: one pupil's week as the JSON the API sends, rebuilt on demand.

    A write that changes the week bumps `version` and clears `body` in its own transaction; the
    next read builds the body again and stores it only if the version is still the same.
    """

    student = Integer()
    week_start = Date()
    version = Integer(default=1)
    body = Text(null=True, default=None)


class DiarySeen(Table):
    """Up to when a reader (a guardian, the pupil, a delegate) has seen a pupil's diary."""

    user_id = Integer()
    student = Integer()
    seen_at = Timestamptz()


class IllnessReport(Table):
    """A parent's word that the child is ill (from the family app); the attendance itself
    stays the school's to record."""

    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    school = Integer()
    date_from = Date()
    date_to = Date()
    comment = Text(default="")
    reported_by = Integer()  # the user who reported
    created_at = Timestamptz()


INDEXES = [
    Index("work_kind_school_code", "work_kind", ("school", "code"), unique=True),
    Index("mark_student_date", "mark", ("student", "lesson_date")),
    Index("mark_school_date", "mark", ("school", "lesson_date")),
    Index("mark_lesson_client_id", "mark", ("lesson", "client_id"), unique=True),
    Index("attendance_lesson_student", "attendance_record", ("lesson", "student"), unique=True),
    Index("attendance_student_date", "attendance_record", ("student", "lesson_date")),
    Index("attendance_school_date", "attendance_record", ("school", "lesson_date")),
    Index("lesson_record_lesson", "lesson_record", ("lesson",), unique=True),
    Index("lesson_record_school_date", "lesson_record", ("school", "lesson_date")),
    Index("homework_lesson_client_id", "homework", ("lesson", "client_id"), unique=True),
    Index("homework_due_lesson", "homework", ("due_lesson",)),
    # The diary's homework due on a day with no due lesson, by subject and date.
    Index("homework_subject_due_date", "homework", ("subject", "due_date")),
    Index("homework_done_pair", "homework_done", ("homework", "student"), unique=True),
    Index("remark_student_date", "remark", ("student", "lesson_date")),
    Index("remark_lesson_client_id", "remark", ("lesson", "client_id"), unique=True),
    Index(
        "final_mark_unique",
        "final_mark",
        ("student", "subject", "academic_year", "kind", "study_period"),
        unique=True,
    ),
    Index("journal_change_entity", "journal_change", ("entity", "entity_id")),
    Index("journal_change_lesson", "journal_change", ("lesson_id",)),
    Index("sync_operation_lesson_op", "sync_operation", ("lesson_id", "client_op_id"), unique=True),
    Index("diary_week_student_week", "diary_week", ("student", "week_start"), unique=True),
    Index("diary_seen_reader", "diary_seen", ("user_id", "student"), unique=True),
    Index("illness_report_school_dates", "illness_report", ("school", "date_from")),
]

APP_CONFIG = AppConfig(
    app_name="journal",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        WorkKind,
        Mark,
        AttendanceRecord,
        LessonRecord,
        Homework,
        HomeworkDone,
        Attachment,
        Remark,
        FinalMark,
        JournalChange,
        SyncOperation,
        DiaryWeek,
        DiarySeen,
        IllnessReport,
    ],
    migration_dependencies=["backend.schools.tables"],
    commands=[],
)
