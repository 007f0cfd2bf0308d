"""The staff web's people section (/admin/web/people) through the real app: signed in with the
admin's form; the class lists, a pupil's personal file (its read audited), the import's dry-run
report and its confirmation, the export; CSRF and rights as the API's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from backend.audit.tables import AuditEntry
from backend.core.rights import Role, ScopeKind
from backend.schools.tables import Student
from tests.conftest import Backend
from tests.integration.schools.import_files import as_csv, pupil_rows
from tests.integration.schools.people_world import School, add_pupil, make_school
from tests.support import TEST_PASSWORD, grant, make_user

PEOPLE = "/admin/web/people"


def browser(world: Backend) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=world.client._transport, base_url="http://parta.test")


@asynccontextmanager
async def signed_in(world: Backend, login: str) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(world) as client:
        await client.get("/admin/tasks/login")
        r = await client.post(
            "/admin/tasks/login",
            data={
                "identifier": login,
                "password": TEST_PASSWORD,
                "csrf": client.cookies.get("parta_admin_csrf"),
                "next": f"{PEOPLE}/",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == f"{PEOPLE}/", r.text
        yield client


def csrf(client: httpx.AsyncClient) -> str:
    token = client.cookies.get("parta_admin_csrf")
    assert token
    return token


async def secretary(world: Backend, school_id: int) -> str:
    _, login = await make_user(world, grant(Role.SECRETARY, ScopeKind.SCHOOL, school_id))
    return login


async def upload(
    client: httpx.AsyncClient, school_id: int, content: bytes, *, kind: str = "pupils", **extra: str
) -> httpx.Response:
    return await client.post(
        f"{PEOPLE}/import",
        data={"csrf": csrf(client), "school_id": str(school_id), "kind": kind, **extra},
        files={"file": ("pupils.csv", content, "text/csv")},
    )


def token_of(page: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


async def test_a_secretary_imports_after_reading_the_report(world: Backend) -> None:
    school = await make_school(world)
    login = await secretary(world, school.school_id)
    rows = pupil_rows(3, classes=("5А",))
    rows[1]["Класс"] = "5Я"  # no such class: the whole file is refused
    rows[2]["Дата рождения"] = "31.02.2015"
    async with signed_in(world, login) as client:
        # Her navigation: what she can open; no journal (she only reads, nothing is listed).
        home = await client.get("/admin/web/")
        assert f'href="{PEOPLE}"' in home.text and 'href="/admin/web/journal"' not in home.text
        form = await client.get(f"{PEOPLE}/import")
        assert form.status_code == 200 and 'type="file" name="file"' in form.text
        r = await upload(client, school.school_id, as_csv(rows))
        assert r.status_code == 400, r.text
        assert "Файл не импортирован: найдено ошибок — 2" in r.text
        assert "Класса «5Я» нет в учебном году 2026/2027" in r.text
        assert "<td>3</td><td>Класс</td>" in r.text and "<td>4</td><td>Дата рождения</td>" in r.text
        assert 'name="token"' not in r.text  # nothing to confirm
        assert await Student.count() == 0

        rows[1]["Класс"] = "5А"
        rows[2]["Дата рождения"] = "28.02.2015"
        r = await upload(client, school.school_id, as_csv(rows))
        assert r.status_code == 200, r.text
        assert "Ошибок нет. Строк с данными — 3: будет создано — 3" in r.text
        assert await Student.count() == 0  # the dry run wrote nothing
        token = token_of(r.text)

        # The confirmation without the CSRF token is refused, nothing written.
        r = await client.post(f"{PEOPLE}/import/confirm", data={"token": token})
        assert r.status_code == 403 and "Форма устарела" in r.text
        assert await Student.count() == 0

        r = await client.post(
            f"{PEOPLE}/import/confirm", data={"csrf": csrf(client), "token": token}
        )
        assert r.status_code == 200, r.text
        assert "Записано. Строк с данными — 3: создано — 3" in r.text
        assert await Student.count() == 3
        # The same token again: the file is gone, nothing imported twice.
        r = await client.post(
            f"{PEOPLE}/import/confirm", data={"csrf": csrf(client), "token": token}
        )
        assert r.status_code == 400 and "Загрузите файл снова" in r.text
        assert await Student.count() == 3

        # An export of the same pupils, then a corrected file: the report shows the diff.
        exported = await client.get(f"{PEOPLE}/export?kind=pupils&format=csv")
        assert exported.status_code == 200 and "Код в Парте" in exported.text
        lines = exported.text.lstrip("\ufeff").splitlines()
        header = lines[0].split(";")
        first = dict(zip(header, lines[1].split(";"), strict=True))
        first["Адрес проживания"] = "г. Казань, ул. Пушкина, д. 1"
        r = await upload(client, school.school_id, as_csv([first], header))
        assert r.status_code == 200, r.text
        assert "будет создано — 0, изменено — 1" in r.text
        assert "<td>Адрес проживания</td>" in r.text and "ул. Пушкина" in r.text
    imports = await AuditEntry.select(AuditEntry.action).where(AuditEntry.action == "import")
    assert len(imports) == 1


async def test_bad_import_forms_name_the_field(world: Backend) -> None:
    school = await make_school(world)
    login = await secretary(world, school.school_id)
    async with signed_in(world, login) as client:
        r = await client.post(
            f"{PEOPLE}/import",
            data={"csrf": csrf(client), "school_id": str(school.school_id), "kind": "pupils"},
        )
        assert r.status_code == 400 and "Не заполнено обязательное поле «файл»" in r.text
        r = await upload(client, school.school_id, b"x", kind="pets")
        assert r.status_code == 400 and "Недопустимое значение поля «что в файле»" in r.text
        r = await client.post(
            f"{PEOPLE}/import",
            data={"csrf": csrf(client), "school_id": "abc", "kind": "pupils"},
            files={"file": ("a.csv", b"x", "text/csv")},
        )
        assert r.status_code == 400 and "Поле «школа» имеет неверный формат" in r.text
        r = await client.get(f"{PEOPLE}/export?kind=pupils&format=pdf")
        assert r.status_code == 400 and "Недопустимое значение поля «формат»" in r.text
    assert await Student.count() == 0


async def test_another_schools_secretary_reaches_nothing(world: Backend) -> None:
    school = await make_school(world)
    other = await secretary(world, school.ids["school_b"])
    async with signed_in(world, other) as client:
        r = await upload(client, school.school_id, as_csv(pupil_rows(1, classes=("5А",))))
        assert r.status_code in (403, 404), r.text
        assert "Ошибок нет" not in r.text
        r = await client.get(f"{PEOPLE}/export?school_id={school.school_id}&kind=pupils")
        assert r.status_code in (403, 404)
    assert await Student.count() == 0


async def test_families_and_teachers_get_the_refusal(world: Backend) -> None:
    school: School = await make_school(world)
    pupil = await add_pupil(school.school_id, "Иванов", "Иван", school.classes["5А"])
    guardian = await add_guardian(pupil, "Иванова")
    _, parent = await make_user(world, grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil))
    _, teacher = await make_user(world, grant(Role.TEACHER, ScopeKind.SCHOOL, school.school_id))
    for login, text in ((parent, "открыто только сотрудникам"), (teacher, "Нет доступа")):
        async with browser(world) as client:
            await client.get("/admin/tasks/login")
            await client.post(
                "/admin/tasks/login",
                data={"identifier": login, "password": TEST_PASSWORD, "csrf": csrf(client)},
            )
            for path in (
                f"{PEOPLE}/",
                f"{PEOPLE}/import",
                f"{PEOPLE}/export?kind=pupils",
                f"{PEOPLE}/classes/{school.classes['5А']}",
                f"{PEOPLE}/pupils/{pupil}",
                f"{PEOPLE}/pupils/{pupil}/viewers",
                f"{PEOPLE}/guardians/{guardian}",
                f"{PEOPLE}/staff",
                f"{PEOPLE}/accounts",
                f"{PEOPLE}/audit",
            ):
                r = await client.get(path)
                assert r.status_code == 403 and text in r.text, (login, path, r.text)
                assert "Иванов" not in r.text
            r = await upload(client, school.school_id, as_csv(pupil_rows(1, classes=("5А",))))
            assert r.status_code == 403
    assert await Student.count() == 1


async def test_class_list_pupil_file_and_the_book_of_movement(world: Backend) -> None:
    school = await make_school(world)
    ivanov = await add_pupil(school.school_id, "Иванов", "Пётр", school.classes["5А"])
    await add_pupil(school.school_id, "Смирнова", "Анна", school.classes["5А"])
    login = await secretary(world, school.school_id)
    async with signed_in(world, login) as client:
        home = await client.get(f"{PEOPLE}/")
        assert home.status_code == 200 and "5«А»" in home.text and "обучающихся: 2" in home.text
        found = await client.get(f"{PEOPLE}/?q=петр иванов")
        assert f'href="{PEOPLE}/pupils/{ivanov}"' in found.text and "Смирнова" not in found.text
        roster = await client.get(f"{PEOPLE}/classes/{school.classes['5А']}")
        assert roster.status_code == 200 and "Класс 5«А»" in roster.text
        assert roster.text.index("Иванов Пётр") < roster.text.index("Смирнова Анна")
        before = await AuditEntry.count().where(AuditEntry.action == "read.personal_file")
        file = await client.get(f"{PEOPLE}/pupils/{ivanov}")
        assert file.status_code == 200 and "Личное дело: Иванов Пётр" in file.text
        assert "01.09.2026" in file.text  # the admission in the book of movement
        read = await AuditEntry.select(AuditEntry.object_type).where(
            (AuditEntry.action == "read.personal_file") & (AuditEntry.student_id == ivanov)
        )
        assert await AuditEntry.count().where(AuditEntry.action == "read.personal_file") > before
        assert {r["object_type"] for r in read} == {"student", "guardian_contacts"}

        token = csrf(client)
        url = f"{PEOPLE}/pupils/{ivanov}/movement"
        move = {"kind": "transferred", "date": "2026-11-02", "class_id": school.classes["5Б"]}
        r = await client.post(url, data={**move, "order_number": "44-у"})
        assert r.status_code == 403 and "Форма устарела" in r.text  # no CSRF token
        r = await client.post(url, data={**move, "csrf": token, "order_number": ""})
        assert r.status_code == 400 and "Укажите номер приказа" in r.text
        r = await client.post(
            url, data={**move, "csrf": token, "kind": "moved", "order_number": "1"}
        )
        assert r.status_code == 400 and "Недопустимое значение поля «вид записи»" in r.text
        r = await client.post(
            url, data={**move, "csrf": token, "date": "02.11", "order_number": "1"}
        )
        assert r.status_code == 400 and "Поле «дата» имеет неверный формат" in r.text
        r = await client.post(url, data={**move, "csrf": token, "order_number": "44-у"})
        assert r.status_code == 303 and r.headers["location"].endswith(f"/pupils/{ivanov}#movement")
        file = await client.get(f"{PEOPLE}/pupils/{ivanov}")
        assert "перевод" in file.text and "44-у" in file.text and "5«Б»" in file.text

        r = await client.post(
            f"{PEOPLE}/pupils/{ivanov}/consent", data={"csrf": token, "given_on": ""}
        )
        assert r.status_code == 400 and "Не заполнено обязательное поле «дата согласия»" in r.text
        r = await client.post(
            f"{PEOPLE}/pupils/{ivanov}/consent",
            data={"csrf": token, "given_on": "2026-09-01", "document_ref": "№ 7"},
        )
        assert r.status_code == 303
        file = await client.get(f"{PEOPLE}/pupils/{ivanov}")
        assert "Согласие на обработку ПДн</dt><dd>есть" in file.text
        staff = await client.get(f"{PEOPLE}/staff")
        assert staff.status_code == 200
        guardian = await add_guardian(ivanov, "Иванова")
        roster = await client.get(f"{PEOPLE}/classes/{school.classes['5Б']}")
        assert f'href="{PEOPLE}/guardians/{guardian}"' in roster.text
        page = await client.get(f"{PEOPLE}/guardians/{guardian}")
        assert page.status_code == 200 and "Родитель: Иванова Мария" in page.text
        assert f'href="{PEOPLE}/pupils/{ivanov}"' in page.text
        reads = await AuditEntry.count().where(
            (AuditEntry.action == "read.personal_file") & (AuditEntry.object_type == "guardian")
        )
        assert reads == 1
    history = await client_history(world, ivanov)
    assert history == ["admitted", "transferred"]


async def client_history(world: Backend, student_id: int) -> list[str]:
    from backend.schools.tables import Enrollment

    rows = await Enrollment.select(Enrollment.kind).where(Enrollment.student == student_id)
    return [r["kind"] for r in rows]


async def test_a_class_teacher_opens_only_their_class_files(world: Backend) -> None:
    school = await make_school(world)
    mine = await add_pupil(school.school_id, "Свой", "Ученик", school.classes["5А"])
    other = await add_pupil(school.school_id, "Чужой", "Ученик", school.classes["5Б"])
    _, login = await make_user(
        world,
        grant(Role.TEACHER, ScopeKind.SCHOOL, school.school_id),
        grant(Role.CLASS_TEACHER, ScopeKind.CLASS, school.classes["5А"]),
    )
    async with signed_in(world, login) as client:
        r = await client.get(f"{PEOPLE}/pupils/{mine}")
        assert r.status_code == 200 and "Личное дело: Свой Ученик" in r.text
        r = await client.get(f"{PEOPLE}/pupils/{other}")
        assert r.status_code == 404 and "Чужой" not in r.text
        # Another class's list is readable (names), but links no file the teacher cannot open.
        r = await client.get(f"{PEOPLE}/classes/{school.classes['5Б']}")
        assert r.status_code == 200 and "Чужой Ученик" in r.text
        assert f"/pupils/{other}" not in r.text
        r = await client.get(f"{PEOPLE}/classes/{school.classes['5А']}")
        assert f'href="{PEOPLE}/pupils/{mine}"' in r.text
        r = await client.get(f"{PEOPLE}/?q=чужой")
        assert "Чужой Ученик" in r.text and f"/pupils/{other}" not in r.text
        assert f'href="{PEOPLE}/classes/{school.classes["5Б"]}"' in r.text
        # No writing: the movement form is refused (the section's write permission).
        r = await client.post(
            f"{PEOPLE}/pupils/{mine}/movement",
            data={"csrf": csrf(client), "kind": "left", "date": "2026-11-02", "order_number": "1"},
        )
        assert r.status_code == 403
        r = await client.get(f"{PEOPLE}/import")
        assert r.status_code == 403
        # The school's lists are not offered, and asking for one reads as a refusal.
        r = await client.get(f"{PEOPLE}/")
        assert r.status_code == 200 and f"{PEOPLE}/export" not in r.text
        r = await client.get(f"{PEOPLE}/export?kind=pupils&format=xlsx")
        assert r.status_code == 403 and "Выгружать списки школы может" in r.text
    reads = await AuditEntry.select(AuditEntry.student_id).where(
        AuditEntry.action == "read.personal_file"
    )
    assert {r["student_id"] for r in reads} == {mine}


async def test_an_official_is_sent_to_the_audit_log(world: Backend) -> None:
    school = await make_school(world)
    _, official = await make_user(
        world, grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, school.ids["region"])
    )
    async with signed_in(world, official) as client:
        r = await client.get(f"{PEOPLE}/")
        assert r.status_code == 303 and r.headers["location"] == f"{PEOPLE}/audit"
        r = await client.get(f"{PEOPLE}/audit")
        assert r.status_code == 200 and "Журнал аудита" in r.text


async def test_school_b_secretary_sees_nothing_of_school_a(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Иванов", "Иван", school.classes["5А"])
    login = await secretary(world, school.ids["school_b"])
    async with signed_in(world, login) as client:
        for path in (
            f"{PEOPLE}/pupils/{pupil}",
            f"{PEOPLE}/classes/{school.classes['5А']}",
            f"{PEOPLE}/staff?school_id={school.school_id}",
            f"{PEOPLE}/?school_id={school.school_id}&q=Иванов",
        ):
            r = await client.get(path)
            assert r.status_code in (403, 404) and "Иванов" not in r.text, (path, r.text)
        r = await client.post(
            f"{PEOPLE}/pupils/{pupil}/movement",
            data={"csrf": csrf(client), "kind": "left", "date": "2026-11-02", "order_number": "1"},
        )
        assert r.status_code == 404
    assert await client_history(world, pupil) == ["admitted"]


async def test_the_audit_log_and_who_viewed_a_pupil(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Иванов", "Иван", school.classes["5А"])
    _, admin = await make_user(
        world, grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school.school_id), name="Завуч Анна"
    )
    _, other_admin = await make_user(
        world, grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school.ids["school_b"])
    )
    reader = await secretary(world, school.school_id)
    async with signed_in(world, reader) as client:
        assert (await client.get(f"{PEOPLE}/pupils/{pupil}")).status_code == 200
        r = await client.get(f"{PEOPLE}/audit")
        assert r.status_code == 403 and "Журнал аудита читают" in r.text
        r = await client.get(f"{PEOPLE}/pupils/{pupil}/viewers")
        assert r.status_code == 403
    async with signed_in(world, admin) as client:
        r = await client.get(f"{PEOPLE}/audit?action=read.personal_file")
        assert r.status_code == 200 and "просмотр личного дела" in r.text
        assert "Тестовый Пользователь" in r.text  # the secretary who read it
        r = await client.get(f"{PEOPLE}/pupils/{pupil}/viewers")
        assert r.status_code == 200 and "Кто смотрел данные: Иванов Иван" in r.text
        assert "Тестовый Пользователь" in r.text and "просмотр личного дела" in r.text
        r = await client.get(f"{PEOPLE}/audit?since=вчера")
        assert r.status_code == 400 and "Поле «с даты» имеет неверный формат" in r.text
        r = await client.get(f"{PEOPLE}/audit?offset=-1")
        assert r.status_code == 400 and "Поле «страница» имеет неверный формат" in r.text
    searches = await AuditEntry.count().where(AuditEntry.action == "read.audit")
    assert searches == 2  # the search and the "who viewed" page, each written once
    async with signed_in(world, other_admin) as client:
        r = await client.get(f"{PEOPLE}/pupils/{pupil}/viewers")
        assert r.status_code == 404 and "Иванов" not in r.text
        r = await client.get(f"{PEOPLE}/audit?school_id={school.school_id}")
        assert r.status_code == 200 and "Записей: 0" in r.text
        assert "просмотр личного дела</td>" not in r.text


async def add_guardian(student_id: int, last_name: str) -> int:
    from datetime import UTC, datetime

    from backend.schools.tables import Guardian, StudentGuardian

    row = Guardian(last_name=last_name, first_name="Мария", created_at=datetime.now(UTC))
    await row.save()
    await StudentGuardian(student=student_id, guardian=row.id).save()
    return int(row.id)


def pdf_text(content: bytes) -> str:
    import io

    from pypdf import PdfReader

    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


async def test_activation_codes_are_printed_as_slips(world: Backend) -> None:
    from backend.accounts.tables import ActivationCode

    school = await make_school(world)
    klass = school.classes["5А"]
    pupil = await add_pupil(school.school_id, "Иванов", "Пётр", klass)
    await add_guardian(pupil, "Иванова")
    login = await secretary(world, school.school_id)
    _, teacher = await make_user(world, grant(Role.TEACHER, ScopeKind.SCHOOL, school.school_id))
    url = f"{PEOPLE}/classes/{klass}/codes"
    async with signed_in(world, login) as client:
        page = await client.get(f"{PEOPLE}/classes/{klass}")
        assert f'action="{url}"' in page.text
        r = await client.post(url, data={"who": "guardians"})
        assert r.status_code == 403 and await ActivationCode.count() == 0
        r = await client.post(url, data={"csrf": csrf(client), "who": "everyone"})
        assert r.status_code == 400 and "Недопустимое значение поля «для кого»" in r.text
        r = await client.post(url, data={"csrf": csrf(client), "who": "guardians"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = pdf_text(r.content)
        assert "Иванова Мария" in text and "Обучающиеся: Иванов Пётр" in text
        assert "Код действует до" in text and "Как войти" in text
        assert await ActivationCode.count() == 1
        # Again: the unused code stands, nothing new is printed and the page says why.
        r = await client.post(url, data={"csrf": csrf(client), "who": "guardians"})
        assert r.status_code == 200 and "Новых кодов: 0" in r.text
        assert "Уже выдан неиспользованный код: 1" in r.text
        assert await ActivationCode.count() == 1
    other = await secretary(world, school.ids["school_b"])
    for who in (other, teacher):
        async with signed_in(world, who) as client:
            r = await client.post(url, data={"csrf": csrf(client), "who": "guardians"})
            assert r.status_code in (403, 404) and "Иванов" not in r.text
    assert await ActivationCode.count() == 1


async def test_accounts_roles_and_blocking_within_the_secretarys_rights(world: Backend) -> None:
    from backend.accounts.tables import RoleGrant, User

    school = await make_school(world)
    login = await secretary(world, school.school_id)
    teacher_id, teacher = await make_user(
        world, grant(Role.TEACHER, ScopeKind.SCHOOL, school.school_id), name="Учитель Ольга"
    )
    director_id, _ = await make_user(
        world, grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, school.school_id), name="Директор"
    )
    base = f"{PEOPLE}/accounts"
    sid = str(school.school_id)
    async with signed_in(world, login) as client:
        page = await client.get(base)
        assert page.status_code == 200 and "Учитель Ольга" in page.text and "Директор" in page.text
        token = csrf(client)
        give = f"{base}/{teacher_id}/grant"
        r = await client.post(give, data={"school_id": sid, "role": "class_teacher"})
        assert r.status_code == 403  # no CSRF token
        r = await client.post(give, data={"csrf": token, "school_id": sid, "role": "pilot"})
        assert r.status_code == 400 and "Недопустимое значение поля «роль»" in r.text
        r = await client.post(give, data={"csrf": token, "school_id": sid, "role": "class_teacher"})
        assert r.status_code == 400 and "Не заполнено обязательное поле «класс»" in r.text
        r = await client.post(give, data={"csrf": token, "school_id": sid, "role": "school_admin"})
        assert r.status_code == 403 and "Вы не можете выдавать или отзывать роль" in r.text
        r = await client.post(
            give,
            data={
                "csrf": token,
                "school_id": sid,
                "role": "class_teacher",
                "class_id": str(school.classes["5А"]),
            },
        )
        assert r.status_code == 303, r.text
        granted = await RoleGrant.select(RoleGrant.id).where(
            (RoleGrant.user == teacher_id) & (RoleGrant.role == "class_teacher")
        )
        assert len(granted) == 1
        page = await client.get(base)
        assert "Классный руководитель (5«А»)" in page.text
        r = await client.post(
            f"{base}/grants/{granted[0]['id']}/revoke", data={"csrf": token, "school_id": sid}
        )
        assert r.status_code == 303
        assert (
            await RoleGrant.count().where(
                (RoleGrant.id == granted[0]["id"]) & RoleGrant.revoked_at.is_null()
            )
            == 0
        )
        # Blocking: a teacher yes (and she can no longer sign in), the director no.
        r = await client.post(
            f"{base}/{director_id}/active", data={"csrf": token, "school_id": sid, "active": "0"}
        )
        assert r.status_code == 404
        r = await client.post(
            f"{base}/{teacher_id}/active", data={"csrf": token, "school_id": sid, "active": "x"}
        )
        assert r.status_code == 400 and "Недопустимое значение поля «состояние»" in r.text
        r = await client.post(
            f"{base}/{teacher_id}/active", data={"csrf": token, "school_id": sid, "active": "0"}
        )
        assert r.status_code == 303
    assert await User.count().where((User.id == teacher_id) & (User.is_active == False)) == 1  # noqa: E712
    assert await User.count().where((User.id == director_id) & (User.is_active == True)) == 1  # noqa: E712
    r = await world.client.post(
        "/api/v1/auth/login", json={"identifier": teacher, "password": TEST_PASSWORD}
    )
    assert r.status_code == 403 and "заблокирована" in r.text
    other = await secretary(world, school.ids["school_b"])
    async with signed_in(world, other) as client:
        page = await client.get(base)
        assert page.status_code == 200 and "Учитель Ольга" not in page.text
        r = await client.post(
            f"{base}/{teacher_id}/active",
            data={"csrf": csrf(client), "school_id": sid, "active": "1"},
        )
        assert r.status_code == 404
    assert await User.count().where((User.id == teacher_id) & (User.is_active == False)) == 1  # noqa: E712


async def test_the_office_corrects_a_personal_file_with_consent(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Иванов", "Иван", school.classes["5А"])
    login = await secretary(world, school.school_id)
    url = f"{PEOPLE}/pupils/{pupil}/file"
    fields = {"residence_address": "г. Казань, ул. Пушкина, д. 2", "snils": "", "birth_date": ""}
    async with signed_in(world, login) as client:
        page = await client.get(f"{PEOPLE}/pupils/{pupil}")
        assert f'action="{url}"' in page.text and 'name="residence_address"' in page.text
        r = await client.post(url, data=fields)
        assert r.status_code == 403  # no CSRF token
        token = csrf(client)
        r = await client.post(url, data={**fields, "csrf": token})
        assert r.status_code == 400 and "Нет согласия на обработку персональных данных" in r.text
        r = await client.post(
            f"{PEOPLE}/pupils/{pupil}/consent", data={"csrf": token, "given_on": "2026-09-01"}
        )
        assert r.status_code == 303
        r = await client.post(
            url, data={**fields, "csrf": token, "snils": "123", "birth_date": "32.01.2015"}
        )
        assert r.status_code == 400
        assert "СНИЛС «123» некорректен" in r.text and "Дата «32.01.2015» не распознана" in r.text
        assert (await Student.select(Student.residence_address))[0]["residence_address"] == ""
        r = await client.post(url, data={**fields, "csrf": token, "birth_date": "2015-01-31"})
        assert r.status_code == 303, r.text
        page = await client.get(f"{PEOPLE}/pupils/{pupil}")
        assert "ул. Пушкина, д. 2" in page.text and "31.01.2015" in page.text
    other = await secretary(world, school.ids["school_b"])
    async with signed_in(world, other) as client:
        r = await client.post(url, data={**fields, "csrf": csrf(client), "phone": "+79990001122"})
        assert r.status_code == 404
    row = await Student.select(Student.phone).where(Student.id == pupil).first()
    assert row is not None and row["phone"] is None
