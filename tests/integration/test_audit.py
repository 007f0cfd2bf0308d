"""The audit log: sign-ins and writes are recorded; auditors search within their scope; guardians
see who read their child's personal data."""

from __future__ import annotations

from backend.audit.services import AuditAction, Entry, record, record_many
from backend.audit.tables import AuditEntry
from backend.core.context import Actor
from backend.core.rights import Grant, Principal, Role, ScopeKind
from tests.conftest import Backend
from tests.support import TEST_PASSWORD, make_tenancy, make_user, sign_in


async def test_sign_ins_are_audited_with_address(world: Backend) -> None:
    user_id, user_login = await make_user(world)
    await world.client.post(
        "/api/v1/auth/login", json={"identifier": user_login, "password": "nope-nope"}
    )
    await world.client.post(
        "/api/v1/auth/login", json={"identifier": user_login, "password": TEST_PASSWORD}
    )
    rows = (
        await AuditEntry.select()
        .where(AuditEntry.actor_user_id == user_id)
        .order_by(AuditEntry.id)
        .output(load_json=True)
    )
    actions = [r["action"] for r in rows]
    assert actions[-2:] == [AuditAction.LOGIN_FAILED, AuditAction.LOGIN]
    assert rows[-1]["actor_ip"] == "203.0.113.10"
    assert len(rows[-1]["request_id"]) == 32
    assert rows[-2]["details"]["identifier_kind"] == "login"
    # The failed identifier is masked, not stored in full.
    assert rows[-2]["details"]["identifier"] != user_login


async def test_unknown_account_failure_is_audited_too(world: Backend) -> None:
    await world.client.post(
        "/api/v1/auth/login", json={"identifier": "ghost.user", "password": "whatever1"}
    )
    row = await AuditEntry.select().where(AuditEntry.action == AuditAction.LOGIN_FAILED).first()
    assert row is not None and row["actor_user_id"] is None


async def test_writes_are_audited(world: Backend) -> None:
    admin = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    created = await world.client.post(
        "/api/v1/accounts/users",
        json={"display_name": "Новый", "password": "long-enough-password", "login": "new.one"},
        headers=admin.headers,
    )
    assert created.status_code == 201
    row = (
        await AuditEntry.select()
        .where((AuditEntry.action == AuditAction.CREATE) & (AuditEntry.object_type == "user"))
        .order_by(AuditEntry.id, ascending=False)
        .first()
    )
    assert row["actor_user_id"] == admin.user_id
    assert row["object_id"] == str(created.json()["id"])


async def _entries_in_schools(world: Backend, ids: dict[str, int]) -> None:
    for key in ("school_a", "school_b", "school_c"):
        await record(
            Actor.system(), "update", object_type="lesson", object_id=key, school_id=ids[key]
        )


async def _visible(world: Backend, headers: dict[str, str], query: str = "") -> set[str]:
    response = await world.client.get(f"/api/v1/audit?object_type=lesson{query}", headers=headers)
    assert response.status_code == 200, response.text
    return {item["object_id"] for item in response.json()["items"]}


async def test_auditors_see_only_their_scope(world: Backend) -> None:
    ids = await make_tenancy(world)
    await _entries_in_schools(world, ids)
    system = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    region = await sign_in(world, Grant(Role.REGIONAL_OFFICIAL, ScopeKind.REGION, ids["region"]))
    municipality = await sign_in(
        world, Grant(Role.MUNICIPAL_OFFICIAL, ScopeKind.MUNICIPALITY, ids["m1"])
    )
    school = await sign_in(world, Grant(Role.SCHOOL_ADMIN, ScopeKind.SCHOOL, ids["school_a"]))
    assert await _visible(world, system.headers) == {"school_a", "school_b", "school_c"}
    assert await _visible(world, region.headers) == {"school_a", "school_b"}
    assert await _visible(world, municipality.headers) == {"school_a", "school_b"}
    assert await _visible(world, school.headers) == {"school_a"}
    # Asking for another school's entries gives nothing, not an error that confirms it exists.
    assert await _visible(world, school.headers, f"&school_id={ids['school_c']}") == set()
    page = await world.client.get("/api/v1/audit?limit=1", headers=system.headers)
    assert (
        page.json()["limit"] == 1 and page.json()["total"] >= 3 and len(page.json()["items"]) == 1
    )


async def test_searching_the_audit_log_is_itself_audited(world: Backend) -> None:
    system = await sign_in(world, Grant(Role.SYSTEM_ADMIN, ScopeKind.SYSTEM))
    await world.client.get("/api/v1/audit?action=auth.login", headers=system.headers)
    row = (
        await AuditEntry.select()
        .where(AuditEntry.action == AuditAction.READ_AUDIT)
        .output(load_json=True)
        .first()
    )
    assert row["actor_user_id"] == system.user_id
    assert row["details"]["action"] == "auth.login"


async def test_guardian_sees_who_read_their_childs_file(world: Backend) -> None:
    nurse_id, _ = await make_user(world, name="Кузнецова Т. П.")
    nurse = Actor(Principal(nurse_id))
    await record(nurse, AuditAction.READ_HEALTH, object_type="student", object_id=41, student_id=41)
    await record(
        nurse, AuditAction.READ_PERSONAL, object_type="student", object_id=42, student_id=42
    )
    await record(nurse, AuditAction.UPDATE, object_type="student", object_id=41, student_id=41)
    mother = await sign_in(world, Grant(Role.GUARDIAN, ScopeKind.STUDENT, 41))
    response = await world.client.get(
        "/api/v1/audit/students/41/personal-data-reads", headers=mother.headers
    )
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(i["who"], i["what"]) for i in items] == [("Кузнецова Т. П.", "сведения о здоровье")]
    # Another family's child: not found, and nothing about whether it exists.
    other = await world.client.get(
        "/api/v1/audit/students/42/personal-data-reads", headers=mother.headers
    )
    assert other.status_code == 404
    # A delegate (trusted adult) is not a legal representative.
    nanny = await sign_in(world, Grant(Role.DELEGATE, ScopeKind.STUDENT, 41))
    refused = await world.client.get(
        "/api/v1/audit/students/41/personal-data-reads", headers=nanny.headers
    )
    assert refused.status_code == 403, refused.text


async def test_record_many_writes_what_record_writes_in_one_statement(world: Backend) -> None:
    actor = Actor(principal=None, ip="198.51.100.7", request_id="r" * 40)
    details = {"kind": "meal_order", "amount": 12345, "reason": "«болезнь»", "pending_id": None}
    await record(actor, "one.by.one", object_type="t", object_id=7, school_id=3, details=details)
    await record_many(
        actor,
        [
            Entry("many.first", object_type="t", object_id=7, school_id=3, details=details),
            Entry("many.second", object_type="u", object_id="x" * 80, student_id=5),
        ],
    )
    rows = await AuditEntry.select().order_by(AuditEntry.id).output(load_json=True)
    mine = [r for r in rows if r["action"] in ("one.by.one", "many.first", "many.second")]
    assert [r["action"] for r in mine] == ["one.by.one", "many.first", "many.second"]
    single, first, second = mine
    for column in ("actor_ip", "request_id", "object_type", "object_id", "school_id", "details"):
        assert first[column] == single[column], column
    assert first["at"] is not None and first["at"] >= single["at"]
    assert second["object_id"] == "x" * 64 and second["student_id"] == 5
    assert second["details"] == {} and second["school_id"] is None
