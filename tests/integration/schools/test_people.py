"""Who sees a personal file: not a teacher of another school, never documents or health for a
subject teacher; health for the nurse, the class teacher and guardians; every read audited."""

from __future__ import annotations

from datetime import date

from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.people import personal_files
from tests.conftest import Backend
from tests.integration.schools.people_world import School, add_pupil, make_school
from tests.support import sign_in, staff_account

CONSENT = {"given_on": "2026-09-01", "document_ref": "заявление"}


async def _pupil_with_file(school: School, class_label: str = "5А") -> int:
    pupil = await add_pupil(school.school_id, "Григорьева", "Алиса", school.classes[class_label])
    await personal_files.add_consent(
        Actor.system(), "student", pupil, {"given_on": date(2026, 9, 1)}
    )
    await personal_files.update_student(
        Actor.system(),
        pupil,
        {
            "snils": "112-233-445 95",
            "registration_address": "г. Казань, ул. Баумана, 7",
            "health_group": "III",
            "pe_group": "подготовительная",
        },
    )
    return pupil


async def _reads(action: str, pupil: int) -> list[int | None]:
    rows = await AuditEntry.select(AuditEntry.actor_user_id).where(
        (AuditEntry.action == action) & (AuditEntry.student_id == pupil)
    )
    return [r["actor_user_id"] for r in rows]


async def test_who_sees_the_personal_file_and_health(world: Backend) -> None:
    school = await make_school(world)
    pupil = await _pupil_with_file(school)
    c = world.client
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    nurse = await staff_account(world, Role.NURSE, school.school_id)
    subject_teacher = await staff_account(world, Role.TEACHER, school.school_id)
    class_teacher = await staff_account(
        world, Role.CLASS_TEACHER, school.classes["5А"], ScopeKind.CLASS
    )
    other_class_teacher = await staff_account(
        world, Role.CLASS_TEACHER, school.classes["5Б"], ScopeKind.CLASS
    )
    teacher_b = await staff_account(world, Role.TEACHER, school.ids["school_b"])
    secretary_c = await staff_account(world, Role.SECRETARY, school.ids["school_c"])
    guardian = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil))

    file_url = f"/api/v1/students/{pupil}/personal-file"
    health_url = f"/api/v1/students/{pupil}/health"

    async def status(url: str, who: object) -> int:
        return (await c.get(url, headers=who.headers)).status_code  # type: ignore[attr-defined]

    # The personal file.
    for who in (secretary, class_teacher, guardian):
        assert await status(file_url, who) == 200
    assert await status(file_url, subject_teacher) == 403  # never documents
    assert await status(file_url, nurse) == 403  # health groups, not documents
    assert await status(file_url, teacher_b) == 403  # a subject teacher anywhere: never
    class_teacher_c = await staff_account(
        world, Role.CLASS_TEACHER, school.other_classes["5А"], ScopeKind.CLASS
    )
    for who in (secretary_c, other_class_teacher, class_teacher_c):
        assert await status(file_url, who) == 404  # not even its existence
    body = (await c.get(file_url, headers=secretary.headers)).json()
    assert body["snils"] == "11223344595" and body["has_consent"] is True
    assert "health_group" not in body

    # Health.
    for who in (nurse, class_teacher, guardian):
        r = await c.get(health_url, headers=who.headers)
        assert r.status_code == 200
        assert r.json() == {"student_id": pupil, "health_group": "III", "pe_group": "preparatory"}
    assert await status(health_url, subject_teacher) == 403
    assert await status(health_url, secretary) == 403
    assert await status(health_url, other_class_teacher) == 404
    assert await status(health_url, teacher_b) == 403

    # The card (names and class): any staff of the school and the family.
    for who in (subject_teacher, secretary, guardian):
        r = await c.get(f"/api/v1/students/{pupil}", headers=who.headers)
        assert r.status_code == 200
        assert r.json()["class_name"] == "5«А»" and "snils" not in r.json()
    assert await status(f"/api/v1/students/{pupil}", teacher_b) == 404

    # Every read was audited with the pupil's id, and the guardian can see who looked.
    readers = await _reads("read.personal_file", pupil)
    for who in (secretary, class_teacher, guardian):
        assert who.user_id in readers
    assert subject_teacher.user_id not in readers and teacher_b.user_id not in readers
    assert nurse.user_id not in readers
    assert set(await _reads("read.health", pupil)) == {
        nurse.user_id,
        class_teacher.user_id,
        guardian.user_id,
    }
    r = await c.get(f"/api/v1/audit/students/{pupil}/personal-data-reads", headers=guardian.headers)
    assert r.status_code == 200 and r.json()["total"] >= 5


async def test_guardian_file_is_seen_only_through_a_child_in_scope(world: Backend) -> None:
    school = await make_school(world)
    in_a = await add_pupil(school.school_id, "Рябов", "Денис", school.classes["5А"])
    in_c = await add_pupil(school.ids["school_c"], "Рябова", "Ксения", school.other_classes["5А"])
    secretary_a = await staff_account(world, Role.SECRETARY, school.school_id)
    secretary_c = await staff_account(world, Role.SECRETARY, school.ids["school_c"])
    teacher_a = await staff_account(world, Role.TEACHER, school.school_id)
    teacher_b = await staff_account(world, Role.TEACHER, school.ids["school_b"])
    c = world.client
    father = {
        "last_name": "Рябов",
        "first_name": "Олег",
        "phone": "+7 917 000-11-22",
        "consent": CONSENT,
    }
    r = await c.post(
        "/api/v1/guardians",
        json={**father, "children": [{"student_id": in_a, "relation": "father"}]},
        headers=secretary_a.headers,
    )
    assert r.status_code == 201, r.text
    guardian_id = r.json()["id"]
    # School C adds the same father for his daughter: the same person, not a double.
    r = await c.post(
        "/api/v1/guardians",
        json={**father, "children": [{"student_id": in_c, "relation": "father"}]},
        headers=secretary_c.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["id"] == guardian_id
    assert [ch["student_id"] for ch in r.json()["children"]] == [in_c]  # only their own pupil

    url = f"/api/v1/guardians/{guardian_id}"
    full = (await c.get(url, headers=secretary_a.headers)).json()
    assert full["phone"] == "+79170001122"
    assert [ch["student_id"] for ch in full["children"]] == [in_a]
    assert (await c.get(url, headers=teacher_a.headers)).status_code == 403
    assert (await c.get(url, headers=teacher_b.headers)).status_code == 403
    secretary_b = await staff_account(world, Role.SECRETARY, school.ids["school_b"])
    assert (await c.get(url, headers=secretary_b.headers)).status_code == 404

    # A different person with the same phone is refused, not merged.
    r = await c.post(
        "/api/v1/guardians",
        json={**father, "first_name": "Игорь", "children": [{"student_id": in_a}]},
        headers=secretary_a.headers,
    )
    assert r.status_code == 409

    contacts = await c.get(f"/api/v1/students/{in_a}/guardians", headers=secretary_a.headers)
    assert contacts.status_code == 200
    assert contacts.json()[0]["phone"] == "+79170001122"
    assert (
        await c.get(f"/api/v1/students/{in_a}/guardians", headers=teacher_a.headers)
    ).status_code == 403


async def test_bad_fields_are_all_reported_in_russian(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    r = await world.client.post(
        "/api/v1/students",
        json={
            "school_id": school.school_id,
            "last_name": "Кот",
            "first_name": "Тимур",
            "snils": "112-233-445 96",
            "phone": "12",
            "sex": "x",
            "health_group": "VII",
            "consent": CONSENT,
        },
        headers=secretary.headers,
    )
    assert r.status_code == 400
    fields = {d["field"]: d["message"] for d in r.json()["details"]}
    assert set(fields) == {"snils", "phone", "sex", "health_group"}
    assert "контрольное число" in fields["snils"]
    r = await world.client.post(
        "/api/v1/students",
        json={"school_id": school.ids["school_c"], "last_name": "Кот", "first_name": "Тимур"},
        headers=secretary.headers,
    )
    assert r.status_code == 404


async def test_staff_with_positions(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    teacher_b = await staff_account(world, Role.TEACHER, school.ids["school_b"])
    c = world.client
    r = await c.post(
        "/api/v1/staff",
        json={
            "school_id": school.school_id,
            "last_name": "Ахметова",
            "first_name": "Гульнара",
            "positions": ["teacher", "class_teacher"],
        },
        headers=secretary.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["positions"] == ["teacher", "class_teacher"]
    staff_id = r.json()["id"]
    assert (await c.get(f"/api/v1/staff/{staff_id}", headers=teacher_b.headers)).status_code == 404
    r = await c.post(
        "/api/v1/staff",
        json={
            "school_id": school.school_id,
            "last_name": "Ахметова",
            "first_name": "Гульнара",
            "positions": ["astronaut"],
        },
        headers=secretary.headers,
    )
    assert r.status_code == 400 and "astronaut" in r.json()["message"]


async def test_family_sees_their_children(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Ким", "Лиана", school.classes["5Б"])
    guardian = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil))
    r = await world.client.get("/api/v1/family/children", headers=guardian.headers)
    assert r.status_code == 200
    assert r.json() == [
        {
            "student_id": pupil,
            "last_name": "Ким",
            "first_name": "Лиана",
            "class_name": "5«Б»",
            "role": "guardian",
            "parts": None,
            "valid_until": None,
            "time_zone": "Europe/Moscow",
        }
    ]
