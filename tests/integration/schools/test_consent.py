"""Consent before personal data: names and class may be entered without it; documents, SNILS,
addresses, contacts and health may not, and the error says what is missing."""

from __future__ import annotations

from backend.core.rights import Role
from backend.schools.tables import Consent, Guardian, Student
from tests.conftest import Backend
from tests.integration.schools.people_world import add_pupil, make_school
from tests.support import staff_account

SNILS = "112-233-445 95"


async def test_personal_data_needs_consent_first(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    c = world.client
    base = {"school_id": school.school_id, "last_name": "Иванова", "first_name": "Мария"}

    r = await c.post(
        "/api/v1/students",
        json={**base, "snils": SNILS, "registration_address": "г. Казань, ул. Баумана, 1"},
        headers=secretary.headers,
    )
    assert r.status_code == 400, r.text
    body = r.json()
    assert "согласия" in body["message"] and "СНИЛС" in body["message"]
    assert "адрес регистрации" in body["message"] and "ФИО и класс" in body["message"]
    assert {d["field"] for d in body["details"]} == {"snils", "registration_address"}
    assert await Student.count() == 0  # nothing half-written: not even the names

    r = await c.post("/api/v1/students", json=base, headers=secretary.headers)
    assert r.status_code == 201, r.text
    pupil = r.json()["id"]
    r = await c.patch(f"/api/v1/students/{pupil}", json={"snils": SNILS}, headers=secretary.headers)
    assert r.status_code == 400 and "СНИЛС" in r.json()["message"]
    r = await c.patch(
        f"/api/v1/students/{pupil}", json={"middle_name": "Петровна"}, headers=secretary.headers
    )
    assert r.status_code == 200 and r.json()["middle_name"] == "Петровна"

    r = await c.post(
        "/api/v1/consents",
        json={
            "subject_kind": "student",
            "subject_id": pupil,
            "given_on": "2026-09-01",
            "document_ref": "заявление № 17",
        },
        headers=secretary.headers,
    )
    assert r.status_code == 201, r.text
    consent_id = r.json()["id"]
    r = await c.patch(
        f"/api/v1/students/{pupil}",
        json={"snils": SNILS, "health_group": "2"},
        headers=secretary.headers,
    )
    assert r.status_code == 200, r.text
    stored = await Student.select(Student.snils, Student.health_group).where(Student.id == pupil)
    assert stored == [{"snils": "11223344595", "health_group": "II"}]

    # After the consent is revoked nothing more may be added.
    r = await c.post(
        f"/api/v1/consents/{consent_id}/revoke",
        json={"revoked_on": "2026-11-01"},
        headers=secretary.headers,
    )
    assert r.status_code == 200 and r.json()["revoked_on"] == "2026-11-01"
    r = await c.patch(
        f"/api/v1/students/{pupil}",
        json={"residence_address": "г. Казань, ул. Пушкина, 5"},
        headers=secretary.headers,
    )
    assert r.status_code == 400 and "адрес проживания" in r.json()["message"]
    again = await c.post(
        f"/api/v1/consents/{consent_id}/revoke",
        json={"revoked_on": "2026-11-02"},
        headers=secretary.headers,
    )
    assert again.status_code == 409


async def test_consent_given_with_the_file_is_recorded_first(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    r = await world.client.post(
        "/api/v1/students",
        json={
            "school_id": school.school_id,
            "last_name": "Петров",
            "first_name": "Пётр",
            "birth_date": "2015-04-12",
            "snils": SNILS,
            "document_kind": "свидетельство о рождении",
            "document_series": "II-КБ",
            "document_number": "123456",
            "consent": {"given_on": "2026-08-30", "document_ref": "заявление № 3"},
        },
        headers=secretary.headers,
    )
    assert r.status_code == 201, r.text
    pupil = r.json()["id"]
    consents = await Consent.select().where(Consent.subject_id == pupil)
    assert len(consents) == 1 and consents[0]["subject_kind"] == "student"
    row = await Student.select(Student.document_kind).where(Student.id == pupil).first()
    assert row["document_kind"] == "birth_certificate"


async def test_guardian_consent_and_who_may_give_it(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    pupil = await add_pupil(school.school_id, "Сидоров", "Ян", school.classes["5А"])
    other = await add_pupil(school.school_id, "Фёдоров", "Ян", school.classes["5А"])
    c = world.client
    guardian = {
        "last_name": "Сидорова",
        "first_name": "Анна",
        "phone": "8 (912) 345-67-89",
        "children": [{"student_id": pupil, "relation": "mother"}],
    }
    r = await c.post("/api/v1/guardians", json=guardian, headers=secretary.headers)
    assert r.status_code == 400 and "телефон" in r.json()["message"]
    # Guardians have no class: the message says what may be stored about a guardian.
    assert "ФИО и связь с ребёнком" in r.json()["message"]
    assert "класс" not in r.json()["message"]
    assert await Guardian.count() == 0
    r = await c.post(
        "/api/v1/guardians",
        json={**guardian, "consent": {"given_on": "2026-09-01"}},
        headers=secretary.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["phone"] == "+79123456789"
    mother = r.json()["id"]

    # The mother gives consent for her child, not for someone else's.
    r = await c.post(
        "/api/v1/consents",
        json={
            "subject_kind": "student",
            "subject_id": other,
            "given_on": "2026-09-01",
            "given_by_guardian_id": mother,
        },
        headers=secretary.headers,
    )
    assert r.status_code == 400 and "законный представитель" in r.json()["message"]
    r = await c.post(
        "/api/v1/consents",
        json={
            "subject_kind": "student",
            "subject_id": pupil,
            "given_on": "2026-09-01",
            "given_by_guardian_id": mother,
        },
        headers=secretary.headers,
    )
    assert r.status_code == 201
    r = await c.post(
        "/api/v1/consents",
        json={"subject_kind": "student", "subject_id": pupil, "given_on": "2099-01-01"},
        headers=secretary.headers,
    )
    assert r.status_code == 400 and "будущем" in r.json()["message"]


async def test_benefits_need_consent_and_show_in_the_personal_file(world: Backend) -> None:
    school = await make_school(world)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    pupil = await add_pupil(school.school_id, "Гусева", "Полина", school.classes["5А"])
    c = world.client
    benefit = {"code": "large_family", "valid_from": "2026-09-01", "document": "уд. № 77"}
    r = await c.post(f"/api/v1/students/{pupil}/benefits", json=benefit, headers=secretary.headers)
    assert r.status_code == 400 and "льготы" in r.json()["message"]
    await c.post(
        "/api/v1/consents",
        json={"subject_kind": "student", "subject_id": pupil, "given_on": "2026-09-01"},
        headers=secretary.headers,
    )
    r = await c.post(f"/api/v1/students/{pupil}/benefits", json=benefit, headers=secretary.headers)
    assert r.status_code == 201, r.text
    assert r.json()["benefits"] == [
        {
            "code": "large_family",
            "name": "Многодетная семья",
            "valid_from": "2026-09-01",
            "valid_to": None,
            "document": "уд. № 77",
        }
    ]
    r = await c.post(
        f"/api/v1/students/{pupil}/benefits",
        json={**benefit, "code": "rich_family"},
        headers=secretary.headers,
    )
    assert r.status_code == 400 and "rich_family" in r.json()["message"]
    r = await c.post(
        f"/api/v1/students/{pupil}/benefits",
        json={**benefit, "valid_to": "2026-08-01"},
        headers=secretary.headers,
    )
    assert r.status_code == 400
