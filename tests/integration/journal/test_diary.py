"""The diary: a pupil's week for the family, ETag and 304, invalidation by writes, who may read."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from backend.audit.tables import AuditEntry
from backend.core.rights import Grant, Permission, Role, ScopeKind
from backend.journal import diary
from backend.journal.tables import DiaryWeek
from tests.conftest import Backend
from tests.integration.journal.arrange import (
    attendance,
    guardian_of,
    make_journal_world,
    mark,
    today,
)
from tests.support import SignedIn, sign_in


def op() -> str:
    return uuid.uuid4().hex


async def sync(world: Backend, who: SignedIn, lesson_id: int, ops: list[dict[str, Any]]) -> None:
    response = await world.client.post(
        f"/api/v1/journal/lessons/{lesson_id}/sync", json={"operations": ops}, headers=who.headers
    )
    assert response.status_code == 200, response.text


def week_url(student_id: int) -> str:
    return f"/api/v1/diary/students/{student_id}/week?date={today().isoformat()}"


def lessons_of(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [lesson for day in body["days"] for lesson in day["lessons"]]


async def test_the_week_shows_the_lesson_and_an_unchanged_week_answers_304(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    lesson_id = jw.lessons["today"]
    await sync(
        world,
        jw.teacher,
        lesson_id,
        [
            attendance(op(), pupil, "late", late_minutes=7),
            mark(op(), pupil, "5", work_kind="test"),
            {"op_id": op(), "kind": "topic", "topic": "Проценты"},
            {"op_id": op(), "kind": "homework", "text": "Параграф 4"},
        ],
    )
    parent = await guardian_of(world, pupil)
    first = await world.client.get(week_url(pupil), headers=parent.headers)
    assert first.status_code == 200, first.text
    etag = first.headers["etag"]
    lesson = next(x for x in lessons_of(first.json()) if x["lesson_id"] == lesson_id)
    assert lesson["topic"] == "Проценты" and lesson["subject"] == "Математика"
    assert lesson["marks"][0]["value"] == "5" and lesson["marks"][0]["weight"] == 2
    assert lesson["attendance"] == {"status": "late", "late_minutes": 7, "reason": ""}
    assert lesson["homework"][0]["text"] == "Параграф 4"
    assert lesson["teacher"] == "Смирнова О. И."

    again = await world.client.get(
        week_url(pupil), headers={**parent.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    # From the cache (no projection read): drop the projection row and ask again.
    await DiaryWeek.delete(force=True)
    cached = await world.client.get(
        week_url(pupil), headers={**parent.headers, "If-None-Match": etag}
    )
    assert cached.status_code == 304

    # A new mark changes the week: a new ETag, the mark is there.
    await sync(world, jw.teacher, lesson_id, [mark(op(), pupil, "4")])
    changed = await world.client.get(
        week_url(pupil), headers={**parent.headers, "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    lesson = next(x for x in lessons_of(changed.json()) if x["lesson_id"] == lesson_id)
    assert sorted(m["value"] for m in lesson["marks"]) == ["4", "5"]


async def test_a_write_for_one_pupil_leaves_another_pupils_week_cached(world: Backend) -> None:
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[1])
    first = await world.client.get(week_url(jw.pupils[1]), headers=parent.headers)
    await sync(world, jw.teacher, jw.lessons["today"], [mark(op(), jw.pupils[0], "5")])
    again = await world.client.get(
        week_url(jw.pupils[1]), headers={**parent.headers, "If-None-Match": first.headers["etag"]}
    )
    assert again.status_code == 304


async def test_a_write_has_the_weeks_projection_rebuilt_before_anyone_reads(
    world: Backend,
) -> None:
    """The family's first read after a lesson is saved finds the week's projection row (one
    indexed query), built in the background after the save, not by the reader."""
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    parent = await guardian_of(world, pupil)
    before = await world.client.get(week_url(pupil), headers=parent.headers)
    monday = today() - timedelta(days=today().weekday())
    await sync(world, jw.teacher, jw.lessons["today"], [mark(op(), pupil, "3")])
    await world.app.state.diary_weeks.settled()
    row = (
        await DiaryWeek.select()
        .where((DiaryWeek.student == pupil) & (DiaryWeek.week_start == monday))
        .first()
    )
    assert row is not None and row["body"] is not None and row["version"] >= 2
    assert '"value":"3"' in row["body"]
    # The reader takes that row as it is: same version, same body.
    await world.redis.flushdb()
    after = await world.client.get(week_url(pupil), headers=parent.headers)
    assert after.headers["etag"] != before.headers["etag"]
    assert f"-{row['version']}-" in after.headers["etag"]
    assert after.content == row["body"].encode()


async def test_weeks_built_together_are_each_pupils_own(world: Backend) -> None:
    """The background rebuild builds a lesson's pupils' weeks in one go: each is exactly the
    week built for that pupil alone, with nobody else's marks or absences."""
    jw = await make_journal_world(world)
    first, second, third = jw.pupils[:3]
    await sync(
        world,
        jw.teacher,
        jw.lessons["today"],
        [
            mark(op(), first, "5"),
            mark(op(), second, "2"),
            attendance(op(), second, "absent"),
            attendance(op(), third, "late", late_minutes=3),
        ],
    )
    monday = today() - timedelta(days=today().weekday())
    together = await diary.build_weeks([first, second, third], monday)
    for pupil in (first, second, third):
        assert together[pupil] == await diary.build_week(pupil, monday)
    values = {
        pupil: [m["value"] for lesson in lessons_of(week) for m in lesson["marks"]]
        for pupil, week in together.items()
    }
    assert values == {first: ["5"], second: ["2"], third: []}
    absences = {
        pupil: [
            lesson["attendance"]["status"] for lesson in lessons_of(week) if lesson["attendance"]
        ]
        for pupil, week in together.items()
    }
    assert absences == {first: [], second: ["absent"], third: ["late"]}


async def test_a_parent_is_refused_another_familys_child(world: Backend) -> None:
    jw = await make_journal_world(world)
    parent = await guardian_of(world, jw.pupils[0])
    for url in (
        week_url(jw.pupils[1]),
        f"/api/v1/diary/students/{jw.pupils[1]}/marks",
        f"/api/v1/diary/students/{jw.pupils[1]}/news",
    ):
        response = await world.client.get(url, headers=parent.headers)
        assert response.status_code == 404, url
    missing = await world.client.get(week_url(10_000_000), headers=parent.headers)
    assert missing.status_code == 404


async def test_who_may_read_the_diary(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    itself = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, pupil))
    delegate = await sign_in(
        world,
        Grant(Role.DELEGATE, ScopeKind.STUDENT, pupil, parts=frozenset({Permission.DIARY_READ})),
    )
    meals_only = await sign_in(
        world,
        Grant(Role.DELEGATE, ScopeKind.STUDENT, pupil, parts=frozenset({Permission.MEALS_ORDER})),
    )
    class_teacher = await sign_in(world, Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, jw.class_id))
    for who in (itself, delegate, class_teacher):
        response = await world.client.get(week_url(pupil), headers=who.headers)
        assert response.status_code == 200, response.text
    assert (await world.client.get(week_url(pupil), headers=meals_only.headers)).status_code == 403
    # A staff read of a pupil's diary is audited; the family's own reads are not.
    reads = await AuditEntry.select().where(AuditEntry.object_type == "diary_week")
    assert [r["actor_user_id"] for r in reads] == [class_teacher.user_id]


async def test_marks_by_subject_with_weighted_average(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    await sync(
        world,
        jw.teacher,
        jw.lessons["today"],
        [
            mark(op(), pupil, "5", work_kind="answer"),
            mark(op(), pupil, "3", work_kind="test"),
        ],
    )
    parent = await guardian_of(world, pupil)
    since = (today() - timedelta(days=60)).isoformat()
    response = await world.client.get(
        f"/api/v1/diary/students/{pupil}/marks?date_from={since}", headers=parent.headers
    )
    assert response.status_code == 200, response.text
    subject = response.json()["subjects"][0]
    assert subject["subject"] == "Математика"
    assert subject["average"] == 4.0
    assert subject["weighted_average"] == round((5 * 1 + 3 * 2) / 3, 2)


async def test_news_are_per_reader(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    mother = await guardian_of(world, pupil)
    father = await guardian_of(world, pupil)
    await sync(world, jw.teacher, jw.lessons["today"], [mark(op(), pupil, "5")])
    seen = await world.client.post(f"/api/v1/diary/students/{pupil}/seen", headers=mother.headers)
    assert seen.status_code == 200
    mother_news = (
        await world.client.get(f"/api/v1/diary/students/{pupil}/news", headers=mother.headers)
    ).json()
    father_news = (
        await world.client.get(f"/api/v1/diary/students/{pupil}/news", headers=father.headers)
    ).json()
    assert mother_news["marks"] == []
    assert [m["value"] for m in father_news["marks"]] == ["5"]
    # named by the server: the app's week may not hold the subject's lessons
    assert father_news["marks"][0]["subject_name"] == "Математика"


async def test_a_pupil_ticks_homework_done(world: Backend) -> None:
    jw = await make_journal_world(world)
    pupil = jw.pupils[0]
    response = await world.client.post(
        f"/api/v1/journal/lessons/{jw.lessons['today']}/sync",
        json={"operations": [{"op_id": op(), "kind": "homework", "text": "Упр. 5"}]},
        headers=jw.teacher.headers,
    )
    homework_id = response.json()["results"][0]["id"]
    itself = await sign_in(world, Grant(Role.PUPIL, ScopeKind.STUDENT, pupil))
    parent = await guardian_of(world, pupil)
    url = f"/api/v1/diary/students/{pupil}/homework/{homework_id}/done"
    assert (await world.client.post(url, headers=parent.headers)).status_code == 403
    before = await world.client.get(week_url(pupil), headers=itself.headers)
    ticked = await world.client.post(url, headers=itself.headers)
    assert ticked.status_code == 200, ticked.text
    after = await world.client.get(
        week_url(pupil), headers={**itself.headers, "If-None-Match": before.headers["etag"]}
    )
    assert after.status_code == 200
    lesson = next(x for x in lessons_of(after.json()) if x["lesson_id"] == jw.lessons["today"])
    assert lesson["homework"][0]["done"] is True


async def test_homework_attachment_round_trip(world: Backend) -> None:
    jw = await make_journal_world(world)
    lesson_id = jw.lessons["today"]
    upload = await world.client.post(
        f"/api/v1/journal/lessons/{lesson_id}/attachments",
        files={"data": ("задание.pdf", b"%PDF-1.4 content", "application/pdf")},
        headers=jw.teacher.headers,
    )
    assert upload.status_code == 201, upload.text
    attachment_id = upload.json()["id"]
    await sync(
        world,
        jw.teacher,
        lesson_id,
        [
            {
                "op_id": op(),
                "kind": "homework",
                "text": "См. файл",
                "attachment_ids": [attachment_id],
            },
        ],
    )
    parent = await guardian_of(world, jw.pupils[0])
    week = await world.client.get(week_url(jw.pupils[0]), headers=parent.headers)
    lesson = next(x for x in lessons_of(week.json()) if x["lesson_id"] == lesson_id)
    assert lesson["homework"][0]["attachments"][0]["file_name"] == "задание.pdf"
    download = await world.client.get(
        f"/api/v1/journal/attachments/{attachment_id}", headers=parent.headers
    )
    assert download.status_code == 200
    assert download.content == b"%PDF-1.4 content"
    stranger = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, 10_000_001))
    refused = await world.client.get(
        f"/api/v1/journal/attachments/{attachment_id}", headers=stranger.headers
    )
    assert refused.status_code == 404
    empty = await world.client.post(
        f"/api/v1/journal/lessons/{lesson_id}/attachments",
        files={"data": ("пусто.txt", b"", "text/plain")},
        headers=jw.teacher.headers,
    )
    assert empty.status_code == 400


async def test_a_homework_carries_documents_not_programs(world: Backend) -> None:
    jw = await make_journal_world(world)
    url = f"/api/v1/journal/lessons/{jw.lessons['today']}/attachments"

    async def upload(name: str, content: bytes, claimed: str) -> Any:
        files = {"data": (name, content, claimed)}
        return await world.client.post(url, files=files, headers=jw.teacher.headers)

    program = await upload("игра.exe", b"MZ\x90\x00 program", "application/octet-stream")
    assert program.status_code == 400
    assert "игра.exe" in program.json()["message"]
    assert "pdf" in program.json()["message"]
    page = await upload("ответы.html", b"<script>alert(1)</script>", "text/html")
    assert page.status_code == 400
    disguised = await upload("задание.pdf", b"MZ\x90\x00 program", "application/pdf")
    assert disguised.status_code == 400
    assert "программа" in disguised.json()["message"]

    # The type served follows the name, not what the uploader's browser claimed.
    stored = await upload("Задание.JPG", b"\xff\xd8\xff\xe0 jpeg", "text/html")
    assert stored.status_code == 201, stored.text
    assert stored.json()["content_type"] == "image/jpeg"
    await sync(
        world,
        jw.teacher,
        jw.lessons["today"],
        [
            {
                "op_id": op(),
                "kind": "homework",
                "text": "Фото",
                "attachment_ids": [stored.json()["id"]],
            }
        ],
    )
    served = await world.client.get(
        f"/api/v1/journal/attachments/{stored.json()['id']}", headers=jw.teacher.headers
    )
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-disposition"].startswith("attachment;")


async def test_without_a_date_the_week_is_todays_on_the_schools_clock(world: Backend) -> None:
    from datetime import UTC, datetime

    from backend.core.days import today_in
    from backend.schools.people import movement
    from backend.schools.tables import School

    # A zone whose date differs from UTC's right now (the case a UTC "today" gets wrong).
    zone = "Pacific/Kiritimati" if datetime.now(UTC).hour >= 10 else "Pacific/Pago_Pago"
    local = today_in(zone)
    assert local != datetime.now(UTC).date()
    jw = await make_journal_world(world)
    school = jw.ids["school_a"]
    await School.update({School.time_zone: zone}).where(School.id == school)
    assert await movement.school_today(school) == local
    assert await movement.pupil_today(jw.pupils[0]) == local
    parent = await guardian_of(world, jw.pupils[0])
    response = await world.client.get(
        f"/api/v1/diary/students/{jw.pupils[0]}/week", headers=parent.headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["week_start"] == (local - timedelta(days=local.weekday())).isoformat()


async def test_weeks_are_built_ahead_for_pupils_who_have_none(world: Backend) -> None:
    import msgspec

    from backend.journal.lessons import week_start
    from notifications.worker import CRON_JOBS, diary_weeks_ahead

    jw = await make_journal_world(world)
    reader, others = jw.pupils[0], jw.pupils[1:]
    monday = week_start(today())
    parent = await guardian_of(world, reader)
    first = await world.client.get(week_url(reader), headers=parent.headers)
    etag = first.headers["etag"]
    assert await DiaryWeek.count().where(DiaryWeek.week_start == monday) == 1

    # The nightly job (this week and the next), as the worker runs it.
    assert diary_weeks_ahead in [job.function for job in CRON_JOBS]
    assert await diary_weeks_ahead({}) == len(others) + len(jw.pupils)
    rows = {r["student"]: r for r in await DiaryWeek.select().where(DiaryWeek.week_start == monday)}
    assert set(rows) == set(jw.pupils) and all(r["body"] for r in rows.values())
    for pupil in others:  # each what its reader would have built
        built = msgspec.json.encode(await diary.build_week(pupil, monday))
        assert msgspec.json.decode(rows[pupil]["body"]) == msgspec.json.decode(built)
    # The reader's row was left alone: same version, the same ETag still answers 304.
    again = await world.client.get(
        week_url(reader), headers={**parent.headers, "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert await diary.build_weeks_ahead(monday) == 0  # nothing left to build
