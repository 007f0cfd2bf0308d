"""The web admin's task pages: sign in with a form, then generate a period's lessons, print a
class's activation codes and import a file, all within the signed-in person's school."""

from __future__ import annotations

import re
from datetime import date

import httpx

from backend.accounts.tables import ActivationCode
from backend.audit.tables import AuditEntry
from backend.core.rights import Role, ScopeKind
from backend.schools.tables import Enrollment, Lesson, SchoolClass, Student, StudyPeriod
from tests.conftest import Backend
from tests.integration.schools.structure_world import school_world
from tests.support import TEST_PASSWORD, grant, make_user


def browser(world: Backend) -> httpx.AsyncClient:
    """A client of its own, so that cookies do not leak into other tests."""
    return httpx.AsyncClient(transport=world.client._transport, base_url="http://parta.test")


async def sign_in_form(client: httpx.AsyncClient, login: str, password: str) -> httpx.Response:
    form = await client.get("/admin/tasks/login")
    assert form.status_code == 200 and "Вход" in form.text
    csrf = client.cookies.get("parta_admin_csrf")
    assert csrf
    return await client.post(
        "/admin/tasks/login", data={"identifier": login, "password": password, "csrf": csrf}
    )


async def test_admin_tasks(world: Backend) -> None:
    sw = await school_world(world)
    klass = SchoolClass(school=sw.school_id, academic_year=sw.year_id, grade=5, letter="А")
    await klass.save()
    period = StudyPeriod(
        academic_year=sw.year_id,
        kind="quarter",
        number=1,
        name="1 четверть",
        starts_on=date(2026, 9, 1),
        ends_on=date(2026, 10, 24),
        grades=[5],
    )
    await period.save()
    subject = await sw.ok("POST", "/subjects", {"name": "Математика"})
    await sw.ok(
        "POST",
        "/assignments",
        {
            "academic_year_id": sw.year_id,
            "teacher_id": sw.staff["ivanova"],
            "subject_id": subject["id"],
            "school_class_id": klass.id,
        },
    )
    await sw.ok(
        "POST",
        "/timetable",
        {
            "weekday": 1,
            "lesson_number": 1,
            "school_class_id": klass.id,
            "subject_id": subject["id"],
            "teacher_id": sw.staff["ivanova"],
            "valid_from": "2026-09-01",
            "valid_to": "2027-05-31",
        },
    )
    for last in ("Алексеев", "Борисова"):
        pupil = Student(school=sw.school_id, last_name=last, first_name="Имя")
        await pupil.save()
        await Enrollment(
            student=pupil.id,
            school=sw.school_id,
            school_class=klass.id,
            kind="admitted",
            date=date(2026, 9, 1),
            order_number="1-у",
        ).save()
    _, login = await make_user(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.school_id)
    )

    async with browser(world) as client:
        r = await client.get("/admin/tasks")
        assert r.status_code == 303 and r.headers["location"] == "/admin/tasks/login"
        r = await client.post(
            "/admin/tasks/login", data={"identifier": login, "password": TEST_PASSWORD}
        )
        assert r.status_code == 403 and "Форма устарела" in r.text
        r = await sign_in_form(client, login, "wrong-password")
        assert r.status_code == 401 and "Неверный логин или пароль" in r.text
        r = await sign_in_form(client, login, TEST_PASSWORD)
        assert r.status_code == 303 and client.cookies.get("parta_admin")
        page = await client.get("/admin/tasks")
        assert page.status_code == 200
        assert "school_a" in page.text and "1 четверть" in page.text and "5«А»" in page.text
        csrf = client.cookies.get("parta_admin_csrf")

        # Without the form's token nothing happens.
        r = await client.post(
            "/admin/tasks/generate", data={"school_id": sw.school_id, "period_id": period.id}
        )
        assert r.status_code == 403 and await Lesson.count() == 0
        r = await client.post(
            "/admin/tasks/generate",
            data={"school_id": sw.school_id, "period_id": period.id, "csrf": csrf},
        )
        assert r.status_code == 200, r.text
        # Mondays 7 Sep .. 19 Oct 2026: seven lessons.
        assert await Lesson.count() == 7 and "новых — 7" in r.text

        r = await client.post(
            "/admin/tasks/codes", data={"class_id": klass.id, "who": "pupils", "csrf": csrf}
        )
        assert r.status_code == 200, r.text
        assert len(re.findall(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", r.text)) == 2
        assert "Алексеев" in r.text and await ActivationCode.count() == 2

        csv = "Класс;Смена\n6Б;1\n".encode()
        r = await client.post(
            "/admin/tasks/import",
            data={"school_id": str(sw.school_id), "kind": "classes", "csrf": csrf, "dry_run": "on"},
            files={"file": ("classes.csv", csv, "text/csv")},
        )
        assert r.status_code == 200, r.text
        assert "ошибок нет" in r.text and "будет создано — 1" in r.text
        assert not await SchoolClass.exists().where(SchoolClass.letter == "Б")
        r = await client.post(
            "/admin/tasks/import",
            data={"school_id": str(sw.school_id), "kind": "classes", "csrf": csrf},
            files={"file": ("classes.csv", csv, "text/csv")},
        )
        assert r.status_code == 200 and "Файл загружен" in r.text, r.text
        assert await SchoolClass.exists().where(SchoolClass.letter == "Б")
        bad = "Класс;Смена\n99Я;1\n".encode()
        r = await client.post(
            "/admin/tasks/import",
            data={"school_id": str(sw.school_id), "kind": "classes", "csrf": csrf},
            files={"file": ("classes.csv", bad, "text/csv")},
        )
        assert r.status_code == 400 and "<table>" in r.text

        r = await client.post("/admin/tasks/logout", data={"csrf": csrf})
        assert r.status_code == 303
        assert (await client.get("/admin/tasks")).status_code == 303

    # Another school's coordinator can sign in, but not act on school A (404).
    _, other = await make_user(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.ids["school_b"])
    )
    async with browser(world) as client:
        assert (await sign_in_form(client, other, TEST_PASSWORD)).status_code == 303
        page = await client.get("/admin/tasks")
        assert "school_b" in page.text and "school_a" not in page.text
        csrf = client.cookies.get("parta_admin_csrf")
        r = await client.post(
            "/admin/tasks/generate",
            data={"school_id": sw.school_id, "period_id": period.id, "csrf": csrf},
        )
        assert r.status_code == 404
        r = await client.post(
            "/admin/tasks/codes", data={"class_id": klass.id, "who": "pupils", "csrf": csrf}
        )
        assert r.status_code == 404
    # A teacher has no tasks here.
    _, teacher = await make_user(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    async with browser(world) as client:
        assert (await sign_in_form(client, teacher, TEST_PASSWORD)).status_code == 303
        assert (await client.get("/admin/tasks")).status_code == 403


async def test_piccolo_admin_is_read_only_for_system_administrators(world: Backend) -> None:
    sw = await school_world(world)
    _, admin = await make_user(world, grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    async with browser(world) as client:
        # Nothing of piccolo_admin's data without a session.
        assert (await client.get("/admin/db/api/tables/")).status_code in (401, 403)
        assert (await sign_in_form(client, admin, TEST_PASSWORD)).status_code == 303
        page = await client.get("/admin/tasks")
        assert "Таблицы структуры" in page.text
        csrf = client.cookies.get("parta_admin_csrf")
        r = await client.post("/admin/tasks/tables", data={"csrf": csrf})
        assert r.status_code == 303 and r.headers["location"] == "/admin/db/"
        assert client.cookies.get("id", path="/admin/db")
        tables = await client.get("/admin/db/api/tables/")
        assert tables.status_code == 200, tables.text
        assert "school_class" in tables.json() and "lesson" in tables.json()
        # Personal data is not browsable.
        assert not {"student", "guardian", "staff", "consent", "account_user"} & set(tables.json())
        schools = await client.get("/admin/db/api/tables/school/")
        assert schools.status_code == 200
        assert {row["short_name"] for row in schools.json()["rows"]} >= {"school_a"}
        assert (await client.get("/admin/db/api/tables/student/")).status_code == 404
        # Read-only: piccolo_admin refuses writes.
        r = await client.post(
            "/admin/db/api/tables/room/",
            json={"school": sw.school_id, "name": "999"},
            headers={"X-CSRFToken": client.cookies.get("csrftoken") or ""},
        )
        assert r.status_code in (403, 405), r.text
    assert await AuditEntry.exists().where(AuditEntry.action == "admin.open_tables")
    # A school coordinator cannot open it.
    _, coordinator = await make_user(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.school_id)
    )
    async with browser(world) as client:
        assert (await sign_in_form(client, coordinator, TEST_PASSWORD)).status_code == 303
        page = await client.get("/admin/tasks")
        assert "Таблицы структуры" not in page.text
        csrf = client.cookies.get("parta_admin_csrf")
        r = await client.post("/admin/tasks/tables", data={"csrf": csrf})
        assert r.status_code == 403 and not client.cookies.get("id", path="/admin/db")
