"""Rights cases of the journal and the diary."""

from __future__ import annotations

from datetime import UTC, date, datetime

from backend.core.rights import Role
from backend.journal.tables import Attachment, Homework, Mark
from backend.journal.work_kinds import work_kinds_of
from backend.schools.tables import Lesson, Staff, Subject
from tests.conftest import Backend
from tests.integration.rights import Case, RightsWorld

STAFF_READERS = frozenset(
    {
        Role.SYSTEM_ADMIN,
        Role.SCHOOL_COORDINATOR,
        Role.SCHOOL_ADMIN,
        Role.SECRETARY,
        Role.TEACHER,
        Role.CLASS_TEACHER,
    }
)
# A lesson's journal with marks: its teacher, replacement, teachers and class teacher of the
# class, coordinators (decision 0352); not the school admin or the secretary.
LESSON_READERS = STAFF_READERS - {Role.SCHOOL_ADMIN, Role.SECRETARY}
# The lesson's teacher, its replacement (the class teacher) and coordinators.
WRITERS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.TEACHER, Role.CLASS_TEACHER})
# A class's final marks in a subject nobody teaches to it: the class teacher and coordinators.
FINAL_SHEET_OF_UNTAUGHT = frozenset(
    {Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.CLASS_TEACHER}
)
FAMILY_OF_A = frozenset({Role.GUARDIAN, Role.DELEGATE, Role.PUPIL})
DIARY_READERS = FAMILY_OF_A | {Role.CLASS_TEACHER, Role.SYSTEM_ADMIN}


async def SETUP(world: Backend, rw: RightsWorld) -> None:
    """A lesson of class A today (teacher: the teacher role; replacement: the class teacher),
    with a mark and homework with a file for student A. Rows are written directly: the people
    module's SETUP (which admits student A to class A) may run after this one."""
    ids = rw.ids
    school = ids["school_a"]
    now = datetime.now(UTC)
    subject = Subject(school=school, name="Журнал: русский язык")
    await subject.save()
    teacher = Staff(
        school=school, last_name="Учитель", first_name="А", user_id=rw.users[Role.TEACHER]
    )
    await teacher.save()
    replacement = Staff(
        school=school, last_name="Классный", first_name="Б", user_id=rw.users[Role.CLASS_TEACHER]
    )
    await replacement.save()
    lesson = Lesson(
        school=school,
        date=now.date(),
        lesson_number=1,
        school_class=ids["class_a"],
        subject=subject.id,
        teacher=teacher.id,
        replacement_teacher=replacement.id,
    )
    await lesson.save()
    kinds = await work_kinds_of(school)
    mark = await Mark.insert(
        Mark(
            lesson=lesson.id,
            student=ids["student_a"],
            school=school,
            subject=subject.id,
            lesson_date=now.date(),
            work_kind=kinds["answer"].id,
            weight=1,
            scale="five",
            value="5",
            points=5.0,
            created_at=now,
            updated_at=now,
        )
    ).returning(Mark.id)
    homework = await Homework.insert(
        Homework(
            lesson=lesson.id,
            school=school,
            subject=subject.id,
            lesson_date=now.date(),
            text="Упр. 1",
            created_at=now,
            updated_at=now,
        )
    ).returning(Homework.id)
    key = await world.app.state.storage.save(b"%PDF-1.4 test", suffix="pdf")
    attachment = await Attachment.insert(
        Attachment(
            school=school,
            storage_key=key,
            file_name="задание.pdf",
            content_type="application/pdf",
            size=13,
            homework=homework[0]["id"],
        )
    ).returning(Attachment.id)
    untaught = Subject(school=school, name="Журнал: история")  # nobody's lessons
    await untaught.save()
    ids.update(
        journal_untaught_subject=untaught.id,
        journal_lesson=lesson.id,
        journal_subject=subject.id,
        journal_mark=mark[0]["id"],
        journal_homework=homework[0]["id"],
        journal_attachment=attachment[0]["id"],
    )


def _sync_body(rw: RightsWorld) -> dict[str, object]:
    return {
        "operations": [
            {
                "op_id": f"matrix-{rw.unique()}",
                "kind": "attendance",
                "student_id": rw.ids["student_a"],
                "status": "present",
            },
        ]
    }


def _final_mark(rw: RightsWorld) -> dict[str, object]:
    return {
        "student_id": rw.ids["student_a"],
        "subject_id": rw.ids["journal_subject"],
        "kind": "year",
        "value": "5",
    }


J = "/api/v1/journal"
D = "/api/v1/diary/students/{student_id:int}"
DA = "/api/v1/diary/students/{student_a}"

CASES = [
    Case("GET", J + "/lessons/{lesson_id:int}", J + "/lessons/{journal_lesson}", LESSON_READERS),
    Case(
        "POST",
        J + "/lessons/{lesson_id:int}/sync",
        J + "/lessons/{journal_lesson}/sync",
        WRITERS,
        body=_sync_body,
    ),
    Case(
        "POST",
        J + "/lessons/{lesson_id:int}/attachments",
        J + "/lessons/{journal_lesson}/attachments",
        WRITERS | {Role.TEACHER},
        ok=(400, 415),
        note="the matrix sends JSON, so writers reach the body check; uploads are tested apart",
    ),
    Case(
        "GET",
        J + "/attachments/{attachment_id:int}",
        J + "/attachments/{journal_attachment}",
        STAFF_READERS | FAMILY_OF_A,
    ),
    Case(
        "GET",
        J + "/marks/{mark_id:int}/history",
        J + "/marks/{journal_mark}/history",
        LESSON_READERS | FAMILY_OF_A,
    ),
    Case(
        "GET",
        J + "/classes/{class_id:int}/final-marks",
        J + "/classes/{class_a}/final-marks?subject_id={journal_subject}&kind=year",
        LESSON_READERS,
        note="the subject's teacher of the class, the class teacher, coordinators (0355)",
    ),
    Case(
        "GET",
        J + "/classes/{class_id:int}/final-marks",
        J + "/classes/{class_a}/final-marks?subject_id={journal_untaught_subject}&kind=year",
        FINAL_SHEET_OF_UNTAUGHT,
        note="a teacher of the class in another subject is refused (decision 0355)",
    ),
    Case(
        "POST",
        J + "/classes/{class_id:int}/final-marks",
        J + "/classes/{class_a}/final-marks",
        WRITERS,
        body=_final_mark,
    ),
    Case(
        "GET",
        J + "/schools/{school_id:int}/marking",
        J + "/schools/{school_a}/marking",
        STAFF_READERS,
    ),
    Case("GET", D + "/week", DA + "/week", DIARY_READERS),
    Case("GET", D + "/marks", DA + "/marks", DIARY_READERS),
    Case("GET", D + "/news", DA + "/news", DIARY_READERS),
    Case("POST", D + "/seen", DA + "/seen", DIARY_READERS),
    Case(
        "POST",
        D + "/homework/{homework_id:int}/done",
        DA + "/homework/{journal_homework}/done",
        frozenset({Role.PUPIL}),
    ),
    Case(
        "POST",
        D + "/illness",
        DA + "/illness",
        frozenset({Role.GUARDIAN}),
        body=lambda rw: {"date_from": str(date.today()), "date_to": str(date.today())},
    ),
    Case("GET", D + "/illness", DA + "/illness", DIARY_READERS),
]

R = "/api/v1/reports"
NAMED_REPORTS = frozenset({Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR})
AGGREGATES = NAMED_REPORTS | {Role.REGIONAL_OFFICIAL, Role.MUNICIPAL_OFFICIAL}

CASES += [
    Case(
        "GET",
        R + "/classes/{class_id:int}/performance",
        R + "/classes/{class_a}/performance",
        NAMED_REPORTS | {Role.CLASS_TEACHER},
    ),
    Case(
        "GET",
        R + "/schools/{school_id:int}/performance",
        R + "/schools/{school_a}/performance",
        NAMED_REPORTS,
    ),
    Case(
        "GET",
        R + "/schools/{school_id:int}/attendance",
        R + "/schools/{school_a}/attendance",
        NAMED_REPORTS,
    ),
    Case(
        "GET",
        R + "/schools/{school_id:int}/at-risk",
        R + "/schools/{school_a}/at-risk",
        NAMED_REPORTS,
    ),
    Case(
        "GET", R + "/schools/{school_id:int}/quality", R + "/schools/{school_a}/quality", AGGREGATES
    ),
    Case(
        "GET",
        R + "/schools/{school_id:int}/completeness",
        R + "/schools/{school_a}/completeness",
        AGGREGATES,
    ),
]
