"""The staff web's year pages through the real app: the study year (periods, holidays), classes
and groups, the curriculum with teachers' loads, the day's lessons with replacements and the
generation of lessons. Every form posts to the API's services: their Russian messages, CSRF,
and rights (a teacher reads, does not change; a guardian or pupil sees no staff page)."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx

from backend.core.rights import Role, ScopeKind
from backend.schools.tables import (
    CurriculumItem,
    Holiday,
    Lesson,
    SchoolClass,
    StudyGroup,
    StudyPeriod,
    TeachingAssignment,
    TimetableEntry,
)
from tests.conftest import Backend
from tests.integration.schools.test_timetable import timetable_world
from tests.integration.web.test_year_timetable import csrf, signed_in
from tests.support import grant, sign_in, staff_account

BASE = "/admin/web/timetable"


async def post(client: httpx.AsyncClient, path: str, school: int, **form: Any) -> httpx.Response:
    data = {"csrf": csrf(client), **form}
    return await client.post(f"{BASE}{path}?school={school}", data=data)


async def test_year_periods_and_holidays(world: Backend) -> None:
    sw, _ = await timetable_world(world)
    school, year = sw.school_id, sw.year_id
    page = f"{BASE}/year?school={school}"
    async with signed_in(world, sw.coordinator, page) as client:
        r = await client.get(page)
        assert (
            r.status_code == 200 and "Учебный год 2026/2027: с 01.09.2026 по 31.08.2027" in r.text
        )
        period = {"what": "period", "year_id": year, "kind": "quarter", "starts_on": "2026-09-01"}
        r = await post(
            client, "/year", school, **period, number=1, ends_on="2026-10-31", grades="1-11"
        )
        assert r.status_code == 303, r.text
        r = await client.get(r.headers["location"])
        assert "Период добавлен." in r.text and "01.09.2026 – 31.10.2026" in r.text
        # The API's field message; nothing written.
        r = await post(
            client, "/year", school, **period, number=7, ends_on="2026-10-31", grades="5"
        )
        assert r.status_code == 400
        assert "Значение поля «номер» должно быть не больше 4." in r.text
        r = await post(
            client, "/year", school, **period, number=2, ends_on="2026-10-31", grades="5,x"
        )
        assert r.status_code == 400 and "Поле «параллели» имеет неверный формат." in r.text
        assert await StudyPeriod.count() == 1

        holiday = {"what": "holiday", "year_id": year, "name": "Осенние каникулы"}
        r = await post(
            client, "/year", school, **holiday, starts_on="2026-10-26", ends_on="2026-11-03"
        )
        assert r.status_code == 303, r.text
        r = await client.get(r.headers["location"])
        assert "Осенние каникулы" in r.text and "26.10.2026 – 03.11.2026" in r.text
        r = await post(
            client, "/year", school, **holiday, starts_on="2027-10-26", ends_on="2027-11-03"
        )
        assert r.status_code == 400 and "2026/2027" in r.text
        r = await client.post(
            f"{BASE}/year?school={school}",
            data={**holiday, "starts_on": "2026-12-30", "ends_on": "2027-01-08"},
        )
        assert r.status_code == 403  # no CSRF field: refused before anything is looked at
        assert await Holiday.count() == 1
        (h,) = await Holiday.select(Holiday.id)
        r = await post(
            client, "/year", school, what="holiday_delete", year_id=year, holiday_id=h["id"]
        )
        assert r.status_code == 303 and await Holiday.count() == 0


async def test_classes_and_groups(world: Backend) -> None:
    sw, _ = await timetable_world(world)
    school, year = sw.school_id, sw.year_id
    page = f"{BASE}/classes?school={school}"
    async with signed_in(world, sw.coordinator, page) as client:
        r = await client.get(page)
        assert r.status_code == 200 and "5«Б»" in r.text and "5А английский 1" in r.text
        base = {"what": "class", "academic_year_id": year, "letter": "В", "shift": 1}
        r = await post(client, "/classes", school, **base, grade=12)
        assert r.status_code == 400
        assert "Значение поля «параллель» должно быть не больше 11." in r.text
        r = await post(client, "/classes", school, **base, grade=6)
        assert r.status_code == 303, r.text
        assert "Класс добавлен." in (await client.get(r.headers["location"])).text
        r = await post(client, "/classes", school, **base, grade=6)
        assert r.status_code == 409, r.text  # the same class twice: the service's message
        assert await SchoolClass.count().where(SchoolClass.grade == 6) == 1
        r = await post(
            client, "/classes", school, what="group", academic_year_id=year, name="Робототехника"
        )
        assert r.status_code == 303, r.text
        assert await StudyGroup.exists().where(StudyGroup.name == "Робототехника")
        r = await post(client, "/classes", school, what="group", academic_year_id=year, name="")
        assert r.status_code == 400 and "«название»" in r.text


async def test_curriculum_and_loads(world: Backend) -> None:
    sw, ids = await timetable_world(world, assign_all=False)
    school, year = sw.school_id, sw.year_id
    page = f"{BASE}/curriculum?school={school}&on=2026-09-07"
    async with signed_in(world, sw.coordinator, page) as client:
        for who in ("5А", "5Б"):
            r = await post(
                client,
                "/curriculum",
                school,
                what="item",
                academic_year_id=year,
                subject_id=ids["Математика"],
                who=f"c{ids[who]}",
                hours_per_week=20,
            )
            assert r.status_code == 303, r.text
            r = await post(
                client,
                "/curriculum",
                school,
                what="assignment",
                academic_year_id=year,
                teacher_id=sw.staff["ivanova"],
                subject_id=ids["Математика"],
                who=f"c{ids[who]}",
            )
            assert r.status_code == 303, r.text
        r = await post(
            client,
            "/curriculum",
            school,
            what="item",
            academic_year_id=year,
            subject_id=ids["Математика"],
            grade=9,
            hours_per_week=41,
        )
        assert r.status_code == 400
        assert "Значение поля «часов в неделю» должно быть не больше 40.0." in r.text
        assert await CurriculumItem.count() == 2 and await TeachingAssignment.count() == 2
        r = await client.get(page)
        assert r.status_code == 200
        row = r.text.split('<tr class="overload">', 1)[1].split("</tr>", 1)[0]
        assert "Иванова М. П." in row and "перегрузка" in row and "<td>40</td>" in row


async def test_day_generation_and_replacement(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    school, year = sw.school_id, sw.year_id
    await sw.ok(
        "POST",
        "/timetable",
        {
            "weekday": 1,
            "lesson_number": 1,
            "subject_id": ids["Математика"],
            "teacher_id": sw.staff["ivanova"],
            "school_class_id": ids["5А"],
            "valid_from": "2026-09-01",
            "valid_to": "2027-05-31",
        },
    )
    period = await sw.ok(
        "POST",
        f"/years/{year}/periods",
        {
            "kind": "quarter",
            "number": 1,
            "starts_on": "2026-09-01",
            "ends_on": "2026-10-31",
            "grades": [5, 9],
        },
    )
    page = f"{BASE}/day?school={school}&on=2026-09-07"
    async with signed_in(world, sw.coordinator, page) as client:
        r = await client.get(page)
        assert r.status_code == 200 and "Уроков в этот день нет" in r.text
        r = await post(
            client, "/day", school, what="generate", period_id=period["id"], on="2026-09-07"
        )
        assert r.status_code == 303, r.text
        r = await client.get(r.headers["location"])
        assert "сформированы: новых — 8" in r.text, r.text
        (lesson,) = await Lesson.select(Lesson.id, Lesson.version).where(
            Lesson.date == date(2026, 9, 7)
        )
        assert 'name="teacher_id"' not in r.text  # one row's form at a time, when asked
        r = await client.get(f"{page}&lesson={lesson['id']}")
        row = r.text.split(f'id="lesson-{lesson["id"]}"', 1)[1].split("</tr>", 1)[0]
        assert 'name="teacher_id"' in row and "Петров С. И." in row
        form = {"what": "replacement", "lesson_id": lesson["id"], "on": "2026-09-07"}
        r = await post(
            client, "/day", school, **form, version=lesson["version"], teacher_id=sw.staff["petrov"]
        )
        assert r.status_code == 303, r.text
        r = await client.get(r.headers["location"])
        assert "Замена сохранена." in r.text
        row = r.text.split(f'id="lesson-{lesson["id"]}"', 1)[1].split("</tr>", 1)[0]
        assert "Петров С. И." in row  # the replacement shown in its row
        # A stale version: the service's conflict, nothing overwritten.
        r = await post(
            client,
            "/day",
            school,
            **form,
            version=lesson["version"],
            teacher_id=sw.staff["sidorova"],
        )
        assert r.status_code == 409, r.text
        (after,) = await Lesson.select(Lesson.replacement_teacher).where(Lesson.id == lesson["id"])
        assert after["replacement_teacher"] == sw.staff["petrov"]


async def test_rights_on_the_year_pages(world: Backend) -> None:
    sw, _ = await timetable_world(world)
    school, year = sw.school_id, sw.year_id
    pages = [f"{BASE}/{p}?school={school}" for p in ("year", "classes", "curriculum", "day")]
    guardian = await sign_in(world, grant(Role.GUARDIAN, ScopeKind.STUDENT, 1))
    pupil = await sign_in(world, grant(Role.PUPIL, ScopeKind.STUDENT, 1))
    for who in (guardian, pupil):
        async with signed_in(world, who, pages[0]) as client:
            for url in pages:
                r = await client.get(url)
                assert r.status_code == 403 and "только сотрудникам школы" in r.text
                assert "2026/2027" not in r.text
            r = await post(
                client, "/classes", school, what="group", academic_year_id=year, name="Чужая"
            )
            assert r.status_code == 403
    teacher = await staff_account(world, Role.TEACHER, school)
    async with signed_in(world, teacher, pages[0]) as client:
        for url in pages:
            r = await client.get(url)
            assert r.status_code == 200, url  # a teacher reads
            assert 'name="csrf"' not in r.text.split("<main>", 1)[1]  # and has no forms
        r = await post(
            client, "/classes", school, what="group", academic_year_id=year, name="Чужая"
        )
        assert r.status_code == 403
        assert "Менять учебный год, классы и расписание может завуч" in r.text
    assert not await StudyGroup.exists().where(StudyGroup.name == "Чужая")
    assert await TimetableEntry.count() == 0
