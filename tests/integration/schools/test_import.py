"""Import and export: a file imports wholly or not at all, the report lists every bad line with
its column and a Russian reason, duplicates are caught, and an export imports back the same."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import httpx

from backend.accounts.tables import RoleGrant
from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.people import imports
from backend.schools.people import services as people
from backend.schools.tables import (
    Consent,
    Enrollment,
    Guardian,
    SchoolClass,
    Staff,
    Student,
    StudentGuardian,
)
from tests.conftest import Backend
from tests.integration.schools.import_files import as_csv, as_xlsx, headers, pupil_rows, snils
from tests.integration.schools.people_world import make_school
from tests.support import make_user, sign_in, staff_account

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _upload(
    client: httpx.AsyncClient,
    school_id: int,
    kind: str,
    content: bytes,
    headers: dict[str, str],
    name: str = "list.csv",
    query: str = "",
) -> httpx.Response:
    mime = XLSX if name.endswith(".xlsx") else CSV
    return await client.post(
        f"/api/v1/schools/{school_id}/imports/{kind}{query}",
        files={"data": (name, content, mime)},
        headers=headers,
    )


async def test_a_file_with_bad_lines_imports_nothing(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    rows = pupil_rows(200)
    # Data line k is file line k + 1 (the header is line 1).
    rows[135]["СНИЛС"] = "112-233-445 96"  # line 137: wrong control number
    rows[148] = dict(rows[10])  # line 150: repeats line 12
    rows[178]["Класс"] = "7Я"  # line 180: no such class
    rows[189]["Дата рождения"] = "31.02.2015"  # line 191: no such date
    rows[194]["Дата согласия на обработку ПДн"] = ""  # line 196: personal data without consent
    r = await _upload(world.client, school.school_id, "pupils", as_csv(rows), secretary.headers)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error"] == "import_failed" and "Ничего не записано" in body["message"]
    problems = [(p["line"], p["column"]) for p in body["details"]["problems"]]
    assert (137, "СНИЛС") in problems
    assert (150, "Фамилия") in problems
    assert (150, "СНИЛС") in problems
    assert (180, "Класс") in problems
    assert (191, "Дата рождения") in problems
    assert (196, "Дата согласия на обработку ПДн") in problems
    by_line = {p["line"]: p["message"] for p in body["details"]["problems"]}
    assert "контрольное число" in by_line[137]
    assert "строку 12" in by_line[150]
    assert "7Я" in by_line[180]
    assert all(p["line"] in (137, 150, 180, 191, 196) for p in body["details"]["problems"])
    # Nothing half-imported.
    assert await Student.count() == 0
    assert await Enrollment.count() == 0
    assert await Consent.count() == 0
    assert await AuditEntry.count().where(AuditEntry.action == "import") == 0


async def test_a_good_file_imports_whole_and_exports_back_the_same(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    # A secretary who is also the school nurse reads documents and health alike.
    nurse = await sign_in(
        world,
        Grant(Role.NURSE, ScopeKind.SCHOOL, school.school_id),
        Grant(Role.SECRETARY, ScopeKind.SCHOOL, school.school_id),
    )
    rows = pupil_rows(60)
    content = as_csv(rows)
    dry = await _upload(
        world.client, school.school_id, "pupils", content, secretary.headers, query="?dry_run=true"
    )
    assert dry.status_code == 201 and dry.json()["imported"] is False
    # A dry run says how many pupils the file would create, and creates none.
    assert dry.json()["created"] == 0 and dry.json()["would_create"] == 60
    assert await Student.count() == 0
    r = await _upload(world.client, school.school_id, "pupils", content, secretary.headers)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "kind": "pupils",
        "imported": True,
        "rows": 60,
        "created": 60,
        "would_create": 60,
        "updated": 0,
        "would_update": 0,
        "unchanged": 0,
        "problems": [],
        "changes": [],
    }
    assert await Consent.count() == 60
    first = await Student.select().where(Student.personal_file_number == "ЛД-0001").first()
    assert first["snils"] == snils(0).replace("-", "").replace(" ", "")
    assert await people.class_on(first["id"], date(2026, 11, 3)) == school.classes["5А"]
    assert len(await people.students_of_class(school.classes["5Б"], date(2026, 11, 3))) == 30

    # With health rights the export carries every column, as imported.
    exported = await world.client.get(
        f"/api/v1/schools/{school.school_id}/exports/pupils?format=csv", headers=nurse.headers
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    header, out = imports.read_rows(exported.content)
    assert header == headers("pupils")
    # The first column is each pupil's id («Код в Парте»), which the file imported had not.
    assert header[0] == "Код в Парте"
    ids = {s["id"] for s in await Student.select(Student.id)}
    assert {int(row[0]) for _, row in out} == ids
    expected = sorted([r[h] for h in header[1:]] for r in rows)
    assert sorted(row[1:] for _, row in out) == expected
    # XLSX says the same.
    xlsx = await world.client.get(
        f"/api/v1/schools/{school.school_id}/exports/pupils?format=xlsx", headers=nurse.headers
    )
    assert xlsx.headers["content-type"].startswith(XLSX)
    x_header, x_rows = imports.read_rows(xlsx.content, "pupils.xlsx")
    assert x_header == header and sorted(row[1:] for _, row in x_rows) == expected
    # The secretary may not read health: those columns are left out of her export.
    plain = await world.client.get(
        f"/api/v1/schools/{school.school_id}/exports/pupils", headers=secretary.headers
    )
    plain_header, _ = imports.read_rows(plain.content)
    # An unknown kind is a 400 naming the kinds there are (as the import does), not a 404.
    unknown = await world.client.get(
        f"/api/v1/schools/{school.school_id}/exports/pupil", headers=secretary.headers
    )
    assert unknown.status_code == 400 and "pupils, guardians, staff, classes" in unknown.text
    assert "Группа здоровья" not in plain_header and "СНИЛС" in plain_header
    # Each export is a read of each pupil's file.
    assert (
        await AuditEntry.count().where(
            (AuditEntry.action == "read.personal_file")
            & (AuditEntry.object_type == "export.pupils")
        )
        == 180
    )

    # The same file again: every line is a pupil already there (by SNILS), and nothing changes.
    again = await _upload(world.client, school.school_id, "pupils", content, secretary.headers)
    assert again.status_code == 201, again.text
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 60)
    assert again.json()["changes"] == []
    assert await Student.count() == 60


async def test_xlsx_import_and_classes_created_from_a_class_list(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    admin = await staff_account(world, Role.SCHOOL_ADMIN, school.school_id)
    rows = pupil_rows(10, classes=("6В",))
    r = await _upload(
        world.client, school.school_id, "pupils", as_xlsx(rows), secretary.headers, "list.xlsx"
    )
    assert r.status_code == 400
    assert r.json()["details"]["problems"][0]["column"] == "Класс"
    # Creating classes is structure work: the secretary may not, the school administrator may.
    r = await _upload(
        world.client,
        school.school_id,
        "pupils",
        as_xlsx(rows),
        secretary.headers,
        "list.xlsx",
        "?create_classes=true",
    )
    assert r.status_code == 404
    r = await _upload(
        world.client,
        school.school_id,
        "pupils",
        as_xlsx(rows),
        admin.headers,
        "list.xlsx",
        "?create_classes=true",
    )
    assert r.status_code == 201, r.text
    created = await SchoolClass.select().where(
        (SchoolClass.grade == 6) & (SchoolClass.letter == "В")
    )
    assert len(created) == 1
    assert len(await people.students_of_class(created[0]["id"], date(2026, 11, 3))) == 10


async def test_guardians_are_linked_to_pupils(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    await imports.import_file(Actor.system(), school.school_id, "pupils", as_csv(pupil_rows(16)))
    g = headers("guardians")

    def line(
        last: str, first: str, phone: str, child: tuple[str, str, str], **extra: str
    ) -> dict[str, str]:
        return {
            "Фамилия": last,
            "Имя": first,
            "Отчество": "",
            "Телефон": phone,
            "E-mail": "",
            "СНИЛС": "",
            "Вид документа": "",
            "Серия документа": "",
            "Номер документа": "",
            "Адрес": "",
            "Степень родства": "мать",
            "Законный представитель": "да",
            "Фамилия ребёнка": child[0],
            "Имя ребёнка": child[1],
            "Отчество ребёнка": child[2],
            "Дата рождения ребёнка": "",
            "Класс ребёнка": "",
            "Дата согласия на обработку ПДн": "01.09.2026",
            **extra,
        }

    kids = pupil_rows(16)
    first_kid = (kids[0]["Фамилия"], kids[0]["Имя"], kids[0]["Отчество"])
    second_kid = (kids[8]["Фамилия"], kids[8]["Имя"], kids[8]["Отчество"])
    bad = [
        line("Иванова", "Елена", "+79171234567", first_kid),
        line("Иванова", "Елена", "+79171234567", second_kid),  # the same mother, second child
        line("Петрова", "Анна", "+79171234567", second_kid),  # line 4: her phone, another name
        line("Сидорова", "Ольга", "", ("Никого", "Нет", "")),  # line 5: no such child
        line("Козлова", "Ира", "", first_kid, **{"Законный представитель": "может быть"}),
    ]
    r = await _upload(
        world.client, school.school_id, "guardians", as_csv(bad, g), secretary.headers
    )
    assert r.status_code == 400
    problems = {(p["line"], p["column"]) for p in r.json()["details"]["problems"]}
    assert problems == {
        (4, "Телефон"),
        (5, "Фамилия ребёнка"),
        (6, "Законный представитель"),
    }
    assert await Guardian.count() == 0

    good = [
        *bad[:2],
        line("Иванов", "Олег", "8 917 765-43-21", first_kid, **{"Степень родства": "отец"}),
    ]
    r = await _upload(
        world.client, school.school_id, "guardians", as_csv(good, g), secretary.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["created"] == r.json()["would_create"] == 2  # two guardians, three links
    assert await StudentGuardian.count() == 3
    child = (
        await Student.select(Student.id).where(Student.personal_file_number == "ЛД-0001").first()
    )
    names = sorted((x.full_name, x.relation) for x in await people.guardians_of(child["id"]))
    assert names == [("Иванов Олег", "father"), ("Иванова Елена", "mother")]

    exported = await imports.export_file(Actor.system(), school.school_id, "guardians")
    header, out = imports.read_rows(exported)
    assert header == g
    assert len(out) == 3 and {row[3] for _, row in out} == {"+79171234567", "+79177654321"}
    # Importing the export again: every link is already there.
    again = await _upload(world.client, school.school_id, "guardians", exported, secretary.headers)
    assert again.status_code == 400
    assert {p["line"] for p in again.json()["details"]["problems"]} == {2, 3, 4}


async def test_staff_and_classes_round_trip(world: Backend) -> None:
    school = await make_school(world)
    admin = await staff_account(world, Role.SCHOOL_ADMIN, school.school_id)
    staff_rows = [
        {
            "Фамилия": "Ахметова",
            "Имя": "Гульнара",
            "Отчество": "Рашидовна",
            "Должности": "учитель, классный руководитель",
            "Дата рождения": "12.03.1985",
            "Пол": "ж",
            "СНИЛС": snils(900),
            "Телефон": "+79270001122",
            "E-mail": "g.ahmetova@school.ru",
            "Дата приёма": "01.09.2010",
            "Дата согласия на обработку ПДн": "01.09.2010",
        },
        {
            "Фамилия": "Сабиров",
            "Имя": "Ильдар",
            "Отчество": "",
            "Должности": "директор",
            "Дата рождения": "",
            "Пол": "",
            "СНИЛС": "",
            "Телефон": "",
            "E-mail": "",
            "Дата приёма": "",
            "Дата согласия на обработку ПДн": "",
        },
    ]
    content = as_csv(staff_rows, headers("staff"))
    r = await _upload(world.client, school.school_id, "staff", content, admin.headers)
    assert r.status_code == 201, r.text
    row = await Staff.select().where(Staff.last_name == "Ахметова").output(load_json=True).first()
    assert row["positions"] == ["teacher", "class_teacher"]
    ahmetova_user, _ = await make_user(world)
    await Staff.update({Staff.user_id: ahmetova_user}).where(Staff.id == row["id"])
    header, out = imports.read_rows(
        await imports.export_file(Actor.system(), school.school_id, "staff")
    )
    assert sorted(r for _, r in out) == sorted([x[h] for h in header] for x in staff_rows)

    classes = [
        {"Класс": "7А", "Смена": "1", "Классный руководитель": "Ахметова Гульнара Рашидовна"},
        {"Класс": "7 б", "Смена": "2", "Классный руководитель": ""},
        {"Класс": "5А", "Смена": "1", "Классный руководитель": ""},  # exists already
        {"Класс": "7Б", "Смена": "1", "Классный руководитель": "Петров Пётр"},  # repeats 7 б
    ]
    r = await _upload(world.client, school.school_id, "classes", as_csv(classes), admin.headers)
    assert r.status_code == 400
    assert {(p["line"], p["column"]) for p in r.json()["details"]["problems"]} == {
        (4, "Класс"),
        (5, "Класс"),
        (5, "Классный руководитель"),
    }
    r = await _upload(world.client, school.school_id, "classes", as_csv(classes[:2]), admin.headers)
    assert r.status_code == 201, r.text
    header, out = imports.read_rows(
        await imports.export_file(Actor.system(), school.school_id, "classes")
    )
    assert ["7А", "1", "Ахметова Гульнара Рашидовна"] in [r for _, r in out]
    assert ["7Б", "2", ""] in [r for _, r in out]
    # Ахметова's account got the class-teacher role at 7А (decision 0206).
    seventh = (
        await SchoolClass.select(SchoolClass.id)
        .where(
            (SchoolClass.school == school.school_id)
            & (SchoolClass.grade == 7)
            & (SchoolClass.letter == "А")
        )
        .first()
    )
    assert await RoleGrant.exists().where(
        (RoleGrant.user == ahmetova_user)
        & (RoleGrant.role == "class_teacher")
        & (RoleGrant.scope_id == seventh["id"])
    )


async def test_import_rights_and_bad_files(world: Backend) -> None:
    school = await make_school(world)
    content = as_csv(pupil_rows(3))
    stranger = await staff_account(world, Role.SECRETARY, school.ids["school_c"])
    teacher = await staff_account(world, Role.TEACHER, school.school_id)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    c = world.client
    assert (
        await _upload(c, school.school_id, "pupils", content, stranger.headers)
    ).status_code == 404
    assert (
        await _upload(c, school.school_id, "pupils", content, teacher.headers)
    ).status_code == 403
    r = await c.get(f"/api/v1/schools/{school.school_id}/exports/pupils", headers=stranger.headers)
    assert r.status_code == 404
    r = await c.get(f"/api/v1/schools/{school.school_id}/exports/pupils", headers=teacher.headers)
    assert r.status_code == 403
    r = await _upload(
        c, school.school_id, "pupils", b"\xd0\x9a\xd1\x82\xd0\xbe;\n1;2\n", secretary.headers
    )
    assert r.status_code == 400
    messages = [p["message"] for p in r.json()["details"]["problems"]]
    assert any("Неизвестный столбец «Кто»" in m for m in messages)
    assert any("Нет обязательного столбца «Фамилия»" in m for m in messages)
    r = await _upload(
        c, school.school_id, "pupils", b"PK\x03\x04broken", secretary.headers, "x.xlsx"
    )
    assert r.status_code == 400 and "XLSX" in r.json()["message"]
    r = await _upload(c, school.school_id, "pets", content, secretary.headers)
    assert r.status_code == 400


async def test_command_line_import_and_export(world: Backend, tmp_path: Path) -> None:
    school = await make_school(world)
    rows = pupil_rows(30)
    rows[20]["СНИЛС"] = "000"
    source = tmp_path / "pupils.csv"
    source.write_bytes(as_csv(rows))
    env = {
        **os.environ,
        "PARTA_DATABASE_URL": world.settings.database_url,
        "PARTA_REDIS_URL": "memory://",
        "PARTA_LOG_LEVEL": "WARNING",
    }

    def parta(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "backend.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    failed = parta("import", "pupils", str(source), "--school", str(school.school_id))
    assert failed.returncode == 1
    assert "22" in failed.stdout and "СНИЛС" in failed.stdout
    assert await Student.count() == 0
    rows[20]["СНИЛС"] = snils(20)
    source.write_bytes(as_csv(rows))
    done = parta("import", "pupils", str(source), "--school", str(school.school_id))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Проверка строк" in done.stderr and "30/30" in done.stderr  # the progress bar
    assert await Student.count() == 30
    target = tmp_path / "out.xlsx"
    exported = parta("export", "pupils", "--school", str(school.school_id), "-o", str(target))
    assert exported.returncode == 0, exported.stderr
    header, out = imports.read_rows(target.read_bytes(), target.name)
    assert header[0] == "Код в Парте"
    assert sorted(r[1:] for _, r in out) == sorted([x[h] for h in header[1:]] for x in rows)
    # The export imports back: every pupil recognised, nothing to change.
    again = parta("import", "pupils", str(target), "--school", str(school.school_id), "--dry-run")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "изменено — 0, без изменений — 30" in again.stdout


async def test_an_import_without_its_file_part_names_the_part(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    response = await world.client.post(
        f"/api/v1/schools/{school.school_id}/imports/pupils",
        files={"data": (None, "Фамилия;Имя")},
        headers=secretary.headers,
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"] == [
        {"field": "data", "message": "Часть «data» формы должна быть файлом (multipart/form-data)."}
    ]
    nothing = await world.client.post(
        f"/api/v1/schools/{school.school_id}/imports/pupils",
        content=b"--b--\r\n",
        headers={**secretary.headers, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert nothing.status_code == 400, nothing.text
    assert nothing.json()["message"] == "Не заполнено обязательное поле «файл (часть data)»."
    assert await Student.count() == 0


async def test_a_wrong_export_format_names_the_parameter_people_send(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    response = await world.client.get(
        f"/api/v1/schools/{school.school_id}/exports/pupils?format=pdf", headers=secretary.headers
    )
    assert response.status_code == 400, response.text
    assert response.json()["details"][0]["field"] == "format"
    assert "file_format" not in response.text


async def test_a_csv_in_windows_1251_is_read(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    text = as_csv(pupil_rows(3)).decode("utf-8-sig")
    r = await _upload(
        world.client, school.school_id, "pupils", text.encode("cp1251"), secretary.headers
    )
    assert r.status_code == 201, r.text
    assert await Student.count() == 3
    surnames = {s["last_name"] for s in await Student.select(Student.last_name)}
    assert surnames == {row["Фамилия"] for row in pupil_rows(3)}


async def test_a_file_the_reader_cannot_read_gets_a_clear_report(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    old_excel = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(range(256)) * 4
    r = await _upload(
        world.client, school.school_id, "pupils", old_excel, secretary.headers, name="ученики.xls"
    )
    assert r.status_code == 400, r.text
    assert "старая книга Excel" in r.json()["message"] and ".xlsx" in r.json()["message"]
    # Not text in any encoding Russian offices use (0x98 is a hole in Windows-1251).
    garbage = "Фамилия;Имя\n".encode("cp1251") + b"\x98\x00\xff\xfe" * 50
    r = await _upload(world.client, school.school_id, "pupils", garbage, secretary.headers)
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        "Файл не удалось прочитать: это не таблица CSV (в кодировке UTF-8 или Windows-1251) "
        "и не книга Excel XLSX."
    )
    # Bytes that decode in Windows-1251 but as no Russian text are not taken for a list.
    noise = bytes(range(0xC0, 0x100)).replace(b"\xdf", b"") * 3 + bytes(range(0x80, 0x98)) * 40
    r = await _upload(world.client, school.school_id, "pupils", noise, secretary.headers)
    assert r.status_code == 400, r.text
    assert await Student.count() == 0
