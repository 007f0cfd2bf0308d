"""Rights cases of the web admin's task pages. They sign in with their own cookie (not the
bearer token), so to the matrix they are public: without the cookie every page sends the
browser to the login form (303) and every form is refused. The signed-in behaviour, including
scope (404 for another school), is tested in tests/integration/schools/test_admin.py."""

from __future__ import annotations

from tests.integration.rights import ALL_ROLES, Case

CASES = [
    Case("GET", "/admin", "/admin/", ALL_ROLES, public=True, ok=(303,), note="to /admin/tasks"),
    Case("GET", "/admin/tasks/login", "/admin/tasks/login", ALL_ROLES, public=True, ok=(200,)),
    Case(
        "POST",
        "/admin/tasks/login",
        "/admin/tasks/login",
        ALL_ROLES,
        public=True,
        ok=(403,),
        note="no CSRF token: refused before any password is looked at",
    ),
    Case("POST", "/admin/tasks/logout", "/admin/tasks/logout", ALL_ROLES, public=True, ok=(303,)),
    Case("GET", "/admin/tasks", "/admin/tasks", ALL_ROLES, public=True, ok=(303,)),
    Case(
        "POST", "/admin/tasks/generate", "/admin/tasks/generate", ALL_ROLES, public=True, ok=(303,)
    ),
    Case("POST", "/admin/tasks/codes", "/admin/tasks/codes", ALL_ROLES, public=True, ok=(303,)),
    Case("POST", "/admin/tasks/import", "/admin/tasks/import", ALL_ROLES, public=True, ok=(303,)),
    Case("POST", "/admin/tasks/tables", "/admin/tasks/tables", ALL_ROLES, public=True, ok=(303,)),
]
