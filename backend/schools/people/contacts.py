"""Who should hear about a pupil: guardians, delegates, the pupil, the class teacher.

Read by the notifications worker (through these functions, not the tables). Only people with
an account (a `user_id`) can be reached: the inbox, preferences and devices hang off accounts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from backend.core.days import today_in
from backend.core.db import any_of
from backend.schools.people import services as people
from backend.schools.tables import (
    Guardian,
    School,
    SchoolClass,
    Staff,
    Student,
    StudentGuardian,
)

# What a pupil's legal representative is reached by, with the pupil (a `Contact`).
GUARDIAN_CONTACT_COLUMNS = (
    StudentGuardian.student,
    StudentGuardian.guardian.user_id,
    StudentGuardian.guardian.last_name,
    StudentGuardian.guardian.first_name,
    StudentGuardian.guardian.phone,
    StudentGuardian.guardian.email,
)

GUARDIAN, DELEGATE, PUPIL, CLASS_TEACHER = "guardian", "delegate", "pupil", "class_teacher"
SECURITY = "security"  # the school's security staff (refused cards at the turnstile)


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


@dataclass(frozen=True, slots=True)
class Pupil:
    """What the worker needs of a pupil: the name its texts use, the school, and the pupil's
    own contact when the pupil has an account."""

    id: int
    first_name: str
    school_id: int
    contact: Contact | None
    sex: str = ""  # "м" | "ж" | "" (unknown): the texts' verbs agree with it


def _guardian_contact(row: dict[str, Any]) -> Contact:
    """A guardian of the pupil `row["student"]`, from a `StudentGuardian` row joined to the
    guardian's fields."""
    return Contact(
        user_id=row["guardian.user_id"],
        role=GUARDIAN,
        student_id=row["student"],
        name=_full(row, "guardian."),
        phone=row["guardian.phone"],
        email=row["guardian.email"],
    )


async def pupils(student_ids: Iterable[int]) -> dict[int, Pupil]:
    """Many pupils in one query."""
    wanted = list(set(student_ids))
    if not wanted:
        return {}
    rows = await Student.select(
        Student.id,
        Student.school,
        Student.user_id,
        Student.last_name,
        Student.first_name,
        Student.phone,
        Student.email,
        Student.sex,
    ).where(any_of(Student.id, wanted))
    return {
        r["id"]: Pupil(
            r["id"],
            r["first_name"],
            r["school"],
            None
            if r["user_id"] is None
            else Contact(r["user_id"], PUPIL, r["id"], _full(r), r["phone"], r["email"]),
            r["sex"] or "",
        )
        for r in rows
    }


async def guardians_of_many(student_ids: Iterable[int]) -> dict[int, list[Contact]]:
    """Legal representatives with an account of each pupil, in one query (in the order they
    were linked, like `people.guardians_of`)."""
    wanted = list(set(student_ids))
    out: dict[int, list[Contact]] = {sid: [] for sid in wanted}
    if not wanted:
        return out
    rows = (
        await StudentGuardian.select(*GUARDIAN_CONTACT_COLUMNS)
        .where(
            any_of(StudentGuardian.student, wanted)
            & (StudentGuardian.is_legal_representative == True)  # noqa: E712
            & StudentGuardian.guardian.user_id.is_not_null()
        )
        .order_by(StudentGuardian.id)
    )
    for r in rows:
        out[r["student"]].append(_guardian_contact(r))
    return out


async def delegates_of_many(
    student_ids: Iterable[int], now: datetime | None = None
) -> dict[int, list[Contact]]:
    """Trusted adults with an account whose delegation is live now, with the parts they were
    given, for each pupil, in one query."""
    found = await people.delegates_of_many(student_ids, now)
    return {
        sid: [
            Contact(
                user_id=d.user_id,
                role=DELEGATE,
                student_id=sid,
                name=d.full_name,
                parts=tuple(d.parts or ()),
            )
            for d in delegates
            if d.user_id is not None
        ]
        for sid, delegates in found.items()
    }


async def class_teachers_of(
    student_ids: Iterable[int], on: date | None = None
) -> dict[int, Contact]:
    """Each pupil's class teacher (the class on `on`, by the book of movement) with an
    account: two queries whatever the number of pupils."""
    wanted = list(set(student_ids))
    if not wanted:
        return {}
    classes = await people.classes_on(wanted, on or today_in())
    class_ids = list({c for c in classes.values() if c is not None})
    if not class_ids:
        return {}
    rows = await SchoolClass.select(
        SchoolClass.id,
        SchoolClass.class_teacher.user_id,
        SchoolClass.class_teacher.last_name,
        SchoolClass.class_teacher.first_name,
        SchoolClass.class_teacher.phone,
        SchoolClass.class_teacher.email,
    ).where(SchoolClass.id.is_in(class_ids))
    teachers = {r["id"]: r for r in rows if r["class_teacher.user_id"] is not None}
    out: dict[int, Contact] = {}
    for sid, class_id in classes.items():
        row = teachers.get(class_id) if class_id is not None else None
        if row is not None:
            out[sid] = Contact(
                row["class_teacher.user_id"],
                CLASS_TEACHER,
                sid,
                _full(row, "class_teacher."),
                row["class_teacher.phone"],
                row["class_teacher.email"],
            )
    return out


async def families_of_school(school_id: int) -> list[Contact]:
    """Every legal representative with an account of every current pupil of the school."""
    rows = await StudentGuardian.select(*GUARDIAN_CONTACT_COLUMNS).where(
        (StudentGuardian.student.school == school_id)
        & (StudentGuardian.student.archived == False)  # noqa: E712
        & (StudentGuardian.is_legal_representative == True)  # noqa: E712
        & StudentGuardian.guardian.user_id.is_not_null()
    )
    return [_guardian_contact(r) for r in rows]


async def families_of_class(class_id: int, on: date | None = None) -> list[Contact]:
    """Every legal representative with an account of the class's pupils on `on` (by the book
    of movement): an announcement to one class."""
    pupils = (await people.pupils_of_classes([class_id], on or today_in())).get(class_id, [])
    if not pupils:
        return []
    rows = await StudentGuardian.select(*GUARDIAN_CONTACT_COLUMNS).where(
        StudentGuardian.student.is_in(pupils)
        & (StudentGuardian.is_legal_representative == True)  # noqa: E712
        & StudentGuardian.guardian.user_id.is_not_null()
    )
    return [_guardian_contact(r) for r in rows]


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


async def guardian_user_ids(guardian_ids: Iterable[int]) -> dict[int, int]:
    wanted = list(set(guardian_ids))
    if not wanted:
        return {}
    rows = await Guardian.select(Guardian.id, Guardian.user_id).where(Guardian.id.is_in(wanted))
    return {r["id"]: r["user_id"] for r in rows if r["user_id"] is not None}


async def security_of_school(school_id: int) -> list[Contact]:
    """The school's security staff with an account (a live security grant at the school)."""
    from backend.accounts.services import users_holding
    from backend.core.rights import Role, ScopeKind

    users = await users_holding(Role.SECURITY, ScopeKind.SCHOOL, school_id)
    if not users:
        return []
    rows = await Staff.select(
        Staff.user_id, Staff.last_name, Staff.first_name, Staff.phone, Staff.email
    ).where(Staff.user_id.is_in(users))
    known = {r["user_id"]: r for r in rows}
    return [
        Contact(
            user,
            SECURITY,
            None,
            _full(known[user]) if user in known else "",
            known[user]["phone"] if user in known else None,
            known[user]["email"] if user in known else None,
        )
        for user in users
    ]


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
