"""Typed answers of the Parta API the apps read, mirroring `/schema/openapi.json`.

Written by hand for the endpoints the apps call; unknown fields are ignored, so a field the
server adds does not break an installed app. Requests the server checks strictly (the sync
operations) are built from `SyncOp` with unset fields left out.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any, Generic, TypeVar

import msgspec

T = TypeVar("T")


class Model(msgspec.Struct):
    pass


class TokenPair(Model):
    access_token: str
    refresh_token: str
    expires_in: int
    refresh_expires_in: int
    user_id: int
    token_type: str = "Bearer"


class Grant(Model):
    id: int
    role: str
    role_name: str
    scope_kind: str
    scope_id: int | None
    valid_until: datetime | None = None


class Me(Model):
    id: int
    display_name: str
    login: str | None
    grants: list[Grant]


class MyStaff(Model):
    id: int
    school: int
    school_name: str
    last_name: str
    first_name: str
    middle_name: str
    positions: list[str]
    left_on: date | None = None


class Lesson(Model):
    """A lesson of the timetable (`GET /api/v1/me/lessons`)."""

    id: int
    date: date
    lesson_number: int
    school_class: int | None
    study_group: int | None
    subject: int
    subject_name: str
    teacher: int
    replacement_teacher: int | None
    room: int | None
    status: str
    topic: str
    version: int
    starts_at: time | None = None
    ends_at: time | None = None


class Page(Model, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


class SchoolClass(Model):
    id: int
    grade: int
    letter: str
    name: str
    class_teacher: int | None = None


class StudyGroup(Model):
    id: int
    name: str


class Room(Model):
    id: int
    name: str


class Pupil(Model):
    id: int
    name: str


class AttendanceRecord(Model):
    id: int
    student_id: int
    status: str
    late_minutes: int | None
    reason: str
    source: str
    version: int


class Mark(Model):
    id: int
    student_id: int
    value: str
    points: float | None
    scale: str
    work_kind: str
    weight: int
    comment: str
    version: int
    client_id: str | None


class Homework(Model):
    id: int
    text: str
    due_date: date | None
    due_lesson_id: int | None
    attachments: list[dict[str, Any]]
    version: int


class LessonSheet(Model):
    """The journal's view of one lesson (`GET /api/v1/journal/lessons/{id}`)."""

    id: int
    date: date
    lesson_number: int
    subject_id: int
    subject: str
    class_id: int | None
    group_id: int | None
    status: str
    topic: str
    version: int
    scale: str | None
    pupils: list[Pupil]
    attendance: list[AttendanceRecord]
    marks: list[Mark]
    homework: list[Homework]
    attendance_taken: bool


class WorkKind(Model):
    code: str
    name: str
    weight: int


class Scale(Model):
    code: str
    name: str
    symbols: list[str]
    in_averages: bool = True


class Marking(Model):
    school_id: int
    work_kinds: list[WorkKind]
    scales: list[Scale]
    default_scale: str
    subject_scales: dict[str, str] = {}
    unmarked_grades: list[int] = []


class SyncOp(Model, omit_defaults=True):
    op_id: str
    kind: str
    base_version: int | None = None
    student_id: int | None = None
    status: str | None = None
    late_minutes: int | None = None
    reason: str | None = None
    value: str | None = None
    work_kind: str | None = None
    comment: str | None = None
    mark_id: int | None = None
    mark_client_id: str | None = None
    topic: str | None = None
    homework_id: int | None = None
    text: str | None = None
    due_date: date | None = None
    attachment_ids: list[int] | None = None


class SyncRequest(Model, omit_defaults=True):
    operations: list[SyncOp]
    base_version: int | None = None


class ChangedBy(Model):
    name: str
    role: str


class OpResult(Model):
    op_id: str
    status: str  # applied | unchanged | conflict | repeat
    entity: str
    id: int | None = None
    version: int | None = None
    server: dict[str, Any] | None = None
    client: dict[str, Any] | None = None
    changed_by: ChangedBy | None = None  # a conflict: who last changed the server's value
    changed_at: datetime | None = None


class SyncResponse(Model):
    lesson_id: int
    lesson_version: int
    applied: int
    conflicts: int
    results: list[OpResult]


class Change(Model):
    action: str
    at: datetime
    by: ChangedBy
    source: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None


class MarkHistory(Model):
    mark_id: int
    student_id: int
    changes: list[Change]


class AttachmentOut(Model):
    id: int
    file_name: str
    content_type: str
    size: int


class ClassPupil(Model):
    id: int
    last_name: str
    first_name: str
    middle_name: str = ""


# ---------------------------------------------------------------- the family app's answers


class FamilyChild(Model):
    """A child the signed-in person may act for (`GET /api/v1/family/children`); role
    "pupil" is the pupil's own account."""

    student_id: int
    last_name: str
    first_name: str
    class_name: str | None
    role: str
    parts: list[str] | None = None
    valid_until: datetime | None = None
    time_zone: str = ""  # the school's (servers before it was sent: the phone's own)


class DiaryHomework(Model):
    id: int
    text: str
    due_date: date | None
    attachments: list[dict[str, Any]] = []
    done: bool = False


class DiaryMark(Model):
    id: int
    value: str
    work_kind: str
    weight: int
    comment: str = ""
    at: datetime | None = None
    changed: bool = False


class DiaryAttendance(Model):
    status: str
    late_minutes: int | None = None
    reason: str = ""


class DiaryLesson(Model):
    lesson_id: int
    number: int
    subject_id: int
    subject: str
    teacher: str | None
    replacement_teacher: str | None
    room: str | None
    status: str
    topic: str
    homework: list[DiaryHomework] = []
    homework_due: list[DiaryHomework] = []
    marks: list[DiaryMark] = []
    attendance: DiaryAttendance | None = None
    remarks: list[dict[str, Any]] = []


class DiaryDay(Model):
    date: date
    lessons: list[DiaryLesson]


class DiaryWeek(Model):
    """A week of a pupil's diary (`GET /api/v1/diary/students/{id}/week`)."""

    student_id: int
    week_start: date
    days: list[DiaryDay]


class SubjectMark(Model):
    id: int
    value: str
    weight: int
    date: date
    work_kind: str
    comment: str = ""


class SubjectMarks(Model):
    subject_id: int
    subject: str
    marks: list[SubjectMark]
    average: float | None
    weighted_average: float | None
    final_marks: list[dict[str, Any]] = []


class DiaryMarks(Model):
    student_id: int
    date_from: date
    date_to: date
    subjects: list[SubjectMarks]


class NewsMark(Model):
    id: int
    lesson: int
    lesson_date: date
    subject: int
    value: str
    subject_name: str = ""  # (a server before 2026-12 did not send it)


class NewsHomework(Model):
    id: int
    lesson: int
    lesson_date: date
    text: str
    due_date: date | None = None


class DiaryNews(Model):
    student_id: int
    seen_at: datetime | None
    marks: list[NewsMark]
    remarks: list[dict[str, Any]]
    homework: list[NewsHomework]


class InboxItem(Model):
    id: int
    kind: str
    student_id: int | None
    title: str
    body: str
    urgent: bool
    created_at: datetime
    read_at: datetime | None


class InboxPage(Model):
    items: list[InboxItem]
    total: int
    unread: int
    limit: int
    offset: int


class Preference(Model):
    kind: str
    student_id: int
    channels: list[str] | None
    mode: str | None
    digest_at: str | None
    quiet_from: str | None
    quiet_to: str | None
    muted: bool
    quiet_hours: bool | None = None


class Delegate(Model):
    id: int
    student_id: int
    full_name: str
    phone: str | None
    parts: list[str]
    valid_from: datetime | None
    valid_until: datetime | None
    revoked_at: datetime | None
    has_account: bool = False
    activation_code: str | None = None


class PersonalDataRead(Model):
    at: datetime
    who: str
    action: str
    what: str


class Done(Model):
    homework_id: int
    done: bool


class IllnessReport(Model):
    id: int
    student_id: int
    date_from: date
    date_to: date
    comment: str
    created_at: datetime


class AbsentInside(Model):
    """A pupil marked absent in a lesson that had begun while inside the building."""

    student_id: int
    name: str
    lesson_id: int
    lesson_number: int
    subject: str
    starts_at: time | None = None


class ClassAbsentInside(Model):
    class_id: int
    date: date
    items: list[AbsentInside]


class ChatLink(Model):
    """A one-time code linking a messenger chat with the bot (`POST /messaging/chat-links`):
    open `deep_link` (when the server knows the bot's name) or send `code` to the bot."""

    messenger: str
    code: str
    payload: str
    deep_link: str | None
    expires_at: datetime
