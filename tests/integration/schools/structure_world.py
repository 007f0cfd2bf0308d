"""Helpers for structure and timetable tests: a school with a year, staff and a coordinator."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from backend.core.rights import Role, ScopeKind
from backend.schools.tables import AcademicYear
from tests.conftest import Backend
from tests.support import SignedIn, grant, make_tenancy, sign_in, staff_record

YEAR_START = date(2026, 9, 1)
YEAR_END = date(2027, 8, 31)


@dataclass
class SchoolWorld:
    world: Backend
    ids: dict[str, int]
    coordinator: SignedIn
    year_id: int
    staff: dict[str, int] = field(default_factory=dict)

    @property
    def school_id(self) -> int:
        return self.ids["school_a"]

    def url(self, path: str) -> str:
        return f"/api/v1/schools/{self.school_id}{path}"

    async def post(self, path: str, body: Any, who: SignedIn | None = None) -> Any:
        return await self.world.client.post(
            self.url(path), json=body, headers=(who or self.coordinator).headers
        )

    async def get(self, path: str, who: SignedIn | None = None, **params: Any) -> Any:
        return await self.world.client.get(
            self.url(path), params=params, headers=(who or self.coordinator).headers
        )

    async def patch(self, path: str, body: Any, who: SignedIn | None = None) -> Any:
        return await self.world.client.patch(
            self.url(path), json=body, headers=(who or self.coordinator).headers
        )

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = await self.world.client.request(
            method, self.url(path), json=body, headers=self.coordinator.headers
        )
        assert response.status_code in (200, 201, 204), response.text
        return response.json() if response.content else None


async def school_world(world: Backend) -> SchoolWorld:
    ids = await make_tenancy(world)
    coordinator = await sign_in(
        world, grant(Role.SCHOOL_COORDINATOR, ScopeKind.SCHOOL, ids["school_a"])
    )
    year = AcademicYear(
        school=ids["school_a"], name="2026/2027", starts_on=YEAR_START, ends_on=YEAR_END
    )
    await year.save()
    sw = SchoolWorld(world, ids, coordinator, year.id)
    sw.staff["ivanova"] = await staff_record(ids["school_a"], "Иванова", "Мария", "Петровна")
    sw.staff["petrov"] = await staff_record(ids["school_a"], "Петров", "Сергей", "Иванович")
    sw.staff["sidorova"] = await staff_record(ids["school_a"], "Сидорова", "Анна", "Олеговна")
    sw.staff["other_school"] = await staff_record(ids["school_b"], "Чужой", "Учитель")
    return sw
