"""Rights cases of people: the book of movement, class lists, activation codes, personal files,
consent, guardians, staff, delegates, import and export.

SETUP admits student A to class A (so class A's class teacher covers student A), links the
matrix's guardian account to a legal representative of student A, and adds a consent and a
staff member.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from backend.core.context import Actor
from backend.core.rights import Role
from backend.schools.people import movement
from backend.schools.tables import (
    Consent,
    Delegate,
    Guardian,
    Staff,
    Student,
    StudentGuardian,
)
from tests.integration.rights import ALL_ROLES, FAMILY, Case, RightsWorld


async def SETUP(world: Any, rw: RightsWorld) -> None:
    ids = rw.ids
    await movement.record_movement(
        Actor.system(),
        ids["student_a"],
        "admitted",
        date(2026, 9, 1),
        "1-у",
        class_id=ids["class_a"],
    )
    newcomer = Student(school=ids["school_a"], last_name="Новенький", first_name="Матвей")
    await newcomer.save()
    guardian = Guardian(last_name="Иванова", first_name="Ольга", user_id=rw.users[Role.GUARDIAN])
    await guardian.save()
    await StudentGuardian(student=ids["student_a"], guardian=guardian.id, relation="mother").save()
    consent = Consent(
        subject_kind="student", subject_id=ids["student_a"], given_on=date(2026, 9, 1)
    )
    await consent.save()
    staff = Staff(school=ids["school_a"], last_name="Секретарь", first_name="Матрица")
    await staff.save()
    now = datetime.now(UTC)
    delegate = Delegate(
        student=ids["student_a"],
        granted_by=guardian.id,
        full_name="Бабушка Матрицы",
        parts=["diary"],
        valid_from=now,
        valid_until=now + timedelta(days=30),
    )
    await delegate.save()
    ids.update(
        people_newcomer=newcomer.id,
        people_guardian=guardian.id,
        people_consent=consent.id,
        people_staff=staff.id,
        people_delegate=delegate.id,
    )


SYSTEM = frozenset({Role.SYSTEM_ADMIN})
FILE_WRITERS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_ADMIN, Role.SECRETARY})
ACCOUNT_MANAGERS = frozenset(
    {Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.SCHOOL_ADMIN, Role.SECRETARY}
)
FILE_READERS = frozenset(
    {
        Role.SYSTEM_ADMIN,
        Role.SCHOOL_COORDINATOR,
        Role.SCHOOL_ADMIN,
        Role.SECRETARY,
        Role.CLASS_TEACHER,
        Role.GUARDIAN,
    }
)
HEALTH_READERS = frozenset({Role.SYSTEM_ADMIN, Role.CLASS_TEACHER, Role.NURSE, Role.GUARDIAN})
PEOPLE_READERS = frozenset(
    {
        Role.SYSTEM_ADMIN,
        Role.SCHOOL_COORDINATOR,
        Role.SCHOOL_ADMIN,
        Role.SECRETARY,
        Role.TEACHER,
        Role.CLASS_TEACHER,
        Role.NURSE,
        Role.SECURITY,
    }
)

CASES = [
    Case(
        "POST",
        "/api/v1/students/{student_id:int}/movements",
        "/api/v1/students/{people_newcomer}/movements",
        FILE_WRITERS,
        body=lambda w: {
            "kind": "admitted",
            "date": "2026-09-01",
            "order_number": "1-у",
            "class_id": w.ids["class_a"],
        },
        ok=(201, 400),
        note="every role sends the same admission: the first allowed role admits, the next ones "
        "pass the guard and scope and meet 'already enrolled' (400); refusals must be 401/403/404",
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}/movements",
        "/api/v1/students/{student_a}/movements",
        PEOPLE_READERS,
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}/class",
        "/api/v1/students/{student_a}/class?on=2026-11-03",
        PEOPLE_READERS,
    ),
    Case(
        "GET",
        "/api/v1/classes/{class_id:int}/pupils",
        "/api/v1/classes/{class_a}/pupils",
        PEOPLE_READERS,
    ),
    Case(
        "POST",
        "/api/v1/classes/{class_id:int}/activation-codes",
        "/api/v1/classes/{class_a}/activation-codes",
        ACCOUNT_MANAGERS,
        body={"who": "pupils"},
    ),
    Case(
        "POST",
        "/api/v1/students",
        "/api/v1/students",
        FILE_WRITERS,
        body=lambda w: {
            "school_id": w.ids["school_a"],
            "last_name": "Матрицына",
            "first_name": f"Ева{w.unique()}",
        },
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}",
        "/api/v1/students/{student_a}",
        PEOPLE_READERS | FAMILY,
    ),
    Case(
        "PATCH",
        "/api/v1/students/{student_id:int}",
        "/api/v1/students/{student_a}",
        FILE_WRITERS,
        body={"middle_name": "Сергеевич", "residence_address": "г. Казань, ул. Матрицы, 1"},
    ),
    Case(
        "POST",
        "/api/v1/students/{student_id:int}/benefits",
        "/api/v1/students/{student_a}/benefits",
        FILE_WRITERS,
        body={"code": "large_family", "valid_from": "2026-09-01", "document": "удостоверение"},
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}/personal-file",
        "/api/v1/students/{student_a}/personal-file",
        FILE_READERS,
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}/health",
        "/api/v1/students/{student_a}/health",
        HEALTH_READERS,
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}/guardians",
        "/api/v1/students/{student_a}/guardians",
        FILE_READERS,
    ),
    Case(
        "POST",
        "/api/v1/guardians",
        "/api/v1/guardians",
        FILE_WRITERS,
        body=lambda w: {
            "last_name": "Опекунов",
            "first_name": f"Пётр{w.unique()}",
            "children": [{"student_id": w.ids["student_a"], "relation": "guardian"}],
        },
    ),
    Case(
        "GET",
        "/api/v1/guardians/{guardian_id:int}",
        "/api/v1/guardians/{people_guardian}",
        FILE_READERS,
    ),
    Case(
        "POST",
        "/api/v1/consents",
        "/api/v1/consents",
        FILE_WRITERS,
        body=lambda w: {
            "subject_kind": "student",
            "subject_id": w.ids["student_a"],
            "given_on": "2026-09-02",
        },
    ),
    Case(
        "POST",
        "/api/v1/consents/{consent_id:int}/revoke",
        "/api/v1/consents/{people_consent}/revoke",
        FILE_WRITERS,
        body={"revoked_on": "2026-11-01"},
        ok=(200, 409),
        note="the first allowed role revokes; the next ones pass the rights checks and meet "
        "'already revoked' (409)",
    ),
    Case(
        "POST",
        "/api/v1/staff",
        "/api/v1/staff",
        FILE_WRITERS,
        body=lambda w: {
            "school_id": w.ids["school_a"],
            "last_name": "Новиков",
            "first_name": f"Павел{w.unique()}",
            "positions": ["teacher"],
        },
    ),
    Case(
        "GET",
        "/api/v1/staff/{staff_id:int}",
        "/api/v1/staff/{people_staff}",
        PEOPLE_READERS - {Role.CLASS_TEACHER},
        note="a class teacher's grant is at class level: it does not cover the school's staff",
    ),
    Case("GET", "/api/v1/family/children", "/api/v1/family/children", ALL_ROLES),
    Case(
        "POST",
        "/api/v1/students/{student_id:int}/delegates",
        "/api/v1/students/{student_a}/delegates",
        frozenset({Role.GUARDIAN}),
        body=lambda w: {
            "full_name": "Дедушка Матрицы",
            "parts": ["diary"],
            "valid_until": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            "phone": f"+7903{w.unique():07d}",
        },
        note="the matrix's guardian is linked to a legal representative of student A in SETUP",
    ),
    Case(
        "GET",
        "/api/v1/students/{student_id:int}/delegates",
        "/api/v1/students/{student_a}/delegates",
        FILE_READERS,
    ),
    Case(
        "POST",
        "/api/v1/delegates/{delegate_id:int}/revoke",
        "/api/v1/delegates/{people_delegate}/revoke",
        frozenset({Role.GUARDIAN}),
    ),
    Case(
        "POST",
        "/api/v1/schools/{school_id:int}/imports/{kind:str}",
        "/api/v1/schools/{school_a}/imports/staff",
        frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.SCHOOL_ADMIN, Role.SECRETARY}),
        ok=(400,),
        note="the matrix sends JSON, not a file: roles the guard lets through get 400 (no file); "
        "the others must be refused. Imports themselves are tested in test_import.py",
    ),
    Case(
        "GET",
        "/api/v1/schools/{school_id:int}/exports/{kind:str}",
        "/api/v1/schools/{school_a}/exports/pupils",
        frozenset(
            {
                Role.SYSTEM_ADMIN,
                Role.SCHOOL_COORDINATOR,
                Role.SCHOOL_ADMIN,
                Role.SECRETARY,
            }
        ),
    ),
]
