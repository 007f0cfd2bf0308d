"""Rights cases of the platform: operations, sign-in, accounts, audit."""

from __future__ import annotations

from backend.core.rights import Role
from tests.integration.rights import ALL_ROLES, Case, RightsWorld

ACCOUNT_MANAGERS = frozenset(
    {Role.SYSTEM_ADMIN, Role.SCHOOL_COORDINATOR, Role.SCHOOL_ADMIN, Role.SECRETARY}
)


def _new_teacher(world: RightsWorld) -> dict[str, object]:
    n = world.unique()
    return {
        "display_name": f"Новый учитель {n}",
        "password": "long-enough-password",
        "login": f"new.teacher.{n}",
        "grants": [{"role": "teacher", "scope_kind": "school", "scope_id": world.ids["school_a"]}],
    }


def _grant_in_a(world: RightsWorld) -> dict[str, object]:
    return {"role": "teacher", "scope_kind": "school", "scope_id": world.ids["school_a"]}


def _codes_for_a(world: RightsWorld) -> dict[str, object]:
    return {
        "items": [
            {
                "display_name": "Иванова Мария",
                "school_id": world.ids["school_a"],
                "grants": [
                    {"role": "teacher", "scope_kind": "school", "scope_id": world.ids["school_a"]}
                ],
            }
        ]
    }


CASES = [
    Case("GET", "/", "/", ALL_ROLES, public=True, ok=(302,)),
    Case("GET", "/health", "/health", ALL_ROLES, public=True),
    Case("GET", "/ready", "/ready", ALL_ROLES, public=True),
    # Only the scraper's token (PARTA_METRICS_TOKEN) opens it, no person's sign-in.
    Case("GET", "/metrics", "/metrics", frozenset()),
    Case(
        "POST",
        "/api/v1/auth/login",
        "/api/v1/auth/login",
        ALL_ROLES,
        body={"identifier": "nobody", "password": "wrong-password"},
        public=True,
        ok=(401,),
    ),
    Case(
        "POST",
        "/api/v1/auth/refresh",
        "/api/v1/auth/refresh",
        ALL_ROLES,
        body={"refresh_token": "not-a-token"},
        public=True,
        ok=(401,),
    ),
    Case(
        "POST",
        "/api/v1/auth/activate",
        "/api/v1/auth/activate",
        ALL_ROLES,
        body={"code": "AAAA-BBBB-CCCC", "password": "long-enough-password", "login": "someone"},
        public=True,
        ok=(400,),
    ),
    Case(
        "POST",
        "/api/v1/auth/password-reset",
        "/api/v1/auth/password-reset",
        ALL_ROLES,
        body={"identifier": "nobody"},
        public=True,
    ),
    Case(
        "POST",
        "/api/v1/auth/password-reset/confirm",
        "/api/v1/auth/password-reset/confirm",
        ALL_ROLES,
        body={"identifier": "nobody", "code": "123456", "new_password": "long-enough-1"},
        public=True,
        ok=(400,),
    ),
    Case("POST", "/api/v1/auth/logout", "/api/v1/auth/logout", ALL_ROLES),
    Case("GET", "/api/v1/accounts/me", "/api/v1/accounts/me", ALL_ROLES),
    Case(
        "POST",
        "/api/v1/accounts/me/password",
        "/api/v1/accounts/me/password",
        ALL_ROLES,
        body={"old_password": "wrong-old-password", "new_password": "long-enough-2"},
        ok=(400,),
        note="a wrong old password is refused for everyone; success is tested in test_accounts",
    ),
    Case(
        "POST",
        "/api/v1/accounts/users",
        "/api/v1/accounts/users",
        ACCOUNT_MANAGERS,
        body=_new_teacher,
    ),
    Case(
        "POST",
        "/api/v1/accounts/users/{user_id:int}/grants",
        "/api/v1/accounts/users/{teacher_user}/grants",
        ACCOUNT_MANAGERS,
        body=_grant_in_a,
    ),
    Case(
        "POST",
        "/api/v1/accounts/activation-codes",
        "/api/v1/accounts/activation-codes",
        ACCOUNT_MANAGERS,
        body=_codes_for_a,
    ),
    Case(
        "POST",
        "/api/v1/accounts/grants/{grant_id:int}/revoke",
        "/api/v1/accounts/grants/{spare_grant}/revoke",
        frozenset({Role.SYSTEM_ADMIN}),
        note="the spare grant is in school B: only the system administrator reaches it",
    ),
    Case(
        "GET",
        "/api/v1/audit",
        "/api/v1/audit?school_id={school_a}",
        frozenset(
            {Role.SYSTEM_ADMIN, Role.REGIONAL_OFFICIAL, Role.MUNICIPAL_OFFICIAL, Role.SCHOOL_ADMIN}
        ),
    ),
    Case(
        "GET",
        "/api/v1/audit/students/{student_id:int}/personal-data-reads",
        "/api/v1/audit/students/{student_a}/personal-data-reads",
        frozenset({Role.GUARDIAN}),
    ),
]
