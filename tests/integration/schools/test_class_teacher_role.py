"""Naming a class's class teacher gives their account the class-teacher role at that class;
naming another takes it back (and ends the previous holder's sessions). Runs on SQLite and on
PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from backend.accounts.tables import RoleGrant
from backend.audit.tables import AuditEntry
from backend.core.rights import Role, ScopeKind
from backend.schools.tables import Enrollment, Staff, Student
from tests.conftest import Backend
from tests.integration.schools.structure_world import school_world
from tests.support import TEST_PASSWORD, SignedIn, grant, sign_in


async def _class_teacher_grants(user_id: int, class_id: int) -> list[dict[str, object]]:
    return list(
        await RoleGrant.select(RoleGrant.id, RoleGrant.valid_until).where(
            (RoleGrant.user == user_id)
            & (RoleGrant.role == "class_teacher")
            & (RoleGrant.scope_kind == "class")
            & (RoleGrant.scope_id == class_id)
            & RoleGrant.revoked_at.is_null()
        )
    )


async def test_the_class_teacher_role_follows_the_class_teacher(world: Backend) -> None:
    sw = await school_world(world)
    c = world.client
    # Иванова and Петров have accounts (teachers of the school); Сидорова has none.
    ivanova = await sign_in(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    petrov = await sign_in(world, grant(Role.TEACHER, ScopeKind.SCHOOL, sw.school_id))
    await Staff.update({Staff.user_id: ivanova.user_id}).where(Staff.id == sw.staff["ivanova"])
    await Staff.update({Staff.user_id: petrov.user_id}).where(Staff.id == sw.staff["petrov"])

    klass = await sw.ok(
        "POST",
        "/classes",
        {
            "academic_year_id": sw.year_id,
            "grade": 5,
            "letter": "А",
            "class_teacher_id": sw.staff["ivanova"],
        },
    )
    pupil = Student(school=sw.school_id, last_name="Ученик", first_name="Первый")
    await pupil.save()
    await Enrollment(
        student=pupil.id,
        school=sw.school_id,
        school_class=klass["id"],
        kind="admitted",
        date=date(2026, 9, 1),
        order_number="1",
    ).save()
    personal_file = f"/api/v1/students/{pupil.id}/personal-file"

    async def signed_in_again(who: SignedIn) -> dict[str, str]:
        r = await c.post(
            "/api/v1/auth/login", json={"identifier": who.login, "password": TEST_PASSWORD}
        )
        assert r.status_code == 200, r.text
        return {"Authorization": f"Bearer {r.json()['access_token']}"}

    # Иванова holds the role at 5А until the end of the academic year (school time).
    held = await _class_teacher_grants(ivanova.user_id, klass["id"])
    assert len(held) == 1
    assert held[0]["valid_until"] == datetime(2027, 9, 1, tzinfo=ZoneInfo("Europe/Moscow"))
    assert (await c.get(personal_file, headers=ivanova.headers)).status_code == 403  # old token
    ivanova_now = await signed_in_again(ivanova)
    assert (await c.get(personal_file, headers=ivanova_now)).status_code == 200
    # Naming her again changes nothing (no second grant).
    await sw.ok("PATCH", f"/classes/{klass['id']}", {"class_teacher_id": sw.staff["ivanova"]})
    assert len(await _class_teacher_grants(ivanova.user_id, klass["id"])) == 1

    # Петров takes over: he gets the role, she loses it at once (her session ends).
    r = await sw.patch(f"/classes/{klass['id']}", {"class_teacher_id": sw.staff["petrov"]})
    assert r.status_code == 200 and r.json()["class_teacher"] == sw.staff["petrov"], r.text
    assert await _class_teacher_grants(ivanova.user_id, klass["id"]) == []
    assert len(await _class_teacher_grants(petrov.user_id, klass["id"])) == 1
    assert (await c.get(personal_file, headers=ivanova_now)).status_code == 401
    ivanova_now = await signed_in_again(ivanova)
    assert (await c.get(personal_file, headers=ivanova_now)).status_code == 403
    petrov_now = await signed_in_again(petrov)
    assert (await c.get(personal_file, headers=petrov_now)).status_code == 200

    # Сидорова has no account: Петров loses the role, nobody gets it.
    await sw.ok("PATCH", f"/classes/{klass['id']}", {"class_teacher_id": sw.staff["sidorova"]})
    assert await _class_teacher_grants(petrov.user_id, klass["id"]) == []
    assert not await RoleGrant.exists().where(
        (RoleGrant.role == "class_teacher") & RoleGrant.revoked_at.is_null()
    )
    # Other changes of the class leave the role alone.
    await sw.ok("PATCH", f"/classes/{klass['id']}", {"class_teacher_id": sw.staff["petrov"]})
    await sw.ok("PATCH", f"/classes/{klass['id']}", {"shift": 2})
    assert len(await _class_teacher_grants(petrov.user_id, klass["id"])) == 1
    # No class teacher at all: the role goes.
    await sw.ok("PATCH", f"/classes/{klass['id']}", {"class_teacher_id": None})
    assert await _class_teacher_grants(petrov.user_id, klass["id"]) == []

    # Every grant given and taken back is in the audit log.
    actions = [
        r_["action"]
        for r_ in await AuditEntry.select(AuditEntry.action)
        .where(AuditEntry.object_type == "role_grant")
        .order_by(AuditEntry.id)
    ]
    assert actions.count("create") == 3 and actions.count("delete") == 3
