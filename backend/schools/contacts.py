"""Who should hear about a pupil: guardians, delegates, the pupil, the class teacher.

Read by the notifications worker (through these functions, not the tables). Only people with
an account (a `user_id`) can be reached: the inbox, preferences and devices hang off accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from backend.schools import people
from backend.schools.tables import (
    Consent,
    Guardian,
    School,
    SchoolClass,
    Staff,
    Student,
    StudentGuardian,
)

GUARDIAN, DELEGATE, PUPIL, CLASS_TEACHER = "guardian", "delegate", "pupil", "class_teacher"


@dataclass(frozen=True, slots=True)
class Contact:
    user_id: int
    role: str  # guardian | delegate | pupil | class_teacher
    student_id: int | None
    name: str = ""
    phone: str | None = None
    email: str | None = None
    # For delegates: the permissions the legal representative gave them ("diary.read", ...).
    parts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SchoolInfo:
    id: int
    short_name: str
    time_zone: str
    settings: dict[str, Any]


def _full(row: dict[str, Any], prefix: str = "") -> str:
    parts = (row.get(f"{prefix}last_name"), row.get(f"{prefix}first_name"))
    return " ".join(p for p in parts if p)


async def guardians_of(student_id: int) -> list[Contact]:
    """Legal representatives of the child who have an account (`people.guardians_of`)."""
    return [
        Contact(
            user_id=g.user_id,
            role=GUARDIAN,
            student_id=student_id,
            name=g.full_name,
            phone=g.phone,
            email=g.email,
        )
        for g in await people.guardians_of(student_id)
        if g.user_id is not None and g.is_legal_representative
    ]


async def delegates_of(student_id: int, now: datetime | None = None) -> list[Contact]:
    """Trusted adults whose delegation is live now, with the parts they were given."""
    return [
        Contact(
            user_id=d.user_id,
            role=DELEGATE,
            student_id=student_id,
            name=d.full_name,
            parts=tuple(d.parts or ()),
        )
        for d in await people.delegates_of(student_id, now)
        if d.user_id is not None
    ]


async def pupil_contact(student_id: int) -> Contact | None:
    row = (
        await Student.select(
            Student.user_id, Student.last_name, Student.first_name, Student.phone, Student.email
        )
        .where(Student.id == student_id)
        .first()
    )
    if row is None or row["user_id"] is None:
        return None
    return Contact(row["user_id"], PUPIL, student_id, _full(row), row["phone"], row["email"])


async def current_class_id(student_id: int, on: date | None = None) -> int | None:
    """The pupil's class on a date (the book of movement decides)."""
    return await people.class_on(student_id, on or datetime.now(UTC).date())


async def class_teacher_of(student_id: int) -> Contact | None:
    class_id = await current_class_id(student_id)
    if class_id is None:
        return None
    row = (
        await SchoolClass.select(
            SchoolClass.class_teacher.user_id,
            SchoolClass.class_teacher.last_name,
            SchoolClass.class_teacher.first_name,
            SchoolClass.class_teacher.phone,
            SchoolClass.class_teacher.email,
        )
        .where(SchoolClass.id == class_id)
        .first()
    )
    if row is None or row["class_teacher.user_id"] is None:
        return None
    return Contact(
        row["class_teacher.user_id"],
        CLASS_TEACHER,
        student_id,
        _full(row, "class_teacher."),
        row["class_teacher.phone"],
        row["class_teacher.email"],
    )


async def families_of_school(school_id: int) -> list[Contact]:
    """Every legal representative with an account of every current pupil of the school."""
    rows = await StudentGuardian.select(
        StudentGuardian.student,
        StudentGuardian.guardian.user_id,
        StudentGuardian.guardian.last_name,
        StudentGuardian.guardian.first_name,
        StudentGuardian.guardian.phone,
        StudentGuardian.guardian.email,
    ).where(
        (StudentGuardian.student.school == school_id)
        & (StudentGuardian.student.archived == False)  # noqa: E712
        & (StudentGuardian.is_legal_representative == True)  # noqa: E712
        & StudentGuardian.guardian.user_id.is_not_null()
    )
    return [
        Contact(
            user_id=r["guardian.user_id"],
            role=GUARDIAN,
            student_id=r["student"],
            name=_full(r, "guardian."),
            phone=r["guardian.phone"],
            email=r["guardian.email"],
        )
        for r in rows
    ]


async def student_names(ids: Iterable[int]) -> dict[int, str]:
    wanted = list(set(ids))
    if not wanted:
        return {}
    rows = await Student.select(Student.id, Student.first_name, Student.last_name).where(
        Student.id.is_in(wanted)
    )
    return {r["id"]: r["first_name"] for r in rows}


async def student_school(student_id: int) -> int | None:
    row = await Student.select(Student.school).where(Student.id == student_id).first()
    return None if row is None else row["school"]


async def school_info(school_id: int) -> SchoolInfo | None:
    row = (
        await School.select(School.id, School.short_name, School.time_zone, School.settings)
        .where(School.id == school_id)
        .first()
    )
    if row is None:
        return None
    settings = row["settings"]
    if isinstance(settings, str):  # SQLite hands JSON back as text
        import json

        settings = json.loads(settings or "{}")
    return SchoolInfo(row["id"], row["short_name"], row["time_zone"], settings or {})


async def students_with_cross_border_consent(student_ids: Iterable[int]) -> set[int]:
    """Pupils whose legal representative consented to transfer their data abroad (152-FZ,
    art. 12): only for them may the full text go to a service abroad (FCM, Telegram, ...)."""
    wanted = list(set(student_ids))
    if not wanted:
        return set()
    rows = await Consent.select(Consent.subject_id).where(
        (Consent.subject_kind == "student")
        & (Consent.kind == "cross_border")
        & Consent.subject_id.is_in(wanted)
        & Consent.revoked_on.is_null()
    )
    return {r["subject_id"] for r in rows}


async def guardian_user_ids(guardian_ids: Iterable[int]) -> dict[int, int]:
    wanted = list(set(guardian_ids))
    if not wanted:
        return {}
    rows = await Guardian.select(Guardian.id, Guardian.user_id).where(Guardian.id.is_in(wanted))
    return {r["id"]: r["user_id"] for r in rows if r["user_id"] is not None}


async def staff_contact(user_id: int) -> Contact | None:
    row = (
        await Staff.select(
            Staff.user_id, Staff.last_name, Staff.first_name, Staff.phone, Staff.email
        )
        .where(Staff.user_id == user_id)
        .first()
    )
    if row is None:
        return None
    return Contact(user_id, CLASS_TEACHER, None, _full(row), row["phone"], row["email"])
