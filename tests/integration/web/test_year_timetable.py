"""The staff web's timetable grid (/admin/web/timetable) through the real app: a coordinator
creates and changes entries with HTMX and a conflict is shown in the cell where it was made,
with the service's Russian reason; bad input gets the API's field message; CSRF and rights."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from backend.core.rights import Role, ScopeKind
from backend.schools.tables import TimetableEntry
from tests.conftest import Backend
from tests.integration.schools.structure_world import SchoolWorld
from tests.integration.schools.test_timetable import timetable_world
from tests.support import TEST_PASSWORD, SignedIn, grant, sign_in, staff_account

ON = "2026-09-07"  # a Monday of the test year


def browser(world: Backend) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=world.client._transport, base_url="http://parta.test")


@asynccontextmanager
async def signed_in(world: Backend, who: SignedIn, start: str) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(world) as client:
        r = await client.get(start)
        assert r.status_code == 303 and r.headers["location"].startswith("/admin/tasks/login?next=")
        await client.get(r.headers["location"])
        r = await client.post(
            "/admin/tasks/login",
            data={
                "identifier": who.login,
                "password": TEST_PASSWORD,
                "csrf": client.cookies.get("parta_admin_csrf"),
                "next": start,
            },
        )
        assert r.status_code == 303 and r.headers["location"] == start, r.text
        yield client


def csrf(client: httpx.AsyncClient) -> str:
    return client.cookies.get("parta_admin_csrf") or ""


def entry_form(sw: SchoolWorld, ids: dict[str, Any], **over: Any) -> dict[str, Any]:
    form = {
        "csrf": "",
        "by": "class",
        "id": ids["5А"],
        "on": ON,
        "weekday": 1,
        "lesson_number": 1,
        "who": f"c{ids['5А']}",
        "subject_id": ids["Математика"],
        "teacher_id": sw.staff["ivanova"],
        "room_id": ids["204"],
        "valid_from": "2026-09-01",
        "valid_to": "2027-05-31",
    }
    form.update(over)
    return form


async def post_entry(client: httpx.AsyncClient, sw: SchoolWorld, form: dict[str, Any]) -> Any:
    if form.get("csrf") == "":
        form = {**form, "csrf": csrf(client)}
    return await client.post(
        f"/admin/web/timetable/entries?school={sw.school_id}",
        data={k: v for k, v in form.items() if v is not None},
        headers={"HX-Request": "true"},
    )


async def entries() -> list[dict[str, Any]]:
    return await TimetableEntry.select(
        TimetableEntry.id,
        TimetableEntry.school_class,
        TimetableEntry.teacher,
        TimetableEntry.room,
        TimetableEntry.weekday,
        TimetableEntry.lesson_number,
    )


async def test_a_conflict_is_shown_in_the_cell_where_it_was_made(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    grid = f"/admin/web/timetable/?school={sw.school_id}&by=class&id={ids['5А']}&on={ON}"
    async with signed_in(world, sw.coordinator, grid) as client:
        page = await client.get(grid)
        assert page.status_code == 200, page.text
        assert "Расписание: 5«А»" in page.text and 'id="entry-form"' in page.text

        r = await post_entry(client, sw, entry_form(sw, ids))
        assert r.status_code == 200, r.text
        assert "Расписание сохранено." in r.text and "Математика" in r.text
        assert len(await entries()) == 1

        # The same teacher in 5«Б» at the same time: refused, the reason in cell (1, 1).
        r = await post_entry(
            client,
            sw,
            entry_form(sw, ids, who=f"c{ids['5Б']}", room_id=ids["301"]),
        )
        assert r.status_code == 409
        assert r.headers["HX-Retarget"] == "#board"
        cell = re.search(r'<td id="cell-1-1" class="slot conflict".*?</td>', r.text, re.S)
        assert cell is not None, r.text
        assert (
            "Учитель Иванова М. П. уже ведёт урок в 5«А» (Математика) в понедельник, 1-й урок."
            in cell.group(0)
        )
        # The same room, another teacher: the room's reason.
        r = await post_entry(
            client,
            sw,
            entry_form(sw, ids, who=f"c{ids['5Б']}", teacher_id=sw.staff["petrov"]),
        )
        assert r.status_code == 409 and "Кабинет «204» уже занят" in r.text
        # The class itself taken (its group at the same time).
        r = await post_entry(
            client,
            sw,
            entry_form(
                sw,
                ids,
                who=f"g{ids['англ1']}",
                subject_id=ids["Английский язык"],
                teacher_id=sw.staff["petrov"],
                room_id="",
            ),
        )
        assert r.status_code == 409 and 'class="slot conflict"' in r.text
        assert len(await entries()) == 1  # nothing half-written

        # A teacher's week shows the entry made.
        mine = await client.get(
            f"/admin/web/timetable/?school={sw.school_id}&by=teacher"
            f"&id={sw.staff['ivanova']}&on={ON}"
        )
        assert mine.status_code == 200 and "5«А»" in mine.text and "Математика" in mine.text

        # Change the entry: another room, then a teacher who is busy → refused in its cell.
        (first,) = await entries()
        r = await post_entry(
            client,
            sw,
            entry_form(sw, ids, weekday=1, lesson_number=2, teacher_id=sw.staff["petrov"]),
        )
        assert r.status_code == 200, r.text
        form = await client.get(
            f"/admin/web/timetable/entries/{first['id']}?school={sw.school_id}"
            f"&by=class&id={ids['5А']}&on={ON}"
        )
        assert form.status_code == 200 and 'name="teacher_id"' in form.text
        url = f"/admin/web/timetable/entries/{first['id']}?school={sw.school_id}"
        base = {"csrf": csrf(client), "by": "class", "id": ids["5А"], "on": ON}
        r = await client.post(
            url,
            data={
                **base,
                "teacher_id": sw.staff["ivanova"],
                "room_id": ids["301"],
                "valid_to": "2027-05-31",
            },
        )
        assert r.status_code == 200 and "каб. 301" in r.text, r.text
        # Moving the 1st lesson's room into the 2nd lesson's is fine; a teacher taken at 2 is not.
        r = await client.post(
            url,
            data={
                **base,
                "teacher_id": sw.staff["petrov"],
                "room_id": ids["301"],
                "valid_to": "2027-05-31",
            },
        )
        assert r.status_code == 200, r.text  # Petrov is free at the 1st lesson
        rows = {e["id"]: e for e in await entries()}
        assert rows[first["id"]]["teacher"] == sw.staff["petrov"]
        assert rows[first["id"]]["room"] == ids["301"]


async def test_bad_input_gets_the_api_field_message_and_writes_nothing(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    grid = f"/admin/web/timetable/?school={sw.school_id}&on={ON}"
    async with signed_in(world, sw.coordinator, grid) as client:
        r = await post_entry(client, sw, entry_form(sw, ids, weekday=9))
        assert r.status_code == 400
        assert r.headers["HX-Retarget"] == "#entry-status"
        assert "Значение поля «день недели» должно быть не больше 7." in r.text, r.text
        r = await post_entry(client, sw, entry_form(sw, ids, valid_to="31.05.2027"))
        assert r.status_code == 400
        assert "Поле «действует по» имеет неверный формат." in r.text, r.text
        r = await post_entry(client, sw, entry_form(sw, ids, valid_to="2027-09-30"))
        assert r.status_code == 400 and "2026/2027" in r.text, r.text
        # No CSRF token: refused before anything is looked at.
        r = await post_entry(client, sw, entry_form(sw, ids, csrf=None))
        assert r.status_code == 403
        r = await post_entry(client, sw, entry_form(sw, ids, csrf="forged"))
        assert r.status_code == 403
        # The grid's own choices: an unknown kind of week.
        r = await client.get(f"/admin/web/timetable/?school={sw.school_id}&by=pupil")
        assert r.status_code == 400 and "«чьё расписание»" in r.text
    assert await entries() == []


async def test_rights_guardian_pupil_teacher(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    grid = f"/admin/web/timetable/?school={sw.school_id}&on={ON}"
    guardian = await sign_in(world, grant(Role.GUARDIAN, ScopeKind.STUDENT, 1))
    pupil = await sign_in(world, grant(Role.PUPIL, ScopeKind.STUDENT, 1))
    for who in (guardian, pupil):
        async with signed_in(world, who, grid) as client:
            r = await client.get(grid)
            assert r.status_code == 403 and "только сотрудникам школы" in r.text
            assert "5«А»" not in r.text
            r = await post_entry(client, sw, entry_form(sw, ids))
            assert r.status_code == 403
    teacher = await staff_account(world, Role.TEACHER, sw.school_id)
    async with signed_in(world, teacher, grid) as client:
        r = await client.get(grid)  # a teacher reads the timetable, without the forms
        assert r.status_code == 200 and 'id="entry-form"' not in r.text
        r = await post_entry(client, sw, entry_form(sw, ids))
        assert r.status_code == 403
        assert "Менять учебный год, классы и расписание может завуч" in r.text
    other = await staff_account(world, Role.SCHOOL_COORDINATOR, sw.ids["school_b"])
    async with signed_in(world, other, grid) as client:
        r = await client.get(grid)  # another school's coordinator
        assert r.status_code == 403
        r = await post_entry(client, sw, entry_form(sw, ids))
        assert r.status_code == 403
    assert await entries() == []
