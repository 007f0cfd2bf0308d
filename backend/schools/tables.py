"""Tables of the schools context: tenancy, the year, structure, people, timetable and lessons.

Words follow shared/DOMAIN.md. `class` is a Python keyword, so a class of pupils is `SchoolClass`
and its foreign keys are `school_class`. Dates of lessons and periods are local dates (the
school's time zone); instants are `timestamptz` in UTC.
"""

from pathlib import Path

from piccolo.columns import (
    JSONB,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Numeric,
    SmallInt,
    Text,
    Time,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.conf.apps import AppConfig
from piccolo.table import Table

from backend.core.db_index import Index

# ---- tenancy -------------------------------------------------------------------------------


class Region(Table):
    """A subject of the Russian Federation (регион): the top of the tenancy tree."""

    name = Varchar(length=200, unique=True)
    code = Varchar(length=8, unique=True)  # region code, e.g. "16" for Tatarstan
    time_zone = Varchar(length=64, default="Europe/Moscow")


class Municipality(Table):
    """A municipal education authority's area (муниципалитет, МОУО)."""

    region = ForeignKey(Region, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=200)


class School(Table):
    """An educational organisation (образовательная организация, ОО)."""

    municipality = ForeignKey(Municipality, null=False, on_delete=OnDelete.restrict)
    full_name = Varchar(length=500)
    short_name = Varchar(length=200)
    inn = Varchar(length=12, null=True, default=None)
    kpp = Varchar(length=9, null=True, default=None)
    ogrn = Varchar(length=15, null=True, default=None)
    address = Varchar(length=500, default="")
    time_zone = Varchar(length=64, default="Europe/Moscow")
    # School settings (marking window days, meal cut-off, notification defaults...), validated by
    # the schools service; a JSON document so that a new setting needs no migration.
    settings = JSONB(default={})
    is_active = Boolean(default=True)
    created_at = Timestamptz()


# ---- the year ------------------------------------------------------------------------------


class AcademicYear(Table):
    """учебный год: e.g. "2026/2027", 1 September to 31 August, per school."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=16)
    starts_on = Date()
    ends_on = Date()


class StudyPeriod(Table):
    """учебный период: a quarter, trimester or half-year for some grades. Closing locks marks."""

    academic_year = ForeignKey(AcademicYear, null=False, index=True, on_delete=OnDelete.restrict)
    kind = Varchar(length=16)  # quarter | trimester | half_year
    number = SmallInt()
    name = Varchar(length=64)  # "1 четверть"
    starts_on = Date()
    ends_on = Date()
    grades = JSONB(default=[])  # the grades this period applies to, e.g. [2, 3, ..., 9]
    closed_at = Timestamptz(null=True, default=None)
    closed_by = Integer(null=True, default=None)  # account user id


class Holiday(Table):
    """каникулы, праздники: no lessons on these dates (for some grades, or all when empty)."""

    academic_year = ForeignKey(AcademicYear, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=200)
    starts_on = Date()
    ends_on = Date()
    grades = JSONB(default=[])


# ---- people --------------------------------------------------------------------------------


class Staff(Table):
    """педагогический работник, сотрудник. Positions: teacher, class_teacher, coordinator, ..."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    last_name = Varchar(length=100)
    first_name = Varchar(length=100)
    middle_name = Varchar(length=100, default="")
    birth_date = Date(null=True, default=None)
    sex = Varchar(length=1, default="")  # "м" | "ж"
    snils = Varchar(length=11, null=True, default=None)
    phone = Varchar(length=16, null=True, default=None)  # E.164
    email = Varchar(length=254, null=True, default=None)
    positions = JSONB(default=[])
    user_id = Integer(null=True, default=None, index=True)  # account, when they have one
    hired_on = Date(null=True, default=None)
    left_on = Date(null=True, default=None)
    created_at = Timestamptz()


class Student(Table):
    """обучающийся: the personal file's data. Health fields are read only by roles that need
    them; every read of the personal file is audited."""

    school = ForeignKey(
        School, null=False, index=True, on_delete=OnDelete.restrict
    )  # current school (see Enrollment)
    personal_file_number = Varchar(length=32, default="")
    last_name = Varchar(length=100)
    first_name = Varchar(length=100)
    middle_name = Varchar(length=100, default="")
    birth_date = Date(null=True, default=None)
    sex = Varchar(length=1, default="")
    citizenship = Varchar(length=64, default="RUS")
    snils = Varchar(length=11, null=True, default=None)
    document_kind = Varchar(length=32, default="")  # birth_certificate | passport | ...
    document_series = Varchar(length=16, default="")
    document_number = Varchar(length=32, default="")
    document_issued_on = Date(null=True, default=None)
    document_issued_by = Varchar(length=300, default="")
    registration_address = Varchar(length=500, default="")
    residence_address = Varchar(length=500, default="")
    phone = Varchar(length=16, null=True, default=None)
    email = Varchar(length=254, null=True, default=None)
    health_group = Varchar(length=8, default="")  # I..V
    pe_group = Varchar(length=16, default="")  # basic | preparatory | special | exempt
    user_id = Integer(null=True, default=None, index=True)
    # The activation code issued for the pupil's account: activating it fills `user_id`.
    activation_code_id = Integer(null=True, default=None, index=True)
    archived = Boolean(default=False)
    created_at = Timestamptz()
    updated_at = Timestamptz()


class Guardian(Table):
    """родитель (законный представитель): one guardian, many children, maybe in several schools."""

    last_name = Varchar(length=100)
    first_name = Varchar(length=100)
    middle_name = Varchar(length=100, default="")
    phone = Varchar(length=16, null=True, default=None, index=True)
    email = Varchar(length=254, null=True, default=None)
    snils = Varchar(length=11, null=True, default=None)
    document_kind = Varchar(length=32, default="")
    document_series = Varchar(length=16, default="")
    document_number = Varchar(length=32, default="")
    address = Varchar(length=500, default="")
    user_id = Integer(null=True, default=None, index=True)
    # The activation code issued for the guardian's account: activating it fills `user_id`.
    activation_code_id = Integer(null=True, default=None, index=True)
    created_at = Timestamptz()


class StudentGuardian(Table):
    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    guardian = ForeignKey(Guardian, null=False, index=True, on_delete=OnDelete.restrict)
    relation = Varchar(length=16, default="parent")  # mother | father | guardian | other
    is_legal_representative = Boolean(default=True)


class Delegate(Table):
    """доверенное лицо: a legal representative lets a trusted adult use parts of a child's
    access (diary, meals, entries) until a date. Backed by a `delegate` role grant."""

    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    granted_by = ForeignKey(Guardian, null=False, on_delete=OnDelete.restrict)
    delegate_user_id = Integer(null=True, default=None, index=True)
    full_name = Varchar(length=300)
    phone = Varchar(length=16, null=True, default=None)
    parts = JSONB(default=[])
    valid_from = Timestamptz()
    valid_until = Timestamptz()
    revoked_at = Timestamptz(null=True, default=None)
    role_grant_id = Integer(null=True, default=None)
    # An invitation: the code the trusted adult activates to get an account with the grant.
    activation_code_id = Integer(null=True, default=None, index=True)


class Consent(Table):
    """согласие на обработку ПДн (152-FZ): personal data is stored only with consent on file."""

    subject_kind = Varchar(length=16)  # student | guardian | staff
    subject_id = Integer(index=True)
    kind = Varchar(length=32, default="personal_data")  # personal_data | cross_border
    given_by_guardian = ForeignKey(Guardian, null=True, default=None, on_delete=OnDelete.restrict)
    given_on = Date()
    document_ref = Varchar(length=200, default="")
    revoked_on = Date(null=True, default=None)
    recorded_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class BenefitCategory(Table):
    """льготная категория: large family, low income, disability (ОВЗ), grades 1-4 free meals."""

    code = Varchar(length=32, unique=True)
    name = Varchar(length=200)


class StudentBenefit(Table):
    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    category = ForeignKey(BenefitCategory, null=False, on_delete=OnDelete.restrict)
    valid_from = Date()
    valid_to = Date(null=True, default=None)
    document = Varchar(length=300, default="")


# ---- structure -----------------------------------------------------------------------------


class SchoolClass(Table):
    """класс: 5«А». The class teacher is a `Staff` member."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    academic_year = ForeignKey(AcademicYear, null=False, index=True, on_delete=OnDelete.restrict)
    grade = SmallInt()  # 1..11
    letter = Varchar(length=4)
    shift = SmallInt(default=1)
    class_teacher = ForeignKey(Staff, null=True, default=None, on_delete=OnDelete.restrict)


class Enrollment(Table):
    """движение контингента: the book of movement. Append-only: a pupil's class on a date is the
    latest entry on or before it (none after `left` or `graduated`)."""

    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    school_class = ForeignKey(
        SchoolClass, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )
    kind = Varchar(length=16)  # admitted | transferred | left | graduated
    date = Date(index=True)
    order_number = Varchar(length=64)
    reason = Varchar(length=300, default="")
    recorded_by = Integer(null=True, default=None)
    created_at = Timestamptz()


class Subject(Table):
    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=200)
    short_name = Varchar(length=64, default="")


class StudyGroup(Table):
    """группа, подгруппа: part of a class (languages, labour, PE) or pupils of several classes."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    academic_year = ForeignKey(AcademicYear, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=200)
    subject = ForeignKey(Subject, null=True, default=None, on_delete=OnDelete.restrict)
    school_class = ForeignKey(
        SchoolClass, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )


class StudyGroupMember(Table):
    group = ForeignKey(StudyGroup, null=False, index=True, on_delete=OnDelete.restrict)
    student = ForeignKey(Student, null=False, index=True, on_delete=OnDelete.restrict)
    valid_from = Date()
    valid_to = Date(null=True, default=None)


class CurriculumItem(Table):
    """учебный план: hours per week of a subject for a class, or for a whole grade."""

    academic_year = ForeignKey(AcademicYear, null=False, index=True, on_delete=OnDelete.restrict)
    school_class = ForeignKey(SchoolClass, null=True, default=None, on_delete=OnDelete.restrict)
    grade = SmallInt(null=True, default=None)
    subject = ForeignKey(Subject, null=False, on_delete=OnDelete.restrict)
    hours_per_week = Numeric(digits=(4, 1))


class TeachingAssignment(Table):
    """нагрузка: who teaches which subject to which class or group."""

    academic_year = ForeignKey(AcademicYear, null=False, index=True, on_delete=OnDelete.restrict)
    teacher = ForeignKey(Staff, null=False, index=True, on_delete=OnDelete.restrict)
    subject = ForeignKey(Subject, null=False, on_delete=OnDelete.restrict)
    school_class = ForeignKey(
        SchoolClass, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )
    study_group = ForeignKey(
        StudyGroup, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )
    valid_from = Date(null=True, default=None)
    valid_to = Date(null=True, default=None)


class Room(Table):
    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    name = Varchar(length=64)
    capacity = SmallInt(null=True, default=None)


class BellSchedule(Table):
    """звонки: start and end of each lesson number, per shift."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    shift = SmallInt(default=1)
    lesson_number = SmallInt()
    starts_at = Time()
    ends_at = Time()


class TimetableEntry(Table):
    """расписание: the weekly template (weekday 1 = Monday), valid between two dates."""

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    weekday = SmallInt()
    lesson_number = SmallInt()
    school_class = ForeignKey(
        SchoolClass, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )
    study_group = ForeignKey(
        StudyGroup, null=True, default=None, index=True, on_delete=OnDelete.restrict
    )
    subject = ForeignKey(Subject, null=False, on_delete=OnDelete.restrict)
    teacher = ForeignKey(Staff, null=False, index=True, on_delete=OnDelete.restrict)
    room = ForeignKey(Room, null=True, default=None, on_delete=OnDelete.restrict)
    valid_from = Date()
    valid_to = Date()


class LessonPlan(Table):
    """КТП: the planned topic of the n-th lesson of a subject for a class or grade."""

    academic_year = ForeignKey(AcademicYear, null=False, index=True, on_delete=OnDelete.restrict)
    subject = ForeignKey(Subject, null=False, on_delete=OnDelete.restrict)
    school_class = ForeignKey(SchoolClass, null=True, default=None, on_delete=OnDelete.restrict)
    grade = SmallInt(null=True, default=None)
    number = SmallInt()
    topic = Varchar(length=500)


class Lesson(Table):
    """урок: one occurrence. Replacement (замена), room change, cancellation and moves live here.

    `version` grows with every change, so offline clients can say which state they edited.
    """

    school = ForeignKey(School, null=False, index=True, on_delete=OnDelete.restrict)
    date = Date()
    lesson_number = SmallInt()
    school_class = ForeignKey(SchoolClass, null=True, default=None, on_delete=OnDelete.restrict)
    study_group = ForeignKey(StudyGroup, null=True, default=None, on_delete=OnDelete.restrict)
    subject = ForeignKey(Subject, null=False, on_delete=OnDelete.restrict)
    teacher = ForeignKey(Staff, null=False, on_delete=OnDelete.restrict)
    replacement_teacher = ForeignKey(Staff, null=True, default=None, on_delete=OnDelete.restrict)
    room = ForeignKey(Room, null=True, default=None, on_delete=OnDelete.restrict)
    timetable_entry = ForeignKey(
        TimetableEntry, null=True, default=None, on_delete=OnDelete.restrict
    )
    status = Varchar(length=16, default="scheduled")  # scheduled | cancelled | moved
    moved_to = Integer(null=True, default=None)  # the Lesson this one was moved to
    topic = Text(default="")
    version = Integer(default=1)
    updated_at = Timestamptz()


INDEXES = [
    Index("academic_year_school_name", "academic_year", ("school", "name"), unique=True),
    Index("student_guardian_pair", "student_guardian", ("student", "guardian"), unique=True),
    Index(
        "school_class_year_grade_letter",
        "school_class",
        ("academic_year", "grade", "letter"),
        unique=True,
    ),
    Index("subject_school_name", "subject", ("school", "name"), unique=True),
    Index("room_school_name", "room", ("school", "name"), unique=True),
    Index(
        "bell_schedule_school_shift_number",
        "bell_schedule",
        ("school", "shift", "lesson_number"),
        unique=True,
    ),
    Index("enrollment_student_date", "enrollment", ("student", "date")),
    Index("lesson_class_date", "lesson", ("school_class", "date")),
    Index("lesson_group_date", "lesson", ("study_group", "date")),
    Index("lesson_teacher_date", "lesson", ("teacher", "date")),
    Index("lesson_school_date", "lesson", ("school", "date", "lesson_number")),
    Index(
        "timetable_entry_school_weekday", "timetable_entry", ("school", "weekday", "lesson_number")
    ),
    # One generated lesson per timetable entry and date: regeneration can never duplicate.
    Index("lesson_entry_date", "lesson", ("timetable_entry", "date"), unique=True),
]

APP_CONFIG = AppConfig(
    app_name="schools",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Region,
        Municipality,
        School,
        AcademicYear,
        StudyPeriod,
        Holiday,
        Staff,
        Student,
        Guardian,
        StudentGuardian,
        Delegate,
        Consent,
        BenefitCategory,
        StudentBenefit,
        SchoolClass,
        Enrollment,
        Subject,
        StudyGroup,
        StudyGroupMember,
        CurriculumItem,
        TeachingAssignment,
        Room,
        BellSchedule,
        TimetableEntry,
        LessonPlan,
        Lesson,
    ],
    migration_dependencies=[],
    commands=[],
)
