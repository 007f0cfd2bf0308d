"""The web admin's task pages: sign in with a form, then generate a period's lessons, print a
class's activation codes and import a file, all within the signed-in person's school."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import httpx
from piccolo_api.session_auth.tables import SessionsBase

from backend.accounts.tables import ActivationCode, RoleGrant, User
from backend.admin.piccolo import SCHOOL_TABLES
from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import (
    AcademicYear,
    BellSchedule,
    CurriculumItem,
    Enrollment,
    Holiday,
    Lesson,
    LessonPlan,
    Room,
    SchoolClass,
    Staff,
    Student,
    StudyGroup,
    StudyPeriod,
    Subject,
    TeachingAssignment,
    TimetableEntry,
)
from tests.conftest import Backend
from tests.integration.schools.structure_world import school_world
from tests.support import TEST_PASSWORD, grant, make_user, sign_in


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
        # The form again, above it the reason, the login kept: no dead-end error page.
        assert 'action="/admin/tasks/login"' in r.text and f'value="{login}"' in r.text
        assert "К задачам" not in r.text
        r = await sign_in_form(client, login, TEST_PASSWORD)
        assert r.status_code == 303 and client.cookies.get("parta_admin")
        page = await client.get("/admin/tasks")
        assert page.status_code == 200
        assert "school_a" in page.text and "1 четверть" in page.text and "5«А»" in page.text
        # A coordinator keeps the structure, not people's files: only classes are offered.
        kinds = page.text.split('<select name="kind">', 1)[1].split("</select>", 1)[0]
        assert kinds == '<option value="classes">классы</option>'
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
        refused = await client.get("/admin/tasks")
        assert refused.status_code == 403 and 'action="/admin/tasks/logout"' in refused.text
        out = await client.post(
            "/admin/tasks/logout", data={"csrf": client.cookies.get("parta_admin_csrf")}
        )
        assert out.status_code == 303, out.text
        again = await client.get("/admin/tasks")
        assert again.status_code == 303 and again.headers["location"] == "/admin/tasks/login"


async def fill_school(school_id: int, year_id: int, tag: str) -> dict[str, int]:
    """One row of every school table for `school_id`, placed there directly or by its year."""
    ids: dict[str, int] = {"school": school_id, "academic_year": year_id}
    teacher = Staff(school=school_id, last_name=f"Учитель {tag}", first_name="Имя")
    await teacher.save()
    rows: list[tuple[str, Any]] = []
    klass = SchoolClass(school=school_id, academic_year=year_id, grade=7, letter=tag)
    await klass.save()
    subject = Subject(school=school_id, name=f"Предмет {tag}")
    await subject.save()
    room = Room(school=school_id, name=f"Кабинет {tag}")
    await room.save()
    group = StudyGroup(school=school_id, academic_year=year_id, name=f"Группа {tag}")
    await group.save()
    rows += [("school_class", klass), ("subject", subject), ("room", room), ("study_group", group)]
    rows += [
        (
            "study_period",
            StudyPeriod(
                academic_year=year_id,
                kind="quarter",
                number=1,
                name=f"1 четверть {tag}",
                starts_on=date(2026, 9, 1),
                ends_on=date(2026, 10, 24),
                grades=[7],
            ),
        ),
        (
            "holiday",
            Holiday(
                academic_year=year_id,
                name=f"Каникулы {tag}",
                starts_on=date(2026, 10, 26),
                ends_on=date(2026, 11, 3),
            ),
        ),
        (
            "curriculum_item",
            CurriculumItem(
                academic_year=year_id,
                school_class=klass.id,
                subject=subject.id,
                hours_per_week=Decimal("2.0"),
            ),
        ),
        (
            "teaching_assignment",
            TeachingAssignment(
                academic_year=year_id, teacher=teacher.id, subject=subject.id, school_class=klass.id
            ),
        ),
        (
            "bell_schedule",
            BellSchedule(
                school=school_id, lesson_number=1, starts_at=time(8, 30), ends_at=time(9, 15)
            ),
        ),
        (
            "timetable_entry",
            TimetableEntry(
                school=school_id,
                weekday=1,
                lesson_number=1,
                school_class=klass.id,
                subject=subject.id,
                teacher=teacher.id,
                valid_from=date(2026, 9, 1),
                valid_to=date(2027, 5, 31),
            ),
        ),
        (
            "lesson_plan",
            LessonPlan(
                academic_year=year_id,
                subject=subject.id,
                school_class=klass.id,
                number=1,
                topic=f"Тема {tag}",
            ),
        ),
        (
            "lesson",
            Lesson(
                school=school_id,
                date=date(2026, 9, 7),
                lesson_number=1,
                school_class=klass.id,
                subject=subject.id,
                teacher=teacher.id,
            ),
        ),
    ]
    for name, row in rows:
        if not row._exists_in_db:
            await row.save()
        ids[name] = int(row.id)
    return ids


async def open_tables(client: httpx.AsyncClient, login: str) -> httpx.Response:
    assert (await sign_in_form(client, login, TEST_PASSWORD)).status_code == 303
    csrf = client.cookies.get("parta_admin_csrf")
    return await client.post("/admin/tasks/tables", data={"csrf": csrf})


async def two_schools(world: Backend) -> tuple[Any, dict[str, int], dict[str, int]]:
    sw = await school_world(world)
    year_b = AcademicYear(
        school=sw.ids["school_b"],
        name="2026/2027",
        starts_on=date(2026, 9, 1),
        ends_on=date(2027, 8, 31),
    )
    await year_b.save()
    a = await fill_school(sw.school_id, sw.year_id, "А")
    b = await fill_school(sw.ids["school_b"], int(year_b.id), "Б")
    return sw, a, b


async def test_piccolo_admin_for_system_administrators_shows_every_school(world: Backend) -> None:
    sw, a, b = await two_schools(world)
    _, admin = await make_user(world, grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    async with browser(world) as client:
        # Nothing of piccolo_admin's data without a session.
        assert (await client.get("/admin/db/api/tables/")).status_code == 401
        assert (await client.get("/admin/db/api/tables/school/")).status_code == 401
        r = await open_tables(client, admin)
        assert r.status_code == 303 and r.headers["location"] == "/admin/db/"
        assert client.cookies.get("id", path="/admin/db")
        assert (await client.get("/admin/db/")).status_code == 200  # the page itself
        tables = await client.get("/admin/db/api/tables/")
        assert tables.status_code == 200, tables.text
        assert {"school_class", "lesson", "region", "municipality"} <= set(tables.json())
        # Personal data is not browsable.
        assert not {"student", "guardian", "staff", "consent", "account_user"} & set(tables.json())
        assert (await client.get("/admin/db/api/tables/student/")).status_code == 404
        schools = await client.get("/admin/db/api/tables/school/")
        assert {row["id"] for row in schools.json()["rows"]} >= {a["school"], b["school"]}
        classes = await client.get("/admin/db/api/tables/school_class/")
        assert {r["id"] for r in classes.json()["rows"]} == {a["school_class"], b["school_class"]}
        one = await client.get(f"/admin/db/api/tables/lesson/{b['lesson']}/")
        assert one.status_code == 200 and one.json()["school"] == b["school"]
        # Read-only: writes are refused before piccolo_admin sees them.
        r = await client.post(
            "/admin/db/api/tables/room/",
            json={"school": sw.school_id, "name": "999"},
            headers={"X-CSRFToken": client.cookies.get("csrftoken") or ""},
        )
        assert r.status_code == 403 and "только для чтения" in r.json()["detail"], r.text
        assert not await Room.exists().where(Room.name == "999")
    entry = await AuditEntry.select().where(AuditEntry.action == "admin.open_tables").first()
    assert entry is not None


async def test_piccolo_admin_confines_school_staff_to_their_school(world: Backend) -> None:
    sw, a, b = await two_schools(world)
    _, coordinator = await make_user(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.school_id)
    )
    async with browser(world) as client:
        assert (await sign_in_form(client, coordinator, TEST_PASSWORD)).status_code == 303
        assert "Таблицы структуры" in (await client.get("/admin/tasks")).text
        r = await client.post(
            "/admin/tasks/tables", data={"csrf": client.cookies.get("parta_admin_csrf")}
        )
        assert r.status_code == 303 and client.cookies.get("id", path="/admin/db")
        audit = (
            await AuditEntry.select(AuditEntry.details)
            .where(AuditEntry.action == "admin.open_tables")
            .output(load_json=True)
            .first()
        )
        assert audit is not None and audit["details"] == {"schools": [a["school"]]}

        async def get(path: str, **params: Any) -> httpx.Response:
            return await client.get(f"/admin/db/api/tables/{path}", params=params)

        # Tables above schools are hidden; personal data stays out.
        names = set((await client.get("/admin/db/api/tables/")).json())
        assert {"school", "school_class", "lesson", "study_period"} <= names
        assert not {"region", "municipality", "student", "staff"} & names
        grouped = (await client.get("/admin/db/api/tables/grouped/")).json()
        assert "region" not in str(grouped) and "school_class" in str(grouped)
        assert (await client.get("/admin/db/api/user/")).status_code == 200
        for hidden in ("region/", "region/count/", "region/ids/", "municipality/1/", "student/"):
            assert (await get(hidden)).status_code == 404, hidden
        assert (await get("school_class/schema/")).status_code == 200

        # Every table, every endpoint: school A's rows only.
        for table in SCHOOL_TABLES:
            name = table._meta.tablename
            rows = (await get(f"{name}/", __page_size=100)).json()["rows"]
            assert {r["id"] for r in rows} == {a[name]}, name
            assert (await get(f"{name}/count/")).json()["count"] == 1, name
            assert set((await get(f"{name}/ids/")).json()) == {str(a[name])}, name
            assert (await get(f"{name}/{a[name]}/")).status_code == 200, name
            assert (await get(f"{name}/{b[name]}/")).status_code == 404, name
            assert (await get(f"{name}/{b[name]}/", __readable="true")).status_code == 404

        # The client's own filters on the scoping column are dropped, in every form.
        b_id = str(b["school"])
        for params in (
            {"school": b_id},
            {"school[]": b_id},
            {"school": b_id, "school__operator": "ne"},
            {"school": "null", "school__operator": "not_null"},
            {"school__operator": "is_null"},
            {"school": b_id, "school__match": "exact"},
        ):
            for path in ("school_class/", "lesson/"):
                rows = (await get(path, **params)).json()["rows"]
                assert {r["school"] for r in rows} == {a["school"]}, (path, params)
            assert (await get("lesson/count/", **params)).json()["count"] == 1, params
        # Filters on other columns only narrow what is already confined.
        r = await get("school_class/", id=str(b["school_class"]))
        assert r.status_code == 200 and r.json()["rows"] == []
        assert (await get("study_period/", academic_year=str(b["academic_year"]))).json()[
            "rows"
        ] == []
        assert (await get("lesson/count/", id=str(b["lesson"]))).json()["count"] == 0
        # The schools table is confined on its id.
        for params in (
            {},
            {"id": b_id},
            {"id": "0", "id__operator": "gte"},
            {"id[]": b_id},
            {"id": b_id, "id__operator": "e"},
        ):
            rows = (await get("school/", **params)).json()["rows"]
            assert [r["id"] for r in rows] == [a["school"]], params
            assert (await get("school/count/", **params)).json()["count"] == 1, params
        assert (await get(f"school/{b['school']}/")).status_code == 404
        assert (await get(f"school/{a['school']}/")).json()["short_name"] == "school_a"
        # ids: search and paging stay inside the school.
        assert str(b["school"]) not in (await get("school/ids/", search=str(b["school"]))).json()
        assert (await get("school/ids/", search=str(a["school"]))).json() == {
            str(a["school"]): str(a["school"])
        }
        assert (await get("lesson/ids/", limit="1", offset="0")).json() == {
            str(a["lesson"]): str(a["lesson"])
        }
        assert (await get("lesson/ids/", limit="5", offset="1")).json() == {}
        for table in ("lesson", "study_period"):  # direct and through the year
            found = (await get(f"{table}/ids/", search=str(b[table]), limit="10")).json()
            assert str(b[table]) not in found and all(int(k) == a[table] for k in found)
            found = (await get(f"{table}/ids/", search=str(a[table]))).json()
            assert str(a[table]) in found
        assert (await get("lesson/ids/", limit="x")).status_code == 400
        # No joins into other tables, no whole-table totals in headers.
        assert (await get("lesson/", __visible_fields="school.full_name")).status_code == 400
        assert (await get("lesson/", __order="school.short_name")).status_code == 400
        r = await get("lesson/", __range_header="true")
        assert r.status_code == 200 and "content-range" not in r.headers
        # Nothing else gets through: other endpoints, writes, password sign-in.
        for path in ("lesson/new/", "lesson/references/x/", "lesson/-1/", "lesson/1x/"):
            assert (await get(path)).status_code == 404, path
        # (Litestar adds the missing slash of a mounted path: still the confined list.)
        assert [r["id"] for r in (await get("lesson")).json()["rows"]] == [a["lesson"]]
        assert (await client.get("/admin/db/api/openapi.json")).status_code == 404
        assert (await client.get("/admin/db/api/docs/")).status_code == 404
        csrf = {"X-CSRFToken": client.cookies.get("csrftoken") or ""}
        for method, path in (
            ("POST", "room/"),
            ("PATCH", f"room/{a['room']}/"),
            ("PUT", f"room/{a['room']}/"),
            ("DELETE", f"room/{a['room']}/"),
            ("DELETE", "room/"),
        ):
            r = await client.request(
                method, f"/admin/db/api/tables/{path}", json={"name": "X"}, headers=csrf
            )
            assert r.status_code == 403, (method, path, r.text)
        r = await client.post("/admin/db/api/change-password/", json={}, headers=csrf)
        assert r.status_code == 403
        r = await client.post(
            "/admin/db/public/login/", json={"username": f"parta-{1}", "password": "x"}
        )
        assert r.status_code == 403
        assert await Room.count().where(Room.name == "X") == 0
        assert await Room.exists().where(Room.id == a["room"])


async def test_piccolo_admin_for_staff_of_two_schools(world: Backend) -> None:
    sw, a, b = await two_schools(world)
    _, both = await make_user(
        world,
        grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.school_id),
        grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, sw.ids["school_b"]),
        grant(Role.TEACHER, ScopeKind.SCHOOL, sw.ids["school_c"]),  # no structure.manage there
    )
    async with browser(world) as client:
        assert (await open_tables(client, both)).status_code == 303
        schools = (await client.get("/admin/db/api/tables/school/")).json()["rows"]
        assert {r["id"] for r in schools} == {a["school"], b["school"]}
        for name in ("lesson", "study_period"):
            rows = (await client.get(f"/admin/db/api/tables/{name}/")).json()["rows"]
            assert {r["id"] for r in rows} == {a[name], b[name]}, name
        r = await client.get(f"/admin/db/api/tables/school/{sw.ids['school_c']}/")
        assert r.status_code == 404


async def test_piccolo_admin_follows_grants_at_once(world: Backend) -> None:
    sw, a, _ = await two_schools(world)
    admin = await sign_in(world, grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    coordinator_id, coordinator = await make_user(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.school_id)
    )
    # A teacher (no structure.manage) cannot open the browser.
    _, teacher = await make_user(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    async with browser(world) as client:
        r = await open_tables(client, teacher)
        assert r.status_code == 403 and not client.cookies.get("id", path="/admin/db")

    async with browser(world) as client:
        assert (await open_tables(client, coordinator)).status_code == 303
        assert (await client.get("/admin/db/api/tables/lesson/count/")).json()["count"] == 1
        # The grant is revoked: the next request is refused, the piccolo session notwithstanding.
        grant_id = await RoleGrant.select(RoleGrant.id).where(RoleGrant.user == coordinator_id)
        r = await world.client.post(
            f"/api/v1/accounts/grants/{grant_id[0]['id']}/revoke", headers=admin.headers
        )
        assert r.status_code == 204, r.text
        r = await client.get("/admin/db/api/tables/lesson/count/")
        assert r.status_code == 403 and "структуру школы" in r.json()["detail"]
        assert (await client.get(f"/admin/db/api/tables/lesson/{a['lesson']}/")).status_code == 403

    # A grant that has run out counts no more than a revoked one.
    until = datetime.now(UTC) + timedelta(hours=1)
    other_id, other = await make_user(
        world,
        Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, sw.school_id, valid_until=until),
    )
    async with browser(world) as client:
        assert (await open_tables(client, other)).status_code == 303
        assert (await client.get("/admin/db/api/tables/school/count/")).json()["count"] == 1
        await RoleGrant.update(
            {RoleGrant.valid_until: datetime.now(UTC) - timedelta(seconds=1)}
        ).where(RoleGrant.user == other_id)
        assert (await client.get("/admin/db/api/tables/school/count/")).status_code == 403
        # A disabled account likewise (grants restored to show it is the account that counts).
        await RoleGrant.update({RoleGrant.valid_until: until}).where(RoleGrant.user == other_id)
        assert (await client.get("/admin/db/api/tables/school/count/")).status_code == 200
        await User.update({User.is_active: False}).where(User.id == other_id)
        assert (await client.get("/admin/db/api/tables/school/count/")).status_code == 401

    # Signing out of /admin/tasks ends the table browser's session too.
    async with browser(world) as client:
        _, third = await make_user(
            world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.school_id)
        )
        assert (await open_tables(client, third)).status_code == 303
        token = client.cookies.get("id", path="/admin/db")
        assert (await client.get("/admin/db/api/tables/school/count/")).status_code == 200
        csrf = client.cookies.get("parta_admin_csrf")
        assert (await client.post("/admin/tasks/logout", data={"csrf": csrf})).status_code == 303
        assert not await SessionsBase.exists().where(SessionsBase.token == token)
        assert not client.cookies.get("id", path="/admin/db")  # the browser forgot it
    async with browser(world) as client:  # and a copy kept elsewhere opens nothing
        client.cookies.set("id", token or "", path="/admin/db")
        assert (await client.get("/admin/db/api/tables/school/count/")).status_code == 401


async def test_the_admin_address_leads_to_the_start_page(world: Backend) -> None:
    for path in ("/admin", "/admin/"):
        response = await world.client.get(path)
        assert response.status_code == 303, (path, response.text)
        assert response.headers["location"] == "/admin/tasks"
    start = await world.client.get("/admin/tasks")
    assert start.status_code == 303
    assert start.headers["location"] == "/admin/tasks/login"
