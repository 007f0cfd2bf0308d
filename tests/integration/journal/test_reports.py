"""Reports: class performance (JSON, XLSX, PDF), quality, attendance, completeness, at risk."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from openpyxl import load_workbook

from backend.core.rights import Grant, Role, ScopeKind
from backend.journal.tables import Mark
from backend.journal.work_kinds import work_kinds_of
from tests.conftest import Backend
from tests.integration.journal.arrange import attendance, make_journal_world, mark, today
from tests.support import sign_in


def op() -> str:
    return uuid.uuid4().hex


async def sync(world: Backend, who: Any, lesson_id: int, ops: list[dict[str, Any]]) -> None:
    response = await world.client.post(
        f"/api/v1/journal/lessons/{lesson_id}/sync", json={"operations": ops}, headers=who.headers
    )
    assert response.status_code == 200, response.text


async def test_class_performance_in_json_xlsx_and_pdf(world: Backend) -> None:
    jw = await make_journal_world(world)
    p = jw.pupils
    await sync(world, jw.teacher, jw.lessons["today"], [
        mark(op(), p[0], "5"), mark(op(), p[0], "4", work_kind="test"),
        mark(op(), p[1], "2"), mark(op(), p[2], "3"), mark(op(), p[3], "5"),
        {"op_id": op(), "kind": "topic", "topic": "Дроби"},
    ])  # fmt: skip
    url = f"/api/v1/reports/classes/{jw.class_id}/performance"
    response = await world.client.get(url, headers=jw.coordinator.headers)
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["subjects"] == [{"id": jw.subject_id, "name": "Математика"}]
    first = next(x for x in data["pupils"] if x["id"] == p[0])
    assert first["cells"][0]["weighted_average"] == round((5 + 4 * 2) / 3, 2)
    summary = data["summary"][0]
    # Rounded results 4, 2, 3, 5: quality 2 of 4, success 3 of 4.
    assert summary["quality"] == 50.0 and summary["success"] == 75.0

    xlsx = await world.client.get(url + "?format=xlsx", headers=jw.coordinator.headers)
    assert xlsx.status_code == 200
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(xlsx.content))
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "Парта — электронный журнал и дневник"
    assert "Тестовый Пользователь" in sheet["A3"].value and "Сформировано" in sheet["A3"].value
    assert sheet._charts, "the sheet carries a chart"

    pdf = await world.client.get(url + "?format=pdf", headers=jw.coordinator.headers)
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF") and b"DejaVuSans" in pdf.content

    bad = await world.client.get(url + "?format=doc", headers=jw.coordinator.headers)
    assert bad.status_code == 400


async def test_officials_get_aggregates_but_not_pupils_names(world: Backend) -> None:
    jw = await make_journal_world(world)
    await sync(world, jw.teacher, jw.lessons["today"], [mark(op(), jw.pupils[0], "5")])
    official = await sign_in(
        world, Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, jw.ids["region"])
    )
    school = jw.ids["school_a"]
    quality = await world.client.get(
        f"/api/v1/reports/schools/{school}/quality", headers=official.headers
    )
    assert quality.status_code == 200, quality.text
    assert quality.json()["by_subject"][0]["quality"] == 100.0
    for url in (
        f"/api/v1/reports/classes/{jw.class_id}/performance",
        f"/api/v1/reports/schools/{school}/at-risk",
        f"/api/v1/reports/schools/{school}/attendance",
    ):
        assert (await world.client.get(url, headers=official.headers)).status_code == 404
    other = await sign_in(
        world, Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, jw.ids["other_region"])
    )
    refused = await world.client.get(
        f"/api/v1/reports/schools/{school}/quality", headers=other.headers
    )
    assert refused.status_code == 404


async def test_completeness_attendance_and_at_risk(world: Backend) -> None:
    jw = await make_journal_world(world)
    p = jw.pupils
    await sync(world, jw.teacher, jw.lessons["today"], [
        attendance(op(), p[0], "absent", reason="ОРВИ"), attendance(op(), p[1]),
        attendance(op(), p[2]), attendance(op(), p[3]), mark(op(), p[1], "2"),
    ])  # fmt: skip
    school = jw.ids["school_a"]
    headers = jw.coordinator.headers
    done = await world.client.get(f"/api/v1/reports/schools/{school}/completeness", headers=headers)
    assert done.status_code == 200, done.text
    body = done.json()
    # Today's lesson has the register but no topic; the old one (30 days ago) has neither.
    assert {x["lesson_id"] for x in body["without_topic"]} == set(jw.lessons.values())
    assert [x["lesson_id"] for x in body["without_attendance"]] == [jw.lessons["old"]]
    assert body["register_not_taken_today"] == []
    visits = await world.client.get(f"/api/v1/reports/schools/{school}/attendance", headers=headers)
    assert visits.json()["reasons"] == [{"status": "absent", "reason": "ОРВИ", "count": 1}]
    risk = await world.client.get(f"/api/v1/reports/schools/{school}/at-risk", headers=headers)
    names = {x["student_id"]: x for x in risk.json()["pupils"]}
    assert names[p[1]]["low_subjects"][0]["average"] == 2.0
    assert p[0] not in names  # one absence in one registered lesson is too few (decision 0353)
    xlsx = await world.client.get(
        f"/api/v1/reports/schools/{school}/performance?format=xlsx", headers=headers
    )
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames[:2] == ["Итоги", "5«А»"]


async def test_a_groups_marks_count_for_its_pupils_classes(world: Backend) -> None:
    """An English group's lesson has no class: its marks go to each pupil's own class, never
    to a row without a name."""
    from backend.schools.tables import Lesson, StudyGroup, StudyGroupMember

    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    group = StudyGroup(
        school=school, academic_year=jw.year_id, name="5А англ. 1", school_class=jw.class_id
    )
    await group.save()
    day = today() - timedelta(days=2)
    for pupil in jw.pupils[:2]:
        await StudyGroupMember(
            group=group.id, student=pupil, valid_from=day - timedelta(days=30)
        ).save()
    row = Lesson(
        school=school,
        date=day,
        lesson_number=3,
        study_group=group.id,
        subject=jw.subject_id,
        teacher=jw.teacher_staff,
    )
    await row.save()
    work = next(iter((await work_kinds_of(school)).values()))
    now = datetime.now(UTC)
    for pupil, value in zip(jw.pupils[:2], ("5", "3"), strict=True):
        await Mark(
            lesson=row.id,
            student=pupil,
            school=school,
            subject=jw.subject_id,
            lesson_date=day,
            work_kind=work.id,
            scale="five",
            value=value,
            points=float(value),
            created_at=now,
            updated_at=now,
        ).save()
    body = (
        await world.client.get(
            f"/api/v1/reports/schools/{school}/quality", headers=jw.coordinator.headers
        )
    ).json()
    assert [r["id"] for r in body["by_class"]] == [jw.class_id]
    assert body["by_class"][0]["name"] and body["by_class"][0]["quality"] == 50.0


async def test_completeness_counts_held_lessons_and_names_a_groups_class(world: Backend) -> None:
    from backend.schools.tables import Lesson, StudyGroup
    from tests.integration.journal.arrange import lesson

    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    tomorrow = await lesson(
        school, jw.class_id, jw.subject_id, jw.teacher_staff, today() + timedelta(days=1)
    )
    group = StudyGroup(
        school=school, academic_year=jw.year_id, name="Англ. 1 гр.", school_class=jw.class_id
    )
    await group.save()
    held = Lesson(
        school=school,
        date=today(),
        lesson_number=2,
        study_group=group.id,
        subject=jw.subject_id,
        teacher=jw.teacher_staff,
    )
    await held.save()
    done = await world.client.get(
        f"/api/v1/reports/schools/{school}/completeness", headers=jw.coordinator.headers
    )
    assert done.status_code == 200, done.text
    body = done.json()
    listed = {x["lesson_id"]: x for x in body["without_topic"]}
    assert tomorrow not in listed  # a lesson still to come is no gap
    assert body["lessons"] == len(jw.lessons) + 1  # the class's two and the group's one
    assert listed[held.id]["class"] == "5«А» Англ. 1 гр."


async def test_a_school_workbook_is_every_class_sheet_whole(world: Backend) -> None:
    """The school's performance workbook is built for all classes at once: each of its sheets
    is the class's own sheet, and the PDF names every pupil of every class (no row dropped)."""
    from pypdf import PdfReader

    from backend.audit.tables import AuditEntry
    from backend.schools.tables import Enrollment, SchoolClass, Student
    from tests.integration.journal.arrange import lesson

    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    other = SchoolClass(school=school, academic_year=jw.year_id, grade=6, letter="Б")
    await other.save()
    newcomers = []
    for n in range(45):
        s = Student(school=school, last_name=f"Новикова{n}", first_name="Мария")
        await s.save()
        await Enrollment(
            student=s.id,
            school=school,
            school_class=other.id,
            kind="admitted",
            date=today() - timedelta(days=100),
            order_number="2",
        ).save()
        newcomers.append(int(s.id))
    second = await lesson(school, int(other.id), jw.subject_id, jw.teacher_staff, today(), 2)
    await sync(world, jw.teacher, jw.lessons["today"], [mark(op(), jw.pupils[0], "5")])
    await sync(
        world, jw.teacher, second, [mark(op(), s, str(2 + n % 4)) for n, s in enumerate(newcomers)]
    )
    headers = jw.coordinator.headers
    url = f"/api/v1/reports/schools/{school}/performance"
    whole = await world.client.get(url, headers=headers)
    assert whole.status_code == 200, whole.text
    for sheet in whole.json()["classes"]:
        own = await world.client.get(
            f"/api/v1/reports/classes/{sheet['class_id']}/performance", headers=headers
        )
        assert {k: v for k, v in sheet.items() if k not in ("quality", "success")} == own.json()
    sixth = next(c for c in whole.json()["classes"] if c["class_id"] == other.id)
    assert len(sixth["pupils"]) == 45 and sixth["summary"][0]["pupils"] == 45
    before = await AuditEntry.count().where(AuditEntry.object_type == "report.class_performance")
    pdf = await world.client.get(url + "?format=pdf", headers=headers)
    assert pdf.status_code == 200
    # One audit entry per class sheet, as when each class is read alone.
    after = await AuditEntry.count().where(AuditEntry.object_type == "report.class_performance")
    assert after - before == 2
    # Charts are drawn as vectors, not as pictures (rendering those took most of the time).
    assert b"/Subtype /Image" not in pdf.content and b"/Subtype/Image" not in pdf.content
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for n in range(45):
        assert f"Новикова{n} Мария" in text, n
    for n in range(4):
        assert f"Ученик{n} Иван" in text, n
