"""The rights matrix: every route, every role, allowed or refused.

Each context contributes `cases_<context>.py` with `CASES: list[Case]`. A case names the route
(exactly as Litestar lists it), the URL to call (placeholders filled from `RightsWorld`), the roles
that may use it on objects in their own scope, and optionally a body. `test_rights_matrix.py`
calls every case as every role and as nobody, and fails if a route has no case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backend.core.rights import Role

ALL_ROLES = frozenset(Role)
STAFF_OF_SCHOOL = frozenset(
    {
        Role.SCHOOL_COORDINATOR,
        Role.SCHOOL_ADMIN,
        Role.SECRETARY,
        Role.TEACHER,
        Role.CLASS_TEACHER,
        Role.NURSE,
        Role.CATERER,
        Role.SECURITY,
    }
)
FAMILY = frozenset({Role.GUARDIAN, Role.DELEGATE, Role.PUPIL})


@dataclass
class RightsWorld:
    """The objects every case may refer to. Roles are held in school A (or its class/student);
    `*_b` objects belong to school B, in another region, which no role but the system admin
    reaches."""

    ids: dict[str, int] = field(default_factory=dict)
    users: dict[Role, int] = field(default_factory=dict)
    counter: list[int] = field(default_factory=lambda: [0])

    def unique(self) -> int:
        self.counter[0] += 1
        return self.counter[0]


Body = dict[str, Any] | Callable[[RightsWorld], dict[str, Any]] | None


@dataclass(frozen=True)
class Case:
    method: str
    route: str  # the route as Litestar lists it, e.g. "/api/v1/audit/students/{student_id:int}/x"
    url: str  # what to call, with {placeholders} from RightsWorld.ids, e.g. ".../{student_a}/x"
    allowed: frozenset[Role]
    body: Body = None
    public: bool = False  # reachable without signing in
    ok: tuple[int, ...] = (200, 201, 204)
    note: str = ""

    def url_for(self, world: RightsWorld) -> str:
        return self.url.format(**world.ids)

    def body_for(self, world: RightsWorld) -> dict[str, Any] | None:
        return self.body(world) if callable(self.body) else self.body
