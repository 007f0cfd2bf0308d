"""Roles, scopes and permissions: who may do what, and where.

A user holds *grants*: a role at a scope (the whole system, a region, a municipality, a school,
a class or one child). A role carries permissions. A check asks whether any live grant carries the
permission *and* covers the object's place in the tenancy tree (region > municipality > school >
class > student). Grants travel in the access token, so a check costs no database query.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    SYSTEM_ADMIN = "system_admin"
    REGIONAL_OFFICIAL = "regional_official"
    MUNICIPAL_OFFICIAL = "municipal_official"
    SCHOOL_COORDINATOR = "school_coordinator"
    SCHOOL_ADMIN = "school_admin"
    SECRETARY = "secretary"
    TEACHER = "teacher"
    CLASS_TEACHER = "class_teacher"
    NURSE = "nurse"
    CATERER = "caterer"
    SECURITY = "security"
    GUARDIAN = "guardian"
    DELEGATE = "delegate"
    PUPIL = "pupil"


class ScopeKind(StrEnum):
    SYSTEM = "system"
    REGION = "region"
    MUNICIPALITY = "municipality"
    SCHOOL = "school"
    CLASS = "class"
    STUDENT = "student"


class Permission(StrEnum):
    # accounts and rights
    ACCOUNTS_MANAGE = "accounts.manage"  # create accounts, issue activation codes, grant roles
    # audit
    AUDIT_READ = "audit.read"
    # people
    PEOPLE_READ = "people.read"  # names and class lists
    PERSONAL_FILE_READ = "personal_file.read"  # documents, SNILS, addresses
    PERSONAL_FILE_WRITE = "personal_file.write"
    HEALTH_READ = "health.read"  # health group, PE group
    # school structure and timetable
    STRUCTURE_READ = "structure.read"
    STRUCTURE_MANAGE = "structure.manage"
    # journal and diary
    JOURNAL_WRITE = "journal.write"  # own lessons only: the journal service checks assignments
    JOURNAL_MANAGE = "journal.manage"  # any lesson of the school, past the marking window
    JOURNAL_READ = "journal.read"
    DIARY_READ = "diary.read"  # one child's diary
    REPORTS_READ = "reports.read"
    # meals, access, notifications
    MEALS_ORDER = "meals.order"
    MEALS_MANAGE = "meals.manage"  # menus, meal sets, plans (the caterer and the school)
    MEALS_ACCOUNTS = "meals.accounts"  # pupils' accounts: cash top-ups, refunds, corrections
    ACCESS_READ = "access.read"
    ACCESS_MANAGE = "access.manage"
    NOTIFY_SCHOOL = "notify.school"  # announcements to families


P = Permission

_STAFF_READ = {P.PEOPLE_READ, P.STRUCTURE_READ, P.JOURNAL_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.SYSTEM_ADMIN: frozenset(Permission),
    Role.REGIONAL_OFFICIAL: frozenset({P.STRUCTURE_READ, P.REPORTS_READ, P.AUDIT_READ}),
    Role.MUNICIPAL_OFFICIAL: frozenset({P.STRUCTURE_READ, P.REPORTS_READ, P.AUDIT_READ}),
    Role.SCHOOL_COORDINATOR: frozenset(
        _STAFF_READ
        | {
            P.STRUCTURE_MANAGE,
            P.JOURNAL_MANAGE,
            P.REPORTS_READ,
            P.ACCOUNTS_MANAGE,
            P.NOTIFY_SCHOOL,
            P.PERSONAL_FILE_READ,
        }
    ),
    Role.SCHOOL_ADMIN: frozenset(
        _STAFF_READ
        | {
            P.ACCOUNTS_MANAGE,
            P.AUDIT_READ,
            P.STRUCTURE_MANAGE,
            P.PERSONAL_FILE_READ,
            P.PERSONAL_FILE_WRITE,
            P.NOTIFY_SCHOOL,
            P.ACCESS_MANAGE,
            P.MEALS_MANAGE,
            P.MEALS_ACCOUNTS,
        }
    ),
    Role.SECRETARY: frozenset(
        _STAFF_READ | {P.ACCOUNTS_MANAGE, P.PERSONAL_FILE_READ, P.PERSONAL_FILE_WRITE}
    ),
    Role.TEACHER: frozenset(_STAFF_READ | {P.JOURNAL_WRITE}),
    Role.CLASS_TEACHER: frozenset(
        _STAFF_READ
        | {P.JOURNAL_WRITE, P.PERSONAL_FILE_READ, P.HEALTH_READ, P.REPORTS_READ, P.DIARY_READ}
    ),
    # The nurse reads health groups (with names and classes), not documents or addresses.
    Role.NURSE: frozenset({P.PEOPLE_READ, P.STRUCTURE_READ, P.HEALTH_READ}),
    Role.CATERER: frozenset({P.STRUCTURE_READ, P.MEALS_MANAGE}),
    Role.SECURITY: frozenset({P.STRUCTURE_READ, P.PEOPLE_READ, P.ACCESS_READ, P.ACCESS_MANAGE}),
    Role.GUARDIAN: frozenset(
        {P.DIARY_READ, P.PERSONAL_FILE_READ, P.HEALTH_READ, P.MEALS_ORDER, P.ACCESS_READ}
    ),
    # A delegate's grant names the parts it may use; these are the most it can be given.
    Role.DELEGATE: frozenset({P.DIARY_READ, P.MEALS_ORDER, P.ACCESS_READ}),
    Role.PUPIL: frozenset({P.DIARY_READ, P.STRUCTURE_READ}),
}

# Which scope kinds make sense for each role (a grant outside these is refused when given).
ROLE_SCOPES: dict[Role, frozenset[ScopeKind]] = {
    Role.SYSTEM_ADMIN: frozenset({ScopeKind.SYSTEM}),
    Role.REGIONAL_OFFICIAL: frozenset({ScopeKind.REGION}),
    Role.MUNICIPAL_OFFICIAL: frozenset({ScopeKind.MUNICIPALITY}),
    Role.CLASS_TEACHER: frozenset({ScopeKind.CLASS}),
    Role.GUARDIAN: frozenset({ScopeKind.STUDENT}),
    Role.DELEGATE: frozenset({ScopeKind.STUDENT}),
    Role.PUPIL: frozenset({ScopeKind.STUDENT}),
}
for _role in Role:
    ROLE_SCOPES.setdefault(_role, frozenset({ScopeKind.SCHOOL}))

_SCHOOL_STAFF = frozenset(
    {Role.TEACHER, Role.CLASS_TEACHER, Role.NURSE, Role.CATERER, Role.SECURITY}
)
_FAMILY = frozenset({Role.GUARDIAN, Role.PUPIL})

# Which roles a holder of an account-managing role may give (and take back), within its scope.
# Nobody gives a role above their own, and nobody gives anything to themselves; a system
# administrator gives any role. Delegates are named by legal representatives, not by staff.
GRANTABLE_BY: dict[Role, frozenset[Role]] = {
    Role.SYSTEM_ADMIN: frozenset(Role),
    Role.SCHOOL_ADMIN: _SCHOOL_STAFF
    | _FAMILY
    | {Role.SCHOOL_ADMIN, Role.SCHOOL_COORDINATOR, Role.SECRETARY},
    Role.SCHOOL_COORDINATOR: frozenset({Role.TEACHER, Role.CLASS_TEACHER}) | _FAMILY,
    Role.SECRETARY: _SCHOOL_STAFF | _FAMILY,
}


@dataclass(frozen=True, slots=True)
class ScopeTarget:
    """Where an object sits in the tenancy tree. Unknown levels stay None."""

    region_id: int | None = None
    municipality_id: int | None = None
    school_id: int | None = None
    class_id: int | None = None
    student_id: int | None = None
    # A pupil may belong to several classes over time, or to study groups: every class counts.
    class_ids: frozenset[int] = field(default_factory=frozenset)

    def id_at(self, kind: ScopeKind) -> int | None:
        return {
            ScopeKind.REGION: self.region_id,
            ScopeKind.MUNICIPALITY: self.municipality_id,
            ScopeKind.SCHOOL: self.school_id,
            ScopeKind.CLASS: self.class_id,
            ScopeKind.STUDENT: self.student_id,
        }.get(kind)


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    scope_kind: ScopeKind
    scope_id: int | None = None
    valid_until: datetime | None = None
    # For delegates: the permissions granted (a subset of the role's). None means all of them.
    parts: frozenset[Permission] | None = None

    def is_live(self, now: datetime | None = None) -> bool:
        return self.valid_until is None or self.valid_until > (now or datetime.now(UTC))

    def permissions(self) -> frozenset[Permission]:
        allowed = ROLE_PERMISSIONS[self.role]
        return allowed if self.parts is None else allowed & self.parts

    def covers(self, target: ScopeTarget) -> bool:
        if self.scope_kind is ScopeKind.SYSTEM:
            return True
        if self.scope_kind is ScopeKind.CLASS and self.scope_id in target.class_ids:
            return True
        return self.scope_id is not None and target.id_at(self.scope_kind) == self.scope_id

    # Compact form for the access token: [role, kind, id, until-epoch, parts].
    def to_claim(self) -> list[Any]:
        return [
            self.role.value,
            self.scope_kind.value,
            self.scope_id,
            int(self.valid_until.timestamp()) if self.valid_until else None,
            sorted(p.value for p in self.parts) if self.parts is not None else None,
        ]

    @classmethod
    def from_claim(cls, claim: list[Any]) -> Grant:
        role, kind, scope_id, until, parts = claim
        return cls(
            role=Role(role),
            scope_kind=ScopeKind(kind),
            scope_id=scope_id,
            valid_until=datetime.fromtimestamp(until, UTC) if until else None,
            parts=frozenset(Permission(p) for p in parts) if parts is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in person, as the access token describes them."""

    user_id: int
    grants: tuple[Grant, ...] = ()
    session_id: str = ""
    display_name: str = ""

    def live_grants(self) -> Iterable[Grant]:
        now = datetime.now(UTC)
        return (g for g in self.grants if g.is_live(now))

    def has_permission(self, permission: Permission) -> bool:
        """Has the permission somewhere (a coarse check, for guards)."""
        return any(permission in g.permissions() for g in self.live_grants())

    def has_role(self, *roles: Role) -> bool:
        return any(g.role in roles for g in self.live_grants())

    def allows(self, permission: Permission, target: ScopeTarget) -> bool:
        return any(permission in g.permissions() and g.covers(target) for g in self.live_grants())

    def scope_ids(self, permission: Permission, kind: ScopeKind) -> set[int]:
        """The ids of scopes of one kind where the permission is held (for filtering lists)."""
        return {
            g.scope_id
            for g in self.live_grants()
            if g.scope_kind is kind and g.scope_id is not None and permission in g.permissions()
        }

    def is_system(self, permission: Permission) -> bool:
        return any(
            g.scope_kind is ScopeKind.SYSTEM and permission in g.permissions()
            for g in self.live_grants()
        )

    @property
    def roles(self) -> set[Role]:
        return {g.role for g in self.live_grants()}
