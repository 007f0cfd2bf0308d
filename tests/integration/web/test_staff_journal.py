"""The staff web's journal grid (/admin/web/journal) through the real app: signed in with the
admin's form, each keystroke saved by the lesson sync, rights and CSRF as the API's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx

from backend.journal.tables import AttendanceRecord, Homework, JournalChange, Mark
from tests.conftest import Backend
from tests.integration.journal.arrange import (
    JournalWorld,
    close_period,
    guardian_of,
    lesson,
    make_journal_world,
    today,
)
from tests.support import TEST_PASSWORD, SignedIn


def browser(world: Backend) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=world.client._transport, base_url="http://parta.test")


@asynccontextmanager
async def signed_in(world: Backend, who: SignedIn) -> AsyncIterator[httpx.AsyncClient]:
    async with browser(world) as client:
        await _sign_in(client, who)
        yield client


async def _sign_in(client: httpx.AsyncClient, who: SignedIn) -> None:
    r = await client.get("/admin/web/journal")
    assert r.status_code == 303 and r.headers["location"].startswith("/admin/tasks/login?next=")
    form = await client.get(r.headers["location"])
    assert 'name="next" value="/admin/web/journal"' in form.text
    r = await client.post(
        "/admin/tasks/login",
        data={
            "identifier": who.login,
            "password": TEST_PASSWORD,
            "csrf": client.cookies.get("parta_admin_csrf"),
            "next": "/admin/web/journal",
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/admin/web/journal", r.text


async def cell(
    client: httpx.AsyncClient, lesson_id: int, pupil: int, *, csrf: str | None = "", **values: Any
) -> httpx.Response:
    token = client.cookies.get("parta_admin_csrf") if csrf == "" else csrf
    headers = {"X-CSRF-Token": token} if token else {}
    return await client.post(
        "/admin/web/journal/cell",
        data={"lesson_id": lesson_id, "student_id": pupil, "op_id": f"web-{values}", **values},
        headers=headers,
    )


def grid_url(jw: JournalWorld) -> str:
    start = (today() - timedelta(days=40)).isoformat()
    query = f"class_id={jw.class_id}&subject_id={jw.subject_id}"
    return f"/admin/web/journal?{query}&from={start}&to={today().isoformat()}"


async def test_a_lesson_to_come_shows_locked_cells_and_an_open_topic(world: Backend) -> None:
    jw = await make_journal_world(world)
    ahead = await lesson(
        jw.ids["school_a"], jw.class_id, jw.subject_id, jw.teacher_staff, today() + timedelta(1)
    )
    until = (today() + timedelta(days=7)).isoformat()
    async with signed_in(world, jw.teacher) as client:
        page = await client.get(grid_url(jw).rsplit("&to=", 1)[0] + f"&to={until}")
        assert page.status_code == 200, page.text
        cells = re.findall(rf'<td class="([^"]*)"[^>]*data-lesson="{ahead}"', page.text)
        assert cells and all("locked" in c for c in cells), cells
        assert 'data-lock="Урок ещё не прошёл' in page.text
        # The padlock is drawn (no emoji font needed); the topic can still be planned ahead.
        assert "🔒" not in page.text and '<svg class="lock" role="img"' in page.text
        topic = page.text.split(f'id="topic-input-{ahead}"', 1)[1].split(">", 1)[0]
        assert "disabled" not in topic


async def test_a_teacher_fills_the_grid_and_the_diary_shows_it(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id, pupil = jw.lessons["today"], jw.pupils[0]
    async with signed_in(world, jw.teacher) as client:
        pick = await client.get("/admin/web/journal")
        assert pick.status_code == 200 and "5«А» — Математика" in pick.text
        page = await client.get(grid_url(jw))
        assert page.status_code == 200, page.text
        assert "Журнал 5«А», Математика" in page.text and "Ученик0 Иван" in page.text
        assert f'data-lesson="{lesson_id}" data-pupil="{pupil}"' in page.text
        # The lesson 30 days ago is past the 14-day window for its teacher: shown locked.
        assert "Срок внесения истёк" in page.text

        r = await cell(client, lesson_id, pupil, action="mark", value="5", work_kind="test")
        assert r.status_code == 200, r.text
        assert '<span class="mark">5</span>' in r.text and "Сохранено." in r.text
        r = await cell(client, lesson_id, jw.pupils[1], action="attendance", value="sick")
        assert r.status_code == 200 and '<span class="att">б</span>' in r.text
        # A mark outside the scale is refused in Russian, nothing written.
        r = await cell(client, lesson_id, pupil, action="mark", value="7")
        assert r.status_code == 400 and r.headers["HX-Retarget"] == "#journal-status"
        assert re.search("[а-я]", r.text)
        # The closed window answers as the API does.
        r = await cell(client, jw.lessons["old"], pupil, action="mark", value="4")
        assert r.status_code == 403 and "Срок внесения отметок (14 дн.) истёк" in r.text

    marks = await Mark.select(Mark.value, Mark.weight, Mark.student)
    assert [(m["value"], m["weight"], m["student"]) for m in marks] == [("5", 2, pupil)]
    sick = await AttendanceRecord.select(AttendanceRecord.status, AttendanceRecord.source)
    assert sick == [{"status": "sick", "source": "teacher"}]
    assert await JournalChange.count() == 2  # the history of both cells, as the app writes it

    guardian = await guardian_of(world, pupil)
    week = await world.client.get(
        f"/api/v1/diary/students/{pupil}/week?date={today().isoformat()}",
        headers=guardian.headers,
    )
    assert week.status_code == 200
    assert '"value":"5"' in week.text.replace(" ", "")


async def test_a_stale_cell_is_shown_as_a_conflict(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id, pupil = jw.lessons["today"], jw.pupils[2]
    async with signed_in(world, jw.teacher) as client:
        first = await cell(client, lesson_id, pupil, action="attendance", value="absent")
        version = re.search(r'data-att-version="(\d+)"', first.text)
        assert version and version.group(1) == "1"
        # Someone else (the coordinator's office) changes it meanwhile.
        r = await world.client.post(
            f"/api/v1/journal/lessons/{lesson_id}/sync",
            json={
                "operations": [
                    {
                        "op_id": "office-1",
                        "kind": "attendance",
                        "student_id": pupil,
                        "status": "excused",
                        "base_version": 1,
                    }
                ]
            },
            headers=jw.coordinator.headers,
        )
        assert r.status_code == 200 and r.json()["applied"] == 1
        stale = await cell(
            client, lesson_id, pupil, action="attendance", value="sick", base_version="1"
        )
        assert stale.status_code == 200
        assert "conflict" in stale.text and "Запись уже изменил(а)" in stale.text
        assert '<span class="att">у</span>' in stale.text  # the server's value is shown
    row = await AttendanceRecord.select(AttendanceRecord.status).first()
    assert row == {"status": "excused"}


async def test_csrf_rights_and_locks(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id, pupil = jw.lessons["today"], jw.pupils[0]
    async with signed_in(world, jw.teacher) as client:
        r = await cell(client, lesson_id, pupil, csrf=None, action="mark", value="5")
        assert r.status_code == 403 and "Форма устарела" in r.text
        r = await cell(client, lesson_id, pupil, csrf="forged", action="mark", value="5")
        assert r.status_code == 403
        r = await cell(client, lesson_id, pupil, action="shout", value="5")
        assert r.status_code == 400 and "Поле «действие» имеет неверный формат." in r.text
    assert await Mark.count() == 0

    # Another teacher of the school who does not teach the class: no grid (404), no writes.
    async with signed_in(world, jw.other_teacher) as client:
        r = await client.get(grid_url(jw))
        assert r.status_code == 404
        r = await cell(client, lesson_id, pupil, action="mark", value="5")
        assert r.status_code == 403 and "Это не ваш урок" in r.text
    assert await Mark.count() == 0

    # A closed period: the coordinator sees the lock and cannot write either.
    await close_period(jw, today())
    async with signed_in(world, jw.coordinator) as client:
        page = await client.get(grid_url(jw))
        assert page.status_code == 200 and "Период закрыт" in page.text
        r = await cell(client, lesson_id, pupil, action="mark", value="5")
        assert r.status_code == 409 and "Учебный период закрыт" in r.text
    assert await Mark.count() == 0


async def test_a_guardian_sees_no_staff_page(world: Backend) -> None:
    jw = await make_journal_world(world)
    guardian = await guardian_of(world, jw.pupils[0])
    async with browser(world) as client:
        await client.get("/admin/tasks/login?next=/admin/web/")
        r = await client.post(
            "/admin/tasks/login",
            data={
                "identifier": guardian.login,
                "password": TEST_PASSWORD,
                "csrf": client.cookies.get("parta_admin_csrf"),
                "next": "/admin/web/",
            },
        )
        assert r.status_code == 303 and r.headers["location"] == "/admin/web/"
        for path in ("/admin/web/", "/admin/web/journal", grid_url(jw)):
            page = await client.get(path)
            assert page.status_code == 403, path
            assert "Рабочее место открыто только сотрудникам школы" in page.text
            assert "Журнал" not in page.text and "Ученик0" not in page.text
        r = await cell(client, jw.lessons["today"], jw.pupils[0], action="mark", value="5")
        assert r.status_code == 404
    assert await Mark.count() == 0


async def test_the_sign_in_never_sends_elsewhere(world: Backend) -> None:
    async with browser(world) as client:
        for bad in ("https://evil.example/", "//evil.example/admin/", "/api/v1/x"):
            form = await client.get("/admin/tasks/login", params={"next": bad})
            assert 'name="next" value="/admin/tasks"' in form.text, bad


async def test_a_teacher_types_a_lesson_topic(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    async with signed_in(world, jw.teacher) as client:
        page = await client.get(grid_url(jw))
        assert f'id="topic-input-{lesson_id}"' in page.text
        # The old lesson is past the window: its topic field is shut.
        old = page.text.split(f'id="topic-input-{jw.lessons["old"]}"', 1)[1].split(">", 1)[0]
        assert "disabled" in old
        token = {"X-CSRF-Token": client.cookies.get("parta_admin_csrf") or ""}
        form = {"lesson_id": lesson_id, "op_id": "web-topic-1", "base_version": "0"}
        r = await client.post(
            "/admin/web/journal/topic",
            data={**form, "topic": "Дроби", "date": today().isoformat()},
            headers=token,
        )
        assert r.status_code == 200, r.text
        assert 'value="Дроби"' in r.text and "Сохранено." in r.text
        # The same form sent again is a repeat, not a second change.
        again = await client.post(
            "/admin/web/journal/topic", data={**form, "topic": "Дроби"}, headers=token
        )
        assert again.status_code == 200
        # An edit based on the old version meets the saved topic: a conflict, nothing lost.
        stale = await client.post(
            "/admin/web/journal/topic",
            data={**form, "op_id": "web-topic-2", "topic": "Проценты"},
            headers=token,
        )
        assert stale.status_code == 200 and "Тему уже изменил(а)" in stale.text
        assert 'value="Дроби"' in stale.text
        r = await client.post(
            "/admin/web/journal/topic",
            data={**form, "op_id": "web-topic-3", "topic": "Проценты", "date": "вчера"},
            headers=token,
        )
        assert r.status_code == 400 and "Поле «дата» имеет неверный формат." in r.text
        r = await client.post("/admin/web/journal/topic", data={**form, "topic": "Без токена"})
        assert r.status_code == 403
    sheet = await world.client.get(
        f"/api/v1/journal/lessons/{lesson_id}", headers=jw.teacher.headers
    )
    assert sheet.json()["topic"] == "Дроби"
    assert await JournalChange.count().where(JournalChange.entity == "topic") == 1


async def test_a_teacher_sets_and_corrects_homework(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    due = (today() + timedelta(days=2)).isoformat()
    async with signed_in(world, jw.teacher) as client:
        page = await client.get(grid_url(jw))
        assert f'id="homework-input-{lesson_id}"' in page.text
        token = {"X-CSRF-Token": client.cookies.get("parta_admin_csrf") or ""}
        r = await client.post(
            "/admin/web/journal/homework",
            data={"lesson_id": lesson_id, "op_id": "web-hw-1", "text": "№ 12", "due_date": due},
            headers=token,
        )
        assert r.status_code == 200, r.text
        found = re.search(r'name="homework_id" value="(\d+)">\s*<input type="hidden" '
                          r'name="base_version" value="(\d+)"', r.text)  # fmt: skip
        assert found and 'value="№ 12"' in r.text and f'value="{due}"' in r.text
        homework_id, version = found.groups()
        # A due date before the lesson is refused with the API's message; nothing changes.
        r = await client.post(
            "/admin/web/journal/homework",
            data={
                "lesson_id": lesson_id,
                "op_id": "web-hw-2",
                "text": "№ 13",
                "due_date": (today() - timedelta(days=3)).isoformat(),
                "homework_id": homework_id,
                "base_version": version,
            },
            headers=token,
        )
        assert r.status_code == 400 and re.search("[а-я]", r.text)
        r = await client.post(
            "/admin/web/journal/homework",
            data={
                "lesson_id": lesson_id,
                "op_id": "web-hw-3",
                "text": "№ 12, 13",
                "homework_id": homework_id,
                "base_version": version,
            },
            headers=token,
        )
        assert r.status_code == 200 and 'value="№ 12, 13"' in r.text
        # The first form's version again: a conflict, the saved text stays.
        r = await client.post(
            "/admin/web/journal/homework",
            data={
                "lesson_id": lesson_id,
                "op_id": "web-hw-4",
                "text": "ничего",
                "homework_id": homework_id,
                "base_version": version,
            },
            headers=token,
        )
        assert r.status_code == 200 and "Задание уже изменил(а)" in r.text
        assert 'value="№ 12, 13"' in r.text
    rows = await Homework.select(Homework.text).where(Homework.deleted_at.is_null())
    assert rows == [{"text": "№ 12, 13"}]
