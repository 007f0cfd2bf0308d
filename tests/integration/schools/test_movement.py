"""The book of movement: admission, transfer, leaving, graduation; history never overwritten;
a pupil's class on any date. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.rights import Role, ScopeKind
from backend.events.tables import OutboxEvent
from backend.schools.people import movement
from backend.schools.people import services as people
from backend.schools.tables import Enrollment, Student
from tests.conftest import Backend
from tests.integration.schools.people_world import add_pupil, make_school
from tests.support import staff_account


async def test_class_on_any_date_follows_the_book(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    pupil = await add_pupil(school.school_id, "Смирнова", "Анна")
    c = world.client
    url = f"/api/v1/students/{pupil}/movements"
    for body in (
        {
            "kind": "admitted",
            "date": "2026-09-01",
            "order_number": "12-у",
            "class_id": school.classes["5А"],
        },
        {
            "kind": "transferred",
            "date": "2026-10-15",
            "order_number": "31-у",
            "class_id": school.classes["5Б"],
        },
        {"kind": "left", "date": "2027-03-01", "order_number": "77-у", "reason": "переезд"},
    ):
        response = await c.post(url, json=body, headers=secretary.headers)
        assert response.status_code == 201, response.text
    assert response.json()["kind"] == "left"

    async def class_name(on: str) -> str | None:
        r = await c.get(f"/api/v1/students/{pupil}/class?on={on}", headers=secretary.headers)
        assert r.status_code == 200, r.text
        return r.json()["class_name"]  # type: ignore[no-any-return]

    assert await class_name("2026-08-31") is None
    assert await class_name("2026-09-01") == "5«А»"
    assert await class_name("2026-10-14") == "5«А»"
    assert await class_name("2026-11-03") == "5«Б»"  # which class was this pupil in on 2026-11-03
    assert await class_name("2027-02-28") == "5«Б»"
    assert await class_name("2027-03-01") is None

    assert await people.class_on(pupil, date(2026, 11, 3)) == school.classes["5Б"]
    on_oct = [p.id for p in await people.students_of_class(school.classes["5А"], date(2026, 10, 1))]
    on_nov = [p.id for p in await people.students_of_class(school.classes["5А"], date(2026, 11, 3))]
    assert pupil in on_oct and pupil not in on_nov
    assert [
        p.id for p in await people.students_of_class(school.classes["5Б"], date(2026, 11, 3))
    ] == [pupil]

    history = (await c.get(url, headers=secretary.headers)).json()
    assert [(h["kind"], h["class_name"], h["order_number"]) for h in history] == [
        ("admitted", "5«А»", "12-у"),
        ("transferred", "5«Б»", "31-у"),
        ("left", None, "77-у"),
    ]


async def test_history_is_never_rewritten(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    pupil = await add_pupil(school.school_id, "Орлов", "Максим", school.classes["5А"])
    await movement.record_movement(
        Actor.system(),
        pupil,
        "transferred",
        date(2026, 11, 10),
        "40-у",
        class_id=school.classes["5Б"],
    )
    before = await Enrollment.count().where(Enrollment.student == pupil)
    # A back-dated entry would change what the book said about 1-10 November.
    response = await world.client.post(
        f"/api/v1/students/{pupil}/movements",
        json={
            "kind": "transferred",
            "date": "2026-11-01",
            "order_number": "41-у",
            "class_id": school.classes["9А"],
        },
        headers=secretary.headers,
    )
    assert response.status_code == 400
    assert "10.11.2026" in response.json()["message"]
    assert await Enrollment.count().where(Enrollment.student == pupil) == before
    assert await people.class_on(pupil, date(2026, 11, 5)) == school.classes["5А"]


async def test_each_movement_is_checked(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    enrolled = await add_pupil(school.school_id, "Кузнецов", "Илья", school.classes["5А"])
    newcomer = await add_pupil(school.school_id, "Лебедева", "Ольга")
    c = world.client

    async def refused(pupil: int, body: dict[str, object], words: str) -> None:
        r = await c.post(
            f"/api/v1/students/{pupil}/movements", json=body, headers=secretary.headers
        )
        assert r.status_code == 400, r.text
        assert words in r.json()["message"], r.json()

    cls = school.classes
    await refused(
        enrolled,
        {"kind": "admitted", "date": "2026-12-01", "order_number": "5", "class_id": cls["5Б"]},
        "уже числится в классе 5«А»",
    )
    await refused(
        newcomer,
        {"kind": "transferred", "date": "2026-12-01", "order_number": "5", "class_id": cls["5Б"]},
        "не числится",
    )
    await refused(
        newcomer,
        {"kind": "admitted", "date": "2026-12-01", "order_number": "  ", "class_id": cls["5Б"]},
        "номер приказа",
    )
    await refused(
        newcomer,
        {"kind": "admitted", "date": "2027-09-01", "order_number": "5", "class_id": cls["5Б"]},
        "не входит в учебный год",
    )
    await refused(
        newcomer, {"kind": "admitted", "date": "2026-12-01", "order_number": "5"}, "Укажите класс"
    )
    await refused(
        enrolled,
        {"kind": "transferred", "date": "2026-12-01", "order_number": "5", "class_id": cls["5А"]},
        "уже учится в этом классе",
    )
    await refused(
        enrolled,
        {"kind": "graduated", "date": "2027-06-25", "order_number": "5"},
        "только из 9 или 11",
    )
    await refused(
        enrolled,
        {"kind": "left", "date": "2027-06-25", "order_number": "5", "class_id": cls["5Б"]},
        "не указывается",
    )
    bad_kind = await c.post(
        f"/api/v1/students/{enrolled}/movements",
        json={"kind": "expelled", "date": "2026-12-01", "order_number": "5"},
        headers=secretary.headers,
    )
    assert bad_kind.status_code == 400
    assert await Enrollment.count().where(Enrollment.student == newcomer) == 0

    senior = await add_pupil(school.school_id, "Зайцев", "Артём", cls["11А"])
    r = await c.post(
        f"/api/v1/students/{senior}/movements",
        json={"kind": "graduated", "date": "2027-06-25", "order_number": "90-в"},
        headers=secretary.headers,
    )
    assert r.status_code == 201, r.text
    assert await people.class_on(senior, date(2027, 6, 26)) is None
    assert (await Student.select(Student.archived).where(Student.id == senior))[0]["archived"]


async def test_a_movement_is_audited_and_told_to_the_family(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    pupil = await add_pupil(school.school_id, "Белова", "Дарья")
    r = await world.client.post(
        f"/api/v1/students/{pupil}/movements",
        json={
            "kind": "admitted",
            "date": "2026-09-01",
            "order_number": "3-у",
            "class_id": school.classes["5А"],
        },
        headers=secretary.headers,
    )
    assert r.status_code == 201
    audit = (
        await AuditEntry.select()
        .where((AuditEntry.object_type == "enrollment") & (AuditEntry.student_id == pupil))
        .output(load_json=True)
    )
    assert len(audit) == 1 and audit[0]["actor_user_id"] == secretary.user_id
    assert audit[0]["details"]["order_number"] == "3-у"
    events = (
        await OutboxEvent.select().where(OutboxEvent.student_id == pupil).output(load_json=True)
    )
    assert [e["kind"] for e in events] == ["student.admitted"]
    assert events[0]["payload"]["class_id"] == school.classes["5А"]


async def test_movements_of_another_school_are_not_found(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Соколов", "Егор", school.classes["5А"])
    stranger = await staff_account(world, Role.SECRETARY, school.ids["school_c"])
    teacher_b = await staff_account(world, Role.TEACHER, school.ids["school_b"])
    teacher_a = await staff_account(world, Role.TEACHER, school.school_id)
    c = world.client
    for who in (stranger, teacher_b):
        assert (
            await c.get(f"/api/v1/students/{pupil}/movements", headers=who.headers)
        ).status_code == 404
        assert (
            await c.get(f"/api/v1/classes/{school.classes['5А']}/pupils", headers=who.headers)
        ).status_code == 404
    r = await c.post(
        f"/api/v1/students/{pupil}/movements",
        json={"kind": "left", "date": "2026-12-01", "order_number": "5"},
        headers=stranger.headers,
    )
    assert r.status_code == 404
    assert (
        await c.get(f"/api/v1/students/{pupil}/movements", headers=teacher_a.headers)
    ).status_code == 200
    # A teacher reads class lists but does not write the book.
    r = await c.post(
        f"/api/v1/students/{pupil}/movements",
        json={"kind": "left", "date": "2026-12-01", "order_number": "5"},
        headers=teacher_a.headers,
    )
    assert r.status_code == 403
    pupils = await c.get(
        f"/api/v1/classes/{school.classes['5А']}/pupils?on=2026-10-01", headers=teacher_a.headers
    )
    assert [p["id"] for p in pupils.json()] == [pupil]


async def test_a_class_teacher_covers_the_pupils_of_their_class_only(world: Backend) -> None:
    school = await make_school(world)
    mine = await add_pupil(school.school_id, "Новиков", "Лев", school.classes["5А"])
    other = await add_pupil(school.school_id, "Морозов", "Глеб", school.classes["5Б"])
    moved = await add_pupil(school.school_id, "Волков", "Кирилл", school.classes["5Б"])
    await movement.record_movement(
        Actor.system(),
        moved,
        "transferred",
        date(2026, 11, 2),
        "50-у",
        class_id=school.classes["5А"],
    )
    from backend.core.rights import Grant, Permission, Principal

    principal = Principal(1, (Grant(Role.CLASS_TEACHER, ScopeKind.CLASS, school.classes["5А"]),))
    covered = {
        sid: principal.allows(Permission.PERSONAL_FILE_READ, await people.student_target(sid))
        for sid in (mine, other, moved)
    }
    assert covered == {mine: True, other: False, moved: True}
    target = await people.scope_target(ScopeKind.CLASS, school.classes["5А"])
    assert target.school_id == school.school_id and target.region_id == school.ids["region"]
