"""The timetable through the API: entries and their conflict checks, generation of lessons
(holidays, idempotence, journal content kept), and changes to one lesson with their events.
Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from piccolo.columns import ForeignKey, Text
from piccolo.table import Table, create_table_class

from backend.audit.tables import AuditEntry
from backend.core.rights import Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.schools.tables import Enrollment, Lesson, Staff, Student, TeachingAssignment
from tests.conftest import Backend
from tests.integration.schools.structure_world import SchoolWorld, school_world
from tests.support import grant, sign_in

MONDAY = date(2026, 9, 7)


async def timetable_world(
    world: Backend, *, assign_all: bool = True
) -> tuple[SchoolWorld, dict[str, Any]]:
    """5А, 5Б (first shift), 9А (second), three subjects, two rooms, 5А's English in two groups.
    `assign_all` gives every teacher a teaching assignment for every subject in every class and
    group, so that tests about other rules need not arrange them one by one."""
    sw = await school_world(world)
    ids: dict[str, Any] = {}
    for grade, letter, shift in ((5, "А", 1), (5, "Б", 1), (9, "А", 2)):
        c = await sw.ok(
            "POST",
            "/classes",
            {"academic_year_id": sw.year_id, "grade": grade, "letter": letter, "shift": shift},
        )
        ids[f"{grade}{letter}"] = c["id"]
    for name in ("Математика", "Русский язык", "Английский язык"):
        ids[name] = (await sw.ok("POST", "/subjects", {"name": name}))["id"]
    for room in ("204", "301"):
        ids[room] = (await sw.ok("POST", "/rooms", {"name": room}))["id"]
    for n, label in ((1, "англ1"), (2, "англ2")):
        g = await sw.ok(
            "POST",
            "/groups",
            {
                "academic_year_id": sw.year_id,
                "name": f"5А английский {n}",
                "school_class_id": ids["5А"],
                "subject_id": ids["Английский язык"],
            },
        )
        ids[label] = g["id"]
    if assign_all:
        await TeachingAssignment.insert(
            *[
                TeachingAssignment(
                    academic_year=sw.year_id,
                    teacher=sw.staff[teacher],
                    subject=ids[subject],
                    school_class=ids[who] if who in ("5А", "5Б", "9А") else None,
                    study_group=ids[who] if who in ("англ1", "англ2") else None,
                )
                for teacher in ("ivanova", "petrov", "sidorova")
                for subject in ("Математика", "Русский язык", "Английский язык")
                for who in ("5А", "5Б", "9А", "англ1", "англ2")
            ]
        )
    return sw, ids


def entry(
    ids: dict[str, Any],
    *,
    weekday: int = 1,
    number: int = 1,
    who: str = "5А",
    subject: str = "Математика",
    teacher: int,
    room: str | None = None,
    valid_from: str = "2026-09-01",
    valid_to: str = "2027-05-31",
    group: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "weekday": weekday,
        "lesson_number": number,
        "subject_id": ids[subject],
        "teacher_id": teacher,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    if group:
        body["study_group_id"] = ids[group]
    else:
        body["school_class_id"] = ids[who]
    if room:
        body["room_id"] = ids[room]
    return body


async def test_timetable_conflicts_are_refused_and_named(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov = sw.staff["ivanova"], sw.staff["petrov"]
    r = await sw.post("/timetable", entry(ids, teacher=ivanova, room="204"))
    assert r.status_code == 201, r.text

    # The same teacher in another class at the same time.
    r = await sw.post("/timetable", entry(ids, who="5Б", teacher=ivanova))
    assert r.status_code == 409
    body = r.json()
    assert body["message"] == (
        "Учитель Иванова М. П. уже ведёт урок в 5«А» (Математика) в понедельник, 1-й урок."
    )
    assert body["details"]["conflict"] == "teacher"
    # The same room.
    r = await sw.post("/timetable", entry(ids, who="5Б", teacher=petrov, room="204"))
    assert r.status_code == 409
    assert "Кабинет «204» уже занят: 5«А», Математика, в понедельник" in r.json()["message"]
    # The same class with another teacher.
    r = await sw.post("/timetable", entry(ids, teacher=petrov, subject="Русский язык", room="301"))
    assert r.status_code == 409
    assert r.json()["message"] == "У 5«А» уже стоит Математика в понедельник, 1-й урок."
    # A group of that class clashes with the whole-class lesson too.
    r = await sw.post(
        "/timetable",
        entry(ids, teacher=petrov, subject="Английский язык", group="англ1", room="301"),
    )
    assert r.status_code == 409 and r.json()["details"]["conflict"] == "class"

    # Two groups of one class may have lessons at the same time, in different rooms.
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(
                    ids,
                    number=2,
                    teacher=petrov,
                    subject="Английский язык",
                    group="англ1",
                    room="204",
                ),
                entry(
                    ids,
                    number=2,
                    teacher=sw.staff["sidorova"],
                    subject="Английский язык",
                    group="англ2",
                    room="301",
                ),
            ]
        },
    )
    assert r.status_code == 201, r.text
    # ...but not one group twice.
    r = await sw.post(
        "/timetable",
        entry(ids, number=2, teacher=ivanova, subject="Английский язык", group="англ1"),
    )
    assert r.status_code == 409 and "5«А» (5А английский 1)" in r.json()["message"]

    # Validity dates that do not overlap do not clash.
    r = await sw.post("/timetable", entry(ids, number=3, teacher=ivanova, valid_to="2026-12-28"))
    assert r.status_code == 201
    r = await sw.post(
        "/timetable",
        entry(ids, number=3, teacher=ivanova, who="5Б", valid_from="2027-01-11"),
    )
    assert r.status_code == 201

    # A conflict inside one bulk request refuses the whole request.
    before = len((await sw.get("/timetable")).json()["items"])
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=2, number=1, teacher=ivanova, who="5А"),
                entry(ids, weekday=2, number=1, teacher=ivanova, who="5Б"),
            ]
        },
    )
    assert r.status_code == 409
    assert "во вторник, 1-й урок" in r.json()["message"]
    assert len((await sw.get("/timetable")).json()["items"]) == before

    # Shifts: with bells, the second shift's lesson 1 is not the first shift's lesson 1...
    for shift, start in ((1, 8), (2, 13)):
        bells = [
            {
                "lesson_number": n,
                "starts_at": f"{start + n - 1:02d}:00",
                "ends_at": f"{start + n - 1:02d}:45",
            }
            for n in range(1, 7)
        ]
        r = await world.client.put(
            sw.url(f"/bells/{shift}"), json={"bells": bells}, headers=sw.coordinator.headers
        )
        assert r.status_code == 200
    r = await sw.post("/timetable", entry(ids, number=1, who="9А", teacher=ivanova))
    assert r.status_code == 201, r.text
    # ...but the second shift's lesson 1 (13:00) is the first shift's lesson 6 (13:00).
    r = await sw.post("/timetable", entry(ids, number=6, who="5Б", teacher=ivanova))
    assert r.status_code == 409 and "9«А»" in r.json()["message"]

    # Bad input: both class and group, a teacher of another school, dates reversed.
    both = {**entry(ids, weekday=4, teacher=petrov), "study_group_id": ids["англ1"]}
    assert (await sw.post("/timetable", both)).status_code == 400
    r = await sw.post("/timetable", entry(ids, weekday=4, teacher=sw.staff["other_school"]))
    assert r.status_code == 400
    r = await sw.post(
        "/timetable",
        entry(ids, weekday=4, teacher=petrov, valid_from="2027-01-01", valid_to="2026-12-01"),
    )
    assert r.status_code == 400
    r = await sw.post("/timetable", entry(ids, weekday=4, teacher=petrov, valid_to="2027-09-30"))
    assert r.status_code == 400 and "2026/2027" in r.json()["message"]
    # Changing an entry's teacher is checked too.
    r = await sw.post("/timetable", entry(ids, who="5Б", teacher=petrov, room="301"))
    assert r.status_code == 201, r.text
    first = next(
        e
        for e in (await sw.get("/timetable")).json()["items"]
        if e["weekday"] == 1 and e["lesson_number"] == 1 and e["school_class"] == ids["5А"]
    )
    r = await sw.patch(f"/timetable/{first['id']}", {"teacher_id": petrov})
    assert r.status_code == 409 and "Петров С. И." in r.json()["message"]
    # Another school's coordinator: 404.
    other = await sign_in(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, sw.ids["school_b"])
    )
    assert (
        await sw.post("/timetable", entry(ids, weekday=5, teacher=petrov), who=other)
    ).status_code == 404


async def _generate(sw: SchoolWorld, starts: str, ends: str) -> dict[str, int]:
    r = await sw.post("/lessons/generate", {"date_from": starts, "date_to": ends})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def test_generation_skips_holidays_and_is_idempotent(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov = sw.staff["ivanova"], sw.staff["petrov"]
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=1, number=1, teacher=ivanova, room="204"),
                entry(ids, weekday=3, number=2, teacher=ivanova, room="204"),
                entry(ids, weekday=1, number=1, who="9А", teacher=petrov, room="301"),
            ]
        },
    )
    assert r.status_code == 201
    # Autumn holidays for everyone; a grade-9 exam day on Monday 21 September.
    await sw.ok(
        "POST",
        f"/years/{sw.year_id}/holidays",
        {"name": "Осенние каникулы", "starts_on": "2026-10-26", "ends_on": "2026-11-03"},
    )
    await sw.ok(
        "POST",
        f"/years/{sw.year_id}/holidays",
        {"name": "Экзамен", "starts_on": "2026-09-21", "ends_on": "2026-09-21", "grades": [9]},
    )
    # September 1..30 has Mondays 7, 14, 21, 28 and Wednesdays 2, 9, 16, 23, 30.
    result = await _generate(sw, "2026-09-01", "2026-09-30")
    assert result == {
        "created": 4 + 5 + 3,
        "updated": 0,
        "removed": 0,
        "kept": 0,
        "kept_with_content": 0,
    }
    lessons = (await sw.get("/lessons", date_from="2026-09-01", date_to="2026-09-30")).json()[
        "items"
    ]
    ninth = [l_["date"] for l_ in lessons if l_["school_class"] == ids["9А"]]
    assert ninth == ["2026-09-07", "2026-09-14", "2026-09-28"]
    # A second run changes nothing; nor does an overlapping range duplicate anything.
    again = await _generate(sw, "2026-09-01", "2026-09-30")
    assert again["created"] == 0 and again["kept"] == 12
    await _generate(sw, "2026-09-15", "2026-11-08")
    october = (await sw.get("/lessons", date_from="2026-10-01", date_to="2026-11-08")).json()[
        "items"
    ]
    assert not [l_ for l_ in october if "2026-10-26" <= l_["date"] <= "2026-11-03"]
    assert len(october) == len(
        {(l_["date"], l_["lesson_number"], l_["school_class"]) for l_ in october}
    )
    total = await Lesson.count().where(Lesson.school == sw.school_id)
    assert total == 12 + len(october)

    # A lesson with a topic, and one with journal content (a row of another table that refers
    # to it), survive the entry ending early; untouched ones after the new end go.
    monday_entry = next(
        e
        for e in (await sw.get("/timetable")).json()["items"]
        if e["school_class"] == ids["5А"] and e["weekday"] == 1
    )
    sept_14 = (
        await Lesson.select(Lesson.id)
        .where((Lesson.timetable_entry == monday_entry["id"]) & (Lesson.date == date(2026, 9, 14)))
        .first()
    )
    sept_28 = (
        await Lesson.select(Lesson.id)
        .where((Lesson.timetable_entry == monday_entry["id"]) & (Lesson.date == date(2026, 9, 28)))
        .first()
    )
    await Lesson.update({Lesson.topic: "Натуральные числа", Lesson.version: 2}).where(
        Lesson.id == sept_14["id"]
    )
    note_table = await _journal_like_table(world)
    try:
        await note_table.insert(note_table(lesson=sept_28["id"], text="отметка"))
        r = await sw.patch(f"/timetable/{monday_entry['id']}", {"valid_to": "2026-09-13"})
        assert r.status_code == 200, r.text
        left = {
            r_["date"]
            for r_ in await Lesson.select(Lesson.date).where(
                Lesson.timetable_entry == monday_entry["id"]
            )
        }
        assert left == {date(2026, 9, 7), date(2026, 9, 14), date(2026, 9, 28)}
        # Regenerating keeps them too and says so.
        result = await _generate(sw, "2026-09-01", "2026-11-08")
        assert result["created"] == 0 and result["kept_with_content"] == 2
        # Deleting the entry is refused while such lessons exist.
        r = await world.client.delete(
            sw.url(f"/timetable/{monday_entry['id']}"), headers=sw.coordinator.headers
        )
        assert r.status_code == 409 and "2" in r.json()["message"]
    finally:
        await _drop_journal_like_table(world, note_table)

    # Changing the teacher of an entry moves its untouched lessons to the new teacher.
    wednesday = next(e for e in (await sw.get("/timetable")).json()["items"] if e["weekday"] == 3)
    r = await sw.patch(f"/timetable/{wednesday['id']}", {"teacher_id": sw.staff["sidorova"]})
    assert r.status_code == 200
    teachers = {
        r_["teacher"]
        for r_ in await Lesson.select(Lesson.teacher).where(
            Lesson.timetable_entry == wednesday["id"]
        )
    }
    assert teachers == {sw.staff["sidorova"]}
    # Bad ranges are refused clearly.
    r = await sw.post("/lessons/generate", {"date_from": "2026-09-30", "date_to": "2026-09-01"})
    assert r.status_code == 400
    r = await sw.post("/lessons/generate", {"date_from": "2026-09-01", "date_to": "2028-09-01"})
    assert r.status_code == 400
    r = await sw.post("/lessons/generate", {"date_from": "2030-09-01", "date_to": "2030-09-30"})
    assert r.status_code == 400 and "нет учебного года" in r.json()["message"]
    assert await AuditEntry.count().where(AuditEntry.action == "lessons.generate") >= 4


async def _journal_like_table(world: Backend) -> type[Table]:
    """A stand-in for a journal table that refers to lessons (the journal issue adds real ones);
    created for this test only and forgotten afterwards."""
    table = create_table_class(
        "LessonNoteForTest",
        class_kwargs={"tablename": "lesson_note_for_test"},
        class_members={
            "lesson": ForeignKey(Lesson),
            "text": Text(),
        },
    )
    table._meta.db = world.engine
    await table.create_table(if_not_exists=True)
    return table


async def _drop_journal_like_table(world: Backend, table: type[Table]) -> None:
    await table.delete(force=True)
    await world.engine.run_ddl('DROP TABLE IF EXISTS "lesson_note_for_test"')
    refs = Lesson._meta._foreign_key_references
    refs[:] = [fk for fk in refs if fk._meta.table is not table]


async def test_changing_one_lesson(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov, sidorova = sw.staff["ivanova"], sw.staff["petrov"], sw.staff["sidorova"]
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=1, number=1, teacher=ivanova, room="204"),
                entry(ids, weekday=1, number=2, teacher=ivanova, room="204"),
                entry(
                    ids,
                    weekday=1,
                    number=1,
                    who="5Б",
                    subject="Русский язык",
                    teacher=petrov,
                    room="301",
                ),
            ]
        },
    )
    assert r.status_code == 201
    await sw.ok(
        "POST",
        f"/years/{sw.year_id}/holidays",
        {"name": "Осенние каникулы", "starts_on": "2026-10-26", "ends_on": "2026-11-03"},
    )
    await _generate(sw, "2026-09-01", "2026-09-30")
    lessons = (await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-07")).json()[
        "items"
    ]
    first = next(
        l_ for l_ in lessons if l_["school_class"] == ids["5А"] and l_["lesson_number"] == 1
    )
    url = f"/lessons/{first['id']}"

    # Replacement: Petrov is busy in 5Б at that time.
    r = await sw.post(url + "/replacement", {"teacher_id": petrov})
    assert r.status_code == 409
    assert r.json()["message"] == (
        "Учитель Петров С. И. уже ведёт урок в 5«Б» (Русский язык) 07.09.2026, 1-й урок."
    )
    r = await sw.post(url + "/replacement", {"teacher_id": sidorova, "version": 1})
    assert r.status_code == 200, r.text
    assert r.json()["replacement_teacher"] == sidorova and r.json()["version"] == 2
    # A stale version is refused, nothing is overwritten.
    r = await sw.post(url + "/room", {"room_id": ids["301"], "version": 1})
    assert r.status_code == 409 and "версия 2" in r.json()["message"]
    # Room change: 301 is taken by 5Б.
    r = await sw.post(url + "/room", {"room_id": ids["301"]})
    assert r.status_code == 409 and "Кабинет «301» уже занят" in r.json()["message"]
    # Sidorova, now replacing, is busy at 1: moving 5Б's lesson to her can't happen either.
    other = next(l_ for l_ in lessons if l_["school_class"] == ids["5Б"])
    r = await sw.post(f"/lessons/{other['id']}/replacement", {"teacher_id": sidorova})
    assert r.status_code == 409 and "Сидорова А. О." in r.json()["message"]

    # Move: lesson 2 of 5А is taken at the target; a holiday is refused; a free slot works.
    r = await sw.post(url + "/move", {"date": "2026-09-07", "lesson_number": 2})
    assert r.status_code == 409 and "У 5«А» уже стоит Математика" in r.json()["message"]
    r = await sw.post(url + "/move", {"date": "2026-10-27", "lesson_number": 3})
    assert r.status_code == 400 and "Осенние каникулы" in r.json()["message"]
    r = await sw.post(url + "/move", {"date": "2026-09-08", "lesson_number": 3})
    assert r.status_code == 200, r.text
    moved = r.json()
    assert moved["original"]["status"] == "moved"
    assert moved["original"]["moved_to"] == moved["moved_to"]["id"]
    assert moved["moved_to"]["date"] == "2026-09-08"
    assert moved["moved_to"]["replacement_teacher"] == sidorova
    # A moved lesson cannot be changed again; regeneration does not bring it back.
    assert (await sw.post(url + "/cancel", {})).status_code == 409
    again = await _generate(sw, "2026-09-01", "2026-09-30")
    assert again["created"] == 0
    # Cancel 5Б's lesson.
    r = await sw.post(f"/lessons/{other['id']}/cancel", {"reason": "Учитель на курсах"})
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await sw.post(f"/lessons/{other['id']}/cancel", {})
    assert r.status_code == 409 and "отменён" in r.json()["message"]
    # A cancelled lesson frees its slot: Petrov can now replace at 07.09 lesson 1.
    second = next(
        l_ for l_ in lessons if l_["school_class"] == ids["5А"] and l_["lesson_number"] == 2
    )
    r = await sw.post(f"/lessons/{second['id']}/replacement", {"teacher_id": petrov})
    assert r.status_code == 200

    kinds = [
        r_["kind"]
        for r_ in await OutboxEvent.select(OutboxEvent.kind)
        .where(OutboxEvent.school_id == sw.school_id)
        .order_by(OutboxEvent.id)
    ]
    assert kinds == ["lesson.replaced", "lesson.moved", "lesson.cancelled", "lesson.replaced"]
    event = (
        await OutboxEvent.select(OutboxEvent.payload)
        .where(OutboxEvent.kind == "lesson.moved")
        .output(load_json=True)
        .first()
    )
    assert event["payload"]["new_date"] == "2026-09-08" and event["payload"]["who"] == "5«А»"
    actions = {
        r_["action"]
        for r_ in await AuditEntry.select(AuditEntry.action).where(
            AuditEntry.object_type == "lesson"
        )
    }
    assert {"lesson.replace", "lesson.move", "lesson.cancel"} <= actions


async def test_lessons_are_read_within_scope(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    await sw.ok("POST", "/timetable", entry(ids, teacher=sw.staff["ivanova"]))
    await sw.ok("POST", "/timetable", entry(ids, who="5Б", teacher=sw.staff["petrov"]))
    await _generate(sw, "2026-09-01", "2026-09-30")
    class_teacher = await sign_in(world, grant(Role.CLASS_TEACHER, ScopeKind.CLASS, ids["5А"]))
    r = await sw.get(
        "/lessons",
        who=class_teacher,
        date_from="2026-09-01",
        date_to="2026-09-30",
        class_id=ids["5А"],
    )
    assert r.status_code == 200 and r.json()["total"] == 4 and len(r.json()["items"]) == 4
    assert {l_["school_class"] for l_ in r.json()["items"]} == {ids["5А"]}
    r = await sw.get(
        "/lessons",
        who=class_teacher,
        date_from="2026-09-01",
        date_to="2026-09-30",
        class_id=ids["5Б"],
    )
    assert r.status_code == 404
    r = await sw.get("/lessons", who=class_teacher, date_from="2026-09-01", date_to="2026-09-30")
    assert r.status_code == 404
    teacher = await sign_in(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    r = await sw.get(
        "/lessons",
        who=teacher,
        date_from="2026-09-01",
        date_to="2026-09-30",
        teacher_id=sw.staff["petrov"],
    )
    assert r.status_code == 200 and {l_["school_class"] for l_ in r.json()["items"]} == {ids["5Б"]}
    r = await sw.get("/lessons", date_from="2026-09-01", date_to="2026-12-31")
    assert r.status_code == 400
    start = MONDAY - timedelta(days=0)
    assert start.isoweekday() == 1


async def test_lessons_and_timetable_entries_come_in_pages(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov = sw.staff["ivanova"], sw.staff["petrov"]
    await sw.ok(
        "POST",
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=day, number=n, who=who, teacher=teacher)
                for day in (1, 2, 3)
                for n in (1, 2)
                for who, teacher in (("5А", ivanova), ("5Б", petrov))
            ]
        },
    )
    await _generate(sw, "2026-09-07", "2026-09-20")  # two weeks: 2 x 12 lessons

    async def walk(path: str, page: int, **params: Any) -> tuple[list[dict[str, Any]], int]:
        seen: list[dict[str, Any]] = []
        offset, total = 0, -1
        while total < 0 or offset < total:
            r = await sw.get(path, limit=page, offset=offset, **params)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["limit"] == page and body["offset"] == offset
            assert len(body["items"]) <= page
            total = body["total"]
            seen += body["items"]
            offset += page
        return seen, total

    lessons, total = await walk("/lessons", 5, date_from="2026-09-07", date_to="2026-09-20")
    assert total == 24 and len({l_["id"] for l_ in lessons}) == 24
    order = [(l_["date"], l_["lesson_number"], l_["id"]) for l_ in lessons]
    assert order == sorted(order)
    # Filters apply to the count too.
    r = await sw.get(
        "/lessons", date_from="2026-09-07", date_to="2026-09-20", class_id=ids["5Б"], limit=2
    )
    assert r.json()["total"] == 12 and len(r.json()["items"]) == 2
    entries, total = await walk("/timetable", 4)
    assert total == 12 and len({e["id"] for e in entries}) == 12
    order = [(e["weekday"], e["lesson_number"], e["id"]) for e in entries]
    assert order == sorted(order)
    r = await sw.get("/timetable", teacher_id=petrov)
    assert r.json()["total"] == 6 and {e["teacher"] for e in r.json()["items"]} == {petrov}
    # Past the end: an empty page; bad page sizes are refused with a 400.
    r = await sw.get("/timetable", offset=100)
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["total"] == 12
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        r = await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-20", **bad)
        assert r.status_code == 400, (bad, r.text)
        assert (await sw.get("/timetable", **bad)).status_code == 400


async def test_lessons_only_on_study_days_and_numbers_with_a_bell(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    ivanova = sw.staff["ivanova"]
    # No bells yet: numbering starts at 1.
    r = await sw.post("/timetable", entry(ids, number=0, teacher=ivanova))
    assert r.status_code == 400 and "нумеруются с 1" in r.json()["message"], r.text
    # Sunday is not a study day (Monday to Saturday by default).
    r = await sw.post("/timetable", entry(ids, weekday=7, teacher=ivanova))
    assert r.status_code == 400 and "воскресенье" in r.json()["message"], r.text
    # With bells for the first shift, a number without a bell is refused; a zero lesson with
    # its own bell is fine.
    bells = [
        {"lesson_number": 0, "starts_at": "07:45", "ends_at": "08:20"},
        {"lesson_number": 1, "starts_at": "08:30", "ends_at": "09:15"},
        {"lesson_number": 2, "starts_at": "09:25", "ends_at": "10:10"},
    ]
    r = await world.client.put(
        sw.url("/bells/1"), json={"bells": bells}, headers=sw.coordinator.headers
    )
    assert r.status_code == 200, r.text
    r = await sw.post("/timetable", entry(ids, number=3, teacher=ivanova))
    assert r.status_code == 400 and "0, 1, 2" in r.json()["message"], r.text
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, number=0, teacher=ivanova),
                entry(ids, number=1, teacher=ivanova),
                entry(ids, weekday=6, number=1, teacher=ivanova),
            ]
        },
    )
    assert r.status_code == 201, r.text
    # A five-day school: Saturday entries are refused from then on.
    r = await sw.patch("/settings", {"study_days": [5, 4, 3, 2, 1, 1]})
    assert r.status_code == 200 and r.json()["settings"]["study_days"] == [1, 2, 3, 4, 5]
    r = await sw.post("/timetable", entry(ids, weekday=6, number=2, teacher=ivanova))
    assert r.status_code == 400 and "субботу" in r.json()["message"], r.text
    assert "понедельник, вторник, среда, четверг, пятница" in r.json()["message"]

    await _generate(sw, "2026-09-07", "2026-09-07")
    lessons = (await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-07")).json()[
        "items"
    ]
    first = next(
        l_ for l_ in lessons if l_["school_class"] == ids["5А"] and l_["lesson_number"] == 1
    )
    url = f"/lessons/{first['id']}/move"
    # Not to a Sunday, not to a Saturday of a five-day school, not to a number with no bell.
    r = await sw.post(url, {"date": "2026-09-13", "lesson_number": 2})
    assert r.status_code == 400 and "13.09.2026" in r.json()["message"], r.text
    r = await sw.post(url, {"date": "2026-09-12", "lesson_number": 2})
    assert r.status_code == 400 and "субботу" in r.json()["message"], r.text
    r = await sw.post(url, {"date": "2026-09-08", "lesson_number": 5})
    assert r.status_code == 400 and "нет звонка" in r.json()["message"], r.text
    r = await sw.post(url, {"date": "2026-09-08", "lesson_number": 2})
    assert r.status_code == 200, r.text


async def test_a_new_holiday_cancels_its_lessons_and_a_coordinator_can_restore_one(
    world: Backend,
) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov = sw.staff["ivanova"], sw.staff["petrov"]
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=1, number=1, teacher=ivanova),
                entry(ids, weekday=2, number=1, teacher=ivanova),
                entry(ids, weekday=1, number=1, who="9А", subject="Русский язык", teacher=petrov),
            ]
        },
    )
    assert r.status_code == 201, r.text
    await _generate(sw, "2026-09-07", "2026-09-13")

    def lesson_of(lessons: list[dict[str, Any]], day: str, who: str) -> dict[str, Any]:
        return next(l_ for l_ in lessons if l_["date"] == day and l_["school_class"] == ids[who])

    week = (await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-08")).json()["items"]
    with_topic = lesson_of(week, "2026-09-07", "5А")
    await Lesson.update({Lesson.topic: "Натуральные числа", Lesson.version: 2}).where(
        Lesson.id == with_topic["id"]
    )
    # A holiday of the fifth grades only, on Monday and Tuesday.
    r = await sw.post(
        f"/years/{sw.year_id}/holidays",
        {
            "name": "День здоровья",
            "starts_on": "2026-09-07",
            "ends_on": "2026-09-08",
            "grades": [5],
        },
    )
    assert r.status_code == 201, r.text
    holiday = r.json()
    tuesday = lesson_of(week, "2026-09-08", "5А")
    assert holiday["cancelled_lessons"] == [tuesday["id"]]
    assert [k["id"] for k in holiday["kept_lessons"]] == [with_topic["id"]]
    after = {
        l_["id"]: l_
        for l_ in (await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-08")).json()[
            "items"
        ]
    }
    assert len(after) == 3  # cancelled, not deleted
    assert after[tuesday["id"]]["status"] == "cancelled"
    assert after[with_topic["id"]]["status"] == "scheduled"
    assert after[lesson_of(week, "2026-09-07", "9А")["id"]]["status"] == "scheduled"  # grade 9
    assert await OutboxEvent.exists().where(OutboxEvent.kind == "lessons.cancelled_for_holiday")

    # Restoring is refused while the day is a holiday; after the holiday goes, it works.
    url = sw.url(f"/lessons/{tuesday['id']}/restore")
    r = await world.client.post(url, json={}, headers=sw.coordinator.headers)
    assert r.status_code == 400 and "08.09.2026 — День здоровья" in r.json()["message"], r.text
    r = await world.client.delete(
        sw.url(f"/holidays/{holiday['id']}"), headers=sw.coordinator.headers
    )
    assert r.status_code == 204
    teacher = await sign_in(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    assert (await world.client.post(url, json={}, headers=teacher.headers)).status_code == 403
    r = await world.client.post(url, json={"version": 1}, headers=sw.coordinator.headers)
    assert r.status_code == 409 and "версия 2" in r.json()["message"]
    r = await world.client.post(url, json={"version": 2}, headers=sw.coordinator.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "scheduled" and r.json()["version"] == 3
    r = await world.client.post(url, json={}, headers=sw.coordinator.headers)
    assert r.status_code == 409 and "не отменён" in r.json()["message"]
    assert await AuditEntry.exists().where(AuditEntry.action == "lesson.restore")
    assert await OutboxEvent.exists().where(OutboxEvent.kind == "lesson.restored")


async def test_a_teacher_finds_their_own_staff_record_and_lessons(world: Backend) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov, sidorova = sw.staff["ivanova"], sw.staff["petrov"], sw.staff["sidorova"]
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=1, number=1, teacher=ivanova),
                entry(ids, weekday=2, number=1, teacher=ivanova),
                entry(ids, weekday=1, number=1, who="5Б", subject="Русский язык", teacher=petrov),
            ]
        },
    )
    assert r.status_code == 201, r.text
    await _generate(sw, "2026-09-07", "2026-09-20")
    teacher = await sign_in(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    await Staff.update({Staff.user_id: teacher.user_id}).where(Staff.id == ivanova)
    c = world.client

    r = await c.get("/api/v1/me/staff", headers=teacher.headers)
    assert r.status_code == 200, r.text
    assert [(x["id"], x["school"], x["last_name"]) for x in r.json()] == [
        (ivanova, sw.school_id, "Иванова")
    ]
    url = "/api/v1/me/lessons"
    r = await c.get(
        url, params={"date_from": "2026-09-07", "date_to": "2026-09-20"}, headers=teacher.headers
    )
    assert r.status_code == 200, r.text
    page = r.json()
    assert page["total"] == 4 and page["offset"] == 0
    assert [(x["date"], x["teacher"]) for x in page["items"]] == [
        ("2026-09-07", ivanova),
        ("2026-09-08", ivanova),
        ("2026-09-14", ivanova),
        ("2026-09-15", ivanova),
    ]
    # A page at a time.
    r = await c.get(
        url,
        params={"date_from": "2026-09-07", "date_to": "2026-09-20", "limit": 3, "offset": 3},
        headers=teacher.headers,
    )
    assert r.json()["total"] == 4 and [x["date"] for x in r.json()["items"]] == ["2026-09-15"]
    # Replacing someone counts as one's own lesson too.
    petrovs = (await sw.get("/lessons", date_from="2026-09-14", date_to="2026-09-14")).json()[
        "items"
    ]
    theirs = next(x for x in petrovs if x["teacher"] == petrov)
    r = await sw.post(f"/lessons/{theirs['id']}/replacement", {"teacher_id": sidorova})
    assert r.status_code == 200, r.text
    await Staff.update({Staff.user_id: teacher.user_id}).where(Staff.id == sidorova)
    r = await c.get(
        url, params={"date_from": "2026-09-14", "date_to": "2026-09-14"}, headers=teacher.headers
    )
    assert theirs["id"] in [x["id"] for x in r.json()["items"]]
    # At most 62 days, in order; someone with no staff record has no lessons.
    r = await c.get(
        url, params={"date_from": "2026-09-01", "date_to": "2026-12-31"}, headers=teacher.headers
    )
    assert r.status_code == 400 and "62" in r.json()["message"]
    r = await c.get(
        url, params={"date_from": "2026-09-20", "date_to": "2026-09-01"}, headers=teacher.headers
    )
    assert r.status_code == 400
    nobody = await sign_in(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    r = await c.get(
        url, params={"date_from": "2026-09-07", "date_to": "2026-09-20"}, headers=nobody.headers
    )
    assert r.json() == {"items": [], "total": 0, "limit": 100, "offset": 0}
    assert (await c.get("/api/v1/me/staff", headers=nobody.headers)).json() == []


async def test_timetable_entries_need_a_teaching_assignment(world: Backend) -> None:
    sw, ids = await timetable_world(world, assign_all=False)
    ivanova, petrov, sidorova = sw.staff["ivanova"], sw.staff["petrov"], sw.staff["sidorova"]

    async def assign(teacher: int, subject: str, who: str, **dates: str) -> int:
        body: dict[str, Any] = {
            "academic_year_id": sw.year_id,
            "teacher_id": teacher,
            "subject_id": ids[subject],
            **dates,
        }
        body["study_group_id" if who.startswith("англ") else "school_class_id"] = ids[who]
        return int((await sw.ok("POST", "/assignments", body))["id"])

    r = await sw.post("/timetable", entry(ids, teacher=ivanova))
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        "У учителя Иванова М. П. нет нагрузки по предмету «Математика» в 5«А» на "
        "01.09.2026–31.05.2027: сначала назначьте её (учебная нагрузка), потом ставьте урок "
        "в расписание."
    )
    assert r.json()["details"]["teacher_id"] == ivanova
    # An assignment in another class, or for another subject, does not count.
    await assign(ivanova, "Математика", "5Б")
    await assign(ivanova, "Русский язык", "5А")
    assert (await sw.post("/timetable", entry(ids, teacher=ivanova))).status_code == 400
    # An assignment until the end of December covers an entry until then, not one past it.
    december = await assign(ivanova, "Математика", "5А", valid_to="2026-12-31")
    r = await sw.post("/timetable", entry(ids, teacher=ivanova))
    assert r.status_code == 400 and "на 01.01.2027–31.05.2027" in r.json()["message"], r.text
    r = await sw.post("/timetable", entry(ids, teacher=ivanova, valid_to="2026-12-28"))
    assert r.status_code == 201, r.text
    # The assignment for the whole year instead: it covers any entry of the year.
    await sw.ok("DELETE", f"/assignments/{december}")
    await assign(ivanova, "Математика", "5А")
    r = await sw.post("/timetable", entry(ids, weekday=2, teacher=ivanova))
    assert r.status_code == 201, r.text

    # A group lesson needs an assignment for the group; the class's does not stand in for it.
    await assign(petrov, "Английский язык", "5А")
    group_entry = entry(ids, weekday=3, teacher=petrov, subject="Английский язык", group="англ1")
    r = await sw.post("/timetable", group_entry)
    assert r.status_code == 400 and "в группе «5А английский 1»" in r.json()["message"], r.text
    await assign(petrov, "Английский язык", "англ1")
    assert (await sw.post("/timetable", group_entry)).status_code == 201

    # A bulk request with one unassigned entry stores nothing.
    before = (await sw.get("/timetable")).json()["total"]
    r = await sw.post(
        "/timetable/bulk",
        {
            "entries": [
                entry(ids, weekday=4, teacher=ivanova),
                entry(ids, weekday=4, number=2, who="5Б", subject="Русский язык", teacher=petrov),
            ]
        },
    )
    assert r.status_code == 400 and "Петров С. И." in r.json()["message"], r.text
    assert (await sw.get("/timetable")).json()["total"] == before

    # Changing an entry's teacher or its last date is checked too.
    monday = next(
        e
        for e in (await sw.get("/timetable")).json()["items"]
        if e["weekday"] == 1 and e["school_class"] == ids["5А"]
    )
    r = await sw.patch(f"/timetable/{monday['id']}", {"teacher_id": sidorova})
    assert r.status_code == 400 and "Сидорова А. О." in r.json()["message"], r.text
    r = await sw.patch(f"/timetable/{monday['id']}", {"valid_to": "2027-05-31"})
    assert r.status_code == 200, r.text
    assert (await sw.get("/timetable")).json()["total"] == before

    # A replacement teacher needs no assignment: a substitute may be anyone free.
    await _generate(sw, "2026-09-07", "2026-09-07")
    lesson = (await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-07")).json()[
        "items"
    ][0]
    r = await sw.post(f"/lessons/{lesson['id']}/replacement", {"teacher_id": sidorova})
    assert r.status_code == 200 and r.json()["replacement_teacher"] == sidorova, r.text


async def _pupil(sw: SchoolWorld, name: str, *moves: tuple[str, int, str]) -> int:
    """A pupil with their book of movement: (kind, class id, date) in order."""
    pupil = Student(school=sw.school_id, last_name=name, first_name="Ученик")
    await pupil.save()
    for kind, class_id, on in moves:
        await Enrollment(
            student=pupil.id,
            school=sw.school_id,
            school_class=class_id,
            kind=kind,
            date=date.fromisoformat(on),
            order_number="1",
        ).save()
    return int(pupil.id)


async def test_a_group_of_several_classes_occupies_each_of_its_pupils_classes(
    world: Backend,
) -> None:
    sw, ids = await timetable_world(world)
    ivanova, petrov, sidorova = sw.staff["ivanova"], sw.staff["petrov"], sw.staff["sidorova"]
    robots = await sw.ok(
        "POST", "/groups", {"academic_year_id": sw.year_id, "name": "Робототехника"}
    )
    ids["робо"] = robots["id"]
    await sw.ok(
        "POST",
        "/assignments",
        {
            "academic_year_id": sw.year_id,
            "teacher_id": petrov,
            "subject_id": ids["Математика"],
            "study_group_id": robots["id"],
        },
    )
    # Аня is in 5А all year; Тимур is in 5А until he moves to 5Б on 11 January.
    anya = await _pupil(sw, "Аня", ("admitted", ids["5А"], "2026-09-01"))
    timur = await _pupil(
        sw,
        "Тимур",
        ("admitted", ids["5А"], "2026-09-01"),
        ("transferred", ids["5Б"], "2027-01-11"),
    )
    await sw.ok(
        "POST",
        f"/groups/{robots['id']}/members",
        {"student_ids": [anya, timur], "on": "2026-09-01"},
    )

    # A class lesson already there: the group cannot take its pupils away at that time.
    await sw.ok("POST", "/timetable", entry(ids, teacher=ivanova))
    r = await sw.post("/timetable", entry(ids, teacher=petrov, group="робо"))
    assert r.status_code == 409, r.text
    assert r.json()["message"] == (
        "В группе «Робототехника» есть ученики 5«А», а у 5«А» уже стоит Математика "
        "в понедельник, 1-й урок."
    )
    details = r.json()["details"]
    assert details["conflict"] == "class" and details["school_class_id"] == ids["5А"]

    # The group's lesson first: a class with pupils in it cannot have one at that time...
    await sw.ok("POST", "/timetable", entry(ids, weekday=2, teacher=petrov, group="робо"))
    r = await sw.post("/timetable", entry(ids, weekday=2, who="5А", teacher=sidorova))
    assert r.status_code == 409
    assert r.json()["message"] == (
        "Ученики 5«А» есть в группе «Робототехника», у которой уже стоит Математика "
        "во вторник, 1-й урок."
    )
    # ...and the book of movement says when: 5Б has a pupil of the group only from January.
    r = await sw.post(
        "/timetable",
        entry(ids, weekday=2, who="5Б", teacher=sidorova, valid_to="2027-01-10"),
    )
    assert r.status_code == 201, r.text
    r = await sw.post(
        "/timetable",
        entry(ids, weekday=2, who="5Б", teacher=ivanova, valid_from="2027-01-11"),
    )
    assert r.status_code == 409 and "Ученики 5«Б» есть в группе" in r.json()["message"]
    # Membership is dated too: once Аня leaves the group in January (and Тимур has moved on),
    # 5А is free at that time.
    await sw.ok(
        "POST",
        f"/groups/{robots['id']}/members/remove",
        {"student_ids": [anya], "on": "2027-01-11"},
    )
    r = await sw.post(
        "/timetable",
        entry(ids, weekday=2, who="5А", teacher=ivanova, valid_from="2027-01-11"),
    )
    assert r.status_code == 201, r.text

    # Two groups with a pupil in common cannot meet at once; a split group of 5А without
    # the group's pupils can (two groups of one class may sit at the same time).
    await sw.ok(
        "POST", f"/groups/{ids['англ1']}/members", {"student_ids": [anya], "on": "2026-09-01"}
    )
    r = await sw.post(
        "/timetable",
        entry(
            ids,
            weekday=2,
            teacher=ivanova,
            subject="Английский язык",
            group="англ1",
            valid_to="2027-01-10",
        ),
    )
    assert r.status_code == 409
    assert r.json()["message"] == (
        "В группах «5А английский 1» и «Робототехника» есть общие ученики, а у группы "
        "«Робототехника» уже стоит Математика во вторник, 1-й урок."
    )
    r = await sw.post(
        "/timetable",
        entry(
            ids,
            weekday=2,
            teacher=ivanova,
            subject="Английский язык",
            group="англ2",
            valid_to="2027-01-10",
        ),
    )
    assert r.status_code == 201, r.text

    # Single lessons: a move is checked the same way, both ways round.
    await _generate(sw, "2026-09-07", "2026-09-08")
    lessons = (await sw.get("/lessons", date_from="2026-09-07", date_to="2026-09-08")).json()[
        "items"
    ]
    class_lesson = next(
        l_ for l_ in lessons if l_["date"] == "2026-09-07" and l_["school_class"] == ids["5А"]
    )
    group_lesson = next(l_ for l_ in lessons if l_["study_group"] == robots["id"])
    r = await sw.post(
        f"/lessons/{class_lesson['id']}/move", {"date": "2026-09-08", "lesson_number": 1}
    )
    assert r.status_code == 409
    assert r.json()["message"] == (
        "Ученики 5«А» есть в группе «Робототехника», у которой уже стоит Математика "
        "08.09.2026, 1-й урок."
    )
    r = await sw.post(
        f"/lessons/{group_lesson['id']}/move", {"date": "2026-09-07", "lesson_number": 1}
    )
    assert r.status_code == 409
    assert r.json()["message"] == (
        "В группе «Робототехника» есть ученики 5«А», а у 5«А» уже стоит Математика "
        "07.09.2026, 1-й урок."
    )
    # A replacement teacher busy with the group is named with the group.
    fifth_b = next(
        l_
        for l_ in lessons
        if l_["date"] == "2026-09-08"
        and l_["school_class"] == ids["5Б"]
        and l_["lesson_number"] == 1
    )
    r = await sw.post(f"/lessons/{fifth_b['id']}/replacement", {"teacher_id": petrov})
    assert r.status_code == 409
    assert r.json()["message"] == (
        "Учитель Петров С. И. уже ведёт урок у группы «Робототехника» (Математика) "
        "08.09.2026, 1-й урок."
    )
    r = await sw.post(
        f"/lessons/{group_lesson['id']}/move", {"date": "2026-09-07", "lesson_number": 2}
    )
    assert r.status_code == 200, r.text
