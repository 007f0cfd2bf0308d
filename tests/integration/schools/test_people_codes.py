"""Activation codes for a class: one per guardian (twins share one), one per pupil; activating a
code links the account to the guardian's or pupil's record, so `guardians_of` knows it."""

from __future__ import annotations

from backend.audit.tables import AuditEntry
from backend.core.rights import Role
from backend.schools.people import services as people
from backend.schools.tables import Guardian, Student, StudentGuardian
from tests.conftest import Backend
from tests.integration.schools.people_world import add_pupil, make_school
from tests.support import staff_account


async def _guardian(last: str, first: str, *children: int, legal: bool = True) -> int:
    row = Guardian(last_name=last, first_name=first, phone=None)
    await row.save()
    for child in children:
        await StudentGuardian(
            student=child, guardian=row.id, relation="mother", is_legal_representative=legal
        ).save()
    return int(row.id)


async def test_codes_for_a_class_and_activation_links_the_account(world: Backend) -> None:
    school = await make_school(world)
    cls = school.classes["5А"]
    twin_a = await add_pupil(school.school_id, "Егорова", "Вера", cls)
    twin_b = await add_pupil(school.school_id, "Егорова", "Надежда", cls)
    solo = await add_pupil(school.school_id, "Павлов", "Олег", cls)
    elsewhere = await add_pupil(school.school_id, "Титов", "Марк", school.classes["5Б"])
    mother = await _guardian("Егорова", "Ирина", twin_a, twin_b)
    father = await _guardian("Павлов", "Сергей", solo)
    stepfather = await _guardian("Кротов", "Павел", solo, legal=False)
    await _guardian("Титова", "Алла", elsewhere)
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)

    r = await world.client.post(
        f"/api/v1/classes/{cls}/activation-codes", json={"who": "both"}, headers=secretary.headers
    )
    assert r.status_code == 201, r.text
    printed = r.json()["issued"]
    assert r.json()["skipped"] == [] and r.json()["withdrawn"] == 0
    guardians = {p["full_name"]: p for p in printed if p["kind"] == "guardian"}
    pupils = {p["full_name"]: p for p in printed if p["kind"] == "pupil"}
    assert set(guardians) == {"Егорова Ирина", "Павлов Сергей", "Кротов Павел"}
    assert sorted(guardians["Егорова Ирина"]["pupils"]) == ["Егорова Вера", "Егорова Надежда"]
    assert set(pupils) == {"Егорова Вера", "Егорова Надежда", "Павлов Олег"}
    assert len({p["code"] for p in printed}) == len(printed) == 6

    # Asking again issues nothing twice: everyone already has a code, and the answer says so.
    again = await world.client.post(
        f"/api/v1/classes/{cls}/activation-codes", json={"who": "both"}, headers=secretary.headers
    )
    assert again.status_code == 201 and again.json()["issued"] == []
    skipped = again.json()["skipped"]
    assert len(skipped) == 6 and {x["reason"] for x in skipped} == {"has_code"}
    assert {x["full_name"] for x in skipped if x["kind"] == "guardian"} == set(guardians)
    assert {x["full_name"] for x in skipped if x["kind"] == "pupil"} == set(pupils)
    assert "неиспользованный код: 6" in again.json()["message"]
    assert "reissue" in again.json()["message"]

    # The mother activates her code: one account, guardian of both twins.
    r = await world.client.post(
        "/api/v1/auth/activate",
        json={
            "code": guardians["Егорова Ирина"]["code"],
            "password": "long-enough-password",
            "phone": "+79161234567",
        },
    )
    assert r.status_code == 201, r.text
    user_id = r.json()["user_id"]
    row = await Guardian.select(Guardian.user_id).where(Guardian.id == mother).first()
    assert row["user_id"] == user_id
    me = await world.client.get(
        "/api/v1/accounts/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    scopes = sorted(g["scope_id"] for g in me.json()["grants"] if g["role"] == "guardian")
    assert scopes == sorted([twin_a, twin_b])

    of_twin = await people.guardians_of(twin_a)
    assert [(g.guardian_id, g.user_id, g.is_legal_representative) for g in of_twin] == [
        (mother, user_id, True)
    ]
    of_solo = await people.guardians_of(solo)
    assert [(g.guardian_id, g.is_legal_representative) for g in of_solo] == [
        (father, True),
        (stepfather, False),
    ]
    assert all(g.user_id is None for g in of_solo)

    # A pupil's code links the pupil.
    r = await world.client.post(
        "/api/v1/auth/activate",
        json={
            "code": pupils["Павлов Олег"]["code"],
            "password": "long-enough-password",
            "login": "oleg.pavlov",
        },
    )
    assert r.status_code == 201, r.text
    row = await Student.select(Student.user_id).where(Student.id == solo).first()
    assert row["user_id"] == r.json()["user_id"]

    # The printout is lost: a reissue replaces the unused codes, the old ones stop working;
    # those with an account are named and skipped.
    old_father_code = guardians["Павлов Сергей"]["code"]
    r = await world.client.post(
        f"/api/v1/classes/{cls}/activation-codes",
        json={"who": "both", "reissue": True},
        headers=secretary.headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert {p["full_name"] for p in body["issued"]} == {
        "Павлов Сергей",
        "Кротов Павел",
        *(p for p in pupils if p != "Павлов Олег"),
    }
    assert body["withdrawn"] == 4
    assert {(x["full_name"], x["reason"]) for x in body["skipped"]} == {
        ("Егорова Ирина", "has_account"),
        (next(p for p in pupils if p.startswith("Павлов")), "has_account"),
    }
    new_father_code = next(p["code"] for p in body["issued"] if p["full_name"] == "Павлов Сергей")
    assert new_father_code != old_father_code
    r = await world.client.post(
        "/api/v1/auth/activate",
        json={"code": old_father_code, "password": "long-enough-password", "phone": "+79160000001"},
    )
    assert r.status_code == 400, r.text
    r = await world.client.post(
        "/api/v1/auth/activate",
        json={"code": new_father_code, "password": "long-enough-password", "phone": "+79160000001"},
    )
    assert r.status_code == 201, r.text
    assert await AuditEntry.exists().where(AuditEntry.action == "activation_codes.reissue")


async def test_codes_for_a_class_of_another_school_are_refused(world: Backend) -> None:
    school = await make_school(world)
    await add_pupil(school.school_id, "Егорова", "Вера", school.classes["5А"])
    stranger = await staff_account(world, Role.SECRETARY, school.ids["school_c"])
    teacher = await staff_account(world, Role.TEACHER, school.school_id)
    url = f"/api/v1/classes/{school.classes['5А']}/activation-codes"
    r = await world.client.post(url, json={"who": "pupils"}, headers=stranger.headers)
    assert r.status_code == 404
    r = await world.client.post(url, json={"who": "pupils"}, headers=teacher.headers)
    assert r.status_code == 403
    r = await world.client.post(url, json={"who": "everyone"}, headers=teacher.headers)
    assert r.status_code == 403, r.text  # refused for who asks before what they asked
