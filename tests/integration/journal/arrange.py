"""A small school for journal tests: a class with pupils, a teacher with an account, lessons."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from backend.core.days import today_in
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import (
    AcademicYear,
    Enrollment,
    Guardian,
    Lesson,
    SchoolClass,
    Student,
    StudentGuardian,
    StudyPeriod,
    Subject,
)
from tests.conftest import Backend
from tests.support import SignedIn, make_tenancy, sign_in, staff_record


@dataclass
class JournalWorld:
    ids: dict[str, int]
    teacher: SignedIn
    other_teacher: SignedIn
    coordinator: SignedIn
    pupils: list[int]
    class_id: int
    subject_id: int
    teacher_staff: int
    year_id: int
    lessons: dict[str, int] = field(default_factory=dict)


def today() -> date:
    """Today on the test school's clock (Moscow), as the journal and reports count days."""
    return today_in()


async def lesson(
    school_id: int, class_id: int, subject_id: int, teacher: int, on: date, number: int = 1
) -> int:
    row = Lesson(
        school=school_id,
        date=on,
        lesson_number=number,
        school_class=class_id,
        subject=subject_id,
        teacher=teacher,
    )
    await row.save()
    return int(row.id)


async def make_journal_world(world: Backend, *, grade: int = 5, pupils: int = 4) -> JournalWorld:
    ids = await make_tenancy(world)
    school = ids["school_a"]
    start = today() - timedelta(days=200)
    year = AcademicYear(
        school=school, name="Год", starts_on=start, ends_on=start + timedelta(days=364)
    )
    await year.save()
    cls = SchoolClass(school=school, academic_year=year.id, grade=grade, letter="А")
    await cls.save()
    subject = Subject(school=school, name="Математика")
    await subject.save()
    pupil_ids = []
    for n in range(pupils):
        s = Student(school=school, last_name=f"Ученик{n}", first_name="Иван")
        await s.save()
        await Enrollment(
            student=s.id,
            school=school,
            school_class=cls.id,
            kind="admitted",
            date=start,
            order_number="1",
        ).save()
        pupil_ids.append(int(s.id))
    teacher = await sign_in(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, school))
    other = await sign_in(world, Grant(Role.TEACHER, ScopeKind.SCHOOL, school))
    coordinator = await sign_in(world, Grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, school))
    teacher_staff = await staff_record(
        school, "Смирнова", "Ольга", "Ивановна", user_id=teacher.user_id
    )
    await staff_record(school, "Петрова", "Ольга", "Ивановна", user_id=other.user_id)
    jw = JournalWorld(
        ids,
        teacher,
        other,
        coordinator,
        pupil_ids,
        int(cls.id),
        int(subject.id),
        teacher_staff,
        int(year.id),
    )
    jw.lessons["today"] = await lesson(school, cls.id, subject.id, teacher_staff, today())
    jw.lessons["old"] = await lesson(
        school, cls.id, subject.id, teacher_staff, today() - timedelta(days=30)
    )
    return jw


async def guardian_of(world: Backend, student_id: int) -> SignedIn:
    g = Guardian(last_name="Родитель", first_name="Анна")
    await g.save()
    await StudentGuardian(student=student_id, guardian=g.id).save()
    return await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, student_id))


async def close_period(jw: JournalWorld, around: date) -> int:
    period = StudyPeriod(
        academic_year=jw.year_id,
        kind="quarter",
        number=1,
        name="1 четверть",
        starts_on=around - timedelta(days=5),
        ends_on=around + timedelta(days=5),
        grades=[],
        closed_at=datetime.now(UTC),
    )
    await period.save()
    return int(period.id)


def attendance(
    op_id: str, student: int, status: str = "present", **kw: object
) -> dict[str, object]:
    return {"op_id": op_id, "kind": "attendance", "student_id": student, "status": status, **kw}


def mark(op_id: str, student: int, value: str, **kw: object) -> dict[str, object]:
    return {"op_id": op_id, "kind": "mark", "student_id": student, "value": value, **kw}
