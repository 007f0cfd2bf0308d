"""API shapes of school structure, the year and the timetable. Unknown fields are refused.

Requests come in threes where it makes sense: `XCreate`, `XUpdate` (fields `msgspec.UNSET` when
not given) and the output `X`.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated, Any

import msgspec

from backend.core.bounds import ID_ITEMS, Id, Version, documented, items_between
from backend.core.schemas import Strict

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ShortName = Annotated[str, msgspec.Meta(max_length=64)]
Grade = Annotated[int, msgspec.Meta(ge=1, le=11)]
Shift = Annotated[int, msgspec.Meta(ge=1, le=3)]
LessonNumber = Annotated[int, msgspec.Meta(ge=0, le=12)]
Weekday = Annotated[int, msgspec.Meta(ge=1, le=7, description="1 = понедельник")]
Grades = Annotated[list[Grade], msgspec.Meta(max_length=11, extra_json_schema=items_between(1, 11))]
WindowDays = Annotated[int, msgspec.Meta(ge=0, le=90, extra_json_schema=documented(minimum=0))]
CutoffDays = Annotated[int, msgspec.Meta(ge=0, le=14, extra_json_schema=documented(minimum=0))]
StudyDays = Annotated[
    list[Weekday], msgspec.Meta(min_length=1, max_length=7, extra_json_schema=items_between(1, 7))
]

# ---- tenancy and settings --------------------------------------------------------------------


class RegionCreate(Strict):
    name: Name
    code: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    time_zone: str = "Europe/Moscow"


class Region(msgspec.Struct):
    id: int
    name: str
    code: str
    time_zone: str


class MunicipalityCreate(Strict):
    name: Name


class Municipality(msgspec.Struct):
    id: int
    region: int
    name: str


class SchoolCreate(Strict):
    full_name: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    short_name: Name
    inn: Annotated[str, msgspec.Meta(pattern=r"^\d{10}$")] | None = None
    kpp: Annotated[str, msgspec.Meta(pattern=r"^\d{9}$")] | None = None
    ogrn: Annotated[str, msgspec.Meta(pattern=r"^\d{13}$")] | None = None
    address: Annotated[str, msgspec.Meta(max_length=500)] = ""
    time_zone: str | None = None  # the region's when not given


class School(msgspec.Struct):
    id: int
    municipality: int
    full_name: str
    short_name: str
    inn: str | None
    kpp: str | None
    ogrn: str | None
    address: str
    time_zone: str
    is_active: bool


class NotificationDefaults(msgspec.Struct, forbid_unknown_fields=False):
    channels: list[str] = msgspec.field(default_factory=lambda: ["push", "telegram"])
    quiet_hours_start: str = "22:00"
    quiet_hours_end: str = "07:00"
    marks: bool = True
    absences: bool = True
    timetable_changes: bool = True


class SchoolSettings(msgspec.Struct):
    """A school's own rules. Stored as one JSON document; every field has a default (keys other
    contexts add to the document are kept but not shown here)."""

    marking_window_days: WindowDays = 14  # as the journal applies
    meal_cutoff_time: Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "10:00"
    meal_cutoff_days_before: CutoffDays = 1
    notification_defaults: NotificationDefaults = msgspec.field(
        default_factory=NotificationDefaults
    )
    # The weekdays the school teaches on (1 = Monday); a five-day school gives [1, 2, 3, 4, 5].
    study_days: StudyDays = msgspec.field(default_factory=lambda: [1, 2, 3, 4, 5, 6])


class SchoolSettingsOut(msgspec.Struct):
    school_id: int
    time_zone: str
    settings: SchoolSettings


class SchoolSettingsUpdate(Strict):
    time_zone: str | msgspec.UnsetType = msgspec.UNSET
    marking_window_days: WindowDays | msgspec.UnsetType = msgspec.UNSET
    meal_cutoff_time: (
        Annotated[str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] | msgspec.UnsetType
    ) = msgspec.UNSET
    meal_cutoff_days_before: CutoffDays | msgspec.UnsetType = msgspec.UNSET
    notification_defaults: NotificationDefaults | msgspec.UnsetType = msgspec.UNSET
    study_days: StudyDays | msgspec.UnsetType = msgspec.UNSET


# ---- the year --------------------------------------------------------------------------------


class AcademicYearCreate(Strict):
    name: Annotated[str, msgspec.Meta(pattern=r"^\d{4}/\d{4}$", description="2026/2027")]
    starts_on: date
    ends_on: date


class AcademicYearUpdate(Strict):
    starts_on: date | msgspec.UnsetType = msgspec.UNSET
    ends_on: date | msgspec.UnsetType = msgspec.UNSET


class AcademicYear(msgspec.Struct):
    id: int
    school: int
    name: str
    starts_on: date
    ends_on: date


class StudyPeriodCreate(Strict):
    kind: Annotated[str, msgspec.Meta(pattern="^(quarter|trimester|half_year)$")]
    number: Annotated[int, msgspec.Meta(ge=1, le=4)]
    starts_on: date
    ends_on: date
    grades: Grades
    name: Annotated[str, msgspec.Meta(max_length=64)] = ""


class StudyPeriodUpdate(Strict):
    starts_on: date | msgspec.UnsetType = msgspec.UNSET
    ends_on: date | msgspec.UnsetType = msgspec.UNSET
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class StudyPeriod(msgspec.Struct):
    id: int
    academic_year: int
    kind: str
    number: int
    name: str
    starts_on: date
    ends_on: date
    grades: list[int]
    closed_at: datetime | None
    closed_by: int | None


class HolidayCreate(Strict):
    name: Name
    starts_on: date
    ends_on: date
    grades: Grades = msgspec.field(default_factory=list)


class Holiday(msgspec.Struct):
    id: int
    academic_year: int
    name: str
    starts_on: date
    ends_on: date
    grades: list[int]
    # When a holiday is added: the lessons of its days it cancelled, and those it left alone
    # because they already have journal content (a topic, marks, attendance...).
    cancelled_lessons: list[int] = msgspec.field(default_factory=list)
    kept_lessons: list[Lesson] = msgspec.field(default_factory=list)


# ---- structure -------------------------------------------------------------------------------


class SchoolClassCreate(Strict):
    academic_year_id: Id
    grade: Grade
    letter: Annotated[str, msgspec.Meta(min_length=1, max_length=4)]
    shift: Shift = 1
    class_teacher_id: Id | None = None


class SchoolClassUpdate(Strict):
    letter: Annotated[str, msgspec.Meta(min_length=1, max_length=4)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    shift: Shift | msgspec.UnsetType = msgspec.UNSET
    class_teacher_id: Id | msgspec.UnsetType | None = msgspec.UNSET


class SchoolClass(msgspec.Struct):
    id: int
    academic_year: int
    grade: int
    letter: str
    name: str
    shift: int
    class_teacher: int | None


class StudyGroupCreate(Strict):
    academic_year_id: Id
    name: Name
    subject_id: Id | None = None
    school_class_id: Id | None = None


class StudyGroup(msgspec.Struct):
    id: int
    academic_year: int
    name: str
    subject: int | None
    school_class: int | None


class GroupMembersChange(Strict):
    student_ids: Annotated[
        list[Id], msgspec.Meta(min_length=1, max_length=200, extra_json_schema=ID_ITEMS)
    ]
    on: date


class GroupMember(msgspec.Struct):
    student: int
    last_name: str
    first_name: str
    valid_from: date
    valid_to: date | None


class SubjectCreate(Strict):
    name: Name
    short_name: ShortName = ""


class SubjectUpdate(Strict):
    name: Name | msgspec.UnsetType = msgspec.UNSET
    short_name: ShortName | msgspec.UnsetType = msgspec.UNSET


class Subject(msgspec.Struct):
    id: int
    name: str
    short_name: str


class CurriculumItemCreate(Strict):
    academic_year_id: Id
    subject_id: Id
    hours_per_week: Annotated[float, msgspec.Meta(gt=0, le=40)]
    school_class_id: Id | None = None
    grade: Grade | None = None


class CurriculumItem(msgspec.Struct):
    id: int
    academic_year: int
    subject: int
    hours_per_week: float
    school_class: int | None
    grade: int | None


class TeachingAssignmentCreate(Strict):
    academic_year_id: Id
    teacher_id: Id
    subject_id: Id
    school_class_id: Id | None = None
    study_group_id: Id | None = None
    valid_from: date | None = None
    valid_to: date | None = None


class TeachingAssignment(msgspec.Struct):
    id: int
    academic_year: int
    teacher: int
    subject: int
    school_class: int | None
    study_group: int | None
    valid_from: date | None
    valid_to: date | None


class RoomCreate(Strict):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    capacity: Annotated[int, msgspec.Meta(ge=1, le=2000)] | None = None


class RoomUpdate(Strict):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    capacity: Annotated[int, msgspec.Meta(ge=1, le=2000)] | msgspec.UnsetType | None = msgspec.UNSET


class Room(msgspec.Struct):
    id: int
    name: str
    capacity: int | None


ClockTime = Annotated[
    str, msgspec.Meta(pattern=r"^([01]\d|2[0-3]):[0-5]\d(:00)?$", description="08:30")
]


class Bell(Strict):
    lesson_number: LessonNumber
    starts_at: ClockTime
    ends_at: ClockTime


class BellScheduleSet(Strict):
    bells: Annotated[list[Bell], msgspec.Meta(min_length=1, max_length=13)]


class BellSchedule(msgspec.Struct):
    shift: int
    bells: list[Bell]


# ---- timetable and lessons -------------------------------------------------------------------


class TimetableEntryCreate(Strict):
    weekday: Weekday
    lesson_number: LessonNumber
    subject_id: Id
    teacher_id: Id
    valid_from: date
    valid_to: date
    school_class_id: Id | None = None
    study_group_id: Id | None = None
    room_id: Id | None = None


class TimetableEntriesCreate(Strict):
    entries: Annotated[list[TimetableEntryCreate], msgspec.Meta(min_length=1, max_length=2000)]


class TimetableEntryUpdate(Strict):
    teacher_id: Id | msgspec.UnsetType = msgspec.UNSET
    room_id: Id | msgspec.UnsetType | None = msgspec.UNSET
    valid_to: date | msgspec.UnsetType = msgspec.UNSET


class TimetableEntry(msgspec.Struct):
    id: int
    weekday: int
    lesson_number: int
    school_class: int | None
    study_group: int | None
    subject: int
    teacher: int
    room: int | None
    valid_from: date
    valid_to: date


class GenerateLessons(Strict):
    date_from: date
    date_to: date


class GenerationResult(msgspec.Struct):
    created: int
    updated: int
    removed: int
    kept: int
    kept_with_content: int


class Lesson(msgspec.Struct):
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
    timetable_entry: int | None
    status: str
    moved_to: int | None
    topic: str
    version: int
    starts_at: time | None = None
    ends_at: time | None = None


class MyStaff(msgspec.Struct):
    """A staff record of the signed-in person."""

    id: int
    school: int
    school_name: str
    last_name: str
    first_name: str
    middle_name: str
    positions: list[str]
    left_on: date | None


class Versioned(Strict, kw_only=True):
    version: Version | None = None


class ReplacementSet(Versioned):
    teacher_id: Id | None  # None removes the replacement


class RoomChange(Versioned):
    room_id: Id | None


class Cancellation(Versioned):
    reason: Annotated[str, msgspec.Meta(max_length=300)] = ""


class Restoration(Versioned):
    pass


class LessonMove(Versioned):
    date: date
    lesson_number: LessonNumber
    room_id: Id | msgspec.UnsetType | None = msgspec.UNSET


class MoveResult(msgspec.Struct):
    original: Lesson
    moved_to: Lesson


def to_struct(kind: type[Any], row: dict[str, Any]) -> Any:
    """A row of the database as an output struct (extra columns ignored)."""
    return msgspec.convert(row, kind, from_attributes=False, strict=False)
