"""The journal's further pages of the staff web through the real app: final marks, a pupil's
card, homework files, lessons of study groups in the grid and the «оп» key. Rights are the
services' (decision 0351 for final marks, 0352 for the card); every refusal writes nothing."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Role, ScopeKind
from backend.journal.tables import Attachment, FinalMark, Homework
from backend.schools.tables import Lesson, StudyGroup, StudyGroupMember, StudyPeriod
from tests.conftest import Backend
from tests.integration.journal.arrange import (
    JournalWorld,
    guardian_of,
    make_journal_world,
    today,
)
from tests.integration.web.test_staff_journal import cell, grid_url, signed_in
from tests.support import sign_in

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _period(jw: JournalWorld, *, closed: bool = False) -> int:
    from datetime import UTC, datetime

    period = StudyPeriod(
        academic_year=jw.year_id,
        kind="quarter",
        number=2,
        name="2 четверть",
        starts_on=today() - timedelta(days=40),
        ends_on=today() + timedelta(days=10),
        grades=[],
        closed_at=datetime.now(UTC) if closed else None,
    )
    await period.save()
    return int(period.id)


def _token(client: object) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies.get("parta_admin_csrf") or ""}  # type: ignore[attr-defined]


def _final_url(jw: JournalWorld, kind: str = "period", period: int | None = None) -> str:
    url = f"/admin/web/journal/final?class_id={jw.class_id}&subject_id={jw.subject_id}&kind={kind}"
    return url + (f"&period_id={period}" if period else "")


async def test_a_teacher_confirms_and_changes_final_marks(world: Backend) -> None:
    jw = await make_journal_world(world)
    period = await _period(jw)
    pupil = jw.pupils[0]
    async with signed_in(world, jw.teacher) as client:
        for value, kind in (("5", "test"), ("4", "answer")):
            r = await cell(
                client, jw.lessons["today"], pupil, action="mark", value=value, work_kind=kind
            )
            assert r.status_code == 200, r.text
        page = await client.get(_final_url(jw))  # the period of today is chosen by itself
        assert page.status_code == 200, page.text
        assert "Итоговые отметки 5«А», Математика" in page.text and "2 четверть" in page.text
        row = page.text.split(f'id="final-{pupil}"', 1)[1].split("</tr>", 1)[0]
        assert "4.67" in row and 'name="value" value="5"' in row  # proposed from 5×2 and 4
        form = {
            "class_id": jw.class_id,
            "subject_id": jw.subject_id,
            "kind": "period",
            "period_id": period,
            "student_id": pupil,
            "name": "Ученик0 Иван",
        }
        r = await client.post(
            "/admin/web/journal/final", data={**form, "value": "5"}, headers=_token(client)
        )
        assert r.status_code == 200, r.text
        assert "Сохранено." in r.text and 'name="base_version" value="1"' in r.text
        # A value outside the scale: the API's Russian message, nothing changes.
        r = await client.post(
            "/admin/web/journal/final",
            data={**form, "value": "9", "base_version": "1"},
            headers=_token(client),
        )
        assert r.status_code == 400 and r.headers["HX-Retarget"] == "#journal-status"
        assert re.search("[а-я]", r.text)
        r = await client.post(
            "/admin/web/journal/final", data={**form, "value": " "}, headers=_token(client)
        )
        assert r.status_code == 400 and "«отметка»" in r.text
        r = await client.post(
            "/admin/web/journal/final",
            data={**form, "value": "4", "kind": "semester"},
            headers=_token(client),
        )
        assert r.status_code == 400 and "«вид итоговой отметки»" in r.text
        # A stale version (someone changed it meanwhile) is a conflict, not an overwrite.
        r = await client.post(
            "/admin/web/journal/final",
            data={**form, "value": "4", "base_version": "1"},
            headers=_token(client),
        )
        assert r.status_code == 200 and 'name="base_version" value="2"' in r.text
        r = await client.post(
            "/admin/web/journal/final",
            data={**form, "value": "3", "base_version": "1"},
            headers=_token(client),
        )
        assert r.status_code == 409 and "Итоговую отметку уже изменил" in r.text
        r = await client.post("/admin/web/journal/final", data={**form, "value": "3"})
        assert r.status_code == 403  # no CSRF token
        year = await client.get(_final_url(jw, "year"))
        assert year.status_code == 200 and 'name="kind" value="year"' in year.text
        bad = await client.get(_final_url(jw, "semester"))
        assert bad.status_code == 400 and "«вид итоговой отметки»" in bad.text
    rows = await FinalMark.select(FinalMark.value, FinalMark.version)
    assert rows == [{"value": "4", "version": 2}]

    # A teacher of the school who does not teach the subject here: refused (decision 0351).
    async with signed_in(world, jw.other_teacher) as client:
        r = await client.post(
            "/admin/web/journal/final", data={**form, "value": "2", "base_version": "2"},
            headers=_token(client),
        )  # fmt: skip
        assert r.status_code == 403 and re.search("[а-я]", r.text)
        # ... nor reads the sheet: the page follows the service's rule (the API's sheet).
        r = await client.get(_final_url(jw, period=period))
        assert r.status_code == 403 and "Итоговые отметки класса видят учителя" in r.text
        assert "Ученик" not in r.text
    assert await FinalMark.select(FinalMark.value) == [{"value": "4"}]


async def test_a_closed_period_shows_final_marks_locked(world: Backend) -> None:
    jw = await make_journal_world(world)
    period = await _period(jw, closed=True)
    async with signed_in(world, jw.coordinator) as client:
        page = await client.get(_final_url(jw, period=period))
        assert page.status_code == 200 and "Период закрыт" in page.text
        assert 'name="value"' not in page.text
        r = await client.post(
            "/admin/web/journal/final",
            data={
                "class_id": jw.class_id,
                "subject_id": jw.subject_id,
                "kind": "period",
                "period_id": period,
                "student_id": jw.pupils[0],
                "value": "5",
            },
            headers=_token(client),
        )
        assert r.status_code == 409 and "Учебный период закрыт" in r.text
    assert await FinalMark.count() == 0


async def test_the_pupil_card_and_who_reads_it(world: Backend) -> None:
    jw = await make_journal_world(world)
    await _period(jw)
    pupil = jw.pupils[1]
    async with signed_in(world, jw.teacher) as client:
        await cell(client, jw.lessons["today"], pupil, action="mark", value="3", work_kind="answer")
        r = await cell(client, jw.lessons["today"], pupil, action="attendance", value="late")
        assert r.status_code == 400 and "опоздан" in r.text.lower()  # the API's: how late?
        r = await cell(
            client, jw.lessons["today"], pupil, action="attendance", value="late", late_minutes="x"
        )
        assert r.status_code == 400 and "«минут опоздания»" in r.text
        r = await cell(
            client, jw.lessons["today"], pupil, action="attendance", value="late", late_minutes="7"
        )
        assert r.status_code == 200 and '<span class="att">оп</span>' in r.text  # the «оп» key
        grid = await client.get(grid_url(jw))
        assert f'href="/admin/web/journal/pupils/{pupil}"' in grid.text
        card = await client.get(f"/admin/web/journal/pupils/{pupil}")
        assert card.status_code == 200, card.text
        assert "Ученик1 Иван, 5«А»: карточка ученика" in card.text
        assert "Математика" in card.text and '<span class="mark"' in card.text
        assert "«оп» — 1" in card.text and "3.00" in card.text
        bad = await client.get(f"/admin/web/journal/pupils/{pupil}?from=вчера")
        assert bad.status_code == 400 and "Поле «с» имеет неверный формат." in bad.text
        bad = await client.get(f"/admin/web/journal/pupils/{pupil}?period_id=999999")
        assert bad.status_code == 400 and "Учебный период не найден" in bad.text
    audited = await AuditEntry.select(AuditEntry.object_type).where(AuditEntry.student_id == pupil)
    assert {"object_type": "pupil_card"} in audited

    # The class teacher reads it; a teacher of another class gets nothing (404, no name).
    head = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id))
    async with signed_in(world, head) as client:
        card = await client.get(f"/admin/web/journal/pupils/{pupil}")
        assert card.status_code == 200 and "Ученик1" in card.text
    async with signed_in(world, jw.other_teacher) as client:
        card = await client.get(f"/admin/web/journal/pupils/{pupil}")
        assert card.status_code == 404 and "Ученик1" not in card.text
        missing = await client.get("/admin/web/journal/pupils/99999999")
        assert missing.status_code == 404

    guardian = await guardian_of(world, pupil)
    themselves = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, pupil))
    for family in (guardian, themselves):
        async with signed_in(world, family) as client:
            for path in (f"/admin/web/journal/pupils/{pupil}", _final_url(jw)):
                page = await client.get(path)
                assert page.status_code == 403 and "Ученик1" not in page.text, path
                assert "Рабочее место открыто только сотрудникам школы" in page.text


async def test_homework_files_are_uploaded_checked_and_downloaded(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    back = grid_url(jw)
    async with signed_in(world, jw.teacher) as client:
        page = await client.get(back)
        assert 'action="/admin/web/journal/homework/files"' in page.text
        csrf = client.cookies.get("parta_admin_csrf")
        form = {"csrf": csrf, "lesson_id": str(lesson_id), "back": back}
        r = await client.post(
            "/admin/web/journal/homework/files",
            data=form,
            files={"file": ("схема.png", PNG, "image/png")},
        )
        assert r.status_code == 303 and r.headers["location"].startswith(back), r.text
        page = await client.get(back)
        link = re.search(r'href="/admin/web/journal/files/(\d+)" download>схема.png', page.text)
        assert link, page.text
        got = await client.get(f"/admin/web/journal/files/{link.group(1)}")
        assert got.status_code == 200 and got.content == PNG
        assert got.headers["content-type"] == "image/png"
        # A second file joins the first on the same homework.
        r = await client.post(
            "/admin/web/journal/homework/files",
            data=form,
            files={"file": ("ответы.pdf", b"%PDF-1.4\n" + b"x" * 40, "application/pdf")},
        )
        assert r.status_code == 303
        # A program named like a picture: refused by its first bytes, nothing stored or tied.
        r = await client.post(
            "/admin/web/journal/homework/files",
            data=form,
            files={"file": ("photo.png", b"MZ\x90\x00" + b"\x00" * 60, "image/png")},
        )
        assert r.status_code == 400 and re.search("[а-я]", r.text)
        r = await client.post(
            "/admin/web/journal/homework/files", data=form, files={"file": ("a.exe", b"x", "a/b")}
        )
        assert r.status_code == 400
        r = await client.post("/admin/web/journal/homework/files", data=form)
        assert r.status_code == 400 and "«файл»" in r.text
        # The homework's text saved by HTMX: the answer keeps the files and the upload form,
        # which returns to the page the request came from (never another site).
        token = {"X-CSRF-Token": csrf or ""}
        grid = (await client.get(back)).text
        saved = re.search(r'name="homework_id" value="(\d+)">\s*<input type="hidden" '
                          r'name="base_version" value="(\d+)"', grid)  # fmt: skip
        assert saved
        r = await client.post(
            "/admin/web/journal/homework",
            data={
                "lesson_id": lesson_id,
                "op_id": "web-hw-files-1",
                "text": "Решить по схеме",
                "homework_id": saved.group(1),
                "base_version": saved.group(2),
            },
            headers={**token, "HX-Current-URL": f"http://parta.test{back}"},
        )
        assert r.status_code == 200 and ">схема.png</a>" in r.text
        assert f'name="back" value="{back.replace("&", "&amp;")}"' in r.text
        r = await client.post(
            "/admin/web/journal/homework",
            data={"lesson_id": lesson_id, "op_id": "web-hw-files-2", "text": "x"},
            headers={**token, "HX-Current-URL": "https://evil.example/admin/web/journal"},
        )
        assert r.status_code == 200 and "evil.example" not in r.text  # only the path is kept
        r = await client.post(
            "/admin/web/journal/homework/files",
            data={**form, "csrf": "forged"},
            files={"file": ("b.png", PNG, "image/png")},
        )
        assert r.status_code == 403
    # The first homework kept its files through the text's edit; the second has none.
    homework = await Homework.select(Homework.attachments).order_by(Homework.id)
    assert len(homework) == 2
    files = homework[0]["attachments"]
    files = json.loads(files) if isinstance(files, str) else files
    assert [f["file_name"] for f in files] == ["схема.png", "ответы.pdf"]
    assert await Attachment.count() == 2

    async with signed_in(world, jw.other_teacher) as client:
        r = await client.post(
            "/admin/web/journal/homework/files",
            data={"csrf": client.cookies.get("parta_admin_csrf"), "lesson_id": str(lesson_id)},
            files={"file": ("c.png", PNG, "image/png")},
        )
        assert r.status_code == 403 and "Это не ваш урок" in r.text
    assert await Attachment.count() == 2


async def test_lessons_of_study_groups_show_in_the_grid(world: Backend) -> None:
    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    group = StudyGroup(
        school=school, academic_year=jw.year_id, name="Группа 1", school_class=jw.class_id
    )
    await group.save()
    for pupil in jw.pupils[:2]:
        await StudyGroupMember(
            group=group.id, student=pupil, valid_from=today() - timedelta(days=100)
        ).save()
    lesson = Lesson(
        school=school,
        date=today() - timedelta(days=1),
        lesson_number=3,
        study_group=group.id,
        subject=jw.subject_id,
        teacher=jw.teacher_staff,
    )
    await lesson.save()
    async with signed_in(world, jw.teacher) as client:
        page = await client.get(grid_url(jw))
        assert page.status_code == 200
        assert '<span class="group">Группа 1</span>' in page.text
        member = f'data-lesson="{lesson.id}" data-pupil="{jw.pupils[0]}"'
        outsider = page.text.split(f'data-lesson="{lesson.id}" data-pupil="{jw.pupils[3]}"')[1]
        assert member in page.text
        assert 'data-lock="Не в этой группе"' in outsider.split("</td>", 1)[0]
        r = await cell(client, lesson.id, jw.pupils[0], action="mark", value="4")
        assert r.status_code == 200 and '<span class="mark">4</span>' in r.text
        r = await cell(client, lesson.id, jw.pupils[3], action="mark", value="4", work_kind="test")
        assert r.status_code == 400 and re.search("[а-я]", r.text)
