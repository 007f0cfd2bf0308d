"""Delegates: a legal representative gives a trusted adult limited access to one child until a
date and can revoke it; expiry is honoured even by a token issued before it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.people import services as people
from backend.schools.tables import Delegate, Guardian, StudentGuardian
from tests.conftest import Backend
from tests.integration.schools.people_world import add_pupil, make_school
from tests.support import TEST_PASSWORD, SignedIn, sign_in, staff_account

GRANNY_PHONE = "+79031112233"


async def _parent(world: Backend, pupil: int, *, legal: bool = True) -> SignedIn:
    signed = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, pupil), name="Родитель")
    row = Guardian(last_name="Родитель", first_name="Мать", user_id=signed.user_id)
    await row.save()
    await StudentGuardian(
        student=pupil, guardian=row.id, relation="mother", is_legal_representative=legal
    ).save()
    return signed


async def _account_with_phone(world: Backend, phone: str, name: str) -> None:
    await world.accounts.create_user(
        Actor.system(), password=TEST_PASSWORD, display_name=name, phone=phone, check_rights=False
    )


async def _login(world: Backend, identifier: str, password: str = TEST_PASSWORD) -> dict[str, str]:
    r = await world.client.post(
        "/api/v1/auth/login", json={"identifier": identifier, "password": password}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _until(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def test_grant_use_and_revoke_a_delegate(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Лисицына", "Ева", school.classes["5А"])
    mother = await _parent(world, pupil)
    await _account_with_phone(world, GRANNY_PHONE, "Бабушка Лисицына")
    c = world.client

    r = await c.post(
        f"/api/v1/students/{pupil}/delegates",
        json={
            "full_name": "Лисицына Валентина Ивановна",
            "parts": ["diary"],
            "valid_until": _until(days=30),
            "phone": "8 903 111-22-33",
        },
        headers=mother.headers,
    )
    assert r.status_code == 201, r.text
    delegate = r.json()
    assert delegate["has_account"] is True and delegate["activation_code"] is None

    granny = await _login(world, GRANNY_PHONE)
    children = (await c.get("/api/v1/family/children", headers=granny)).json()
    assert [(ch["student_id"], ch["role"], ch["parts"]) for ch in children] == [
        (pupil, "delegate", ["diary.read"])
    ]
    assert (await c.get(f"/api/v1/students/{pupil}", headers=granny)).status_code == 200
    # Only the parts given: no personal file, no health.
    assert (
        await c.get(f"/api/v1/students/{pupil}/personal-file", headers=granny)
    ).status_code == 403
    assert (await c.get(f"/api/v1/students/{pupil}/health", headers=granny)).status_code == 403
    assert [d.full_name for d in await people.delegates_of(pupil)] == [
        "Лисицына Валентина Ивановна"
    ]

    r = await c.post(f"/api/v1/delegates/{delegate['id']}/revoke", headers=mother.headers)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    # Effective at once: the token she holds stops working, and a new one carries nothing.
    assert (await c.get(f"/api/v1/students/{pupil}", headers=granny)).status_code == 401
    granny = await _login(world, GRANNY_PHONE)
    assert (await c.get("/api/v1/family/children", headers=granny)).json() == []
    assert (await c.get(f"/api/v1/students/{pupil}", headers=granny)).status_code == 403
    assert await people.delegates_of(pupil) == []
    again = await c.post(f"/api/v1/delegates/{delegate['id']}/revoke", headers=mother.headers)
    assert again.status_code == 409

    # The history stays for the family and the class teacher.
    class_teacher = await staff_account(
        world, Role.CLASS_TEACHER, school.classes["5А"], ScopeKind.CLASS
    )
    listed = await c.get(f"/api/v1/students/{pupil}/delegates", headers=class_teacher.headers)
    assert listed.status_code == 200 and len(listed.json()) == 1


async def test_an_expired_delegate_is_refused(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Зуев", "Тимофей", school.classes["5Б"])
    mother = await _parent(world, pupil)
    await _account_with_phone(world, "+79034445566", "Дедушка Зуев")
    r = await world.client.post(
        f"/api/v1/students/{pupil}/delegates",
        json={
            "full_name": "Зуев Николай Петрович",
            "parts": ["diary", "meals"],
            "valid_until": _until(seconds=6),
            "phone": "+79034445566",
        },
        headers=mother.headers,
    )
    assert r.status_code == 201, r.text
    grandpa = await _login(world, "+79034445566")  # a token issued while the grant is live
    assert (await world.client.get(f"/api/v1/students/{pupil}", headers=grandpa)).status_code == 200
    until = datetime.fromisoformat(r.json()["valid_until"])
    await asyncio.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.3)
    # The same token, after the end date: refused.
    assert (await world.client.get(f"/api/v1/students/{pupil}", headers=grandpa)).status_code == 403
    assert (await world.client.get("/api/v1/family/children", headers=grandpa)).json() == []
    fresh = await _login(world, "+79034445566")
    assert (await world.client.get(f"/api/v1/students/{pupil}", headers=fresh)).status_code == 403
    assert await people.delegates_of(pupil) == []


async def test_an_invited_delegate_activates_a_code(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Осипова", "Мила", school.classes["5А"])
    mother = await _parent(world, pupil)
    c = world.client
    r = await c.post(
        f"/api/v1/students/{pupil}/delegates",
        json={
            "full_name": "Няня Светлана",
            "parts": ["entries", "meals"],
            "valid_until": _until(days=90),
            "phone": "+79035556677",
        },
        headers=mother.headers,
    )
    assert r.status_code == 201, r.text
    code = r.json()["activation_code"]
    assert code and r.json()["has_account"] is False
    r = await c.post(
        "/api/v1/auth/activate",
        json={"code": code, "password": "long-enough-password", "phone": "+79035556677"},
    )
    assert r.status_code == 201, r.text
    row = await Delegate.select().where(Delegate.student == pupil).first()
    assert row["delegate_user_id"] == r.json()["user_id"] and row["role_grant_id"] is not None
    nanny = {"Authorization": f"Bearer {r.json()['access_token']}"}
    children = (await c.get("/api/v1/family/children", headers=nanny)).json()
    assert children[0]["parts"] == ["access.read", "meals.order"]
    # Entries and meals, not the diary.
    assert (await c.get(f"/api/v1/students/{pupil}", headers=nanny)).status_code == 403

    # An invitation taken back before it is used cannot be activated.
    r = await c.post(
        f"/api/v1/students/{pupil}/delegates",
        json={
            "full_name": "Сосед Андрей",
            "parts": ["diary"],
            "valid_until": _until(days=5),
            "phone": "+79037778899",
        },
        headers=mother.headers,
    )
    assert r.status_code == 201
    unused = r.json()
    assert (
        await c.post(f"/api/v1/delegates/{unused['id']}/revoke", headers=mother.headers)
    ).status_code == 200
    r = await c.post(
        "/api/v1/auth/activate",
        json={
            "code": unused["activation_code"],
            "password": "long-enough-password",
            "login": "sosed",
        },
    )
    assert r.status_code == 400


async def test_who_may_name_a_delegate_and_what(world: Backend) -> None:
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Ершов", "Гордей", school.classes["5А"])
    other = await add_pupil(school.school_id, "Жуков", "Влад", school.classes["5А"])
    mother = await _parent(world, pupil)
    stepfather = await _parent(world, pupil, legal=False)
    other_parent = await _parent(world, other)
    c = world.client
    body = {
        "full_name": "Ершова Нина",
        "parts": ["diary"],
        "valid_until": _until(days=10),
        "phone": "+79030001122",
    }
    url = f"/api/v1/students/{pupil}/delegates"
    r = await c.post(url, json=body, headers=stepfather.headers)
    assert r.status_code == 403 and "законный представитель" in r.json()["message"]
    assert (await c.post(url, json=body, headers=other_parent.headers)).status_code == 404
    secretary = await staff_account(world, Role.SECRETARY, school.school_id)
    assert (await c.post(url, json=body, headers=secretary.headers)).status_code == 403

    for change, words in (
        ({"valid_until": _until(days=-1)}, "в будущем"),
        ({"valid_until": _until(days=400)}, "366"),
        ({"parts": ["bank"]}, "bank"),
        ({"phone": None}, "телефон"),
    ):
        r = await c.post(url, json={**body, **change}, headers=mother.headers)
        assert r.status_code == 400, r.text
        assert words in r.json()["message"]
    assert await Delegate.count() == 0


async def test_delegate_parts_round_trip(world: Backend) -> None:
    """What `GET .../delegates` and `/accounts/me` show can be posted back; the short words
    stay accepted as aliases of the same permissions."""
    school = await make_school(world)
    pupil = await add_pupil(school.school_id, "Титова", "Вера", school.classes["5А"])
    mother = await _parent(world, pupil)
    await _account_with_phone(world, GRANNY_PHONE, "Бабушка Титова")
    c = world.client
    url = f"/api/v1/students/{pupil}/delegates"
    r = await c.post(
        url,
        json={
            "full_name": "Титова Анна",
            "parts": ["meals", "diary"],
            "valid_until": _until(days=10),
            "phone": GRANNY_PHONE,
        },
        headers=mother.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["parts"] == ["diary.read", "meals.order"]
    listed = (await c.get(url, headers=mother.headers)).json()
    assert listed[0]["parts"] == ["diary.read", "meals.order"]
    granny = await _login(world, GRANNY_PHONE)
    me = (await c.get("/api/v1/accounts/me", headers=granny)).json()
    shown = next(g["parts"] for g in me["grants"] if g["role"] == "delegate")
    assert shown == ["diary.read", "meals.order"]
    # Posting back exactly what was shown works (and means the same thing).
    r = await c.post(f"/api/v1/delegates/{listed[0]['id']}/revoke", headers=mother.headers)
    assert r.status_code == 200, r.text
    r = await c.post(
        url,
        json={
            "full_name": "Титова Анна",
            "parts": [*shown, "access.read"],
            "valid_until": _until(days=10),
            "phone": GRANNY_PHONE,
        },
        headers=mother.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["parts"] == ["access.read", "diary.read", "meals.order"]
    assert [d.parts for d in await people.delegates_of(pupil)] == [
        ["access.read", "diary.read", "meals.order"]
    ]
