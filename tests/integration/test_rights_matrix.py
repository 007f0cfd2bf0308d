"""Every route, called as every role and as nobody: allowed, or refused with 401/403/404.

Never a 500, never a refusal for a role the case allows. A route without a case fails the test,
so a new endpoint cannot ship without saying who may use it.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from datetime import date
from typing import Any

import pytest

from backend.accounts.tables import RoleGrant
from backend.core.rights import Grant, Role, ScopeKind
from backend.schools.tables import AcademicYear, SchoolClass, Student
from tests.conftest import Backend
from tests.integration import rights
from tests.integration.rights import Case, RightsWorld
from tests.support import make_tenancy, make_user

SKIPPED_ROUTES = ("/schema",)  # the OpenAPI documents are public by design


def case_modules() -> list[Any]:
    return [
        importlib.import_module(f"{rights.__name__}.{info.name}")
        for info in pkgutil.iter_modules(rights.__path__)
        if info.name.startswith("cases_")
    ]


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for module in case_modules():
        cases.extend(module.CASES)
    return cases


async def build_rights_world(world: Backend) -> RightsWorld:
    rw = RightsWorld()
    ids = await make_tenancy(world)
    year = AcademicYear(
        school=ids["school_a"],
        name="2026/2027",
        starts_on=date(2026, 9, 1),
        ends_on=date(2027, 8, 31),
    )
    await year.save()
    class_a = SchoolClass(school=ids["school_a"], academic_year=year.id, grade=5, letter="А")
    await class_a.save()
    student_a = Student(school=ids["school_a"], last_name="Иванов", first_name="Пётр")
    await student_a.save()
    student_b = Student(school=ids["school_c"], last_name="Петров", first_name="Иван")
    await student_b.save()
    ids.update(class_a=class_a.id, student_a=student_a.id, student_b=student_b.id, year_a=year.id)
    # Roles in school A (region 1, municipality 1); school C is in the other region.
    scopes = {
        Role.SYSTEM_ADMIN: (ScopeKind.SYSTEM, None),
        Role.REGIONAL_OFFICIAL: (ScopeKind.REGION, ids["region"]),
        Role.MUNICIPAL_OFFICIAL: (ScopeKind.MUNICIPALITY, ids["m1"]),
        Role.CLASS_TEACHER: (ScopeKind.CLASS, class_a.id),
        Role.GUARDIAN: (ScopeKind.STUDENT, student_a.id),
        Role.DELEGATE: (ScopeKind.STUDENT, student_a.id),
        Role.PUPIL: (ScopeKind.STUDENT, student_a.id),
    }
    for role in Role:
        kind, scope_id = scopes.get(role, (ScopeKind.SCHOOL, ids["school_a"]))
        user_id, _ = await make_user(world, Grant(role, kind, scope_id), name=f"Роль {role.value}")
        rw.users[role] = user_id
    ids["teacher_user"] = rw.users[Role.TEACHER]
    spare_user, _ = await make_user(world, Grant(Role.NURSE, ScopeKind.SCHOOL, ids["school_c"]))
    row = await RoleGrant.select(RoleGrant.id).where(RoleGrant.user == spare_user).first()
    ids["spare_grant"] = row["id"]
    rw.ids = ids
    # A cases module may add objects of its own (`async def SETUP(world, rights_world)`).
    for module in case_modules():
        if hasattr(module, "SETUP"):
            await module.SETUP(world, rw)
    return rw


async def token_for(world: Backend, user_id: int) -> str:
    from backend.accounts.services import live_grants

    grants = await live_grants(user_id)
    return world.accounts.tokens.issue(user_id, grants, str(uuid.uuid4()), "matrix")


def route_set(world: Backend) -> set[tuple[str, str]]:
    found = set()
    for route in world.app.routes:
        if route.path.startswith(SKIPPED_ROUTES):
            continue
        for method in getattr(route, "methods", ()):
            if method not in ("OPTIONS", "HEAD"):
                found.add((method, route.path))
    return found


async def test_every_route_has_a_rights_case(world: Backend) -> None:
    covered = {(c.method, c.route) for c in all_cases()}
    missing = route_set(world) - covered
    assert not missing, f"routes without a rights case: {sorted(missing)}"
    stale = covered - route_set(world)
    assert not stale, f"rights cases for routes that do not exist: {sorted(stale)}"


async def test_rights_matrix(world: Backend) -> None:
    rw = await build_rights_world(world)
    failures: list[str] = []
    for case in all_cases():
        url = case.url_for(rw)
        if case.public:
            await world.redis.flushdb()  # sign-in throttling would otherwise answer 429
        # Nobody signed in.
        response = await world.client.request(case.method, url, json=case.body_for(rw))
        if case.public:
            if response.status_code not in case.ok:
                failures.append(
                    f"anonymous {case.method} {url}: {response.status_code} {response.text[:200]}"
                )
        elif response.status_code != 401:
            failures.append(f"anonymous {case.method} {url}: {response.status_code}, expected 401")
        # Every role.
        for role, user_id in rw.users.items():
            if case.public:
                await world.redis.flushdb()
            headers = {"Authorization": f"Bearer {await token_for(world, user_id)}"}
            response = await world.client.request(
                case.method, url, json=case.body_for(rw), headers=headers
            )
            status = response.status_code
            if status >= 500:
                failures.append(f"{role.value} {case.method} {url}: {status} {response.text[:200]}")
            elif role in case.allowed and status not in case.ok:
                failures.append(
                    f"{role.value} {case.method} {url}: {status}, expected {case.ok}: "
                    f"{response.text[:200]}"
                )
            elif role not in case.allowed and status not in (401, 403, 404):
                failures.append(f"{role.value} {case.method} {url}: {status}, expected a refusal")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize(
    "header", ["Bearer not.a.jwt", "Bearer ", "Basic abc", "Bearer " + "x" * 5000]
)
async def test_garbage_tokens_are_401(world: Backend, header: str) -> None:
    response = await world.client.get("/api/v1/accounts/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json()["error"] in ("not_authenticated", "token_invalid")
