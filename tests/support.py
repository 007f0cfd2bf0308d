"""The tests' one module of builders: accounts with grants, signing in, a small tenancy tree,
staff. A *staff record* is a row of the school's personnel (`staff_record`); a *staff account*
is a signed-in user holding a staff role (`staff_account`): tests say which one they mean."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.core.context import Actor
from backend.core.rights import Grant, Role, ScopeKind
from tests.conftest import Backend

TEST_PASSWORD = "correct-horse-battery"
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class SignedIn:
    user_id: int
    login: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def make_user(
    world: Backend, *grants: Grant, login: str | None = None, name: str = "Тестовый Пользователь"
) -> tuple[int, str]:
    login = login or world.unique("user")
    user = await world.accounts.create_user(
        Actor.system(),
        password=TEST_PASSWORD,
        display_name=name,
        login=login,
        grants=list(grants),
        check_rights=False,
    )
    return user.id, login


async def sign_in(world: Backend, *grants: Grant, name: str = "Тестовый Пользователь") -> SignedIn:
    user_id, login = await make_user(world, *grants, name=name)
    response = await world.client.post(
        "/api/v1/auth/login", json={"identifier": login, "password": TEST_PASSWORD}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return SignedIn(user_id, login, body["access_token"], body["refresh_token"])


async def make_tenancy(world: Backend) -> dict[str, int]:
    """A region with two municipalities; schools A and B in the first, C in the second."""
    from backend.schools.tables import Municipality, Region, School

    region = Region(name=world.unique("Регион "), code=world.unique("r")[:8])
    await region.save()
    other_region = Region(name=world.unique("Регион "), code=world.unique("r")[:8])
    await other_region.save()
    m1 = Municipality(region=region.id, name="Город")
    await m1.save()
    m2 = Municipality(region=other_region.id, name="Район")
    await m2.save()
    ids = {"region": region.id, "other_region": other_region.id, "m1": m1.id, "m2": m2.id}
    for key, municipality in (("school_a", m1), ("school_b", m1), ("school_c", m2)):
        school = School(municipality=municipality.id, full_name=key, short_name=key)
        await school.save()
        ids[key] = school.id
    return ids


def grant(role: Role, kind: ScopeKind = ScopeKind.SCHOOL, scope_id: int | None = None) -> Grant:
    return Grant(role, kind, scope_id)


async def staff_record(
    school_id: int,
    last: str,
    first: str,
    middle: str = "",
    *,
    user_id: int | None = None,
    positions: tuple[str, ...] = ("teacher",),
) -> int:
    """A row of the school's personnel (a teacher by default), linked to an account if given."""
    from backend.schools.tables import Staff

    row = Staff(
        school=school_id,
        last_name=last,
        first_name=first,
        middle_name=middle,
        positions=list(positions),
        user_id=user_id,
    )
    await row.save()
    return int(row.id)


async def staff_account(
    world: Backend, role: Role, scope_id: int, kind: ScopeKind = ScopeKind.SCHOOL
) -> SignedIn:
    """A signed-in user holding `role` at `scope_id` (no personnel row)."""
    return await sign_in(world, Grant(role, kind, scope_id), name=f"Сотрудник {role.value}")


def parta(world: Backend, *args: str) -> subprocess.CompletedProcess[str]:
    """`parta ...` as a process of its own on the test's database."""
    settings = world.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARTA_")}
    env.update(
        PARTA_ENVIRONMENT="test",
        PARTA_DATABASE_URL=settings.database_url,
        PARTA_REDIS_URL=settings.redis_url,
        PARTA_SECRET_KEY=settings.secret_key.get_secret_value(),
        PARTA_LOG_LEVEL="WARNING",
        PARTA_MEDIA_ROOT=str(settings.media_root),
    )
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
